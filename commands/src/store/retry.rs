//! Running a command again when another writer appended to its aggregate first.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::CommandError;

/// Runs `attempt` again while it reports [`CommandError::Conflict`], with jittered backoff, up
/// to a bound; then gives up with [`CommandError::Contention`].
pub async fn retry_conflicts<T, F, Fut>(
    what: &'static str,
    mut attempt: F,
) -> Result<T, CommandError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CommandError>>,
{
    const ATTEMPTS: u32 = 30;
    for n in 0..ATTEMPTS {
        match attempt().await {
            Err(CommandError::Conflict) => {
                metrics::counter!("command_conflicts_retried_total", "aggregate" => what)
                    .increment(1);
                let cap = 2u64.saturating_pow(n.min(6)).min(50);
                let pause = rand::rng().random_range(0..=cap);
                tracing::debug!(what, attempt = n, pause, "conflict, retrying");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
    Err(CommandError::Contention(what))
}
