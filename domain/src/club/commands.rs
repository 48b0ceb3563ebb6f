//! What can be asked of a club.

use uuid::Uuid;

use crate::club::{ClubRole, JoinPolicy};
use crate::values::{ClubDescription, ClubName};

/// Commands on a [`Club`](crate::club::Club).
#[derive(Debug, Clone)]
pub enum ClubCommand {
    /// Founds the club; the founder is its owner.
    Create {
        /// The new club's id.
        club_id: Uuid,
        /// Its name.
        name: ClubName,
        /// What it is about.
        description: ClubDescription,
        /// Whether joining needs approval.
        join_policy: JoinPolicy,
        /// Who founds it.
        owner_id: Uuid,
        /// Its chat room, opened with it.
        room_id: Uuid,
    },
    /// An owner or manager changes the club's card.
    Update {
        /// Who changes it.
        by: Uuid,
        /// What changes.
        patch: ClubPatch,
    },
    /// Someone joins (open club) or asks to (approval club); asking twice changes nothing.
    Join {
        /// Who.
        user_id: Uuid,
    },
    /// An owner or manager brings someone in directly (an import from another service);
    /// someone already a member stays as they are.
    Add {
        /// Who brings them in.
        by: Uuid,
        /// Who joins.
        user_id: Uuid,
    },
    /// An owner or manager answers a request to join.
    Decide {
        /// Who answers.
        by: Uuid,
        /// Whose request.
        user_id: Uuid,
        /// Let them in, or not.
        approve: bool,
    },
    /// The owner gives a member a role; giving `owner` hands the club over.
    SetRole {
        /// Who decides.
        by: Uuid,
        /// Whose role.
        user_id: Uuid,
        /// The new role.
        role: ClubRole,
    },
    /// A member leaves (`by` is `user_id`) or is removed by the owner or a manager.
    Remove {
        /// Who removes.
        by: Uuid,
        /// Who goes.
        user_id: Uuid,
    },
}

/// The parts of a club's card a change names; the others stay.
#[derive(Debug, Clone, Default)]
pub struct ClubPatch {
    /// A new name.
    pub name: Option<ClubName>,
    /// A new description.
    pub description: Option<ClubDescription>,
    /// A new policy.
    pub join_policy: Option<JoinPolicy>,
}
