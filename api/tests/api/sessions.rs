//! Sessions across two API processes: refresh rotation and reuse, logout, logout everywhere, the
//! list of one's sessions, a new password, and an admin's suspension — each refused at once on
//! the process that did not handle it, sockets there included.

use std::time::{Duration, Instant};

use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ok, spawn_app, TestApp, User, Ws};

const API_ONLY: Roles = Roles {
    api: true,
    ..Roles::NONE
};

async fn refresh(app: &TestApp, refresh_token: &str) -> crate::helpers::Answer {
    app.request(
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({ "refresh_token": refresh_token })),
        None,
    )
    .await
}

/// How long until `user`'s token is refused on `app` with `status`; panics after 5 s.
async fn refused_within(app: &TestApp, user: &User, status: StatusCode, code: &str) -> Duration {
    let started = Instant::now();
    loop {
        let me = app.get("/users/me", user).await;
        if me.status == status {
            assert_eq!(me.body["code"], code, "{:?}", me.body);
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {} after 5 s",
            me.status
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_session_on_every_process() {
    let a = spawn_app().await;
    let b = a.instance(API_ONLY).await;
    let kim = a.register("Kim").await;
    let rotated = refresh(&a, &kim.refresh_token).await;
    ok(&rotated, StatusCode::OK);
    let newest = User {
        token: rotated.body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: rotated.body["refresh_token"].as_str().unwrap().to_owned(),
        ..kim.clone()
    };
    assert!(rotated.body["session_id"].is_string());
    ok(&b.get("/users/me", &newest).await, StatusCode::OK);

    // The thief replays the first token on the other process: the whole session ends.
    let reused = refresh(&b, &kim.refresh_token).await;
    ok(&reused, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.body["code"], "refresh_token_reused");
    let delay = refused_within(&a, &newest, StatusCode::UNAUTHORIZED, "session_revoked").await;
    println!("revocation refused on the other process {delay:?} after the reuse was answered");
    refused_within(&b, &kim, StatusCode::UNAUTHORIZED, "session_revoked").await;
    let after = refresh(&a, &newest.refresh_token).await;
    ok(&after, StatusCode::UNAUTHORIZED);
    assert_eq!(after.body["code"], "session_revoked");

    // Another session of the same user is untouched.
    let other = a.login(&kim).await;
    ok(&b.get("/users/me", &other).await, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_one_session_and_closes_its_socket_on_the_other_process() {
    let a = spawn_app().await;
    let b = a.instance(API_ONLY).await;
    let kim = a.register("Kim").await;
    let phone = a.login(&kim).await;
    let mut socket = Ws::connect(&b.address, &kim.token).await;
    let mut phone_socket = Ws::connect(&b.address, &phone.token).await;

    let mut sessions = Vec::new();
    for _ in 0..100 {
        let listed = a.get("/auth/sessions", &kim).await;
        ok(&listed, StatusCode::OK);
        sessions = listed.body["sessions"].as_array().unwrap().clone();
        if sessions.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(
        sessions.iter().filter(|s| s["current"] == true).count(),
        1,
        "{sessions:?}"
    );
    let current = sessions.iter().find(|s| s["current"] == true).unwrap();
    assert!(current["created_at"].is_string() && current["last_used_at"].is_string());
    assert_eq!(current["ip"], "127.0.0.1");

    let logout = a
        .post(
            "/auth/logout",
            &kim,
            json!({ "refresh_token": kim.refresh_token }),
        )
        .await;
    ok(&logout, StatusCode::NO_CONTENT);
    let frame = socket
        .next_of("session.revoked", Duration::from_secs(5))
        .await
        .expect("session.revoked on the other process");
    assert!(frame["data"]["session_id"].is_string());
    refused_within(&b, &kim, StatusCode::UNAUTHORIZED, "session_revoked").await;
    ok(
        &refresh(&a, &kim.refresh_token).await,
        StatusCode::UNAUTHORIZED,
    );
    // The phone's session and socket live on.
    ok(&b.get("/users/me", &phone).await, StatusCode::OK);
    phone_socket
        .send(json!({ "type": "ping", "id": "p1" }))
        .await;
    let pong = phone_socket.next_of("pong", Duration::from_secs(5)).await;
    assert!(pong.is_some(), "the phone's socket is still open");

    // One's own sessions only: someone else's is not found.
    let lee = a.register("Lee").await;
    let phone_id = a.get("/auth/sessions", &phone).await.body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = a.delete(&format!("/auth/sessions/{phone_id}"), &lee).await;
    ok(&foreign, StatusCode::NOT_FOUND);
    let ended = a
        .delete(&format!("/auth/sessions/{phone_id}"), &phone)
        .await;
    ok(&ended, StatusCode::NO_CONTENT);
    phone_socket
        .next_of("session.revoked", Duration::from_secs(5))
        .await
        .expect("the phone's socket closes too");
}

#[tokio::test]
async fn logout_all_and_a_new_password_end_the_other_sessions() {
    let a = spawn_app().await;
    let b = a.instance(API_ONLY).await;
    let kim = a.register("Kim").await;
    let laptop = a.login(&kim).await;
    let tablet = a.login(&kim).await;

    let wrong = a
        .post(
            "/users/me/password",
            &kim,
            json!({ "current_password": "not it at all", "new_password": "battery staple" }),
        )
        .await;
    ok(&wrong, StatusCode::FORBIDDEN);
    assert_eq!(wrong.body["code"], "wrong_password");
    let short = a
        .post(
            "/users/me/password",
            &kim,
            json!({ "current_password": "correct horse", "new_password": "short" }),
        )
        .await;
    ok(&short, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = a
        .post(
            "/users/me/password",
            &kim,
            json!({ "current_password": "correct horse", "new_password": "battery staple" }),
        )
        .await;
    ok(&changed, StatusCode::NO_CONTENT);
    refused_within(&b, &laptop, StatusCode::UNAUTHORIZED, "session_revoked").await;
    refused_within(&b, &tablet, StatusCode::UNAUTHORIZED, "session_revoked").await;
    ok(
        &refresh(&a, &laptop.refresh_token).await,
        StatusCode::UNAUTHORIZED,
    );
    ok(&b.get("/users/me", &kim).await, StatusCode::OK);
    let old = a.try_login(&kim.email, "correct horse").await;
    ok(&old, StatusCode::UNAUTHORIZED);
    let new = a.try_login(&kim.email, "battery staple").await;
    ok(&new, StatusCode::OK);
    let fresh = User {
        token: new.body["access_token"].as_str().unwrap().to_owned(),
        ..kim.clone()
    };

    ok(
        &a.post("/auth/logout-all", &kim, json!({})).await,
        StatusCode::NO_CONTENT,
    );
    refused_within(&b, &kim, StatusCode::UNAUTHORIZED, "session_revoked").await;
    refused_within(&b, &fresh, StatusCode::UNAUTHORIZED, "session_revoked").await;
    // Nothing of theirs is listed as live any more.
    let again = a.try_login(&kim.email, "battery staple").await;
    let token = again.body["access_token"].as_str().unwrap();
    let listed = a
        .request(
            Method::GET,
            "/auth/sessions",
            Some(token),
            None,
            Some(&again.token()),
        )
        .await;
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_admin_suspends_and_reinstates_and_every_step_is_audited() {
    let a = spawn_app().await;
    let b = a.instance(API_ONLY).await;
    let admin = a.register("Admin").await;
    a.run_moim(&["admin", "grant", &admin.email]).await;
    let lee = a.register("이서연").await;
    let kim = a.register("Kim").await;
    let mut lee_socket = Ws::connect(&b.address, &lee.token).await;

    // Nobody but an admin reaches /admin.
    for path in ["/admin/users", "/admin/audit"] {
        let refused = a.get(path, &kim).await;
        ok(&refused, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["code"], "not_admin");
    }
    let refused = a
        .post(
            &format!("/admin/users/{}/suspend", lee.id),
            &kim,
            json!({ "reason": "I do not like her" }),
        )
        .await;
    ok(&refused, StatusCode::FORBIDDEN);
    ok(
        &a.post(
            &format!("/admin/users/{}/reinstate", lee.id),
            &kim,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
    );

    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let suspended = a
        .post(
            &format!("/admin/users/{}/suspend", lee.id),
            &admin,
            json!({ "reason": "spam in the community board", "until": until }),
        )
        .await;
    ok(&suspended, StatusCode::OK);
    let frame = lee_socket
        .next_of("account.suspended", Duration::from_secs(5))
        .await
        .expect("account.suspended on the other process");
    assert!(frame["data"]["until"].is_string());
    refused_within(&b, &lee, StatusCode::FORBIDDEN, "account_suspended").await;
    let command = b
        .post(
            "/chat/rooms",
            &lee,
            json!({ "name": "spam", "member_ids": [] }),
        )
        .await;
    ok(&command, StatusCode::FORBIDDEN);
    let login = a.try_login(&lee.email, "correct horse").await;
    ok(&login, StatusCode::FORBIDDEN);
    assert_eq!(login.body["code"], "account_suspended");
    assert!(login.body["until"].is_string(), "{:?}", login.body);
    ok(
        &refresh(&a, &lee.refresh_token).await,
        StatusCode::FORBIDDEN,
    );

    // The admin finds her by her Korean name, and among the suspended.
    let consistency = suspended.token();
    let found = a
        .get_after(
            "/admin/users?query=서연&status=suspended",
            &admin,
            &consistency,
        )
        .await;
    ok(&found, StatusCode::OK);
    let users = found.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["email"], lee.email.to_lowercase());
    assert_eq!(users[0]["status"], "suspended");
    let by_mail = a
        .get_after(
            &format!("/admin/users?query={}", &kim.email[..12]),
            &admin,
            &consistency,
        )
        .await;
    assert_eq!(by_mail.body["users"][0]["user_id"], kim.id.to_string());
    ok(
        &a.get("/admin/users?status=gone", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );

    let reinstated = a
        .post(
            &format!("/admin/users/{}/reinstate", lee.id),
            &admin,
            json!({}),
        )
        .await;
    ok(&reinstated, StatusCode::OK);
    a.login(&lee).await;
    let audit = a
        .get_after("/admin/audit", &admin, &reinstated.token())
        .await;
    ok(&audit, StatusCode::OK);
    let actions: Vec<&str> = audit.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reinstate", "suspend", "grant_admin"]);
    assert_eq!(audit.body["actions"][0]["admin_id"], admin.id.to_string());
    assert_eq!(
        audit.body["actions"][1]["reason"],
        "spam in the community board"
    );
}

#[tokio::test]
async fn a_public_profile_shows_name_and_bio_but_never_the_email() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let lee = app.register("Lee").await;
    let changed = app
        .patch("/users/me", &kim, json!({ "bio": "배드민턴 좋아해요" }))
        .await;
    ok(&changed, StatusCode::OK);
    let shown = app
        .get_after(&format!("/users/{}", kim.id), &lee, &changed.token())
        .await;
    ok(&shown, StatusCode::OK);
    assert_eq!(shown.body["display_name"], "Kim");
    assert_eq!(shown.body["bio"], "배드민턴 좋아해요");
    assert!(shown.body.get("email").is_none(), "{:?}", shown.body);
    let nobody = app
        .get(&format!("/users/{}", uuid::Uuid::now_v7()), &lee)
        .await;
    ok(&nobody, StatusCode::NOT_FOUND);
    let anonymous = app
        .request(Method::GET, &format!("/users/{}", kim.id), None, None, None)
        .await;
    ok(&anonymous, StatusCode::UNAUTHORIZED);
    let cleared = app.patch("/users/me", &kim, json!({ "bio": null })).await;
    assert!(cleared.body["bio"].is_null());
    let too_long = app
        .patch("/users/me", &kim, json!({ "bio": "가".repeat(501) }))
        .await;
    ok(&too_long, StatusCode::UNPROCESSABLE_ENTITY);
    let avatar = app
        .patch(
            "/users/me",
            &kim,
            json!({ "avatar_media_id": uuid::Uuid::now_v7() }),
        )
        .await;
    ok(&avatar, StatusCode::UNPROCESSABLE_ENTITY);
}
