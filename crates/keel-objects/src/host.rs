//! `ObjectHost`: maps each object key to at most one live instance, activates objects on demand,
//! and evicts them when idle or when too many are live.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::actor::{self, ActorSpec, Msg};
use crate::alarms::{self, AlarmQueue};
use crate::config::HostConfig;
use crate::coordinator::{Coordinator, Lease, LocalCoordinator};
use crate::error::ObjectError;
use crate::file_store::FileStore;
use crate::id::{Namespace, ObjectKey};
use crate::metrics::Metrics;
use crate::schema::{Migration, validate_migrations};
use crate::storage::Storage;
use crate::store::ObjectStore;

/// The error type of user handlers (alarm handlers).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// A kind of object: its namespace, its schema migrations and its alarm handler.
pub trait ObjectKind: Send + Sync + 'static {
    /// The namespace whose objects this kind describes.
    fn namespace(&self) -> Namespace;
    /// Numbered migrations (1, 2, 3, …); the ones newer than an object's version run, once and
    /// atomically, when the object wakes.
    fn migrations(&self) -> Vec<Migration> {
        Vec::new()
    }
    /// Runs when the object's alarm is due. An error retries it with exponential backoff.
    fn on_alarm<'a>(&'a self, object: &'a Object) -> BoxFuture<'a, Result<(), HandlerError>> {
        let _ = object;
        Box::pin(async { Ok(()) })
    }
    /// When a commit of this kind's objects counts as done (default: fsynced).
    fn durability(&self) -> crate::Durability {
        crate::Durability::Full
    }
}

struct KindEntry {
    kind: Arc<dyn ObjectKind>,
    migrations: Arc<[Migration]>,
}

/// One live instance.
struct Live {
    storage: Storage,
    lease: Lease,
    state: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    exclusive: tokio::sync::Mutex<()>,
    delete_after_alarm: AtomicBool,
}

/// Where a key's live instance (if any) is kept. Its async lock serializes activation and eviction
/// of that key, which is what makes activation single.
struct Slot {
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
    last_used_ms: AtomicU64,
}

fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A handle on a live object. While any handle exists the object is not evicted, so hold one for
/// the duration of a request, not longer.
#[derive(Clone)]
pub struct Object {
    live: Arc<Live>,
    slot: Arc<Slot>,
}

impl Object {
    /// The object's key.
    pub fn key(&self) -> &ObjectKey {
        self.live.storage.key()
    }

    /// The object's storage.
    pub fn storage(&self) -> &Storage {
        &self.live.storage
    }

    /// In-memory state of type `T` attached to this activation, created by `init` on first use and
    /// dropped when the object is evicted.
    pub fn state<T: Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self.live.state.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(init()) as Arc<dyn Any + Send + Sync>);
        match Arc::clone(entry).downcast::<T>() {
            Ok(state) => state,
            // The map is keyed by TypeId, so the entry always has type T.
            Err(_) => unreachable!("state map entry has the wrong type"),
        }
    }

    /// Waits for exclusive use of the object: callers that take this run one at a time, as in a
    /// single-threaded actor.
    pub async fn exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.live.exclusive.lock().await
    }

    /// The lease epoch of this activation (grows with every activation).
    pub fn epoch(&self) -> u64 {
        self.live.lease.epoch
    }

    /// From an alarm handler: deletes the object, with its storage, once the handler returns
    /// successfully (an object that expires).
    pub fn delete_after_alarm(&self) {
        self.live.delete_after_alarm.store(true, Ordering::SeqCst);
    }

    pub(crate) fn delete_requested(&self) -> bool {
        self.live.delete_after_alarm.load(Ordering::SeqCst)
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        self.slot.last_used_ms.store(now_ms(), Ordering::Relaxed);
    }
}

