//! `Storage`: the async handle a caller uses to reach one live object's database. Each call is a job
//! for the object's storage thread and returns only once its commit is durable.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::actor::{Job, Msg, Reply};
use crate::alarms::AlarmQueue;
use crate::config::AnswerBounds;
use crate::error::ObjectError;
use crate::id::ObjectKey;
use crate::metrics::Metrics;
use crate::store::ObjectStore;
use crate::txn::{ListOptions, ListPage, Txn};
use crate::value::{SqlResult, SqlValue, Value};

/// Async access to one object's storage. Cheap to clone; valid while the object is live.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<StorageInner>,
}

struct StorageInner {
    key: ObjectKey,
    label: String,
    sender: mpsc::Sender<Msg>,
    store: Arc<dyn ObjectStore>,
    alarms: Arc<AlarmQueue>,
    metrics: Arc<Metrics>,
}

impl Storage {
    pub(crate) fn new(
        key: ObjectKey,
        sender: mpsc::Sender<Msg>,
        store: Arc<dyn ObjectStore>,
        alarms: Arc<AlarmQueue>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let label = key.to_string();
        Self {
            inner: Arc::new(StorageInner {
                key,
                label,
                sender,
                store,
                alarms,
                metrics,
            }),
        }
    }

    pub(crate) fn sender(&self) -> &mpsc::Sender<Msg> {
        &self.inner.sender
    }

    /// The object this storage belongs to.
    pub fn key(&self) -> &ObjectKey {
        &self.inner.key
    }

