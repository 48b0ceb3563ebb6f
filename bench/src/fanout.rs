//! Fan-out: one room whose every member holds a WebSocket; how fast messages go out and how long
//! until the last member has each one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::Serialize;
use uuid::Uuid;

use crate::client;
use crate::stats::{Latencies, Percentiles};

/// The fan-out figures.
#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    pub members: usize,
    pub messages: usize,
    pub messages_per_sec: f64,
    pub frames_delivered: u64,
    pub frames_missing: u64,
    /// From send to the last member receiving it.
    pub delivery_to_all: Percentiles,
}

pub async fn run(url: &str, members: usize, messages: usize) -> anyhow::Result<Fanout> {
    let http = client::http();
    let users = client::register_many(&http, url, members, 8).await?;
    let ids: Vec<Uuid> = users[1..].iter().map(|u| u.id).collect();
    let room = client::create_room(&http, url, &users[0], &ids).await?;
    // message id -> (sent at, members still waiting)
    let pending: Arc<Mutex<HashMap<Uuid, (Instant, usize)>>> = Arc::default();
    let done = Arc::new(Mutex::new(Latencies::new()));
    let delivered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sockets: Vec<anyhow::Result<client::Socket>> = stream::iter(users.iter())
        .map(|u| client::ws(url, u))
        .buffer_unordered(32)
        .collect()
        .await;
    let mut readers = Vec::with_capacity(members);
    for socket in sockets {
        let mut socket = socket?;
        let (pending, done, delivered) = (pending.clone(), done.clone(), delivered.clone());
        readers.push(tokio::spawn(async move {
            while let Some((id, arrived)) = client::next_message(&mut socket).await {
                delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Ok(mut pending) = pending.lock() else {
                    continue;
                };
                if let Some((at, waiting)) = pending.get_mut(&id) {
                    *waiting -= 1;
                    if *waiting == 0 {
                        if let Ok(mut d) = done.lock() {
                            d.record(arrived - *at);
                        }
                        pending.remove(&id);
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    for _ in 0..messages {
        let client_msg_id = Uuid::now_v7();
        let id = domain::chat::message_id_for(room, users[0].id, client_msg_id);
        if let Ok(mut p) = pending.lock() {
            p.insert(id, (Instant::now(), members));
        }
        client::send_as(&http, url, &users[0], room, client_msg_id).await?;
    }
    let sending = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pending.lock().map(|p| !p.is_empty()).unwrap_or(false) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for reader in readers {
        reader.abort();
    }
    let frames = delivered.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Fanout {
        members,
        messages,
        messages_per_sec: messages as f64 / sending,
        frames_delivered: frames,
        frames_missing: (members * messages) as u64 - frames.min((members * messages) as u64),
        delivery_to_all: done.lock().map(|d| d.percentiles()).unwrap_or_default(),
    })
}
