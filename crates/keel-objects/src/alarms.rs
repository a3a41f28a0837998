//! Alarms: each object has at most one due time. The queue keeps every pending alarm in memory (a
//! key and a time, even for evicted objects); the scheduler wakes the object when one is due and
//! runs its kind's alarm handler, retrying a failing handler with exponential backoff.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::host::HostInner;
use crate::id::ObjectKey;
use crate::storage::to_millis;

/// Pending alarms, ordered by due time.
#[derive(Debug, Default)]
pub(crate) struct AlarmQueue {
    state: Mutex<QueueState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct QueueState {
    by_time: BTreeSet<(i64, ObjectKey)>,
    by_key: HashMap<ObjectKey, i64>,
    /// Failed attempts of the alarm now pending, per object.
    attempts: HashMap<ObjectKey, u32>,
}

impl AlarmQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Schedules (or moves) `key`'s alarm to `at_ms`.
    pub(crate) fn schedule(&self, key: ObjectKey, at_ms: i64) {
        {
            let mut s = self.lock();
            if let Some(old) = s.by_key.insert(key.clone(), at_ms) {
                s.by_time.remove(&(old, key.clone()));
            }
            s.by_time.insert((at_ms, key));
        }
        self.changed.notify_one();
    }

    /// Forgets `key`'s alarm.
    pub(crate) fn cancel(&self, key: &ObjectKey) {
        let mut s = self.lock();
        if let Some(old) = s.by_key.remove(key) {
            s.by_time.remove(&(old, key.clone()));
        }
        s.attempts.remove(key);
    }

    /// Takes every alarm due at `now_ms`, or returns how long until the next one.
    fn take_due(&self, now_ms: i64) -> (Vec<ObjectKey>, Option<Duration>) {
        let mut s = self.lock();
        let mut due = Vec::new();
        while let Some((at, key)) = s.by_time.first().cloned() {
            if at > now_ms {
                let wait = Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0));
                return (due, Some(wait));
            }
            s.by_time.pop_first();
            s.by_key.remove(&key);
            due.push(key);
        }
        (due, None)
    }

    fn record_failure(&self, key: &ObjectKey) -> u32 {
        let mut s = self.lock();
        let n = s.attempts.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    }

    fn clear_failures(&self, key: &ObjectKey) {
        self.lock().attempts.remove(key);
    }

    /// Alarms pending now.
    pub(crate) fn len(&self) -> usize {
        self.lock().by_key.len()
    }
}

/// Runs until the host is dropped: waits for the next due alarm and fires it.
pub(crate) async fn run_scheduler(host: Weak<HostInner>, queue: std::sync::Arc<AlarmQueue>) {
    loop {
        let (due, wait) = queue.take_due(to_millis(SystemTime::now()));
        for key in due {
            let Some(inner) = host.upgrade() else { return };
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move { fire(inner, queue, key).await });
        }
        let notified = queue.changed.notified();
        match wait {
            Some(wait) => {
                let _ = tokio::time::timeout(wait, notified).await;
            }
            None => notified.await,
        }
        if host.strong_count() == 0 {
            return;
        }
    }
}

async fn fire(host: std::sync::Arc<HostInner>, queue: std::sync::Arc<AlarmQueue>, key: ObjectKey) {
    let retry = |queue: &AlarmQueue, error: String| {
        let attempt = queue.record_failure(&key);
        host.metrics.alarm_fired(false);
        if attempt > host.config.alarm_max_retries {
            tracing::error!(object = %key, %error, attempts = attempt, "alarm handler kept failing; alarm dropped");
            queue.clear_failures(&key);
            return false;
        }
        let delay = host
            .config
            .alarm_retry_base
            .saturating_mul(1 << (attempt - 1).min(16));
        tracing::warn!(object = %key, %error, attempt, retry_in_ms = delay.as_millis() as u64, "alarm handler failed; retrying");
        queue.schedule(key.clone(), to_millis(SystemTime::now() + delay));
        true
    };
    let object = match HostInner::get(&host, &key, None).await {
        Ok(o) => o,
        Err(e) => {
            retry(&queue, e.to_string());
            return;
        }
    };
    let storage = object.storage();
    let at = match storage.get_alarm().await {
        Ok(Some(at)) => to_millis(at),
        Ok(None) => return,
        Err(e) => {
            retry(&queue, e.to_string());
            return;
        }
    };
    let now = to_millis(SystemTime::now());
    if at > now {
        // Moved later since it was queued (or the queue came from a stale index row).
        queue.schedule(key.clone(), at);
        return;
    }
    let kind = host.kind_for(&key.namespace);
    let outcome = match &kind {
        Some(kind) => kind.on_alarm(&object).await.map_err(|e| e.to_string()),
        None => Err(format!(
            "no object kind is registered for namespace {:?}",
            key.namespace.as_str()
        )),
    };
    match outcome {
        Ok(()) => {
            host.metrics.alarm_fired(true);
            queue.clear_failures(&key);
            if object.delete_requested() {
                drop(object);
                if let Err(e) = host.delete(&key).await {
                    tracing::warn!(object = %key, error = %e, "could not delete an object its alarm asked to delete");
                }
            } else if let Err(e) = storage.clear_alarm_if(at).await {
                tracing::warn!(object = %key, error = %e, "could not clear a fired alarm; it will fire again");
                queue.schedule(
                    key.clone(),
                    to_millis(SystemTime::now() + host.config.alarm_retry_base),
                );
            }
        }
        Err(error) => {
            if !retry(&queue, error) {
                let _ = storage.clear_alarm_if(at).await;
            }
        }
    }
}
