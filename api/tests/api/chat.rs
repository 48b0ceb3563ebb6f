//! Chat end to end: sending, live delivery, history, idempotency and sequence numbers under
//! real concurrency, and who may see what.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app, TestApp, User};

async fn send(
    app: &TestApp,
    room: Uuid,
    user: &User,
    client: Uuid,
    body: &str,
) -> crate::helpers::Answer {
    app.post(
        &format!("/chat/rooms/{room}/messages"),
        user,
        json!({ "client_msg_id": client, "body": body }),
    )
    .await
}

#[tokio::test]
async fn a_message_reaches_the_other_members_socket_and_history() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut lee_ws = app.ws(&lee).await;
    let mut kim_other_ws = app.ws(&kim).await;

    let sent = send(&app, room, &kim, Uuid::now_v7(), "안녕").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    assert_eq!(sent.body["seq"], 1);
    assert_eq!(sent.body["sender_id"], kim.id.to_string());

    let frame = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("Lee gets it live");
    assert_eq!(frame["data"]["body"], "안녕");
    assert_eq!(frame["data"]["room_id"], room.to_string());
    // The 201 and the frame are one shape: the same fields with the same values.
    let mut answered = sent.body.clone();
    answered
        .as_object_mut()
        .unwrap()
        .remove("consistency_token");
    assert_eq!(frame["data"], answered);
    assert!(answered["client_msg_id"].is_string());
    let own = kim_other_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("sender's other socket");
    assert_eq!(own["data"]["seq"], 1);

    let history = app
        .get_after(&format!("/chat/rooms/{room}/messages"), &lee, &sent.token())
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(
        history.body["messages"][0], answered,
        "history has the same shape too"
    );
    assert_eq!(history.body["has_more"], false);

    let rooms = app.get_after("/chat/rooms", &lee, &sent.token()).await;
    assert_eq!(rooms.body["rooms"][0]["room_id"], room.to_string());
    assert_eq!(rooms.body["rooms"][0]["last_seq"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_get_gapless_sequence_numbers() {
    let app = Arc::new(spawn_app().await);
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let barrier = Arc::new(Barrier::new(60));
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (app, barrier) = (app.clone(), barrier.clone());
        let user = if i % 2 == 0 { kim.clone() } else { lee.clone() };
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send(&app, room, &user, Uuid::now_v7(), &format!("message {i}")).await
        }));
    }
    let mut seqs = BTreeSet::new();
    let mut last_token = String::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        assert!(
            seqs.insert(answer.body["seq"].as_u64().unwrap()),
            "duplicate seq"
        );
        last_token = last_token.max(answer.token());
    }
    assert_eq!(seqs, (1..=60).collect());

    let (stored,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM events WHERE aggregate_type = 'chat_room' AND event_type = 'MessageSent'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 60);
    let mut seen = BTreeSet::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/chat/rooms/{room}/messages?limit=25&before={b}"),
            None => format!("/chat/rooms/{room}/messages?limit=25"),
        };
        let page = app.get_after(&path, &kim, &last_token).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let messages = page.body["messages"].as_array().unwrap();
        let page_seqs: Vec<u64> = messages
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        assert!(
            page_seqs.windows(2).all(|w| w[0] > w[1]),
            "newest first: {page_seqs:?}"
        );
        seen.extend(page_seqs.iter().copied());
        before = page_seqs.last().copied();
        if page.body["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, (1..=60).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_send_returns_the_original_and_stores_nothing_new() {
    let app = Arc::new(spawn_app().await);
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let first = send(&app, room, &kim, Uuid::now_v7(), "first").await;
    assert_eq!(first.body["seq"], 1);

    let client = Uuid::now_v7();
    let barrier = Arc::new(Barrier::new(12));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (app, barrier, kim) = (app.clone(), barrier.clone(), kim.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send(&app, room, &kim, client, "only once").await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        answers.push(answer.body);
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every retry answers the same message"
    );
    assert_eq!(answers[0]["seq"], 2);

    let later = send(&app, room, &kim, client, "only once").await;
    assert_eq!(later.body, answers[0], "a much later retry too");
    let (stored,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE event_type = 'MessageSent'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn outsiders_never_see_or_write_a_rooms_messages() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let sent = send(&app, room, &kim, Uuid::now_v7(), "private").await;

    let write = send(&app, room, &park, Uuid::now_v7(), "let me in").await;
    assert_eq!(write.status, StatusCode::NOT_FOUND);
    assert_eq!(write.content_type, "application/problem+json");
    let read = app
        .get_after(
            &format!("/chat/rooms/{room}/messages"),
            &park,
            &sent.token(),
        )
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let rooms = app.get_after("/chat/rooms", &park, &sent.token()).await;
    assert_eq!(rooms.body["rooms"], json!([]));
    let unknown = app
        .get(&format!("/chat/rooms/{}/messages", Uuid::now_v7()), &kim)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let (stored,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE event_type = 'MessageSent'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn rooms_need_real_members_and_direct_rooms_two_people() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let ghost = app
        .post(
            "/chat/rooms",
            &kim,
            json!({ "name": "r", "kind": "group", "member_ids": [Uuid::now_v7()] }),
        )
        .await;
    assert_eq!(ghost.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ghost.body["code"], "unknown_member");
    let three = app
        .post(
            "/chat/rooms",
            &kim,
            json!({ "name": "r", "kind": "direct", "member_ids": [lee.id, park.id] }),
        )
        .await;
    assert_eq!(three.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(three.body["code"], "direct_room_size");
    let (rooms,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE aggregate_type = 'chat_room'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(rooms, 0);
}

#[tokio::test]
async fn a_long_room_loads_from_its_snapshot_and_keeps_counting() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    for i in 0..130 {
        let answer = send(&app, room, &kim, Uuid::now_v7(), &format!("m{i}")).await;
        assert_eq!(answer.body["seq"], i + 1);
    }
    let (last_sequence,): (i64,) = sqlx::query_as(
        "SELECT last_sequence FROM snapshots WHERE aggregate_type = 'chat_room' AND aggregate_id = $1",
    )
    .bind(room.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(last_sequence, 100, "snapshot after the 100th event");
    let next = send(&app, room, &lee, Uuid::now_v7(), "after the snapshot").await;
    assert_eq!(next.body["seq"], 131);
    let outsider = app.register("Park").await;
    let refused = send(&app, room, &outsider, Uuid::now_v7(), "no").await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "membership survives the snapshot"
    );
}

#[tokio::test]
async fn a_push_re_sent_after_a_crash_reaches_a_socket_once() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut lee_ws = app.ws(&lee).await;
    let sent = send(&app, room, &kim, Uuid::now_v7(), "once").await;
    let frame = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("pushed");
    let push_id: Uuid = frame["id"]
        .as_str()
        .expect("frames carry an id")
        .parse()
        .unwrap();
    assert_eq!(frame["data"]["message_id"], sent.body["message_id"]);

    // What the notifier does when it restarts with the batch still in its outbox: send again.
    let nats = async_nats::connect(crate::helpers::nats_url())
        .await
        .unwrap();
    let rev = frame["rev"].as_i64().expect("room frames carry their rev");
    assert_eq!(frame["room_id"], room.to_string());
    let again = projections::Push {
        id: push_id,
        to: projections::frames::Audience::Room {
            room_id: room,
            rev,
            except: Vec::new(),
            seq: None,
            leaver: None,
        },
        frame: serde_json::from_value::<projections::frames::OutFrame>(frame.clone())
            .unwrap()
            .frame,
        correlation_id: None,
    };
    // Another copy under a new push id still carries the same change number.
    let copy = projections::Push {
        id: Uuid::now_v7(),
        ..again.clone()
    };
    projections::outbox::publish(&nats, &app.subjects(), &[again, copy])
        .await
        .unwrap();
    // Once sent, a batch's pushes leave the outbox when the next batch moves the checkpoint.
    let (first,): (i64,) = sqlx::query_as("SELECT COALESCE(max(id), 0) FROM push_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let next = send(&app, room, &kim, Uuid::now_v7(), "next").await;
    let pushed = lee_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .expect("the next one");
    assert_eq!(
        pushed["data"]["message_id"], next.body["message_id"],
        "both copies of the re-sent push were dropped"
    );
    assert_eq!(pushed["rev"], rev + 1);
    // Deleted by the notifier's next statement that moves its checkpoint (for a message, the
    // one before its frames go out); polled, as that is not a promise to the socket.
    assert!(
        eventually(Duration::from_secs(10), || async {
            let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM push_outbox WHERE id <= $1")
                .bind(first)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            left == 0
        })
        .await,
        "sent pushes leave the outbox"
    );
}

#[tokio::test]
async fn browsers_authenticate_the_websocket_with_a_query_parameter() {
    use futures::StreamExt;
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let base = app.address.replace("http://", "ws://");
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{base}/api/v1/ws?access_token={}", kim.token))
            .await
            .expect("query-parameter token accepted");
    let ready = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert!(ready.contains("\"ready\""));
    let refused =
        tokio_tungstenite::connect_async(format!("{base}/api/v1/ws?access_token=forged")).await;
    assert!(refused.is_err(), "a bad token gets no socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_people_have_one_direct_room_even_when_both_open_it_at_once() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let kim = app.register("Kim").await;
        let lee = app.register("Lee").await;
        let barrier = Arc::new(Barrier::new(2));
        let open = |from: &User, to: &User| {
            let (barrier, body) = (
                barrier.clone(),
                json!({ "name": "us", "kind": "direct", "member_ids": [to.id] }),
            );
            let from = from.clone();
            let app = &app;
            async move {
                barrier.wait().await;
                app.post("/chat/rooms", &from, body).await
            }
        };
        let (a, b) = tokio::join!(open(&kim, &lee), open(&lee, &kim));
        assert_eq!(a.body["room_id"], b.body["room_id"], "one room");
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CREATED],
            "one created it"
        );
        let again = app
            .post(
                "/chat/rooms",
                &kim,
                json!({ "name": "again", "kind": "direct", "member_ids": [lee.id] }),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body["room_id"], a.body["room_id"]);
        let (rooms,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM events WHERE event_type = 'RoomCreated' AND aggregate_id = $1",
        )
        .bind(a.body["room_id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(rooms, 1);
    }
}

#[tokio::test]
async fn history_pages_forward_after_a_seq_for_catching_up() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut token = String::new();
    for i in 1..=5 {
        token = send(&app, room, &kim, Uuid::now_v7(), &format!("m{i}"))
            .await
            .token();
    }
    let path = |query: &str| format!("/chat/rooms/{room}/messages?{query}");
    let page = app.get_after(&path("after=0&limit=3"), &lee, &token).await;
    let seqs: Vec<i64> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3], "oldest first");
    assert_eq!(page.body["has_more"], true);
    let rest = app.get(&path("after=3&limit=3"), &lee).await;
    assert_eq!(rest.body["messages"][0]["seq"], 4);
    assert_eq!(rest.body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(rest.body["has_more"], false);
    let both = app.get(&path("after=1&before=3"), &lee).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(both.body["code"], "bad_cursor");
}
