//! Rate limits hold across API processes (their counters live in PostgreSQL), answer 429
//! `rate_limited` with `Retry-After`, and read the client's address from `X-Forwarded-For` only
//! behind a trusted proxy; every answer carries the security headers, and CORS only for the
//! configured origins.

use std::time::Duration;

use moim_api::config::Settings;
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{eventually, ok, say, spawn_app_custom, ws_request, TestApp};

const API_ONLY: Roles = Roles {
    api: true,
    ..Roles::NONE
};

/// Limits low enough to reach, with this machine as the trusted proxy in front.
fn tight(settings: &mut Settings) {
    settings.rates.commands_per_user.max = 5;
    settings.rates.refresh_per_session.max = 2;
    settings.rates.register_per_ip.max = 3;
    settings.rates.oauth_start_per_ip.max = 2;
    settings.rates.login_failures.max = 5;
    settings.limits.ws_max_sockets_per_user = 2;
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

async fn two_processes() -> (TestApp, TestApp) {
    let a = spawn_app_custom(Roles::ALL, tight).await;
    let b = a.instance_with(API_ONLY, tight).await;
    (a, b)
}

/// `POST /auth/login` as if from `ip` (through the trusted proxy).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("x-forwarded-for", format!("6.6.6.6, {ip}"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn register_from(app: &TestApp, ip: &str, name: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/api/v1/auth/register", app.address))
        .header("x-forwarded-for", ip)
        .json(&json!({
            "email": format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": "correct horse",
            "display_name": name,
        }))
        .send()
        .await
        .unwrap()
}

#[track_caller]
fn limited(answer: &reqwest::Response) {
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
}

