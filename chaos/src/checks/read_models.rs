//! Every read model equals a fresh `moim replay --all`: with the projections process stopped,
//! each table's row count and an md5 of its rows in key order are taken, the replay rebuilds
//! every view from the event store, and the same is taken again. The views' checkpoints must
//! not move either: live and replayed views stand at the same position and stream sequence.

use sqlx::PgPool;

use super::Check;
use crate::cluster::{Cluster, Part};

/// Each read-model table and its primary key.
const TABLES: &[(&str, &str)] = &[
    ("users_view", "user_id"),
    ("chat_rooms", "room_id"),
    ("chat_room_members", "room_id, user_id"),
    ("chat_messages", "room_id, seq"),
    ("couple_invites", "code"),
    ("couple_members", "user_id"),
    ("games", "game_id"),
    ("game_players", "game_id, user_id"),
    ("notifications", "notification_id"),
    ("notifier_room_members", "room_id, user_id"),
];

type Dump = Vec<(String, i64, String)>;

async fn dump(pool: &PgPool) -> anyhow::Result<Dump> {
    let mut out = Vec::new();
    for (table, key) in TABLES {
        let (count, digest): (i64, Option<String>) = sqlx::query_as(&format!(
            "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t"
        ))
        .fetch_one(pool)
        .await?;
        out.push((table.to_string(), count, digest.unwrap_or_default()));
    }
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
