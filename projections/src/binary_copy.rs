//! Rows for `COPY … FROM STDIN (FORMAT binary)`: how a replay writes a view's bulk rows.
//!
//! `COPY` inserts rows in buffered groups, a page's worth under one WAL record, where an
//! `INSERT … SELECT` inserts them one at a time (docs/performance.md, "Replay, eighth slice").
//! A binary field holds what sqlx sends for a bound parameter of PostgreSQL's built-in scalar
//! types and arrays of them, so each value is encoded by sqlx's own `Encode`, and only the
//! framing (PostgreSQL's binary format for `COPY`: a header, a field count per row, a length per
//! field, a trailer) is written here. Types sqlx completes after encoding (its type-OID holes for
//! user-declared types, the version byte of `json`) must not be used.

use sqlx::encode::IsNull;
use sqlx::postgres::PgArgumentBuffer;
use sqlx::{Encode, PgConnection, Postgres};

/// The signature, the flags (no OIDs) and an empty header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// A field count of -1 ends the data.
const TRAILER: &[u8] = &(-1_i16).to_be_bytes();

/// Rows being framed for one `COPY`.
pub(crate) struct BinaryCopy {
    buf: PgArgumentBuffer,
    columns: i16,
}

impl BinaryCopy {
    /// Rows with a field for each of `columns`.
    pub(crate) fn new(columns: &[&str]) -> Self {
        let mut buf = PgArgumentBuffer::default();
        buf.extend_from_slice(HEADER);
        Self {
            buf,
            columns: i16::try_from(columns.len()).unwrap_or(i16::MAX),
        }
    }

    /// Starts a row: its fields follow, one [`field`](Self::field) each, in the statement's
    /// column order.
    pub(crate) fn row(&mut self) {
        self.buf.extend_from_slice(&self.columns.to_be_bytes());
    }

    /// Adds a field: its length (-1 for null), then its value as sqlx binds it.
    pub(crate) fn field<'q, T: Encode<'q, Postgres>>(
        &mut self,
        value: &T,
    ) -> Result<(), sqlx::Error> {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let length = match value
            .encode_by_ref(&mut self.buf)
            .map_err(sqlx::Error::Encode)?
        {
            IsNull::Yes => -1,
            IsNull::No => i32::try_from(self.buf.len() - at - 4)
                .map_err(|_| sqlx::Error::Encode("a field over 2 GiB".into()))?,
        };
        self.buf[at..at + 4].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// Sends the rows with `statement`, a `COPY … FROM STDIN (FORMAT binary)` naming the columns.
    pub(crate) async fn send(
        mut self,
        conn: &mut PgConnection,
        statement: &str,
    ) -> Result<(), sqlx::Error> {
        self.buf.extend_from_slice(TRAILER);
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(self.buf.as_slice()).await?;
        copy.finish().await?;
        Ok(())
    }
}
