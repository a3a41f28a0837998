//! Durable objects: each object is addressed by a namespace and an ID, has at most one live instance
//! at a time, owns a SQLite database (KV and SQL APIs, transactions, an alarm), and is evicted when
//! idle and revived on demand with its storage intact.
//!
//! Two seams let other backends in without touching callers: a [`Coordinator`] decides which node
//! owns an object (leases with fencing epochs) and an [`ObjectStore`] keeps objects' databases and
//! makes commits durable. The embedded backends are [`LocalCoordinator`] and [`FileStore`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), keel_objects::ObjectError> {
//! use keel_objects::{HostConfig, Namespace, ObjectHost};
//! let host = ObjectHost::open_embedded("./.keel", HostConfig::default())?;
//! let chat = host.get_named(&Namespace::new("chat")?, "alice").await?;
//! chat.storage().put("greeting", serde_json::json!("hello")).await?; // durable when it returns
//! # Ok(()) }
//! ```

mod actor;
mod alarms;
mod config;
mod coordinator;
mod deadline;
mod error;
mod file_store;
pub mod fuzzing;
mod host;
mod id;
mod memory;
mod metrics;
mod schema;
mod sql_guard;
mod storage;
mod store;
pub mod testkit;
mod threads;
mod txn;
mod value;

pub use config::{AnswerBounds, Durability, HostConfig, StorageLimits};
pub use coordinator::{Coordinator, LOCAL_NODE, Lease, LocalCoordinator};
pub use error::ObjectError;
pub use file_store::{FileStore, ObjectInfo};
pub use host::{HandlerError, Object, ObjectHost, ObjectKind};
pub use id::{MAX_NAME_BYTES, MAX_NAMESPACE_BYTES, Namespace, ObjectId, ObjectKey};
pub use metrics::Metrics;
pub use schema::{Migration, RESERVED_PREFIX};
pub use sql_guard::{
    MAX_COMPOUND_SELECT, MAX_EXPR_DEPTH, MAX_SQL_BYTES, MAX_TRIGGER_DEPTH, MAX_VARIABLES,
};
pub use storage::Storage;
pub use store::{ObjectDatabase, ObjectStore};
pub use txn::{ListEntry, ListOptions, ListPage, Txn};
pub use value::{AnswerCut, SqlResult, SqlValue, Value};
