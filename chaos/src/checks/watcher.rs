//! The WebSocket client that stayed connected to api-a (never killed) received every message of
//! its rooms exactly once, each room's changes in `rev` order, and nothing of other rooms.
//!
//! Live pushes are lost on the way: core NATS keeps nothing while it restarts, and a
//! projections process killed after committing a batch never pushes it. But the watcher resumes
//! after every fault and once more after the system settled, and a resume replays from the
//! event store whatever it missed; so no outage excuses a missing message. Every miss,
//! duplicate, stranger, and room a resume could not recover is a violation.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::store::Stored;
use super::Check;
use crate::watcher::Watched;

/// Runs the check for the messages of `rooms`.
pub fn check(watched: &Watched, store: &[Stored], rooms: &[Uuid]) -> Check {
    let mut check = Check::new("the connected WebSocket got its rooms' messages exactly once");
    let rooms: HashSet<Uuid> = rooms.iter().copied().collect();
    let expected: HashMap<Uuid, &Stored> = store
        .iter()
        .filter_map(|e| {
            let message = e.message.as_ref()?;
            rooms
                .contains(&message.room_id)
                .then_some((message.message_id, e))
        })
        .collect();

    let mut received: HashMap<Uuid, usize> = HashMap::new();
    let mut unknown = 0;
    for frame in &watched.messages {
        *received.entry(frame.message_id).or_default() += 1;
        if !rooms.contains(&frame.room_id) {
            continue; // counted with the other rooms' frames below
        }
        // A message's rev is its event's sequence in the room.
        let known = expected.get(&frame.message_id).is_some_and(|e| {
            e.message
                .as_ref()
                .is_some_and(|m| m.room_id == frame.room_id)
                && e.sequence == frame.rev
        });
        if !known {
            unknown += 1;
            check.violation(format!(
                "frame for message {} in room {} at rev {} that is no stored message of that room at that rev",
                frame.message_id, frame.room_id, frame.rev
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
            "message {id} arrived {n} times, at {}",
            times.join(", ")
        ));
    }
    let mut missing = 0;
    // In store order, so the examples printed are the first ones lost.
    for event in store {
        let Some(message) = &event.message else {
            continue;
        };
        if rooms.contains(&message.room_id) && !received.contains_key(&message.message_id) {
            missing += 1;
            check.violation(format!(
                "message {} (room {}, rev {}) never arrived, not even on a resume",
                message.message_id, message.room_id, event.sequence
            ));
        }
    }

    let (mut revs, mut repeated, mut late, mut foreign) = (0, 0, 0, 0);
    for (room_id, seen) in &watched.revs {
        revs += seen.len();
        if !rooms.contains(room_id) {
            foreign += seen.len();
            check.violation(format!(
                "{} frames of room {room_id}, which it is not in",
                seen.len()
            ));
            continue;
        }
        let mut before = HashSet::new();
        let mut highest = 0;
        for &rev in seen {
            if !before.insert(rev) {
                repeated += 1;
                check.violation(format!("room {room_id}: rev {rev} arrived again"));
            } else if rev < highest {
                late += 1;
                check.violation(format!(
                    "room {room_id}: rev {rev} arrived after rev {highest}"
                ));
            }
            highest = highest.max(rev);
        }
    }
    for (at, what) in &watched.unresumed {
        check.violation(format!("at {at:.1}s {what}"));
    }
    for frame in &watched.malformed {
        check.violation(format!("malformed frame {frame}"));
    }

    check.count("messages in the watcher's rooms", expected.len());
    check.count("message.sent frames received", watched.messages.len());
    check.count("  distinct messages received", received.len());
    check.count("  duplicates", duplicates);
    check.count("  of no stored message of its rooms at that rev", unknown);
    check.count("messages never received", missing);
    check.count("room changes received (frames with a rev)", revs);
    check.count("  a rev received again", repeated);
    check.count("  a rev received after a later one", late);
    check.count("  of rooms it is not in", foreign);
    check.count(
        "other frames (room changes, couple, game)",
        watched.other_frames,
    );
    check.count("malformed frames", watched.malformed.len());
    check.count("resumes answered", watched.resumes);
    check.count(
        "resumes that failed or did not recover a room",
        watched.unresumed.len(),
    );
    check.count(
        "socket closed under it (then resumed)",
        watched.disconnects.len(),
    );
    for (at, why) in watched.disconnects.iter().take(3) {
        check.count(format!("  at {at:.1}s"), why);
    }
    check
}
