//! Registration, login, refresh and who-am-I.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn register_login_refresh_and_me() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;

    let me = app
        .request(Method::GET, "/users/me", Some(&kim.token), None, None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], kim.email.to_lowercase());

    let login = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": kim.email.to_uppercase(), "password": "correct horse" })),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["user_id"], kim.id.to_string());
    assert!(login.body["expires_in"].as_u64().unwrap() > 0);

    let refreshed = app
        .request(
            Method::POST,
            "/auth/refresh",
            None,
            Some(json!({ "refresh_token": kim.refresh_token })),
            None,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let new_access = refreshed.body["access_token"].as_str().unwrap();
    let me = app
        .request(Method::GET, "/users/me", Some(new_access), None, None)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // A refresh token works once; used again, it ends its session.
    let again = app
        .request(
            Method::POST,
            "/auth/refresh",
            None,
            Some(json!({ "refresh_token": kim.refresh_token })),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.body["code"], "refresh_token_reused");
}

#[tokio::test]
async fn me_reflects_registration_with_the_consistency_token() {
    let app = spawn_app().await;
    let register = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "lee@example.com", "password": "correct horse", "display_name": "Lee" })),
            None,
        )
        .await;
    let token = register.body["access_token"].as_str().unwrap();
    let consistency = register.token();
    let me = app
        .request(
            Method::GET,
            "/users/me",
            Some(token),
            None,
            Some(&consistency),
        )
        .await;
    assert_eq!(me.body["display_name"], "Lee");
}

#[tokio::test]
async fn wrong_passwords_duplicate_emails_and_bad_tokens_are_refused() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let wrong = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": kim.email, "password": "nope nope" })),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let unknown = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "nobody@example.com", "password": "nope nope" })),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.body["code"], wrong.body["code"],
        "no hint which part was wrong"
    );

    let duplicate = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": kim.email, "password": "another one", "display_name": "Kim2" })),
            None,
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.body["code"], "email_taken");

    for token in [
        "",
        "garbage",
        &format!("{}x", kim.token),
        &kim.refresh_token,
    ] {
        let answer = app
            .request(Method::GET, "/users/me", Some(token), None, None)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "token {token:?}");
        assert_eq!(answer.content_type, "application/problem+json");
    }
    let none = app
        .request(Method::GET, "/users/me", None, None, None)
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // Signed with another secret.
    let forged = access_token(
        kim.id,
        4_000_000_000,
        b"not-the-server-secret-not-the-server",
    );
    let answer = app
        .request(Method::GET, "/users/me", Some(&forged), None, None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    // Signed with the right secret but expired.
    let expired = access_token(
        kim.id,
        1_000_000_000,
        b"test-secret-test-secret-test-secret!",
    );
    let answer = app
        .request(Method::GET, "/users/me", Some(&expired), None, None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["code"], "token_expired");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_and_never_published() {
    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    let (hash,): (String,) =
        sqlx::query_as("SELECT password_hash FROM credentials WHERE user_id = $1")
            .bind(kim.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let (leaks,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE payload::text LIKE '%argon2%' OR payload::text LIKE '%correct horse%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(leaks, 0);
}

/// An access token for `user` expiring at `exp`, signed with `secret`.
fn access_token(user: uuid::Uuid, exp: u64, secret: &[u8]) -> String {
    let claims = json!({
        "sub": user, "exp": exp, "iat": 0, "jti": user, "typ": "access", "sid": user, "gen": 0
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn the_bearer_scheme_is_read_the_same_on_http_and_the_websocket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app().await;
    let kim = app.register("Kim").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let header = format!("{scheme} {}", kim.token);
        let me = app
            .http
            .get(format!("{}/api/v1/users/me", app.address))
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK, "HTTP with {scheme}");

        let url = format!("{}/api/v1/ws", app.address.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", header.parse().unwrap());
        let connected = tokio_tungstenite::connect_async(request).await;
        assert!(connected.is_ok(), "WebSocket with {scheme}");
    }
}
