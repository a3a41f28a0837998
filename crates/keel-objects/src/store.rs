//! The object-store seam: where an object's database lives and how its commits become durable.
//! The embedded backend is [`FileStore`](crate::FileStore); a distributed one (PostgreSQL) plugs in
//! behind the same traits. Every backend must pass [`crate::testkit::store_suite`].

use std::path::Path;

use crate::config::StorageLimits;
use crate::coordinator::Lease;
use crate::error::ObjectError;
use crate::id::{Namespace, ObjectKey};

/// Persistent home of all objects. Methods block: the host calls them from an object's own
/// storage thread or from `spawn_blocking`, never from an async task directly.
pub trait ObjectStore: Send + Sync + 'static {
    /// Opens the object's database for the owner holding `lease`, creating it if it does not exist.
    fn open(
        &self,
        lease: &Lease,
        limits: &StorageLimits,
    ) -> Result<Box<dyn ObjectDatabase>, ObjectError>;
    /// Every stored object, optionally of one namespace, in key order.
    fn list(&self, namespace: Option<&Namespace>) -> Result<Vec<ObjectKey>, ObjectError>;
    /// Removes an object that is not live. Returns whether it existed.
    fn delete(&self, key: &ObjectKey) -> Result<bool, ObjectError>;
    /// Writes a consistent, self-describing copy of an object that is not live to `dest`.
    fn snapshot(&self, key: &ObjectKey, dest: &Path) -> Result<(), ObjectError>;
    /// Installs a copy made by [`ObjectStore::snapshot`] (or `Storage::export`); refuses to overwrite
    /// an existing object unless `replace`. Returns the object's key.
    fn restore(&self, src: &Path, replace: bool) -> Result<ObjectKey, ObjectError>;
    /// Records (or with `None`, forgets) the time an object's alarm is due, so it fires after a restart.
    /// The record may hold alarms the object no longer has; it must never miss one it has.
    fn record_alarm(&self, key: &ObjectKey, at_ms: Option<i64>) -> Result<(), ObjectError>;
    /// All recorded alarms.
    fn alarms(&self) -> Result<Vec<(ObjectKey, i64)>, ObjectError>;
}

/// One object's open database, owned by its storage thread. SQL runs on [`ObjectDatabase::connection`];
/// the store decides what makes a commit durable and refuses commits from a stale lease.
pub trait ObjectDatabase: Send {
    /// The SQLite connection holding the object's working state.
    fn connection(&self) -> &rusqlite::Connection;
    /// True when the object did not exist when it was opened. Such an object comes to exist only
    /// with its first commit that has `writes`: opening and reading it leaves nothing behind.
    fn created(&self) -> bool;
    /// Starts a write transaction.
    fn begin(&mut self) -> Result<(), ObjectError>;
    /// Commits the open transaction; when `writes` is true, returns only once it is durable. Fails
    /// with [`ObjectError::Fenced`] (and rolls back) if a newer lease for the object exists. On any
    /// failure the object is as it was before the transaction.
    fn commit(&mut self, writes: bool) -> Result<(), ObjectError>;
    /// Abandons the open transaction, if any.
    fn rollback(&mut self);
    /// Closes the database.
    fn close(self: Box<Self>) -> Result<(), ObjectError>;
}
