//! A small client for Moim's HTTP API that can aim each request at either API process.

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// API process index of `api-a`, which is never killed.
pub const API_A: usize = 0;

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// A bearer access token.
    pub token: String,
}

/// The two API processes.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    bases: [String; 2],
}

/// An answer: its status and JSON body (a string if the body was not JSON).
pub type Answer = (StatusCode, Value);

impl Api {
    /// A client for `bases` (`[api-a, api-b]`).
    pub fn new(bases: [String; 2]) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Longer than a healthy request ever takes; shorter than PostgreSQL's restarts, so a
            // request stuck on a dead connection is retried rather than waited for.
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        Ok(Self { http, bases })
    }

    /// One request to API process `api` (0 or 1). An error is a transport failure: refused,
    /// reset, timed out.
    pub async fn call(
        &self,
        api: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let base = &self.bases[api % 2];
        let mut request = self.http.request(method, format!("{base}/api/v1{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// A request to api-a during set-up, before any fault: retried briefly on a transport error
    /// or a 5xx, and expected to answer 2xx.
    pub async fn setup(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut last = String::new();
        for _ in 0..5 {
            match self
                .call(API_A, method.clone(), path, token, body.as_ref())
                .await
            {
                Ok((status, body)) if status.is_success() => return Ok(body),
                Ok((status, body)) if !status.is_server_error() => {
                    bail!("{method} {path}: {status} {body}")
                }
                Ok((status, body)) => last = format!("{status} {body}"),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("{method} {path} kept failing: {last}")
    }

    /// Registers a user.
    pub async fn register(&self, name: &str) -> anyhow::Result<User> {
        let email = format!("{name}-{}@chaos.example", Uuid::new_v4().simple());
        let body =
            json!({ "email": email, "password": "correct horse battery", "display_name": name });
        let answer = self
            .setup(Method::POST, "/auth/register", None, Some(body))
            .await?;
        Ok(User {
            id: uuid_field(&answer, "user_id")?,
            token: answer["access_token"]
                .as_str()
                .context("register: no access_token")?
                .to_owned(),
        })
    }

    /// Creates a room of `owner` with `members` (the owner is a member anyway).
    pub async fn create_room(&self, owner: &User, members: &[Uuid]) -> anyhow::Result<Uuid> {
        let kind = if members.len() == 1 {
            "direct"
        } else {
            "group"
        };
        let body = json!({ "name": "chaos", "kind": kind, "member_ids": members });
        let answer = self
            .setup(Method::POST, "/chat/rooms", Some(&owner.token), Some(body))
            .await?;
        uuid_field(&answer, "room_id")
    }
}

/// A UUID field of a JSON object.
pub fn uuid_field(body: &Value, field: &str) -> anyhow::Result<Uuid> {
    body[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no {field} in {body}"))
}
