//! `spawn_app()` and a client that speaks Moim's API.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use moim_api::config::Settings;
use moim_api::startup::{Application, Roles};
use moim_nats::Subjects;
use projections::Registry;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The admin connection used to create per-test databases.
pub fn admin_url() -> String {
    std::env::var("MOIM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// NATS for tests.
pub fn nats_url() -> String {
    std::env::var("MOIM_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{admin}/{name}"),
    }
}

/// A fresh, empty database and a unique subject prefix, cleaned up on drop.
pub struct Sandbox {
    pub db_name: String,
    pub prefix: String,
    pub database_url: String,
}

impl Sandbox {
    pub async fn new() -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            moim_api::telemetry::init("info,sqlx=warn");
        }
        let id = Uuid::new_v4().simple().to_string();
        let db_name = format!("moim_t_{id}");
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {db_name}"))
            .execute(&mut admin)
            .await
            .expect("create db");
        Self {
            prefix: format!("t{}", &id[..12]),
            database_url: database_url(&db_name),
            db_name,
        }
    }

    pub fn subjects(&self) -> Subjects {
        Subjects::new(&self.prefix)
    }

    pub fn settings(&self) -> Settings {
        Settings {
            database_url: self.database_url.clone().into(),
            nats_url: nats_url(),
            jwt_secret: "test-secret-test-secret-test-secret!".to_owned().into(),
            bind: "127.0.0.1:0".parse().expect("address"),
            ops_bind: None,
            subject_prefix: self.prefix.clone(),
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(3600),
            consistency_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            db_max_connections: 30,
            db_acquire_timeout: Duration::from_secs(30),
            limits: moim_api::config::Limits::default(),
            rates: commands::RateLimits::one_trusted_client(),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            oauth: Vec::new(),
            oauth_redirect_uris: Vec::new(),
            media: moim_api::config::MediaSettings::default(),
            connectors: moim_api::config::ConnectorSettings::default(),
        }
    }

    /// Environment for a `moim` child process in this sandbox.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("NATS_URL", nats_url()),
            (
                "MOIM_JWT_SECRET",
                "test-secret-test-secret-test-secret!".into(),
            ),
            ("MOIM_SUBJECT_PREFIX", self.prefix.clone()),
            ("MOIM_BIND", "127.0.0.1:0".into()),
            ("MOIM_RATE_REGISTER_PER_HOUR", "1000000".into()),
            ("MOIM_RATE_COMMANDS_PER_MINUTE", "1000000".into()),
        ]
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let subjects = self.subjects();
        let db_name = self.db_name.clone();
        let streams = [
            subjects.stream_name(),
            format!("KV_{}", subjects.presence_bucket()),
            format!("KV_{}", subjects.last_seen_bucket()),
            format!("OBJ_{}", subjects.media_bucket()),
        ];
        // Async clean-up cannot run in Drop; a short-lived runtime on its own thread can.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = async_nats::connect(nats_url()).await {
                    let js = async_nats::jetstream::new(client);
                    for stream in &streams {
                        let _ = js.delete_stream(stream).await;
                    }
                }
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running Moim (all roles in-process) and an HTTP client for it.
pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    stop: CancellationToken,
    /// Dropped with the last app using it: removes its database and stream.
    sandbox: Arc<Sandbox>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Roles::ALL).await
}

pub async fn spawn_app_with(roles: Roles) -> TestApp {
    spawn_app_custom(roles, |_| {}).await
}

/// An app whose settings `tweak` adjusts.
pub async fn spawn_app_custom(roles: Roles, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start(Arc::new(Sandbox::new().await), roles, tweak).await
}

/// An app that runs the read models of `registry`, after `setup` (SQL, e.g. a test view's
/// table) has run on its freshly migrated database.
pub async fn spawn_app_with_registry(registry: Registry, setup: &str) -> TestApp {
    let sandbox = Arc::new(Sandbox::new().await);
    let app = Application::build(sandbox.settings(), Roles::ALL)
        .await
        .expect("build app");
    sqlx::raw_sql(setup)
        .execute(app.pool())
        .await
        .expect("setup SQL");
    run(sandbox, app.with_registry(registry))
}

async fn start(sandbox: Arc<Sandbox>, roles: Roles, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = sandbox.settings();
    tweak(&mut settings);
    let app = Application::build(settings, roles)
        .await
        .expect("build app");
    run(sandbox, app)
}

/// An app on an existing sandbox (a database restored into it, say), its settings adjusted by
/// `tweak`.
pub async fn spawn_app_in(sandbox: Arc<Sandbox>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start(sandbox, Roles::ALL, tweak).await
}

fn run(sandbox: Arc<Sandbox>, app: Application) -> TestApp {
    let address = format!("http://{}", app.address().expect("api role listens"));
    let pool = app.pool().clone();
    let stop = CancellationToken::new();
    let running = app.run_until_stopped(stop.clone());
    tokio::spawn(async move {
        // A start that fails part-way drops the listener, and the test sees only a reset
        // connection: say why.
        if let Err(error) = running.await {
            eprintln!("the app under test stopped: {error:#}");
        }
    });
    TestApp {
        address,
        pool,
        http: reqwest::Client::new(),
        stop,
        sandbox,
    }
}

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
    pub refresh_token: String,
    pub email: String,
}

