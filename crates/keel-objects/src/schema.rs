//! The runtime's own tables inside every object's database, and kind migrations.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use crate::error::ObjectError;
use crate::txn::Txn;

/// Prefix of the runtime's own tables; user SQL should leave them alone.
pub const RESERVED_PREFIX: &str = "_keel_";

/// Created in one transaction the first time an object opens. The KV table is a rowid table (not
/// WITHOUT ROWID) because values may be megabytes, which WITHOUT ROWID b-trees handle poorly.
pub(crate) const INTERNAL_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _keel_meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS _keel_kv (key TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL, value BLOB NOT NULL);
";

/// A step that brings an object of a kind from `version - 1` to `version`.
#[derive(Clone)]
pub struct Migration {
    /// 1 for the first migration, then 2, 3, … without gaps.
    pub version: u32,
    step: MigrationStep,
}

/// A migration step written in Rust.
type MigrationFn = dyn Fn(&Txn<'_>) -> Result<(), ObjectError> + Send + Sync;

#[derive(Clone)]
enum MigrationStep {
    Sql(Arc<str>),
    Func(Arc<MigrationFn>),
}

impl Migration {
    /// A migration that runs SQL (several statements allowed).
    pub fn sql(version: u32, sql: impl Into<Arc<str>>) -> Self {
        Self {
            version,
            step: MigrationStep::Sql(sql.into()),
        }
    }

    /// A migration written in Rust against the object's storage.
    pub fn func(
        version: u32,
        f: impl Fn(&Txn<'_>) -> Result<(), ObjectError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            version,
            step: MigrationStep::Func(Arc::new(f)),
        }
    }
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .finish()
    }
}

/// Checks that versions run 1, 2, 3, … so that a gap or a duplicate is caught at registration.
pub(crate) fn validate_migrations(
    namespace: &str,
    migrations: &[Migration],
) -> Result<(), ObjectError> {
    for (i, m) in migrations.iter().enumerate() {
        let expected = i as u32 + 1;
        if m.version != expected {
            return Err(ObjectError::Handler(
                format!(
                    "migrations of namespace {namespace:?} must be numbered 1, 2, 3, … in order: found {} where {expected} belongs",
                    m.version
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// What the init transaction needs to know about the object.
pub(crate) struct Identity<'a> {
    pub namespace: &'a str,
    pub id: &'a str,
    pub name: Option<&'a str>,
}

/// Runs inside the open transaction: the internal tables, identity rows, then every migration newer
/// than the stored `user_version`. Returns whether anything changed.
pub(crate) fn initialize(
    txn: &Txn<'_>,
    identity: &Identity<'_>,
    migrations: &[Migration],
) -> Result<bool, ObjectError> {
    let conn = txn.connection();
    let label = txn.label();
    let sql_err = |e| ObjectError::from_sqlite(label, e);
    let has_meta: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE name = '_keel_meta'",
            [],
            |_| Ok(true),
        )
        .optional()
        .map_err(sql_err)?
        .unwrap_or(false);
    let mut changed = false;
    if !has_meta {
        conn.execute_batch(INTERNAL_SCHEMA).map_err(sql_err)?;
        let mut insert = conn
            .prepare("INSERT OR IGNORE INTO _keel_meta (key, value) VALUES (?1, ?2)")
            .map_err(sql_err)?;
        insert
            .execute(("namespace", identity.namespace))
            .map_err(sql_err)?;
        insert.execute(("id", identity.id)).map_err(sql_err)?;
        changed = true;
    }
    if let Some(name) = identity.name {
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO _keel_meta (key, value) VALUES ('name', ?1)",
                [name],
            )
            .map_err(sql_err)?;
        changed |= n > 0;
    }
    let current: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    for m in migrations.iter().filter(|m| m.version > current) {
        let result = match &m.step {
            MigrationStep::Sql(sql) => conn.execute_batch(sql).map_err(sql_err),
            MigrationStep::Func(f) => f(txn),
        };
        result.map_err(|e| {
            ObjectError::Handler(
                format!("migration {} of object {label} failed: {e}", m.version).into(),
            )
        })?;
        changed = true;
    }
    if let Some(last) = migrations.last().filter(|m| m.version > current) {
        conn.execute_batch(&format!("PRAGMA user_version = {}", last.version))
            .map_err(sql_err)?;
    }
    Ok(changed)
}

/// Reads one row of `_keel_meta` from any connection (used by inspection and restore).
pub(crate) fn read_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT CAST(value AS TEXT) FROM _keel_meta WHERE key = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()
}
