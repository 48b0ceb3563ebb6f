//! What a client can make Moim hold stays bounded: password hashing under a login flood,
//! half-sent requests, oversized WebSocket messages, forged consistency tokens, sockets whose
//! token ran out, unwanted rooms from a blocked user, guessed couple codes, and requests that find
//! every database connection taken.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{spawn_app, spawn_app_custom, MoimChild, Sandbox, User};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_from_many_addresses_holds_memory_and_sheds_load() {
    let sandbox = Sandbox::new().await;
    let moim = MoimChild::start(
        sandbox.env(),
        &[
            ("MOIM_HASH_CONCURRENCY", "2"),
            ("MOIM_HASH_QUEUE", "8"),
            ("MOIM_HASH_WAIT_MS", "1000"),
            // This flood is about hashing's bounds; the failed-login limit (tested in
            // rate_limits.rs) would otherwise stop it before any hashing.
            ("MOIM_LOGIN_FAILURES_PER_15_MIN", "1000000"),
        ],
    )
    .await;
    let email = format!("victim-{}@example.com", Uuid::new_v4().simple());
    let registered = reqwest::Client::new()
        .post(moim.api("/auth/register"))
        .json(&json!({ "email": email, "password": "correct horse", "display_name": "V" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let before = moim.rss_kib();

    // 120 wrong logins at once, from four client addresses.
    let clients: Vec<reqwest::Client> = (2..6)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::from([127, 0, 0, i]))
                .build()
                .unwrap()
        })
        .collect();
    let flood = (0..120).map(|i| {
        let client = clients[i % clients.len()].clone();
        let url = moim.api("/auth/login");
        let email = email.clone();
        async move {
            let answer = client
                .post(url)
                .json(&json!({ "email": email, "password": format!("guess {i}") }))
                .send()
                .await
                .unwrap();
            let retry_after = answer.headers().contains_key("retry-after");
            let status = answer.status();
            let body: Value = answer.json().await.unwrap();
            (
                status,
                body["code"].as_str().unwrap_or_default().to_owned(),
                retry_after,
            )
        }
    });
    let sampler = async {
        let mut peak = 0;
        for _ in 0..200 {
            peak = peak.max(moim.rss_kib());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        peak
    };
    let (answers, peak) = tokio::join!(futures::future::join_all(flood), sampler);
    let shed = answers
        .iter()
        .filter(|(s, code, retry)| {
            *s == StatusCode::SERVICE_UNAVAILABLE && code == "overloaded" && *retry
        })
        .count();
    let refused = answers
        .iter()
        .filter(|(s, code, _)| *s == StatusCode::UNAUTHORIZED && code == "bad_credentials")
        .count();
    assert_eq!(shed + refused, 120, "{answers:?}");
    assert!(shed > 0, "past the queue, logins are shed");
    assert!(refused >= 2, "the queue's worth are verified");
    // Two argon2id operations of 19 MiB at most, whatever arrives (before: 2.2 GiB).
    assert!(
        peak < before + 2 * 19 * 1024 + 64 * 1024,
        "peak RSS {peak} KiB from {before} KiB"
    );
    let settled = moim.rss_kib();
    assert!(
        settled < before + 2 * 19 * 1024 + 32 * 1024,
        "settled RSS {settled} KiB, before {before}, peak {peak}"
    );
    // Each refusal is on the security log with the address, the account and the request id —
    // and no password anywhere in the log.
    let lines = moim.lines.lock().unwrap().clone();
    let security: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "security")
        .collect();
    let failed = security
        .iter()
        .filter(|l| l["fields"]["event"] == "login_failed")
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), refused, "{security:?}");
    assert!(failed.iter().all(|l| {
        l["fields"]["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("127.0.0."))
            && l["fields"]["user_id"].is_string()
            && l["fields"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
    }));
    let shed_logged = security
        .iter()
        .filter(|l| l["fields"]["event"] == "overloaded")
        .count();
    assert_eq!(shed_logged, shed);
    assert!(
        lines.iter().all(|l| !l.contains("guess ")),
        "a password was logged"
    );

    // The right password still works once the flood is over.
    let login = reqwest::Client::new()
        .post(moim.api("/auth/login"))
        .json(&json!({ "email": email, "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_fragmented_ws_message_closes_the_socket_with_1009() {
    let sandbox = Sandbox::new().await;
    let moim = MoimChild::start(sandbox.env(), &[]).await;
    let (_, token) = moim.register("Kim", "correct horse").await;
    let before = moim.rss_kib();
    let url = format!("{}/api/v1/ws", moim.address.replace("http://", "ws://"));
    let mut sockets = Vec::new();
    for _ in 0..8 {
        let mut request = url.clone().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        sockets.push(socket);
    }
    for socket in &mut sockets {
        // 16 KiB fragments of one text message that never ends: the fifth passes 64 KiB.
        let chunk = vec![b'a'; 16 * 1024];
        let first = Frame::message(chunk.clone(), OpCode::Data(Data::Text), false);
        socket.send(Message::Frame(first)).await.unwrap();
        for _ in 0..4 {
            let more = Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false);
            socket.send(Message::Frame(more)).await.unwrap();
        }
    }
    for socket in &mut sockets {
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Close(frame)) => return frame.map(|f| f.code),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            None
        })
        .await
        .unwrap();
        assert_eq!(closed, Some(CloseCode::Size), "closed with 1009");
    }
    let after = moim.rss_kib();
    assert!(after < before + 16 * 1024, "RSS {before} → {after} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_at_the_header_timeout_while_others_are_served() {
    let app = spawn_app_custom(Roles::ALL, |s| {
        s.limits.header_timeout = Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: moim\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let served = app
        .http
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK, "a normal client is served");
    // Every half-sent request is closed by the server (EOF or reset), none left hanging.
    for mut stream in slow {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf))
            .await
            .expect("closed within the header timeout");
        assert!(
            matches!(read, Ok(0) | Err(_))
                || read
                    .as_ref()
                    .is_ok_and(|n| buf[..*n].starts_with(b"HTTP/1.1 408")),
            "{read:?}"
        );
    }
}

