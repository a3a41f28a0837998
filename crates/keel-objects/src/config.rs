//! Limits and timings of the object runtime, with the defaults a user gets.

use std::time::Duration;

/// Per-object storage limits.
#[derive(Debug, Clone)]
pub struct StorageLimits {
    /// Longest KV key, in bytes.
    pub max_key_bytes: usize,
    /// Largest KV value (and largest SQL cell written through the KV API), in bytes.
    pub max_value_bytes: usize,
    /// Largest database file of one object, in bytes.
    pub max_object_bytes: u64,
    /// SQLite page cache per live object, in KiB (memory per live object is about this).
    pub cache_kib: u32,
    /// Largest number of jobs committed together in one group commit.
    pub max_batch: usize,
    /// A SQL statement running longer than this is stopped with an error, so a runaway query
    /// cannot hold its object's storage thread.
    pub max_statement_time: std::time::Duration,
    /// When a commit counts as done; set per kind by [`ObjectKind::durability`](crate::ObjectKind::durability).
    pub durability: Durability,
}

/// When a commit of an object counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync at every commit: a returned write survives a power loss.
    #[default]
    Full,
    /// Written to the operating system at every commit and fsynced at checkpoints: a returned write
    /// survives a crash of the process (`kill -9`), not a power loss. For data that can be
    /// rebuilt or whose loss is harmless (logs, caches), where an fsync per commit costs too much.
    Relaxed,
}

impl Default for StorageLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 2048,
            max_value_bytes: 32 << 20,
            max_object_bytes: 10 << 30,
            cache_kib: 512,
            max_batch: 512,
            max_statement_time: std::time::Duration::from_secs(10),
            durability: Durability::Full,
        }
    }
}

/// How large an answer to SQL from outside keel may be ([`Txn::guarded_sql`](crate::Txn::guarded_sql)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerBounds {
    /// Most rows.
    pub max_rows: usize,
    /// Most bytes of the rows as JSON objects (about).
    pub max_bytes: usize,
}

impl Default for AnswerBounds {
    fn default() -> Self {
        Self {
            max_rows: 10_000,
            max_bytes: 1 << 20,
        }
    }
}

/// Configuration of an [`ObjectHost`](crate::ObjectHost).
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// An object unused for this long is evicted (its connection closed, its memory freed).
    pub idle_timeout: Duration,
    /// At most this many objects are live; beyond it the least recently used idle ones are evicted.
    pub max_live_objects: usize,
    /// Storage limits applied to every object.
    pub limits: StorageLimits,
    /// First retry delay of a failed alarm handler; each retry doubles it.
    pub alarm_retry_base: Duration,
    /// Retries of a failing alarm handler before the alarm is dropped.
    pub alarm_max_retries: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(60),
            max_live_objects: 4096,
            limits: StorageLimits::default(),
            alarm_retry_base: Duration::from_secs(1),
            alarm_max_retries: 6,
        }
    }
}
