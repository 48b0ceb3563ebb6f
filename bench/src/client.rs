//! The bench's clients: registration, rooms, sends and WebSockets over the public API.

use std::time::Duration;

use anyhow::Context;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

/// Users and rooms for the chat phases: room `i` has users `i`, `i+1`, `i+2` (mod users).
pub struct Setup {
    pub url: String,
    pub http: reqwest::Client,
    pub users: Vec<User>,
    /// Each room with the member who sends into it.
    pub rooms: Vec<(Uuid, usize)>,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default()
}

/// Registers `count` users, `parallel` at a time (argon2 makes each take tens of milliseconds).
pub async fn register_many(
    http: &reqwest::Client,
    url: &str,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<User>> {
    let users: Vec<anyhow::Result<User>> = stream::iter(0..count)
        .map(|i| register(http, url, i))
        .buffer_unordered(parallel)
        .collect()
        .await;
    users.into_iter().collect()
}

async fn register(http: &reqwest::Client, url: &str, i: usize) -> anyhow::Result<User> {
    let email = format!("bench{i}-{}@example.com", Uuid::new_v4().simple());
    let body: Value = http
        .post(format!("{url}/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": "bench password", "display_name": format!("bench {i}") }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(User {
        id: body["user_id"].as_str().context("user_id")?.parse()?,
        token: body["access_token"]
            .as_str()
            .context("access_token")?
            .to_owned(),
    })
}

/// Creates a group room and answers its id.
pub async fn create_room(
    http: &reqwest::Client,
    url: &str,
    owner: &User,
    members: &[Uuid],
) -> anyhow::Result<Uuid> {
    let body: Value = http
        .post(format!("{url}/api/v1/chat/rooms"))
        .bearer_auth(&owner.token)
        .json(&json!({ "name": "bench", "kind": "group", "member_ids": members }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["room_id"].as_str().context("room_id")?.parse()?)
}

/// Sends one message; answers its id.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    sender: &User,
    room: Uuid,
) -> anyhow::Result<Uuid> {
    send_as(http, url, sender, room, Uuid::now_v7()).await
}

/// Sends one message with a given `client_msg_id`; answers its id.
pub async fn send_as(
    http: &reqwest::Client,
    url: &str,
    sender: &User,
    room: Uuid,
    client_msg_id: Uuid,
) -> anyhow::Result<Uuid> {
    let body: Value = http
        .post(format!("{url}/api/v1/chat/rooms/{room}/messages"))
        .bearer_auth(&sender.token)
        .json(&json!({ "client_msg_id": client_msg_id, "body": "the quick brown fox jumps over the lazy dog, twice over" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["message_id"].as_str().context("message_id")?.parse()?)
}

/// Opens a WebSocket and waits for its `ready` frame.
pub async fn ws(url: &str, user: &User) -> anyhow::Result<crate::client::Socket> {
    let url = format!("{}/api/v1/ws", url.replace("http://", "ws://"));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", user.token).parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let ready = tokio::time::timeout(Duration::from_secs(30), socket.next()).await?;
    anyhow::ensure!(matches!(ready, Some(Ok(_))), "no ready frame");
    Ok(socket)
}

/// A client WebSocket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Setup {
    /// `users` users and `rooms` rooms of three.
    pub async fn create(url: &str, users: usize, rooms: usize) -> anyhow::Result<Self> {
        let http = http();
        let users = register_many(&http, url, users, 4).await?;
        let mut made = Vec::with_capacity(rooms);
        for i in 0..rooms {
            let owner = i % users.len();
            let others = [
                users[(i + 1) % users.len()].id,
                users[(i + 2) % users.len()].id,
            ];
            made.push((
                create_room(&http, url, &users[owner], &others).await?,
                owner,
            ));
        }
        Ok(Self {
            url: url.to_owned(),
            http,
            users,
            rooms: made,
        })
    }
}

/// The message id of a `message.sent` frame. Found without parsing the frame: a thousand
/// sockets read in this process, and the bench must not be what limits the rate.
pub fn message_id(frame: &str) -> Option<Uuid> {
    const FIELD: &str = r#""message_id":""#;
    if !frame.contains(r#""type":"message.sent""#) {
        return None;
    }
    let at = frame.find(FIELD)? + FIELD.len();
    frame.get(at..at + 36)?.parse().ok()
}

/// Tells a fresh socket to go live at once (a `resume` naming nothing) and waits for the answer.
pub async fn go_live(socket: &mut Socket) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let resume = json!({ "type": "resume", "id": "live", "data": {} }).to_string();
    socket.send(Message::Text(resume.into())).await?;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(30), socket.next()).await? {
        if let Message::Text(text) = frame? {
            if text.contains(r#""type":"resumed""#) {
                return Ok(());
            }
        }
    }
    anyhow::bail!("the socket closed before resumed")
}

/// The next `message.sent` frame on a socket: its message id and when it arrived; `None` once the
/// socket ends.
pub async fn next_message(socket: &mut Socket) -> Option<(Uuid, std::time::Instant)> {
    use futures::StreamExt;
    while let Some(Ok(frame)) = socket.next().await {
        let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
            continue;
        };
        let arrived = std::time::Instant::now();
        if let Some(id) = message_id(&text) {
            return Some((id, arrived));
        }
    }
    None
}
