//! Social login against a fake provider: a small HTTP server speaking Kakao's and Naver's real
//! token and user-info shapes (PKCE checked as a provider would), standing in for the real ones
//! this machine cannot reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use moim_api::config::OAuthProvider;
use moim_api::startup::Roles;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Digest;

use crate::helpers::{ok, signed_in, spawn_app_custom, Answer, TestApp};

const REDIRECT: &str = "https://app.example.com/oauth/done";

/// A user the fake provider knows, and what it has handed out for them.
#[derive(Clone)]
pub(crate) struct Person {
    subject: String,
    nickname: String,
}

#[derive(Default)]
struct Fake {
    /// code → (PKCE challenge, person)
    codes: Mutex<HashMap<String, (String, Person)>>,
    /// access token → person
    tokens: Mutex<HashMap<String, Person>>,
}

pub(crate) struct Provider {
    base: String,
    fake: Arc<Fake>,
}

impl Provider {
    pub(crate) async fn start() -> Self {
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/kakao/oauth/token", post(kakao_token))
            .route("/kakao/v2/user/me", get(kakao_me))
            .route("/naver/oauth2.0/token", post(naver_token))
            .route("/naver/v1/nid/me", get(naver_me))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, fake }
    }

    pub(crate) fn config(&self, name: &str, token_path: &str, me_path: &str) -> OAuthProvider {
        OAuthProvider {
            name: name.into(),
            client_id: format!("{name}-client"),
            client_secret: "shh".to_owned().into(),
            authorize_url: format!("{}/{name}/authorize", self.base),
            token_url: format!("{}/{name}{token_path}", self.base),
            userinfo_url: format!("{}/{name}{me_path}", self.base),
            scopes: vec!["profile".into()],
        }
    }

    /// The user consents on the provider's page: the provider will accept `code` for them.
    fn consent(&self, code: &str, challenge: &str, person: &Person) {
        let mut codes = self.fake.codes.lock().unwrap();
        codes.insert(code.into(), (challenge.into(), person.clone()));
    }

    /// The provider's SDK signed `person` in on a phone: their access token.
    pub(crate) fn sdk_token(&self, person: &Person) -> String {
        let token = format!("sdk-{}", uuid::Uuid::new_v4().simple());
        let mut tokens = self.fake.tokens.lock().unwrap();
        tokens.insert(token.clone(), person.clone());
        token
    }
}

/// The token endpoint's check: a known code, and the verifier of its challenge.
fn redeem(fake: &Fake, form: &HashMap<String, String>) -> Option<(String, Person)> {
    let (challenge, person) = fake.codes.lock().unwrap().remove(form.get("code")?)?;
    let verifier = form.get("code_verifier")?;
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    if computed != challenge || form.get("grant_type")? != "authorization_code" {
        return None;
    }
    let token = format!("web-{}", uuid::Uuid::new_v4().simple());
    fake.tokens
        .lock()
        .unwrap()
        .insert(token.clone(), person.clone());
    Some((token, person))
}

fn bearer_person(fake: &Fake, headers: &HeaderMap) -> Option<Person> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    fake.tokens.lock().unwrap().get(token).cloned()
}

async fn kakao_token(
    State(fake): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match redeem(&fake, &form) {
        Some((token, _)) => axum::Json(json!({
            "token_type": "bearer", "access_token": token, "expires_in": 21599,
            "refresh_token": "r", "refresh_token_expires_in": 5_183_999, "scope": "profile_nickname"
        }))
        .into_response(),
        None => (
            AxumStatus::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant", "error_description": "authorization code not found",
                "error_code": "KOE320"
            })),
        )
            .into_response(),
    }
}

async fn kakao_me(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    match bearer_person(&fake, &headers) {
        Some(person) => axum::Json(json!({
            "id": person.subject.parse::<i64>().unwrap(),
            "connected_at": "2026-12-01T00:00:00Z",
            "properties": { "nickname": person.nickname },
            "kakao_account": {
                "profile_nickname_needs_agreement": false,
                "profile": { "nickname": person.nickname, "is_default_nickname": false }
            }
        }))
        .into_response(),
        None => (
            AxumStatus::UNAUTHORIZED,
            axum::Json(json!({ "msg": "this access token does not exist", "code": -401 })),
        )
            .into_response(),
    }
}

