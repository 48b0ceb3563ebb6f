//! Sessions: beginning one at sign-in, rotating its refresh token, ending one, ending them all.
//!
//! Whether a session still lives is the session's own state *and* its user's: a logout
//! everywhere, a new password or a suspension ends every session of an older generation with one
//! event on the user (see `domain::user::User::ended_session`), so a refresh reads both.

use domain::session::{EndReason, Session, SessionCommand, SessionEvent, SignIn};
use domain::user::{SessionsEndReason, User, UserCommand};
use domain::{ErrorKind, Position};
use uuid::Uuid;

use crate::{CommandError, Commands};

/// The longest `User-Agent` a session keeps.
const USER_AGENT_CHARS: usize = 256;

/// Where a sign-in came from, as the session list shows it.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
}

/// A session's current tokens' contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Whose.
    pub user_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// The session's generation.
    pub generation: u64,
    /// The only refresh token id the session accepts now.
    pub refresh_jti: Uuid,
    /// Where the change was written.
    pub position: Position,
}

fn revoked(code: &'static str, message: &str) -> CommandError {
    CommandError::Rejected {
        kind: ErrorKind::Unauthorized,
        code,
        message: message.into(),
    }
}

impl Commands {
    /// `user_id` as they stand, refused when they are suspended now.
    pub(crate) async fn unsuspended(&self, user_id: Uuid) -> Result<User, CommandError> {
        let user = self
            .store
            .load::<User>(&user_id.to_string())
            .await?
            .aggregate;
        match user.suspended_at(self.services.now()) {
            Some(suspension) => Err(CommandError::Suspended {
                until: suspension.until,
            }),
            None => Ok(user),
        }
    }

    /// Begins a session for `user_id` (who must exist and not be suspended).
    #[tracing::instrument(skip(self, client))]
    pub async fn start_session(
        &self,
        user_id: Uuid,
        method: SignIn,
        client: Client,
    ) -> Result<Grant, CommandError> {
        let user = self.unsuspended(user_id).await?;
        if !user.exists() {
            return Err(CommandError::rejected(domain::user::UserError::NotFound));
        }
        let session_id = self.services.new_id();
        let refresh_jti = self.services.new_id();
        let generation = user.session_generation();
        let start = SessionCommand::Start {
            session_id,
            user_id,
            generation,
            method,
            refresh_jti,
            user_agent: client
                .user_agent
                .map(|agent| agent.chars().take(USER_AGENT_CHARS).collect()),
            ip: client.ip,
        };
        let done = self
            .execute::<Session>(&session_id.to_string(), start)
            .await?;
        Ok(Grant {
            user_id,
            session_id,
            generation,
            refresh_jti,
            position: done.position,
        })
    }

    /// Uses refresh token `presented_jti` of `session_id`: answers the rotated grant, or — for a
    /// spent token — ends the session and answers `refresh_token_reused`.
    #[tracing::instrument(skip(self))]
    pub async fn refresh_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        presented_jti: Uuid,
    ) -> Result<Grant, CommandError> {
        let user = self.unsuspended(user_id).await?;
        let id = session_id.to_string();
        let session = self.store.load::<Session>(&id).await?.aggregate;
        if session.user_id() != Some(user_id) {
            return Err(revoked("session_revoked", "this session has ended"));
        }
        if user.ended_session(session_id, session.generation()) {
            return Err(revoked("session_revoked", "this session has ended"));
        }
        let next_jti = self.services.new_id();
        let refresh = SessionCommand::Refresh {
            presented_jti,
            next_jti,
        };
        let done = self.execute::<Session>(&id, refresh).await?;
        if done
            .events
            .iter()
            .any(|e| matches!(e, SessionEvent::SessionEnded(_)))
        {
            return Err(revoked(
                "refresh_token_reused",
                "this refresh token was used before: the session has ended; sign in again",
            ));
        }
        Ok(Grant {
            user_id,
            session_id,
            generation: session.generation(),
            refresh_jti: next_jti,
            position: done.position,
        })
    }

    /// Ends one of `user_id`'s sessions (someone else's is not found).
    #[tracing::instrument(skip(self))]
    pub async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Position, CommandError> {
        let end = SessionCommand::End {
            by: user_id,
            reason: EndReason::Logout,
        };
        Ok(self
            .execute::<Session>(&session_id.to_string(), end)
            .await?
            .position)
    }

    /// Ends every session of `user_id` (but `except`).
    #[tracing::instrument(skip(self))]
    pub async fn end_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        reason: SessionsEndReason,
    ) -> Result<Position, CommandError> {
        let end = UserCommand::EndSessions { except, reason };
        Ok(self
            .execute::<User>(&user_id.to_string(), end)
            .await?
            .position)
    }
}
