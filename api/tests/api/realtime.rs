//! The real-time protocol: client frames answered by id, rooms followed as their user enters and
//! leaves them, `resume` replaying exactly what a client missed (across API processes, under
//! load, within its window), and a socket that does not read dropped without delaying anyone.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use moim_api::startup::Roles;
use projections::frames::{Audience, ChatMessage, Frame, MessageKind};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{
    eventually, say, spawn_app, spawn_app_custom, spawn_app_with, view_reached, ws_request,
    MoimChild, TestApp, User, Ws,
};

const LIVE: Duration = Duration::from_secs(10);
const API_ONLY: Roles = Roles {
    api: true,
    relay: false,
    projections: false,
    scheduler: false,
};

async fn group(app: &TestApp, owner: &User, members: &[&User]) -> Uuid {
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let answer = app
        .post(
            "/chat/rooms",
            owner,
            json!({ "name": "모임", "kind": "group", "member_ids": ids }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body["room_id"].as_str().unwrap().parse().unwrap()
}

/// The room's latest change number, from the store.
async fn latest_rev(app: &TestApp, room: Uuid) -> i64 {
    let (rev,): (i64,) = sqlx::query_as(
        "SELECT max(sequence) FROM events WHERE aggregate_type = 'chat_room' AND aggregate_id = $1",
    )
    .bind(room.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    rev
}

/// Sends `resume` for one room; answers the room frames replayed before `resumed`, and
/// whether the room was recovered.
async fn resume(ws: &mut Ws, room: Uuid, seen: i64) -> (Vec<Value>, bool) {
    ws.send(
        json!({ "type": "resume", "id": "r", "data": { "rooms": { room.to_string(): seen } } }),
    )
    .await;
    let mut frames = Vec::new();
    loop {
        let frame = ws.next_frame(LIVE).await.expect("frames, then resumed");
        if frame["type"] == "resumed" {
            assert_eq!(frame["id"], "r");
            let recovered = frame["data"]["rooms"][room.to_string()]["recovered"]
                .as_bool()
                .expect("an answer for the room");
            return (frames, recovered);
        }
        frames.push(frame);
    }
}

fn seqs(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .filter(|f| f["type"] == "message.sent")
        .map(|f| f["data"]["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn client_frames_are_answered_by_id_and_garbage_gets_error_frames() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let stranger = app.register("Stranger").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;

    let data =
        json!({ "room_id": room, "client_msg_id": Uuid::now_v7(), "body": "소켓으로 보내요" });
    let ack = kim_ws.ask("message.send", "s1", data.clone()).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["data"]["body"], "소켓으로 보내요");
    assert_eq!(ack["data"]["client_msg_id"], data["client_msg_id"]);
    let seq = ack["data"]["seq"].as_i64().unwrap();
    let retried = kim_ws.ask("message.send", "s2", data).await;
    assert_eq!(retried["data"], ack["data"], "a retry answers the original");
    let stored = eventually(LIVE, || async {
        let history = app.get(&format!("/chat/rooms/{room}/messages"), &kim).await;
        history.body["messages"] == json!([ack["data"]])
    })
    .await;
    assert!(stored, "history holds the message the ack showed, once");

    let pushed = lee_ws.next_of("message.sent", LIVE).await.unwrap();
    assert_eq!(pushed["data"]["message_id"], ack["data"]["message_id"]);
    assert_eq!(pushed["room_id"], room.to_string());
    assert!(pushed["rev"].as_i64().unwrap() > 1, "{pushed}");

    let read = lee_ws
        .ask("room.read", "r1", json!({ "room_id": room, "seq": seq }))
        .await;
    assert_eq!(read["type"], "ack");
    assert_eq!(
        read["data"],
        json!({ "room_id": room, "user_id": lee.id, "seq": seq })
    );
    let told = kim_ws.next_of("room.read", LIVE).await.unwrap();
    assert_eq!(told["data"]["user_id"], lee.id.to_string());

    // Refusals are error frames with the HTTP problem, under the same id.
    let mut stranger_ws = app.ws(&stranger).await;
    let refused = stranger_ws
        .ask(
            "message.send",
            "x1",
            json!({ "room_id": room, "client_msg_id": Uuid::now_v7(), "body": "let me in" }),
        )
        .await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["data"]["status"], 404);
    assert_eq!(refused["data"]["code"], "room_not_found");
    let empty = kim_ws
        .ask(
            "message.send",
            "x2",
            json!({ "room_id": room, "client_msg_id": Uuid::now_v7(), "body": "  " }),
        )
        .await;
    assert_eq!(
        (empty["type"].clone(), empty["data"]["status"].clone()),
        (json!("error"), json!(422))
    );

    // Garbage of every kind gets an error frame and the socket stays open.
    let garbage = [
        String::new(),
        "not json".into(),
        "{}".into(),
        "[]".into(),
        "\u{0}".into(),
        r#"{"type": 7}"#.into(),
        r#"{"type": "nope", "id": "g1"}"#.into(),
        r#"{"type": "message.send", "id": "g2", "data": {"room_id": 5}}"#.into(),
        r#"{"type": "resume", "id": "g3", "data": {"rooms": {"x": "y"}}}"#.into(),
        format!(
            r#"{{"type": "room.read", "id": "g4", "data": {{"room_id": "{room}", "seq": -1}}}}"#
        ),
        format!(
            r#"{{"type": "message.send", "id": "g5", "data": {{"room_id": "{room}", "client_msg_id": "{}", "body": "{}"}}}}"#,
            Uuid::now_v7(),
            "가".repeat(5000)
        ),
    ];
    for text in &garbage {
        kim_ws
            .socket
            .send(Message::Text(text.clone().into()))
            .await
            .unwrap();
        let answer = kim_ws.next_of("error", LIVE).await.expect("an error frame");
        let status = answer["data"]["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{text}: {answer}");
        if let Some(id) = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("id").cloned())
        {
            assert_eq!(answer["id"], id, "the answer names the frame");
        }
    }
    kim_ws.send(json!({ "type": "ping", "id": "p1" })).await;
    let pong = kim_ws.next_frame(LIVE).await.unwrap();
    assert_eq!(pong["type"], "pong", "the socket is still open");
}

#[tokio::test]
async fn sockets_follow_the_rooms_their_user_enters_and_leaves() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let min = app.register("Min").await;
    // Connected before any room exists.
    let mut lee_ws = app.ws(&lee).await;
    let mut min_ws = app.ws(&min).await;

    let room = group(&app, &kim, &[&lee]).await;
    let created = lee_ws
        .next_of("room.created", LIVE)
        .await
        .expect("told of the room");
    assert_eq!(
        (created["room_id"].clone(), created["rev"].clone()),
        (json!(room), json!(1))
    );
    say(&app, room, &kim, "첫 메시지").await;
    let first = lee_ws
        .next_of("message.sent", LIVE)
        .await
        .expect("the room is followed");
    assert_eq!(first["rev"], 2);

    let added = app
        .post(
            &format!("/chat/rooms/{room}/members"),
            &kim,
            json!({ "user_ids": [min.id] }),
        )
        .await;
    assert!(added.status.is_success(), "{:?}", added.body);
    let joined = min_ws
        .next_of("room.member_joined", LIVE)
        .await
        .expect("told of the join");
    assert_eq!(joined["rev"], 3);
    say(&app, room, &kim, "환영해요").await;
    let welcome = min_ws
        .next_of("message.sent", LIVE)
        .await
        .expect("the room is followed");
    assert_eq!(
        (welcome["rev"].clone(), welcome["data"]["body"].clone()),
        (json!(4), json!("환영해요"))
    );

    let kicked = app
        .delete(&format!("/chat/rooms/{room}/members/{}", min.id), &kim)
        .await;
    assert!(kicked.status.is_success(), "{:?}", kicked.body);
    let left = min_ws
        .next_of("room.member_left", LIVE)
        .await
        .expect("told of the kick");
    assert_eq!(left["rev"], 5);
    say(&app, room, &kim, "after the kick").await;
    let welcome = lee_ws.next_of("message.sent", LIVE).await.unwrap();
    assert_eq!(welcome["rev"], 4);
    let after = lee_ws.next_of("message.sent", LIVE).await.unwrap();
    assert_eq!(after["rev"], 6);
    assert_eq!(
        min_ws.next_of("message.sent", Duration::from_secs(1)).await,
        None,
        "a kicked member's socket stops receiving the room"
    );
}

#[tokio::test]
async fn an_offline_member_gets_everything_on_resume_unless_too_far_behind() {
    let app = spawn_app_custom(Roles::ALL, |s| s.limits.ws_resume_window = 20).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut token = String::new();
    for i in 1..=15 {
        token = say(&app, room, &kim, &format!("while you were away {i}"))
            .await
            .token();
    }
    let mut lee_ws = app.ws(&lee).await;
    let (frames, recovered) = resume(&mut lee_ws, room, 1).await;
    assert!(recovered);
    assert_eq!(seqs(&frames), (1..=15).collect::<Vec<_>>());
    let revs: Vec<i64> = frames.iter().map(|f| f["rev"].as_i64().unwrap()).collect();
    assert_eq!(revs, (2..=16).collect::<Vec<_>>());
    let rooms = app.get_after("/chat/rooms", &lee, &token).await;
    assert_eq!(
        rooms.body["rooms"][0]["unread_count"], 15,
        "unread counts say so"
    );

    // Live after the resume: the next message, once.
    say(&app, room, &kim, "live").await;
    let live = lee_ws.next_of("message.sent", LIVE).await.unwrap();
    assert_eq!(live["rev"], 17);
    drop(lee_ws);

    for i in 1..=10 {
        token = say(&app, room, &kim, &format!("more {i}")).await.token();
    }
    // Away until the notifier has published all of them.
    let published = token.parse().unwrap();
    assert!(view_reached(&app.pool, projections::notifications::VIEW, published, LIVE).await);
    let mut lee_ws = app.ws(&lee).await;
    let (frames, recovered) = resume(&mut lee_ws, room, 1).await;
    assert!(!recovered, "26 changes behind a window of 20");
    assert!(frames.is_empty(), "{frames:?}");
    let (frames, recovered) = resume(&mut lee_ws, room, 17).await;
    assert!(recovered);
    assert_eq!(seqs(&frames), (17..=26).collect::<Vec<_>>());

    // A room the user was never in recovers nothing and tells nothing.
    let stranger = app.register("Stranger").await;
    let other = app.create_room(&kim, &[&stranger]).await;
    say(&app, other, &kim, "private").await;
    let (frames, recovered) = resume(&mut lee_ws, other, 0).await;
    assert!(!recovered);
    assert!(frames.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resuming_again_and_again_under_load_misses_nothing_and_repeats_nothing() {
    let first = spawn_app_with(Roles::ALL).await;
    let second = first.instance(API_ONLY).await;
    let kim = first.register("Kim").await;
    let lee = first.register("Lee").await;
    let room = group(&first, &kim, &[&lee]).await;

    let sender = {
        let (http, api, token) = (
            first.http.clone(),
            format!("{}/api/v1", first.address),
            kim.token.clone(),
        );
        tokio::spawn(async move {
            let call = |method: reqwest::Method, path: String, body: Value| {
                http.request(method, format!("{api}{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
            };
            for i in 1..=200 {
                let body =
                    json!({ "client_msg_id": Uuid::now_v7(), "body": format!("message {i}") });
                let sent = call(
                    reqwest::Method::POST,
                    format!("/chat/rooms/{room}/messages"),
                    body,
                )
                .await
                .unwrap();
                assert_eq!(sent.status(), StatusCode::CREATED);
                if i == 60 {
                    let renamed = call(
                        reqwest::Method::PATCH,
                        format!("/chat/rooms/{room}"),
                        json!({ "name": "새 이름" }),
                    )
                    .await
                    .unwrap();
                    assert!(renamed.status().is_success());
                }
                if i == 120 {
                    let edited = call(
                        reqwest::Method::PATCH,
                        format!("/chat/rooms/{room}/messages/10"),
                        json!({ "body": "edited" }),
                    )
                    .await
                    .unwrap();
                    assert!(edited.status().is_success());
                }
            }
        })
    };

    // Lee drops the connection ten times, each time resuming on the other instance.
    let mut seen: Vec<Value> = Vec::new();
    let mut last = 1;
    for round in 0..10u64 {
        let app = if round % 2 == 0 { &second } else { &first };
        let mut ws = app.ws(&lee).await;
        let (frames, recovered) = resume(&mut ws, room, last).await;
        assert!(recovered, "round {round}");
        seen.extend(frames);
        let until = tokio::time::Instant::now() + Duration::from_millis(100 + 37 * round);
        while let Some(frame) = ws
            .next_frame(until.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            seen.push(frame);
        }
        last = seen.last().and_then(|f| f["rev"].as_i64()).unwrap_or(last);
        drop(ws);
    }
    sender.await.unwrap();
    let latest = latest_rev(&first, room).await;
    let mut ws = first.ws(&lee).await;
    let (frames, recovered) = resume(&mut ws, room, last).await;
    assert!(recovered);
    seen.extend(frames);
    while seen.last().and_then(|f| f["rev"].as_i64()) < Some(latest) {
        seen.push(ws.next_frame(LIVE).await.expect("the rest, live"));
    }

    let revs: Vec<i64> = seen.iter().filter_map(|f| f["rev"].as_i64()).collect();
    assert_eq!(
        revs,
        (2..=latest).collect::<Vec<_>>(),
        "every change once, in order"
    );
    // The rename is message 61, a system message.
    let expected: Vec<i64> = (1..=60).chain(62..=201).collect();
    assert_eq!(seqs(&seen), expected, "every message once, in order");
    let kinds = |kind: &str| seen.iter().filter(|f| f["type"] == kind).count();
    assert_eq!((kinds("room.updated"), kinds("message.edited")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_does_not_read_is_dropped_and_delays_nobody() {
    let app = spawn_app_custom(Roles::ALL, |s| s.limits.ws_send_queue = 8).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let min = app.register("Min").await;
    let room = group(&app, &kim, &[&lee, &min]).await;

    // Lee's socket takes in almost nothing and is never read until the end.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    let stream = socket.connect(address).await.unwrap();
    let request = ws_request(&app.address, &lee.token);
    let (mut slow, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let mut fast = app.ws(&min).await;
    // Live only: a resume naming no room ends the wait for one at once.
    let resumed = fast.ask("resume", "live", json!({})).await;
    assert_eq!(resumed["data"], json!({ "rooms": {} }));
    // Both sockets follow the room once a real message (rev 2) has reached the reader.
    say(&app, room, &kim, "시작").await;
    fast.next_of("message.sent", LIVE).await.expect("following");

    // More than the kernel's socket buffers hold (4 MB here), pushed as the notifier would:
    // once on the room's subject. Frames are big, so that this takes few of them.
    const FRAMES: i64 = 80;
    let nats = async_nats::connect(crate::helpers::nats_url())
        .await
        .unwrap();
    let pushes: Vec<projections::Push> = (3..FRAMES + 3)
        .map(|rev| {
            let message = ChatMessage {
                message_id: Uuid::now_v7(),
                room_id: room,
                seq: rev - 1,
                kind: MessageKind::Text,
                sender_id: kim.id,
                client_msg_id: Some(Uuid::now_v7()),
                body: Some("a".repeat(100_000)),
                system: None,
                deleted: false,
                edited_at: None,
                sent_at: chrono::Utc::now(),
                unread_count: 2,
                media_id: None,
            };
            projections::Push {
                id: Uuid::now_v7(),
                to: Audience::Room {
                    room_id: room,
                    rev,
                    except: Vec::new(),
                    seq: None,
                    leaver: None,
                },
                frame: Frame::MessageSent(message),
                correlation_id: None,
            }
        })
        .collect();
    // At a pace a reading socket keeps up with, while the sockets are read (or not).
    let subjects = app.subjects();
    let publisher = tokio::spawn(async move {
        for push in pushes {
            projections::outbox::publish(&nats, &subjects, &[push])
                .await
                .unwrap();
            nats.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    // The reader counts without parsing, as fast as a real client would.
    let mut got = 0;
    while got < FRAMES {
        let message = tokio::time::timeout(LIVE, fast.socket.next()).await;
        match message {
            Ok(Some(Ok(Message::Text(text)))) if text.contains(r#""type":"message.sent""#) => {
                got += 1
            }
            Ok(Some(Ok(Message::Text(text)))) => assert!(!text.contains("lagged"), "after {got}"),
            Ok(Some(Ok(_))) => {}
            other => panic!("the reader got {got} frames, then {other:?}"),
        }
    }

    publisher.await.unwrap();

    // The one that did not read finds, when it finally does, that it was let go.
    let mut messages = 0;
    let mut lagged = false;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(message)) = slow.next().await {
            match message {
                Message::Text(text) if text.contains(r#""type":"message.sent""#) => messages += 1,
                Message::Text(text) if text.contains(r#""type":"lagged""#) => lagged = true,
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the slow socket was closed");
    assert!(lagged, "and told why");
    assert!(messages < FRAMES, "before the end ({messages} messages)");
}

#[tokio::test]
async fn a_resume_after_the_feed_cursor_brings_the_rooms_entered_while_away() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let mut lee_ws = app.ws(&lee).await;
    let old = group(&app, &kim, &[&lee]).await;
    let created = lee_ws.next_of("room.created", LIVE).await.unwrap();
    let cursor = created["cursor"]
        .as_str()
        .expect("own frames carry a cursor")
        .to_owned();
    drop(lee_ws);

    // While Lee is away: a new room with two messages, and one in the old room.
    let new = group(&app, &kim, &[&lee]).await;
    say(&app, new, &kim, "하나").await;
    say(&app, new, &kim, "둘").await;
    let token = say(&app, old, &kim, "셋").await.token();
    let published = token.parse().unwrap();
    assert!(view_reached(&app.pool, projections::notifications::VIEW, published, LIVE).await);

    let mut lee_ws = app.ws(&lee).await;
    lee_ws
        .send(json!({ "type": "resume", "id": "r", "data": { "after": cursor, "rooms": { old.to_string(): 1 } } }))
        .await;
    let mut frames = Vec::new();
    let resumed = loop {
        let frame = lee_ws.next_frame(LIVE).await.unwrap();
        if frame["type"] == "resumed" {
            break frame;
        }
        frames.push(frame);
    };
    let told: Vec<(Value, Value, Value)> = frames
        .iter()
        .map(|f| (f["type"].clone(), f["room_id"].clone(), f["rev"].clone()))
        .collect();
    assert_eq!(
        told,
        vec![
            (json!("message.sent"), json!(old), json!(2)),
            (json!("room.created"), json!(new), json!(1)),
            (json!("message.sent"), json!(new), json!(2)),
            (json!("message.sent"), json!(new), json!(3)),
        ]
    );
    let position = |c: &Value| c.as_str().and_then(|c| c.parse::<domain::Position>().ok());
    assert!(position(&frames[1]["cursor"]) > position(&json!(cursor)));
    assert_eq!(resumed["data"]["feed"], json!({ "recovered": true }));
    assert_eq!(
        resumed["data"]["rooms"][old.to_string()],
        json!({ "recovered": true })
    );

    // The room entered while away is followed live from here.
    say(&app, new, &kim, "넷").await;
    let live = lee_ws.next_of("message.sent", LIVE).await.unwrap();
    assert_eq!(
        (live["room_id"].clone(), live["rev"].clone()),
        (json!(new), json!(4))
    );
    let bad = lee_ws
        .ask("resume", "b", json!({ "after": "yesterday" }))
        .await;
    assert_eq!(bad["data"]["code"], "bad_cursor");
}

#[tokio::test]
async fn typing_reaches_the_other_members_lapses_and_is_rate_limited() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let stranger = app.register("Stranger").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut kim_ws = app.ws(&kim).await;
    let mut lee_ws = app.ws(&lee).await;
    lee_ws.ask("resume", "go", json!({})).await;
    // Typing is not kept: Lee's socket must be following the room when it happens.
    say(&app, room, &kim, "안녕").await;
    lee_ws
        .next_of("message.sent", LIVE)
        .await
        .expect("following");

    let ack = kim_ws
        .ask("typing", "t1", json!({ "room_id": room, "typing": true }))
        .await;
    assert_eq!(ack["type"], "ack");
    let typing = lee_ws.next_of("typing", LIVE).await.expect("told");
    assert_eq!(
        typing["data"],
        json!({ "room_id": room, "user_id": kim.id, "typing": true })
    );
    // Not renewed: it lapses on its own after five seconds.
    assert_eq!(lee_ws.next_of("typing", Duration::from_secs(3)).await, None);
    let lapsed = lee_ws.next_of("typing", LIVE).await.expect("lapsed");
    assert_eq!(lapsed["data"]["typing"], false);

    // A client that sends it in a loop is told to few people few times.
    for i in 0..20 {
        let ack = kim_ws
            .ask(
                "typing",
                &format!("flood{i}"),
                json!({ "room_id": room, "typing": true }),
            )
            .await;
        assert_eq!(ack["type"], "ack", "the excess is dropped silently");
    }
    let mut told = 0;
    while lee_ws
        .next_of("typing", Duration::from_millis(500))
        .await
        .is_some()
    {
        told += 1;
    }
    assert!((1..=5).contains(&told), "{told} typing frames for 20");
    kim_ws
        .ask(
            "typing",
            "stop",
            json!({ "room_id": room, "typing": false }),
        )
        .await;
    let stopped = lee_ws.next_of("typing", LIVE).await.expect("stopped");
    assert_eq!(stopped["data"]["typing"], false);
    assert_eq!(
        kim_ws.next_of("typing", Duration::from_millis(300)).await,
        None,
        "nobody is told of their own typing"
    );

    let mut stranger_ws = app.ws(&stranger).await;
    let refused = stranger_ws
        .ask("typing", "x", json!({ "room_id": room, "typing": true }))
        .await;
    assert_eq!(refused["data"]["code"], "room_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presence_holds_across_processes_and_a_killed_process_lets_its_users_go() {
    let ttl = Duration::from_secs(3);
    let app = spawn_app_custom(Roles::ALL, |s| s.limits.presence_ttl = ttl).await;
    let mut other = MoimChild::start_as(
        "api",
        app.sandbox_env(),
        &[("MOIM_PRESENCE_TTL_MS", "3000")],
    )
    .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let room = app.create_room(&kim, &[&lee]).await;
    let mut kim_ws = app.ws(&kim).await;
    kim_ws.ask("resume", "go", json!({})).await;
    // Presence goes to sockets in a room with Lee: Kim's must be following the room.
    say(&app, room, &kim, "안녕").await;
    kim_ws
        .next_of("message.sent", LIVE)
        .await
        .expect("following");
    let members = |online: bool| {
        let app = &app;
        let kim = &kim;
        let lee_id = lee.id;
        async move {
            eventually(LIVE, || async {
                let details = app.get(&format!("/chat/rooms/{room}"), kim).await;
                details.body["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| m["user_id"] == lee_id.to_string() && m["online"] == online)
            })
            .await
        }
    };

    // Lee opens a socket on the other process: Kim, on this one, is told.
    let lee_ws = Ws::connect(&other.address, &lee.token).await;
    let online = kim_ws
        .next_of("presence", LIVE)
        .await
        .expect("told Lee came");
    assert_eq!(
        (
            online["data"]["user_id"].clone(),
            online["data"]["online"].clone()
        ),
        (json!(lee.id), json!(true))
    );
    assert!(members(true).await, "the room's members say Lee is online");

    // The process holding Lee's socket dies: Lee goes offline within the TTL (30 s at most).
    other.kill();
    let offline = kim_ws
        .next_of("presence", Duration::from_secs(30))
        .await
        .expect("told Lee went");
    assert_eq!(offline["data"]["online"], false);
    assert!(members(false).await);
    let details = app.get(&format!("/chat/rooms/{room}"), &kim).await;
    let lee_entry = details.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == lee.id.to_string())
        .cloned()
        .unwrap();
    assert!(lee_entry["last_seen"].is_string(), "{lee_entry}");
    drop(lee_ws);

    // A socket closed in the ordinary way: offline at once.
    let lee_ws = app.ws(&lee).await;
    let back = kim_ws.next_of("presence", LIVE).await.unwrap();
    assert_eq!(back["data"]["online"], true);
    drop(lee_ws);
    let gone = kim_ws.next_of("presence", LIVE).await.unwrap();
    assert_eq!(gone["data"]["online"], false);
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let app = spawn_app_custom(Roles::ALL, |s| {
        s.limits.ws_ping_every = Duration::from_millis(200);
    })
    .await;
    let kim = app.register("Kim").await;
    let request = ws_request(&app.address, &kim.token);
    let (mut silent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let sockets_open = || async {
        let ready: Value = app
            .http
            .get(format!("{}/health/ready", app.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ready["sockets_open"].as_u64()
    };
    assert_eq!(sockets_open().await, Some(1));
    // A client that reads nothing answers no ping: well past 2.5 pings, the server lets it go.
    assert!(eventually(LIVE, || async { sockets_open().await == Some(0) }).await);
    // What it finds when it reads at last: the frames sent, then the close (or, if the
    // connection is already gone under the pong it owes, an error).
    let mut close = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(LIVE, silent.next()).await {
        if let Message::Close(frame) = message {
            close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            break;
        }
    }
    if let Some(close) = close {
        assert_eq!(close, (1008, "no heartbeat".to_owned()));
    }

    // One that reads (and so answers pings) stays.
    let mut alive = app.ws(&kim).await;
    assert_eq!(
        alive.next_frame(Duration::from_secs(1)).await,
        None,
        "reading, it answers pings"
    );
    alive.send(json!({ "type": "ping", "id": "p" })).await;
    let pong = alive.next_of("pong", LIVE).await;
    assert!(pong.is_some(), "a client that answers pings is kept");
}

#[tokio::test]
async fn a_late_joiner_is_told_nothing_of_messages_from_before_their_join() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let min = app.register("Min").await;
    let room = group(&app, &kim, &[&lee]).await;
    say(&app, room, &kim, "before Min").await;
    let mut min_ws = app.ws(&min).await;
    min_ws.ask("resume", "go", json!({})).await;
    let mut lee_ws = app.ws(&lee).await;
    lee_ws.ask("resume", "go", json!({})).await;
    let added = app
        .post(
            &format!("/chat/rooms/{room}/members"),
            &kim,
            json!({ "user_ids": [min.id] }),
        )
        .await;
    assert!(added.status.is_success(), "{:?}", added.body);
    min_ws
        .next_of("room.member_joined", LIVE)
        .await
        .expect("added");

    // Kim edits and deletes a message Min may not read: Lee is told, Min is not.
    let edited = app
        .patch(
            &format!("/chat/rooms/{room}/messages/1"),
            &kim,
            json!({ "body": "a secret" }),
        )
        .await;
    assert!(edited.status.is_success(), "{:?}", edited.body);
    lee_ws
        .next_of("message.edited", LIVE)
        .await
        .expect("Lee is told");
    say(&app, room, &kim, "after Min").await;
    loop {
        let frame = min_ws.next_frame(LIVE).await.expect("live");
        assert_ne!(frame["type"], "message.edited", "Min is not told: {frame}");
        if frame["type"] == "message.sent" {
            assert_eq!(frame["data"]["body"], "after Min");
            break;
        }
    }
    // Nor when Min comes back and resumes from the room's start.
    drop(min_ws);
    let mut min_ws = app.ws(&min).await;
    let (frames, recovered) = resume(&mut min_ws, room, 1).await;
    assert!(recovered);
    let kinds: Vec<Value> = frames.iter().map(|f| f["type"].clone()).collect();
    assert_eq!(kinds, [json!("room.member_joined"), json!("message.sent")]);
}
