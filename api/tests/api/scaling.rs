//! Parts of Moim in separate processes and several API instances, and the bound on
//! read-your-writes waits.

use std::time::Duration;

use moim_api::startup::Roles;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app_custom, spawn_app_with};

const API_ONLY: Roles = Roles {
    api: true,
    relay: false,
    projections: false,
    scheduler: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_gets_its_pushes_on_whichever_instance_it_is_connected_to() {
    let first = spawn_app_with(Roles::ALL).await;
    let second = first.instance(API_ONLY).await;
    let kim = first.register("Kim").await;
    let lee = first.register("Lee").await;
    let room = first.create_room(&kim, &[&lee]).await;
    let mut lee_on_second = second.ws(&lee).await;
    let mut kim_on_second = second.ws(&kim).await;
    let mut kim_on_first = first.ws(&kim).await;

    let sent = first
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "hello" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED);
    for ws in [&mut lee_on_second, &mut kim_on_second, &mut kim_on_first] {
        let frame = ws
            .next_of("message.sent", Duration::from_secs(10))
            .await
            .expect("delivered");
        assert_eq!(frame["data"]["body"], "hello");
    }
    // The other instance serves the same data.
    let history = second
        .get_after(&format!("/chat/rooms/{room}/messages"), &lee, &sent.token())
        .await;
    assert_eq!(history.body["messages"][0]["body"], "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_relay_and_projections_run_as_separate_processes() {
    let api = spawn_app_with(API_ONLY).await;
    let spawn = |role: &str| crate::helpers::spawn_moim(api.sandbox_env(), role);
    let _relay = spawn("relay");
    let _projections = spawn("projections");
    let kim = api.register("Kim").await;
    let lee = api.register("Lee").await;
    let room = api.create_room(&kim, &[&lee]).await;
    let mut lee_ws = api.ws(&lee).await;
    let sent = api
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "split" }),
        )
        .await;
    let frame = lee_ws
        .next_of("message.sent", Duration::from_secs(20))
        .await
        .expect("pushed via the projections process");
    assert_eq!(frame["data"]["body"], "split");
    let history = api
        .get_after(&format!("/chat/rooms/{room}/messages"), &lee, &sent.token())
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.body["messages"][0]["body"], "split");
}

#[tokio::test]
async fn a_query_waits_for_its_token_then_gives_up_with_503() {
    // No projections run, so no read model ever catches up.
    let app = spawn_app_custom(
        Roles {
            api: true,
            relay: true,
            projections: false,
            scheduler: false,
        },
        |s| {
            s.consistency_timeout = Duration::from_millis(300);
        },
    )
    .await;
    let kim = app.register("Kim").await;
    let room = app.create_room(&kim, &[&app.register("Lee").await]).await;
    let sent = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "x" }),
        )
        .await;
    let url = format!("{}/api/v1/chat/rooms/{room}/messages", app.address);
    let waited = app
        .http
        .get(&url)
        .bearer_auth(&kim.token)
        .header("X-Moim-Consistency", sent.token())
        .send()
        .await
        .unwrap();
    assert_eq!(waited.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(waited.headers()["retry-after"], "1");
    assert_eq!(waited.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = waited.json().await.unwrap();
    assert_eq!(body["code"], "not_caught_up");
    // Without the header the query answers at once from what is projected (nothing yet).
    let now = app.get(&format!("/chat/rooms/{room}/messages"), &kim).await;
    assert_eq!(now.status, StatusCode::OK);
    assert_eq!(now.body["messages"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_never_answers_from_a_state_another_instance_changed() {
    let first = spawn_app_with(Roles::ALL).await;
    let second = first.instance(API_ONLY).await;
    let host = first.register("Host").await;
    let (x, y) = (first.register("X").await, first.register("Y").await);
    let created = first
        .post("/games", &host, json!({ "title": "g", "starts_at": crate::helpers::next_week(), "max_participants": 1 }))
        .await;
    let game = created.body["game_id"].as_str().unwrap().to_owned();
    let join = format!("/games/{game}/join");
    assert_eq!(
        first.post(&join, &x, json!({})).await.body["status"],
        "joined"
    );
    assert_eq!(
        first.post(&join, &y, json!({})).await.body["status"],
        "waitlisted"
    );
    // X leaves through the other instance, which promotes Y there.
    let left = second
        .request(reqwest::Method::DELETE, &join, Some(&x.token), None, None)
        .await;
    assert_eq!(left.status, StatusCode::OK);
    // The first instance still remembers Y as waitlisted; it must not answer from that.
    let again = first.post(&join, &y, json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "joined");
    // And a write from a stale state is caught by the store, then redone on fresh state.
    let z = first.register("Z").await;
    let x_back = second.post(&join, &x, json!({})).await;
    assert_eq!(x_back.body["status"], "waitlisted");
    assert_eq!(x_back.body["position"], 1);
    let z_join = first.post(&join, &z, json!({})).await;
    assert_eq!(z_join.body["status"], "waitlisted");
    assert_eq!(
        z_join.body["position"], 2,
        "behind X, whom only the other instance saw join"
    );
}

#[tokio::test]
async fn the_server_refuses_to_start_without_a_secret_unless_in_dev_mode() {
    let app = spawn_app_with(API_ONLY).await;
    let env: Vec<_> = app
        .sandbox_env()
        .into_iter()
        .filter(|(k, _)| *k != "MOIM_JWT_SECRET")
        .collect();
    let run = |extra: Vec<(&'static str, &'static str)>| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_moim"))
            .args(["serve", "--role", "api"])
            .env_remove("MOIM_JWT_SECRET")
            .envs(env.clone())
            .envs(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let refused = run(vec![]).wait_with_output().await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("MOIM_JWT_SECRET"));
    let typo = run(vec![("MOIM_JWT_SECERT", "x")])
        .wait_with_output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unknown setting MOIM_JWT_SECERT"));
    // In dev mode it starts (and keeps running until killed).
    let mut dev = run(vec![("MOIM_DEV", "1")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        dev.try_wait().unwrap().is_none(),
        "dev mode starts without a secret"
    );
    dev.start_kill().unwrap();
}
