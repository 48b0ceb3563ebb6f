//! A user's inbox: what they have read of their notification feed.
//!
//! The feed's entries are the notifier's (a read model); reading them is the user's own change,
//! so it is a command like any other and a rebuilt feed reads the same. The inbox keeps the
//! point up to which everything is read ("read all") and the entries read one by one after it,
//! which is what it needs to answer "already read" without growing for ever.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use crate::Position;

/// Commands on an [`Inbox`] (its id is the user's).
#[derive(Debug, Clone)]
pub enum InboxCommand {
    /// Reads one entry.
    Read {
        /// Whose inbox.
        user_id: Uuid,
        /// The entry.
        notification_id: Uuid,
        /// Where the entry stands in the feed.
        at: Position,
    },
    /// Reads every entry up to a point of the feed (the newest the user has seen).
    ReadThrough {
        /// Whose inbox.
        user_id: Uuid,
        /// The point.
        through: Position,
    },
}

/// Events of an [`Inbox`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum InboxEvent {
    /// One entry was read.
    NotificationRead(NotificationRead),
    /// Every entry up to a point was read.
    NotificationsReadThrough(NotificationsReadThrough),
}

/// Payload of [`InboxEvent::NotificationRead`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationRead {
    /// Whose.
    pub user_id: Uuid,
    /// The entry.
    pub notification_id: Uuid,
    /// Where it stands in the feed.
    pub at: Position,
    /// When it was read.
    pub read_at: DateTime<Utc>,
}

/// Payload of [`InboxEvent::NotificationsReadThrough`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationsReadThrough {
    /// Whose.
    pub user_id: Uuid,
    /// Everything up to here is read.
    pub through: Position,
    /// When.
    pub read_at: DateTime<Utc>,
}

impl DomainEvent for InboxEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::NotificationRead(_) => "NotificationRead",
            Self::NotificationsReadThrough(_) => "NotificationsReadThrough",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    /// Reading an entry twice, even from two devices at once, is one read.
    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::NotificationRead(e) => {
                let mut name = [0u8; 32];
                name[..16].copy_from_slice(e.user_id.as_bytes());
                name[16..].copy_from_slice(e.notification_id.as_bytes());
                Some(Uuid::new_v5(&Uuid::NAMESPACE_OID, &name))
            }
            Self::NotificationsReadThrough(_) => None,
        }
    }
}

/// What a user has read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inbox {
    /// Whose it is (once it has read anything).
    owner: Option<Uuid>,
    /// Everything up to here is read.
    through: Position,
    /// Entries read one by one after `through`.
    read_after: BTreeSet<(Position, Uuid)>,
}

/// Why an inbox command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InboxError {
    /// A command for one user on another user's inbox (a caller's bug, never a client's).
    #[error("an inbox is its own user's")]
    NotOwner,
}

impl Rejection for InboxError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Forbidden
    }

    fn code(&self) -> &'static str {
        "not_allowed"
    }
}

impl Inbox {
    /// Whether the entry at `at` is read.
    pub fn has_read(&self, notification_id: Uuid, at: Position) -> bool {
        at <= self.through || self.read_after.contains(&(at, notification_id))
    }
}

impl Aggregate for Inbox {
    const TYPE: &'static str = "inbox";
    const SNAPSHOT_EVERY: Option<u64> = Some(100);
    type Command = InboxCommand;
    type Event = InboxEvent;
    type Error = InboxError;

    fn handle(
        &self,
        command: InboxCommand,
        services: &dyn Services,
    ) -> Result<Vec<InboxEvent>, InboxError> {
        let read_at = services.now();
        let user_id = match &command {
            InboxCommand::Read { user_id, .. } | InboxCommand::ReadThrough { user_id, .. } => {
                *user_id
            }
        };
        if self.owner.is_some_and(|owner| owner != user_id) {
            return Err(InboxError::NotOwner);
        }
        match command {
            InboxCommand::Read {
                user_id,
                notification_id,
                at,
            } => {
                if self.has_read(notification_id, at) {
                    return Ok(Vec::new());
                }
                Ok(vec![InboxEvent::NotificationRead(NotificationRead {
                    user_id,
                    notification_id,
                    at,
                    read_at,
                })])
            }
            InboxCommand::ReadThrough { user_id, through } => {
                if through <= self.through {
                    return Ok(Vec::new());
                }
                Ok(vec![InboxEvent::NotificationsReadThrough(
                    NotificationsReadThrough {
                        user_id,
                        through,
                        read_at,
                    },
                )])
            }
        }
    }

