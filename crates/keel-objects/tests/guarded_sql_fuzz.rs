//! Generated attacks on guarded SQL: statements built at random from the pieces an attacker would
//! reach for (ATTACH, PRAGMAs, keel's tables under every spelling, triggers, views, temporary
//! schema, transaction control, huge values, endless recursion), some of them mangled byte by
//! byte. Whatever each does, afterwards the object's KV entries and keel's own tables are intact,
//! no file exists outside the object's own, and every answer kept to its bounds.
//!
//! `KEEL_FUZZ_ITERATIONS` sets how many statements run (300 by default, as in CI);
//! `KEEL_FUZZ_SEED` replays a run. The long run: `KEEL_FUZZ_ITERATIONS=100000 cargo test -p
//! keel-objects --release --test guarded_sql_fuzz`.

use keel_objects::fuzzing::{FuzzRng, files_under, fuzz_run};
use keel_objects::{AnswerBounds, HostConfig, Namespace, ObjectError, ObjectHost, StorageLimits};
use serde_json::json;

const TABLES: &[&str] = &[
    "_keel_kv",
    "_keel_meta",
    "_KEEL_KV",
    "main._keel_kv",
    "\"_keel_kv\"",
    "[_keel_meta]",
    "`_keel_kv`",
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "t",
    "u",
    "v",
    "temp.t",
    "main.t",
];
const PRAGMAS: &[&str] = &[
    "journal_mode",
    "synchronous",
    "writable_schema",
    "max_page_count",
    "page_size",
    "cache_size",
    "mmap_size",
    "locking_mode",
    "user_version",
    "schema_version",
    "application_id",
    "temp_store",
    "temp_store_directory",
    "data_store_directory",
    "database_list",
    "trusted_schema",
    "foreign_keys",
    "recursive_triggers",
    "cell_size_check",
    "wal_checkpoint",
    "wal_autocheckpoint",
    "journal_size_limit",
    "secure_delete",
    "auto_vacuum",
    "incremental_vacuum",
    "shrink_memory",
    "soft_heap_limit",
    "hard_heap_limit",
    "threads",
    "table_info",
    "table_list",
    "index_list",
    "quick_check",
    "integrity_check",
    "page_count",
    "compile_options",
    "function_list",
    "module_list",
    "pragma_list",
];
const MODULES: &[&str] = &[
    "fts5",
    "rtree",
    "dbstat",
    "sqlite_dbpage",
    "json_each",
    "zipfile",
];

fn number(rng: &mut FuzzRng) -> String {
    rng.pick(&[
        "0",
        "1",
        "-1",
        "100",
        "10000",
        "1000000",
        "100000000",
        "2147483647",
        "9223372036854775807",
    ])
    .to_string()
}

fn expr(rng: &mut FuzzRng, depth: usize) -> String {
    let choice = if depth > 3 {
        rng.below(4)
    } else {
        rng.below(11)
    };
    match choice {
        0 => number(rng),
        1 => "'x'".into(),
        2 => "NULL".into(),
        3 => "sqlite_version()".into(),
        4 => format!("randomblob({})", number(rng)),
        5 => format!("zeroblob({})", number(rng)),
        6 => format!("hex(randomblob({}))", number(rng)),
        7 => format!("printf('%.*c', {}, 'x')", number(rng)),
        8 => format!("({} || {})", expr(rng, depth + 1), expr(rng, depth + 1)),
        9 => format!("(SELECT count(*) FROM {})", rng.pick(TABLES)),
        _ => format!(
            "load_extension('{}')",
            rng.pick(&["/tmp/x.so", "libc.so.6", ""])
        ),
    }
}

fn statement(rng: &mut FuzzRng, outside: &str, victim: &str, depth: usize) -> String {
    let table = rng.pick(TABLES);
    let ident = rng.pick(&["x", "t", "u", "v", "w", "_keel_x", "main", "temp"]);
    let path = rng.pick(&[
        outside,
        victim,
        "/dev/null",
        ":memory:",
        "file:x?mode=memory&cache=shared",
        "",
    ]);
    match rng.below(if depth > 1 { 24 } else { 27 }) {
        0 => format!("ATTACH DATABASE '{path}' AS {ident}"),
        1 => format!("DETACH {ident}"),
        2 => format!("PRAGMA {}", rng.pick(PRAGMAS)),
        3 => format!("PRAGMA {} = {}", rng.pick(PRAGMAS), number(rng)),
        4 => format!("PRAGMA {}({table})", rng.pick(PRAGMAS)),
        5 => format!("SELECT * FROM pragma_{}", rng.pick(PRAGMAS)),
        6 => format!("DROP TABLE IF EXISTS {table}"),
        7 => format!("DELETE FROM {table}"),
        8 => format!("INSERT INTO {table} VALUES ({})", expr(rng, 0)),
        9 => format!("UPDATE {table} SET {ident} = {}", expr(rng, 0)),
        10 => format!("SELECT {} FROM {table}", expr(rng, 0)),
        11 => format!("CREATE TABLE IF NOT EXISTS {table} ({ident})"),
        12 => format!("CREATE TEMP TABLE {ident} (x)"),
        13 => format!("CREATE VIEW IF NOT EXISTS {ident} AS SELECT * FROM {table}"),
        14 => format!("ALTER TABLE {table} RENAME TO {}", rng.pick(TABLES)),
        15 => format!("ALTER TABLE {table} ADD COLUMN {ident}"),
        16 => rng
            .pick(&[
                "VACUUM",
                "BEGIN",
                "COMMIT",
                "ROLLBACK",
                "END",
                "REINDEX",
                "ANALYZE",
                "SAVEPOINT s",
                "RELEASE s",
            ])
            .into(),
        17 => format!("VACUUM INTO '{path}'"),
        18 => format!(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT {}) SELECT n, {} FROM c",
            number(rng),
            expr(rng, 0)
        ),
        19 => format!(
            "CREATE VIRTUAL TABLE {ident} USING {}(x)",
            rng.pick(MODULES)
        ),
        20 => format!("CREATE INDEX IF NOT EXISTS i_{ident} ON {table} ({ident})"),
        21 => format!("SELECT {}", expr(rng, 0)),
        22 => format!(
            "CREATE TEMP TRIGGER tr_{ident} AFTER INSERT ON {table} BEGIN DELETE FROM _keel_kv; END"
        ),
        23 => format!("SELECT * FROM {table} LIMIT {}", number(rng)),
        24 => format!(
            "CREATE TRIGGER IF NOT EXISTS tr_{ident} AFTER INSERT ON {table} BEGIN {}; END",
            statement(rng, outside, victim, depth + 1)
        ),
        25 => format!(
            "{}; {}",
            statement(rng, outside, victim, depth + 1),
            statement(rng, outside, victim, depth + 1)
        ),
        _ => format!("INSERT INTO t SELECT {} FROM {table}", expr(rng, 0)),
    }
}

