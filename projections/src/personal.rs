//! Opening the personal fields of events before a view applies them (`domain::personal`): with
//! their user's key while it exists, as a deleted user's once it is gone — so a view built live
//! and one rebuilt after a deletion agree.

use std::collections::HashMap;

use domain::personal;
use moim_nats::EventEnvelope;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ProjectionError;

/// `events` with their sealed fields opened, or none when none is sealed (the common case costs
/// no copy and no query). Only events of a type with personal fields are read as a tree.
pub(crate) async fn opened(
    tx: &mut PgConnection,
    events: &[&EventEnvelope],
) -> Result<Option<Vec<EventEnvelope>>, ProjectionError> {
    let sealed: Vec<Option<Value>> = events
        .iter()
        .map(|e| {
            if personal::fields(&e.aggregate_type, &e.event_type).is_empty() {
                return None;
            }
            let payload: Value = serde_json::from_str(e.payload.get()).ok()?;
            personal::has_sealed(&e.aggregate_type, &e.event_type, &payload).then_some(payload)
        })
        .collect();
    let owners: Vec<Uuid> = events
        .iter()
        .zip(&sealed)
        .filter_map(|(e, payload)| personal::owner(&e.event_type, payload.as_ref()?))
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
    events
        .iter()
        .zip(sealed)
        .map(|(&event, payload)| {
            let mut event = event.clone();
            if let Some(mut payload) = payload {
                let key = personal::owner(&event.event_type, &payload).and_then(|u| keys.get(&u));
                personal::open_payload(&event.aggregate_type, &event.event_type, &mut payload, key);
                event.payload = serde_json::value::to_raw_value(&payload).map_err(|source| {
                    ProjectionError::Unreadable {
                        event_id: event.event_id,
                        event_type: event.event_type.clone(),
                        source,
                    }
                })?;
            }
            Ok(event)
        })
        .collect::<Result<_, _>>()
        .map(Some)
}
