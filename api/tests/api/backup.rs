//! The backup and restore drill of docs/operations.md: `pg_dump` a deployment, restore it into
//! a fresh database, check it with `moim restore-check`, start Moim on it with the events stream
//! re-filled from scratch, and find the stream and every read model as they were.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use domain::Position;
use moim_nats::{EventEnvelope, Subjects};
use projections::fingerprint::TableFingerprint;
use projections::Registry;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    eventually, moim_output, nats_url, ok, say, spawn_app, spawn_app_in, view_reached, Sandbox,
    TestApp,
};

/// Every event's position, in the global order.
async fn positions(pool: &PgPool) -> Vec<Position> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT tx_id::text::bigint, position FROM events ORDER BY tx_id, position")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(tx_id, position)| Position { tx_id, position })
        .collect()
}

/// The positions the stream's messages carry, in stream order.
async fn streamed(prefix: &str) -> Vec<Position> {
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let Ok(mut stream) = js.get_stream(Subjects::new(prefix).stream_name()).await else {
        return Vec::new();
    };
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut found = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        found.push(EventEnvelope::position_in(Some(&message.headers)).unwrap());
    }
    found
}

async fn settled(app: &TestApp) -> Vec<TableFingerprint> {
    let last = *positions(&app.pool).await.last().unwrap();
    for &view in Registry::standard().views() {
        assert!(
            view_reached(&app.pool, view, last, Duration::from_secs(20)).await,
            "{} caught up",
            view.name()
        );
    }
    projections::fingerprint::all(&app.pool, &Registry::standard())
        .await
        .unwrap()
}

async fn shell(program: &str, args: &[&str]) {
    let done = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        done.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// The environment of a `moim` on `sandbox`'s database and the subjects of `prefix`.
fn on_stream(sandbox: &Sandbox, prefix: &str) -> Vec<(&'static str, String)> {
    let mut env = sandbox.env();
    env.retain(|(k, _)| *k != "MOIM_SUBJECT_PREFIX");
    env.push(("MOIM_SUBJECT_PREFIX", prefix.to_owned()));
    env
}

/// `moim restore-check` against `database` and the stream of `prefix`.
async fn restore_check(sandbox: &Sandbox, prefix: &str, extra: &[&str]) -> (bool, String) {
    let env = on_stream(sandbox, prefix);
    let mut args = vec!["restore-check"];
    args.extend_from_slice(extra);
    let done = moim_output(env, &args).await;
    (
        done.status.success(),
        String::from_utf8_lossy(&done.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dump_restored_into_a_fresh_database_and_stream_comes_back_equal() {
    // A deployment with a little of everything.
    let original = spawn_app().await;
    let kim = original.register("Kim").await;
    let lee = original.register("Lee").await;
    let room = original.create_room(&kim, &[&lee]).await;
    for n in 0..5 {
        ok(
            &say(&original, room, [&kim, &lee][n % 2], &format!("m{n}")).await,
            StatusCode::CREATED,
        );
    }
    let club = original
        .post(
            "/clubs",
            &kim,
            json!({ "name": "복원 클럽", "description": "d", "join_policy": "open" }),
        )
        .await;
    ok(&club, StatusCode::CREATED);
    let club_id = club.body["club_id"].as_str().unwrap();
    ok(
        &original
            .post(&format!("/clubs/{club_id}/join"), &lee, json!({}))
            .await,
        StatusCode::OK,
    );
    let post = original
        .post(
            "/boards/community/posts",
            &lee,
            json!({ "category": "자유", "title": "백업", "body": "복원 훈련" }),
        )
        .await;
    ok(&post, StatusCode::CREATED);
    let post_id = post.body["post_id"].as_str().unwrap();
    ok(
        &original
            .post(
                &format!("/posts/{post_id}/comments"),
                &kim,
                json!({ "body": "좋아요" }),
            )
            .await,
        StatusCode::CREATED,
    );
    let views_before = settled(&original).await;
    let events_before = positions(&original.pool).await;
    assert_eq!(streamed(&original.sandbox().prefix).await, events_before);

    // The backup.
    let dump = std::env::temp_dir().join(format!("moim-drill-{}.dump", Uuid::new_v4().simple()));
    let dump = dump.to_str().unwrap().to_owned();
    let from = original.sandbox();
    shell(
        "pg_dump",
        &["--format=custom", "--file", &dump, &from.database_url],
    )
    .await;

    // The deployment runs on past the backup, then is lost.
    ok(
        &say(&original, room, &kim, "after the backup").await,
        StatusCode::CREATED,
    );
    let prefix = from.prefix.clone();
    assert!(
        eventually(Duration::from_secs(10), || async {
            streamed(&prefix).await.len() > events_before.len()
        })
        .await
    );
    drop(original);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The restore, into a fresh database.
    let restored = Arc::new(Sandbox::new().await);
    shell(
        "pg_restore",
        &["--no-owner", "--dbname", &restored.database_url, &dump],
    )
    .await;
    let _ = std::fs::remove_file(&dump);

    // The old stream holds an event the backup does not: the check refuses, then resets it.
    let (passed, said) = restore_check(&restored, &prefix, &[]).await;
    assert!(!passed, "{said}");
    assert!(said.contains("--reset-stream"), "{said}");
    let (passed, said) = restore_check(&restored, &prefix, &["--reset-stream"]).await;
    assert!(passed, "{said}");
    assert!(said.contains("deleted"), "{said}");
    let (passed, said) = restore_check(&restored, &prefix, &[]).await;
    assert!(passed, "{said}");
    assert!(said.contains("transaction horizon: ok"), "{said}");

    // Moim on the restored database: the relay re-fills the stream, every read model is as it
    // was, and a replay from the restored events rebuilds them equal again.
    let again = spawn_app_in(restored.clone(), {
        let prefix = prefix.clone();
        move |s| s.subject_prefix = prefix
    })
    .await;
    assert_eq!(positions(&again.pool).await, events_before);
    assert!(
        eventually(Duration::from_secs(20), || async {
            streamed(&prefix).await == events_before
        })
        .await,
        "the stream was re-filled with the same events in the same order"
    );
    assert_eq!(settled(&again).await, views_before);
    let replayed = moim_output(on_stream(&restored, &prefix), &["replay", "--all"]).await;
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert_eq!(settled(&again).await, views_before);

    // And it goes on: a new message is sent, seen and numbered after the restored ones.
    let sent = say(&again, room, &lee, "restored").await;
    ok(&sent, StatusCode::CREATED);
    assert_eq!(sent.body["seq"], 6);
    drop(again);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A database whose events lie beyond the cluster's transaction counter (a move to another
    // cluster) is refused with the `pg_resetwal` call that fixes it.
    let pool = PgPool::connect(&restored.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, tx_id)
         VALUES ('drill', 'ahead', 1, 'Ahead', '1', '{}',
                 (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 5000000)::text::xid8)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (passed, said) = restore_check(&restored, &prefix, &[]).await;
    assert!(!passed, "{said}");
    assert!(said.contains("pg_resetwal -e 0 -x"), "{said}");
}
