//! What can be asked of a user.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::user::PlatformRole;
use crate::values::DisplayName;

/// Commands on a [`User`](crate::user::User).
#[derive(Debug, Clone)]
pub enum UserCommand {
    /// Creates the user. Credentials are kept apart from events, so no secret is ever published.
    Register {
        /// The new user's id.
        user_id: Uuid,
        /// How others see them.
        display_name: DisplayName,
    },
    /// Stops `blocked_id` from opening a direct room with the user, adding them to rooms, and
    /// reaching them with live messages. Blocking twice changes nothing.
    Block {
        /// Whom to block.
        blocked_id: Uuid,
    },
    /// Lifts a block; lifting one that is not there changes nothing.
    Unblock {
        /// Whom to unblock.
        blocked_id: Uuid,
    },
    /// Ends the user's couple (`couple_id`), so they may match again.
    Uncouple {
        /// The couple that ends.
        couple_id: Uuid,
    },
    /// Changes the profile (absent fields stay; `birthday: Some(None)` forgets it).
    UpdateProfile {
        /// A new name.
        display_name: Option<DisplayName>,
        /// A new birthday.
        birthday: Option<Option<NaiveDate>>,
    },
    /// Gives the user a platform role (`moim admin grant`); the role they have already changes
    /// nothing.
    SetPlatformRole {
        /// The role.
        role: PlatformRole,
    },
    /// Makes the user one half of a couple.
    CoupleWith {
        /// The couple.
        couple_id: Uuid,
        /// The other half.
        partner_id: Uuid,
        /// When they matched.
        since: DateTime<Utc>,
    },
}
