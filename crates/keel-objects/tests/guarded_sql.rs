//! SQL from a tool's caller, tried as an attacker would: each statement is refused with an error
//! that says why, and the object, its KV entries and the disk are as they were.

use keel_objects::fuzzing::files_under;
use keel_objects::{
    AnswerBounds, HostConfig, Namespace, Object, ObjectError, ObjectHost, SqlResult, SqlValue,
    StorageLimits,
};
use serde_json::json;

fn host(dir: &std::path::Path) -> ObjectHost {
    ObjectHost::open_embedded(
        dir,
        HostConfig {
            limits: StorageLimits {
                max_statement_time: std::time::Duration::from_millis(500),
                ..StorageLimits::default()
            },
            ..HostConfig::default()
        },
    )
    .expect("host")
}

async fn object(host: &ObjectHost, name: &str) -> Object {
    host.get_named(&Namespace::new("test").unwrap(), name)
        .await
        .unwrap()
}

async fn run(obj: &Object, sql: &str) -> Result<SqlResult, ObjectError> {
    obj.storage()
        .guarded_sql(sql, vec![], AnswerBounds::default())
        .await
}

/// Asserts that `sql` is refused as not allowed, with `why` in the message.
async fn refused(obj: &Object, sql: &str, why: &str) {
    match run(obj, sql).await {
        Err(e @ ObjectError::NotAllowed(_)) => {
            let text = e.to_string();
            assert!(text.contains(why), "{sql}: {text:?} does not say {why:?}");
        }
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_cannot_leave_its_object_or_touch_keels_tables() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    let victim = object(&host, "victim").await;
    victim
        .storage()
        .put("secret", json!("s3cret"))
        .await
        .unwrap();
    victim
        .storage()
        .sql("CREATE TABLE notes (body TEXT)", vec![])
        .await
        .unwrap();
    let obj = object(&host, "attacker").await;
    obj.storage().put("mine", json!(1)).await.unwrap();
    run(&obj, "CREATE TABLE t (x)").await.unwrap();
    let before = files_under(dir.path());

    // Another object's file is at a computable path; any path is a new file.
    let victim_file = before
        .iter()
        .find(|p| p.to_string_lossy().contains(&victim.key().id.to_hex()))
        .expect("the victim's file")
        .clone();
    for target in [
        victim_file.display().to_string(),
        outside.path().join("new.db").display().to_string(),
    ] {
        refused(&obj, &format!("ATTACH DATABASE '{target}' AS x"), "ATTACH").await;
    }
    refused(&obj, "DETACH DATABASE main", "DETACH").await;
    let evil = outside.path().join("copy.db");
    let vacuum = run(&obj, &format!("VACUUM INTO '{}'", evil.display())).await;
    assert!(vacuum.is_err(), "VACUUM INTO: {vacuum:?}");
    assert!(
        !evil.exists(),
        "VACUUM INTO wrote outside the data directory"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

    // keel's own tables: not read, written, dropped, altered, indexed, triggered or viewed.
    for sql in [
        "DROP TABLE _keel_kv",
        "DELETE FROM _keel_kv",
        "UPDATE _keel_kv SET value = x'00'",
        "INSERT INTO _keel_kv VALUES ('k', 0, '1')",
        "SELECT * FROM _keel_kv",
        "SELECT * FROM _KEEL_META",
        "ALTER TABLE _keel_kv RENAME TO mine",
        "ALTER TABLE _keel_kv ADD COLUMN c",
        "CREATE INDEX i ON _keel_kv (value)",
        "CREATE TRIGGER tr AFTER INSERT ON _keel_kv BEGIN DELETE FROM t; END",
        "CREATE TABLE _keel_new (x)",
        "DROP TABLE IF EXISTS _keel_meta",
    ] {
        refused(&obj, sql, "keel's internal tables").await;
    }
    // The temp schema: a table there named like keel's would shadow it for keel's own statements.
    for sql in [
        "CREATE TABLE temp.t (x)",
        "CREATE TABLE IF NOT EXISTS temp.shadow (x)",
        "CREATE VIEW temp.v2 AS SELECT 1",
    ] {
        refused(&obj, sql, "\"temp\" schema is not allowed").await;
    }
    // A rename into keel's names (the authorizer is not told the new name).
    run(&obj, "CREATE TABLE renamed (x)").await.unwrap();
    refused(
        &obj,
        "ALTER TABLE renamed RENAME TO _keel_mine",
        "keel's own",
    )
    .await;
    refused(
        &obj,
        "ALTER TABLE renamed RENAME TO \"_KEEL_kv2\"",
        "keel's own",
    )
    .await;
    run(&obj, "SELECT * FROM renamed").await.unwrap();
    // A view over them is refused when used; a trigger on a user table that reaches them is
    // refused when it would fire.
    run(&obj, "CREATE VIEW v AS SELECT * FROM _keel_kv")
        .await
        .ok();
    refused(&obj, "SELECT * FROM v", "keel's internal tables").await;
    run(
        &obj,
        "CREATE TRIGGER wipe AFTER INSERT ON t BEGIN DELETE FROM _keel_kv; END",
    )
    .await
    .ok();
    refused(&obj, "INSERT INTO t VALUES (1)", "keel's internal tables").await;

    // PRAGMAs that change durability, limits or the file; and the one that shows the path.
    for sql in [
        "PRAGMA journal_mode=OFF",
        "PRAGMA journal_mode",
        "PRAGMA synchronous=OFF",
        "PRAGMA writable_schema=ON",
        "PRAGMA max_page_count=2147483647",
        "PRAGMA cache_size=-100000000",
        "PRAGMA mmap_size=1000000000",
        "PRAGMA locking_mode=NORMAL",
        "PRAGMA user_version=7",
        "PRAGMA page_size=512",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA trusted_schema=ON",
        "PRAGMA foreign_keys=OFF",
        "PRAGMA database_list",
        "SELECT * FROM pragma_database_list",
        "PRAGMA main.journal_mode=DELETE",
    ] {
        refused(&obj, sql, "PRAGMA").await;
    }
    // Transaction control would commit keel's group commit from inside.
    for sql in ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s"] {
        refused(&obj, sql, "each call is already one transaction").await;
    }
    refused(&obj, "CREATE TEMP TABLE tt (x)", "temporary").await;
    refused(&obj, "CREATE TEMP VIEW tv AS SELECT 1", "temporary").await;
    refused(&obj, "SELECT load_extension('/tmp/x.so')", "load_extension").await;
    refused(
        &obj,
        "CREATE VIRTUAL TABLE vt USING dbstat",
        "virtual tables of module",
    )
    .await;

    // What stays allowed: reading the schema, ordinary tables and indexes, full-text search.
    for sql in [
        "PRAGMA table_info(t)",
        "PRAGMA table_list",
        "SELECT name FROM pragma_table_info('t')",
        "PRAGMA index_list(t)",
        "PRAGMA foreign_key_list(t)",
        "PRAGMA quick_check",
        "PRAGMA page_count",
        "SELECT name FROM sqlite_schema",
        "CREATE INDEX t_x ON t (x)",
        "CREATE VIRTUAL TABLE docs USING fts5(body)",
        "DROP TRIGGER wipe",
        "INSERT INTO t VALUES (1)",
        "ALTER TABLE t RENAME TO t2",
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10) SELECT sum(n) FROM c",
    ] {
        if let Err(e) = run(&obj, sql).await {
            panic!("{sql} should be allowed: {e}");
        }
    }

    // Nothing else was affected: both objects' KV and tables work, no file appeared, and keel's
    // own statements still run (the guard is for caller SQL only).
    assert_eq!(
        obj.storage()
            .get("mine")
            .await
            .unwrap()
            .map(|v| v.to_json()),
        Some(json!(1))
    );
    obj.storage().put("after", json!(2)).await.unwrap();
    assert_eq!(
        victim
            .storage()
            .get("secret")
            .await
            .unwrap()
            .map(|v| v.to_json()),
        Some(json!("s3cret"))
    );
    let user_version = obj
        .storage()
        .sql("PRAGMA user_version", vec![])
        .await
        .unwrap();
    assert_eq!(user_version.rows.len(), 1);
    let after = files_under(dir.path());
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        new.iter()
            .all(|p| p.to_string_lossy().contains(&obj.key().id.to_hex())),
        "files appeared: {new:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_and_work_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    let obj = object(&host, "big").await;

    // A value larger than a stored value may be fails at once instead of filling memory.
    let started = std::time::Instant::now();
    let e = run(&obj, "SELECT randomblob(300000000)").await.unwrap_err();
    assert!(
        e.to_string().contains("larger than the limit")
            && e.to_string().contains("max_value_bytes"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(run(&obj, "SELECT zeroblob(2000000000)").await.is_err());

    // A million rows: the answer stops at its bound and says how many were left out.
    let bounds = AnswerBounds {
        max_rows: 100,
        max_bytes: 1 << 20,
    };
    let million = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000) SELECT n FROM c";
    let r = obj
        .storage()
        .guarded_sql(million, vec![], bounds)
        .await
        .unwrap();
    assert_eq!(r.rows.len(), 100);
    let cut = r.cut.expect("cut");
    assert_eq!(cut.bound, "100 rows");
    assert!(cut.rows_left_out == 999_900 || !cut.counted_all, "{cut:?}");
    // By bytes: wide rows stop well before the row bound.
    let bounds = AnswerBounds {
        max_rows: 10_000,
        max_bytes: 100_000,
    };
    let wide = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000) SELECT n, hex(randomblob(5000)) AS h FROM c";
    let r = obj
        .storage()
        .guarded_sql(wide, vec![], bounds)
        .await
        .unwrap();
    let json_len = serde_json::to_string(&r.rows_as_json()).unwrap().len();
    assert!(json_len <= 100_000, "{json_len} bytes");
    assert!(r.rows.len() >= 5, "{} rows", r.rows.len());
    let cut = r.cut.expect("cut");
    assert_eq!(cut.bound, "100000 bytes");
    assert_eq!(r.rows.len() as u64 + cut.rows_left_out, 1000);

    // Text of NULs (a blob concatenated is text) is six bytes a character in JSON: still bounded.
    let nuls = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100) SELECT zeroblob(10000) || zeroblob(1) AS z FROM c";
    let r = obj
        .storage()
        .guarded_sql(nuls, vec![], bounds)
        .await
        .unwrap();
    let json_len = serde_json::to_string(&r.rows_as_json()).unwrap().len();
    assert!(json_len <= 100_000 && r.cut.is_some(), "{json_len} bytes");

    // A statement that never ends is stopped at the time limit, also while its answer is built.
    let endless =
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c";
    let e = run(&obj, endless).await.unwrap_err();
    assert!(e.to_string().contains("max_statement_time"), "{e}");
    // A cut read that goes on past the limit while its rest is counted says "at least".
    let r = obj
        .storage()
        .guarded_sql(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c",
            vec![],
            AnswerBounds {
                max_rows: 10,
                max_bytes: 1 << 20,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.rows.len(), 10);
    assert!(!r.cut.expect("cut").counted_all);

    // SQLite's own limits: SQL text, expression depth, compound selects, parameters.
    let long = format!("SELECT '{}'", "a".repeat(2 << 20));
    assert!(run(&obj, &long).await.is_err());
    let deep = format!("SELECT {}1{}", "abs(".repeat(1000), ")".repeat(1000));
    assert!(run(&obj, &deep).await.is_err());
    let compound = vec!["SELECT 1"; 300].join(" UNION ALL ");
    assert!(run(&obj, &compound).await.is_err());
    let many = obj
        .storage()
        .guarded_sql(
            "SELECT ?5000",
            vec![SqlValue::Null; 5000],
            AnswerBounds::default(),
        )
        .await;
    assert!(many.is_err());

    // The object still works.
    run(&obj, "CREATE TABLE ok (x)").await.unwrap();
    obj.storage().put("k", json!("v")).await.unwrap();
}

#[tokio::test]
async fn rows_written_counts_this_statement_only() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    let obj = object(&host, "written").await;
    run(&obj, "CREATE TABLE t (x)").await.unwrap();
    let insert = run(&obj, "INSERT INTO t VALUES (1), (2), (3)")
        .await
        .unwrap();
    assert_eq!(insert.rows_written, 3);
    // DDL after DML wrote nothing (SQLite's `changes()` would still say 3).
    let create = run(&obj, "CREATE TABLE u (y)").await.unwrap();
    assert_eq!(create.rows_written, 0);
    let read = run(&obj, "SELECT * FROM t").await.unwrap();
    assert_eq!(read.rows_written, 0);
}
