//! The world the load runs in, made through the API before any fault: a few users (argon2 makes
//! each registration cost tens of milliseconds), rooms that overlap, and a couple and a game so
//! that every read model has rows for the replay check to compare.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::api::{Api, User};

/// Room memberships by user index; the first user is the room's creator. User 0 is the
/// WebSocket watcher: a member of the first four rooms and of none of the last two, so frames
/// from rooms it is not in would show too.
const ROOMS: &[&[usize]] = &[
    &[0, 1, 2],
    &[3, 0, 4],
    &[5, 0, 6, 7],
    &[1, 0],
    &[2, 1, 3, 4],
    &[6, 5, 7, 2],
];

/// How many users there are.
const USERS: usize = 8;

/// A room and who is in it (user indexes).
#[derive(Debug, Clone)]
pub struct Room {
    /// The room's id.
    pub id: Uuid,
    /// Member indexes into [`World::users`].
    pub members: Vec<usize>,
}

/// Users and rooms.
#[derive(Debug, Clone)]
pub struct World {
    /// Everyone; user 0 is the watcher.
    pub users: Vec<User>,
    /// Every room.
    pub rooms: Vec<Room>,
}

impl World {
    /// The index of the user whose WebSocket stays connected through the run.
    pub const WATCHER: usize = 0;

    /// The rooms `user` is a member of.
    pub fn rooms_of(&self, user: usize) -> Vec<Uuid> {
        self.rooms
            .iter()
            .filter(|room| room.members.contains(&user))
            .map(|room| room.id)
            .collect()
    }
}

/// Registers the users, creates the rooms, a couple and a game.
pub async fn build(api: &Api) -> anyhow::Result<World> {
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        users.push(api.register(&format!("chaos{i}")).await?);
    }
    let mut rooms = Vec::new();
    for members in ROOMS {
        let ids: Vec<Uuid> = members[1..].iter().map(|&m| users[m].id).collect();
        let id = api.create_room(&users[members[0]], &ids).await?;
        rooms.push(Room {
            id,
            members: members.to_vec(),
        });
    }
    couples_and_games(api, &users).await?;
    Ok(World { users, rooms })
}

/// A matched couple, an open invite, and a game with a waitlist that moves.
async fn couples_and_games(api: &Api, users: &[User]) -> anyhow::Result<()> {
    let token = |i: usize| Some(users[i].token.as_str());
    let invite = api
        .setup(Method::POST, "/couples/invites", token(1), Some(json!({})))
        .await?;
    api.setup(
        Method::POST,
        "/couples/match",
        token(2),
        Some(json!({ "code": invite["code"] })),
    )
    .await?;
    api.setup(Method::POST, "/couples/invites", token(3), Some(json!({})))
        .await?;
    let game = api
        .setup(
            Method::POST,
            "/games",
            token(4),
            Some(json!({ "title": "chaos", "starts_at": "2030-06-01T10:00:00Z", "max_participants": 2 })),
        )
        .await?;
    let join = format!("/games/{}/join", crate::api::uuid_field(&game, "game_id")?);
    for i in [4, 5, 6] {
        api.setup(Method::POST, &join, token(i), Some(json!({})))
            .await?;
    }
    api.setup(Method::DELETE, &join, token(5), None).await?;
    Ok(())
}