/// The user a sign-in answer (`{user_id, access_token, refresh_token}`) is for, without e-mail.
pub fn signed_in(answer: &Answer) -> User {
    let text = |field: &str| {
        answer.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {:?}", answer.body))
            .to_owned()
    };
    User {
        id: text("user_id").parse().expect("uuid"),
        token: text("access_token"),
        refresh_token: text("refresh_token"),
        email: String::new(),
    }
}

/// An answer: status, body, and the consistency token header.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        content_type,
    }
}

/// A small black PNG, `side` pixels square: an upload for tests about where photos go.
pub fn png(side: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::DynamicImage::new_rgb8(side, side)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("a PNG");
    bytes
}

/// Asserts an answer's status, showing its body when it is another.
#[track_caller]
pub fn ok(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
}

impl Answer {
    pub fn token(&self) -> String {
        self.body["consistency_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApp {
    /// This deployment's NATS names.
    pub fn subjects(&self) -> Subjects {
        self.sandbox.subjects()
    }

    /// Environment for a `moim` child process of this deployment.
    pub fn sandbox_env(&self) -> Vec<(&'static str, String)> {
        self.sandbox.env()
    }

    /// Runs `moim <args>` (e.g. `replay --all`) as an operator would, against this deployment;
    /// fails the test if it fails.
    pub async fn run_moim(&self, args: &[&str]) {
        let done = tokio::process::Command::new(env!("CARGO_BIN_EXE_moim"))
            .args(args)
            .envs(self.sandbox_env())
            .output()
            .await
            .expect("run moim");
        assert!(
            done.status.success(),
            "moim {args:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    /// Its deployment's database and subjects, which outlive it while held.
    pub fn sandbox(&self) -> Arc<Sandbox> {
        self.sandbox.clone()
    }

    /// Another process of the same deployment (same database, NATS subjects and secret).
    pub async fn instance(&self, roles: Roles) -> TestApp {
        start(self.sandbox.clone(), roles, |_| {}).await
    }

    /// Another process of the same deployment, its settings adjusted by `tweak`.
    pub async fn instance_with(&self, roles: Roles, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        start(self.sandbox.clone(), roles, tweak).await
    }

    /// The JSON at `path` (from the root, not under `/api/v1`), asserting a 200.
    pub async fn json_at(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.expect("JSON")
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        consistency: Option<&str>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(consistency) = consistency {
            request = request.header("X-Moim-Consistency", consistency);
        }
        answer(request.send().await.expect("request")).await
    }

    /// `POST /media` with `bytes` as the form's file, named and typed as a client would.
    pub async fn upload(
        &self,
        user: &User,
        bytes: Vec<u8>,
        file_name: &str,
        content_type: &str,
    ) -> Answer {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(content_type)
            .expect("a content type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = self
            .http
            .post(format!("{}/api/v1/media", self.address))
            .bearer_auth(&user.token)
            .multipart(form);
        answer(request.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, user: &User, body: Value) -> Answer {
        self.request(Method::POST, path, Some(&user.token), Some(body), None)
            .await
    }

    pub async fn patch(&self, path: &str, user: &User, body: Value) -> Answer {
        self.request(Method::PATCH, path, Some(&user.token), Some(body), None)
            .await
    }

    pub async fn delete(&self, path: &str, user: &User) -> Answer {
        self.request(Method::DELETE, path, Some(&user.token), None, None)
            .await
    }

    pub async fn get(&self, path: &str, user: &User) -> Answer {
        self.request(Method::GET, path, Some(&user.token), None, None)
            .await
    }

    /// GET that waits for the read model to reflect `consistency`.
    pub async fn get_after(&self, path: &str, user: &User, consistency: &str) -> Answer {
        self.request(
            Method::GET,
            path,
            Some(&user.token),
            None,
            Some(consistency),
        )
        .await
    }

    /// `POST /auth/login` with an e-mail and password, as it answers.
    pub async fn try_login(&self, email: &str, password: &str) -> Answer {
        self.request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": email, "password": password })),
            None,
        )
        .await
    }

    /// Signs `user` in again: a new session, with its own tokens.
    pub async fn login(&self, user: &User) -> User {
        let answer = self.try_login(&user.email, "correct horse").await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        User {
            email: user.email.clone(),
            ..signed_in(&answer)
        }
    }

    pub async fn register(&self, name: &str) -> User {
        let email = format!("{name}-{}@example.com", Uuid::new_v4().simple());
        let answer = self
            .request(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({ "email": email, "password": "correct horse", "display_name": name })),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        User {
            email,
            ..signed_in(&answer)
        }
    }

    /// What `/metrics` exports now (the process's recorder, which every app in it shares).
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn create_room(&self, owner: &User, members: &[&User]) -> Uuid {
        let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
        let kind = if ids.len() == 1 { "direct" } else { "group" };
        let answer = self
            .post(
                "/chat/rooms",
                owner,
                json!({ "name": "room", "kind": kind, "member_ids": ids }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        answer.body["room_id"]
            .as_str()
            .expect("room_id")
            .parse()
            .expect("uuid")
    }

    pub async fn ws(&self, user: &User) -> Ws {
        Ws::connect(&self.address, &user.token).await
    }
}

/// The upgrade request for `GET /api/v1/ws` at `base` (`http://…`) with a bearer token.
pub fn ws_request(
    base: &str,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!("{}/api/v1/ws", base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("ws request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

/// Sends a chat message over HTTP and expects it stored.
pub async fn say(app: &TestApp, room: Uuid, user: &User, body: &str) -> Answer {
    let answer = app
        .post(
            &format!("/chat/rooms/{room}/messages"),
            user,
            json!({ "client_msg_id": Uuid::now_v7(), "body": body }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer
}

/// A WebSocket client.
pub struct Ws {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Opens a socket to the API at `base` (`http://…`) and waits for `ready`.
    pub async fn connect(base: &str, token: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(ws_request(base, token))
            .await
            .expect("ws connect");
        let mut ws = Ws { socket };
        let ready = ws
            .next_frame(Duration::from_secs(10))
            .await
            .expect("ready frame");
        assert_eq!(ready["type"], "ready");
        ws
    }

    /// The next JSON text frame, or None after `within`.
    pub async fn next_frame(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
                .ok()?;
            match message {
                // Every frame must be one the shared frame type knows.
                Message::Text(text) => {
                    let frame: projections::frames::OutFrame = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("unknown frame {text}: {e}"));
                    return serde_json::to_value(frame).ok();
                }
                Message::Ping(p) => {
                    let _ = self.socket.send(Message::Pong(p)).await;
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Sends a client frame.
    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Sends a client frame `{type, id, data}` and waits for the frame answering it, skipping
    /// others.
    pub async fn ask(&mut self, kind: &str, id: &str, data: Value) -> Value {
        self.send(json!({ "type": kind, "id": id, "data": data }))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_frame(left).await.expect("an answer");
            if frame["id"] == id {
                return frame;
            }
        }
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_frame(left).await?;
            if frame["type"] == kind {
                return Some(frame);
            }
        }
    }
}

/// Polls `check` until it is true, for up to `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `view`'s checkpoint until it reaches `token` (what the API's consistency wait is
/// woken for); false after `within`.
pub async fn view_reached(
    pool: &PgPool,
    view: projections::View,
    token: domain::Position,
    within: Duration,
) -> bool {
    eventually(within, || async {
        let mut conn = pool.acquire().await.expect("connection");
        projections::checkpoint::load(&mut conn, view.name())
            .await
            .is_ok_and(|at| at.position >= token)
    })
    .await
}

/// A start time a week from now, always in the range games accept.
pub fn next_week() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339()
}

/// Runs `moim <args>` with `env` and answers how it went, success or not.
pub async fn moim_output(env: Vec<(&'static str, String)>, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_moim"))
        .args(args)
        .envs(env)
        .output()
        .await
        .expect("run moim")
}

/// Starts `moim serve --role <role>` as a child process of a deployment, killed when dropped.
pub fn spawn_moim(env: Vec<(&'static str, String)>, role: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_moim"))
        .args(["serve", "--role", role])
        .envs(env)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn moim")
}

/// A `moim serve` child process on a free port, logging JSON into `lines`: for tests
/// that read its logs or measure its memory apart from the test process.
pub struct MoimChild {
    child: tokio::process::Child,
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
    pub address: String,
}

impl MoimChild {
    pub async fn start(env: Vec<(&'static str, String)>, extra: &[(&str, &str)]) -> Self {
        Self::start_as("all", env, extra).await
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.child.start_kill().expect("kill moim");
    }

    /// One role of Moim (`all`, `api`, …); one without the API listens on `MOIM_OPS_BIND`, and
    /// `address` is that.
    pub async fn start_as(
        role: &str,
        env: Vec<(&'static str, String)>,
        extra: &[(&str, &str)],
    ) -> Self {
        use tokio::io::AsyncBufReadExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = if matches!(role, "all" | "api") {
            "MOIM_BIND"
        } else {
            "MOIM_OPS_BIND"
        };
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_moim"))
            .args(["serve", "--role", role])
            .envs(env)
            .env(bind, format!("127.0.0.1:{port}"))
            .env("MOIM_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let address = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        assert!(
            eventually(Duration::from_secs(30), || async {
                http.get(format!("{address}/health/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
            .await,
            "moim did not become ready"
        );
        Self {
            child,
            lines,
            address,
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address)
    }

    /// Its resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Registers a user over HTTP; answers (user id, access token).
    pub async fn register(&self, name: &str, password: &str) -> (Uuid, String) {
        let answer: Value = reqwest::Client::new()
            .post(self.api("/auth/register"))
            .json(&json!({
                "email": format!("{name}-{}@example.com", Uuid::new_v4().simple()),
                "password": password,
                "display_name": name,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            answer["user_id"].as_str().unwrap().parse().unwrap(),
            answer["access_token"].as_str().unwrap().to_owned(),
        )
    }
}

/// Every `$ref` in a JSON document, wherever it is.
pub fn refs_in(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}
