//! Message sequence numbers per room are exactly 1..n: no gap, no number twice.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::store::Stored;
use super::Check;

/// Runs the check over the stored `MessageSent` events.
pub fn check(store: &[Stored]) -> Check {
    let mut check = Check::new("room sequence numbers are 1..n");
    let mut rooms: BTreeMap<Uuid, Vec<i64>> = BTreeMap::new();
    for message in store.iter().filter_map(|e| e.message.as_ref()) {
        rooms.entry(message.room_id).or_default().push(message.seq);
    }
    let (mut gaps, mut doubles, mut total) = (0, 0, 0);
    for (room, seqs) in &mut rooms {
        seqs.sort_unstable();
        total += seqs.len();
        let mut expected = 1;
        for pair in seqs.windows(2) {
            if pair[0] == pair[1] {
                doubles += 1;
                check.violation(format!("room {room}: seq {} twice", pair[0]));
            }
        }
        seqs.dedup();
        for &seq in seqs.iter() {
            if seq != expected {
                gaps += seq - expected;
                check.violation(format!("room {room}: seq {expected}..{} missing", seq - 1));
            }
            expected = seq + 1;
        }
        let max = seqs.last().copied().unwrap_or(0);
        check.count(
            format!(
                "room {}… messages / highest seq",
                &room.simple().to_string()[..8]
            ),
            format!("{} / {max}", seqs.len()),
        );
    }
    check.count("rooms with messages", rooms.len());
    check.count("messages", total);
    check.count("  missing sequence numbers", gaps);
    check.count("  duplicated sequence numbers", doubles);
    check
}
