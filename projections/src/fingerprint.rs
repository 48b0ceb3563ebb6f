//! A view's fingerprint: each table's row count and an md5 of its rows, to compare a live view
//! with a rebuilt one (the replay tests, the crash test and the restore drill all use it).

use sqlx::PgPool;

use crate::{ProjectionError, Registry, View};

/// One table's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFingerprint {
    /// The table.
    pub table: &'static str,
    /// How many rows.
    pub rows: i64,
    /// md5 of the rows' text forms, sorted.
    pub md5: String,
}

/// Fingerprints every table of `view`.
pub async fn view(pool: &PgPool, view: View) -> Result<Vec<TableFingerprint>, ProjectionError> {
    let mut out = Vec::new();
    for table in view.tables() {
        let (rows, md5): (i64, Option<String>) = sqlx::query_as(&format!(
            "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.{table} t"
        ))
        .fetch_one(pool)
        .await?;
        out.push(TableFingerprint {
            table,
            rows,
            md5: md5.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Fingerprints every table of every view in `registry`.
pub async fn all(
    pool: &PgPool,
    registry: &Registry,
) -> Result<Vec<TableFingerprint>, ProjectionError> {
    let mut out = Vec::new();
    for view in registry.views() {
        out.extend(self::view(pool, *view).await?);
    }
    Ok(out)
}
