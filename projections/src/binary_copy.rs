//! Rows for `COPY … FROM STDIN (FORMAT binary)`: how a replay writes a view's bulk rows.
//!
//! `COPY` writes a page's rows together (one WAL record, one heap insert call) where an
//! `INSERT … SELECT` writes them one by one, and the binary format spares PostgreSQL parsing
//! each value's text (docs/performance.md). A binary field is exactly what sqlx sends for a bound
//! parameter of that type, so each value is encoded by sqlx's own `Encode`, and only the framing
//! (PostgreSQL's "Binary Format" for `COPY`: a header, a field count per row, a length per field,
//! a trailer) is written here.

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
    /// Rows of `columns` fields each.
    pub(crate) fn new(columns: i16) -> Self {
        let mut buf = PgArgumentBuffer::default();
        buf.extend_from_slice(HEADER);
        Self { buf, columns }
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

    /// Sends the rows with `statement` (a `COPY … FROM STDIN (FORMAT binary)`); answers how many
    /// it wrote.
    pub(crate) async fn send(
        mut self,
        conn: &mut PgConnection,
        statement: &str,
    ) -> Result<u64, sqlx::Error> {
        self.buf.extend_from_slice(TRAILER);
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(self.buf.as_slice()).await?;
        copy.finish().await
    }
}
