//! Socket.IO, driven by the real `socket.io-client` npm package under Node
//! (`api/tests/socketio/client.mjs`): connecting with a token, a message sent over HTTP, a send
//! with an ack, typing between two clients, resume after a forced disconnect with nothing
//! missed, long-polling, and a bad token refused. `scripts/test` installs Node and the package.

use std::path::PathBuf;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_socket_io_client_speaks_the_same_protocol() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/socketio");
    assert!(
        dir.join("node_modules/socket.io-client").exists(),
        "run `npm ci --prefix api/tests/socketio` (scripts/test does)"
    );
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let run = tokio::process::Command::new("node")
        .arg(dir.join("client.mjs"))
        .current_dir(&dir)
        .env("MOIM_BASE", &app.address)
        .env("ROOM", room.to_string())
        .env("KIM_ID", kim.id.to_string())
        .env("KIM_TOKEN", &kim.token)
        .env("LEE_TOKEN", &lee.token)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the client finished within a minute")
        .expect("node runs");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("socket.io: ok"), "{said}");
}
