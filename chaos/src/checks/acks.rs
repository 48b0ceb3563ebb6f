//! Every command that got a 2xx has exactly one event in the store: each acknowledged message
//! (by its message id, which is its event id) with the room, sequence number, sender and
//! `client_msg_id` it was acknowledged with; each registered user and created room once; and no
//! `client_msg_id` stored twice, acknowledged or not.

use std::collections::HashMap;

use uuid::Uuid;

use super::store::Stored;
use super::Check;
use crate::load::Ack;
use crate::setup::World;

/// Runs the check.
pub fn check(store: &[Stored], acks: &[Ack], world: &World) -> Check {
    let mut check = Check::new("acknowledged commands have exactly one event");
    let mut by_event_id: HashMap<Uuid, Vec<&Stored>> = HashMap::new();
    for event in store {
        by_event_id.entry(event.event_id).or_default().push(event);
    }

    let (mut once, mut missing, mut twice, mut differ) = (0, 0, 0, 0);
    for ack in acks {
        match by_event_id.get(&ack.message_id).map(Vec::as_slice) {
            None | Some([]) => {
                missing += 1;
                check.violation(format!(
                    "message {} (room {}, seq {}), acknowledged at {:.1}s, is not in the store",
                    ack.message_id, ack.room_id, ack.seq, ack.at
                ));
            }
            Some([event]) => {
                once += 1;
                let same = event.message.as_ref().is_some_and(|m| {
                    m.room_id == ack.room_id
                        && m.seq == ack.seq
                        && m.sender_id == ack.sender
                        && m.client_msg_id == ack.client_msg_id
                });
                if !same {
                    differ += 1;
                    check.violation(format!(
                        "message {} was acknowledged as room {} seq {} but stored as {:?}",
                        ack.message_id, ack.room_id, ack.seq, event.message
                    ));
                }
            }
            Some(events) => {
                twice += 1;
                check.violation(format!(
                    "acknowledged message {} is stored {} times",
                    ack.message_id,
                    events.len()
                ));
            }
        }
    }
    check.count("acknowledged sends", acks.len());
    check.count("  in the store exactly once", once);
    check.count("  missing from the store", missing);
    check.count("  stored more than once", twice);
    check.count(
        "  stored with another room/seq/sender/client_msg_id",
        differ,
    );

    let messages: Vec<_> = store
        .iter()
        .filter_map(|e| e.message.as_ref().map(|m| (e, m)))
        .collect();
    let mut keys: HashMap<(Uuid, Uuid, Uuid), usize> = HashMap::new();
    let mut id_mismatch = 0;
    for (event, message) in &messages {
        *keys
            .entry((message.room_id, message.sender_id, message.client_msg_id))
            .or_default() += 1;
        if event.event_id != message.message_id {
            id_mismatch += 1;
            check.violation(format!(
                "event {} carries message_id {}",
                event.event_id, message.message_id
            ));
        }
    }
    let doubled = keys.values().filter(|&&n| n > 1).count();
    for ((room, sender, client_msg_id), n) in &keys {
        if *n > 1 {
            check.violation(format!(
                "client_msg_id {client_msg_id} of {sender} in room {room} is stored {n} times"
            ));
        }
    }
    let acked: std::collections::HashSet<Uuid> = acks.iter().map(|a| a.message_id).collect();
    let unacked = messages
        .iter()
        .filter(|(event, _)| !acked.contains(&event.event_id))
        .count();
    check.count("MessageSent events in the store", messages.len());
    check.count("  client_msg_ids stored more than once", doubled);
    check.count("  event_id different from message_id", id_mismatch);
    check.count("  stored but never acknowledged (sends given up)", unacked);

    let registered = setup_events(
        &mut check,
        store,
        "user",
        "UserRegistered",
        world.users.iter().map(|u| u.id),
    );
    let created = setup_events(
        &mut check,
        store,
        "chat_room",
        "RoomCreated",
        world.rooms.iter().map(|r| r.id),
    );
    check.count(
        "registered users with exactly one UserRegistered",
        format!("{registered}/{}", world.users.len()),
    );
    check.count(
        "created rooms with exactly one RoomCreated",
        format!("{created}/{}", world.rooms.len()),
    );
    check
}

/// How many of `ids` have exactly one `event_type` event; each other one is a violation.
fn setup_events(
    check: &mut Check,
    store: &[Stored],
    aggregate_type: &str,
    event_type: &str,
    ids: impl Iterator<Item = Uuid>,
) -> usize {
    let mut good = 0;
    for id in ids {
        let id = id.to_string();
        let n = store
            .iter()
            .filter(|e| {
                e.aggregate_type == aggregate_type
                    && e.aggregate_id == id
                    && e.event_type == event_type
            })
            .count();
        if n == 1 {
            good += 1;
        } else {
            check.violation(format!("{aggregate_type} {id} has {n} {event_type} events"));
        }
    }
    good
}
