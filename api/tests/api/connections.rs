//! Pooled connections: one PostgreSQL closed while it sat idle is replaced before anyone uses it,
//! and once every connection is closed, as a restart closes them, the relay and the views (which
//! keep theirs) recover by themselves.

use std::time::Duration;

use moim_api::startup::Roles;
use reqwest::StatusCode;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::helpers::{eventually, say, spawn_app_with};

/// Closes the connections of the app's database but the closer's; when `all`, also the relay's
/// and the views' leaders (they hold advisory locks) and the listeners; answers how many.
async fn close_connections(pool: &PgPool, all: bool) -> i64 {
    let mut admin = pool.connect_options().connect().await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND ($1 OR (pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')
                       AND query NOT LIKE 'LISTEN%'))",
    )
    .bind(all)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    closed
}

#[tokio::test]
async fn connections_postgres_closed_are_replaced_before_use_and_the_pipeline_recovers() {
    // No scheduler: it takes a pooled connection every second, which would keep the pool busy.
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

    // The pooled connections are closed, the leaders' and the listeners' spared, so that their
    // recovery does not churn through the pool. A second later, each dead one still in the pool
    // has sat idle for over a second and is tested before it is handed out (one the app used
    // meanwhile failed once, as a statement under way at a restart does, and was dropped). As
    // many at once as sat there, so that none is left in the pool untried.
    let idle = app.pool.num_idle();
    assert!(idle > 0, "the pool kept connections");
    assert!(close_connections(&app.pool, false).await > 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let idle = idle.max(app.pool.num_idle());
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

    // Every connection, the leaders', the listeners' and those the views' runners keep just
    // after a batch included.
    say(&app, room, &kim, "between").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(close_connections(&app.pool, true).await > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    say(&app, room, &kim, "after").await;
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
