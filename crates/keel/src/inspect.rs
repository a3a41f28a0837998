//! `keel objects …`: look inside a data directory (list, KV, SQL) and move objects (export, import).
//! These take the data directory's lock, so they refuse to run while a server uses it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use keel_objects::{
    FileStore, ListOptions, Namespace, ObjectHost, ObjectKey, ObjectStore, SqlValue, Storage,
};
use serde_json::json;

use crate::ObjectsCommand;
use crate::config::{self, FileConfig, ObjectOverrides};

pub async fn run(command: ObjectsCommand, file: &FileConfig, data: PathBuf) -> anyhow::Result<()> {
    let store = Arc::new(
        FileStore::open(&data)
            .with_context(|| format!("cannot open data directory {}", data.display()))?,
    );
    let config = config::host_config(&file.objects, &ObjectOverrides::default())?;
    let host = ObjectHost::new(
        Arc::clone(&store) as Arc<dyn ObjectStore>,
        Arc::new(keel_objects::LocalCoordinator::new()),
        config,
    )?;
    let result = execute(command, &store, &host).await;
    host.shutdown(Duration::from_secs(10)).await;
    result
}

async fn execute(
    command: ObjectsCommand,
    store: &Arc<FileStore>,
    host: &ObjectHost,
) -> anyhow::Result<()> {
    match command {
        ObjectsCommand::List { namespace } => {
            let namespace = namespace.map(Namespace::new).transpose()?;
            let store = Arc::clone(store);
            let lines = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
                let mut lines = Vec::new();
                for key in store.list(namespace.as_ref())? {
                    let info = store.describe(&key)?;
                    let alarm = info
                        .alarm_ms
                        .map_or_else(|| "-".to_string(), |ms| format!("alarm@{ms}"));
                    let name = info.name.unwrap_or_else(|| "-".into());
                    lines.push(format!("{key}\t{name}\t{}\t{alarm}", info.bytes));
                }
                Ok(lines)
            })
            .await??;
            for line in lines {
                println!("{line}");
            }
        }
        ObjectsCommand::Kv {
            object,
            prefix,
            limit,
        } => {
            let storage = existing(store, host, &object).await?;
            let entries = storage
                .list(ListOptions {
                    prefix,
                    limit,
                    ..Default::default()
                })
                .await?;
            for (key, value) in entries {
                println!("{}", json!({ "key": key, "value": value.to_json() }));
            }
        }
        ObjectsCommand::Sql {
            object,
            query,
            params,
        } => {
            let storage = existing(store, host, &object).await?;
            let params = params.iter().map(|p| parse_param(p)).collect();
            let result = storage.sql(query, params).await?;
            let out = json!({
                "columns": result.columns,
                "rows": result.rows_as_json(),
                "rows_written": result.rows_written,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        ObjectsCommand::Export { object, file } => {
            let storage = existing(store, host, &object).await?;
            storage.export(&file).await?;
            println!("exported {} to {}", storage.key(), file.display());
        }
        ObjectsCommand::Import { file, replace } => {
            let store = Arc::clone(store);
            let shown = file.display().to_string();
            let key = tokio::task::spawn_blocking(move || store.restore(&file, replace)).await??;
            println!("imported {key} from {shown}");
        }
    }
    Ok(())
}

/// The storage of an object that exists; a clear error for one that does not.
async fn existing(store: &FileStore, host: &ObjectHost, object: &str) -> anyhow::Result<Storage> {
    let key = ObjectKey::parse(object)?;
    if !store.exists(&key) {
        bail!(
            "object {key} does not exist in {}: `keel objects list` shows what does",
            store.root().display()
        );
    }
    Ok(host.get(&key).await?.storage().clone())
}

/// A JSON literal, or else the text itself.
fn parse_param(text: &str) -> SqlValue {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => SqlValue::from_json(&v),
        Err(_) => SqlValue::Text(text.to_string()),
    }
}
