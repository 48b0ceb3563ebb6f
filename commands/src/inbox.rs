//! Reading the notification feed. The caller finds the entry in the user's feed (a read model)
//! first, so an entry that is not theirs is never read; the inbox decides what is new.

use domain::inbox::{Inbox, InboxCommand};
use domain::Position;
use uuid::Uuid;

use crate::{CommandError, Commands};

impl Commands {
    /// `user_id` reads the entry of their feed at `at`; reading it again changes nothing.
    #[tracing::instrument(skip(self))]
    pub async fn read_notification(
        &self,
        user_id: Uuid,
        notification_id: Uuid,
        at: Position,
    ) -> Result<Position, CommandError> {
        let read = InboxCommand::Read {
            user_id,
            notification_id,
            at,
        };
        Ok(self
            .execute::<Inbox>(&user_id.to_string(), read)
            .await?
            .position)
    }

    /// `user_id` reads every entry of their feed up to `through`.
    #[tracing::instrument(skip(self))]
    pub async fn read_notifications_through(
        &self,
        user_id: Uuid,
        through: Position,
    ) -> Result<Position, CommandError> {
        let read = InboxCommand::ReadThrough { user_id, through };
        Ok(self
            .execute::<Inbox>(&user_id.to_string(), read)
            .await?
            .position)
    }
}
