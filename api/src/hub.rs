//! Live connections on this API process and the NATS subscriptions behind them.
//!
//! The notifier publishes a room's frames once on `moim.push.room.<id>` and a user's own frames
//! on `moim.push.user.<id>`. This process subscribes to a subject while at least one of its
//! sockets follows it, and hands each frame — parsed once, its bytes shared, never re-encoded —
//! to every such socket's bounded queue. A socket whose queue is full is marked lagged (it is
//! closed and catches up with `resume`); nobody else waits for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use domain::Position;
use futures::StreamExt;
use moim_nats::subjects::push_headers;
use moim_nats::Subjects;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One frame as it arrived, ready for any number of sockets.
#[derive(Debug)]
pub struct Delivery {
    /// The frame's JSON, shared by every socket that sends it.
    pub text: Utf8Bytes,
    /// The room it is about.
    pub room: Option<Uuid>,
    /// The room's change number it carries; none on what is not kept (typing, presence).
    pub rev: Option<i64>,
    /// Users who must not get it.
    pub except: Vec<Uuid>,
    /// The message seq it stands at: members who joined after it do not get it.
    pub seq: Option<u64>,
    /// The user it removes from the room.
    pub leaver: Option<Uuid>,
    /// Whether it puts its receiver in `room` (it came on their own subject).
    pub enters: bool,
    /// On a frame of the user's own: where it stands in their feed.
    pub cursor: Option<Position>,
    /// On a `presence` frame: whose, and whether online (a socket passes on changes only).
    pub presence: Option<(Uuid, bool)>,
    /// On a frame of the user's own: a game whose scores the socket starts watching.
    pub watch: Option<Uuid>,
}

/// Where a subject's forwarder puts frames for one socket.
#[derive(Clone)]
struct Outlet {
    queue: mpsc::Sender<Arc<Delivery>>,
    lagged: CancellationToken,
}

type Outlets = Arc<Mutex<HashMap<u64, Outlet>>>;

struct Topic {
    outlets: Outlets,
    forwarder: JoinHandle<()>,
}

/// This process's live sockets, by the subjects they follow.
pub struct Hub {
    nats: async_nats::Client,
    subjects: Subjects,
    queue: usize,
    next_socket: AtomicU64,
    topics: Mutex<HashMap<String, Topic>>,
}

/// One socket's registration: its queue of frames, and the subjects it follows. Dropping it
/// unfollows them all.
pub struct Socket {
    hub: Arc<Hub>,
    id: u64,
    outlet: Outlet,
    following: HashSet<String>,
    /// Frames for this socket, in arrival order per subject.
    pub frames: mpsc::Receiver<Arc<Delivery>>,
    /// Cancelled when the socket's queue overflowed.
    pub lagged: CancellationToken,
}

