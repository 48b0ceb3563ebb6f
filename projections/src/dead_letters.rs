//! Dead letters: an event a view cannot apply (its payload unreadable, or breaking a constraint)
//! would otherwise stop that view forever. It is recorded in `projection_dead_letters` with the
//! reason and skipped, and the view goes on; an operator fixes the cause and replays the view.

use moim_nats::EventEnvelope;
use sqlx::PgConnection;

use crate::{ProjectionError, View};

/// Records that `view` skipped stream message `seq` (with its event, when it could be read).
pub(crate) async fn record(
    tx: &mut PgConnection,
    view: View,
    seq: u64,
    event: Option<&EventEnvelope>,
    error: &ProjectionError,
) -> Result<(), sqlx::Error> {
    tracing::error!(view = view.name(), seq, error = %domain::error::chain(error), "event dead-lettered");
    metrics::counter!("projection_dead_letters_total", "view" => view.name()).increment(1);
    sqlx::query(
        "INSERT INTO projection_dead_letters (view, stream_seq, event_id, event_type, error)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(view.name())
    .bind(seq as i64)
    .bind(event.map(|e| e.event_id))
    .bind(event.map(|e| e.event_type.clone()))
    .bind(domain::error::chain(error))
    .execute(&mut *tx)
    .await?;
    Ok(())
}
