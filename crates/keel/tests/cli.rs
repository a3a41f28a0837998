//! The `keel` binary as a user runs it: serve, health and metrics, SIGTERM, config, and the
//! `keel objects` inspection commands on a real data directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use keel_objects::{HostConfig, Namespace, ObjectHost};
use serde_json::json;

mod common;

use common::{Server, keel};

#[test]
fn serve_answers_health_and_metrics_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (status, body) = server.get("/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "keel_objects_live 0",
        "keel_object_activations_total",
        "keel_object_evictions_total",
        "keel_storage_call_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }
    assert_eq!(server.get("/nowhere").0, 404);

    // A second server on the same data directory is refused with a clear message.
    let second = keel()
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another keel process"), "{err}");

    let status = server.terminate();
    assert!(status.success(), "keel exits 0 after SIGTERM, got {status}");
    assert!(
        dir.path().join(".keel/LOCK").exists(),
        "default data directory is ./.keel"
    );
    // The lock is released: the data directory can be opened again.
    let again = Server::start(dir.path(), &[]);
    assert!(again.terminate().success());
}

#[test]
fn config_file_environment_and_flags_combine_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keel.toml"),
        "data = \"from-file\"\n[objects]\nidle_timeout = \"5s\"\n",
    )
    .unwrap();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.terminate().success());
    assert!(
        dir.path().join("from-file/LOCK").exists(),
        "data from keel.toml"
    );

    let mut cmd = keel();
    let mut child = cmd
        .current_dir(dir.path())
        .env("KEEL_DATA", "from-env")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Server {
        child,
        addr: String::new(),
    }
    .terminate();
    assert!(
        dir.path().join("from-env/LOCK").exists(),
        "KEEL_DATA beats the file"
    );

    let out = run(keel()
        .current_dir(dir.path())
        .env("KEEL_DATA", "from-env")
        .args(["--data", "from-flag", "objects", "list"]));
    assert!(out.status.success());
    assert!(
        dir.path().join("from-flag/LOCK").exists(),
        "--data beats KEEL_DATA"
    );
}

#[test]
fn bad_settings_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["serve", "--listen", "nowhere"], "is not a listen address"),
        (&["serve", "--idle-timeout", "soon"], "is not a duration"),
        (
            &["serve", "--max-live-objects", "0"],
            "max_live must be at least 1",
        ),
        (
            &["--config", "missing.toml", "serve"],
            "cannot read config file missing.toml",
        ),
    ];
    for (args, expected) in cases {
        let out = run(keel().current_dir(dir.path()).args(args));
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    std::fs::write(dir.path().join("keel.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = run(keel().current_dir(dir.path()).args(["serve"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keel.toml is not a valid keel config") && err.contains("lisen"),
        "{err}"
    );
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("keel runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn objects_commands_list_read_query_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = rt.block_on(async {
        let host = ObjectHost::open_embedded(&data, HostConfig::default()).unwrap();
        let obj = host
            .get_named(&Namespace::new("session").unwrap(), "alice")
            .await
            .unwrap();
        let s = obj.storage();
        s.put("todo:1", json!({"task": "book court 3"}))
            .await
            .unwrap();
        s.put("todo:2", json!({"task": "pay"})).await.unwrap();
        s.put("other", vec![1u8, 2, 3]).await.unwrap();
        s.sql("CREATE TABLE booking (court INTEGER, hour INTEGER)", vec![])
            .await
            .unwrap();
        s.sql("INSERT INTO booking VALUES (3, 17)", vec![])
            .await
            .unwrap();
        let id = obj.key().to_string();
        drop(obj);
        host.shutdown(Duration::from_secs(5)).await;
        id
    });
    let data_arg = data.to_str().unwrap();
    let keel_on = |args: &[&str]| run(keel().arg("--data").arg(data_arg).args(args));

    let list = stdout(&keel_on(&["objects", "list"]));
    assert!(list.starts_with(&format!("{id}\talice\t")), "{list}");

    let kv = stdout(&keel_on(&["objects", "kv", "session:alice", "todo:"]));
    let lines: Vec<serde_json::Value> = kv
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"key": "todo:1", "value": {"task": "book court 3"}}),
            json!({"key": "todo:2", "value": {"task": "pay"}}),
        ]
    );
    let all = stdout(&keel_on(&["objects", "kv", &id]));
    assert!(
        all.contains(r#"{"key":"other","value":{"$bytes":"010203"}}"#),
        "{all}"
    );

    let sql = stdout(&keel_on(&[
        "objects",
        "sql",
        "session:alice",
        "SELECT court, hour FROM booking WHERE court = ?1",
        "3",
    ]));
    let result: serde_json::Value = serde_json::from_str(&sql).unwrap();
    assert_eq!(result["rows"], json!([{"court": 3, "hour": 17}]));
    let bad = keel_on(&["objects", "sql", "session:alice", "SELEKT"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("syntax error"));

    let missing = keel_on(&["objects", "kv", "session:nobody"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("does not exist"),
        "{missing:?}"
    );
    let malformed = keel_on(&["objects", "kv", "garbage"]);
    assert!(
        String::from_utf8_lossy(&malformed.stderr).contains("NAMESPACE/ID"),
        "{malformed:?}"
    );

    let backup = dir.path().join("alice.sqlite");
    stdout(&keel_on(&[
        "objects",
        "export",
        "session:alice",
        backup.to_str().unwrap(),
    ]));
    let other_data = dir.path().join("other");
    let imported = stdout(&run(keel().arg("--data").arg(&other_data).args([
        "objects",
        "import",
        backup.to_str().unwrap(),
    ])));
    assert!(imported.contains(&id), "{imported}");
    let kv = stdout(&run(keel().arg("--data").arg(&other_data).args([
        "objects",
        "kv",
        "session:alice",
        "todo:2",
    ])));
    assert!(kv.contains("pay"), "{kv}");
    let again = run(keel().arg("--data").arg(&other_data).args([
        "objects",
        "import",
        backup.to_str().unwrap(),
    ]));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--replace"),
        "{again:?}"
    );
    stdout(&run(keel().arg("--data").arg(&other_data).args([
        "objects",
        "import",
        "--replace",
        backup.to_str().unwrap(),
    ])));

    let not_export = dir.path().join("junk");
    std::fs::write(&not_export, b"junk").unwrap();
    let out = keel_on(&["objects", "import", not_export.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a keel object export"),
        "{out:?}"
    );
}