impl Hub {
    /// A hub subscribing on `nats`, queueing at most `queue` frames for a socket.
    pub fn new(nats: async_nats::Client, subjects: Subjects, queue: usize) -> Self {
        Self {
            nats,
            subjects,
            queue: queue.max(1),
            next_socket: AtomicU64::new(0),
            topics: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a socket of `user_id`, following the user's own subject. Returns once the
    /// server has the subscription, so nothing published afterwards is missed.
    pub async fn connect(self: &Arc<Self>, user_id: Uuid) -> Result<Socket, async_nats::Error> {
        let (queue, frames) = mpsc::channel(self.queue);
        let lagged = CancellationToken::new();
        let mut socket = Socket {
            hub: self.clone(),
            id: self.next_socket.fetch_add(1, Ordering::Relaxed),
            outlet: Outlet {
                queue,
                lagged: lagged.clone(),
            },
            following: HashSet::new(),
            frames,
            lagged,
        };
        if socket
            .subscribe(self.subjects.push_user(user_id), true)
            .await?
        {
            self.confirm().await?;
        }
        Ok(socket)
    }

    /// How many sockets are open here.
    pub fn nats_connected(&self) -> bool {
        self.nats.connection_state() == async_nats::connection::State::Connected
    }

    /// WebSockets and Socket.IO sockets open on this process.
    pub fn sockets_open(&self) -> usize {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let mut sockets = HashSet::new();
        for topic in topics.values() {
            let outlets = topic.outlets.lock().unwrap_or_else(|p| p.into_inner());
            sockets.extend(outlets.keys().copied());
        }
        sockets.len()
    }

    /// Gives this process's sockets in any of `rooms` a frame about `user_id` coming online or
    /// going offline (not published: every process tells its own sockets).
    pub fn tell_rooms(&self, rooms: &[Uuid], user_id: Uuid, online: bool, text: Utf8Bytes) {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        for &room_id in rooms {
            if let Some(topic) = topics.get(&self.subjects.push_room(room_id)) {
                let delivery = Arc::new(Delivery {
                    text: text.clone(),
                    room: Some(room_id),
                    rev: None,
                    except: vec![user_id],
                    seq: None,
                    leaver: None,
                    enters: false,
                    cursor: None,
                    presence: Some((user_id, online)),
                    watch: None,
                });
                hand_out(&topic.outlets, &delivery);
            }
        }
    }

    /// Tells every socket of `user_id`, on every process, to watch a game's scores.
    pub async fn watch_game(&self, user_id: Uuid, game_id: Uuid) -> Result<(), async_nats::Error> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(push_headers::WATCH, game_id.to_string().as_str());
        let frame = projections::frames::OutFrame {
            id: None,
            room_id: None,
            rev: None,
            cursor: None,
            frame: projections::frames::Frame::GameWatching(projections::frames::Watching {
                game_id,
            }),
        };
        let text = serde_json::to_vec(&frame)?;
        self.nats
            .publish_with_headers(self.subjects.push_user(user_id), headers, text.into())
            .await?;
        Ok(())
    }

    /// Publishes a frame that is not kept (typing) to a room's members on every process, but
    /// not to `from`.
    pub async fn publish_to_room(
        &self,
        room_id: Uuid,
        from: Uuid,
        text: String,
    ) -> Result<(), async_nats::Error> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(push_headers::ROOM, room_id.to_string().as_str());
        headers.insert(push_headers::EXCEPT, from.to_string().as_str());
        self.nats
            .publish_with_headers(self.subjects.push_room(room_id), headers, text.into())
            .await?;
        Ok(())
    }