#[tokio::test]
async fn a_request_that_finds_every_connection_taken_is_answered_503_in_the_acquire_timeout() {
    const CONNECTIONS: u32 = 4;
    let app = spawn_app_custom(
        Roles {
            api: true,
            ..Roles::NONE
        },
        |s| {
            s.db_max_connections = CONNECTIONS;
            s.db_acquire_timeout = Duration::from_secs(1);
        },
    )
    .await;
    let kim = app.register("Kim").await;
    let mut rooms = Vec::new();
    for other in ["Lee", "Park", "Choi"] {
        rooms.push(app.create_room(&kim, &[&app.register(other).await]).await);
    }
    let (app, kim) = (&app, &kim);
    let send = |room: Uuid| async move {
        app.post(
            &format!("/chat/rooms/{room}/messages"),
            kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "hello" }),
        )
        .await
    };
    // Each room is now in the command path's cache, so a send's only wait for a connection is
    // its append's, in the group writer.
    for room in &rooms {
        assert_eq!(send(*room).await.status, StatusCode::CREATED);
    }
    // Every connection, the process's checkpoint listener's too: it lets its own go when its
    // next read of the checkpoints (every 5 s) finds none free, and then finds none to listen on.
    let mut held = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while held.len() < CONNECTIONS as usize {
            if let Ok(conn) = app.pool.acquire().await {
                held.push(conn);
            }
        }
    })
    .await
    .expect("every connection held");
    let refused = app.pool.acquire().await.expect_err("none left");
    assert!(matches!(refused, sqlx::Error::PoolTimedOut), "{refused:?}");

    let started = std::time::Instant::now();
    let read = app
        .http
        .get(format!("{}/api/v1/chat/rooms", app.address))
        .bearer_auth(&kim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(read.headers()["retry-after"], "1");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["code"], "database_busy", "{read}");
    // Four at once: the first to reach the group writer is written alone, and those that queue
    // behind it as a group, which answers each with its one failure; the one in the same room as
    // another waits for it and then loads the room afresh (a failed append leaves the cache
    // unsure).
    let sent = tokio::join!(
        send(rooms[0]),
        send(rooms[1]),
        send(rooms[2]),
        send(rooms[0])
    );
    for sent in [sent.0, sent.1, sent.2, sent.3] {
        assert_eq!(
            sent.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            sent.body
        );
        assert_eq!(sent.body["code"], "database_busy");
        assert_eq!(sent.content_type, "application/problem+json");
    }
    // Each waited the acquire timeout (once or twice), not sqlx's default of 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    drop(held);
    assert_eq!(send(rooms[0]).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_forged_consistency_token_is_refused_at_once() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let forged = app
        .get_after("/chat/rooms", &kim, "9223372036854775807.1")
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{:?}", forged.body);
    assert_eq!(forged.body["code"], "invalid_consistency_token");
    let room = app.create_room(&kim, &[&app.register("Lee").await]).await;
    let sent = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "real" }),
        )
        .await;
    let real = app.get_after("/chat/rooms", &kim, &sent.token()).await;
    assert_eq!(real.status, StatusCode::OK);
}

