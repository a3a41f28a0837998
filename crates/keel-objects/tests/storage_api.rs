//! The KV, SQL, transaction and limit behaviour a caller of `Storage` sees.

use std::sync::Arc;

use keel_objects::{
    HostConfig, ListOptions, Namespace, ObjectError, ObjectHost, SqlValue, StorageLimits, Value,
};
use serde_json::json;

fn host_with(dir: &std::path::Path, limits: StorageLimits) -> ObjectHost {
    ObjectHost::open_embedded(
        dir,
        HostConfig {
            limits,
            ..HostConfig::default()
        },
    )
    .expect("host")
}

fn ns() -> Namespace {
    Namespace::new("test").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_put_get_list_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), StorageLimits::default());
    let obj = host.get_named(&ns(), "kv").await.unwrap();
    let s = obj.storage();

    assert_eq!(s.get("missing").await.unwrap(), None);
    s.put("a", json!({"n": 1})).await.unwrap();
    s.put("bin", vec![0u8, 255, 7]).await.unwrap();
    assert_eq!(
        s.get("a").await.unwrap(),
        Some(Value::Json(json!({"n": 1})))
    );
    assert_eq!(
        s.get("bin").await.unwrap(),
        Some(Value::Bytes(vec![0, 255, 7]))
    );
    s.put("a", json!("replaced")).await.unwrap();
    assert_eq!(
        s.get("a").await.unwrap(),
        Some(Value::Json(json!("replaced")))
    );

    let entries: Vec<(String, Value)> = ["user:1", "user:2", "user:3", "users", "v"]
        .iter()
        .map(|k| (k.to_string(), Value::Json(json!(k))))
        .collect();
    s.put_many(entries).await.unwrap();
    let many = s
        .get_many(vec!["user:1".into(), "nope".into(), "v".into()])
        .await
        .unwrap();
    assert_eq!(many.keys().collect::<Vec<_>>(), ["user:1", "v"]);

    let keys = |list: Vec<(String, Value)>| list.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    let prefix = |p: &str| ListOptions {
        prefix: Some(p.into()),
        ..Default::default()
    };
    assert_eq!(
        keys(s.list(prefix("user:")).await.unwrap()),
        ["user:1", "user:2", "user:3"]
    );
    assert_eq!(
        keys(
            s.list(ListOptions {
                reverse: true,
                limit: Some(2),
                ..prefix("user")
            })
            .await
            .unwrap()
        ),
        ["users", "user:3"]
    );
    assert_eq!(
        keys(
            s.list(ListOptions {
                start: Some("user:2".into()),
                end: Some("v".into()),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["user:2", "user:3", "users"]
    );
    assert_eq!(
        keys(
            s.list(ListOptions {
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["a"]
    );

    assert!(s.delete("a").await.unwrap());
    assert!(!s.delete("a").await.unwrap());
    assert_eq!(
        s.delete_many(vec!["user:1".into(), "user:2".into(), "zz".into()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(keys(s.list(prefix("user:")).await.unwrap()), ["user:3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_listing_pages_by_bytes_and_always_advances() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), StorageLimits::default());
    let obj = host.get_named(&ns(), "pages").await.unwrap();
    let s = obj.storage();
    for key in ["a", "b", "c", "d"] {
        s.put(key, json!("x".repeat(40))).await.unwrap();
    }
    s.put("huge", json!("h".repeat(1000))).await.unwrap();
    // 100 bytes: two entries of ~43 a page; the huge one alone, without its value; every key
    // exactly once, in order.
    let mut seen = Vec::new();
    let mut start = None;
    for _ in 0..10 {
        let page = s
            .list_within(
                ListOptions {
                    start: start.clone(),
                    ..ListOptions::default()
                },
                100,
            )
            .await
            .unwrap();
        assert!(!page.entries.is_empty());
        for e in &page.entries {
            assert_eq!(e.value.is_none(), e.key == "huge", "{}", e.key);
            seen.push(e.key.clone());
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "huge"]);
    // Even a page too small for any key still gives one entry, so paging advances.
    let tiny = s.list_within(ListOptions::default(), 0).await.unwrap();
    assert_eq!(tiny.entries.len(), 1);
    assert_eq!(tiny.next.as_deref(), Some("b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_returns_typed_rows_with_column_names_and_write_counts() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), StorageLimits::default());
    let obj = host.get_named(&ns(), "sql").await.unwrap();
    let s = obj.storage();
    s.sql(
        "CREATE TABLE court (id INTEGER PRIMARY KEY, name TEXT, price REAL, photo BLOB)",
        vec![],
    )
    .await
    .unwrap();
    let inserted = s
        .sql(
            "INSERT INTO court (name, price, photo) VALUES (?1, ?2, ?3), (?4, ?5, NULL)",
            vec![
                "Court 1".into(),
                12.5.into(),
                vec![1u8, 2].into(),
                "Court 2".into(),
                10.into(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted.rows_written, 2);
    let r = s
        .sql(
            "SELECT id, name, price, photo FROM court ORDER BY id",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.columns, ["id", "name", "price", "photo"]);
    assert_eq!(
        r.rows,
        vec![
            vec![
                SqlValue::Integer(1),
                "Court 1".into(),
                SqlValue::Real(12.5),
                SqlValue::Blob(vec![1, 2])
            ],
            vec![
                SqlValue::Integer(2),
                "Court 2".into(),
                SqlValue::Real(10.0),
                SqlValue::Null
            ],
        ]
    );
    assert_eq!(r.rows_written, 0);
    assert_eq!(r.rows_as_json()[0]["name"], json!("Court 1"));
    let updated = s
        .sql("UPDATE court SET price = price + 1", vec![])
        .await
        .unwrap();
    assert_eq!(updated.rows_written, 2);

    let bad = s.sql("SELEKT nonsense", vec![]).await.unwrap_err();
    assert!(matches!(bad, ObjectError::Sql(_)), "{bad:?}");
    assert!(bad.to_string().contains("syntax error"), "{bad}");
    let wrong_params = s.sql("SELECT ?1, ?2", vec![1.into()]).await.unwrap_err();
    assert!(
        wrong_params
            .to_string()
            .contains("takes 2 parameter(s) but 1 were given"),
        "{wrong_params}"
    );
    let two = s.sql("SELECT 1; SELECT 2", vec![]).await.unwrap_err();
    assert!(matches!(two, ObjectError::Sql(_)), "{two:?}");
    let missing = s.sql("SELECT * FROM nowhere", vec![]).await.unwrap_err();
    assert!(missing.to_string().contains("no such table"), "{missing}");
    // The object keeps working after errors.
    assert_eq!(
        s.sql("SELECT count(*) FROM court", vec![])
            .await
            .unwrap()
            .rows[0][0],
        SqlValue::Integer(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_atomically_or_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), StorageLimits::default());
    let obj = host.get_named(&ns(), "txn").await.unwrap();
    let s = obj.storage();
    s.sql("CREATE TABLE ledger (amount INTEGER)", vec![])
        .await
        .unwrap();

    let n: i64 = s
        .transaction(|t| {
            t.put("balance", &Value::Json(json!(100)))?;
            t.sql("INSERT INTO ledger VALUES (100)", &[])?;
            Ok::<_, ObjectError>(1)
        })
        .await
        .unwrap();
    assert_eq!(n, 1);

    let failed = s
        .transaction(|t| {
            t.put("balance", &Value::Json(json!(0)))?;
            t.sql("INSERT INTO ledger VALUES (-100)", &[])?;
            Err::<(), _>(ObjectError::Handler("insufficient funds".into()))
        })
        .await
        .unwrap_err();
    assert!(failed.to_string().contains("insufficient funds"));

    let panicked = s
        .transaction(|t| -> Result<(), ObjectError> {
            t.put("balance", &Value::Json(json!(-1)))?;
            panic!("handler bug");
        })
        .await
        .unwrap_err();
    assert!(
        matches!(panicked, ObjectError::Panicked(ref m) if m.contains("handler bug")),
        "{panicked:?}"
    );

    assert_eq!(
        s.get("balance").await.unwrap(),
        Some(Value::Json(json!(100)))
    );
    let sum = s
        .sql("SELECT sum(amount) FROM ledger", vec![])
        .await
        .unwrap();
    assert_eq!(sum.rows[0][0], SqlValue::Integer(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_group_committed_and_a_failing_call_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(host_with(dir.path(), StorageLimits::default()));
    let obj = host.get_named(&ns(), "group").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = obj.storage().clone();
        tasks.push(tokio::spawn(async move {
            if i % 50 == 7 {
                // A failing call in the middle of a batch.
                s.sql("INSERT INTO missing_table VALUES (1)", vec![])
                    .await
                    .map(drop)
            } else {
                s.put(format!("k{i:03}"), json!(i)).await
            }
        }));
    }
    let mut failures = 0;
    for t in tasks {
        failures += usize::from(t.await.unwrap().is_err());
    }
    assert_eq!(failures, 4);
    let all = obj.storage().list(ListOptions::default()).await.unwrap();
    assert_eq!(all.len(), 196);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_give_clear_errors_and_the_object_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StorageLimits {
        max_key_bytes: 16,
        max_value_bytes: 1024,
        max_object_bytes: 256 * 1024,
        ..StorageLimits::default()
    };
    let host = host_with(dir.path(), limits);
    let obj = host.get_named(&ns(), "limits").await.unwrap();
    let s = obj.storage();
    let e = s.put("k".repeat(17), json!(1)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("key of 17 bytes is longer than the limit of 16 bytes"),
        "{e}"
    );
    let e = s.put("big", vec![0u8; 1025]).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("larger than the limit of 1024 bytes"),
        "{e}"
    );

    s.sql("CREATE TABLE blobs (b BLOB)", vec![]).await.unwrap();
    let mut full = None;
    for _ in 0..1000 {
        if let Err(e) = s
            .sql("INSERT INTO blobs VALUES (randomblob(1000))", vec![])
            .await
        {
            full = Some(e);
            break;
        }
    }
    let full = full.expect("the object size limit is reached");
    assert!(matches!(full, ObjectError::Full { .. }), "{full:?}");
    assert!(
        full.to_string()
            .contains("object size limit is 262144 bytes"),
        "{full}"
    );
    s.sql("DELETE FROM blobs", vec![]).await.unwrap();
    s.put("ok", json!(true)).await.unwrap();
    assert_eq!(s.get("ok").await.unwrap(), Some(Value::Json(json!(true))));

    let long_name = "n".repeat(keel_objects::MAX_NAME_BYTES + 1);
    let e = host
        .get_named(&ns(), &long_name)
        .await
        .err()
        .expect("too long");
    assert!(
        e.to_string().contains("names must be 1 to 1024 bytes"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_value_limit_is_at_least_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), StorageLimits::default());
    let obj = host.get_named(&ns(), "history").await.unwrap();
    let big: Vec<u8> = (0..(32usize << 20)).map(|i| (i % 251) as u8).collect();
    obj.storage().put("chat", big.clone()).await.unwrap();
    assert_eq!(
        obj.storage().get("chat").await.unwrap(),
        Some(Value::Bytes(big))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_query_is_stopped_and_the_object_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StorageLimits {
        max_statement_time: std::time::Duration::from_millis(200),
        ..StorageLimits::default()
    };
    let host = host_with(dir.path(), limits);
    let obj = host.get_named(&ns(), "runaway").await.unwrap();
    let s = obj.storage();
    let started = std::time::Instant::now();
    let e = s
        .sql("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, ObjectError::LimitExceeded(_)), "{e:?}");
    assert!(
        e.to_string().contains("ran longer than the limit of 0.2 s"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    s.put("after", json!(1)).await.unwrap();
    assert_eq!(s.get("after").await.unwrap(), Some(Value::Json(json!(1))));
}
