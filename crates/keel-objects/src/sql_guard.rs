//! SQL from outside keel (a tool's caller, so possibly a model steered by a page it read) runs under
//! rules: an SQLite authorizer on every object connection, active only while such a statement is
//! prepared and run, and SQLite's own limits, set on every connection.
//!
//! The authorizer keeps guarded SQL inside its object's own database: no ATTACH (which would open
//! any file the process can reach, another object's among them), no transaction control (every
//! call is one transaction of keel's group commit), PRAGMAs only from a read-only list, nothing
//! made in the `temp` schema (it lives outside the object's size limit, and a temp table named
//! like keel's would shadow it), and keel's internal tables (`_keel_*`) out of reach: not read,
//! written, dropped, altered, indexed or triggered on. Keel's own statements run with the
//! authorizer idle. A new name the authorizer is not told (`RENAME TO`) is checked after the
//! statement (`Txn::guarded_sql`).

use std::cell::{Cell, RefCell};

use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;

use crate::config::StorageLimits;
use crate::schema::RESERVED_PREFIX;

/// Longest SQL text, in bytes (also for keel's own statements: none comes near it).
pub const MAX_SQL_BYTES: i32 = 1 << 20;
/// Deepest expression tree (SQLite's default is 1000; each level is recursion in the parser).
pub const MAX_EXPR_DEPTH: i32 = 200;
/// Most terms of a compound SELECT (`UNION`, `EXCEPT`, …).
pub const MAX_COMPOUND_SELECT: i32 = 100;
/// Highest parameter number (`?N`).
pub const MAX_VARIABLES: i32 = 999;
/// Deepest chain of triggers firing triggers.
pub const MAX_TRIGGER_DEPTH: i32 = 32;

/// PRAGMAs that only read the schema or the file's shape: the only ones guarded SQL may run, each
/// with whether it takes an argument (a table or index to read, or a check's limit); the others
/// are refused with one (`page_size = 512` writes). `database_list` is not here: it shows the data
/// directory's path.
const READ_ONLY_PRAGMAS: &[(&str, bool)] = &[
    ("table_info", true),
    ("table_xinfo", true),
    ("table_list", true),
    ("index_list", true),
    ("index_info", true),
    ("index_xinfo", true),
    ("foreign_key_list", true),
    ("foreign_key_check", true),
    ("integrity_check", true),
    ("quick_check", true),
    ("collation_list", false),
    ("page_count", false),
    ("freelist_count", false),
    ("page_size", false),
    ("data_version", false),
];

/// Virtual-table modules guarded SQL may create (full-text search and R*Tree indexes).
const VIRTUAL_TABLE_MODULES: &[&str] = &["fts5", "fts4", "fts3", "rtree", "rtree_i32"];

/// Functions guarded SQL may not call.
const REFUSED_FUNCTIONS: &[&str] = &["load_extension", "fts3_tokenizer"];

thread_local! {
    /// True while a guarded statement is prepared or run on this thread (a connection is only
    /// ever used on its object's storage thread).
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// Why the authorizer last refused something, for the error the caller gets.
    static REFUSAL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sets SQLite's limits and installs the authorizer on a new object connection.
pub(crate) fn install(conn: &mut Connection, limits: &StorageLimits) -> rusqlite::Result<()> {
    // A row holds a key and a value (the KV table): the longest string or blob SQL may build is
    // what a value may be, so `randomblob(1e9)` or `zeroblob` fail at once instead of filling memory.
    let max_length = (limits.max_value_bytes as u64 + limits.max_key_bytes as u64 + 4096)
        .min(i32::MAX as u64) as i32;
    for (limit, value) in [
        (Limit::SQLITE_LIMIT_LENGTH, max_length),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES),
        (Limit::SQLITE_LIMIT_EXPR_DEPTH, MAX_EXPR_DEPTH),
        (Limit::SQLITE_LIMIT_COMPOUND_SELECT, MAX_COMPOUND_SELECT),
        (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, MAX_VARIABLES),
        (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, MAX_TRIGGER_DEPTH),
        (Limit::SQLITE_LIMIT_ATTACHED, 0),
        (Limit::SQLITE_LIMIT_WORKER_THREADS, 0),
    ] {
        conn.set_limit(limit, value)?;
    }
    conn.authorizer(Some(|cx: AuthContext<'_>| {
        if !GUARDED.with(Cell::get) {
            return Authorization::Allow;
        }
        match verdict(&cx) {
            Ok(()) => Authorization::Allow,
            Err(reason) => {
                REFUSAL.with(|r| *r.borrow_mut() = Some(reason));
                Authorization::Deny
            }
        }
    }))
}

/// Runs `f` with the authorizer enforcing the rules; returns its result and, when the authorizer
/// refused something, why.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> (T, Option<String>) {
    REFUSAL.with(|r| r.borrow_mut().take());
    let previous = GUARDED.with(|g| g.replace(true));
    let result = f();
    GUARDED.with(|g| g.set(previous));
    (result, REFUSAL.with(|r| r.borrow_mut().take()))
}

