//! Events say who and why: the acting user and the request id in every event's metadata, the
//! causing event's id on an event another event caused, and the same ids as NATS headers on the
//! stream and on the push, so one request can be followed from HTTP to the read model and the
//! socket.

use std::time::Duration;

use futures::StreamExt;
use moim_nats::envelope::headers;
use moim_nats::subjects::push_headers;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, next_week, spawn_app};

#[tokio::test]
async fn a_leave_and_the_promotion_it_causes_name_the_actor_the_request_and_the_cause() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let game = app
        .post(
            "/games",
            &kim,
            json!({ "title": "doubles", "starts_at": next_week(), "max_participants": 1 }),
        )
        .await
        .body["game_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/games/{game}/join"), &kim, json!({}))
        .await;
    app.post(&format!("/games/{game}/join"), &lee, json!({}))
        .await;
    let nats = async_nats::connect(crate::helpers::nats_url())
        .await
        .unwrap();
    let mut pushes = nats
        .subscribe(app.subjects().push_user(lee.id))
        .await
        .unwrap();
    nats.flush().await.unwrap();

    let request_id = format!("leave-{}", Uuid::new_v4().simple());
    let left = app
        .http
        .delete(format!("{}/api/v1/games/{game}/join", app.address))
        .bearer_auth(&kim.token)
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert!(left.status().is_success());

    // In the store.
    let rows: Vec<(Uuid, String, Value)> = sqlx::query_as(
        "SELECT event_id, event_type, metadata FROM events
         WHERE aggregate_type = 'game' AND aggregate_id = $1 ORDER BY sequence DESC LIMIT 2",
    )
    .bind(&game)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let (promoted, leave) = (&rows[0], &rows[1]);
    assert_eq!(
        (leave.1.as_str(), promoted.1.as_str()),
        ("PlayerLeft", "PlayerPromoted")
    );
    let said = json!({ "actor": kim.id, "correlation_id": request_id });
    assert_eq!(leave.2, said);
    let mut caused = said.clone();
    caused["causation_id"] = json!(leave.0);
    assert_eq!(promoted.2, caused);
    // Earlier requests name their own actors.
    let (joined,): (Value,) = sqlx::query_as(
        "SELECT metadata FROM events WHERE aggregate_id = $1 AND event_type = 'PlayerWaitlisted'",
    )
    .bind(&game)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(joined["actor"], lee.id.to_string());
    let (registered,): (Value,) = sqlx::query_as(
        "SELECT metadata FROM events WHERE aggregate_id = $1 AND event_type = 'UserRegistered'",
    )
    .bind(lee.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        registered["actor"],
        lee.id.to_string(),
        "a new user registers themself"
    );

    // On the stream, as headers.
    let stream = async_nats::jetstream::new(nats.clone())
        .get_stream(app.subjects().stream_name())
        .await
        .unwrap();
    let subject = app.subjects().event("game", &game);
    let promoted_on_stream = || async {
        stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .ok()
            .filter(|m| {
                m.headers.get(headers::EVENT_TYPE).map(|v| v.as_str()) == Some("PlayerPromoted")
            })
    };
    assert!(
        eventually(Duration::from_secs(10), || async {
            promoted_on_stream().await.is_some()
        })
        .await
    );
    let message = promoted_on_stream().await.unwrap();
    let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(header(headers::ACTOR), Some(kim.id.to_string()));
    assert_eq!(header(headers::CORRELATION_ID), Some(request_id.clone()));
    assert_eq!(header(headers::CAUSATION_ID), Some(leave.0.to_string()));

    // On the push that reaches Lee.
    let push = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(push) = pushes.next().await {
            let frame: Value = serde_json::from_slice(&push.payload).unwrap();
            if frame["type"] == "game.promoted" {
                return push;
            }
        }
        panic!("the subscription ended");
    })
    .await
    .expect("Lee's promotion is pushed");
    assert_eq!(
        push.headers
            .as_ref()
            .and_then(|h| h.get(push_headers::CORRELATION_ID))
            .map(|v| v.as_str()),
        Some(request_id.as_str())
    );
}
