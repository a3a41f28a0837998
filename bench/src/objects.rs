//! Durable-object benchmarks. `cargo run --release -p keel-bench --bin objects [-- --quick] [--dir DIR]`
//!
//! Prints, for the embedded backend on this machine's disk:
//! - the physical floor: create a file, write, fsync it and its directory;
//! - a new object and its first durable write (p50/p99);
//! - waking an evicted object and reading one key (p50/p99);
//! - durable puts/s from 32 concurrent writers into one object, and into 32 objects;
//! - 100,000 objects created, written and evicted: total time, disk per object, resident memory after.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keel_objects::{HostConfig, Namespace, ObjectHost};
use serde_json::json;

struct Args {
    quick: bool,
    dir: Option<PathBuf>,
    only: Option<String>,
}

impl Args {
    fn runs(&self, phase: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == phase)
    }
}

fn parse_args() -> Args {
    let mut args = Args {
        quick: false,
        dir: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--dir" => args.dir = it.next().map(PathBuf::from),
            "--only" => args.only = it.next(),
            other => {
                eprintln!(
                    "unknown argument {other:?}: use --quick, --dir DIR, --only floor|create|wake|puts|many"
                );
                std::process::exit(2);
            }
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<48} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
    );
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn dir_bytes(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0, 0);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                let (b, f) = dir_bytes(&p);
                bytes += b;
                files += f;
            } else if let Ok(m) = e.metadata() {
                bytes += m.len();
                files += 1;
            }
        }
    }
    (bytes, files)
}

fn fsync_floor(dir: &Path, n: usize) -> Vec<Duration> {
    use std::io::Write;
    let floor = dir.join("floor");
    std::fs::create_dir_all(&floor).expect("floor dir");
    (0..n)
        .map(|i| {
            let t = Instant::now();
            let mut f = std::fs::File::create(floor.join(format!("f{i}"))).expect("create");
            f.write_all(&[7u8; 4096]).expect("write");
            f.sync_all().expect("fsync");
            std::fs::File::open(&floor)
                .expect("dir")
                .sync_all()
                .expect("dir fsync");
            t.elapsed()
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args();
    let scale = if args.quick { 10 } else { 1 };
    let tmp;
    let base = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir_in(".").expect("temp dir in the current directory");
            tmp.path().to_path_buf()
        }
    };
    println!(
        "keel durable-object benchmarks (data under {})",
        base.display()
    );
    let ns = Namespace::new("bench").expect("namespace");

    if args.runs("floor") {
        report(
            "floor: create file + write 4 KiB + fsync + dir fsync",
            fsync_floor(&base, 1000 / scale),
        );
    }

    // New object + first durable write, one after another.
    if args.runs("create") {
        let host =
            ObjectHost::open_embedded(base.join("create"), HostConfig::default()).expect("host");
        let n = 2000 / scale;
        let mut samples = Vec::with_capacity(n);
        let mut activation = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            let obj = host.get_named(&ns, &format!("new-{i}")).await.expect("get");
            activation.push(t.elapsed());
            obj.storage().put("k", json!(i)).await.expect("put");
            samples.push(t.elapsed());
        }
        report("new object + first durable write", samples);
        report("  of which activation (in memory, no I/O)", activation);
        host.shutdown(Duration::from_secs(60)).await;
    }

    // Wake an evicted object and read one key.
    if args.runs("wake") {
        let host =
            ObjectHost::open_embedded(base.join("wake"), HostConfig::default()).expect("host");
        let n = 2000 / scale;
        for i in 0..n {
            let obj = host.get_named(&ns, &format!("w-{i}")).await.expect("get");
            obj.storage().put("k", json!(i)).await.expect("put");
        }
        host.evict_idle(Some(Duration::ZERO)).await;
        assert_eq!(host.metrics().live_objects(), 0, "everything evicted");
        let mut samples = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            let obj = host.get_named(&ns, &format!("w-{i}")).await.expect("get");
            let v = obj.storage().get("k").await.expect("get");
            samples.push(t.elapsed());
            assert!(v.is_some());
        }
        report("wake evicted object + read one key", samples);
        host.shutdown(Duration::from_secs(60)).await;
    }

    // Durable puts per second, 32 concurrent writers.
    for (label, objects) in [
        ("32 writers -> 1 object", 1usize),
        ("32 writers -> 32 objects", 32),
    ] {
        if !args.runs("puts") {
            break;
        }
        let host = Arc::new(
            ObjectHost::open_embedded(base.join(format!("puts{objects}")), HostConfig::default())
                .expect("host"),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..32 {
            let (host, stop, count, ns) = (
                Arc::clone(&host),
                Arc::clone(&stop),
                Arc::clone(&count),
                ns.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let obj = host
                    .get_named(&ns, &format!("p-{}", w % objects))
                    .await
                    .expect("get");
                let mut lat = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    obj.storage()
                        .put(
                            format!("w{w}-{i}"),
                            json!({"i": i, "payload": "x".repeat(100)}),
                        )
                        .await
                        .expect("put");
                    lat.push(t.elapsed());
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                lat
            }));
        }
        let secs = if args.quick { 1.0 } else { 5.0 };
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("writer"));
        }
        let total = count.load(Ordering::Relaxed);
        println!(
            "durable puts/s, {label:<26} {:>10.0} puts/s",
            total as f64 / secs
        );
        report(&format!("  put latency, {label}"), lat);
        host.shutdown(Duration::from_secs(60)).await;
    }

    // 100,000 objects created, written and evicted.
    if args.runs("many") {
        let n = 100_000 / scale;
        let dir = base.join("many");
        let rss_before = rss_mib();
        let host = Arc::new(ObjectHost::open_embedded(&dir, HostConfig::default()).expect("host"));
        let next = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (host, next, ns) = (Arc::clone(&host), Arc::clone(&next), ns.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n as u64 {
                        return;
                    }
                    let obj = host.get_named(&ns, &format!("m-{i}")).await.expect("get");
                    obj.storage()
                        .put("state", json!({"i": i}))
                        .await
                        .expect("put");
                }
            }));
        }
        for t in tasks {
            t.await.expect("creator");
        }
        let peak_live = host.metrics().live_objects();
        host.evict_idle(Some(Duration::ZERO)).await;
        let elapsed = t.elapsed();
        let (bytes, files) = dir_bytes(&dir.join("objects"));
        println!(
            "{n} objects created, written, evicted: {:.1} s ({:.0} objects/s), live at end of writes {peak_live}, live now {}",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            host.metrics().live_objects()
        );
        println!(
            "  disk: {:.1} MiB in {files} files, {:.1} KiB per object",
            bytes as f64 / 1048576.0,
            bytes as f64 / 1024.0 / n as f64
        );
        println!(
            "  resident memory: {rss_before:.1} MiB before, {:.1} MiB after",
            rss_mib()
        );
        host.shutdown(Duration::from_secs(60)).await;
    }
}
