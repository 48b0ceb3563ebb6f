//! Every subject and stream name Moim uses is built here and nowhere else, with the names of
//! the headers that travel on those subjects.

use uuid::Uuid;

/// Subject names under one prefix (`moim` in production; unique per test so tests never meet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Names under `prefix`, which must be a single subject token.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: token(prefix),
        }
    }

    /// The JetStream stream that holds every event: `MOIM_EVENTS` for prefix `moim`.
    pub fn stream_name(&self) -> String {
        format!("{}_EVENTS", self.prefix.to_uppercase())
    }

    /// `<prefix>.events.<aggregate_type>.<aggregate_id>`.
    pub fn event(&self, aggregate_type: &str, aggregate_id: &str) -> String {
        format!(
            "{}.events.{}.{}",
            self.prefix,
            token(aggregate_type),
            token(aggregate_id)
        )
    }

    /// Every event of one aggregate type: `<prefix>.events.<aggregate_type>.*`.
    pub fn events_of(&self, aggregate_type: &str) -> String {
        format!("{}.events.{}.*", self.prefix, token(aggregate_type))
    }

    /// Every event subject: `<prefix>.events.>`.
    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// Where a user's live notifications go: `<prefix>.push.user.<user_id>` (core NATS).
    pub fn push_user(&self, user_id: Uuid) -> String {
        format!("{}.push.user.{}", self.prefix, user_id)
    }

    /// Where a room's live frames go, once for all its members: `<prefix>.push.room.<room_id>`
    /// (core NATS). Each API process subscribes while one of its sockets is in the room.
    pub fn push_room(&self, room_id: Uuid) -> String {
        format!("{}.push.room.{}", self.prefix, room_id)
    }

    /// Where a game's live scores go, once for all who watch it: `<prefix>.push.game.<game_id>`
    /// (core NATS). Each API process subscribes while one of its sockets watches the game.
    pub fn push_game(&self, game_id: Uuid) -> String {
        format!("{}.push.game.{}", self.prefix, game_id)
    }

    /// A subject nobody serves: a request to it is a round trip to the server.
    pub fn nobody(&self) -> String {
        format!("{}.nobody", self.prefix)
    }

    /// The KV bucket of who has sockets open where: `moim_PRESENCE`.
    pub fn presence_bucket(&self) -> String {
        format!("{}_PRESENCE", self.prefix)
    }

    /// The KV bucket of when each user was last seen: `moim_LAST_SEEN`.
    pub fn last_seen_bucket(&self) -> String {
        format!("{}_LAST_SEEN", self.prefix)
    }

    /// The object-store bucket of uploaded photos: `moim_MEDIA` (its stream is `OBJ_moim_MEDIA`).
    pub fn media_bucket(&self) -> String {
        format!("{}_MEDIA", self.prefix)
    }

    /// A durable consumer's name for a read model.
    pub fn consumer(&self, projection: &str) -> String {
        format!("{}_{}", self.prefix, token(projection))
    }
}

/// Headers of a live push on `<prefix>.push.user.<id>` or `<prefix>.push.room.<id>`, read by
/// API processes without parsing the frame.
pub mod push_headers {
    /// The push's id: receivers drop a push they have already forwarded.
    pub const ID: &str = "Moim-Push-Id";
    /// The request the pushed event came from.
    pub const CORRELATION_ID: &str = "Moim-Correlation-Id";
    /// The room a frame is about.
    pub const ROOM: &str = "Moim-Room";
    /// The room's change number the frame carries: a socket delivers each at most once.
    pub const REV: &str = "Moim-Rev";
    /// Comma-separated users of the room who must not get this frame (who block its sender,
    /// or whose own act it reports).
    pub const EXCEPT: &str = "Moim-Except";
    /// The message seq a room frame stands at (its own, or the message it is about): a member
    /// who joined after it does not get it.
    pub const SEQ: &str = "Moim-Seq";
    /// The user this frame removes from the room: their sockets stop following it after it.
    pub const LEAVER: &str = "Moim-Leaver";
    /// On a user's subject: the frame puts them in this room; their sockets start following it.
    pub const ENTERS: &str = "Moim-Enters";
    /// On a user's subject: where the frame stands in the user's feed (`<tx>.<position>`).
    pub const CURSOR: &str = "Moim-Cursor";
    /// On a user's subject: their sockets start watching this game's scores.
    pub const WATCH: &str = "Moim-Watch";
}

/// Makes a string safe as one subject token (no `.`, wildcards or spaces).
fn token(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_built_from_the_prefix() {
        let s = Subjects::new("moim");
        assert_eq!(s.stream_name(), "MOIM_EVENTS");
        assert_eq!(s.event("chat_room", "abc"), "moim.events.chat_room.abc");
        assert_eq!(s.all_events(), "moim.events.>");
        assert_eq!(
            s.push_user(Uuid::nil()),
            "moim.push.user.00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            s.push_room(Uuid::nil()),
            "moim.push.room.00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(s.event("x", "a.b*>c d"), "moim.events.x.a_b__c_d");
    }
}