pub(crate) struct HostInner {
    pub(crate) config: HostConfig,
    pub(crate) metrics: Arc<Metrics>,
    store: Arc<dyn ObjectStore>,
    coordinator: Arc<dyn Coordinator>,
    kinds: RwLock<HashMap<Namespace, KindEntry>>,
    slots: Mutex<HashMap<ObjectKey, Arc<Slot>>>,
    alarms: Arc<AlarmQueue>,
    shutting_down: AtomicBool,
    sweep: Arc<Notify>,
}

/// Hosts durable objects: activation on demand, single activation per key, idle eviction, alarms.
pub struct ObjectHost {
    inner: Arc<HostInner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ObjectHost {
    /// A host on the embedded backends: a [`FileStore`] over `data_dir` and a [`LocalCoordinator`].
    /// Must be called within a tokio runtime.
    pub fn open_embedded(
        data_dir: impl Into<std::path::PathBuf>,
        config: HostConfig,
    ) -> Result<Self, ObjectError> {
        let store = FileStore::open(data_dir)?;
        Self::new(Arc::new(store), Arc::new(LocalCoordinator::new()), config)
    }

    /// A host over any store and coordinator. Loads pending alarms and starts the eviction and alarm
    /// tasks; must be called within a tokio runtime.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        coordinator: Arc<dyn Coordinator>,
        config: HostConfig,
    ) -> Result<Self, ObjectError> {
        let alarms = Arc::new(AlarmQueue::default());
        for (key, at) in store.alarms()? {
            alarms.schedule(key, at);
        }
        let inner = Arc::new(HostInner {
            config,
            metrics: Arc::new(Metrics::default()),
            store,
            coordinator,
            kinds: RwLock::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            alarms: Arc::clone(&alarms),
            shutting_down: AtomicBool::new(false),
            sweep: Arc::new(Notify::new()),
        });
        let tasks = vec![
            tokio::spawn(run_sweeper(
                Arc::downgrade(&inner),
                Arc::clone(&inner.sweep),
            )),
            tokio::spawn(alarms::run_scheduler(Arc::downgrade(&inner), alarms)),
        ];
        Ok(Self {
            inner,
            tasks: Mutex::new(tasks),
        })
    }

    /// Registers a kind of object. Register kinds before their objects are first used.
    pub fn register(&self, kind: impl ObjectKind) -> Result<(), ObjectError> {
        let namespace = kind.namespace();
        let migrations = kind.migrations();
        validate_migrations(namespace.as_str(), &migrations)?;
        let entry = KindEntry {
            kind: Arc::new(kind),
            migrations: migrations.into(),
        };
        self.inner
            .kinds
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(namespace, entry);
        Ok(())
    }

    /// The live instance of `key`, activating it (and creating the object) if needed.
    pub async fn get(&self, key: &ObjectKey) -> Result<Object, ObjectError> {
        HostInner::get(&self.inner, key, None).await
    }

    /// The object a name reaches in a namespace; the name is recorded in the object for inspection.
    pub async fn get_named(
        &self,
        namespace: &Namespace,
        name: &str,
    ) -> Result<Object, ObjectError> {
        let key = ObjectKey::from_name(namespace, name)?;
        HostInner::get(&self.inner, &key, Some(name)).await
    }

    /// Evicts the object if live and removes it and its storage for good.
    pub async fn delete(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        self.inner.delete(key).await
    }

    /// The store behind this host.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The runtime's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Alarms pending (of live and evicted objects).
    pub fn pending_alarms(&self) -> usize {
        self.inner.alarms.len()
    }

    /// Evicts idle objects now instead of waiting for the next sweep (`max_idle` overrides the
    /// configured idle timeout). Returns how many were evicted.
    pub async fn evict_idle(&self, max_idle: Option<Duration>) -> usize {
        self.inner.sweep_once(max_idle).await
    }

