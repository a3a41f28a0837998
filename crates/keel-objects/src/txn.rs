//! `Txn`: the synchronous KV and SQL API over one object's database. Every storage call, and every
//! transaction closure, runs through it on the object's storage thread.

use std::cell::Cell;
use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::config::StorageLimits;
use crate::error::ObjectError;
use crate::value::{SqlResult, SqlValue, Value};

/// Which keys [`Txn::list`] returns.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys at or after this.
    pub start: Option<String>,
    /// Only keys before this.
    pub end: Option<String>,
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Descending key order.
    pub reverse: bool,
}

/// Access to one object's storage inside a storage call or a transaction. All of it commits together.
pub struct Txn<'a> {
    conn: &'a Connection,
    limits: &'a StorageLimits,
    label: &'a str,
    wrote: &'a Cell<bool>,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(
        conn: &'a Connection,
        limits: &'a StorageLimits,
        label: &'a str,
        wrote: &'a Cell<bool>,
    ) -> Self {
        Self {
            conn,
            limits,
            label,
            wrote,
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        self.conn
    }

    /// The object as `namespace/id`, for messages.
    pub fn label(&self) -> &str {
        self.label
    }

    fn err(&self, e: rusqlite::Error) -> ObjectError {
        match ObjectError::from_sqlite(self.label, e) {
            ObjectError::Full { object, detail } => ObjectError::Full {
                object,
                detail: format!(
                    "{detail} (the object size limit is {} bytes)",
                    self.limits.max_object_bytes
                ),
            },
            other => other,
        }
    }

    fn check_key(&self, key: &str) -> Result<(), ObjectError> {
        if key.len() > self.limits.max_key_bytes {
            return Err(ObjectError::LimitExceeded(format!(
                "key of {} bytes is longer than the limit of {} bytes",
                key.len(),
                self.limits.max_key_bytes
            )));
        }
        Ok(())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Value>, ObjectError> {
        self.check_key(key)?;
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT kind, value FROM _keel_kv WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        row.map(|(kind, bytes)| Value::decode(kind, bytes))
            .transpose()
    }

    /// The values of those `keys` that exist.
    pub fn get_many(&self, keys: &[String]) -> Result<BTreeMap<String, Value>, ObjectError> {
        let mut out = BTreeMap::new();
        for key in keys {
            if let Some(v) = self.get(key)? {
                out.insert(key.clone(), v);
            }
        }
        Ok(out)
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn put(&self, key: &str, value: &Value) -> Result<(), ObjectError> {
        self.check_key(key)?;
        let (kind, bytes) = value.encode()?;
        if bytes.len() > self.limits.max_value_bytes {
            return Err(ObjectError::LimitExceeded(format!(
                "value of {} bytes for key {:?} is larger than the limit of {} bytes",
                bytes.len(),
                crate::id::truncate(key, 80),
                self.limits.max_value_bytes
            )));
        }
        self.wrote.set(true);
        self.conn
            .prepare_cached(
                "INSERT INTO _keel_kv (key, kind, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value",
            )
            .and_then(|mut s| s.execute((key, kind, bytes)))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Stores several entries.
    pub fn put_many(&self, entries: &[(String, Value)]) -> Result<(), ObjectError> {
        entries.iter().try_for_each(|(k, v)| self.put(k, v))
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool, ObjectError> {
        self.check_key(key)?;
        self.wrote.set(true);
        let n = self
            .conn
            .prepare_cached("DELETE FROM _keel_kv WHERE key = ?1")
            .and_then(|mut s| s.execute([key]))
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Removes several keys; returns how many existed.
    pub fn delete_many(&self, keys: &[String]) -> Result<u64, ObjectError> {
        let mut n = 0;
        for key in keys {
            n += u64::from(self.delete(key)?);
        }
        Ok(n)
    }

    /// Entries in key order (or reverse), filtered by prefix and range.
    pub fn list(&self, options: &ListOptions) -> Result<Vec<(String, Value)>, ObjectError> {
        let mut lower = options.start.clone();
        let mut upper = options.end.clone();
        if let Some(prefix) = options.prefix.as_deref().filter(|p| !p.is_empty()) {
            if lower.as_deref().is_none_or(|s| s < prefix) {
                lower = Some(prefix.to_string());
            }
            if let Some(succ) = prefix_successor(prefix)
                && upper.as_deref().is_none_or(|e| e > succ.as_str())
            {
                upper = Some(succ);
            }
        }
        let order = if options.reverse { "DESC" } else { "ASC" };
        let limit = options
            .limit
            .map_or(-1, |l| l.min(i64::MAX as usize) as i64);
        let sql = format!(
            "SELECT key, kind, value FROM _keel_kv
             WHERE (?1 IS NULL OR key >= ?1) AND (?2 IS NULL OR key < ?2)
             ORDER BY key {order} LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map((lower, upper, limit), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, kind, bytes) = row.map_err(|e| self.err(e))?;
            out.push((key, Value::decode(kind, bytes)?));
        }
        Ok(out)
    }

    /// Runs one SQL statement with bound parameters.
    pub fn sql(&self, query: &str, params: &[SqlValue]) -> Result<SqlResult, ObjectError> {
        let limit = self.limits.max_statement_time;
        crate::deadline::with_limit(limit, || self.run_sql(query, params)).map_err(|e| match e {
            ObjectError::Sql(detail) if detail.contains("interrupted") => {
                ObjectError::LimitExceeded(format!(
                    "the SQL statement ran longer than the limit of {:.1} s and was stopped",
                    limit.as_secs_f64()
                ))
            }
            other => other,
        })
    }

    fn run_sql(&self, query: &str, params: &[SqlValue]) -> Result<SqlResult, ObjectError> {
        let mut stmt = self.conn.prepare(query).map_err(|e| self.err(e))?;
        let expected = stmt.parameter_count();
        if expected != params.len() {
            return Err(ObjectError::Sql(format!(
                "the statement takes {expected} parameter(s) but {} were given",
                params.len()
            )));
        }
        let readonly = stmt.readonly();
        if !readonly {
            self.wrote.set(true);
        }
        let columns: Vec<String> = stmt.column_names().map(String::from).collect();
        let mut result = SqlResult {
            columns,
            ..Default::default()
        };
        let width = result.columns.len();
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(SqlValue::from(row.get_ref(i).map_err(|e| self.err(e))?));
            }
            result.rows.push(cells);
        }
        drop(rows);
        if !readonly {
            result.rows_written = self.conn.changes();
        }
        Ok(result)
    }

    pub(crate) fn meta_alarm(&self) -> Result<Option<i64>, ObjectError> {
        self.conn
            .query_row(
                "SELECT value FROM _keel_meta WHERE key = 'alarm'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub(crate) fn set_meta_alarm(&self, at_ms: Option<i64>) -> Result<(), ObjectError> {
        self.wrote.set(true);
        let result = match at_ms {
            Some(at) => self.conn.execute(
                "INSERT INTO _keel_meta (key, value) VALUES ('alarm', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [at],
            ),
            None => self
                .conn
                .execute("DELETE FROM _keel_meta WHERE key = 'alarm'", []),
        };
        result.map(drop).map_err(|e| self.err(e))
    }
}

/// The smallest string greater than every string that starts with `prefix` (code-point order, which
/// is SQLite's BINARY order for UTF-8), or `None` if no such string exists.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn prefix_successor_bounds_the_prefix_range() {
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }
}
