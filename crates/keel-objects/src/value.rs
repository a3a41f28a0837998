//! Values stored by the KV API and the typed cells of SQL results.

use serde::Serialize;

use crate::error::ObjectError;

/// A KV value: JSON or raw bytes. Both round-trip exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A JSON document (stored as its text).
    Json(serde_json::Value),
    /// Opaque bytes.
    Bytes(Vec<u8>),
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Self::Json(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}

/// How a value is tagged in the `_keel_kv` table.
pub(crate) const KIND_JSON: i64 = 0;
pub(crate) const KIND_BYTES: i64 = 1;

impl Value {
    /// Encodes for storage: the tag and the bytes.
    pub(crate) fn encode(&self) -> Result<(i64, Vec<u8>), ObjectError> {
        match self {
            Value::Json(v) => serde_json::to_vec(v).map(|b| (KIND_JSON, b)).map_err(|e| {
                ObjectError::InvalidValue(format!("value is not encodable JSON: {e}"))
            }),
            Value::Bytes(b) => Ok((KIND_BYTES, b.clone())),
        }
    }

    /// Decodes what [`Value::encode`] stored.
    pub(crate) fn decode(kind: i64, bytes: Vec<u8>) -> Result<Self, ObjectError> {
        match kind {
            KIND_BYTES => Ok(Value::Bytes(bytes)),
            _ => serde_json::from_slice(&bytes)
                .map(Value::Json)
                .map_err(|e| {
                    ObjectError::InvalidValue(format!("stored JSON value is unreadable: {e}"))
                }),
        }
    }

    /// The value as JSON: bytes become `{"$bytes": "<base16>"}` so nothing is lost in a dump.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Json(v) => v.clone(),
            Value::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                serde_json::json!({ "$bytes": hex })
            }
        }
    }
}

/// A SQL parameter or result cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// A blob.
    Blob(Vec<u8>),
}

impl SqlValue {
    /// Converts a JSON parameter: numbers, strings, booleans and null map directly; arrays and
    /// objects are bound as their JSON text (so SQLite's JSON functions can read them).
    pub fn from_json(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => SqlValue::Null,
            serde_json::Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => SqlValue::Integer(i),
                None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        }
    }

    /// At most how many bytes a cell takes in a JSON answer, without converting it: text counts
    /// its escapes (a NUL is `\u0000`, six bytes) and what invalid UTF-8 becomes.
    pub fn json_bytes(cell: &rusqlite::types::ValueRef<'_>) -> usize {
        use rusqlite::types::ValueRef;
        match cell {
            ValueRef::Null => 4,
            ValueRef::Integer(_) | ValueRef::Real(_) => 24,
            ValueRef::Text(t) => {
                // Invalid UTF-8 becomes U+FFFD, three bytes for each bad byte at most.
                let other = if std::str::from_utf8(t).is_ok() { 1 } else { 3 };
                2 + t
                    .iter()
                    .map(|&b| match b {
                        b'"' | b'\\' => 2,
                        0..0x20 => 6,
                        0x80.. => other,
                        _ => 1,
                    })
                    .sum::<usize>()
            }
            ValueRef::Blob(b) => 2 * b.len() + 14,
        }
    }

    /// The cell as JSON (blobs as `{"$bytes": hex}`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SqlValue::Null => serde_json::Value::Null,
            SqlValue::Integer(i) => (*i).into(),
            SqlValue::Real(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            SqlValue::Text(s) => s.clone().into(),
            SqlValue::Blob(b) => Value::Bytes(b.clone()).to_json(),
        }
    }
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(i) => ValueRef::Integer(*i),
            SqlValue::Real(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl From<rusqlite::types::ValueRef<'_>> for SqlValue {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(i) => SqlValue::Integer(i),
            ValueRef::Real(f) => SqlValue::Real(f),
            ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
        }
    }
}

macro_rules! sql_value_from {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for SqlValue {
            fn from(v: $t) -> Self { SqlValue::$variant(v.into()) }
        }
    )*};
}
sql_value_from!(i64 => Integer, i32 => Integer, f64 => Real, String => Text, &str => Text, Vec<u8> => Blob);

/// The result of one SQL statement: column names, typed rows, and the count of rows a write changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SqlResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<SqlValue>>,
    /// Rows inserted, updated or deleted by the statement (0 for reads).
    pub rows_written: u64,
    /// Set when the answer stopped at its bounds ([`Txn::guarded_sql`](crate::Txn::guarded_sql)).
    pub cut: Option<AnswerCut>,
}

/// Where a guarded statement's answer stopped, and how much it left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerCut {
    /// The bound it met, as words: `"10000 rows"`, `"1048576 bytes"`.
    pub bound: String,
    /// Rows the statement produced past the bound.
    pub rows_left_out: u64,
    /// False when counting them stopped at the statement time limit: there were at least that many.
    pub counted_all: bool,
}

impl SqlResult {
    /// Rows as JSON objects keyed by column name.
    pub fn rows_as_json(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|row| {
                let map = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.clone(), v.to_json()))
                    .collect();
                serde_json::Value::Object(map)
            })
            .collect()
    }
}