    /// Runs `f` on the storage thread inside the current group transaction and returns its result
    /// once the commit is durable. If `f` fails (or panics), its writes are rolled back.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<ObjectError> + Send + 'static,
        F: FnOnce(&Txn<'_>) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn| {
            let result: Result<T, E> = match txn {
                Err(e) => Err(e.clone().into()),
                Ok(txn) => match catch_unwind(AssertUnwindSafe(|| f(txn))) {
                    Ok(r) => r,
                    Err(panic) => Err(ObjectError::Panicked(panic_message(&panic)).into()),
                },
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit_error| {
                let _ = tx.send(match commit_error {
                    Some(e) => Err(e.clone().into()),
                    None => result,
                });
            });
            (ok, reply)
        });
        let started = Instant::now();
        if self.inner.sender.send(Msg::Job(job)).is_err() {
            return Err(ObjectError::Closed(self.inner.label.clone()).into());
        }
        let result = rx
            .await
            .unwrap_or_else(|_| Err(ObjectError::Closed(self.inner.label.clone()).into()));
        self.inner.metrics.observe_storage(started.elapsed());
        result
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Txn<'_>) -> Result<T, ObjectError> + Send + 'static,
    ) -> Result<T, ObjectError> {
        self.transaction(f).await
    }

    /// The value under `key`.
    pub async fn get(&self, key: impl Into<String>) -> Result<Option<Value>, ObjectError> {
        let key = key.into();
        self.call(move |t| t.get(&key)).await
    }

    /// The values of those `keys` that exist.
    pub async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ObjectError> {
        self.call(move |t| t.get_many(&keys)).await
    }

    /// Stores `value` under `key`; returns once durable.
    pub async fn put(
        &self,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<(), ObjectError> {
        let (key, value) = (key.into(), value.into());
        self.call(move |t| t.put(&key, &value)).await
    }

    /// Stores several entries atomically; returns once durable.
    pub async fn put_many(&self, entries: Vec<(String, Value)>) -> Result<(), ObjectError> {
        self.call(move |t| t.put_many(&entries)).await
    }

    /// Removes `key`; returns whether it existed.
    pub async fn delete(&self, key: impl Into<String>) -> Result<bool, ObjectError> {
        let key = key.into();
        self.call(move |t| t.delete(&key)).await
    }

    /// Removes several keys atomically; returns how many existed.
    pub async fn delete_many(&self, keys: Vec<String>) -> Result<u64, ObjectError> {
        self.call(move |t| t.delete_many(&keys)).await
    }

    /// Entries in key order, filtered by prefix, range and limit.
    pub async fn list(&self, options: ListOptions) -> Result<Vec<(String, Value)>, ObjectError> {
        self.call(move |t| t.list(&options)).await
    }

    /// Runs one SQL statement with bound parameters.
    pub async fn sql(
        &self,
        query: impl Into<String>,
        params: Vec<SqlValue>,
    ) -> Result<SqlResult, ObjectError> {
        let query = query.into();
        self.call(move |t| t.sql(&query, &params)).await
    }

    /// Runs one SQL statement that came from outside keel, under the rules of
    /// [`Txn::guarded_sql`]: this object's own tables only, the answer cut at `bounds`.
    pub async fn guarded_sql(
        &self,
        query: impl Into<String>,
        params: Vec<SqlValue>,
        bounds: AnswerBounds,
    ) -> Result<SqlResult, ObjectError> {
        let query = query.into();
        self.call(move |t| t.guarded_sql(&query, &params, &bounds))
            .await
    }

    /// The value under `key`, refused with an error naming the limit when larger than `max_bytes`.
    pub async fn get_within(
        &self,
        key: impl Into<String>,
        max_bytes: usize,
    ) -> Result<Option<Value>, ObjectError> {
        let key = key.into();
        self.call(move |t| t.get_within(&key, max_bytes)).await
    }

    /// Entries as [`Storage::list`] gives them, stopping before they pass `max_bytes`.
    pub async fn list_within(
        &self,
        options: ListOptions,
        max_bytes: usize,
    ) -> Result<ListPage, ObjectError> {
        self.call(move |t| t.list_within(&options, max_bytes)).await
    }

    /// When the object's alarm is due, if it has one.
    pub async fn get_alarm(&self) -> Result<Option<SystemTime>, ObjectError> {
        let at = self.call(|t| t.meta_alarm()).await?;
        Ok(at.map(from_millis))
    }

    /// Sets the object's one alarm (replacing any earlier one). It fires even after a restart.
    pub async fn set_alarm(&self, at: SystemTime) -> Result<(), ObjectError> {
        let at_ms = to_millis(at);
        let (store, key) = (Arc::clone(&self.inner.store), self.inner.key.clone());
        // The index is written first so that it never misses an alarm the object has.
        self.call(move |t| {
            store.record_alarm(&key, Some(at_ms))?;
            t.set_meta_alarm(Some(at_ms))
        })
        .await?;
        self.inner.alarms.schedule(self.inner.key.clone(), at_ms);
        Ok(())
    }

    /// Removes the object's alarm.
    pub async fn delete_alarm(&self) -> Result<(), ObjectError> {
        self.call(|t| t.set_meta_alarm(None)).await?;
        self.inner.alarms.cancel(&self.inner.key);
        let (store, key) = (Arc::clone(&self.inner.store), self.inner.key.clone());
        tokio::task::spawn_blocking(move || store.record_alarm(&key, None))
            .await
            .map_err(|_| ObjectError::ShuttingDown)?
    }

    /// Removes the alarm only if it is still due at `at_ms` (the handler may have set a new one).
    pub(crate) async fn clear_alarm_if(&self, at_ms: i64) -> Result<(), ObjectError> {
        let cleared = self
            .call(move |t| {
                if t.meta_alarm()? == Some(at_ms) {
                    t.set_meta_alarm(None)?;
                    return Ok(true);
                }
                Ok(false)
            })
            .await?;
        if cleared {
            let (store, key) = (Arc::clone(&self.inner.store), self.inner.key.clone());
            tokio::task::spawn_blocking(move || store.record_alarm(&key, None))
                .await
                .map_err(|_| ObjectError::ShuttingDown)??;
        }
        Ok(())
    }

    /// Writes a consistent copy of the object to `dest` (a new file), for `keel objects import`.
    pub async fn export(&self, dest: impl Into<PathBuf>) -> Result<(), ObjectError> {
        let dest = dest.into();
        let (tx, rx) = oneshot::channel();
        let job = Box::new(move |conn: &rusqlite::Connection, label: &str| {
            let _ = tx.send(crate::file_store::vacuum_into(conn, label, &dest));
        });
        self.inner
            .sender
            .send(Msg::Direct(job))
            .map_err(|_| ObjectError::Closed(self.inner.label.clone()))?;
        rx.await
            .unwrap_or_else(|_| Err(ObjectError::Closed(self.inner.label.clone())))
    }
}

pub(crate) fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}
