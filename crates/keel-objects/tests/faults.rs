//! Faults: a killed process, corrupt and locked files, a full disk, a data directory in use.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keel_objects::{
    FileStore, HostConfig, ListOptions, Namespace, ObjectError, ObjectHost, ObjectKey, Value,
};
use serde_json::json;

fn ns() -> Namespace {
    Namespace::new("fault").unwrap()
}

const CHILD_ENV: &str = "KEEL_OBJECTS_KILL_CHILD_DIR";

/// The child half of `sigkill_never_loses_an_acknowledged_write`: writes forever from 32 tasks into
/// one object and 8 others (new objects included), printing each key once its put has returned.
#[test]
fn sigkill_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let host = Arc::new(ObjectHost::open_embedded(&dir, HostConfig::default()).unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for w in 0..32u32 {
            let (host, tx) = (Arc::clone(&host), tx.clone());
            tokio::spawn(async move {
                for i in 0u64.. {
                    let name = if w % 4 == 0 {
                        format!("o{}", (w + i as u32) % 9)
                    } else {
                        "shared".into()
                    };
                    let key = format!("w{w}-{i}");
                    let obj = host.get_named(&ns(), &name).await.unwrap();
                    obj.storage().put(key.clone(), json!(i)).await.unwrap();
                    if tx.send(format!("ACK {name} {key}")).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        while let Some(line) = rx.recv().await {
            writeln!(out, "{line}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_an_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "sigkill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((name, key)) = line.strip_prefix("ACK ").and_then(|l| l.split_once(' ')) {
                acked.push((name.to_string(), key.to_string()));
            }
        }
        acked
    });
    // Let it write for a while, then kill it mid-write.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // std's Child::kill sends SIGKILL on Unix.
    child.kill().unwrap();
    child.wait().unwrap();
    let acked = reader.join().unwrap();
    assert!(
        acked.len() > 500,
        "the child acknowledged only {} writes",
        acked.len()
    );

    let host = ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap();
    let mut by_object: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, key) in acked {
        by_object.entry(name).or_default().push(key);
    }
    for (name, keys) in by_object {
        let obj = host.get_named(&ns(), &name).await.unwrap();
        let stored: std::collections::HashSet<String> = obj
            .storage()
            .list(ListOptions::default())
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let lost: Vec<&String> = keys.iter().filter(|k| !stored.contains(*k)).collect();
        assert!(
            lost.is_empty(),
            "object {name} lost {} acknowledged writes, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap();
    let bad = ObjectKey::from_name(&ns(), "bad").unwrap();
    let good = ObjectKey::from_name(&ns(), "good").unwrap();
    for key in [&bad, &good] {
        host.get(key)
            .await
            .unwrap()
            .storage()
            .put("k", json!("v"))
            .await
            .unwrap();
        host.evict_idle(Some(Duration::ZERO)).await;
    }
    let path = FileStore::path_of_in(dir.path(), &bad);
    std::fs::write(
        &path,
        b"this is not a database, just garbage bytes ".repeat(200),
    )
    .unwrap();
    let e = host
        .get(&bad)
        .await
        .err()
        .expect("a corrupt object fails to open");
    assert!(matches!(e, ObjectError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("keel objects import"), "{e}");
    let obj = host.get(&good).await.unwrap();
    assert_eq!(
        obj.storage().get("k").await.unwrap(),
        Some(Value::Json(json!("v")))
    );
    obj.storage().put("still", json!("working")).await.unwrap();
    // An unreadable file: a clear error as well.
    let e = host.get(&bad).await.err().expect("still corrupt");
    assert!(e.to_string().contains("corrupt"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap();
    let key = ObjectKey::from_name(&ns(), "locked").unwrap();
    host.get(&key)
        .await
        .unwrap()
        .storage()
        .put("k", json!(1))
        .await
        .unwrap();
    host.evict_idle(Some(Duration::ZERO)).await;
    let outsider = rusqlite::Connection::open(FileStore::path_of_in(dir.path(), &key)).unwrap();
    outsider
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let e = host.get(&key).await.err().expect("locked");
    assert!(matches!(e, ObjectError::Locked { .. }), "{e:?}");
    assert!(e.to_string().contains("locked by another process"), "{e}");
    outsider.execute_batch("COMMIT").unwrap();
    drop(outsider);
    let obj = host.get(&key).await.unwrap();
    assert_eq!(
        obj.storage().get("k").await.unwrap(),
        Some(Value::Json(json!(1)))
    );
}

#[test]
fn a_data_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FileStore::open(dir.path()).unwrap();
    let e = FileStore::open(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("in use by another keel process"), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
}

/// A real full disk: a 1 MiB tmpfs mounted for the test (the suite runs as root, as CI does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_write_and_loses_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mount)
        .status()
        .expect("the mount command runs");
    assert!(
        status.success(),
        "mounting a tmpfs needs root: run the test suite as root (CI does)"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    {
        let host = ObjectHost::open_embedded(&mount, HostConfig::default()).unwrap();
        let obj = host.get_named(&ns(), "disk").await.unwrap();
        obj.storage().put("before", json!("safe")).await.unwrap();
        // Something else on the disk that an operator can remove to make room.
        let ballast = mount.join("ballast");
        std::fs::write(&ballast, vec![0u8; 300 * 1024]).unwrap();
        let mut full = None;
        for i in 0..64 {
            if let Err(e) = obj
                .storage()
                .put(format!("blob{i}"), vec![7u8; 64 * 1024])
                .await
            {
                full = Some(e);
                break;
            }
        }
        let full = full.expect("the disk fills up");
        assert!(
            matches!(full, ObjectError::Full { .. } | ObjectError::Io { .. }),
            "{full:?}"
        );
        assert!(
            full.to_string().contains("full") || full.to_string().contains("I/O"),
            "{full}"
        );
        assert_eq!(
            obj.storage().get("before").await.unwrap(),
            Some(Value::Json(json!("safe")))
        );
        // Free space and carry on.
        std::fs::remove_file(&ballast).unwrap();
        let blobs: Vec<String> = (0..64).map(|i| format!("blob{i}")).collect();
        obj.storage().delete_many(blobs).await.unwrap();
        obj.storage().put("after", json!("ok")).await.unwrap();
        drop(obj);
        host.shutdown(Duration::from_secs(5)).await;
    }
    let host = ObjectHost::open_embedded(&mount, HostConfig::default()).unwrap();
    let obj = host.get_named(&ns(), "disk").await.unwrap();
    assert_eq!(
        obj.storage().get("before").await.unwrap(),
        Some(Value::Json(json!("safe")))
    );
    assert_eq!(
        obj.storage().get("after").await.unwrap(),
        Some(Value::Json(json!("ok")))
    );
}
