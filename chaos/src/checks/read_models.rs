//! Every read model equals a fresh `moim replay --all`: with the projections process stopped,
//! each table's fingerprint (row count and an md5 of its rows) is taken, the replay rebuilds
//! every view from the event store, and the same is taken again. The views' checkpoints must
//! not move either: live and replayed views stand at the same position and stream sequence.

use projections::Registry;
use sqlx::PgPool;

use super::Check;
use crate::cluster::{Cluster, Part};

type Dump = Vec<(String, i64, String)>;

/// Every table of every registered read model (the registry is the list: a view added there
/// is checked here too), then the checkpoints.
async fn dump(pool: &PgPool) -> anyhow::Result<Dump> {
    let mut out: Dump = projections::fingerprint::all(pool, &Registry::standard())
        .await?
        .into_iter()
        .map(|t| (t.table.to_owned(), t.rows, t.md5))
        .collect();
    out.push(checkpoints(pool).await?);
    Ok(out)
}

/// The checkpoints as one more "table", compared the same way.
async fn checkpoints(pool: &PgPool) -> anyhow::Result<(String, i64, String)> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT name, tx_id, position, stream_seq FROM projection_checkpoints ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let text: Vec<String> = rows
        .iter()
        .map(|(name, tx, pos, seq)| format!("{name}={tx}.{pos}#{seq}"))
        .collect();
    Ok((
        "projection_checkpoints".into(),
        rows.len() as i64,
        text.join(" "),
    ))
}

/// Runs the check. Stops the projections process; it stays stopped.
pub async fn check(cluster: &Cluster, pool: &PgPool) -> anyhow::Result<Check> {
    let mut check = Check::new("read models equal a fresh replay");
    cluster.stop(Part::Projections).await?;
    let live = dump(pool).await?;
    cluster.run_to_end(&["replay", "--all"], "replay").await?;
    let replayed = dump(pool).await?;
    for ((table, count, digest), (_, count_again, digest_again)) in live.iter().zip(&replayed) {
        let same = count == count_again && digest == digest_again;
        let short = |d: &str| d.chars().take(12).collect::<String>();
        let shown = if table == "projection_checkpoints" {
            format!("{count} rows, {}", if same { "same" } else { "DIFFERENT" })
        } else if same {
            format!("{count} rows, md5 {}", short(digest))
        } else {
            format!(
                "{count} vs {count_again} rows, md5 {} vs {}",
                short(digest),
                short(digest_again)
            )
        };
        check.count(format!("{table} (live = replayed)"), shown);
        if !same {
            check.violation(format!(
                "{table}: live {count} rows md5 {digest}, replayed {count_again} rows md5 {digest_again}"
            ));
        }
    }
    Ok(check)
}