async fn naver_token(
    State(fake): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match redeem(&fake, &form) {
        // Naver's own shape: `expires_in` is a string.
        Some((token, _)) => axum::Json(json!({
            "access_token": token, "refresh_token": "r", "token_type": "bearer", "expires_in": "3600"
        }))
        .into_response(),
        None => axum::Json(json!({
            "error": "invalid_request", "error_description": "no valid data in session"
        }))
        .into_response(),
    }
}

async fn naver_me(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    match bearer_person(&fake, &headers) {
        Some(person) => axum::Json(json!({
            "resultcode": "00", "message": "success",
            "response": { "id": person.subject, "nickname": person.nickname, "name": person.nickname }
        }))
        .into_response(),
        None => (
            AxumStatus::UNAUTHORIZED,
            axum::Json(json!({ "resultcode": "024", "message": "Authentication failed" })),
        )
            .into_response(),
    }
}

async fn with_providers() -> (TestApp, Provider) {
    let provider = Provider::start().await;
    let kakao = provider.config("kakao", "/oauth/token", "/v2/user/me");
    let naver = provider.config("naver", "/oauth2.0/token", "/v1/nid/me");
    let app = spawn_app_custom(Roles::ALL, move |s| {
        s.oauth = vec![kakao, naver];
        s.oauth_redirect_uris = vec![REDIRECT.into()];
    })
    .await;
    (app, provider)
}

