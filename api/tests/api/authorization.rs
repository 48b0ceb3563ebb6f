//! The authorisation matrix: every route, asked by every kind of caller, answers as this one
//! table says. The routes are read from the router's OpenAPI document, so a route added without
//! a row here fails the test.
//!
//! Per row, the legitimate caller asks first (the table names who that is: a member, the owner,
//! an admin), then an unrelated user, then callers who must never get past authentication: a
//! suspended user, a token of a session that ended, no token, an expired token, a token signed
//! with another key, and an unsigned (`alg: none`) one.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, ok, spawn_app, TestApp, User};

/// Who asks as the legitimate caller.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// Kim: platform admin, owner of the room, club, posts and games.
    Kim,
    /// Lee: a member of Kim's room and club.
    Lee,
    /// Hana: half of a couple with Jun.
    Hana,
    /// Solo: not in a couple, with open invites.
    Solo,
    /// Single: not in a couple, about to match Solo.
    Single,
    /// Nobody: the route needs no token.
    Public,
}

/// How a route treats callers without a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// A valid access token of a live session, not suspended.
    Token,
    /// None: sign-up, sign-in, refresh, health.
    Open,
}

struct Row {
    method: Method,
    /// The route as written in the router.
    route: &'static str,
    /// The path asked, ids filled in.
    path: String,
    body: Option<Value>,
    /// The outsider's body, when it is not `body`.
    outsider_body: Option<Value>,
    who: Who,
    /// What the legitimate caller gets.
    owner: StatusCode,
    /// What an unrelated user gets.
    outsider: StatusCode,
    gate: Gate,
}

struct World {
    kim: User,
    lee: User,
    hana: User,
    solo: User,
    single: User,
    outsider: User,
    suspended: User,
    revoked: String,
    expired: String,
    other_key: String,
    unsigned: String,
    other_session: Uuid,
    other_refresh: String,
    room: Uuid,
    public_room: Uuid,
    club: Uuid,
    requester: User,
    declined: User,
    game: Uuid,
    open_game: Uuid,
    post: Uuid,
    community_post: Uuid,
    comment: Uuid,
    anniversary: Uuid,
    plan: Uuid,
    withdrawn_code: String,
    matched_code: String,
    notification: Uuid,
    photo: Uuid,
}

fn id(answer: &crate::helpers::Answer, field: &str) -> Uuid {
    answer.body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {:?}", answer.body))
        .parse()
        .unwrap()
}

