//! The errors callers of the object runtime branch on.

use std::sync::Arc;

/// What went wrong with an object or its storage. Every message says what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObjectError {
    /// A namespace, ID or name is malformed or too long.
    #[error("{0}")]
    InvalidId(String),
    /// A key, value or object exceeds a configured limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// A value could not be encoded or decoded.
    #[error("{0}")]
    InvalidValue(String),
    /// The caller's SQL does something guarded SQL may not (ATTACH, a PRAGMA that writes, keel's
    /// internal tables); the message says what and why.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The caller's SQL failed (syntax, constraint, wrong parameters).
    #[error("SQL error: {0}")]
    Sql(String),
    /// The object's database file is damaged or is not a database.
    #[error(
        "storage of object {object} is corrupt: {detail}; restore it with `keel objects import` or delete its file"
    )]
    Corrupt {
        /// The object, as `namespace/id`.
        object: String,
        /// What SQLite reported.
        detail: String,
    },
    /// The object's database is locked by something outside this runtime.
    #[error("storage of object {object} is locked by another process: {detail}")]
    Locked {
        /// The object, as `namespace/id`.
        object: String,
        /// What SQLite reported.
        detail: String,
    },
    /// The data directory is locked by another process.
    #[error(
        "data directory {dir} is in use by another keel process{holder}: stop it first, or use another --data directory"
    )]
    DataDirInUse {
        /// The data directory.
        dir: String,
        /// ` (pid N)` when known.
        holder: String,
    },
    /// The disk (or the object's size limit) is full.
    #[error(
        "storage of object {object} is full: {detail}; free disk space, delete data, or raise the object size limit"
    )]
    Full {
        /// The object, as `namespace/id`.
        object: String,
        /// What was full.
        detail: String,
    },
    /// Reading or writing the object's files failed.
    #[error("storage I/O error on object {object}: {detail}")]
    Io {
        /// The object, as `namespace/id`.
        object: String,
        /// What the OS or SQLite reported.
        detail: String,
    },
    /// A newer activation of this object exists elsewhere: this one must stop writing.
    #[error("object {0} is now owned by a newer activation; retry the call")]
    Fenced(String),
    /// The object was closed (evicted or shut down) while the call was queued; retrying reactivates it.
    #[error("object {0} was closed while the call was in flight; retry the call")]
    Closed(String),
    /// The runtime is shutting down and takes no new work.
    #[error("the object runtime is shutting down")]
    ShuttingDown,
    /// No object kind is registered for the namespace.
    #[error("no object kind is registered for namespace {0:?}")]
    UnknownNamespace(String),
    /// A transaction closure panicked; its writes were rolled back.
    #[error("transaction panicked and was rolled back: {0}")]
    Panicked(String),
    /// A user-supplied handler (migration, transaction) reported an error.
    #[error("{0}")]
    Handler(Arc<str>),
}

impl ObjectError {
    /// Maps a SQLite error met while working on `object` to the variant a caller can act on.
    pub(crate) fn from_sqlite(object: &str, err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let detail = err.to_string();
        let object = object.to_string();
        match err.sqlite_error_code() {
            Some(C::DatabaseCorrupt | C::NotADatabase) => Self::Corrupt { object, detail },
            Some(C::DatabaseBusy | C::DatabaseLocked) => Self::Locked { object, detail },
            Some(C::DiskFull) => Self::Full { object, detail },
            Some(C::SystemIoFailure | C::CannotOpen | C::ReadOnly | C::PermissionDenied) => {
                Self::Io { object, detail }
            }
            _ => Self::Sql(detail),
        }
    }

    /// True when retrying the same call may succeed (the object was closed or fenced under it).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Closed(_) | Self::Fenced(_) | Self::Locked { .. }
        )
    }
}
