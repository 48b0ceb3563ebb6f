//! A session: one sign-in on one device, and the family of refresh tokens it hands out.
//!
//! Only the newest refresh token of a session works; using it rotates to the next. A validly
//! signed older one can only be a copy that someone kept — the stolen-token case — so its use
//! ends the whole session, and the thief's newest token dies with the victim's. Access tokens
//! carry the session id, so ending a session ends them too (every API process keeps the ended
//! sessions it must refuse, see `api/src/revocations.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;

/// How a session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignIn {
    /// Registration with e-mail and password.
    Register,
    /// E-mail and password.
    Password,
    /// A social login (Kakao, Naver, any OpenID Connect provider).
    Social,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user logged out on this device, or ended it from their list of sessions.
    Logout,
    /// A spent refresh token of the session was presented again.
    RefreshReused,
}

/// Commands on a [`Session`] (its id is the session id).
#[derive(Debug, Clone)]
pub enum SessionCommand {
    /// Begins a session.
    Start {
        /// The session.
        session_id: Uuid,
        /// Whose.
        user_id: Uuid,
        /// The user's session generation when it began (see `User::session_generation`).
        generation: u64,
        /// How.
        method: SignIn,
        /// The first refresh token's id.
        refresh_jti: Uuid,
        /// The client's `User-Agent`, cut to a bounded length.
        user_agent: Option<String>,
        /// The client's address.
        ip: Option<String>,
    },
    /// Uses a refresh token: the session's newest rotates to `next_jti`; an older one ends it.
    Refresh {
        /// The id of the token presented.
        presented_jti: Uuid,
        /// The id of the token that replaces it.
        next_jti: Uuid,
    },
    /// Ends the session; ending an ended one changes nothing.
    End {
        /// Who asks: only the session's own user may end it.
        by: Uuid,
        /// Why.
        reason: EndReason,
    },
}

/// Events of a [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SessionEvent {
    /// A session began.
    SessionStarted(SessionStarted),
    /// Its refresh token rotated.
    SessionRefreshed(SessionRefreshed),
    /// It ended.
    SessionEnded(SessionEnded),
}

/// Payload of [`SessionEvent::SessionStarted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionStarted {
    /// The session.
    pub session_id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// The user's session generation when it began.
    pub generation: u64,
    /// How.
    pub method: SignIn,
    /// The first refresh token's id.
    pub refresh_jti: Uuid,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`SessionEvent::SessionRefreshed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRefreshed {
    /// The session.
    pub session_id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// The only refresh token that works from now on.
    pub refresh_jti: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`SessionEvent::SessionEnded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionEnded {
    /// The session.
    pub session_id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// Why.
    pub reason: EndReason,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for SessionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::SessionStarted(_) => "SessionStarted",
            Self::SessionRefreshed(_) => "SessionRefreshed",
            Self::SessionEnded(_) => "SessionEnded",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}

/// A session's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Session {
    session_id: Uuid,
    user_id: Option<Uuid>,
    generation: u64,
    refresh_jti: Uuid,
    ended: Option<EndReason>,
}

/// Why a session command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SessionError {
    /// No such session, or someone else's.
    #[error("session not found")]
    NotFound,
    /// The id is taken.
    #[error("session already started")]
    AlreadyStarted,
    /// The session has ended; its tokens work no more.
    #[error("this session has ended; sign in again")]
    Ended,
}

impl Rejection for SessionError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::AlreadyStarted => ErrorKind::Conflict,
            Self::Ended => ErrorKind::Unauthorized,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "session_not_found",
            Self::AlreadyStarted => "session_exists",
            Self::Ended => "session_revoked",
        }
    }
}

impl Session {
    /// Whose session it is.
    pub fn user_id(&self) -> Option<Uuid> {
        self.user_id
    }

    /// The user's session generation when it began.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Why it ended, if it has.
    pub fn ended(&self) -> Option<EndReason> {
        self.ended
    }
}

impl Aggregate for Session {
    const TYPE: &'static str = "session";
    // A session refreshed every 15 minutes for a month is ~3,000 events: load from a snapshot.
    const SNAPSHOT_EVERY: Option<u64> = Some(100);
    type Command = SessionCommand;
    type Event = SessionEvent;
    type Error = SessionError;

