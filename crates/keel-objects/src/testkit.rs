//! The shared test suites every backend must pass: one for coordinators, one for object stores.
//! A backend's own tests call them with a factory for a fresh, empty instance; they panic on failure.

use std::sync::Arc;

use crate::config::StorageLimits;
use crate::coordinator::{Coordinator, Lease};
use crate::error::ObjectError;
use crate::id::{Namespace, ObjectId, ObjectKey};
use crate::store::ObjectStore;

fn key(name: &str) -> ObjectKey {
    let ns = Namespace::new("suite").expect("valid namespace");
    ObjectKey::from_name(&ns, name).expect("valid name")
}

/// Single ownership, growing epochs, renew and release, lookup.
pub async fn coordinator_suite(coordinator: Arc<dyn Coordinator>) {
    let a = key("a");
    let first = coordinator
        .acquire(&a)
        .await
        .expect("a free object can be acquired");
    assert!(
        matches!(coordinator.acquire(&a).await, Err(ObjectError::Fenced(_))),
        "a held object cannot be acquired twice"
    );
    assert!(
        coordinator.lookup(&a).await.expect("lookup").is_some(),
        "lookup finds the owner"
    );
    let renewed = coordinator
        .renew(&first)
        .await
        .expect("a current lease renews");
    assert_eq!(renewed.epoch, first.epoch, "renewing keeps the epoch");
    coordinator.release(&first).await.expect("release");
    assert!(
        coordinator.lookup(&a).await.expect("lookup").is_none(),
        "released objects have no owner"
    );
    assert!(
        coordinator.renew(&first).await.is_err(),
        "a released lease cannot be renewed"
    );
    let second = coordinator
        .acquire(&a)
        .await
        .expect("re-acquire after release");
    assert!(
        second.epoch > first.epoch,
        "epochs grow with every acquisition"
    );
    coordinator
        .release(&first)
        .await
        .expect("releasing a stale lease is harmless");
    assert!(
        coordinator.lookup(&a).await.expect("lookup").is_some(),
        "a stale release keeps the new owner"
    );
    let b = key("b");
    let other = coordinator
        .acquire(&b)
        .await
        .expect("other objects are independent");
    coordinator.release(&other).await.expect("release");
    coordinator.release(&second).await.expect("release");

    // Many concurrent acquirers of one key: exactly one wins.
    let c = key("c");
    let attempts = (0..16).map(|_| {
        let coordinator = Arc::clone(&coordinator);
        let c = c.clone();
        tokio::spawn(async move { coordinator.acquire(&c).await.is_ok() })
    });
    let mut winners = 0;
    for attempt in attempts {
        winners += usize::from(attempt.await.expect("task"));
    }
    assert_eq!(winners, 1, "exactly one concurrent acquirer wins");
}

fn lease(key: &ObjectKey, epoch: u64) -> Lease {
    Lease {
        key: key.clone(),
        epoch,
        node: "suite".into(),
        expires_at: None,
    }
}

/// Create, commit, reopen, list, fencing, snapshot and restore, alarm records, delete.
/// `scratch` is a directory the suite may write snapshot files into.
pub fn store_suite(store: Arc<dyn ObjectStore>, scratch: &std::path::Path) {
    let limits = StorageLimits::default();
    let a = key("a");
    {
        let mut db = store.open(&lease(&a, 1), &limits).expect("open creates");
        assert!(db.created(), "the first open creates the object");
        db.begin().expect("begin");
        db.connection()
            .execute_batch(
                "CREATE TABLE _keel_meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
                 CREATE TABLE t (x); INSERT INTO t VALUES (42);",
            )
            .expect("write");
        db.connection()
            .execute(
                "INSERT INTO _keel_meta VALUES ('namespace', ?1), ('id', ?2)",
                (a.namespace.as_str(), a.id.to_hex()),
            )
            .expect("meta");
        db.commit(true).expect("commit");
        db.close().expect("close");
    }
    {
        let db = store.open(&lease(&a, 2), &limits).expect("reopen");
        assert!(!db.created(), "a reopened object is not new");
        let x: i64 = db
            .connection()
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(x, 42, "a committed write survives close and reopen");
        db.close().expect("close");
    }
    assert_eq!(
        store.list(None).expect("list"),
        vec![a.clone()],
        "list shows the object"
    );
    assert!(
        store
            .list(Some(&Namespace::new("other").expect("ns")))
            .expect("list")
            .is_empty()
    );

    // Fencing: an older lease's commit is refused once a newer lease opened the object.
    {
        let mut old = store.open(&lease(&a, 3), &limits).expect("open epoch 3");
        old.begin().expect("begin");
        old.connection()
            .execute("INSERT INTO t VALUES (1)", [])
            .expect("write");
        old.rollback();
        old.close().expect("close");
        let mut newer = store.open(&lease(&a, 4), &limits).expect("open epoch 4");
        assert!(
            matches!(
                store.open(&lease(&a, 3), &limits),
                Err(ObjectError::Fenced(_))
            ),
            "opening with an older epoch is fenced"
        );
        newer.begin().expect("begin");
        newer.commit(true).expect("the newest lease commits");
        newer.close().expect("close");
    }

    // Snapshot and restore.
    let file = scratch.join("a.snapshot");
    store.snapshot(&a, &file).expect("snapshot");
    assert!(
        store.restore(&file, false).is_err(),
        "restore refuses to overwrite without replace"
    );
    assert!(
        store.delete(&a).expect("delete"),
        "delete reports an existing object"
    );
    assert!(
        store.list(None).expect("list").is_empty(),
        "deleted objects are gone"
    );
    assert_eq!(
        store.restore(&file, false).expect("restore"),
        a,
        "restore names the object"
    );
    {
        let db = store.open(&lease(&a, 5), &limits).expect("open restored");
        let n: i64 = db
            .connection()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(n, 1, "restored data is the snapshot's");
        db.close().expect("close");
    }

    // A new object that is only read, or committed without writes, does not come to exist.
    let b = key("b");
    let mut db = store.open(&lease(&b, 1), &limits).expect("open b");
    assert!(db.created());
    db.begin().expect("begin");
    db.connection()
        .execute_batch("CREATE TABLE scratch (x)")
        .expect("schema");
    db.commit(false).expect("commit without writes");
    db.close().expect("close");
    assert_eq!(
        store.list(None).expect("list"),
        vec![a.clone()],
        "unwritten objects do not exist"
    );

    // Alarm records.
    store.record_alarm(&a, Some(1_000)).expect("record");
    store.record_alarm(&b, Some(500)).expect("record");
    store.record_alarm(&a, Some(2_000)).expect("move");
    assert_eq!(
        store.alarms().expect("alarms"),
        vec![(b.clone(), 500), (a.clone(), 2_000)]
    );
    store.record_alarm(&b, None).expect("forget");
    assert_eq!(store.alarms().expect("alarms"), vec![(a.clone(), 2_000)]);
    let unique = ObjectKey::new(a.namespace.clone(), ObjectId::unique());
    assert!(
        !store.delete(&unique).expect("delete missing"),
        "deleting a missing object reports false"
    );
}