fn jwt(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn world(app: &TestApp) -> World {
    let kim = app.register("Kim").await;
    app.run_moim(&["admin", "grant", &kim.email]).await;
    let lee = app.register("Lee").await;
    let hana = app.register("Hana").await;
    let jun = app.register("Jun").await;
    let solo = app.register("Solo").await;
    let single = app.register("Single").await;
    let outsider = app.register("Out").await;
    let suspended = app.register("Park").await;
    let requester = app.register("Req").await;
    let declined = app.register("Dec").await;

    let room = id(
        &app.post(
            "/chat/rooms",
            &kim,
            json!({ "name": "team", "kind": "group", "member_ids": [lee.id] }),
        )
        .await,
        "room_id",
    );
    let public_room = id(
        &app.post(
            "/chat/rooms",
            &kim,
            json!({ "name": "open", "kind": "public", "member_ids": [] }),
        )
        .await,
        "room_id",
    );
    let sent = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "body": "안녕" }),
        )
        .await;
    ok(&sent, StatusCode::CREATED);
    let png = crate::helpers::png(8);
    let photo = id(
        &app.upload(&kim, png, "p.png", "image/png").await,
        "media_id",
    );
    ok(
        &app.post(
            &format!("/chat/rooms/{room}/messages"),
            &kim,
            json!({ "client_msg_id": Uuid::now_v7(), "kind": "image", "media_id": photo }),
        )
        .await,
        StatusCode::CREATED,
    );

    let code = app.post("/couples/invites", &hana, json!({})).await.body["code"].clone();
    ok(
        &app.post("/couples/match", &jun, json!({ "code": code }))
            .await,
        StatusCode::CREATED,
    );
    let anniversary = id(
        &app.post(
            "/couples/me/anniversaries",
            &hana,
            json!({ "title": "첫 만남", "date": "2025-05-05" }),
        )
        .await,
        "id",
    );
    let plan = id(
        &app.post(
            "/couples/me/plans",
            &hana,
            json!({ "title": "영화", "starts_at": "2027-01-10T10:00:00Z" }),
        )
        .await,
        "plan_id",
    );
    let withdrawn_code = app.post("/couples/invites", &solo, json!({})).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let matched_code = app.post("/couples/invites", &solo, json!({})).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();

    let club = id(
        &app.post(
            "/clubs",
            &kim,
            json!({ "name": "셔틀콕", "description": "토요일", "join_policy": "approval" }),
        )
        .await,
        "club_id",
    );
    for asker in [&lee, &requester, &declined] {
        app.post(&format!("/clubs/{club}/join"), asker, json!({}))
            .await;
    }
    ok(
        &app.post(
            &format!("/clubs/{club}/requests/{}/approve", lee.id),
            &kim,
            json!({}),
        )
        .await,
        StatusCode::OK,
    );
    let next_week = crate::helpers::next_week();
    let game = id(
        &app.post(
            &format!("/clubs/{club}/games"),
            &kim,
            json!({ "title": "복식", "starts_at": next_week, "max_participants": 4, "courts": 1 }),
        )
        .await,
        "game_id",
    );
    for player in [&kim, &lee] {
        app.post(&format!("/games/{game}/join"), player, json!({}))
            .await;
    }
    let open_game = id(
        &app.post(
            "/games",
            &kim,
            json!({ "title": "번개", "starts_at": next_week, "max_participants": 4 }),
        )
        .await,
        "game_id",
    );
    let board = format!("club-{club}");
    let post = id(
        &app.post(
            &format!("/boards/{board}/posts"),
            &kim,
            json!({ "category": "공지", "title": "규칙", "body": "서로 존중" }),
        )
        .await,
        "post_id",
    );
    let community_post = id(
        &app.post(
            "/boards/community/posts",
            &kim,
            json!({ "category": "잡담", "title": "안녕", "body": "반가워요" }),
        )
        .await,
        "post_id",
    );
    let commented = app
        .post(
            &format!("/posts/{post}/comments"),
            &lee,
            json!({ "body": "좋아요" }),
        )
        .await;
    let comment = id(&commented, "comment_id");
    // Lee's comment reaches Kim's feed.
    let mut notification = None;
    for _ in 0..100 {
        let feed = app.get("/notifications", &kim).await;
        if let Some(first) = feed.body["notifications"]
            .as_array()
            .and_then(|n| n.first())
        {
            notification = first["notification_id"]
                .as_str()
                .map(|s| s.parse().unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let suspend = app
        .post(
            &format!("/admin/users/{}/suspend", suspended.id),
            &kim,
            json!({ "reason": "spam" }),
        )
        .await;
    ok(&suspend, StatusCode::OK);
    let ended = app.login(&kim).await;
    ok(
        &app.post(
            "/auth/logout",
            &ended,
            json!({ "refresh_token": ended.refresh_token }),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    let other = app.login(&kim).await;
    let other_session = loop {
        let listed = app.get("/auth/sessions", &other).await;
        let current = listed.body["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["current"] == true).cloned());
        if let Some(current) = current {
            break current["id"].as_str().unwrap().parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let claims = |exp: i64| {
        json!({ "sub": kim.id, "exp": exp, "iat": 0, "jti": Uuid::now_v7(),
                "typ": "access", "sid": Uuid::now_v7(), "gen": 0 })
    };
    let secret = b"test-secret-test-secret-test-secret!";
    let far = chrono::Utc::now().timestamp() + 3600;
    let unsigned = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(claims(far).to_string());
        format!("{header}.{body}.")
    };
    // The suspension and the logout must be known before their tokens are tried.
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.get("/users/me", &suspended).await.status == StatusCode::FORBIDDEN
                && app.get("/users/me", &ended).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
    World {
        revoked: ended.token,
        expired: jwt(&claims(1_000_000_000), secret),
        other_key: jwt(&claims(far), b"another-secret-another-secret-another"),
        unsigned,
        other_session,
        other_refresh: other.refresh_token,
        kim,
        lee,
        hana,
        solo,
        single,
        outsider,
        suspended,
        room,
        public_room,
        club,
        requester,
        declined,
        game,
        open_game,
        post,
        community_post,
        comment,
        anniversary,
        plan,
        withdrawn_code,
        matched_code,
        notification: notification.expect("a notification for Kim"),
        photo,
    }
}

use StatusCode as S;

#[rustfmt::skip]
/// The table. Rows run in order: what one row's legitimate caller changes, the next rows see.
fn rows(w: &World) -> Vec<Row> {
    let (room, club, game, post) = (w.room, w.club, w.game, w.post);
    let row = |method: Method,
               route: &'static str,
               path: String,
               body: Option<Value>,
               who: Who,
               owner: StatusCode,
               outsider: StatusCode| Row {
        method,
        route,
        path,
        body,
        outsider_body: None,
        who,
        owner,
        outsider,
        gate: if matches!(who, Who::Public) {
            Gate::Open
        } else {
            Gate::Token
        },
    };
    let empty = || Some(json!({}));
    use Method as M;
    use Who::*;
    vec![
        row(M::GET, "/health/live", "/health/live".into(),
            None, Public, S::OK, S::OK),
        row(M::GET, "/metrics", "/metrics".into(),
            None, Public, S::OK, S::OK),
        row(M::GET, "/health/ready", "/health/ready".into(),
            None, Public, S::OK, S::OK),
        row(M::GET, "/health/details", "/health/details".into(),
            None, Kim, S::OK, S::FORBIDDEN),
        row(M::POST, "/auth/register", "/api/v1/auth/register".into(),
            Some(json!({ "email": format!("m-{}@example.com", Uuid::new_v4().simple()), "password": "correct horse", "display_name": "M" })), Public, S::CREATED, S::CONFLICT),
        row(M::POST, "/auth/login", "/api/v1/auth/login".into(),
            Some(json!({ "email": w.lee.email, "password": "correct horse" })), Public, S::OK, S::OK),
        // The outsider replays the spent token: a thief, refused.
        row(M::POST, "/auth/refresh", "/api/v1/auth/refresh".into(),
            Some(json!({ "refresh_token": w.requester.refresh_token })), Public, S::OK, S::UNAUTHORIZED),
        row(M::GET, "/auth/oauth/{provider}/start", "/api/v1/auth/oauth/kakao/start?redirect_uri=https://app.example.com/".into(),
            None, Public, S::NOT_FOUND, S::NOT_FOUND),
        row(M::GET, "/auth/oauth/{provider}/callback", "/api/v1/auth/oauth/kakao/callback?code=c&state=s".into(),
            None, Public, S::BAD_REQUEST, S::BAD_REQUEST),
        row(M::POST, "/auth/oauth/{provider}/token", "/api/v1/auth/oauth/kakao/token".into(),
            Some(json!({ "access_token": "t" })), Public, S::NOT_FOUND, S::NOT_FOUND),
        row(M::GET, "/auth/sessions", "/api/v1/auth/sessions".into(),
            None, Kim, S::OK, S::OK),
        row(M::DELETE, "/auth/sessions/{session_id}", format!("/api/v1/auth/sessions/{}", w.other_session),
            None, Kim, S::NO_CONTENT, S::NOT_FOUND),
        row(M::POST, "/users/me/identities/{provider}", "/api/v1/users/me/identities/kakao".into(),
            Some(json!({ "access_token": "t" })), Kim, S::NOT_FOUND, S::NOT_FOUND),
        row(M::DELETE, "/users/me/identities/{provider}", "/api/v1/users/me/identities/kakao".into(),
            None, Kim, S::NOT_FOUND, S::NOT_FOUND),
        row(M::GET, "/users/me", "/api/v1/users/me".into(),
            None, Kim, S::OK, S::OK),
        row(M::PATCH, "/users/me", "/api/v1/users/me".into(),
            Some(json!({ "bio": "hi" })), Kim, S::OK, S::OK),
        row(M::POST, "/users/me/password", "/api/v1/users/me/password".into(),
            Some(json!({ "current_password": "correct horse", "new_password": "correct horse" })), Kim, S::NO_CONTENT, S::NO_CONTENT),
        row(M::GET, "/users/{user_id}", format!("/api/v1/users/{}", w.kim.id),
            None, Lee, S::OK, S::OK),
        row(M::GET, "/users/{user_id}/game-characters", format!("/api/v1/users/{}/game-characters", w.kim.id),
            None, Lee, S::OK, S::OK),
        // No MapleStory key is configured here: linking is unavailable to everyone alike.
        row(M::PUT, "/users/me/game-characters/{game}", "/api/v1/users/me/game-characters/maplestory".into(),
            Some(json!({ "character_name": "단풍잎" })), Kim, S::SERVICE_UNAVAILABLE, S::SERVICE_UNAVAILABLE),
        row(M::POST, "/users/me/game-characters/{game}/refresh", "/api/v1/users/me/game-characters/maplestory/refresh".into(),
            empty(), Kim, S::SERVICE_UNAVAILABLE, S::SERVICE_UNAVAILABLE),
        row(M::DELETE, "/users/me/game-characters/{game}", "/api/v1/users/me/game-characters/maplestory".into(),
            None, Kim, S::NOT_FOUND, S::NOT_FOUND),
        row(M::GET, "/admin/users", "/api/v1/admin/users".into(),
            None, Kim, S::OK, S::FORBIDDEN),
        row(M::POST, "/admin/users/{user_id}/suspend", format!("/api/v1/admin/users/{}/suspend", w.declined.id),
            Some(json!({ "reason": "spam" })), Kim, S::OK, S::FORBIDDEN),
        row(M::POST, "/admin/users/{user_id}/reinstate", format!("/api/v1/admin/users/{}/reinstate", w.declined.id),
            empty(), Kim, S::OK, S::FORBIDDEN),
        row(M::GET, "/admin/audit", "/api/v1/admin/audit".into(),
            None, Kim, S::OK, S::FORBIDDEN),
        row(M::GET, "/users/me/blocks", "/api/v1/users/me/blocks".into(),
            None, Kim, S::OK, S::OK),
        row(M::POST, "/users/me/blocks/{user_id}", format!("/api/v1/users/me/blocks/{}", w.single.id),
            empty(), Kim, S::OK, S::OK),
        row(M::DELETE, "/users/me/blocks/{user_id}", format!("/api/v1/users/me/blocks/{}", w.single.id),
            None, Kim, S::OK, S::OK),
        row(M::POST, "/chat/rooms", "/api/v1/chat/rooms".into(),
            Some(json!({ "name": "x", "kind": "group", "member_ids": [] })), Kim, S::CREATED, S::CREATED),
        row(M::GET, "/chat/rooms", "/api/v1/chat/rooms".into(),
            None, Kim, S::OK, S::OK),
        row(M::GET, "/chat/rooms/public", "/api/v1/chat/rooms/public".into(),
            None, Kim, S::OK, S::OK),
        row(M::GET, "/chat/rooms/{room_id}", format!("/api/v1/chat/rooms/{room}"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/chat/rooms/{room_id}", format!("/api/v1/chat/rooms/{room}"),
            Some(json!({ "name": "team2" })), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/chat/rooms/{room_id}/members", format!("/api/v1/chat/rooms/{room}/members"),
            Some(json!({ "user_ids": [w.solo.id] })), Kim, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/chat/rooms/{room_id}/members/{user_id}", format!("/api/v1/chat/rooms/{room}/members/{}", w.solo.id),
            Some(json!({ "role": "admin" })), Kim, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/chat/rooms/{room_id}/members/{user_id}", format!("/api/v1/chat/rooms/{room}/members/{}", w.solo.id),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/chat/rooms/{room_id}/join", format!("/api/v1/chat/rooms/{}/join", w.public_room),
            empty(), Lee, S::OK, S::OK),
        row(M::POST, "/chat/rooms/{room_id}/messages", format!("/api/v1/chat/rooms/{room}/messages"),
            Some(json!({ "client_msg_id": Uuid::now_v7(), "body": "hi" })), Lee, S::CREATED, S::NOT_FOUND),
        row(M::GET, "/chat/rooms/{room_id}/messages", format!("/api/v1/chat/rooms/{room}/messages"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::GET, "/chat/rooms/{room_id}/messages/search", format!("/api/v1/chat/rooms/{room}/messages/search?q=안녕"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/chat/rooms/{room_id}/messages/{seq}", format!("/api/v1/chat/rooms/{room}/messages/1"),
            Some(json!({ "body": "안녕하세요" })), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/chat/rooms/{room_id}/read", format!("/api/v1/chat/rooms/{room}/read"),
            Some(json!({ "seq": 1 })), Lee, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/chat/rooms/{room_id}/messages/{seq}", format!("/api/v1/chat/rooms/{room}/messages/1"),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::GET, "/chat/search", "/api/v1/chat/search?q=안녕".into(),
            None, Lee, S::OK, S::OK),
        row(M::POST, "/couples/invites", "/api/v1/couples/invites".into(),
            empty(), Solo, S::CREATED, S::CREATED),
        row(M::GET, "/couples/invites", "/api/v1/couples/invites".into(),
            None, Solo, S::OK, S::OK),
        row(M::DELETE, "/couples/invites/{code}", format!("/api/v1/couples/invites/{}", w.withdrawn_code),
            None, Solo, S::OK, S::NOT_FOUND),
        row(M::POST, "/couples/match", "/api/v1/couples/match".into(),
            Some(json!({ "code": w.matched_code })), Single, S::CREATED, S::CONFLICT),
        row(M::GET, "/couples/me", "/api/v1/couples/me".into(),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/couples/me", "/api/v1/couples/me".into(),
            Some(json!({ "started_on": "2025-05-05" })), Hana, S::OK, S::NOT_FOUND),
        row(M::GET, "/couples/me/anniversaries", "/api/v1/couples/me/anniversaries".into(),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::POST, "/couples/me/anniversaries", "/api/v1/couples/me/anniversaries".into(),
            Some(json!({ "title": "여행", "date": "2025-08-01" })), Hana, S::CREATED, S::NOT_FOUND),
        row(M::PATCH, "/couples/me/anniversaries/{anniversary_id}", format!("/api/v1/couples/me/anniversaries/{}", w.anniversary),
            Some(json!({ "title": "첫 데이트" })), Hana, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/couples/me/anniversaries/{anniversary_id}", format!("/api/v1/couples/me/anniversaries/{}", w.anniversary),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::GET, "/couples/me/calendar", "/api/v1/couples/me/calendar?month=2027-01".into(),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::GET, "/couples/me/plans", "/api/v1/couples/me/plans".into(),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::POST, "/couples/me/plans", "/api/v1/couples/me/plans".into(),
            Some(json!({ "title": "전시", "starts_at": "2027-02-01T10:00:00Z" })), Hana, S::CREATED, S::NOT_FOUND),
        row(M::GET, "/couples/me/plans/{plan_id}", format!("/api/v1/couples/me/plans/{}", w.plan),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/couples/me/plans/{plan_id}", format!("/api/v1/couples/me/plans/{}", w.plan),
            Some(json!({ "title": "영화 2" })), Hana, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/couples/me/plans/{plan_id}", format!("/api/v1/couples/me/plans/{}", w.plan),
            None, Hana, S::OK, S::NOT_FOUND),
        row(M::POST, "/games", "/api/v1/games".into(),
            Some(json!({ "title": "번개", "starts_at": crate::helpers::next_week(), "max_participants": 4 }),), Kim, S::CREATED, S::CREATED),
        row(M::GET, "/games/{game_id}", format!("/api/v1/games/{game}"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::POST, "/games/{game_id}/watch", format!("/api/v1/games/{game}/watch"),
            empty(), Lee, S::OK, S::NOT_FOUND),
        row(M::POST, "/games/{game_id}/join", format!("/api/v1/games/{}/join", w.open_game),
            empty(), Lee, S::OK, S::OK),
        row(M::DELETE, "/games/{game_id}/join", format!("/api/v1/games/{}/join", w.open_game),
            None, Lee, S::OK, S::OK),
        row(M::POST, "/games/{game_id}/start", format!("/api/v1/games/{game}/start"),
            Some(json!({ "courts": [{ "court": 1, "team_a": [w.kim.id], "team_b": [w.lee.id] }] })), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/games/{game_id}/courts/{court}/sets", format!("/api/v1/games/{game}/courts/1/sets"),
            Some(json!({ "set_no": 1, "team_a": 21, "team_b": 19 })), Kim, S::CREATED, S::NOT_FOUND),
        row(M::POST, "/games/{game_id}/complete", format!("/api/v1/games/{game}/complete"),
            Some(json!({ "winner": [{ "court": 1, "winner": "team_a" }], "mvp_user_id": w.kim.id }),), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/games/{game_id}/cancel", format!("/api/v1/games/{}/cancel", w.open_game),
            Some(json!({ "reason": "비" })), Kim, S::OK, S::FORBIDDEN),
        row(M::POST, "/clubs", "/api/v1/clubs".into(),
            Some(json!({ "name": "새 모임", "description": "d", "join_policy": "open" })), Kim, S::CREATED, S::CREATED),
        row(M::GET, "/clubs", "/api/v1/clubs".into(),
            None, Kim, S::OK, S::OK),
        row(M::GET, "/clubs/{club_id}", format!("/api/v1/clubs/{club}"),
            None, Lee, S::OK, S::OK),
        row(M::PATCH, "/clubs/{club_id}", format!("/api/v1/clubs/{club}"),
            Some(json!({ "description": "일요일" })), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/clubs/{club_id}/join", format!("/api/v1/clubs/{club}/join"),
            empty(), Single, S::OK, S::OK),
        row(M::GET, "/clubs/{club_id}/requests", format!("/api/v1/clubs/{club}/requests"),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/clubs/{club_id}/requests/{user_id}/approve", format!("/api/v1/clubs/{club}/requests/{}/approve", w.requester.id),
            empty(), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/clubs/{club_id}/requests/{user_id}/reject", format!("/api/v1/clubs/{club}/requests/{}/reject", w.declined.id),
            empty(), Kim, S::OK, S::NOT_FOUND),
        row(M::GET, "/clubs/{club_id}/members", format!("/api/v1/clubs/{club}/members"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/clubs/{club_id}/members/{user_id}", format!("/api/v1/clubs/{club}/members/{}", w.requester.id),
            Some(json!({ "role": "manager" })), Kim, S::OK, S::NOT_FOUND),
        row(M::GET, "/clubs/{club_id}/members/{user_id}/stats", format!("/api/v1/clubs/{club}/members/{}/stats", w.lee.id),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::POST, "/clubs/{club_id}/games", format!("/api/v1/clubs/{club}/games"),
            Some(json!({ "title": "단식", "starts_at": crate::helpers::next_week(), "max_participants": 2, "courts": 1 }),), Kim, S::CREATED, S::NOT_FOUND),
        row(M::GET, "/clubs/{club_id}/games", format!("/api/v1/clubs/{club}/games"),
            None, Lee, S::OK, S::NOT_FOUND),
        // No Band token is configured here: the owner gets past authorisation to that refusal.
        row(M::POST, "/clubs/{club_id}/band", format!("/api/v1/clubs/{club}/band"),
            Some(json!({ "band_key": "AAA" })), Kim, S::UNPROCESSABLE_ENTITY, S::NOT_FOUND),
        row(M::POST, "/clubs/{club_id}/band/import", format!("/api/v1/clubs/{club}/band/import"),
            empty(), Kim, S::CONFLICT, S::NOT_FOUND),
        row(M::GET, "/clubs/{club_id}/band/import/{job_id}", format!("/api/v1/clubs/{club}/band/import/{}", Uuid::new_v4()),
            None, Kim, S::NOT_FOUND, S::NOT_FOUND),
        row(M::DELETE, "/clubs/{club_id}/members/{user_id}", format!("/api/v1/clubs/{club}/members/{}", w.requester.id),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/boards/{board}/posts", format!("/api/v1/boards/club-{club}/posts"),
            Some(json!({ "category": "잡담", "title": "t", "body": "b" })), Lee, S::CREATED, S::NOT_FOUND),
        row(M::GET, "/boards/{board}/posts", format!("/api/v1/boards/club-{club}/posts"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::GET, "/posts/{post_id}", format!("/api/v1/posts/{post}"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/posts/{post_id}", format!("/api/v1/posts/{post}"),
            Some(json!({ "title": "규칙 2" })), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/posts/{post_id}/pin", format!("/api/v1/posts/{post}/pin"),
            empty(), Kim, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/posts/{post_id}/pin", format!("/api/v1/posts/{post}/pin"),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::PUT, "/posts/{post_id}/like", format!("/api/v1/posts/{post}/like"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/posts/{post_id}/like", format!("/api/v1/posts/{post}/like"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::POST, "/posts/{post_id}/comments", format!("/api/v1/posts/{post}/comments"),
            Some(json!({ "body": "네" })), Lee, S::CREATED, S::NOT_FOUND),
        row(M::GET, "/posts/{post_id}/comments", format!("/api/v1/posts/{post}/comments"),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::PATCH, "/comments/{comment_id}", format!("/api/v1/comments/{}", w.comment),
            Some(json!({ "body": "좋아요!" })), Lee, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/comments/{comment_id}", format!("/api/v1/comments/{}", w.comment),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::DELETE, "/posts/{post_id}", format!("/api/v1/posts/{}", w.community_post),
            None, Kim, S::OK, S::NOT_FOUND),
        row(M::GET, "/notifications", "/api/v1/notifications".into(),
            None, Kim, S::OK, S::OK),
        row(M::GET, "/notifications/unread-count", "/api/v1/notifications/unread-count".into(),
            None, Kim, S::OK, S::OK),
        row(M::POST, "/notifications/{notification_id}/read", format!("/api/v1/notifications/{}/read", w.notification),
            empty(), Kim, S::OK, S::NOT_FOUND),
        row(M::POST, "/notifications/read-all", "/api/v1/notifications/read-all".into(),
            empty(), Kim, S::OK, S::OK),
        // A form is what an upload is: a JSON body is refused as such, after the token.
        row(M::POST, "/media", "/api/v1/media".into(),
            empty(), Kim, S::BAD_REQUEST, S::BAD_REQUEST),
        row(M::GET, "/media/{media_id}", format!("/api/v1/media/{}", w.photo),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::GET, "/media/{media_id}/thumbnail", format!("/api/v1/media/{}/thumbnail", w.photo),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::GET, "/media/{media_id}/urls", format!("/api/v1/media/{}/urls", w.photo),
            None, Lee, S::OK, S::NOT_FOUND),
        row(M::GET, "/ws", "/api/v1/ws".into(),
            None, Kim, S::BAD_REQUEST, S::BAD_REQUEST),
        row(M::DELETE, "/couples/me", "/api/v1/couples/me".into(),
            None, Hana, S::OK, S::NOT_FOUND),
        // Anyone may delete their own account; the outsider's try, with a wrong password, fails.
        Row { outsider_body: Some(json!({ "password": "wrong password" })),
            ..row(M::DELETE, "/users/me", "/api/v1/users/me".into(),
                Some(json!({ "password": "correct horse" })), Single, S::NO_CONTENT, S::FORBIDDEN) },
        row(M::POST, "/auth/logout", "/api/v1/auth/logout".into(),
            Some(json!({ "refresh_token": w.other_refresh })), Kim, S::NO_CONTENT, S::NOT_FOUND),
        row(M::POST, "/auth/logout-all", "/api/v1/auth/logout-all".into(),
            empty(), Lee, S::NO_CONTENT, S::NO_CONTENT),
    ]
}

/// Every (method, route template) of the router, read from its OpenAPI document (which the
/// router is built from: see `openapi.rs`), with the `/api/v1` prefix that the table leaves off.
async fn routes_in_router(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc = app.json_at("/api/v1/openapi.json").await;
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let route = path.strip_prefix("/api/v1").unwrap_or(path);
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), route.to_owned()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_table_says() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let rows = rows(&w);

    let table: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_owned()))
        .collect();
    let router = routes_in_router(&app).await;
    let missing: Vec<_> = router.difference(&table).collect();
    let stale: Vec<_> = table.difference(&router).collect();
    assert!(missing.is_empty(), "routes without a row: {missing:?}");
    assert!(stale.is_empty(), "rows for no route: {stale:?}");

    let mut wrong = Vec::new();
    for row in &rows {
        let legit = match row.who {
            Who::Kim => Some(w.kim.token.as_str()),
            Who::Lee => Some(w.lee.token.as_str()),
            Who::Hana => Some(w.hana.token.as_str()),
            Who::Solo => Some(w.solo.token.as_str()),
            Who::Single => Some(w.single.token.as_str()),
            Who::Public => None,
        };
        let mut callers: Vec<(&str, Option<&str>, StatusCode)> = vec![
            ("owner", legit, row.owner),
            ("outsider", Some(w.outsider.token.as_str()), row.outsider),
        ];
        if row.gate == Gate::Token {
            callers.extend([
                ("suspended", Some(w.suspended.token.as_str()), S::FORBIDDEN),
                ("revoked session", Some(w.revoked.as_str()), S::UNAUTHORIZED),
                ("no token", None, S::UNAUTHORIZED),
                ("expired token", Some(w.expired.as_str()), S::UNAUTHORIZED),
                ("another key", Some(w.other_key.as_str()), S::UNAUTHORIZED),
                ("alg none", Some(w.unsigned.as_str()), S::UNAUTHORIZED),
            ]);
        }
        for (caller, token, expected) in callers {
            let mut request = app
                .http
                .request(row.method.clone(), format!("{}{}", app.address, row.path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let body = match caller {
                "outsider" => row.outsider_body.as_ref().or(row.body.as_ref()),
                _ => row.body.as_ref(),
            };
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status();
            if status != expected {
                let body = answer.text().await.unwrap_or_default();
                wrong.push(format!(
                    "{} {} as {caller}: {status}, expected {expected}: {body}",
                    row.method, row.route
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
