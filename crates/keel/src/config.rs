//! `keel.toml`: the settings file. Every key can be overridden by a `KEEL_*` environment variable
//! and a command-line flag (flag beats variable beats file beats default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use keel_objects::{HostConfig, StorageLimits};
use serde::Deserialize;

/// The file's shape. Unknown keys are refused so that a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data: Option<PathBuf>,
    pub log_format: Option<String>,
    pub shutdown_grace: Option<String>,
    pub allowed_hosts: Option<String>,
    pub allowed_origins: Option<String>,
    pub tool_timeout: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub max_answer_bytes: Option<usize>,
    pub header_timeout: Option<String>,
    pub unused_session_ttl: Option<String>,
    pub max_connections: Option<usize>,
    pub max_answer_rows: Option<usize>,
    /// Tool groups (or tools) to offer; `default` stands for the state and browser groups.
    pub tools: Option<Vec<String>>,
    #[serde(default)]
    pub objects: ObjectsFileConfig,
    #[serde(default)]
    pub browser: BrowserFileConfig,
}

/// `[browser]` in `keel.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserFileConfig {
    /// `auto`, `on` or `off`.
    pub enabled: Option<String>,
    pub chrome: Option<PathBuf>,
    /// A remote browser's DevTools WebSocket URL, used instead of a local Chromium.
    pub ws: Option<String>,
    pub allow: Option<Vec<String>>,
    pub navigation_timeout: Option<String>,
    pub action_timeout: Option<String>,
    pub max_contexts: Option<usize>,
    pub max_tabs: Option<usize>,
    pub max_snapshot_bytes: Option<usize>,
    pub max_download_bytes: Option<u64>,
    pub max_read_bytes: Option<usize>,
    pub max_contexts_per_client: Option<usize>,
    pub idle_timeout: Option<String>,
}

/// `[objects]` in `keel.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsFileConfig {
    pub idle_timeout: Option<String>,
    pub max_live: Option<usize>,
    pub max_key_bytes: Option<usize>,
    pub max_value_bytes: Option<usize>,
    pub max_object_bytes: Option<u64>,
    pub cache_kib: Option<u32>,
    pub max_statement_time: Option<String>,
}

impl FileConfig {
    /// Reads `path`; a missing file is an error only when the user named it explicitly.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is not a valid keel config", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
        }
    }
}

/// Parses `250ms`, `30s`, `5m`, `2h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration: write e.g. 250ms, 30s, 5m or 2h"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("{text:?} has an unknown unit {other:?}: use ms, s, m or h"),
    };
    if !secs.is_finite() || secs < 0.0 {
        bail!("{text:?} is not a valid duration");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a listen address such as `127.0.0.1:8787`.
pub fn parse_listen(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse().with_context(|| {
        format!("{text:?} is not a listen address: write HOST:PORT, e.g. 127.0.0.1:8787")
    })
}

/// Object-runtime settings given by flags or `KEEL_*` variables: the same keys as `[objects]`.
pub type ObjectOverrides = ObjectsFileConfig;

/// Builds the host configuration: each setting from the override if given, else from the file, else the default.
pub fn host_config(file: &ObjectsFileConfig, over: &ObjectOverrides) -> anyhow::Result<HostConfig> {
    let defaults = HostConfig::default();
    let limits = StorageLimits::default();
    let idle_timeout = match over
        .idle_timeout
        .as_deref()
        .or(file.idle_timeout.as_deref())
    {
        Some(t) => parse_duration(t).context("objects.idle_timeout")?,
        None => defaults.idle_timeout,
    };
    let config = HostConfig {
        idle_timeout,
        max_live_objects: over
            .max_live
            .or(file.max_live)
            .unwrap_or(defaults.max_live_objects),
        limits: StorageLimits {
            max_key_bytes: over
                .max_key_bytes
                .or(file.max_key_bytes)
                .unwrap_or(limits.max_key_bytes),
            max_value_bytes: over
                .max_value_bytes
                .or(file.max_value_bytes)
                .unwrap_or(limits.max_value_bytes),
            max_object_bytes: over
                .max_object_bytes
                .or(file.max_object_bytes)
                .unwrap_or(limits.max_object_bytes),
            cache_kib: over
                .cache_kib
                .or(file.cache_kib)
                .unwrap_or(limits.cache_kib),
            max_statement_time: match over
                .max_statement_time
                .as_deref()
                .or(file.max_statement_time.as_deref())
            {
                Some(t) => parse_duration(t).context("objects.max_statement_time")?,
                None => limits.max_statement_time,
            },
            ..limits
        },
        ..defaults
    };
    if config.max_live_objects == 0 {
        bail!("objects.max_live must be at least 1");
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_nonsense() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert!(
            parse_duration("5 days")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
    }

    #[test]
    fn overrides_beat_the_file_and_the_file_beats_defaults() {
        let file: FileConfig =
            toml::from_str("[objects]\nidle_timeout = \"10s\"\nmax_live = 7\n").unwrap();
        let none = ObjectOverrides::default();
        let c = host_config(&file.objects, &none).unwrap();
        assert_eq!(
            (c.idle_timeout, c.max_live_objects),
            (Duration::from_secs(10), 7)
        );
        let over = ObjectOverrides {
            max_live: Some(9),
            ..none
        };
        assert_eq!(
            host_config(&file.objects, &over).unwrap().max_live_objects,
            9
        );
        assert!(
            toml::from_str::<FileConfig>("lisen = \"x\"").is_err(),
            "typos are refused"
        );
    }
}
