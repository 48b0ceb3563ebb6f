//! What can be asked of a user.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::user::{PlatformRole, SessionsEndReason};
use crate::values::{Bio, DisplayName, Reason};

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
    /// Creates the user from a social login: registered without a password, with the identity
    /// linked.
    RegisterWithIdentity {
        /// The new user's id.
        user_id: Uuid,
        /// How others see them.
        display_name: DisplayName,
        /// e.g. `kakao`.
        provider: String,
        /// The provider's id for them.
        subject: String,
    },
    /// Links a social login (one per provider).
    LinkIdentity {
        /// e.g. `naver`.
        provider: String,
        /// The provider's id for them.
        subject: String,
    },
    /// Links a character of an outside game (one per game; linking another replaces it,
    /// linking the same one again changes nothing unless its name changed).
    LinkGameCharacter {
        /// e.g. `maplestory`.
        game: String,
        /// The game's id for the character (Nexon's `ocid`).
        character_id: String,
        /// Its name when it was linked.
        character_name: String,
    },
    /// Unlinks the game's character.
    UnlinkGameCharacter {
        /// The game.
        game: String,
    },
    /// Deletes the account (the command layer has checked the password and destroys the key
    /// of the user's personal data in the same transaction).
    Delete,
    /// Unlinks a social login; never the last way the user can sign in.
    UnlinkIdentity {
        /// The provider.
        provider: String,
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
    /// Changes the profile (absent fields stay; `birthday: Some(None)` forgets it, as
    /// `bio: Some(None)` does the bio).
    UpdateProfile {
        /// A new name.
        display_name: Option<DisplayName>,
        /// A new birthday.
        birthday: Option<Option<NaiveDate>>,
        /// A new bio.
        bio: Option<Option<Bio>>,
    },
    /// Ends every session the user has, but `except`.
    EndSessions {
        /// The session that stays (the one a password was changed from).
        except: Option<Uuid>,
        /// Why.
        reason: SessionsEndReason,
    },
    /// Suspends the user (an admin's act; the command layer checks that `by` is one).
    Suspend {
        /// The admin.
        by: Uuid,
        /// Why.
        reason: Reason,
        /// When it ends by itself.
        until: Option<DateTime<Utc>>,
    },
    /// Lifts a suspension; reinstating someone not suspended changes nothing.
    Reinstate {
        /// The admin.
        by: Uuid,
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