#[tokio::test]
async fn failed_logins_are_counted_per_account_and_per_address_across_processes() {
    let (a, b) = two_processes().await;
    let kim = a.register("Kim").await;
    let lee = a.register("Lee").await;
    // Five wrong passwords for Kim from five addresses, on both processes.
    for n in 0..5 {
        let app = if n % 2 == 0 { &a } else { &b };
        let wrong = login_from(app, &format!("10.0.0.{n}"), &kim.email, "wrong password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right one waits, from any address.
    let right = login_from(&b, "10.0.1.1", &kim.email, "correct horse").await;
    limited(&right);
    let body: serde_json::Value = right.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Lee, from an address of her own, is untouched.
    let lee_in = login_from(&a, "10.0.2.1", &lee.email, "correct horse").await;
    assert_eq!(lee_in.status(), StatusCode::OK);

    // One address guessing at five accounts (that do not even exist) is stopped too.
    for n in 0..5 {
        let app = if n % 2 == 0 { &a } else { &b };
        let email = format!("nobody{n}@example.com");
        let wrong = login_from(app, "10.0.3.3", &email, "wrong password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    limited(&login_from(&b, "10.0.3.3", &lee.email, "correct horse").await);
    // The client's own X-Forwarded-For entries before the proxy's prove nothing: the address
    // counted is the one the proxy saw.
    let spoofed = a
        .http
        .post(format!("{}/api/v1/auth/login", a.address))
        .header("x-forwarded-for", "10.0.9.9, 10.0.3.3")
        .json(&json!({ "email": lee.email, "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    limited(&spoofed);
}

#[tokio::test]
async fn a_sockets_reads_and_sends_count_against_the_command_rate_as_over_http() {
    let app = spawn_app_custom(Roles::ALL, tight).await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    // Kim's first command of five.
    let room = app.create_room(&kim, &[&lee]).await;
    say(&app, room, &lee, "hi").await;
    let mut kim_ws = app.ws(&kim).await;
    let mut answers = Vec::new();
    for n in 0..4 {
        let read = kim_ws
            .ask(
                "room.read",
                &format!("r{n}"),
                json!({ "room_id": room, "seq": 1 }),
            )
            .await;
        answers.push(read["type"].clone());
    }
    assert_eq!(answers, ["ack"; 4], "the second to fifth commands");
    let read = kim_ws
        .ask("room.read", "r4", json!({ "room_id": room, "seq": 1 }))
        .await;
    assert_eq!(read["type"], "error");
    assert_eq!(read["data"]["code"], "rate_limited");
    // The socket's own request id, the one its log lines carry.
    let socket_id = read["data"]["request_id"].as_str().expect("a request id");
    assert!(socket_id.starts_with("ws-"), "{socket_id}");
    let send = kim_ws
        .ask(
            "message.send",
            "s1",
            json!({ "room_id": room, "client_msg_id": uuid::Uuid::now_v7(), "body": "hi" }),
        )
        .await;
    assert_eq!(send["data"]["code"], "rate_limited");
    assert_eq!(send["data"]["request_id"], socket_id);
    // Over HTTP the same count is used up, and Lee's commands are her own.
    let over_http = app
        .post(
            &format!("/chat/rooms/{room}/read"),
            &kim,
            json!({ "seq": 1 }),
        )
        .await;
    ok(&over_http, StatusCode::TOO_MANY_REQUESTS);
    let mut lee_ws = app.ws(&lee).await;
    let lees = lee_ws
        .ask("room.read", "l1", json!({ "room_id": room, "seq": 1 }))
        .await;
    assert_eq!(lees["type"], "ack");
}

#[tokio::test]
async fn commands_refreshes_registrations_and_sockets_are_limited_across_processes() {
    let (a, b) = two_processes().await;
    let kim = a.register("Kim").await;
    let lee = a.register("Lee").await;
    for n in 0..5 {
        let app = if n % 2 == 0 { &a } else { &b };
        let blocked = app
            .post(&format!("/users/me/blocks/{}", lee.id), &kim, json!({}))
            .await;
        ok(&blocked, StatusCode::OK);
    }
    let flood = b
        .post(&format!("/users/me/blocks/{}", lee.id), &kim, json!({}))
        .await;
    ok(&flood, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(flood.body["code"], "rate_limited");
    // Reads are not commands, and Lee's commands are her own.
    ok(&a.get("/users/me", &kim).await, StatusCode::OK);
    ok(
        &a.post(&format!("/users/me/blocks/{}", kim.id), &lee, json!({}))
            .await,
        StatusCode::OK,
    );

    // Refreshes, per session.
    let mut refresh_token = lee.refresh_token.clone();
    for n in 0..3 {
        let app = if n % 2 == 0 { &a } else { &b };
        let answer = app
            .request(
                Method::POST,
                "/auth/refresh",
                None,
                Some(json!({ "refresh_token": refresh_token })),
                None,
            )
            .await;
        if n < 2 {
            ok(&answer, StatusCode::OK);
            refresh_token = answer.body["refresh_token"].as_str().unwrap().to_owned();
        } else {
            ok(&answer, StatusCode::TOO_MANY_REQUESTS);
        }
    }

    // Registrations, per address.
    for n in 0..3 {
        let app = if n % 2 == 0 { &a } else { &b };
        let answer = register_from(app, "10.1.0.1", &format!("new{n}")).await;
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    limited(&register_from(&b, "10.1.0.1", "one-too-many").await);
    let elsewhere = register_from(&a, "10.1.0.2", "neighbour").await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);

    // Social-login starts, per address (counted before the provider is even looked up).
    for n in 0..3 {
        let app = if n % 2 == 0 { &a } else { &b };
        let started = app
            .http
            .get(format!(
                "{}/api/v1/auth/oauth/kakao/start?redirect_uri=https://app.example.com/",
                app.address
            ))
            .header("x-forwarded-for", "10.2.0.1")
            .send()
            .await
            .unwrap();
        if n < 2 {
            assert_eq!(
                started.status(),
                StatusCode::NOT_FOUND,
                "no Kakao is set up here"
            );
        } else {
            limited(&started);
        }
    }

    // Sockets, per user: two open (one on each process), a third is refused.
    let first = tokio_tungstenite::connect_async(ws_request(&a.address, &kim.token))
        .await
        .unwrap();
    let second = tokio_tungstenite::connect_async(ws_request(&b.address, &kim.token))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || {
            let url = a.address.clone();
            let token = kim.token.clone();
            async move {
                let third = tokio_tungstenite::connect_async(ws_request(&url, &token)).await;
                matches!(
                    third,
                    Err(tokio_tungstenite::tungstenite::Error::Http(answer))
                        if answer.status() == StatusCode::TOO_MANY_REQUESTS
                )
            }
        })
        .await,
        "a third socket is refused"
    );
    drop((first, second));
}

#[tokio::test]
async fn every_answer_has_the_security_headers_and_cors_is_only_for_configured_origins() {
    let app = spawn_app_custom(Roles::ALL, |s| {
        s.cors_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let kim = app.register("Kim").await;
    for (path, token) in [
        ("/api/v1/users/me", Some(&kim.token)),
        ("/api/v1/nope", None),
    ] {
        let mut request = app.http.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        let headers = answer.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.get("server").is_none());
    }
    let login = app
        .http
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({ "email": kim.email, "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");

    let preflight = |origin: &'static str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/chat/rooms", app.address),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Passwords are 8 to 128 characters; a huge one costs no hashing (the body bound stops
    // the largest, and the length check the rest).
    let long = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "long@example.com", "password": "x".repeat(129), "display_name": "L" })),
            None,
        )
        .await;
    ok(&long, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": kim.email, "password": "x".repeat(60_000) })),
            None,
        )
        .await;
    ok(&huge, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_cors_origins_no_cors_headers_are_sent() {
    let app = spawn_app_custom(Roles::ALL, |_| {}).await;
    let answer = app
        .http
        .get(format!("{}/health/live", app.address))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn a_generous_command_limit_counted_in_memory_holds_across_processes_and_is_written_back() {
    // 96 an hour, counted in memory in steps of 3. Windows start on the hour: one that ends
    // mid-test would start the count again, so a test about to cross it waits.
    let into_hour = chrono::Utc::now().timestamp().rem_euclid(3600);
    if into_hour > 3600 - 30 {
        tokio::time::sleep(Duration::from_secs(
            u64::try_from(3601 - into_hour).unwrap(),
        ))
        .await;
    }
    let generous = |settings: &mut Settings| {
        settings.rates.commands_per_user = commands::Rate {
            max: 96,
            window: Duration::from_secs(3600),
        };
    };
    let a = spawn_app_custom(Roles::ALL, generous).await;
    let b = a.instance_with(API_ONLY, generous).await;
    let kim = a.register("Kim").await;
    let lee = a.register("Lee").await;
    let mut admitted = 0;
    for n in 0..110 {
        let app = if n % 2 == 0 { &a } else { &b };
        let block = app
            .post(&format!("/users/me/blocks/{}", lee.id), &kim, json!({}))
            .await;
        match block.status {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(block.body["code"], "rate_limited"),
            other => panic!("block answered {other}: {}", block.body),
        }
    }
    // Exact to within a step per process: over it by what the other process has not written
    // yet, under it by what one has written while another of its writes was still on its way.
    assert!(
        (96 - 2 * 3..=96 + 2 * 3).contains(&admitted),
        "{admitted} admitted"
    );
    // What each process kept in memory reaches PostgreSQL with its next write-back.
    let key = format!("command:{}", kim.id);
    let written = || async {
        let count: Option<i32> =
            sqlx::query_scalar("SELECT sum(count)::int FROM rate_counters WHERE key = $1")
                .bind(&key)
                .fetch_one(&a.pool)
                .await
                .unwrap();
        count.unwrap_or(0) >= admitted
    };
    assert!(eventually(Duration::from_secs(5), written).await);
    // Lee's commands are her own.
    ok(
        &b.post(&format!("/users/me/blocks/{}", kim.id), &lee, json!({}))
            .await,
        StatusCode::OK,
    );
}
