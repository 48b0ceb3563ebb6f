//! One client of the mixed workload and the requests each kind of operation makes. An answer
//! outside 2xx is an error carrying its status and body, so a broken route shows why at once.

use serde_json::{json, Value};
use uuid::Uuid;

use super::world::Seat;
use super::Kind;

/// Sends a request; answers the JSON body of a 2xx (null if it has none), or what went wrong.
pub(super) async fn call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| format!("{status}, body unread: {e}"))?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A client: its seat in the world and what it remembers between operations.
pub(super) struct Client {
    http: reqwest::Client,
    url: String,
    seat: Seat,
    /// The seq of its last message, where its history reads page back from.
    last_seq: Option<i64>,
    /// The post it wrote last and has not liked yet.
    unliked_post: Option<Uuid>,
    plans: u64,
}

impl Client {
    pub(super) fn new(http: reqwest::Client, url: &str, seat: Seat) -> Self {
        Self {
            http,
            url: url.to_owned(),
            seat,
            last_seq: None,
            unliked_post: None,
            plans: 0,
        }
    }

    /// A request as the client's user.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(&self.seat.user.token)
    }

    /// Does one operation of `kind`.
    pub(super) async fn perform(&mut self, kind: Kind) -> Result<(), String> {
        use reqwest::Method;
        let seat = &self.seat;
        match kind {
            Kind::ChatSend => {
                let body = json!({
                    "client_msg_id": Uuid::now_v7(),
                    "body": "the quick brown fox jumps over the lazy dog, twice over",
                });
                let path = format!("/chat/rooms/{}/messages", seat.room);
                let sent = call(self.request(Method::POST, &path).json(&body)).await?;
                self.last_seq = sent["seq"].as_i64().or(self.last_seq);
            }
            Kind::ChatHistory => {
                // A page ending at the client's own last message, as scrolling back from it.
                let before = self
                    .last_seq
                    .map_or(String::new(), |seq| format!("before={}&", seq + 1));
                let path = format!("/chat/rooms/{}/messages?{before}limit=50", seat.room);
                call(self.request(Method::GET, &path)).await?;
            }
            Kind::GameJoinLeave => {
                let path = format!("/games/{}/join", seat.game);
                call(self.request(Method::POST, &path)).await?;
                call(self.request(Method::DELETE, &path)).await?;
            }
            Kind::CouplePlan => {
                self.plans += 1;
                let body = json!({
                    "title": format!("bench plan {}", self.plans),
                    "starts_at": chrono::Utc::now() + chrono::Duration::days(30),
                    "place": "the river park",
                });
                call(self.request(Method::POST, "/couples/me/plans").json(&body)).await?;
            }
            Kind::ClubBoard => match self.unliked_post.take() {
                Some(post) => {
                    let path = format!("/posts/{post}/like");
                    call(self.request(Method::PUT, &path)).await?;
                }
                None => {
                    let body = json!({
                        "category": "bench",
                        "title": "a bench post",
                        "body": "the quick brown fox jumps over the lazy dog, twice over",
                    });
                    let path = format!("/boards/club-{}/posts", seat.club);
                    let created = call(self.request(Method::POST, &path).json(&body)).await?;
                    self.unliked_post = created["post_id"].as_str().and_then(|id| id.parse().ok());
                }
            },
            Kind::NotificationFeed => {
                call(self.request(Method::GET, "/notifications?limit=50")).await?;
            }
        }
        Ok(())
    }
}
