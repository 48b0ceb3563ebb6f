//! Pooled connections: one PostgreSQL closed while it sat idle is replaced before anyone uses it,
//! and everything that held one of its own (the relay, the views) recovers by itself.

use std::time::Duration;

use moim_api::startup::Roles;
use reqwest::StatusCode;
use sqlx::{ConnectOptions, Connection};

use crate::helpers::{eventually, say, spawn_app_with};

#[tokio::test]
async fn connections_postgres_closed_are_replaced_before_use_and_the_pipeline_recovers() {
    // No scheduler: it polls through the pool every second, and a connection used within the
    // second is not tested.
    let app = spawn_app_with(Roles {
        scheduler: false,
        ..Roles::ALL
    })
    .await;
    let kim = app.register("kim").await;
    let lee = app.register("lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    say(&app, room, &kim, "before").await;
    // Quiet: the views' runners give their connections back after a second with nothing to do.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // As a restart of PostgreSQL would for them: every connection of the app's that holds no
    // lock is closed (the relay's and the views' leaders keep theirs, lest their recovery use
    // the pool meanwhile).
    let mut admin = app.pool.connect_options().connect().await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(closed > 0, "the app had connections open");
    admin.close().await.unwrap();

    // They sat idle for over a second, so each is tested before it is handed out and none of the
    // dead ones is (one used within the second would fail once, as a statement under way at a
    // restart does). All of them at once, so that none is left in the pool untried.
    let idle = app.pool.num_idle();
    assert!(idle > 0, "the pool kept connections");
    let mut taken = Vec::with_capacity(idle);
    for _ in 0..idle {
        let mut conn = app.pool.acquire().await.unwrap();
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .expect("the pool handed out a connection that works");
        taken.push(conn);
    }
    drop(taken);
    say(&app, room, &kim, "after").await;

    // Everything else reads on: the message reaches history.
    let caught_up = eventually(Duration::from_secs(30), || async {
        let history = app.get(&format!("/chat/rooms/{room}/messages"), &lee).await;
        history.status == StatusCode::OK
            && history.body["messages"]
                .as_array()
                .is_some_and(|messages| messages.iter().any(|m| m["body"] == "after"))
    })
    .await;
    assert!(
        caught_up,
        "the message sent after the closing reached history"
    );
}