#[tokio::test]
async fn a_socket_closes_at_its_tokens_expiry_unless_the_client_renews_it() {
    // Token times are whole seconds: four leave room for the steps below.
    let app = spawn_app_custom(Roles::ALL, |s| s.access_ttl = Duration::from_secs(4)).await;
    let kim = app.register("Kim").await;
    let mut ws = app.ws(&kim).await;
    let expired = ws
        .next_of("session.expired", Duration::from_secs(10))
        .await
        .expect("session.expired at the token's expiry");
    assert!(expired["data"]["expired_at"].is_string());
    let close = tokio::time::timeout(Duration::from_secs(5), ws.socket.next())
        .await
        .unwrap();
    assert!(
        matches!(close, Some(Ok(Message::Close(Some(ref f)))) if f.code == CloseCode::Policy),
        "{close:?}"
    );

    // An expired token no longer opens a socket.
    let url = format!("{}/api/v1/ws", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {}", kim.token);
    request
        .headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    // Renewed in-band before it expires, the socket lives on.
    let app = &app;
    let token = |refresh_token: String| async move {
        let answer = app
            .request(
                Method::POST,
                "/auth/refresh",
                None,
                Some(json!({ "refresh_token": refresh_token })),
                None,
            )
            .await;
        (
            answer.body["access_token"].as_str().unwrap().to_owned(),
            answer.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    };
    let (first, refresh) = token(kim.refresh_token.clone()).await;
    let mut ws = app
        .ws(&User {
            token: first,
            ..kim.clone()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (fresh, _) = token(refresh).await;
    let renew = json!({ "type": "auth", "id": "r1", "data": { "access_token": fresh } });
    ws.socket
        .send(Message::Text(renew.to_string().into()))
        .await
        .unwrap();
    let ack = ws
        .next_of("ack", Duration::from_secs(5))
        .await
        .expect("ack");
    assert_eq!(ack["id"], "r1");
    assert!(ack["data"]["expires_at"].is_string());
    // Past the first token's expiry, nothing closes it…
    let ping = json!({ "type": "ping", "id": "p1" });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ws.socket
        .send(Message::Text(ping.to_string().into()))
        .await
        .unwrap();
    let pong = ws
        .next_of("pong", Duration::from_secs(5))
        .await
        .expect("still open");
    assert_eq!(pong["id"], "p1");
    // …and garbage gets an error frame, not a closed socket.
    ws.socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    let error = ws
        .next_of("error", Duration::from_secs(5))
        .await
        .expect("error frame");
    assert_eq!(error["data"]["code"], "bad_frame");
    // The renewed token expires too.
    assert!(ws
        .next_of("session.expired", Duration::from_secs(10))
        .await
        .is_some());
}

#[tokio::test]
async fn a_blocked_user_cannot_pull_the_blocker_into_rooms_or_reach_them_live() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let park = app.register("Park").await;
    let blocked = app
        .post(&format!("/users/me/blocks/{}", lee.id), &kim, json!({}))
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
    assert_eq!(
        app.post(
            &format!("/users/me/blocks/{}", Uuid::now_v7()),
            &kim,
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let list = app
        .get_after("/users/me/blocks", &kim, &blocked.token())
        .await;
    assert_eq!(list.body["blocks"][0]["user_id"], lee.id.to_string());
    assert_eq!(
        app.get("/users/me/blocks", &park).await.body["blocks"],
        json!([])
    );

    for (kind, members) in [("direct", vec![kim.id]), ("group", vec![kim.id, park.id])] {
        let refused = app
            .post(
                "/chat/rooms",
                &lee,
                json!({ "name": "hi", "kind": kind, "member_ids": members }),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{kind}: {:?}",
            refused.body
        );
        assert_eq!(refused.body["code"], "blocked");
    }

    // In a room someone else made, Lee's messages are not pushed to Kim (Park gets them).
    let room = app.create_room(&park, &[&kim, &lee]).await;
    let mut kim_ws = app.ws(&kim).await;
    let mut park_ws = app.ws(&park).await;
    let messages = format!("/chat/rooms/{room}/messages");
    for (user, body) in [(&lee, "from lee"), (&park, "from park")] {
        let message = json!({ "client_msg_id": Uuid::now_v7(), "body": body });
        app.post(&messages, user, message).await;
    }
    let first = kim_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        first["data"]["body"], "from park",
        "Lee's was not pushed to Kim"
    );
    let first = park_ws
        .next_of("message.sent", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(first["data"]["body"], "from lee");

    // Lifted, the block is gone.
    let lifted = app
        .request(
            Method::DELETE,
            &format!("/users/me/blocks/{}", lee.id),
            Some(&kim.token),
            None,
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK);
    let direct = app
        .post(
            "/chat/rooms",
            &lee,
            json!({ "name": "hi", "kind": "direct", "member_ids": [kim.id] }),
        )
        .await;
    assert_eq!(direct.status, StatusCode::CREATED);
}

#[tokio::test]
async fn guessing_couple_codes_is_limited_across_processes_and_codes_can_be_withdrawn() {
    let app = spawn_app().await;
    let other = app
        .instance(Roles {
            api: true,
            relay: false,
            projections: false,
            scheduler: false,
        })
        .await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let code = app.post("/couples/invites", &kim, json!({})).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..10 {
        let via = if i % 2 == 0 { &app } else { &other };
        let wrong = via
            .post("/couples/match", &lee, json!({ "code": "ZZZZZZZZ" }))
            .await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND, "guess {i}");
    }
    for via in [&app, &other] {
        let limited = via
            .post("/couples/match", &lee, json!({ "code": code }))
            .await;
        assert_eq!(
            limited.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{:?}",
            limited.body
        );
        assert_eq!(limited.body["code"], "rate_limited");
    }

    // Withdrawn, a code works for nobody; only its inviter may withdraw it.
    let park = app.register("Park").await;
    let not_yours = app
        .request(
            Method::DELETE,
            &format!("/couples/invites/{code}"),
            Some(&park.token),
            None,
            None,
        )
        .await;
    assert_eq!(not_yours.status, StatusCode::NOT_FOUND);
    let withdrawn = app
        .request(
            Method::DELETE,
            &format!("/couples/invites/{code}"),
            Some(&kim.token),
            None,
            None,
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{:?}", withdrawn.body);
    let gone = app
        .post("/couples/match", &park, json!({ "code": code }))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let mine = app
        .get_after("/couples/invites", &kim, &withdrawn.token())
        .await;
    assert_eq!(mine.body["open_invites"], json!([]));
}

#[tokio::test]
async fn lists_are_paged_with_a_server_maximum() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    for _ in 0..3 {
        app.create_room(&kim, &[&lee, &kim]).await;
    }
    let too_many = app.get("/chat/rooms?limit=201", &kim).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.body["code"], "bad_limit");
    let last = app.create_room(&kim, &[&lee]).await;
    let token = app
        .post(
            &format!("/chat/rooms/{last}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "x" }),
        )
        .await
        .token();
    let first = app.get_after("/chat/rooms?limit=3", &kim, &token).await;
    assert_eq!(first.body["rooms"].as_array().unwrap().len(), 3);
    assert_eq!(
        first.body["rooms"][0]["room_id"],
        last.to_string(),
        "most recent first"
    );
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/chat/rooms?limit=3&cursor={cursor}"), &kim)
        .await;
    assert_eq!(rest.body["rooms"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let bad = app.get("/chat/rooms?cursor=nonsense", &kim).await;
    assert_eq!(bad.body["code"], "bad_cursor");
}

#[tokio::test]
async fn websockets_count_under_the_connection_cap_and_slow_bodies_get_408() {
    let app = spawn_app_custom(Roles::ALL, |s| {
        s.limits.max_connections = 3;
        s.limits.body_timeout = Duration::from_secs(1);
    })
    .await;
    let kim = app.register("Kim").await;
    // The test client's keep-alive connection holds a place too: open sockets until all are
    // taken (a socket past the cap is refused at its handshake).
    let url = format!("{}/api/v1/ws", app.address.replace("http://", "ws://"));
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut request = url.clone().into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", kim.token).parse().unwrap(),
        );
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => sockets.push(socket),
            Err(_) => break,
        }
    }
    assert!(!sockets.is_empty());
    // Every place is held, sockets included: another connection is refused with a problem.
    let fresh = reqwest::Client::new();
    let refused = fresh
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");
    // A socket that closes gives its place back.
    let mut closing = sockets.pop().unwrap();
    closing.close(None).await.unwrap();
    drop(closing);
    assert!(serves_again(&app.address).await, "the freed place is used");

    // A body that does not arrive in time: 408 problem, the handler never runs.
    drop(sockets);
    assert!(
        serves_again(&app.address).await,
        "the dropped sockets' places come back"
    );
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/chat/rooms HTTP/1.1\r\nHost: moim\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        kim.token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

/// Whether a request is served again within 10 s: a closed socket's place comes back as the
/// server sees it close, not at once.
async fn serves_again(address: &str) -> bool {
    crate::helpers::eventually(Duration::from_secs(10), || async {
        reqwest::Client::new()
            .get(format!("{address}/health/live"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await
}
