//! The built-in `state` pack: KV and SQL on the caller's session object, or on a named object that
//! everyone naming it shares.

use std::sync::Arc;

use keel_objects::{AnswerBounds, ListOptions, SqlValue, Value};
use rmcp::model::{CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde_json::{Map, json};

use crate::arguments::Arguments;
use crate::pack::{ToolContext, ToolFuture, ToolPack};
use crate::target::OBJECT_HEADER;

fn schema(
    mut properties: Map<String, serde_json::Value>,
    required: &[&str],
) -> Arc<Map<String, serde_json::Value>> {
    properties.insert(
        "object".into(),
        json!({
            "type": "string",
            "description": "Name of a shared object to act on instead of this session's own. Required on stateless (2026-07-28) requests.",
            "x-mcp-header": OBJECT_HEADER,
        }),
    );
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), serde_json::Value::Object(properties));
    schema.insert("required".into(), json!(required));
    schema.insert("additionalProperties".into(), json!(false));
    Arc::new(schema)
}

fn props(value: serde_json::Value) -> Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn annotated(mut tool: Tool, read_only: bool, destructive: bool) -> Tool {
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(read_only);
    annotations.destructive_hint = Some(destructive);
    annotations.idempotent_hint = Some(true);
    annotations.open_world_hint = Some(false);
    tool.annotations = Some(annotations);
    tool
}

/// The pack's tool names.
const TOOL_NAMES: [&str; 5] = ["kv_get", "kv_put", "kv_delete", "kv_list", "sql_exec"];

/// The pack's tool definitions.
pub fn tools() -> Vec<Tool> {
    vec![
        annotated(
            Tool::new(
                "kv_get",
                "Read the value stored under a key (null if there is none).",
                schema(
                    props(json!({"key": {"type": "string", "description": "The key."}})),
                    &["key"],
                ),
            ),
            true,
            false,
        ),
        annotated(
            Tool::new(
                "kv_put",
                "Store a JSON value under a key. Durable when the call returns.",
                schema(
                    props(json!({
                        "key": {"type": "string", "description": "The key."},
                        "value": {"description": "Any JSON value."}
                    })),
                    &["key", "value"],
                ),
            ),
            false,
            true,
        ),
        annotated(
            Tool::new(
                "kv_delete",
                "Delete a key. Says whether it existed.",
                schema(
                    props(json!({"key": {"type": "string", "description": "The key."}})),
                    &["key"],
                ),
            ),
            false,
            true,
        ),
        annotated(
            Tool::new(
                "kv_list",
                "List entries in key order, optionally only keys with a prefix, at most `limit` of them (default and most: 1000). When more remain, `next` is the `start` of the next page.",
                schema(
                    props(json!({
                        "prefix": {"type": "string", "description": "Only keys starting with this."},
                        "start": {"type": "string", "description": "Only keys at or after this (a previous answer's `next`)."},
                        "limit": {"type": "integer", "minimum": 0, "description": "At most this many entries."}
                    })),
                    &[],
                ),
            ),
            true,
            false,
        ),
        annotated(
            Tool::new(
                "sql_exec",
                "Run one SQLite statement on the object's database with bound parameters (?1, ?2, …). Returns rows as JSON objects and the number of rows written; a long answer is cut, saying how many rows were left out (use LIMIT/OFFSET). No ATTACH, transactions or PRAGMAs that change settings.",
                schema(
                    props(json!({
                        "query": {"type": "string", "description": "One SQL statement."},
                        "params": {"type": "array", "description": "Values for ?1, ?2, …"}
                    })),
                    &["query"],
                ),
            ),
            false,
            true,
        ),
    ]
}

/// Most entries one `kv_list` answer carries.
pub const MAX_LIST_ENTRIES: usize = 1000;

/// The built-in `state` pack.
pub struct StatePack {
    /// How large a SQL answer or a KV listing may be.
    pub bounds: AnswerBounds,
    /// Largest value `kv_get` answers with.
    pub max_value_bytes: usize,
}

