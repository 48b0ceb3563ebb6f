//! The list of read models, and how an event is routed to the one at hand.

use std::str::FromStr;

use moim_nats::EventEnvelope;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{chat, couples, games, notifications, users, ProjectionError};

/// A real-time notification to send to one user after the transaction that produced it commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// Stable id, derived from the event and the user: lets receivers drop a re-sent push.
    pub id: Uuid,
    /// Who gets it.
    pub user_id: Uuid,
    /// The frame's `type`, e.g. `message.sent`.
    pub kind: String,
    /// The frame's `data`.
    pub data: Value,
}

/// Every read model Moim maintains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Users' public profiles.
    Users,
    /// Rooms, members and messages.
    Chat,
    /// Couples and open invites.
    Couples,
    /// Games, participants and waitlists.
    Games,
    /// The per-user notification feed, and live pushes.
    Notifications,
}

impl View {
    /// All of them.
    pub const ALL: [View; 5] = [
        View::Users,
        View::Chat,
        View::Couples,
        View::Games,
        View::Notifications,
    ];

    /// Stable name, used for its checkpoint, consumer and advisory lock.
    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Chat => "chat",
            Self::Couples => "couples",
            Self::Games => "games",
            Self::Notifications => "notifications",
        }
    }

    /// The key of the advisory lock that serialises writers of this view (live and replay).
    pub(crate) fn lock_key(self) -> i64 {
        0x6d6f_696d_0000_0000 + self as i64
    }

    /// The key of the advisory lock held by the one process that runs this view's consumer.
    pub(crate) fn leader_key(self) -> i64 {
        0x6d6f_696d_0001_0000 + self as i64
    }

    /// Applies one event inside the caller's transaction. Live pushes to send after commit go to
    /// `out`; a replay passes `None` and none are worked out.
    pub async fn apply(
        self,
        tx: &mut PgConnection,
        event: &EventEnvelope,
        out: Option<&mut Vec<Push>>,
    ) -> Result<(), ProjectionError> {
        match self {
            Self::Users => users::apply(tx, event).await,
            Self::Chat => chat::apply(tx, event).await,
            Self::Couples => couples::apply(tx, event).await,
            Self::Games => games::apply(tx, event).await,
            Self::Notifications => notifications::apply(tx, event, out).await,
        }
    }

    /// Applies events in order, as [`View::apply`] would one by one, in fewer statements where
    /// the view can (chat writes a run of messages with one insert).
    pub async fn apply_many(
        self,
        tx: &mut PgConnection,
        events: &[EventEnvelope],
        mut out: Option<&mut Vec<Push>>,
    ) -> Result<(), ProjectionError> {
        if self == Self::Chat {
            return chat::apply_many(tx, events).await;
        }
        for event in events {
            self.apply(&mut *tx, event, out.as_deref_mut()).await?;
        }
        Ok(())
    }

    /// The tables this view owns (and a replay rebuilds).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Self::Users => &["users_view"],
            Self::Chat => &["chat_rooms", "chat_room_members", "chat_messages"],
            Self::Couples => &["couple_invites", "couple_members"],
            Self::Games => &["games", "game_players"],
            Self::Notifications => &["notifications", "notifier_room_members"],
        }
    }
}

impl FromStr for View {
    type Err = ProjectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| ProjectionError::UnknownView(s.to_owned()))
    }
}

/// Reads an envelope's payload as the domain event enum of its aggregate.
pub(crate) fn decode<E: DeserializeOwned>(event: &EventEnvelope) -> Result<E, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::Unreadable {
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}
