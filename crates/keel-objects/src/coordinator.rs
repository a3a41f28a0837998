//! The coordinator seam: which node owns an object. One owner at a time, proven by a lease whose
//! epoch only grows, so that a store can refuse commits from an owner that lost its lease (fencing).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::BoxFuture;

use crate::error::ObjectError;
use crate::id::ObjectKey;

/// Proof of ownership of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The object owned.
    pub key: ObjectKey,
    /// Grows with every acquisition of the object; stores fence commits by it.
    pub epoch: u64,
    /// The owning node.
    pub node: String,
    /// When the lease lapses unless renewed; `None` for a lease that never lapses (one process).
    pub expires_at: Option<Instant>,
}

/// Decides which node owns an object. Every backend must pass [`crate::testkit::coordinator_suite`].
pub trait Coordinator: Send + Sync + 'static {
    /// Takes ownership of `key` for this node, or fails with [`ObjectError::Fenced`] if another
    /// activation holds it.
    fn acquire<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Lease, ObjectError>>;
    /// Extends a lease; fails with [`ObjectError::Fenced`] if it was lost.
    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Lease, ObjectError>>;
    /// Gives ownership up. Releasing a lease that is no longer current does nothing.
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), ObjectError>>;
    /// The node that owns `key` now, if any.
    fn lookup<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>>;
}

/// The embedded coordinator: every object is owned by this process; the data-dir lock keeps other
/// processes out, and this map keeps two activations within the process apart.
#[derive(Debug, Default)]
pub struct LocalCoordinator {
    state: Mutex<LocalState>,
}

#[derive(Debug, Default)]
struct LocalState {
    next_epoch: u64,
    held: HashMap<ObjectKey, u64>,
}

/// The node name of the embedded coordinator.
pub const LOCAL_NODE: &str = "local";

impl LocalCoordinator {
    /// An empty coordinator.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        // The map holds plain data; a panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Coordinator for LocalCoordinator {
    fn acquire<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Lease, ObjectError>> {
        Box::pin(async move {
            let mut state = self.lock();
            if state.held.contains_key(key) {
                return Err(ObjectError::Fenced(key.to_string()));
            }
            state.next_epoch += 1;
            let epoch = state.next_epoch;
            state.held.insert(key.clone(), epoch);
            Ok(Lease {
                key: key.clone(),
                epoch,
                node: LOCAL_NODE.into(),
                expires_at: None,
            })
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Lease, ObjectError>> {
        Box::pin(async move {
            match self.lock().held.get(&lease.key) {
                Some(&epoch) if epoch == lease.epoch => Ok(lease.clone()),
                _ => Err(ObjectError::Fenced(lease.key.to_string())),
            }
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), ObjectError>> {
        Box::pin(async move {
            let mut state = self.lock();
            if state.held.get(&lease.key) == Some(&lease.epoch) {
                state.held.remove(&lease.key);
            }
            Ok(())
        })
    }

    fn lookup<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        Box::pin(async move { Ok(self.lock().held.get(key).map(|_| LOCAL_NODE.to_string())) })
    }
}
