//! Causes are never lost: every answer names its request id, and a failure on the command path
//! is logged once with its whole cause chain and that id, while the client gets problem+json
//! with the id and no internals.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app, MoimChild, Sandbox};

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_sane_incoming_one_is_kept() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/games/not-a-uuid", app.address);
    let kept = app
        .http
        .get(&url)
        .header("x-request-id", "client-chosen_42.a")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-chosen_42.a");
    let body: Value = kept.json().await.unwrap();
    assert_eq!(body["request_id"], "client-chosen_42.a", "{body}");

    let replaced = app
        .http
        .get(&url)
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        Uuid::parse_str(&id).is_ok(),
        "an insane id is replaced: {id}"
    );
    let body: Value = replaced.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str());

    let ok = app
        .http
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert!(ok.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn a_database_failure_logs_its_cause_chain_with_the_request_id() {
    let sandbox = Sandbox::new().await;
    let moim = MoimChild::start(sandbox.env(), &[]).await;
    let http = reqwest::Client::new();
    let api = |path: &str| moim.api(path);
    let (_, token) = moim.register("Kim", "correct horse").await;
    let room: Value = http
        .post(api("/chat/rooms"))
        .bearer_auth(&token)
        .json(&json!({ "name": "solo", "kind": "group", "member_ids": [] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["room_id"].as_str().unwrap().to_owned();

    // From now on every append fails inside PostgreSQL.
    let pool = PgPool::connect(&sandbox.database_url).await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION moim_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'forced failure for the cause test'; END $$;
         CREATE TRIGGER moim_test_fail BEFORE INSERT ON events
             FOR EACH STATEMENT EXECUTE FUNCTION moim_test_fail();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let events_before = count_events(&pool).await;

    let request_id = format!("cause-test-{}", Uuid::new_v4().simple());
    let answer = http
        .post(api(&format!("/chat/rooms/{room}/messages")))
        .bearer_auth(&token)
        .header("x-request-id", &request_id)
        .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "hello?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    assert_eq!(answer.headers()["x-request-id"], request_id.as_str());
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "internal");
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(
        !body.to_string().contains("forced failure"),
        "no internals in the body: {body}"
    );

    // One log line at ERROR with the request id and every cause down to PostgreSQL's message.
    let logged = || {
        moim.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(&request_id) && l.contains("\"ERROR\""))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(10), || async { !logged().is_empty() }).await,
        "no error line with the request id"
    );
    let lines = logged();
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    let error = line["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("database error: ")
            && error.contains("forced failure for the cause test"),
        "the whole chain: {line}"
    );

    // And nothing was written.
    assert_eq!(count_events(&pool).await, events_before);
}

async fn count_events(pool: &PgPool) -> i64 {
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();
    events
}
