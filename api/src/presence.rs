//! Who is online. A user is online while at least one socket of theirs is open on any API
//! process; the state lives in NATS, not in one process's memory.
//!
//! Each process keeps a key `<user>.<process>` in a KV bucket for every user with a socket on
//! it, holding how many sockets, renewed every [`Presence::heartbeat`], and deletes it when that
//! user's last socket here closes (the counts bound a user's sockets across processes). Every process watches the whole bucket, so each knows everyone's state; a key not
//! renewed within the TTL (its process died, or lost NATS) counts as gone, so a killed process's
//! users go offline within a TTL. When a user comes online or goes offline, each process tells
//! its own sockets that share a room with them (a `presence` frame through the hub), and the
//! time they were last seen is kept in a second bucket without expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::stream::{self, StorageType};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use moim_nats::Subjects;
use projections::frames::{Frame, OutFrame, PresenceChange};
use projections::room_feed;
use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::hub::Hub;

/// Rooms larger than this are not told of their members' presence: a thousand members coming
/// online would be a million frames. Their members' `online` is in the room's details.
const PRESENCE_ROOM_MAX: i64 = 100;

/// Locks that order one user's key operations.
const KEYING_STRIPES: usize = 64;

/// The processes where a user has sockets, as last heard: when, and how many sockets.
type Heard = HashMap<Uuid, HashMap<Uuid, (Instant, usize)>>;

/// This process's part in presence, and its view of everyone's.
pub struct Presence {
    keys: kv::Store,
    last_seen: kv::Store,
    process: Uuid,
    ttl: Duration,
    /// Users with sockets here, with how many.
    local: Mutex<HashMap<Uuid, usize>>,
    /// Held while a user's key is put or deleted for a socket opening or closing, so a reload's
    /// put cannot be overtaken by the closing socket's delete (striped by user: users do not
    /// wait for each other).
    keying: Vec<tokio::sync::Mutex<()>>,
    /// Everyone online, by the processes that hold their sockets.
    heard: Mutex<Heard>,
}

