//! The mixed workload's world, made before the clock starts: a user per client, each owning a
//! room of three, sharing a few open games and clubs, and paired into couples. Everything an
//! operation needs exists already, so the timed loop only measures the operations themselves.

use anyhow::Context;
use serde_json::{json, Value};
use uuid::Uuid;

use super::ops::call;
use crate::client::{self, User};

/// Games the clients join and leave: a few, so a game sees some contention but not all of it.
const GAMES: usize = 4;
/// Open clubs whose boards the clients write on.
const CLUBS: usize = 4;
/// Room for every client in a game, so a join always answers `joined`.
const GAME_PLACES: usize = 1000;

/// What one client acts on.
pub(super) struct Seat {
    pub(super) user: User,
    /// A room it owns, with the next two clients in it.
    pub(super) room: Uuid,
    pub(super) game: Uuid,
    pub(super) club: Uuid,
}

/// Every client's seat.
pub(super) struct World {
    pub(super) http: reqwest::Client,
    pub(super) seats: Vec<Seat>,
}

impl World {
    /// `clients` users (an even number, for the couples) and what they act on.
    pub(super) async fn create(url: &str, clients: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            clients >= CLUBS.max(GAMES) && clients.is_multiple_of(2),
            "the mixed workload pairs its clients and needs at least {} of them",
            CLUBS.max(GAMES)
        );
        let http = client::http();
        let users = client::register_many(&http, url, clients, 4).await?;
        let post = |user: &User, path: String, body: Value| {
            let request = http
                .post(format!("{url}/api/v1{path}"))
                .bearer_auth(&user.token)
                .json(&body);
            async move {
                call(request)
                    .await
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("mixed workload setup: POST {path}"))
            }
        };

        let mut rooms = Vec::with_capacity(clients);
        for (i, owner) in users.iter().enumerate() {
            let others = [users[(i + 1) % clients].id, users[(i + 2) % clients].id];
            rooms.push(client::create_room(&http, url, owner, &others).await?);
        }

        let starts_at = chrono::Utc::now() + chrono::Duration::days(7);
        let mut games = Vec::with_capacity(GAMES);
        for (g, host) in users.iter().take(GAMES).enumerate() {
            let body = json!({ "title": format!("bench game {g}"), "starts_at": starts_at, "max_participants": GAME_PLACES });
            games.push(id(&post(host, "/games".into(), body).await?, "game_id")?);
        }

        let mut clubs = Vec::with_capacity(CLUBS);
        for (c, owner) in users.iter().take(CLUBS).enumerate() {
            let body = json!({ "name": format!("bench club {c}"), "description": "a bench club", "join_policy": "open" });
            clubs.push(id(&post(owner, "/clubs".into(), body).await?, "club_id")?);
        }
        for (i, member) in users.iter().enumerate().skip(CLUBS) {
            let club = clubs[i % CLUBS];
            post(member, format!("/clubs/{club}/join"), json!({})).await?;
        }

        for pair in users.chunks_exact(2) {
            let invite = post(&pair[0], "/couples/invites".into(), json!({})).await?;
            let code = invite["code"].as_str().context("an invite code")?;
            post(&pair[1], "/couples/match".into(), json!({ "code": code })).await?;
        }

        let seats = users
            .into_iter()
            .zip(rooms)
            .enumerate()
            .map(|(i, (user, room))| Seat {
                user,
                room,
                game: games[i % GAMES],
                club: clubs[i % CLUBS],
            })
            .collect();
        Ok(Self { http, seats })
    }
}

/// The id named `field` in an answer.
fn id(answer: &Value, field: &str) -> anyhow::Result<Uuid> {
    Ok(answer[field].as_str().context(field.to_owned())?.parse()?)
}