    /// Returns once the server has handled everything this process sent before: a request to
    /// a subject nobody serves comes back (no responders) only after the subscriptions sent
    /// ahead of it are in place — `flush` alone only empties the client's buffer.
    async fn confirm(&self) -> Result<(), async_nats::Error> {
        match self
            .nats
            .request(self.subjects.nobody(), Bytes::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    fn join(&self, subject: &str, socket: u64, outlet: &Outlet) -> bool {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let Some(topic) = topics.get(subject) else {
            return false;
        };
        let mut outlets = topic.outlets.lock().unwrap_or_else(|p| p.into_inner());
        outlets.insert(socket, outlet.clone());
        true
    }

    fn leave(&self, subject: &str, socket: u64) {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let Some(topic) = topics.get(subject) else {
            return;
        };
        let empty = {
            let mut outlets = topic.outlets.lock().unwrap_or_else(|p| p.into_inner());
            outlets.remove(&socket);
            outlets.is_empty()
        };
        if empty {
            // Aborting the forwarder drops the subscription, which unsubscribes.
            if let Some(topic) = topics.remove(subject) {
                topic.forwarder.abort();
            }
        }
    }
}

impl Socket {
    /// Starts following these rooms' frames (those already followed are skipped); returns once
    /// the server has every new subscription.
    pub async fn follow_rooms(&mut self, rooms: &[Uuid]) -> Result<(), async_nats::Error> {
        let mut subscribed = false;
        for &room_id in rooms {
            let subject = self.hub.subjects.push_room(room_id);
            subscribed |= self.subscribe(subject, false).await?;
        }
        if subscribed {
            self.hub.confirm().await?;
        }
        Ok(())
    }

    /// Starts watching a game's scores; returns once the server has the subscription.
    pub async fn watch_game(&mut self, game_id: Uuid) -> Result<(), async_nats::Error> {
        let subject = self.hub.subjects.push_game(game_id);
        if self.subscribe(subject, true).await? {
            self.hub.confirm().await?;
        }
        Ok(())
    }

    /// Stops following a room's frames.
    pub fn unfollow_room(&mut self, room_id: Uuid) {
        let subject = self.hub.subjects.push_room(room_id);
        if self.following.remove(&subject) {
            self.hub.leave(&subject, self.id);
        }
    }

    /// Follows `subject`; true when it was not followed yet. The caller then confirms: the
    /// subscription (this socket's, or the one it joined, which may be just as new) is on the
    /// server once a round trip returns. Repeats are dropped by push id on a user's subject;
    /// a room's frames need not be, their `rev` does it.
    async fn subscribe(&mut self, subject: String, by_id: bool) -> Result<bool, async_nats::Error> {
        if self.following.contains(&subject) {
            return Ok(false);
        }
        let hub = &self.hub;
        if !hub.join(&subject, self.id, &self.outlet) {
            let subscription = hub.nats.subscribe(subject.clone()).await?;
            let mut topics = hub.topics.lock().unwrap_or_else(|p| p.into_inner());
            // Another socket may have subscribed meanwhile; then ours is dropped unused.
            let topic = topics.entry(subject.clone()).or_insert_with(|| {
                let outlets = Outlets::default();
                let forwarder = tokio::spawn(forward(subscription, outlets.clone(), by_id));
                Topic { outlets, forwarder }
            });
            let mut outlets = topic.outlets.lock().unwrap_or_else(|p| p.into_inner());
            outlets.insert(self.id, self.outlet.clone());
        }
        self.following.insert(subject);
        Ok(true)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        for subject in self.following.drain() {
            self.hub.leave(&subject, self.id);
        }
    }
}

/// Hands every message of one subscription to the sockets following it.
async fn forward(mut subscription: async_nats::Subscriber, outlets: Outlets, by_id: bool) {
    let mut recent = Recent::default();
    while let Some(message) = subscription.next().await {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        // The notifier re-sends pushes after a crash; each reaches a socket once.
        if by_id && header(push_headers::ID).is_some_and(|id| !recent.insert(id)) {
            continue;
        }
        let Ok(text) = Utf8Bytes::try_from(message.payload.clone()) else {
            continue;
        };
        let except = header(push_headers::EXCEPT)
            .map(|ids| ids.split(',').filter_map(|id| id.parse().ok()).collect())
            .unwrap_or_default();
        let delivery = Arc::new(Delivery {
            text,
            room: header(push_headers::ROOM).and_then(|r| r.parse().ok()),
            rev: header(push_headers::REV).and_then(|r| r.parse().ok()),
            except,
            seq: header(push_headers::SEQ).and_then(|s| s.parse().ok()),
            leaver: header(push_headers::LEAVER).and_then(|id| id.parse().ok()),
            enters: header(push_headers::ENTERS).is_some(),
            cursor: header(push_headers::CURSOR).and_then(|c| c.parse().ok()),
            presence: None,
            watch: header(push_headers::WATCH).and_then(|g| g.parse().ok()),
        });
        hand_out(&outlets, &delivery);
    }
}

/// Queues a frame for every socket of a subject; one that cannot take it is lagged.
fn hand_out(outlets: &Outlets, delivery: &Arc<Delivery>) {
    let outlets = outlets.lock().unwrap_or_else(|p| p.into_inner());
    for outlet in outlets.values() {
        if let Err(mpsc::error::TrySendError::Full(_)) = outlet.queue.try_send(delivery.clone()) {
            metrics::counter!("push_frames_dropped_total").increment(1);
            outlet.lagged.cancel();
        }
    }
}

/// The ids of the last pushes forwarded on one subject, to drop re-sent ones.
#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Recent {
    const KEEP: usize = 4096;

    /// Records an id; false if it was seen already.
    fn insert(&mut self, id: String) -> bool {
        if !self.seen.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::KEEP {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}
