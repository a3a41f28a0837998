//! Activation, eviction, wake, alarms, migrations, export/import: the object lifecycle.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use keel_objects::{
    FileStore, HandlerError, HostConfig, LocalCoordinator, Migration, Namespace, Object,
    ObjectError, ObjectHost, ObjectKey, ObjectKind, SqlValue, Value, testkit,
};
use serde_json::json;

fn ns(name: &str) -> Namespace {
    Namespace::new(name).unwrap()
}

/// Waits for `cond` with a deadline instead of sleeping a fixed time.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn quick_config() -> HostConfig {
    HostConfig {
        idle_timeout: Duration::from_millis(50),
        alarm_retry_base: Duration::from_millis(20),
        ..HostConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_reach_one_activation() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap());
    let key = ObjectKey::from_name(&ns("chat"), "room").unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (host, key) = (Arc::clone(&host), key.clone());
        tasks.push(tokio::spawn(async move {
            let obj = host.get(&key).await.unwrap();
            obj.storage().put(format!("m{i}"), json!(i)).await.unwrap();
            let counter = obj.state(|| AtomicU32::new(0));
            counter.fetch_add(1, Ordering::SeqCst);
            obj.epoch()
        }));
    }
    let mut epochs = Vec::new();
    for t in tasks {
        epochs.push(t.await.unwrap());
    }
    epochs.dedup();
    assert_eq!(epochs.len(), 1, "every caller reached the same activation");
    assert_eq!(host.metrics().activations(), 1);
    let obj = host.get(&key).await.unwrap();
    assert_eq!(
        obj.state(|| AtomicU32::new(0)).load(Ordering::SeqCst),
        64,
        "in-memory state is shared"
    );
    assert_eq!(
        obj.storage().list(Default::default()).await.unwrap().len(),
        64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_objects_are_evicted_and_wake_with_storage_intact() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    let key = ObjectKey::from_name(&ns("chat"), "sleepy").unwrap();
    let first_epoch = {
        let obj = host.get(&key).await.unwrap();
        obj.storage()
            .put("note", json!("remember me"))
            .await
            .unwrap();
        obj.state(|| String::from("in memory"));
        obj.epoch()
    };
    eventually("the idle object is evicted", async || {
        host.metrics().live_objects() == 0
    })
    .await;
    assert_eq!(host.metrics().evictions(), 1);
    let obj = host.get(&key).await.unwrap();
    assert_ne!(obj.epoch(), first_epoch, "a new activation");
    assert_eq!(
        obj.storage().get("note").await.unwrap(),
        Some(Value::Json(json!("remember me")))
    );
    assert_eq!(
        *obj.state(|| String::from("fresh")),
        "fresh",
        "memory was freed with the eviction"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_in_use_are_not_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    let obj = host.get_named(&ns("chat"), "busy").await.unwrap();
    obj.storage().put("x", json!(1)).await.unwrap();
    assert_eq!(
        host.evict_idle(Some(Duration::ZERO)).await,
        0,
        "a held object stays live"
    );
    drop(obj);
    assert_eq!(host.evict_idle(Some(Duration::ZERO)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_cap_evicts_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig {
        max_live_objects: 4,
        idle_timeout: Duration::from_secs(3600),
        ..HostConfig::default()
    };
    let host = ObjectHost::open_embedded(dir.path(), config).unwrap();
    for i in 0..20 {
        let obj = host.get_named(&ns("many"), &format!("o{i}")).await.unwrap();
        obj.storage().put("i", json!(i)).await.unwrap();
    }
    eventually("live objects fall to the cap", async || {
        host.metrics().live_objects() <= 4
    })
    .await;
    // The most recent ones are the survivors: touching them activates nothing new.
    let before = host.metrics().activations();
    let obj = host.get_named(&ns("many"), "o19").await.unwrap();
    assert_eq!(
        host.metrics().activations(),
        before,
        "the most recently used object stayed live"
    );
    drop(obj);
    for i in 0..20 {
        let obj = host.get_named(&ns("many"), &format!("o{i}")).await.unwrap();
        assert_eq!(
            obj.storage().get("i").await.unwrap(),
            Some(Value::Json(json!(i)))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_were_never_written_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    {
        let obj = host.get_named(&ns("ghost"), "peek").await.unwrap();
        assert_eq!(obj.storage().get("anything").await.unwrap(), None);
    }
    assert_eq!(host.evict_idle(Some(Duration::ZERO)).await, 1);
    assert!(
        host.store().list(None).unwrap().is_empty(),
        "a read-only visit creates no object"
    );
}

struct Versioned(u32);

impl ObjectKind for Versioned {
    fn namespace(&self) -> Namespace {
        ns("versioned")
    }
    fn migrations(&self) -> Vec<Migration> {
        let all = vec![
            Migration::sql(1, "CREATE TABLE booking (slot TEXT PRIMARY KEY)"),
            Migration::sql(
                2,
                "ALTER TABLE booking ADD COLUMN who TEXT NOT NULL DEFAULT 'unknown'",
            ),
            Migration::func(3, |t| {
                t.put("migrated", &Value::Json(json!(3)))?;
                Ok(())
            }),
            // Fails halfway: the table it creates must not survive.
            Migration::sql(4, "CREATE TABLE half (x); SELECT * FROM no_such_table;"),
        ];
        all.into_iter().take(self.0 as usize).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_and_atomically_when_an_older_object_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let key = ObjectKey::from_name(&ns("versioned"), "club").unwrap();
    {
        let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
        host.register(Versioned(1)).unwrap();
        let obj = host.get(&key).await.unwrap();
        obj.storage()
            .sql("INSERT INTO booking VALUES ('10:00')", vec![])
            .await
            .unwrap();
        drop(obj);
        host.shutdown(Duration::from_secs(5)).await;
    }
    {
        let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
        host.register(Versioned(3)).unwrap();
        let obj = host.get(&key).await.unwrap();
        let r = obj
            .storage()
            .sql("SELECT slot, who FROM booking", vec![])
            .await
            .unwrap();
        assert_eq!(
            r.rows,
            vec![vec![SqlValue::from("10:00"), SqlValue::from("unknown")]]
        );
        assert_eq!(
            obj.storage().get("migrated").await.unwrap(),
            Some(Value::Json(json!(3)))
        );
        let v = obj
            .storage()
            .sql("PRAGMA user_version", vec![])
            .await
            .unwrap();
        assert_eq!(v.rows[0][0], SqlValue::Integer(3));
        drop(obj);
        host.shutdown(Duration::from_secs(5)).await;
    }
    {
        let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
        host.register(Versioned(4)).unwrap();
        let e = host.get(&key).await.err().expect("migration 4 fails");
        assert!(
            e.to_string().contains("migration 4 of object versioned/"),
            "{e}"
        );
        // A brand-new object of the failing version: its calls report the migration's error.
        let fresh = host
            .get(&ObjectKey::from_name(&ns("versioned"), "new").unwrap())
            .await;
        let e = match fresh {
            Err(e) => e,
            Ok(obj) => obj.storage().put("x", json!(1)).await.unwrap_err(),
        };
        assert!(
            e.to_string().contains("migration 4 of object versioned/"),
            "{e}"
        );
        host.register(Versioned(3)).unwrap();
        let obj = host.get(&key).await.unwrap();
        let half = obj
            .storage()
            .sql("SELECT name FROM sqlite_schema WHERE name = 'half'", vec![])
            .await
            .unwrap();
        assert!(
            half.rows.is_empty(),
            "the failed migration left nothing behind"
        );
        let v = obj
            .storage()
            .sql("PRAGMA user_version", vec![])
            .await
            .unwrap();
        assert_eq!(v.rows[0][0], SqlValue::Integer(3));
    }
    let host =
        ObjectHost::open_embedded(tempfile::tempdir().unwrap().path(), quick_config()).unwrap();
    struct Gappy;
    impl ObjectKind for Gappy {
        fn namespace(&self) -> Namespace {
            ns("gappy")
        }
        fn migrations(&self) -> Vec<Migration> {
            vec![Migration::sql(1, "SELECT 1"), Migration::sql(3, "SELECT 1")]
        }
    }
    assert!(
        host.register(Gappy)
            .unwrap_err()
            .to_string()
            .contains("numbered 1, 2, 3")
    );
}

/// Counts alarm runs in storage; fails the first `fail_first` runs.
struct Reminder {
    fail_first: u32,
    runs: Arc<AtomicU32>,
}

impl ObjectKind for Reminder {
    fn namespace(&self) -> Namespace {
        ns("reminder")
    }
    fn on_alarm<'a>(&'a self, object: &'a Object) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            if run <= self.fail_first {
                return Err(format!("transient failure {run}").into());
            }
            object.storage().put("fired", json!(run)).await?;
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_fire_wake_evicted_objects_and_retry_failures() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    host.register(Reminder {
        fail_first: 2,
        runs: Arc::clone(&runs),
    })
    .unwrap();
    let key = ObjectKey::from_name(&ns("reminder"), "r").unwrap();
    {
        let obj = host.get(&key).await.unwrap();
        let at = SystemTime::now() + Duration::from_millis(300);
        obj.storage().set_alarm(at).await.unwrap();
        let got = obj.storage().get_alarm().await.unwrap().unwrap();
        let diff = got.duration_since(at).unwrap_or_else(|e| e.duration());
        assert!(diff < Duration::from_millis(2));
    }
    // It is evicted first (idle 50 ms), then woken by the alarm.
    eventually("the object is evicted", async || {
        host.metrics().live_objects() == 0
    })
    .await;
    eventually("the alarm succeeds on its third run", async || {
        runs.load(Ordering::SeqCst) >= 3
    })
    .await;
    let obj = host.get(&key).await.unwrap();
    eventually("the handler's write is visible", async || {
        obj.storage().get("fired").await.unwrap() == Some(Value::Json(json!(3)))
    })
    .await;
    eventually("the alarm is cleared", async || {
        obj.storage().get_alarm().await.unwrap().is_none()
    })
    .await;
    assert_eq!(host.pending_alarms(), 0);
    obj.storage()
        .set_alarm(SystemTime::now() + Duration::from_secs(3600))
        .await
        .unwrap();
    obj.storage().delete_alarm().await.unwrap();
    assert_eq!(obj.storage().get_alarm().await.unwrap(), None);
    assert!(
        host.store().alarms().unwrap().is_empty(),
        "a deleted alarm leaves the index"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_survive_a_restart_of_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let key = ObjectKey::from_name(&ns("reminder"), "after-restart").unwrap();
    {
        let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
        let obj = host.get(&key).await.unwrap();
        obj.storage()
            .set_alarm(SystemTime::now() + Duration::from_millis(200))
            .await
            .unwrap();
        drop(obj);
        host.shutdown(Duration::from_secs(5)).await;
    }
    let runs = Arc::new(AtomicU32::new(0));
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    host.register(Reminder {
        fail_first: 0,
        runs: Arc::clone(&runs),
    })
    .unwrap();
    assert_eq!(host.pending_alarms(), 1, "the alarm was loaded from disk");
    eventually("the alarm fires after the restart", async || {
        runs.load(Ordering::SeqCst) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_move_an_object() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let file = src_dir.path().join("backup.sqlite");
    let key = {
        let host = ObjectHost::open_embedded(src_dir.path().join("data"), quick_config()).unwrap();
        let obj = host.get_named(&ns("agent"), "alice").await.unwrap();
        obj.storage()
            .put("plan", json!(["book court", "pay"]))
            .await
            .unwrap();
        obj.storage()
            .sql("CREATE TABLE t (x)", vec![])
            .await
            .unwrap();
        obj.storage()
            .sql("INSERT INTO t VALUES (7)", vec![])
            .await
            .unwrap();
        obj.storage().export(&file).await.unwrap();
        let again = obj.storage().export(&file).await.unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        obj.key().clone()
    };
    let host = ObjectHost::open_embedded(dst_dir.path(), quick_config()).unwrap();
    let store = Arc::clone(host.store());
    let restored = tokio::task::spawn_blocking(move || store.restore(&file, false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored, key);
    let obj = host.get(&key).await.unwrap();
    assert_eq!(
        obj.storage().get("plan").await.unwrap(),
        Some(Value::Json(json!(["book court", "pay"])))
    );
    assert_eq!(
        obj.storage()
            .sql("SELECT x FROM t", vec![])
            .await
            .unwrap()
            .rows[0][0],
        SqlValue::Integer(7)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_a_live_object_and_its_storage() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), quick_config()).unwrap();
    let key = ObjectKey::from_name(&ns("session"), "gone").unwrap();
    host.get(&key)
        .await
        .unwrap()
        .storage()
        .put("a", json!(1))
        .await
        .unwrap();
    assert!(host.delete(&key).await.unwrap());
    assert!(host.store().list(None).unwrap().is_empty());
    assert_eq!(
        host.get(&key)
            .await
            .unwrap()
            .storage()
            .get("a")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_new_work_and_closes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap();
    for i in 0..5 {
        host.get_named(&ns("s"), &format!("{i}"))
            .await
            .unwrap()
            .storage()
            .put("k", json!(i))
            .await
            .unwrap();
    }
    host.shutdown(Duration::from_secs(5)).await;
    assert_eq!(host.metrics().live_objects(), 0);
    assert!(matches!(
        host.get_named(&ns("s"), "0").await,
        Err(ObjectError::ShuttingDown)
    ));
    // Closed cleanly: no WAL files left behind.
    let leftovers = walk(&dir.path().join("objects"))
        .into_iter()
        .filter(|p| p.ends_with("-wal"))
        .count();
    assert_eq!(leftovers, 0);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backends_pass_the_shared_suites() {
    testkit::coordinator_suite(Arc::new(LocalCoordinator::new())).await;
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path()).unwrap());
    tokio::task::spawn_blocking(move || testkit::store_suite(store, scratch.path()))
        .await
        .unwrap();
}