/// Flips, inserts or deletes a few bytes (valid UTF-8 kept).
fn mangle(rng: &mut FuzzRng, sql: &str) -> String {
    let mut chars: Vec<char> = sql.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        let c = [
            '\'', '"', '(', ')', ';', '-', '*', '/', '\0', ' ', 'x', '?', '[',
        ][rng.below(13)];
        match rng.below(3) {
            0 if at < chars.len() => chars[at] = c,
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ => chars.insert(at, c),
        }
    }
    chars.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_attacks_leave_the_object_and_the_disk_intact() {
    let (mut rng, iterations) = fuzz_run(300);

    let dir = tempfile::tempdir().unwrap();
    let outside_dir = tempfile::tempdir().unwrap();
    let outside = outside_dir.path().join("x.db").display().to_string();
    let host = ObjectHost::open_embedded(
        dir.path(),
        HostConfig {
            limits: StorageLimits {
                max_statement_time: std::time::Duration::from_millis(300),
                max_value_bytes: 1 << 20,
                ..StorageLimits::default()
            },
            ..HostConfig::default()
        },
    )
    .unwrap();
    let ns = Namespace::new("fuzz").unwrap();
    let victim = host.get_named(&ns, "victim").await.unwrap();
    victim.storage().put("secret", json!("kept")).await.unwrap();
    let obj = host.get_named(&ns, "attacker").await.unwrap();
    obj.storage().put("canary", json!({"n": 1})).await.unwrap();
    obj.storage()
        .sql("CREATE TABLE t (x)", vec![])
        .await
        .unwrap();
    let victim_path = files_under(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&victim.key().id.to_hex()))
        .unwrap()
        .display()
        .to_string();
    let bounds = AnswerBounds {
        max_rows: 50,
        max_bytes: 20_000,
    };

    for i in 0..iterations {
        let mut sql = statement(&mut rng, &outside, &victim_path, 0);
        if rng.below(4) == 0 {
            sql = mangle(&mut rng, &sql);
        }
        if std::env::var_os("KEEL_FUZZ_VERBOSE").is_some() {
            eprintln!("#{i} {sql}");
        }
        match obj
            .storage()
            .guarded_sql(sql.as_str(), vec![], bounds)
            .await
        {
            Ok(result) => {
                assert!(result.rows.len() <= bounds.max_rows, "#{i} {sql}");
                let bytes = serde_json::to_string(&result.rows_as_json()).unwrap().len();
                assert!(bytes <= bounds.max_bytes + 100, "#{i} {sql}: {bytes} bytes");
            }
            Err(ObjectError::Panicked(p)) => panic!("#{i} {sql}: panicked: {p}"),
            Err(_) => {}
        }
        // Intact after every statement: the KV API, keel's tables, the disk.
        let canary = obj.storage().get("canary").await;
        assert_eq!(
            canary
                .as_ref()
                .ok()
                .and_then(|v| v.as_ref())
                .map(|v| v.to_json()),
            Some(json!({"n": 1})),
            "#{i} {sql}: the KV entry is gone: {canary:?}"
        );
        assert!(
            std::fs::read_dir(outside_dir.path())
                .unwrap()
                .next()
                .is_none(),
            "#{i} {sql}: a file appeared outside the data directory"
        );
    }
    obj.storage().put("after", json!(true)).await.unwrap();
    let meta = obj
        .storage()
        .sql("SELECT count(*) FROM _keel_meta", vec![])
        .await;
    assert!(meta.is_ok(), "{meta:?}");
    let version = obj
        .storage()
        .sql("PRAGMA user_version", vec![])
        .await
        .unwrap();
    assert_eq!(version.rows[0][0], keel_objects::SqlValue::Integer(0));
    assert_eq!(
        victim
            .storage()
            .get("secret")
            .await
            .unwrap()
            .map(|v| v.to_json()),
        Some(json!("kept"))
    );
    let stray: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|p| {
            let p = p.to_string_lossy();
            !p.contains(&obj.key().id.to_hex())
                && !p.contains(&victim.key().id.to_hex())
                && !p.ends_with("LOCK")
                && !p.contains("alarms")
        })
        .collect();
    assert!(stray.is_empty(), "files appeared: {stray:?}");
}