impl ToolPack for StatePack {
    fn tools(&self) -> Vec<Tool> {
        tools()
    }

    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: Option<&'a Map<String, serde_json::Value>>,
        cx: &'a ToolContext,
    ) -> ToolFuture<'a> {
        Box::pin(async move {
            let result = match run(self, tool, &Arguments::new(tool, arguments), cx).await {
                Ok(value) => CallToolResult::structured(value),
                Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
            };
            Ok(result.into())
        })
    }
}

async fn run(
    pack: &StatePack,
    name: &str,
    args: &Arguments<'_>,
    cx: &ToolContext,
) -> Result<serde_json::Value, String> {
    // Unknown or misspelt arguments never get here: `KeelMcp` checks every call against the
    // tool's input schema (`additionalProperties: false`) first.
    if !TOOL_NAMES.contains(&name) {
        return Err(format!("the state pack has no tool {name:?}"));
    }
    let object = cx.object(args.opt_string("object")?).await?;
    let storage = object.storage();
    let err = |e: keel_objects::ObjectError| e.to_string();
    Ok(match name {
        "kv_get" => {
            let key = args.string("key")?;
            let value = storage
                .get_within(key, pack.max_value_bytes)
                .await
                .map_err(err)?;
            json!({ "key": key, "value": value.map(|v| v.to_json()) })
        }
        "kv_put" => {
            let key = args.string("key")?;
            let value = args.value("value")?.clone();
            storage.put(key, Value::Json(value)).await.map_err(err)?;
            json!({ "key": key, "stored": true })
        }
        "kv_delete" => {
            let key = args.string("key")?;
            let existed = storage.delete(key).await.map_err(err)?;
            json!({ "key": key, "deleted": existed })
        }
        "kv_list" => {
            let options = ListOptions {
                prefix: args.opt_string("prefix")?.map(str::to_string),
                start: args.opt_string("start")?.map(str::to_string),
                limit: Some(
                    args.opt_count("limit")?
                        .unwrap_or(MAX_LIST_ENTRIES)
                        .min(MAX_LIST_ENTRIES),
                ),
                ..ListOptions::default()
            };
            let page = storage
                .list_within(options, pack.bounds.max_bytes)
                .await
                .map_err(err)?;
            let entries: Vec<_> = page
                .entries
                .into_iter()
                .map(|e| match e.value {
                    Some(v) => json!({ "key": e.key, "value": v.to_json() }),
                    None => json!({
                        "key": e.key,
                        "size": e.size,
                        "note": format!("the value is larger than a listing may carry ({} bytes): read it with kv_get", pack.bounds.max_bytes),
                    }),
                })
                .collect();
            let mut answer = json!({ "entries": entries });
            if let Some(next) = page.next {
                answer["next"] = json!(next);
            }
            answer
        }
        _ /* sql_exec */ => {
            let query = args.string("query")?;
            let params = args
                .opt_array("params")?
                .map(|p| p.iter().map(SqlValue::from_json).collect())
                .unwrap_or_default();
            let result = storage
                .guarded_sql(query, params, pack.bounds)
                .await
                .map_err(err)?;
            let mut answer = json!({
                "columns": result.columns,
                "rows": result.rows_as_json(),
                "rowsWritten": result.rows_written,
            });
            if let Some(cut) = &result.cut {
                let shown = result.rows.len();
                let more = if cut.counted_all { "" } else { "at least " };
                answer["rowsLeftOut"] = json!(cut.rows_left_out);
                answer["note"] = json!(format!(
                    "the answer stops at {}: {shown} rows shown, {more}{} left out; ask for the rest with LIMIT {shown} OFFSET {shown} (or narrow the query)",
                    cut.bound, cut.rows_left_out
                ));
            }
            answer
        }
    })
}