    fn apply(&mut self, event: InboxEvent) {
        match event {
            InboxEvent::NotificationRead(e) => {
                self.owner = Some(e.user_id);
                self.read_after.insert((e.at, e.notification_id));
            }
            InboxEvent::NotificationsReadThrough(e) => {
                self.owner = Some(e.user_id);
                self.through = e.through;
                self.read_after = self.read_after.split_off(&(e.through, Uuid::max()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};

    const KIM: Uuid = Uuid::from_u128(1);
    const FIRST: Uuid = Uuid::from_u128(10);
    const SECOND: Uuid = Uuid::from_u128(11);

    fn at(tx_id: i64) -> Position {
        Position { tx_id, position: 1 }
    }

    fn read(notification_id: Uuid, tx_id: i64) -> InboxEvent {
        InboxEvent::NotificationRead(NotificationRead {
            user_id: KIM,
            notification_id,
            at: at(tx_id),
            read_at: FixedServices::new().now,
        })
    }

    fn through(tx_id: i64) -> InboxEvent {
        InboxEvent::NotificationsReadThrough(NotificationsReadThrough {
            user_id: KIM,
            through: at(tx_id),
            read_at: FixedServices::new().now,
        })
    }

    fn read_cmd(notification_id: Uuid, tx_id: i64) -> InboxCommand {
        InboxCommand::Read {
            user_id: KIM,
            notification_id,
            at: at(tx_id),
        }
    }

    #[test]
    fn reading_an_entry_twice_is_one_read() {
        given::<Inbox>([])
            .when(read_cmd(FIRST, 5))
            .then_expect_events(vec![read(FIRST, 5)]);
        given::<Inbox>([read(FIRST, 5)])
            .when(read_cmd(FIRST, 5))
            .then_expect_events(vec![]);
        assert_eq!(
            read(FIRST, 5).idempotency_id(),
            read(FIRST, 5).idempotency_id()
        );
        assert_ne!(
            read(FIRST, 5).idempotency_id(),
            read(SECOND, 5).idempotency_id()
        );
    }

    #[test]
    fn reading_all_covers_what_came_before_and_not_what_comes_after() {
        let inbox = given::<Inbox>([read(FIRST, 5)])
            .when(InboxCommand::ReadThrough {
                user_id: KIM,
                through: at(7),
            })
            .then_expect_events(vec![through(7)]);
        assert!(inbox.has_read(SECOND, at(6)));
        assert!(!inbox.has_read(SECOND, at(8)));
        assert!(inbox.read_after.is_empty(), "reads it covers are let go");
        given::<Inbox>([through(7)])
            .when(read_cmd(SECOND, 6))
            .then_expect_events(vec![]);
        given::<Inbox>([through(7)])
            .when(InboxCommand::ReadThrough {
                user_id: KIM,
                through: at(7),
            })
            .then_expect_events(vec![]);
        given::<Inbox>([through(7)])
            .when(read_cmd(SECOND, 8))
            .then_expect_events(vec![read(SECOND, 8)]);
    }

    #[test]
    fn a_read_after_the_point_is_kept_past_an_earlier_read_all() {
        let inbox = given::<Inbox>([read(SECOND, 9)])
            .when(InboxCommand::ReadThrough {
                user_id: KIM,
                through: at(7),
            })
            .then_expect_events(vec![through(7)]);
        assert!(inbox.has_read(SECOND, at(9)));
    }

    #[test]
    fn an_inbox_is_its_own_users() {
        given::<Inbox>([read(FIRST, 5)])
            .when(InboxCommand::Read {
                user_id: Uuid::from_u128(2),
                notification_id: SECOND,
                at: at(6),
            })
            .then_expect_error("not_allowed");
    }
}
