//! Opening the personal fields of events before a view applies them (`domain::personal`): with
//! their user's key while it exists, as a deleted user's once it is gone — so a view built live
//! and one rebuilt after a deletion agree.

use std::collections::HashMap;

use domain::personal;
use moim_nats::EventEnvelope;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ProjectionError;

/// `events` with their sealed fields opened, or none when none is sealed (the common case costs
/// no copy and no query).
pub(crate) async fn opened(
    tx: &mut PgConnection,
    events: &[&EventEnvelope],
) -> Result<Option<Vec<EventEnvelope>>, ProjectionError> {
    let sealed =
        |e: &EventEnvelope| personal::has_sealed(&e.aggregate_type, &e.event_type, &e.payload);
    let owners: Vec<Uuid> = events
        .iter()
        .filter(|e| sealed(e))
        .filter_map(|e| personal::owner(&e.event_type, &e.payload))
        .collect();
    if owners.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT user_id, key FROM user_keys WHERE user_id = ANY($1)")
            .bind(&owners)
            .fetch_all(&mut *tx)
            .await?;
    let keys: HashMap<Uuid, [u8; 32]> = rows
        .into_iter()
        .filter_map(|(user, key)| Some((user, <[u8; 32]>::try_from(key).ok()?)))
        .collect();
    Ok(Some(
        events
            .iter()
            .map(|&event| {
                let mut event = event.clone();
                if sealed(&event) {
                    let key = personal::owner(&event.event_type, &event.payload)
                        .and_then(|u| keys.get(&u));
                    personal::open_payload(
                        &event.aggregate_type,
                        &event.event_type,
                        &mut event.payload,
                        key,
                    );
                }
                event
            })
            .collect(),
    ))
}
