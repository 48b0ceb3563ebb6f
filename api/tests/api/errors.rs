//! Bad input always gets a clear 4xx in problem+json — never a 500 and never a partial write.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn bad_requests_get_problem_json_and_write_nothing() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let (before,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let url = |path: &str| format!("{}/api/v1{path}", app.address);
    let messages = url(&format!("/chat/rooms/{room}/messages"));
    let bearer = format!("Bearer {}", kim.token);
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        ("malformed json", app.http.post(&messages).header("authorization", &bearer)
            .header("content-type", "application/json").body("{\"client_msg_id\":"), StatusCode::BAD_REQUEST, "malformed_json"),
        ("empty body", app.http.post(&messages).header("authorization", &bearer)
            .header("content-type", "application/json"), StatusCode::BAD_REQUEST, "malformed_json"),
        ("missing field", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "body": "hi" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("wrong type", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": 7, "body": "hi" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("bad uuid in body", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": "nope", "body": "hi" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("unknown field", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "hi", "admin": true })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("blank body", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "   " })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("message too long", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "a".repeat(4001) })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("request too large", app.http.post(&messages).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "a".repeat(70_000) })), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        ("not json", app.http.post(&messages).header("authorization", &bearer)
            .header("content-type", "text/plain").body("hi"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_expected"),
        ("bad uuid in path", app.http.post(url("/chat/rooms/not-a-uuid/messages")).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "hi" })), StatusCode::BAD_REQUEST, "bad_path"),
        ("unknown room", app.http.post(url(&format!("/chat/rooms/{}/messages", Uuid::now_v7()))).header("authorization", &bearer)
            .json(&json!({ "client_msg_id": Uuid::now_v7(), "body": "hi" })), StatusCode::NOT_FOUND, "room_not_found"),
        ("bad query", app.http.get(format!("{messages}?before=abc")).header("authorization", &bearer),
            StatusCode::BAD_REQUEST, "bad_query"),
        ("limit out of range", app.http.get(format!("{messages}?limit=0")).header("authorization", &bearer),
            StatusCode::UNPROCESSABLE_ENTITY, "bad_limit"),
        ("bad consistency token", app.http.get(&messages).header("authorization", &bearer)
            .header("x-moim-consistency", "soon"), StatusCode::BAD_REQUEST, "bad_consistency_token"),
        ("bad room kind", app.http.post(url("/chat/rooms")).header("authorization", &bearer)
            .json(&json!({ "name": "r", "kind": "secret", "member_ids": [] })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("game without places", app.http.post(url("/games")).header("authorization", &bearer)
            .json(&json!({ "title": "g", "starts_at": "2026-12-01T10:00:00Z", "max_participants": 0 })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("start in the far past", app.http.post(url("/games")).header("authorization", &bearer)
            .json(&json!({ "title": "g", "starts_at": "-5000-01-01T00:00:00Z", "max_participants": 4 })), StatusCode::UNPROCESSABLE_ENTITY, "starts_at_out_of_range"),
        ("birthday before year 1", app.http.patch(url("/users/me")).header("authorization", &bearer)
            .json(&json!({ "birthday": "-5000-01-01" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("a new birthday with someone else's picture", app.http.patch(url("/users/me")).header("authorization", &bearer)
            .json(&json!({ "birthday": "1990-01-01", "avatar_media_id": Uuid::now_v7() })), StatusCode::UNPROCESSABLE_ENTITY, "media_not_found"),
        ("plans from before year 1", app.http.get(url("/couples/me/plans?from=-5000-01-01T00:00:00Z")).header("authorization", &bearer),
            StatusCode::BAD_REQUEST, "bad_query"),
        ("anniversaries after year 9999", app.http.get(url("/couples/me/anniversaries?to=%2B20000-01-01")).header("authorization", &bearer),
            StatusCode::BAD_REQUEST, "bad_query"),
        ("login with a NUL byte", app.http.post(url("/auth/login"))
            .json(&json!({ "email": "a\u{0}b@example.com", "password": "whatever it is" })), StatusCode::UNAUTHORIZED, "bad_credentials"),
        ("bad date", app.http.post(url("/games")).header("authorization", &bearer)
            .json(&json!({ "title": "g", "starts_at": "tomorrow", "max_participants": 4 })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("unknown game", app.http.post(url(&format!("/games/{}/join", Uuid::now_v7()))).header("authorization", &bearer),
            StatusCode::NOT_FOUND, "game_not_found"),
        ("malformed invite code", app.http.post(url("/couples/match")).header("authorization", &bearer)
            .json(&json!({ "code": "0" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("unknown invite code", app.http.post(url("/couples/match")).header("authorization", &bearer)
            .json(&json!({ "code": "ZZZZZZZZ" })), StatusCode::NOT_FOUND, "invite_not_found"),
        ("bad email", app.http.post(url("/auth/register"))
            .json(&json!({ "email": "kim", "password": "long enough", "display_name": "K" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("short password", app.http.post(url("/auth/register"))
            .json(&json!({ "email": "k@example.com", "password": "short", "display_name": "K" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("no token", app.http.get(url("/chat/rooms")), StatusCode::UNAUTHORIZED, "missing_token"),
        ("unknown route", app.http.get(url("/nothing/here")), StatusCode::NOT_FOUND, "no_route"),
        ("wrong method", app.http.put(url("/chat/rooms")).header("authorization", &bearer), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("websocket without upgrade", app.http.get(url("/ws")).header("authorization", &bearer), StatusCode::BAD_REQUEST, "websocket_expected"),
    ];
    for (name, request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{name}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{name}: {body}");
        assert_eq!(body["status"], status.as_u16(), "{name}");
        assert!(
            body["detail"].is_string() && body["type"].is_string() && body["title"].is_string(),
            "{name}"
        );
    }
    let (after,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(after, before, "no bad request wrote anything");
}

#[tokio::test]
async fn an_event_a_view_cannot_apply_is_set_aside_and_the_view_goes_on() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    // An event no code of ours would write: the games view cannot read it.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
         VALUES ('game', $1, 1, 'GameCreated', '1', '{\"GameCreated\": {\"nonsense\": true}}')",
    )
    .bind(Uuid::now_v7().to_string())
    .execute(&app.pool)
    .await
    .unwrap();
    let created = app
        .post("/games", &kim, json!({ "title": "after", "starts_at": crate::helpers::next_week(), "max_participants": 2 }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let game = created.body["game_id"].as_str().unwrap();
    let shown = app
        .get_after(&format!("/games/{game}"), &kim, &created.token())
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);
    assert_eq!(shown.body["title"], "after");
    let (set_aside,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM projection_dead_letters WHERE view = 'games' AND event_type = 'GameCreated'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(set_aside, 1);
}
