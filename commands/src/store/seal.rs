//! Sealing personal fields as they are appended (`domain::personal`), each with its user's key,
//! kept beside the stream in `user_keys` and made on a user's first personal fact. Deleting an
//! account deletes the key (`Commands::delete_account`); from then on those fields read as a
//! deleted user's, in an aggregate, a live view and a replay alike.

use std::collections::{HashMap, HashSet};

use domain::personal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Rows;

/// Keys by user.
pub(crate) type Keys = HashMap<Uuid, [u8; 32]>;

/// The keys of `users` that exist.
pub(crate) async fn keys_of(conn: &mut PgConnection, users: &[Uuid]) -> Result<Keys, sqlx::Error> {
    let rows: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT user_id, key FROM user_keys WHERE user_id = ANY($1)")
            .bind(users)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(user, key)| Some((user, <[u8; 32]>::try_from(key).ok()?)))
        .collect())
}

/// The keys of `users`, made for those who have none yet.
async fn keys_made(conn: &mut PgConnection, users: &[Uuid]) -> Result<Keys, sqlx::Error> {
    let mut keys = keys_of(conn, users).await?;
    let missing: Vec<Uuid> = users
        .iter()
        .copied()
        .filter(|u| !keys.contains_key(u))
        .collect();
    if missing.is_empty() {
        return Ok(keys);
    }
    let fresh: Vec<Vec<u8>> = missing
        .iter()
        .map(|_| rand::random::<[u8; 32]>().to_vec())
        .collect();
    sqlx::query(
        "INSERT INTO user_keys (user_id, key) SELECT * FROM UNNEST($1::uuid[], $2::bytea[])
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(&missing)
    .bind(&fresh)
    .execute(&mut *conn)
    .await?;
    // Another transaction may have made a key first: read back whichever won.
    keys.extend(keys_of(conn, &missing).await?);
    Ok(keys)
}

/// The payloads of `changes` with their personal fields sealed: per change, per event, the
/// sealed payload, or none when the event has nothing to seal.
pub(crate) async fn seal(
    conn: &mut PgConnection,
    changes: &[&Rows],
) -> Result<Vec<Vec<Option<Value>>>, sqlx::Error> {
    let unsealed = |change: &Rows, payload: &Value, event_type: &str| {
        let Some(body) = payload.get(event_type) else {
            return false;
        };
        personal::fields(change.aggregate_type, event_type)
            .iter()
            .any(|f| {
                body.get(*f)
                    .is_some_and(|v| !v.is_null() && !personal::is_sealed(v))
            })
    };
    let owners: HashSet<Uuid> = changes
        .iter()
        .flat_map(|change| {
            change
                .events
                .iter()
                .filter(|row| unsealed(change, &row.payload, row.event_type))
                .filter_map(|row| personal::owner(row.event_type, &row.payload))
        })
        .collect();
    if owners.is_empty() {
        return Ok(changes.iter().map(|c| vec![None; c.events.len()]).collect());
    }
    let owners: Vec<Uuid> = owners.into_iter().collect();
    let keys = keys_made(conn, &owners).await?;
    Ok(changes
        .iter()
        .map(|change| {
            change
                .events
                .iter()
                .map(|row| {
                    if !unsealed(change, &row.payload, row.event_type) {
                        return None;
                    }
                    let key = keys.get(&personal::owner(row.event_type, &row.payload)?)?;
                    let mut payload = row.payload.clone();
                    let body = personal::body_mut(row.event_type, &mut payload)?;
                    for field in personal::fields(change.aggregate_type, row.event_type) {
                        let Some(value) = body.get_mut(*field) else {
                            continue;
                        };
                        if value.is_null() || personal::is_sealed(value) {
                            continue;
                        }
                        *value = personal::seal(key, rand::random(), value)?;
                    }
                    Some(payload)
                })
                .collect()
        })
        .collect())
}