impl Presence {
    /// Opens (or creates) the buckets; a key not renewed within `ttl` counts as gone.
    pub async fn open(
        nats: async_nats::Client,
        subjects: &Subjects,
        ttl: Duration,
    ) -> Result<Self, async_nats::Error> {
        let js = async_nats::jetstream::new(nats);
        // Who is online now is renewed all the time and worthless after a restart: memory.
        let keys = bucket(&js, subjects.presence_bucket(), ttl, StorageType::Memory).await?;
        let last_seen = bucket(
            &js,
            subjects.last_seen_bucket(),
            Duration::ZERO,
            StorageType::File,
        )
        .await?;
        Ok(Self {
            keys,
            last_seen,
            process: Uuid::new_v4(),
            ttl,
            local: Mutex::new(HashMap::new()),
            keying: (0..KEYING_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            heard: Mutex::new(HashMap::new()),
        })
    }

    /// How often this process renews its keys: well within the TTL.
    pub fn heartbeat(&self) -> Duration {
        self.ttl / 4
    }

    fn keying_of(&self, user_id: Uuid) -> &tokio::sync::Mutex<()> {
        let stripe = usize::try_from(user_id.as_u128() % KEYING_STRIPES as u128).unwrap_or(0);
        &self.keying[stripe]
    }

    fn key(&self, user_id: Uuid) -> String {
        format!("{user_id}.{}", self.process)
    }

    /// A socket of `user_id` opened here.
    pub async fn connected(&self, user_id: Uuid) {
        let _keying = self.keying_of(user_id).lock().await;
        let count = {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            let count = local.entry(user_id).or_insert(0);
            *count += 1;
            *count
        };
        if let Err(error) = self.keys.put(self.key(user_id), sockets(count)).await {
            tracing::warn!(%error, "could not record a user online");
        }
    }

    /// How many sockets `user_id` has open on every process, as last heard.
    pub fn sockets_of(&self, user_id: Uuid) -> usize {
        let heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard
            .get(&user_id)
            .map_or(0, |processes| processes.values().map(|&(_, n)| n).sum())
    }

    /// A socket of `user_id` closed here.
    pub async fn disconnected(&self, user_id: Uuid) {
        let _keying = self.keying_of(user_id).lock().await;
        let left = {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            match local.get_mut(&user_id) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    Some(*count)
                }
                Some(_) => {
                    local.remove(&user_id);
                    Some(0)
                }
                None => None,
            }
        };
        let written = match left {
            Some(0) => self
                .keys
                .delete(self.key(user_id))
                .await
                .err()
                .map(|e| e.to_string()),
            Some(count) => self
                .keys
                .put(self.key(user_id), sockets(count))
                .await
                .err()
                .map(|e| e.to_string()),
            None => None,
        };
        if let Some(error) = written {
            tracing::warn!(%error, "could not record a socket closing");
        }
    }

    /// Whether `user_id` has a socket open on any process.
    pub fn is_online(&self, user_id: Uuid) -> bool {
        let heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard.get(&user_id).is_some_and(|p| !p.is_empty())
    }

    /// When `user_id` was last seen going offline (none if never, or online now).
    pub async fn last_seen(&self, user_id: Uuid) -> Option<DateTime<Utc>> {
        let value = self.last_seen.get(user_id.to_string()).await.ok()??;
        std::str::from_utf8(&value).ok()?.parse().ok()
    }

    /// Renews this process's keys, watches everyone's, and tells this process's sockets of
    /// every change, until `stop`.
    pub async fn run(self: Arc<Self>, hub: Arc<Hub>, pool: PgPool, stop: CancellationToken) {
        let mut renew = tokio::time::interval(self.heartbeat());
        let mut sweep = tokio::time::interval(self.heartbeat() / 2);
        let mut watch = None;
        loop {
            if watch.is_none() {
                // With history: the current keys first, so a process that starts (or watches
                // again after losing NATS) knows who is online without waiting for renewals.
                match self.keys.watch_with_history(">").await {
                    Ok(w) => watch = Some(w),
                    Err(error) => tracing::warn!(%error, "could not watch presence"),
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                _ = renew.tick() => self.renew().await,
                _ = sweep.tick() => {
                    for user_id in self.expire() {
                        self.tell(&hub, &pool, user_id, false).await;
                    }
                }
                entry = next(&mut watch) => match entry {
                    Some(entry) => {
                        if let Some((user_id, online)) = self.apply(&entry) {
                            self.tell(&hub, &pool, user_id, online).await;
                        }
                    }
                    None => {
                        watch = None;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
    }

    async fn renew(&self) {
        let users: Vec<(Uuid, usize)> = {
            let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.iter().map(|(&user, &count)| (user, count)).collect()
        };
        // Concurrently: thousands of users renewed one after another could outlast the TTL.
        let failed = futures::stream::iter(users)
            .map(|(user_id, count)| self.keys.put(self.key(user_id), sockets(count)))
            .buffer_unordered(64)
            .filter(|put| std::future::ready(put.is_err()))
            .count()
            .await;
        if failed > 0 {
            tracing::warn!(failed, "could not renew presence");
        }
    }

    /// Applies one watched change; answers a user whose state it changed.
    fn apply(&self, entry: &kv::Entry) -> Option<(Uuid, bool)> {
        let (user, process) = entry.key.split_once('.')?;
        let (user_id, process): (Uuid, Uuid) = (user.parse().ok()?, process.parse().ok()?);
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        match entry.operation {
            kv::Operation::Put => {
                let count = std::str::from_utf8(&entry.value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let processes = heard.entry(user_id).or_default();
                let was = !processes.is_empty();
                processes.insert(process, (Instant::now(), count));
                (!was).then_some((user_id, true))
            }
            kv::Operation::Delete | kv::Operation::Purge => {
                let processes = heard.get_mut(&user_id)?;
                processes.remove(&process)?;
                processes.is_empty().then(|| {
                    heard.remove(&user_id);
                    (user_id, false)
                })
            }
        }
    }

    /// Forgets keys not renewed within the TTL; answers the users that leaves offline.
    fn expire(&self) -> Vec<Uuid> {
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        let mut gone = Vec::new();
        heard.retain(|&user_id, processes| {
            processes.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if processes.is_empty() {
                gone.push(user_id);
            }
            !processes.is_empty()
        });
        gone
    }

    /// Tells this process's sockets in a (small) room with `user_id` that they came or went.
    async fn tell(&self, hub: &Hub, pool: &PgPool, user_id: Uuid, online: bool) {
        let now = Utc::now();
        if !online {
            let at = Bytes::from(now.to_rfc3339());
            if let Err(error) = self.last_seen.put(user_id.to_string(), at).await {
                tracing::warn!(%error, "could not keep when a user was last seen");
            }
        }
        let rooms = match room_feed::small_rooms_of(pool, user_id, PRESENCE_ROOM_MAX).await {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::warn!(%error, "could not read a user's rooms for presence");
                return;
            }
        };
        let frame = OutFrame {
            id: None,
            room_id: None,
            rev: None,
            cursor: None,
            frame: Frame::Presence(PresenceChange {
                user_id,
                online,
                last_seen: now,
            }),
        };
        if let Ok(text) = serde_json::to_string(&frame) {
            hub.tell_rooms(&rooms, user_id, online, text.into());
        }
    }
}

/// A presence key's value: how many sockets.
fn sockets(count: usize) -> Bytes {
    Bytes::from(count.to_string())
}

/// Opens a KV bucket, creating it when missing. The client's own `create_key_value` first asks
/// for the account's limits in a shape NATS 2.9 does not answer with, so the bucket's stream is
/// made here with the settings the client would give it (one value per key, expiring after
/// `max_age`, zero for never, kept in `storage`).
async fn bucket(
    js: &async_nats::jetstream::Context,
    name: String,
    max_age: Duration,
    storage: StorageType,
) -> Result<kv::Store, async_nats::Error> {
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await?;
    Ok(js.get_key_value(name).await?)
}

async fn next(watch: &mut Option<kv::Watch>) -> Option<kv::Entry> {
    match watch {
        Some(watch) => watch.next().await?.ok(),
        None => std::future::pending().await,
    }
}