    fn handle(
        &self,
        command: SessionCommand,
        services: &dyn Services,
    ) -> Result<Vec<SessionEvent>, SessionError> {
        let now = services.now();
        match command {
            SessionCommand::Start {
                session_id,
                user_id,
                generation,
                method,
                refresh_jti,
                user_agent,
                ip,
            } => {
                if self.user_id.is_some() {
                    return Err(SessionError::AlreadyStarted);
                }
                Ok(vec![SessionEvent::SessionStarted(SessionStarted {
                    session_id,
                    user_id,
                    generation,
                    method,
                    refresh_jti,
                    user_agent,
                    ip,
                    at: now,
                })])
            }
            SessionCommand::Refresh {
                presented_jti,
                next_jti,
            } => {
                let user_id = self.user_id.ok_or(SessionError::NotFound)?;
                if self.ended.is_some() {
                    return Err(SessionError::Ended);
                }
                let session_id = self.session_id;
                if presented_jti != self.refresh_jti {
                    return Ok(vec![SessionEvent::SessionEnded(SessionEnded {
                        session_id,
                        user_id,
                        reason: EndReason::RefreshReused,
                        at: now,
                    })]);
                }
                Ok(vec![SessionEvent::SessionRefreshed(SessionRefreshed {
                    session_id,
                    user_id,
                    refresh_jti: next_jti,
                    at: now,
                })])
            }
            SessionCommand::End { by, reason } => {
                let user_id = self
                    .user_id
                    .filter(|&owner| owner == by)
                    .ok_or(SessionError::NotFound)?;
                if self.ended.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![SessionEvent::SessionEnded(SessionEnded {
                    session_id: self.session_id,
                    user_id,
                    reason,
                    at: now,
                })])
            }
        }
    }

    fn apply(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::SessionStarted(e) => {
                self.session_id = e.session_id;
                self.user_id = Some(e.user_id);
                self.generation = e.generation;
                self.refresh_jti = e.refresh_jti;
            }
            SessionEvent::SessionRefreshed(e) => self.refresh_jti = e.refresh_jti,
            SessionEvent::SessionEnded(e) => self.ended = Some(e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};

    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const SESSION: Uuid = Uuid::from_u128(10);
    const FIRST: Uuid = Uuid::from_u128(100);
    const SECOND: Uuid = Uuid::from_u128(101);
    const THIRD: Uuid = Uuid::from_u128(102);

    fn started() -> SessionEvent {
        SessionEvent::SessionStarted(SessionStarted {
            session_id: SESSION,
            user_id: KIM,
            generation: 0,
            method: SignIn::Password,
            refresh_jti: FIRST,
            user_agent: Some("app/1.0".into()),
            ip: Some("10.0.0.1".into()),
            at: FixedServices::new().now,
        })
    }

    fn refreshed(to: Uuid) -> SessionEvent {
        SessionEvent::SessionRefreshed(SessionRefreshed {
            session_id: SESSION,
            user_id: KIM,
            refresh_jti: to,
            at: FixedServices::new().now,
        })
    }

    fn ended(reason: EndReason) -> SessionEvent {
        SessionEvent::SessionEnded(SessionEnded {
            session_id: SESSION,
            user_id: KIM,
            reason,
            at: FixedServices::new().now,
        })
    }

    fn refresh(presented_jti: Uuid, next_jti: Uuid) -> SessionCommand {
        SessionCommand::Refresh {
            presented_jti,
            next_jti,
        }
    }

    #[test]
    fn the_newest_refresh_token_rotates() {
        given::<Session>([started()])
            .when(refresh(FIRST, SECOND))
            .then_expect_events(vec![refreshed(SECOND)]);
        given::<Session>([started(), refreshed(SECOND)])
            .when(refresh(SECOND, THIRD))
            .then_expect_events(vec![refreshed(THIRD)]);
    }

    #[test]
    fn a_spent_refresh_token_ends_the_whole_session() {
        let session = given::<Session>([started(), refreshed(SECOND)])
            .when(refresh(FIRST, THIRD))
            .then_expect_events(vec![ended(EndReason::RefreshReused)]);
        assert_eq!(session.ended(), Some(EndReason::RefreshReused));
        given::<Session>([
            started(),
            refreshed(SECOND),
            ended(EndReason::RefreshReused),
        ])
        .when(refresh(SECOND, THIRD))
        .then_expect_error("session_revoked");
    }

    #[test]
    fn only_its_user_ends_a_session_and_ending_twice_changes_nothing() {
        let logout = |by| SessionCommand::End {
            by,
            reason: EndReason::Logout,
        };
        given::<Session>([started()])
            .when(logout(KIM))
            .then_expect_events(vec![ended(EndReason::Logout)]);
        given::<Session>([started()])
            .when(logout(LEE))
            .then_expect_error("session_not_found");
        given::<Session>([started(), ended(EndReason::Logout)])
            .when(logout(KIM))
            .then_expect_events(vec![]);
        given::<Session>([])
            .when(refresh(FIRST, SECOND))
            .then_expect_error("session_not_found");
    }
}
