//! `COPY … FROM STDIN (FORMAT binary)`: how a rebuild loads rows into its aside tables before they
//! have any index. PostgreSQL ingests binary COPY about three times faster than the same rows
//! through `INSERT … SELECT FROM UNNEST(…)` (which must build and walk one array per column), and
//! into tables without keys no row can conflict, so plain appends are exact. The values are the
//! ones the fold computed for the live path's statements; only the wire encoding differs, and it
//! is the one sqlx uses for the same Rust types.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Rows of one table in PostgreSQL's binary COPY format.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
    rows: usize,
}

fn postgres_epoch() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Buffers of sent rows, kept for the next rows: a rebuild sends thousands of multi-megabyte
/// COPYs, and growing a fresh buffer for each costs more than filling it.
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SPARE_BUFFERS: usize = 4;
const SPARE_MAX_BYTES: usize = 16 << 20;

impl CopyRows {
    pub(crate) fn new() -> Self {
        let spare = SPARE.lock().ok().and_then(|mut spare| spare.pop());
        let mut buf = spare.unwrap_or_else(|| Vec::with_capacity(1 << 16));
        buf.clear();
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf, rows: 0 }
    }

    /// Starts a row of `fields` values.
    pub(crate) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self.rows += 1;
    }

    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub(crate) fn uuid(&mut self, v: Uuid) {
        self.field(v.as_bytes());
    }

    pub(crate) fn opt_uuid(&mut self, v: Option<Uuid>) {
        match v {
            Some(v) => self.uuid(v),
            None => self.null(),
        }
    }

    pub(crate) fn text(&mut self, v: &str) {
        self.field(v.as_bytes());
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub(crate) fn int8(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }

    /// Microseconds since 2000-01-01, computed as sqlx computes them for a bound parameter.
    pub(crate) fn timestamptz(&mut self, v: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let micros = (v.naive_utc() - postgres_epoch())
            .num_microseconds()
            .ok_or_else(|| sqlx::Error::Encode(format!("{v} is out of range").into()))?;
        self.field(&micros.to_be_bytes());
        Ok(())
    }

    pub(crate) fn opt_timestamptz(&mut self, v: Option<DateTime<Utc>>) -> Result<(), sqlx::Error> {
        match v {
            Some(v) => self.timestamptz(v),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// A numeric value, encoded exactly as sqlx encodes a bound `Decimal`.
    pub(crate) fn numeric(&mut self, v: rust_decimal::Decimal) -> Result<(), sqlx::Error> {
        use sqlx::Encode;
        let mut encoded = sqlx::postgres::PgArgumentBuffer::default();
        // A decimal is never NULL.
        let _ = Encode::<sqlx::Postgres>::encode_by_ref(&v, &mut encoded)
            .map_err(sqlx::Error::Encode)?;
        self.field(&encoded);
        Ok(())
    }

    pub(crate) fn opt_numeric(
        &mut self,
        v: Option<rust_decimal::Decimal>,
    ) -> Result<(), sqlx::Error> {
        match v {
            Some(v) => self.numeric(v),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// A one-dimensional `uuid[]` without NULLs: dimensions, the NULL flag, the element type
    /// (uuid, oid 2950), then the length and lower bound (1) of the dimension and the elements.
    pub(crate) fn uuid_array(&mut self, ids: &[Uuid]) {
        const UUID_OID: u32 = 2950;
        let dimensions: i32 = if ids.is_empty() { 0 } else { 1 };
        let mut bytes = Vec::with_capacity(20 + ids.len() * 20);
        bytes.extend_from_slice(&dimensions.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&UUID_OID.to_be_bytes());
        if !ids.is_empty() {
            bytes.extend_from_slice(&(ids.len() as i32).to_be_bytes());
            bytes.extend_from_slice(&1i32.to_be_bytes());
            for id in ids {
                bytes.extend_from_slice(&16i32.to_be_bytes());
                bytes.extend_from_slice(id.as_bytes());
            }
        }
        self.field(&bytes);
    }

    /// A jsonb value from its JSON text (binary jsonb is a version byte and the text).
    pub(crate) fn jsonb(&mut self, json: &str) {
        self.buf
            .extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub(crate) fn opt_jsonb(&mut self, json: Option<&str>) {
        match json {
            Some(json) => self.jsonb(json),
            None => self.null(),
        }
    }

    /// Sends the rows with `statement`, a `COPY … FROM STDIN WITH (FORMAT binary)`.
    pub(crate) async fn send(
        mut self,
        conn: &mut PgConnection,
        statement: &str,
    ) -> Result<(), sqlx::Error> {
        if self.rows == 0 {
            return Ok(());
        }
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(self.buf.as_slice()).await?;
        copy.finish().await?;
        if self.buf.capacity() <= SPARE_MAX_BYTES {
            if let Ok(mut spare) = SPARE.lock() {
                if spare.len() < SPARE_BUFFERS {
                    spare.push(std::mem::take(&mut self.buf));
                }
            }
        }
        Ok(())
    }
}
