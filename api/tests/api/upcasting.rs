//! Event versioning: a `RoomCreated` stored as v1 (`member_ids`, before rooms had roles) is read
//! as v2 (`members` with roles) by the aggregate (cqrs-es's upcasters on the load path), by the
//! live chat view (the relay and its consumer) and by `moim replay`, and is never edited.

use projections::chat::VIEW as CHAT;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::spawn_app;

async fn roles(pool: &PgPool, room: Uuid) -> Vec<(Uuid, String)> {
    sqlx::query_as("SELECT user_id, role FROM chat_room_members WHERE room_id = $1 ORDER BY role")
        .bind(room)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_event_reads_as_v2_in_the_aggregate_the_live_view_and_replay() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let room = Uuid::now_v7();
    // Exactly what Moim wrote before RoomCreated became v2.
    let v1 = json!({ "RoomCreated": {
        "room_id": room, "name": "old times", "kind": "group", "created_by": kim.id,
        "member_ids": [kim.id, lee.id], "created_at": "2026-01-01T00:00:00Z" } });
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
         VALUES ('chat_room', $1, 1, 'RoomCreated', '1', $2)",
    )
    .bind(room.to_string())
    .bind(&v1)
    .execute(&app.pool)
    .await
    .unwrap();

    // The aggregate, loaded through postgres-es with the upcaster, knows its members.
    let messages = format!("/chat/rooms/{room}/messages");
    let sent = app
        .post(
            &messages,
            &lee,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "still here" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    assert_eq!(sent.body["seq"], 1);
    let outsider = app
        .post(
            &messages,
            &park,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "hi" }),
        )
        .await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);

    // The live view took the v1 event through the same upcaster: the creator owns the room.
    let history = app.get_after(&messages, &kim, &sent.token()).await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.body["messages"][0]["body"], "still here");
    let expected = vec![(lee.id, "member".to_owned()), (kim.id, "owner".to_owned())];
    assert_eq!(roles(&app.pool, room).await, expected);
    let rooms = app.get_after("/chat/rooms", &lee, &sent.token()).await;
    assert_eq!(rooms.body["rooms"][0]["name"], "old times");

    // `moim replay chat`, as an operator runs it, reads it the same way.
    let before = projections::fingerprint::view(&app.pool, CHAT)
        .await
        .unwrap();
    app.run_moim(&["replay", "chat"]).await;
    assert_eq!(
        projections::fingerprint::view(&app.pool, CHAT)
            .await
            .unwrap(),
        before
    );
    assert_eq!(roles(&app.pool, room).await, expected);

    // The stored event is untouched: still v1, still `member_ids`.
    let (version, payload): (String, serde_json::Value) = sqlx::query_as(
        "SELECT event_version, payload FROM events
         WHERE aggregate_type = 'chat_room' AND aggregate_id = $1 AND sequence = 1",
    )
    .bind(room.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((version.as_str(), payload), ("1", v1));
    // New rooms are written as v2.
    let fresh = app.create_room(&kim, &[&lee]).await;
    let (version,): (String,) =
        sqlx::query_as("SELECT event_version FROM events WHERE aggregate_id = $1 AND sequence = 1")
            .bind(fresh.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(version, "2");
}
