//! `Txn`: the synchronous KV and SQL API over one object's database. Every storage call, and every
//! transaction closure, runs through it on the object's storage thread.

use std::cell::Cell;
use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::config::{AnswerBounds, StorageLimits};
use crate::error::ObjectError;
use crate::value::{AnswerCut, SqlResult, SqlValue, Value};

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

/// A page of [`Txn::list_within`].
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// The entries, in the order asked for.
    pub entries: Vec<ListEntry>,
    /// The key the next page starts at (as `start`), when entries were left out.
    pub next: Option<String>,
}

/// One entry of a [`ListPage`].
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// The key.
    pub key: String,
    /// The value; `None` when it alone is larger than the page may be.
    pub value: Option<Value>,
    /// Bytes the value takes in storage.
    pub size: usize,
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

    /// The value under `key`, or an error naming the limit when it is stored in more than
    /// `max_bytes` (it is not read then).
    pub fn get_within(&self, key: &str, max_bytes: usize) -> Result<Option<Value>, ObjectError> {
        self.check_key(key)?;
        let row: Option<(i64, i64, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached(
                "SELECT kind, length(value), CASE WHEN length(value) <= ?2 THEN value END
                 FROM _keel_kv WHERE key = ?1",
            )
            .and_then(|mut s| {
                s.query_row((key, max_bytes.min(i64::MAX as usize) as i64), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        match row {
            None => Ok(None),
            Some((kind, _, Some(bytes))) => Value::decode(kind, bytes).map(Some),
            Some((_, size, None)) => Err(ObjectError::LimitExceeded(format!(
                "the value under {:?} is {size} bytes, more than an answer may carry ({max_bytes} bytes): store it as smaller entries",
                crate::id::truncate(key, 80)
            ))),
        }
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
        Ok(self
            .list_within(options, usize::MAX)?
            .entries
            .into_iter()
            .filter_map(|e| Some((e.key, e.value?)))
            .collect())
    }

    /// Like [`Txn::list`], but the entries stop before their keys and stored values pass
    /// `max_bytes`, and [`ListPage::next`] is where the rest begins. An entry larger than
    /// `max_bytes` on its own comes without its value (it is not read).
    pub fn list_within(
        &self,
        options: &ListOptions,
        max_bytes: usize,
    ) -> Result<ListPage, ObjectError> {
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
        // One more than asked for, to know whether there is more.
        let limit = options
            .limit
            .map_or(-1, |l| l.min(i64::MAX as usize - 1) as i64 + 1);
        let sql = format!(
            "SELECT key, kind, length(value), value FROM _keel_kv
             WHERE (?1 IS NULL OR key >= ?1) AND (?2 IS NULL OR key < ?2)
             ORDER BY key {order} LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query((lower, upper, limit)).map_err(|e| self.err(e))?;
        let mut page = ListPage::default();
        let mut bytes = 0usize;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let key: String = row.get(0).map_err(|e| self.err(e))?;
            let size: usize = row.get::<_, i64>(2).map_err(|e| self.err(e))?.max(0) as usize;
            let alone_too_large = key.len() + size > max_bytes;
            let adds = if alone_too_large {
                key.len()
            } else {
                key.len() + size
            };
            bytes = bytes.saturating_add(adds);
            // The first entry always comes (without its value if need be), so paging advances.
            let full = !page.entries.is_empty() && bytes > max_bytes;
            if options.limit.is_some_and(|l| page.entries.len() >= l) || full {
                page.next = Some(key);
                break;
            }
            let value = if alone_too_large {
                None
            } else {
                let kind: i64 = row.get(1).map_err(|e| self.err(e))?;
                let value: Vec<u8> = row.get(3).map_err(|e| self.err(e))?;
                Some(Value::decode(kind, value)?)
            };
            page.entries.push(ListEntry { key, value, size });
        }
        Ok(page)
    }

    /// Runs one SQL statement with bound parameters. For keel's own SQL and the operator's: SQL
    /// that comes from a tool's caller goes through [`Txn::guarded_sql`].
    pub fn sql(&self, query: &str, params: &[SqlValue]) -> Result<SqlResult, ObjectError> {
        crate::deadline::with_limit(self.limits.max_statement_time, || {
            self.run_sql(query, params, None)
        })
    }

    /// Runs one SQL statement that came from outside keel: it may reach only this object's own
    /// tables (see `sql_guard`: no ATTACH, no transaction control, read-only PRAGMAs, keel's
    /// internal tables out of reach), and its answer stops at `bounds`, saying how many rows were
    /// left out. Building the answer counts against the statement time limit.
    pub fn guarded_sql(
        &self,
        query: &str,
        params: &[SqlValue],
        bounds: &AnswerBounds,
    ) -> Result<SqlResult, ObjectError> {
        let before = self.internal_names()?;
        let (result, refusal) = crate::sql_guard::guarded(|| {
            crate::deadline::with_limit(self.limits.max_statement_time, || {
                self.run_sql(query, params, Some(bounds))
            })
        });
        let result = match (result, refusal) {
            (Err(_), Some(reason)) => return Err(ObjectError::NotAllowed(reason)),
            (result, _) => result?,
        };
        // The authorizer is not told a new name (`ALTER TABLE t RENAME TO _keel_x`): a write that
        // made a name in keel's space fails, and its call's savepoint undoes it.
        if before != self.internal_names()? {
            return Err(ObjectError::NotAllowed(format!(
                "names starting with {} are keel's own: choose another name",
                crate::schema::RESERVED_PREFIX
            )));
        }
        Ok(result)
    }

    /// Names of keel's own schema objects (`_keel_*`), in order.
    fn internal_names(&self) -> Result<Vec<String>, ObjectError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM sqlite_schema ORDER BY name")
            .map_err(|e| self.err(e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(names
            .into_iter()
            .filter(|n| crate::sql_guard::is_internal(n))
            .collect())
    }

    /// A SQLite error of a statement: a statement stopped at its deadline says which limit it hit.
    fn statement_err(&self, e: rusqlite::Error) -> ObjectError {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            return ObjectError::LimitExceeded(format!(
                "the SQL statement ran longer than the limit of {:.1} s and was stopped (max_statement_time)",
                self.limits.max_statement_time.as_secs_f64()
            ));
        }
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
            return ObjectError::LimitExceeded(format!(
                "a string or blob the statement built is larger than the limit of {} bytes (max_value_bytes)",
                self.limits.max_value_bytes
            ));
        }
        self.err(e)
    }

    fn run_sql(
        &self,
        query: &str,
        params: &[SqlValue],
        bounds: Option<&AnswerBounds>,
    ) -> Result<SqlResult, ObjectError> {
        let mut stmt = self
            .conn
            .prepare(query)
            .map_err(|e| self.statement_err(e))?;
        let expected = stmt.parameter_count();
        if expected != params.len() {
            return Err(ObjectError::Sql(format!(
                "the statement takes {expected} parameter(s) but {} were given",
                params.len()
            )));
        }
        let readonly = stmt.readonly();
        // `changes()` keeps the count of the last INSERT/UPDATE/DELETE through DDL; the total
        // before and after says what this statement wrote (0 for `CREATE TABLE`).
        let written_before = self.conn.total_changes();
        if !readonly {
            self.wrote.set(true);
        }
        let columns: Vec<String> = stmt.column_names().map(String::from).collect();
        // What one cell's column name adds to the answer (`"name":` in a JSON object).
        let name_bytes: Vec<usize> = columns.iter().map(|c| c.len() + 4).collect();
        let mut result = SqlResult {
            columns,
            ..Default::default()
        };
        let width = result.columns.len();
        let mut answer_bytes = 2;
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(|e| self.statement_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.statement_err(e))? {
            let mut cells = Vec::with_capacity(width);
            let mut row_bytes = 2;
            for (i, name) in name_bytes.iter().enumerate() {
                let cell = row.get_ref(i).map_err(|e| self.statement_err(e))?;
                row_bytes += name + SqlValue::json_bytes(&cell);
                if bounds.is_some_and(|b| answer_bytes + row_bytes > b.max_bytes) {
                    break;
                }
                cells.push(SqlValue::from(cell));
            }
            let cut = bounds.and_then(|b| {
                if answer_bytes + row_bytes > b.max_bytes {
                    Some(format!("{} bytes", b.max_bytes))
                } else if result.rows.len() >= b.max_rows {
                    Some(format!("{} rows", b.max_rows))
                } else {
                    None
                }
            });
            if let Some(bound) = cut {
                // Count what is left without keeping it; a write (RETURNING) must run to its end
                // anyway, a read stops counting at the deadline.
                let mut left_out: u64 = 1;
                let counted_all = loop {
                    match rows.next() {
                        Ok(Some(_)) => left_out += 1,
                        Ok(None) => break true,
                        Err(e)
                            if readonly
                                && e.sqlite_error_code()
                                    == Some(rusqlite::ErrorCode::OperationInterrupted) =>
                        {
                            break false;
                        }
                        Err(e) => return Err(self.statement_err(e)),
                    }
                };
                result.cut = Some(AnswerCut {
                    bound,
                    rows_left_out: left_out,
                    counted_all,
                });
                break;
            }
            answer_bytes += row_bytes;
            result.rows.push(cells);
        }
        drop(rows);
        if !readonly {
            result.rows_written = self.conn.total_changes() - written_before;
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
