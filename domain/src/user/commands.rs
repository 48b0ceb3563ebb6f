//! What can be asked of a user.

use chrono::{DateTime, Utc};
use uuid::Uuid;

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
