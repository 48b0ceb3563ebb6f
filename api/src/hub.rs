//! Live connections on this API process and the NATS subscriptions behind them.
//!
//! The notifier publishes a user's pushes on `moim.push.user.<id>`. Each API process subscribes
//! to that subject while the user has at least one WebSocket open on it, and fans every frame out
//! to all of that user's connections here. So a client reaches its notifications whichever of
//! several instances it is connected to.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use moim_nats::subjects::push_headers;
use moim_nats::Subjects;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A frame ready to send, shared between connections.
pub type Frame = Arc<str>;

struct Entry {
    frames: broadcast::Sender<Frame>,
    connections: usize,
    forwarder: JoinHandle<()>,
}

/// This process's live users.
pub struct Hub {
    nats: async_nats::Client,
    subjects: Subjects,
    queue: usize,
    users: Mutex<HashMap<Uuid, Entry>>,
}

/// One WebSocket's registration; dropping it unregisters.
pub struct Connection {
    hub: Arc<Hub>,
    user_id: Uuid,
    /// Frames for this user.
    pub frames: broadcast::Receiver<Frame>,
}

impl Hub {
    /// A hub publishing nothing itself, subscribing on `nats`, queueing at most `queue` frames
    /// per user for a socket that falls behind.
    pub fn new(nats: async_nats::Client, subjects: Subjects, queue: usize) -> Self {
        Self {
            nats,
            subjects,
            queue: queue.max(1),
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a connection; the first one of a user subscribes to their subject. Returns once
    /// the server has the subscription, so nothing published afterwards is missed.
    pub async fn connect(self: &Arc<Self>, user_id: Uuid) -> Result<Connection, async_nats::Error> {
        if let Some(frames) = self.join_existing(user_id) {
            return Ok(Connection {
                hub: self.clone(),
                user_id,
                frames,
            });
        }
        let mut subscription = self
            .nats
            .subscribe(self.subjects.push_user(user_id))
            .await?;
        self.nats.flush().await?;
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = users.get_mut(&user_id) {
            // Another connection subscribed meanwhile; keep its subscription, drop ours.
            entry.connections += 1;
            return Ok(Connection {
                hub: self.clone(),
                user_id,
                frames: entry.frames.subscribe(),
            });
        }
        let (frames, receiver) = broadcast::channel(self.queue);
        let sender = frames.clone();
        let forwarder = tokio::spawn(async move {
            let mut recent = Recent::default();
            while let Some(message) = subscription.next().await {
                let id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(push_headers::ID))
                    .map(|v| v.as_str().to_owned());
                // The notifier re-sends pushes after a crash; each reaches a socket once.
                if id.is_some_and(|id| !recent.insert(id)) {
                    continue;
                }
                if let Ok(text) = std::str::from_utf8(&message.payload) {
                    let _ = sender.send(Arc::from(text));
                }
            }
        });
        users.insert(
            user_id,
            Entry {
                frames,
                connections: 1,
                forwarder,
            },
        );
        Ok(Connection {
            hub: self.clone(),
            user_id,
            frames: receiver,
        })
    }

    fn join_existing(&self, user_id: Uuid) -> Option<broadcast::Receiver<Frame>> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let entry = users.get_mut(&user_id)?;
        entry.connections += 1;
        Some(entry.frames.subscribe())
    }

    /// How many users have a live connection here.
    pub fn users_online(&self) -> usize {
        self.users.lock().map(|u| u.len()).unwrap_or(0)
    }
}

/// The ids of the last pushes forwarded to a user, to drop re-sent ones.
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

impl Drop for Connection {
    fn drop(&mut self) {
        let mut users = self.hub.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = users.get_mut(&self.user_id) {
            entry.connections -= 1;
            if entry.connections == 0 {
                // Aborting the forwarder drops the subscription, which unsubscribes.
                entry.forwarder.abort();
                users.remove(&self.user_id);
            }
        }
    }
}
