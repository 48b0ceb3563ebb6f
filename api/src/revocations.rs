//! The sessions this API process must refuse: an in-memory read model, in every process, of the
//! events that end sessions (`SessionEnded` on a session; `SessionsEnded`, `UserSuspended` and
//! `UserDeleted` on a user, which end every session of an older generation).
//!
//! An access token is checked against it on every request without a database round trip, and a
//! session ended on any process is refused here as soon as its event reaches JetStream (the
//! relay publishes within milliseconds of the commit). It follows the event stream with two
//! ordered consumers (one per aggregate type: the server may predate multi-subject filters),
//! starting one access-token lifetime back, so it holds exactly the endings that can still
//! matter — a token older than that has expired anyway — and forgets each one after it. The API
//! serves nothing before both consumers have caught up, so a restarted process never forgets an
//! ending. The same endings close this process's sockets of the session (`subscribe`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use domain::session::{Session, SessionEvent};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use futures::StreamExt;
use moim_nats::{EventEnvelope, Subjects};
use projections::frames::{AccountSuspended, Frame, SessionRevoked};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::Access;
use crate::error::ApiError;

/// How many endings a socket may fall behind before it re-checks itself anyway.
const CHANGES: usize = 1024;

/// The endings of a user's sessions by generation.
#[derive(Debug, Clone, Copy)]
struct Cutoff {
    generation: u64,
    spared: Option<Uuid>,
    /// `Some(until)` while the user is suspended.
    suspended: Option<Option<DateTime<Utc>>>,
    at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Ended {
    sessions: HashMap<Uuid, DateTime<Utc>>,
    users: HashMap<Uuid, Cutoff>,
    pruned: Option<DateTime<Utc>>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A logout, a reused refresh token, a new password.
    Revoked,
    /// A suspension, until when.
    Suspended(Option<DateTime<Utc>>),
}

impl Ending {
    /// The frame a socket of the session gets before it closes.
    pub fn frame(self, session_id: Uuid) -> Frame {
        match self {
            Self::Revoked => Frame::SessionRevoked(SessionRevoked { session_id }),
            Self::Suspended(until) => Frame::AccountSuspended(AccountSuspended { until }),
        }
    }
}

/// Ended sessions, kept for as long as their access tokens could live.
pub struct Revocations {
    ended: Mutex<Ended>,
    keep: chrono::Duration,
    changed: broadcast::Sender<Uuid>,
    caught_up: AtomicUsize,
    ready: Notify,
}

/// The two streams followed.
const FOLLOWED: [&str; 2] = [Session::TYPE, User::TYPE];

impl Revocations {
    /// Endings kept for `access_ttl` (plus the tokens' clock leeway and a margin).
    pub fn new(access_ttl: Duration) -> Self {
        let keep = chrono::Duration::from_std(access_ttl).unwrap_or(chrono::Duration::days(1))
            + chrono::Duration::seconds(60);
        Self {
            ended: Mutex::new(Ended::default()),
            keep,
            changed: broadcast::channel(CHANGES).0,
            caught_up: AtomicUsize::new(0),
            ready: Notify::new(),
        }
    }

    /// Refuses a token whose session has ended: 401 `session_revoked`, or 403
    /// `account_suspended` when a suspension ended it.
    pub fn check(&self, access: &Access) -> Result<(), ApiError> {
        match self.ending(access) {
            None => Ok(()),
            Some(Ending::Revoked) => Err(ApiError::unauthorized(
                "session_revoked",
                "this session has ended; sign in again",
            )),
            Some(Ending::Suspended(until)) => Err(ApiError::suspended(until)),
        }
    }

    /// Whether, and how, the token's session has ended.
    pub fn ending(&self, access: &Access) -> Option<Ending> {
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cutoff) = ended.users.get(&access.user_id) {
            if access.generation < cutoff.generation && cutoff.spared != Some(access.session_id) {
                return Some(match cutoff.suspended {
                    Some(until) => Ending::Suspended(until),
                    None => Ending::Revoked,
                });
            }
        }
        ended
            .sessions
            .contains_key(&access.session_id)
            .then_some(Ending::Revoked)
    }

