//! The WebSocket client that stayed connected to api-a (never killed) received every message of
//! its rooms at most once, and nothing of other rooms.
//!
//! Live pushes travel over core NATS, which keeps nothing: a push published while the NATS
//! server is restarting, or before api-a has re-subscribed after it, is gone. So a missing
//! message is excused when the notifier committed it — the push leaves right after — close to a
//! NATS restart or to a time the projections process was down; each such miss is counted under
//! its cause. Any other miss, any duplicate and any stranger is a violation.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::store::Stored;
use super::Check;
use crate::clock::{FaultKind, Outage};
use crate::monitor::Timeline;
use crate::watcher::Watched;

/// How long after a part is back a push may still be lost: async-nats reconnects with a backoff
/// of at most 4 s, and api-a re-subscribes only once it has.
const AFTER_BACK: f64 = 5.0;
/// Slack around the sampled commit interval (samples are 100 ms apart; publishing takes a moment).
const SLACK: f64 = 1.0;

/// Why a missed message is excused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Cause {
    Nats,
    Projections,
}

/// Runs the check for the messages of `rooms`.
pub fn check(
    watched: &Watched,
    store: &[Stored],
    rooms: &[Uuid],
    outages: &[Outage],
    timeline: &Timeline,
) -> Check {
    let mut check = Check::new("the connected WebSocket got its rooms' messages at most once");
    let rooms: HashSet<Uuid> = rooms.iter().copied().collect();
    let stored: HashMap<Uuid, &Stored> = store
        .iter()
        .filter_map(|e| Some((e.message.as_ref()?.message_id, e)))
        .collect();

    let mut received: HashMap<Uuid, usize> = HashMap::new();
    let mut strangers = 0;
    for frame in &watched.messages {
        *received.entry(frame.message_id).or_default() += 1;
        let known = stored
            .get(&frame.message_id)
            .and_then(|e| e.message.as_ref())
            .is_some_and(|m| m.room_id == frame.room_id && rooms.contains(&m.room_id));
        if !known {
            strangers += 1;
            check.violation(format!(
                "frame for message {} in room {} that is not a stored message of its rooms",
                frame.message_id, frame.room_id
            ));
        }
    }
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    for (id, n) in received.iter().filter(|(_, &n)| n > 1) {
        let times: Vec<String> = watched
            .messages
            .iter()
            .filter(|f| f.message_id == *id)
            .map(|f| format!("{:.1}s", f.at))
            .collect();
        check.violation(format!(
            "message {id} was pushed {n} times, at {}",
            times.join(", ")
        ));
    }

    let expected: Vec<&Stored> = store
        .iter()
        .filter(|e| {
            e.message
                .as_ref()
                .is_some_and(|m| rooms.contains(&m.room_id))
        })
        .collect();
    let mut excused: HashMap<Cause, usize> = HashMap::new();
    let mut unexplained = 0;
    for event in expected
        .iter()
        .filter(|e| !received.contains_key(&e.event_id))
    {
        let (after, before) = timeline.committed_between(event.position);
        match cause(outages, after - SLACK, before + SLACK) {
            Some(cause) => *excused.entry(cause).or_default() += 1,
            None => {
                unexplained += 1;
                check.violation(format!(
                    "message {} (room {}) was never pushed; the notifier committed it between {after:.1}s and {before:.1}s, near no outage",
                    event.event_id,
                    event.message.as_ref().map_or(Uuid::nil(), |m| m.room_id)
                ));
            }
        }
    }
    let missing = expected.len()
        - expected
            .iter()
            .filter(|e| received.contains_key(&e.event_id))
            .count();
    for (at, why) in &watched.disconnects {
        check.violation(format!("the socket closed at {at:.1}s: {why}"));
    }
    for frame in &watched.malformed {
        check.violation(format!("malformed frame {frame}"));
    }

    check.count("messages in the watcher's rooms", expected.len());
    check.count("message.sent frames received", watched.messages.len());
    check.count("  distinct messages received", received.len());
    check.count("  duplicates", duplicates);
    check.count("  for other rooms or unknown messages", strangers);
    check.count("  malformed frames", watched.malformed.len());
    check.count("  other frames (couple/game)", watched.other_frames);
    check.count("messages never received", missing);
    check.count(
        "  while its api process was down",
        "0 (api-a is never killed)",
    );
    check.count(
        "  around a NATS restart (excused)",
        excused.get(&Cause::Nats).copied().unwrap_or(0),
    );
    check.count(
        "  around a projections outage (excused)",
        excused.get(&Cause::Projections).copied().unwrap_or(0),
    );
    check.count("  unexplained", unexplained);
    check.count("socket disconnects", watched.disconnects.len());
    check
}

/// The outage that explains a push lost between `from` and `to`, if any.
fn cause(outages: &[Outage], from: f64, to: f64) -> Option<Cause> {
    let overlaps = |o: &Outage, lead: f64| o.down_at - lead <= to && from <= o.up_at + AFTER_BACK;
    let any =
        |kind: FaultKind, lead: f64| outages.iter().any(|o| o.kind == kind && overlaps(o, lead));
    if any(FaultKind::RestartNats, 0.0) {
        Some(Cause::Nats)
    } else if any(FaultKind::KillProjections, SLACK) {
        Some(Cause::Projections)
    } else {
        None
    }
}
