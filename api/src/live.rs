//! One socket's view of its user's rooms: which rooms it follows, the last change number (`rev`)
//! it sent of each, and how it fills what it did not get live from the event store.
//!
//! A room's frames reach a socket at most once and in `rev` order: a live frame at or below the
//! last one sent is a repeat (a re-sent push, or one a replay already sent) and is dropped; a
//! live frame that skips numbers reveals frames lost on the way (core NATS keeps nothing while
//! it restarts), and the gap is replayed from the store before it. `resume` and entering a room
//! use the same replay, so a frame replayed is byte for byte the frame that went out live.
//!
//! What is not kept — typing and presence — passes through once, to sockets in the room.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use chrono::{DateTime, Utc};
use domain::chat::Access;
use domain::Position;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use projections::frames::{
    FeedEntry, Frame, Location, LocationIn, LocationStopped, OutFrame, Recovery, Resumed,
    TypingChange,
};
use projections::{notifications, room_feed};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::ApiError;
use crate::hub::{Delivery, Socket};
use crate::routes::ws::send_message;
use crate::state::AppState;

/// Where a socket's frames go: a WebSocket, or a Socket.IO socket.
pub trait Wire: Send {
    /// Sends one frame's JSON; false when the client is gone or does not take it.
    fn send_text(&mut self, text: Utf8Bytes) -> impl Future<Output = bool> + Send;
}

impl Wire for WebSocket {
    async fn send_text(&mut self, text: Utf8Bytes) -> bool {
        send_message(self, Message::Text(text)).await
    }
}

/// How long live frames wait for a freshly connected client's `resume` (its first frame), so
/// that a resume's replay goes out before them and a room's frames stay in `rev` order.
pub const RESUME_WAIT: Duration = Duration::from_millis(500);

/// How long a `typing: true` lasts without being sent again.
const TYPING_LASTS: Duration = Duration::from_secs(5);
/// How many `typing` frames a socket may send per second; the rest are dropped.
const TYPING_PER_SECOND: NonZeroU32 = NonZeroU32::MIN.saturating_add(2);
/// How many positions a socket may pass on per second; the rest are dropped.
const LOCATIONS_PER_SECOND: NonZeroU32 = NonZeroU32::MIN.saturating_add(2);

/// Why a socket cannot go on.
#[derive(Debug)]
pub enum Broken {
    /// The client is gone or does not read.
    Client,
    /// NATS or the database failed; the client reconnects and resumes.
    Server(ApiError),
    /// Frames for it overflowed its queue; it is told, closed, and resumes.
    Lagged,
}

impl From<ApiError> for Broken {
    fn from(error: ApiError) -> Self {
        Self::Server(error)
    }
}

/// The rooms one socket follows.
pub struct Live {
    state: AppState,
    user_id: Uuid,
    /// Its registration with the hub: the frames queued for it.
    pub socket: Socket,
    /// Rooms followed, with the last `rev` sent (0 before the first).
    rooms: HashMap<Uuid, i64>,
    /// Per room followed, the message seq the user joined at: frames about older messages are
    /// not theirs.
    joined: HashMap<Uuid, u64>,
    /// Per room, the first `rev` this socket sent: a later `resume` from before it cannot be
    /// filled in order any more.
    first_sent: HashMap<Uuid, i64>,
    /// The cursor of the last frame of the user's own sent.
    cursor: Option<Position>,
    /// Whom the user blocks, read at the first replay.
    blocked: Option<Arc<HashSet<Uuid>>>,
    /// The presence last told per user, so each change is told once.
    presence: HashMap<Uuid, bool>,
    /// Rooms where the user is typing, until when.
    typing: HashMap<Uuid, Instant>,
    /// How many `typing` frames the user may send.
    typing_limit: DefaultDirectRateLimiter,
    /// The couple room the user shares their position in, while they do.
    sharing: Option<Uuid>,
    /// How many positions the user may pass on.
    location_limit: DefaultDirectRateLimiter,
}

impl Live {
    /// Opens a socket's live side: registered with the hub, following the user's rooms, the
    /// user counted online. Every `open` is ended by a [`Live::close`].
    pub async fn open(state: AppState, user_id: Uuid) -> Result<Self, Broken> {
        let socket = state
            .hub
            .connect(user_id)
            .await
            .map_err(|e| Broken::Server(ApiError::internal(e)))?;
        // Counted online first: a `Live` that exists is uncounted when dropped, whatever fails.
        state.presence.connected(user_id).await;
        // Paired with the decrement in `drop`: `start` makes the `Live` before anything can fail.
        metrics::gauge!("sockets_open").increment(1.0);
        Self::start(state, user_id, socket).await
    }