/// `start`'s redirect: the provider's page, with what it was asked.
async fn start(app: &TestApp, provider: &str) -> HashMap<String, String> {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!(
            "{}/api/v1/auth/oauth/{provider}/start?redirect_uri={REDIRECT}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.path().ends_with(&format!("/{provider}/authorize")));
    location.query_pairs().into_owned().collect()
}

async fn callback(app: &TestApp, provider: &str, code: &str, state: &str) -> Answer {
    app.request(
        Method::GET,
        &format!("/auth/oauth/{provider}/callback?code={code}&state={state}"),
        None,
        None,
        None,
    )
    .await
}

/// The mobile flow: the provider's SDK's token handed to Moim.
async fn mobile(app: &TestApp, provider: &str, access_token: &str) -> Answer {
    app.request(
        Method::POST,
        &format!("/auth/oauth/{provider}/token"),
        None,
        Some(json!({ "access_token": access_token })),
        None,
    )
    .await
}

pub(crate) fn person(subject: &str, nickname: &str) -> Person {
    Person {
        subject: subject.into(),
        nickname: nickname.into(),
    }
}

#[tokio::test]
async fn the_web_flow_signs_a_new_user_up_and_a_returning_one_in() {
    let (app, provider) = with_providers().await;
    let seoyeon = person("1234567890", "서연");

    let asked = start(&app, "kakao").await;
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], "kakao-client");
    assert_eq!(asked["redirect_uri"], REDIRECT);
    assert_eq!(asked["code_challenge_method"], "S256");
    provider.consent("code-1", &asked["code_challenge"], &seoyeon);
    let first = callback(&app, "kakao", "code-1", &asked["state"]).await;
    ok(&first, StatusCode::CREATED);
    let user = signed_in(&first);
    let me = app
        .request(
            Method::GET,
            "/users/me",
            Some(&user.token),
            None,
            Some(&first.token()),
        )
        .await;
    ok(&me, StatusCode::OK);
    assert_eq!(me.body["display_name"], "서연");

    // A state works once, and only with its provider.
    let replayed = callback(&app, "kakao", "code-1", &asked["state"]).await;
    ok(&replayed, StatusCode::BAD_REQUEST);
    assert_eq!(replayed.body["code"], "bad_state");
    let asked = start(&app, "kakao").await;
    let wrong_provider = callback(&app, "naver", "x", &asked["state"]).await;
    ok(&wrong_provider, StatusCode::BAD_REQUEST);
    let made_up = callback(&app, "kakao", "x", "not-a-state").await;
    assert_eq!(made_up.body["code"], "bad_state");

    // The same person again: the same account.
    let asked = start(&app, "kakao").await;
    provider.consent("code-2", &asked["code_challenge"], &seoyeon);
    let again = callback(&app, "kakao", "code-2", &asked["state"]).await;
    ok(&again, StatusCode::OK);
    assert_eq!(again.body["user_id"], first.body["user_id"]);

    // A code the provider does not accept (here: a PKCE verifier that does not match).
    let asked = start(&app, "kakao").await;
    provider.consent("code-3", "not-the-challenge", &seoyeon);
    let refused = callback(&app, "kakao", "code-3", &asked["state"]).await;
    ok(&refused, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["code"], "bad_code");

    // Only allowed redirects, only configured providers.
    let evil = app
        .request(
            Method::GET,
            "/auth/oauth/kakao/start?redirect_uri=https://evil.example.com/",
            None,
            None,
            None,
        )
        .await;
    ok(&evil, StatusCode::BAD_REQUEST);
    assert_eq!(evil.body["code"], "bad_redirect_uri");
    let unknown = app
        .request(
            Method::GET,
            &format!("/auth/oauth/myspace/start?redirect_uri={REDIRECT}"),
            None,
            None,
            None,
        )
        .await;
    ok(&unknown, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn naver_s_web_flow_and_the_mobile_flow_with_its_own_shapes() {
    let (app, provider) = with_providers().await;
    let minjun = person("naver-abc", "민준");
    let asked = start(&app, "naver").await;
    provider.consent("n-1", &asked["code_challenge"], &minjun);
    let web = callback(&app, "naver", "n-1", &asked["state"]).await;
    ok(&web, StatusCode::CREATED);

    // The phone's SDK signed the same person in: the same account.
    let token = provider.sdk_token(&minjun);
    let phone = mobile(&app, "naver", &token).await;
    ok(&phone, StatusCode::OK);
    assert_eq!(phone.body["user_id"], web.body["user_id"]);
    let bogus = mobile(&app, "kakao", "made-up").await;
    ok(&bogus, StatusCode::UNAUTHORIZED);
    assert_eq!(bogus.body["code"], "bad_provider_token");
}

#[tokio::test]
async fn a_user_links_and_unlinks_providers_but_keeps_a_way_in() {
    let (app, provider) = with_providers().await;
    let kim = app.register("Kim").await;
    let naver_kim = person("naver-kim", "킴");
    let linked = app
        .post(
            "/users/me/identities/naver",
            &kim,
            json!({ "access_token": provider.sdk_token(&naver_kim) }),
        )
        .await;
    ok(&linked, StatusCode::OK);
    let through_naver = mobile(&app, "naver", &provider.sdk_token(&naver_kim)).await;
    ok(&through_naver, StatusCode::OK);
    assert_eq!(through_naver.body["user_id"], kim.id.to_string());

    // Linking by the web flow, and a login that is someone else's.
    let lee = person("99", "Lee");
    let lee_in = mobile(&app, "kakao", &provider.sdk_token(&lee)).await;
    ok(&lee_in, StatusCode::CREATED);
    let asked = start(&app, "kakao").await;
    provider.consent("k-1", &asked["code_challenge"], &lee);
    let taken = app
        .post(
            "/users/me/identities/kakao",
            &kim,
            json!({ "code": "k-1", "state": asked["state"] }),
        )
        .await;
    ok(&taken, StatusCode::CONFLICT);
    assert_eq!(taken.body["code"], "identity_taken");

    // Lee signed up through Kakao alone: it is her last way in.
    let lee_user = signed_in(&lee_in);
    let last = app.delete("/users/me/identities/kakao", &lee_user).await;
    ok(&last, StatusCode::CONFLICT);
    assert_eq!(last.body["code"], "last_sign_in_method");
    // Kim has a password: Naver may go, and then signs someone new up.
    ok(
        &app.delete("/users/me/identities/naver", &kim).await,
        StatusCode::NO_CONTENT,
    );
    ok(
        &app.delete("/users/me/identities/naver", &kim).await,
        StatusCode::NOT_FOUND,
    );
    let stranger = mobile(&app, "naver", &provider.sdk_token(&naver_kim)).await;
    ok(&stranger, StatusCode::CREATED);
    assert_ne!(stranger.body["user_id"], kim.id.to_string());
}