/// Runs `f` with the limit on attached databases lifted to one (`VACUUM INTO` attaches its target).
pub(crate) fn with_one_attachment<T>(conn: &Connection, f: impl FnOnce() -> T) -> T {
    let previous = conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 1).ok();
    let result = f();
    if let Some(previous) = previous {
        let _ = conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, previous);
    }
    result
}

/// Whether `name` is in keel's own name space (`_keel_*`, any case, as SQLite compares names).
pub(crate) fn is_internal(name: &str) -> bool {
    name.get(..RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}

fn internal_table(table: &str) -> String {
    format!(
        "{table} is one of keel's internal tables ({RESERVED_PREFIX}*), which SQL cannot read or change; use the KV tools for KV entries"
    )
}

/// Whether guarded SQL may do `cx.action`, and if not, why (in words the caller can act on).
fn verdict(cx: &AuthContext<'_>) -> Result<(), String> {
    use AuthAction as A;
    // Nothing is made or changed outside the object's own database: in `temp`, a table would
    // shadow keel's (a temp `_keel_kv` made by `CREATE TABLE temp.t` and a rename), outside the
    // object's size limit. Reading it, and SQLite's own bookkeeping of its schema table (an
    // ALTER TABLE in main updates it), stay allowed.
    if let Some(db) = cx.database_name
        && !db.eq_ignore_ascii_case("main")
    {
        let bookkeeping = matches!(
            cx.action,
            A::Insert { table_name } | A::Update { table_name, .. } | A::Delete { table_name }
                if table_name.eq_ignore_ascii_case("sqlite_temp_master")
                    || table_name.eq_ignore_ascii_case("sqlite_master")
        );
        if !bookkeeping && !matches!(cx.action, A::Read { .. } | A::Select | A::Function { .. }) {
            return Err(format!(
                "the {db:?} schema is not allowed (no temporary tables, views, triggers or indexes): SQL reaches only the object's own database; create ordinary ones"
            ));
        }
    }
    let internal = |name: &str| {
        if is_internal(name) {
            Err(internal_table(name))
        } else {
            Ok(())
        }
    };
    match cx.action {
        A::Select | A::Recursive => Ok(()),
        A::Read { table_name, .. }
        | A::Insert { table_name }
        | A::Update { table_name, .. }
        | A::Delete { table_name }
        | A::CreateTable { table_name }
        | A::DropTable { table_name }
        | A::AlterTable { table_name, .. }
        | A::Analyze { table_name } => internal(table_name),
        A::CreateIndex {
            index_name,
            table_name,
        }
        | A::DropIndex {
            index_name,
            table_name,
        }
        | A::CreateTrigger {
            trigger_name: index_name,
            table_name,
        }
        | A::DropTrigger {
            trigger_name: index_name,
            table_name,
        } => internal(index_name).and(internal(table_name)),
        A::CreateView { view_name } | A::DropView { view_name } => internal(view_name),
        A::Reindex { index_name } => internal(index_name),
        A::CreateVtable {
            table_name,
            module_name,
        } => {
            internal(table_name)?;
            if VIRTUAL_TABLE_MODULES.contains(&module_name.to_ascii_lowercase().as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "virtual tables of module {module_name:?} are not allowed (allowed: {})",
                    VIRTUAL_TABLE_MODULES.join(", ")
                ))
            }
        }
        A::DropVtable { table_name, .. } => internal(table_name),
        A::Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            let allowed = READ_ONLY_PRAGMAS
                .iter()
                .any(|(p, argument)| *p == name && (pragma_value.is_none() || *argument));
            if allowed {
                Ok(())
            } else {
                Err(format!(
                    "PRAGMA {pragma_name}{} is not allowed: only these read-only PRAGMAs are ({}); durability, limits and the file's settings are keel's",
                    pragma_value.map(|v| format!(" = {v}")).unwrap_or_default(),
                    READ_ONLY_PRAGMAS
                        .iter()
                        .map(|(p, _)| *p)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        A::Attach { .. } | A::Detach { .. } => Err(
            "ATTACH and DETACH are not allowed: SQL reaches only this object's own database".into(),
        ),
        A::Transaction { .. } | A::Savepoint { .. } => Err(
            "BEGIN, COMMIT, ROLLBACK and SAVEPOINT are not allowed: each call is already one transaction of its own".into(),
        ),
        A::Function { function_name }
            if REFUSED_FUNCTIONS.contains(&function_name.to_ascii_lowercase().as_str()) =>
        {
            Err(format!("the function {function_name}() is not allowed"))
        }
        A::Function { .. } => Ok(()),
        _ => Err(format!("this statement is not allowed ({:?})", cx.action)),
    }
}