    /// Ends it: the user's typing stopped, then (dropped) their presence updated and the hub
    /// left — in the background, for telling others is not the closing socket's business: its
    /// connection's place is freed at once.
    pub fn close(mut self) {
        tokio::spawn(async move {
            self.stop_typing().await;
            let _ = self.stop_location().await;
        });
    }

    /// Follows every room the user is in. Membership is read, the rooms followed, then read
    /// again, and rooms left meanwhile dropped: a leave published before the subscriptions
    /// were in place is seen by the second read.
    async fn start(state: AppState, user_id: Uuid, socket: Socket) -> Result<Self, Broken> {
        let mut live = Self {
            state,
            user_id,
            socket,
            rooms: HashMap::new(),
            first_sent: HashMap::new(),
            joined: HashMap::new(),
            cursor: None,
            blocked: None,
            presence: HashMap::new(),
            typing: HashMap::new(),
            typing_limit: RateLimiter::direct(Quota::per_second(TYPING_PER_SECOND)),
            sharing: None,
            location_limit: RateLimiter::direct(Quota::per_second(LOCATIONS_PER_SECOND)),
        };
        let rooms = room_feed::rooms_of(&live.state.pool, user_id)
            .await
            .map_err(ApiError::from)?;
        let ids: Vec<Uuid> = rooms.iter().map(|&(id, _)| id).collect();
        live.follow(&ids).await?;
        live.joined.extend(rooms);
        let still: HashSet<Uuid> = room_feed::rooms_of(&live.state.pool, user_id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for room_id in ids.into_iter().filter(|r| !still.contains(r)) {
            live.unfollow(room_id);
        }
        // A player's sockets watch the scores of their games that are not over.
        let games = projections::games::live_games_of(&live.state.pool, user_id)
            .await
            .map_err(ApiError::from)?;
        for game_id in games {
            live.socket
                .watch_game(game_id)
                .await
                .map_err(|e| Broken::Server(ApiError::internal(e)))?;
        }
        Ok(live)
    }

    /// Whether the socket follows `room_id`.
    pub fn follows(&self, room_id: Uuid) -> bool {
        self.rooms.contains_key(&room_id)
    }

    async fn follow(&mut self, rooms: &[Uuid]) -> Result<(), Broken> {
        self.socket
            .follow_rooms(rooms)
            .await
            .map_err(|e| Broken::Server(ApiError::internal(e)))?;
        for &room_id in rooms {
            self.rooms.entry(room_id).or_insert(0);
        }
        Ok(())
    }

    fn unfollow(&mut self, room_id: Uuid) {
        self.socket.unfollow_room(room_id);
        self.rooms.remove(&room_id);
        self.joined.remove(&room_id);
    }

    /// Sends one queued frame, if this socket is due it.
    pub async fn deliver<W: Wire>(
        &mut self,
        ws: &mut W,
        delivery: Arc<Delivery>,
    ) -> Result<(), Broken> {
        self.keeping_up()?;
        if let Some(cursor) = delivery.cursor {
            if self.cursor.is_some_and(|sent| cursor <= sent) {
                return Ok(());
            }
            self.cursor = Some(cursor);
        }
        if let Some(game_id) = delivery.watch {
            self.socket
                .watch_game(game_id)
                .await
                .map_err(|e| Broken::Server(ApiError::internal(e)))?;
        }
        let Some(room_id) = delivery.room else {
            return send(ws, delivery.text.clone()).await;
        };
        let Some(rev) = delivery.rev else {
            // Not kept (typing, presence): for sockets in the room, and a presence only when it
            // changes what this socket last told.
            if !self.follows(room_id) || delivery.except.contains(&self.user_id) {
                return Ok(());
            }
            if let Some((user_id, online)) = delivery.presence {
                if self.presence.insert(user_id, online) == Some(online) {
                    return Ok(());
                }
            }
            return send(ws, delivery.text.clone()).await;
        };
        if delivery.enters && !self.follows(room_id) {
            self.follow(&[room_id]).await?;
            self.rooms.insert(room_id, rev - 1);
            // A join's own seq is where the joiner reads from; a new room's members read all.
            self.joined.insert(room_id, delivery.seq.unwrap_or(0));
        }
        let Some(&last) = self.rooms.get(&room_id) else {
            return Ok(());
        };
        if rev <= last {
            return Ok(());
        }
        if last > 0 && rev > last + 1 {
            self.replay(ws, room_id, last).await?;
            // The replay sent it, or found the user no longer in the room.
            if self.rooms.get(&room_id).is_none_or(|&now| rev <= now) {
                return Ok(());
            }
        }
        self.rooms.insert(room_id, rev);
        let joined = self.joined.get(&room_id).copied().unwrap_or(0);
        let before_join = delivery.seq.is_some_and(|seq| seq < joined);
        if !delivery.except.contains(&self.user_id) && !before_join {
            send(ws, delivery.text.clone()).await?;
            self.first_sent.entry(room_id).or_insert(rev);
        }
        if delivery.leaver == Some(self.user_id) {
            self.unfollow(room_id);
        } else if delivery.enters {
            // Changes made after the join but published before this socket followed the room.
            self.replay(ws, room_id, rev).await?;
        }
        Ok(())
    }

    /// Replays what the client missed in the rooms it names (`room → last rev seen`), then the
    /// user's own frames after `after` — following the rooms they were put in meanwhile, with
    /// those rooms' changes since — and says for each whether it could.
    pub async fn resume<W: Wire>(
        &mut self,
        ws: &mut W,
        after: Option<Position>,
        rooms: &BTreeMap<Uuid, i64>,
    ) -> Result<Resumed, Broken> {
        let mut answer = BTreeMap::new();
        for (&room_id, &seen) in rooms {
            let seen = seen.max(0);
            // Frames after `seen` but before what this socket already sent live cannot come
            // in order any more (a client resumes first thing to avoid this): page history.
            if self
                .first_sent
                .get(&room_id)
                .is_some_and(|&first| seen < first - 1)
            {
                answer.insert(room_id, Recovery { recovered: false });
                continue;
            }
            let after = self
                .rooms
                .get(&room_id)
                .map_or(seen, |&sent| sent.max(seen));
            if let Some(sent) = self.rooms.get_mut(&room_id) {
                *sent = after;
            }
            let recovered = self.replay(ws, room_id, after).await?;
            answer.insert(room_id, Recovery { recovered });
        }
        // The user's own frames after the rooms: a room entered meanwhile that the client also
        // named is then not replayed twice.
        let feed = match after {
            Some(after) => Some(Recovery {
                recovered: self.replay_feed(ws, after).await?,
            }),
            None => None,
        };
        Ok(Resumed {
            rooms: answer,
            feed,
        })
    }

    /// Sends the user's own frames after `after`; false when there are more than the window.
    async fn replay_feed<W: Wire>(&mut self, ws: &mut W, after: Position) -> Result<bool, Broken> {
        let after = self.cursor.map_or(after, |sent| sent.max(after));
        let window = i64::from(self.state.ws.resume_window);
        let kept = notifications::kept_after(&self.state.pool, self.user_id, after, window + 1)
            .await
            .map_err(ApiError::from)?;
        if kept.len() > usize::try_from(window).unwrap_or(usize::MAX) {
            return Ok(false);
        }
        for row in kept {
            self.keeping_up()?;
            let cursor = Position {
                tx_id: row.at_tx,
                position: row.at_pos,
            };
            let frame: Frame =
                serde_json::from_value(json!({ "type": row.kind, "data": row.data }))
                    .map_err(|e| Broken::Server(ApiError::internal(e)))?;
            let entry = row.in_feed.then(|| FeedEntry {
                notification_id: row.notification_id,
                kind: row.kind,
                data: row.data,
                created_at: row.created_at,
                read_at: row.read_at,
                cursor: cursor.to_string(),
            });
            let out = OutFrame {
                id: Some(row.notification_id.to_string()),
                room_id: row.room_id,
                rev: row.rev,
                cursor: Some(cursor.to_string()),
                frame,
            };
            send_out(ws, &out).await?;
            self.cursor = Some(cursor);
            if let Some(entry) = entry {
                let created = OutFrame {
                    id: Some(notifications::created_push_id(entry.notification_id).to_string()),
                    room_id: None,
                    rev: None,
                    cursor: None,
                    frame: Frame::NotificationCreated(entry),
                };
                send_out(ws, &created).await?;
            }
            if let (Some(room_id), Some(rev)) = (row.room_id, row.rev) {
                if !self.follows(room_id) {
                    self.follow(&[room_id]).await?;
                    self.rooms.insert(room_id, rev);
                }
                self.replay(ws, room_id, rev).await?;
            }
        }
        Ok(true)
    }

    /// Sends the room's changes after `after` that the user may see, in order; false when there
    /// are more than the resume window holds, or the user was never in the room. A member not
    /// yet followed (they joined while away) is followed first; a former member gets the
    /// changes up to their leave.
    async fn replay<W: Wire>(
        &mut self,
        ws: &mut W,
        room_id: Uuid,
        after: i64,
    ) -> Result<bool, Broken> {
        let access = self
            .state
            .commands
            .room_access(room_id, self.user_id)
            .await
            .map_err(ApiError::from)?;
        let Some(access) = access else {
            self.unfollow(room_id);
            return Ok(false);
        };
        let former = matches!(access, Access::Former { .. });
        if former {
            // Whatever follows, a former member's socket no longer follows the room.
            self.unfollow(room_id);
        }
        if let Access::Member { from } = access {
            if !self.follows(room_id) {
                self.follow(&[room_id]).await?;
                self.rooms.insert(room_id, after);
            }
            self.joined.insert(room_id, from);
        }
        let pool = &self.state.pool;
        let window = i64::from(self.state.ws.resume_window);
        let latest = room_feed::latest_rev(pool, room_id)
            .await
            .map_err(ApiError::from)?;
        if latest.saturating_sub(after) > window {
            return Ok(false);
        }
        let missed = room_feed::missed(pool, room_id, after, window)
            .await
            .map_err(ApiError::from)?;
        let blocked = self.blocked().await?;
        let mut current = missed.current;
        for frame in missed.frames {
            self.keeping_up()?;
            let at = current;
            if frame.is_message {
                current = frame.seq.unwrap_or(current);
            }
            if self
                .rooms
                .get(&room_id)
                .is_some_and(|&sent| frame.rev <= sent)
            {
                continue;
            }
            let from_blocked = frame.sender.is_some_and(|s| blocked.contains(&s));
            if frame.for_reader(self.user_id, access, at) && !from_blocked {
                send_frame(ws, frame.event_id, room_id, frame.rev, frame.frame).await?;
                self.first_sent.entry(room_id).or_insert(frame.rev);
            }
            if let Some(sent) = self.rooms.get_mut(&room_id) {
                *sent = frame.rev;
            }
            if former && frame.leaver == Some(self.user_id) {
                break;
            }
        }
        Ok(true)
    }

    /// The user started or stopped typing in a room: tells the other members' sockets (on
    /// every process), unless the user sends these too often (then it is dropped silently).
    pub async fn typing(&mut self, room_id: Uuid, typing: bool) -> Result<(), ApiError> {
        if !typing {
            if self.typing.remove(&room_id).is_none() {
                return Ok(());
            }
            return self.tell_typing(room_id, false).await;
        }
        if self.typing_limit.check().is_err() {
            return Ok(());
        }
        if !self.follows(room_id) {
            // A room this socket has not heard of yet (the notifier is a moment behind) may
            // still be the user's: the room itself says.
            let access = self
                .state
                .commands
                .room_access(room_id, self.user_id)
                .await?;
            if !matches!(access, Some(Access::Member { .. })) {
                return Err(ApiError::not_found("room_not_found", "no such room"));
            }
            self.follow(&[room_id])
                .await
                .map_err(|broken| match broken {
                    Broken::Server(error) => error,
                    Broken::Client | Broken::Lagged => ApiError::internal("the socket is closing"),
                })?;
        }
        self.typing.insert(room_id, Instant::now() + TYPING_LASTS);
        self.tell_typing(room_id, true).await
    }

    /// Passes the user's position to their partner's sockets (the couple room's other member),
    /// never stored; positions beyond [`LOCATIONS_PER_SECOND`] are dropped silently.
    pub async fn location(&mut self, at: LocationIn) -> Result<(), ApiError> {
        let valid = (-90.0..=90.0).contains(&at.lat)
            && (-180.0..=180.0).contains(&at.lng)
            && (0.0..=100_000.0).contains(&at.accuracy);
        if !valid {
            return Err(ApiError::invalid(
                "bad_location",
                "lat is -90..=90, lng -180..=180, accuracy 0..=100000 metres",
            ));
        }
        if self.location_limit.check().is_err() {
            return Ok(());
        }
        // Asked of the write side each time: a couple that dissolved shares no more.
        let room_id = self
            .state
            .commands
            .couple_of(self.user_id)
            .await?
            .couple
            .room_id()
            .ok_or_else(|| ApiError::not_found("couple_not_found", "you are not in a couple"))?;
        self.sharing = Some(room_id);
        let frame = Frame::LocationUpdated(Location {
            user_id: self.user_id,
            lat: at.lat,
            lng: at.lng,
            accuracy: at.accuracy,
            at: chrono::Utc::now(),
        });
        self.tell_room(room_id, frame).await
    }

    /// Stops sharing the user's position: the partner is told, once.
    pub async fn stop_location(&mut self) -> Result<(), ApiError> {
        let Some(room_id) = self.sharing.take() else {
            return Ok(());
        };
        let frame = Frame::LocationStopped(LocationStopped {
            user_id: self.user_id,
        });
        self.tell_room(room_id, frame).await
    }

    /// Ends the typing that was not renewed in time.
    pub async fn lapse_typing(&mut self) {
        let now = Instant::now();
        let lapsed: Vec<Uuid> = self
            .typing
            .iter()
            .filter(|(_, &until)| until <= now)
            .map(|(&room_id, _)| room_id)
            .collect();
        for room_id in lapsed {
            self.typing.remove(&room_id);
            let _ = self.tell_typing(room_id, false).await;
        }
    }

    /// Ends all of the user's typing, when the socket closes.
    async fn stop_typing(&mut self) {
        for room_id in std::mem::take(&mut self.typing).into_keys() {
            let _ = self.tell_typing(room_id, false).await;
        }
    }

    async fn tell_typing(&self, room_id: Uuid, typing: bool) -> Result<(), ApiError> {
        let frame = Frame::Typing(TypingChange {
            room_id,
            user_id: self.user_id,
            typing,
        });
        self.tell_room(room_id, frame).await
    }

    /// Passes a frame that is not kept to the other members' sockets in a room.
    async fn tell_room(&self, room_id: Uuid, frame: Frame) -> Result<(), ApiError> {
        let frame = OutFrame {
            id: None,
            room_id: Some(room_id),
            rev: None,
            cursor: None,
            frame,
        };
        let text = serde_json::to_string(&frame).map_err(ApiError::internal)?;
        self.state
            .hub
            .publish_to_room(room_id, self.user_id, text)
            .await
            .map_err(ApiError::internal)
    }

    /// Stops a socket whose queue overflowed from sending any more (it will only be closed).
    fn keeping_up(&self) -> Result<(), Broken> {
        if self.socket.lagged.is_cancelled() {
            Err(Broken::Lagged)
        } else {
            Ok(())
        }
    }

    async fn blocked(&mut self) -> Result<Arc<HashSet<Uuid>>, Broken> {
        if self.blocked.is_none() {
            let blocked = room_feed::blocked_by(&self.state.pool, self.user_id)
                .await
                .map_err(ApiError::from)?;
            self.blocked = Some(Arc::new(blocked));
        }
        Ok(self.blocked.clone().unwrap_or_default())
    }
}

async fn send<W: Wire>(ws: &mut W, text: Utf8Bytes) -> Result<(), Broken> {
    if ws.send_text(text).await {
        Ok(())
    } else {
        Err(Broken::Client)
    }
}

async fn send_frame<W: Wire>(
    ws: &mut W,
    id: Uuid,
    room_id: Uuid,
    rev: i64,
    frame: Frame,
) -> Result<(), Broken> {
    let out = OutFrame {
        id: Some(id.to_string()),
        room_id: Some(room_id),
        rev: Some(rev),
        cursor: None,
        frame,
    };
    send_out(ws, &out).await
}

async fn send_out<W: Wire>(ws: &mut W, out: &OutFrame) -> Result<(), Broken> {
    let text = serde_json::to_string(out).map_err(|e| Broken::Server(ApiError::internal(e)))?;
    send(ws, text.into()).await
}

/// However a socket ends — closed, or its task cancelled or panicking — its user's presence
/// here ends with it; otherwise this process would renew it forever.
impl Drop for Live {
    fn drop(&mut self) {
        metrics::gauge!("sockets_open").decrement(1.0);
        let (presence, user_id) = (self.state.presence.clone(), self.user_id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { presence.disconnected(user_id).await });
        }
    }
}

/// When `expires_at` comes, on tokio's clock.
pub fn deadline(expires_at: DateTime<Utc>) -> Instant {
    let left = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Instant::now() + left
}