    /// The users whose sessions end, as they do (a socket re-checks itself on its user's).
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.changed.subscribe()
    }

    /// Returns once the endings of the last access-token lifetime are all known.
    pub async fn ready(&self) {
        loop {
            let notified = self.ready.notified();
            if self.caught_up.load(Ordering::Acquire) >= FOLLOWED.len() {
                return;
            }
            notified.await;
        }
    }

    fn apply(&self, envelope: &EventEnvelope) {
        let now = Utc::now();
        let affected = {
            let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            if ended
                .pruned
                .is_none_or(|at| now - at > chrono::Duration::seconds(60))
            {
                let horizon = now - self.keep;
                ended.sessions.retain(|_, at| *at > horizon);
                ended.users.retain(|_, c| c.at > horizon);
                ended.pruned = Some(now);
            }
            ended.record(envelope)
        };
        if let Some(user_id) = affected {
            let _ = self.changed.send(user_id);
        }
    }

    /// Follows the session and user events until `stop`, from one lifetime back; a consumer that
    /// fails is made again from after the last event it delivered.
    pub async fn follow(
        self: Arc<Self>,
        js: jetstream::Context,
        subjects: Subjects,
        stop: CancellationToken,
    ) {
        let from = Utc::now() - self.keep;
        let followers = FOLLOWED.map(|aggregate_type| {
            let this = self.clone();
            let js = js.clone();
            let filter = subjects.events_of(aggregate_type);
            let stream = subjects.stream_name();
            let stop = stop.clone();
            async move {
                let mut after = None;
                let mut counted = false;
                while !stop.is_cancelled() {
                    let run =
                        this.follow_one(&js, &stream, &filter, from, &mut after, &mut counted);
                    tokio::select! {
                        result = run => {
                            if let Err(error) = result {
                                tracing::warn!(%error, filter, "revocations: following again");
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        () = stop.cancelled() => {}
                    }
                }
            }
        });
        futures::future::join_all(followers).await;
    }

    async fn follow_one(
        &self,
        js: &jetstream::Context,
        stream: &str,
        filter: &str,
        from: DateTime<Utc>,
        after: &mut Option<u64>,
        counted: &mut bool,
    ) -> Result<(), async_nats::Error> {
        let deliver_policy = match *after {
            Some(seq) => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: seq + 1,
            },
            None => consumer::DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from_unix_timestamp(from.timestamp())?,
            },
        };
        let stream = js.get_stream(stream).await?;
        let mut consumer: consumer::Consumer<consumer::pull::OrderedConfig> = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: filter.to_owned(),
                deliver_policy,
                ..Default::default()
            })
            .await?;
        if consumer.info().await?.num_pending == 0 {
            self.caught_up_once(counted);
        }
        let mut messages = consumer.messages().await?;
        while let Some(message) = messages.next().await {
            let message = message?;
            let info = message.info()?;
            let (seq, pending) = (info.stream_sequence, info.pending);
            match serde_json::from_slice::<EventEnvelope>(&message.payload) {
                Ok(envelope) => self.apply(&envelope),
                Err(error) => tracing::warn!(%error, seq, "revocations: unreadable event"),
            }
            *after = Some(seq);
            if pending == 0 {
                self.caught_up_once(counted);
            }
        }
        Ok(())
    }

    fn caught_up_once(&self, counted: &mut bool) {
        if !std::mem::replace(counted, true) {
            self.caught_up.fetch_add(1, Ordering::AcqRel);
            self.ready.notify_waiters();
        }
    }
}

impl Ended {
    /// Records an event that ends sessions; answers whose.
    fn record(&mut self, envelope: &EventEnvelope) -> Option<Uuid> {
        if envelope.aggregate_type == Session::TYPE && envelope.event_type == "SessionEnded" {
            if let Ok(SessionEvent::SessionEnded(e)) = decode(envelope) {
                self.sessions.insert(e.session_id, e.at);
                return Some(e.user_id);
            }
        }
        if envelope.aggregate_type != User::TYPE
            || !matches!(
                envelope.event_type.as_str(),
                "SessionsEnded" | "UserSuspended" | "UserReinstated" | "UserDeleted"
            )
        {
            return None;
        }
        match decode::<UserEvent>(envelope).ok()? {
            UserEvent::SessionsEnded(e) => {
                let suspended = self.users.get(&e.user_id).and_then(|c| c.suspended);
                self.users.insert(
                    e.user_id,
                    Cutoff {
                        generation: e.generation,
                        spared: e.except,
                        suspended,
                        at: e.at,
                    },
                );
                Some(e.user_id)
            }
            UserEvent::UserSuspended(e) => {
                self.users.insert(
                    e.user_id,
                    Cutoff {
                        generation: e.generation,
                        spared: None,
                        suspended: Some(e.until),
                        at: e.at,
                    },
                );
                Some(e.user_id)
            }
            UserEvent::UserDeleted(e) => {
                self.users.insert(
                    e.user_id,
                    Cutoff {
                        generation: e.generation,
                        spared: None,
                        suspended: None,
                        at: e.at,
                    },
                );
                Some(e.user_id)
            }
            UserEvent::UserReinstated(e) => {
                if let Some(cutoff) = self.users.get_mut(&e.user_id) {
                    cutoff.suspended = None;
                }
                None
            }
            _ => None,
        }
    }
}

fn decode<E: serde::de::DeserializeOwned>(
    envelope: &EventEnvelope,
) -> Result<E, serde_json::Error> {
    domain::upcast::decode_text(
        &envelope.aggregate_type,
        &envelope.event_type,
        &envelope.event_version,
        envelope.payload.get(),
    )
}
