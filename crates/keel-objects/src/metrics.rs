//! Counters of the object runtime, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the storage-latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// What the runtime counts. All methods are lock-free.
#[derive(Debug, Default)]
pub struct Metrics {
    live: AtomicI64,
    activations: AtomicU64,
    evictions: AtomicU64,
    alarms_fired: AtomicU64,
    alarm_failures: AtomicU64,
    storage_buckets: [AtomicU64; BUCKETS.len()],
    storage_count: AtomicU64,
    storage_sum_nanos: AtomicU64,
}

impl Metrics {
    pub(crate) fn activated(&self) {
        self.live.fetch_add(1, Relaxed);
        self.activations.fetch_add(1, Relaxed);
    }

    pub(crate) fn evicted(&self) {
        self.live.fetch_sub(1, Relaxed);
        self.evictions.fetch_add(1, Relaxed);
    }

    pub(crate) fn alarm_fired(&self, ok: bool) {
        self.alarms_fired.fetch_add(1, Relaxed);
        if !ok {
            self.alarm_failures.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn observe_storage(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.storage_buckets[i].fetch_add(1, Relaxed);
        }
        self.storage_count.fetch_add(1, Relaxed);
        self.storage_sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// Objects live right now.
    pub fn live_objects(&self) -> i64 {
        self.live.load(Relaxed)
    }

    /// Activations since start.
    pub fn activations(&self) -> u64 {
        self.activations.load(Relaxed)
    }

    /// Evictions since start.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Relaxed)
    }

    /// Appends the metrics in the Prometheus text exposition format.
    pub fn render_prometheus(&self, out: &mut String) {
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        gauge(
            out,
            "keel_objects_live",
            "Durable objects live in memory.",
            "gauge",
            self.live.load(Relaxed).to_string(),
        );
        gauge(
            out,
            "keel_object_activations_total",
            "Objects activated (created or woken).",
            "counter",
            self.activations().to_string(),
        );
        gauge(
            out,
            "keel_object_evictions_total",
            "Objects evicted from memory.",
            "counter",
            self.evictions().to_string(),
        );
        gauge(
            out,
            "keel_object_alarms_total",
            "Alarm handlers run.",
            "counter",
            self.alarms_fired.load(Relaxed).to_string(),
        );
        gauge(
            out,
            "keel_object_alarm_failures_total",
            "Alarm handlers that failed.",
            "counter",
            self.alarm_failures.load(Relaxed).to_string(),
        );
        let name = "keel_storage_call_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Latency of storage calls, from submit to durable reply."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.storage_buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.storage_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.storage_sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}
