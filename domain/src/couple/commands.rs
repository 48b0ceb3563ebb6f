//! What can be asked of an invite.

use uuid::Uuid;

use crate::values::InviteCode;

/// Commands on an [`Invite`](crate::couple::Invite).
#[derive(Debug, Clone)]
pub enum InviteCommand {
    /// Issues a code that expires after [`Invite::LIFETIME_HOURS`](crate::couple::Invite::LIFETIME_HOURS).
    Create {
        /// The code, which is also the aggregate's id.
        code: InviteCode,
        /// Who invites.
        inviter_id: Uuid,
    },
    /// Withdraws an unused code; only its inviter may.
    Withdraw {
        /// Who asks.
        by: Uuid,
    },
    /// Uses the code.
    Redeem {
        /// Who redeems it.
        redeemer_id: Uuid,
        /// The couple this creates.
        couple_id: Uuid,
    },
}