    /// Stops taking new activations, waits up to `grace` for objects in use to be released, and
    /// closes every live object cleanly.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + grace;
        loop {
            self.inner.sweep_once(Some(Duration::ZERO)).await;
            let live = self.inner.metrics.live_objects();
            if live <= 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    live,
                    "objects still in use at the end of the shutdown grace period"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for ObjectHost {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            task.abort();
        }
    }
}

impl HostInner {
    fn slot(&self, key: &ObjectKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(key.clone()).or_insert_with(|| {
            Arc::new(Slot {
                live: tokio::sync::Mutex::new(None),
                last_used_ms: AtomicU64::new(now_ms()),
            })
        }))
    }

    pub(crate) fn kind_for(&self, namespace: &Namespace) -> Option<Arc<dyn ObjectKind>> {
        let kinds = self.kinds.read().unwrap_or_else(|p| p.into_inner());
        kinds.get(namespace).map(|e| Arc::clone(&e.kind))
    }

    pub(crate) async fn get(
        self: &Arc<Self>,
        key: &ObjectKey,
        name: Option<&str>,
    ) -> Result<Object, ObjectError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ObjectError::ShuttingDown);
        }
        let slot = self.slot(key);
        let mut guard = slot.live.lock().await;
        if let Some(live) = guard.as_ref() {
            slot.last_used_ms.store(now_ms(), Ordering::Relaxed);
            return Ok(Object {
                live: Arc::clone(live),
                slot: Arc::clone(&slot),
            });
        }
        let live = self.activate(key, name).await?;
        *guard = Some(Arc::clone(&live));
        drop(guard);
        slot.last_used_ms.store(now_ms(), Ordering::Relaxed);
        self.metrics.activated();
        if self.metrics.live_objects() > self.config.max_live_objects as i64 {
            self.sweep.notify_one();
        }
        Ok(Object { live, slot })
    }

    async fn activate(
        &self,
        key: &ObjectKey,
        name: Option<&str>,
    ) -> Result<Arc<Live>, ObjectError> {
        let lease = self.coordinator.acquire(key).await?;
        let mut limits = self.config.limits.clone();
        let migrations = {
            let kinds = self.kinds.read().unwrap_or_else(|p| p.into_inner());
            kinds.get(&key.namespace).map(|e| {
                limits.durability = e.kind.durability();
                Arc::clone(&e.migrations)
            })
        };
        let spec = ActorSpec {
            store: Arc::clone(&self.store),
            lease: lease.clone(),
            limits,
            name: name.map(str::to_string),
            migrations: migrations.unwrap_or_else(|| Arc::from(Vec::new())),
        };
        let sender = match actor::spawn(spec).await {
            Ok(s) => s,
            Err(e) => {
                let _ = self.coordinator.release(&lease).await;
                return Err(e);
            }
        };
        let storage = Storage::new(
            key.clone(),
            sender,
            Arc::clone(&self.store),
            Arc::clone(&self.alarms),
            Arc::clone(&self.metrics),
        );
        Ok(Arc::new(Live {
            storage,
            lease,
            state: Mutex::new(HashMap::new()),
            exclusive: tokio::sync::Mutex::new(()),
            delete_after_alarm: AtomicBool::new(false),
        }))
    }

    /// Closes a live instance taken out of its slot: the storage thread closes its database after
    /// the jobs already queued, then the lease is released.
    async fn close(&self, live: &Live) {
        let (tx, rx) = oneshot::channel();
        if live.storage.sender().send(Msg::Close(tx)).is_ok() {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(object = %live.lease.key, error = %e, "closing object failed")
                }
                Err(_) => {}
            }
        }
        if let Err(e) = self.coordinator.release(&live.lease).await {
            tracing::warn!(object = %live.lease.key, error = %e, "releasing lease failed");
        }
        self.metrics.evicted();
    }

    pub(crate) async fn delete(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        let slot = self.slot(key);
        let mut guard = slot.live.lock().await;
        if let Some(live) = guard.take() {
            self.close(&live).await;
        }
        self.alarms.cancel(key);
        let store = Arc::clone(&self.store);
        let key2 = key.clone();
        let existed = tokio::task::spawn_blocking(move || store.delete(&key2))
            .await
            .map_err(|_| ObjectError::ShuttingDown)??;
        drop(guard);
        self.forget_slot_if_unused(key, &slot);
        Ok(existed)
    }

    fn forget_slot_if_unused(&self, key: &ObjectKey, slot: &Arc<Slot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Getters clone the slot under this lock, so a count of 2 (the map and `slot`) means nobody
        // else can reach it; an empty slot nobody holds is safe to drop.
        if Arc::strong_count(slot) == 2 && slot.live.try_lock().is_ok_and(|g| g.is_none()) {
            slots.remove(key);
        }
    }

    /// Evicts `slot`'s instance if nobody uses it. Returns whether it did.
    async fn try_evict(&self, key: &ObjectKey, slot: &Arc<Slot>) -> bool {
        let Ok(mut guard) = slot.live.try_lock() else {
            return false;
        };
        let evicted = match guard.as_ref() {
            Some(live) if Arc::strong_count(live) == 1 => {
                if let Some(live) = guard.take() {
                    self.close(&live).await;
                }
                true
            }
            Some(_) => false,
            None => false,
        };
        drop(guard);
        self.forget_slot_if_unused(key, slot);
        evicted
    }

    async fn sweep_once(&self, max_idle: Option<Duration>) -> usize {
        let max_idle_ms = max_idle.unwrap_or(self.config.idle_timeout).as_millis() as u64;
        let now = now_ms();
        let mut all: Vec<(u64, ObjectKey, Arc<Slot>)> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .iter()
                .map(|(k, s)| {
                    (
                        s.last_used_ms.load(Ordering::Relaxed),
                        k.clone(),
                        Arc::clone(s),
                    )
                })
                .collect()
        };
        all.sort_by_key(|(used, _, _)| *used);
        let over =
            (self.metrics.live_objects() - self.config.max_live_objects as i64).max(0) as usize;
        let mut candidates = Vec::new();
        for (i, (used, key, slot)) in all.into_iter().enumerate() {
            if i < over || now.saturating_sub(used) >= max_idle_ms {
                candidates.push((key, slot));
            } else {
                self.forget_slot_if_unused(&key, &slot);
            }
        }
        use futures::StreamExt;
        let evicted = futures::stream::iter(candidates)
            .map(|(key, slot)| async move { self.try_evict(&key, &slot).await })
            .buffer_unordered(32)
            .filter(|evicted| std::future::ready(*evicted))
            .count()
            .await;
        if evicted > 0 {
            self.release_freed_memory();
        }
        evicted
    }

    /// Hands memory freed by evictions back to the OS. glibc keeps freed heap pages (spread over
    /// per-thread arenas by the storage threads) unless asked; without this, resident memory stays
    /// at its peak after a burst of objects. Rate-limited: trimming walks every arena.
    fn release_freed_memory(&self) {
        static LAST_TRIM_MS: AtomicU64 = AtomicU64::new(0);
        let now = now_ms().max(1);
        let last = LAST_TRIM_MS.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < 1000 && self.metrics.live_objects() > 0 {
            return;
        }
        LAST_TRIM_MS.store(now, Ordering::Relaxed);
        crate::memory::trim();
    }
}

/// Evicts idle objects every tick, or at once when the live cap is exceeded. Holds the host only
/// while sweeping, so that dropping the host ends it.
async fn run_sweeper(host: std::sync::Weak<HostInner>, wake: Arc<Notify>) {
    loop {
        let Some(tick) = host.upgrade().map(|h| {
            (h.config.idle_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
        }) else {
            return;
        };
        let _ = tokio::time::timeout(tick, wake.notified()).await;
        let Some(h) = host.upgrade() else { return };
        h.sweep_once(None).await;
    }
}
