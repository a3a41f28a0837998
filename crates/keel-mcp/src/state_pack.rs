//! The built-in `state` pack: KV and SQL on the caller's session object, or on a named object that
//! everyone naming it shares.

use std::borrow::Cow;

use keel_objects::{AnswerBounds, ListOptions, SqlValue, Value};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::context::ToolContext;
use crate::pack::Pack;
use crate::target::OBJECT_HEADER;
use crate::tool::{Structured, ToolDef};
use crate::tool_error::ToolError;

/// Most entries one `kv_list` answer carries.
pub const MAX_LIST_ENTRIES: usize = 1000;

/// The group the state tools are in.
pub const GROUP: &str = "state";

/// The built-in `state` pack.
pub struct StatePack {
    /// How large a SQL answer or a KV listing may be.
    pub bounds: AnswerBounds,
    /// Largest value `kv_get` answers with.
    pub max_value_bytes: usize,
}

impl StatePack {
    /// The pack as a server with `config` offers it.
    pub fn for_config(config: &crate::McpConfig) -> Self {
        Self {
            bounds: config.answer_bounds,
            // What a request may bring in, kv_get may bring back out.
            max_value_bytes: config.max_body_bytes.max(config.answer_bounds.max_bytes),
        }
    }
}

impl Pack for StatePack {
    fn tools() -> Vec<ToolDef<Self>> {
        vec![
            ToolDef::new(
                "kv_get",
                "Read the value stored under a key (null if there is none).",
                kv_get,
            )
            .title("Read a key")
            .read_only(),
            ToolDef::new(
                "kv_put",
                "Store a JSON value under a key, replacing what was there. Durable when the call returns.",
                kv_put,
            )
            .title("Store a key")
            .destructive()
            .idempotent(),
            ToolDef::new("kv_delete", "Delete a key. Says whether it existed.", kv_delete)
                .title("Delete a key")
                .destructive()
                .idempotent(),
            ToolDef::new(
                "kv_list",
                "List entries in key order, optionally by key prefix, at most `limit` (default and most: 1000). When more remain, pass the answer's `next` as `start`.",
                kv_list,
            )
            .title("List keys")
            .read_only(),
            // Not idempotent: the same INSERT twice inserts twice.
            ToolDef::new(
                "sql_exec",
                "Run one SQLite statement with bound parameters (?1, ?2, …) on the object's database. Returns rows as objects and rows written; a long answer is cut and says how many rows it left out (page with LIMIT/OFFSET). No ATTACH, transactions or PRAGMAs that change settings.",
                sql_exec,
            )
            .title("Run SQL")
            .destructive(),
        ]
        .into_iter()
        .map(|tool| tool.group(GROUP))
        .collect()
    }
}

/// The `object` argument every state tool takes: a shared object's name, sent as the
/// `Mcp-Param-Object` header too so a load balancer can route by it.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ObjectName(pub String);

impl JsonSchema for ObjectName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ObjectName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A shared object's name (default: the session's own).",
            "x-mcp-header": OBJECT_HEADER,
        })
    }
}

/// A JSON value of any type, with a schema that says so (`{}` would leave strict clients unsure).
#[derive(Debug, Deserialize, Serialize)]
#[serde(transparent)]
pub struct AnyJson(pub serde_json::Value);

impl JsonSchema for AnyJson {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "AnyJson".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number", "integer", "boolean", "object", "array", "null"],
            "description": "Any JSON value."
        })
    }
}

async fn object_of(
    cx: &ToolContext,
    object: &Option<ObjectName>,
) -> Result<keel_objects::Object, ToolError> {
    cx.object(object.as_ref().map(|o| o.0.as_str())).await
}

/// Arguments of `kv_get` and `kv_delete`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyArgs {
    /// The key.
    key: String,
    object: Option<ObjectName>,
}

/// A key and its value.
#[derive(Serialize, JsonSchema)]
struct Entry {
    key: String,
    /// The value; null when there is none.
    value: AnyJson,
}

async fn kv_get(
    pack: &StatePack,
    args: KeyArgs,
    cx: &ToolContext,
) -> Result<Structured<Entry>, ToolError> {
    let object = object_of(cx, &args.object).await?;
    let storage = object.storage();
    let value = storage.get_within(&args.key, pack.max_value_bytes).await?;
    Ok(Structured(Entry {
        key: args.key,
        value: AnyJson(value.map(|v| v.to_json()).unwrap_or_default()),
    }))
}

/// Arguments of `kv_put`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PutArgs {
    /// The key.
    key: String,
    value: AnyJson,
    object: Option<ObjectName>,
}

/// What `kv_put` did.
#[derive(Serialize, JsonSchema)]
struct Stored {
    key: String,
    stored: bool,
}

async fn kv_put(
    _: &StatePack,
    args: PutArgs,
    cx: &ToolContext,
) -> Result<Structured<Stored>, ToolError> {
    let object = object_of(cx, &args.object).await?;
    let storage = object.storage();
    storage.put(&args.key, Value::Json(args.value.0)).await?;
    Ok(Structured(Stored {
        key: args.key,
        stored: true,
    }))
}

/// What `kv_delete` did.
#[derive(Serialize, JsonSchema)]
struct Deleted {
    key: String,
    /// Whether the key existed.
    deleted: bool,
}

async fn kv_delete(
    _: &StatePack,
    args: KeyArgs,
    cx: &ToolContext,
) -> Result<Structured<Deleted>, ToolError> {
    let object = object_of(cx, &args.object).await?;
    let storage = object.storage();
    let deleted = storage.delete(&args.key).await?;
    Ok(Structured(Deleted {
        key: args.key,
        deleted,
    }))
}

/// Arguments of `kv_list`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// Only keys starting with this.
    prefix: Option<String>,
    /// Only keys at or after this (a previous answer's `next`).
    start: Option<String>,
    /// At most this many entries.
    limit: Option<u32>,
    object: Option<ObjectName>,
}

/// A page of entries.
#[derive(Serialize, JsonSchema)]
struct Listing {
    entries: Vec<Listed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

// One listed entry: its value, or (too large to list) its size and how to read it.
#[derive(Serialize, JsonSchema)]
struct Listed {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<AnyJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

async fn kv_list(
    pack: &StatePack,
    args: ListArgs,
    cx: &ToolContext,
) -> Result<Structured<Listing>, ToolError> {
    let object = object_of(cx, &args.object).await?;
    let storage = object.storage();
    let limit = args
        .limit
        .map_or(MAX_LIST_ENTRIES, |l| l as usize)
        .min(MAX_LIST_ENTRIES);
    let options = ListOptions {
        prefix: args.prefix,
        start: args.start,
        limit: Some(limit),
        ..ListOptions::default()
    };
    let page = storage.list_within(options, pack.bounds.max_bytes).await?;
    let entries = page
        .entries
        .into_iter()
        .map(|e| match e.value {
            Some(v) => Listed {
                key: e.key,
                value: Some(AnyJson(v.to_json())),
                size: None,
                note: None,
            },
            None => Listed {
                key: e.key,
                value: None,
                size: Some(e.size),
                note: Some(format!(
                    "the value is larger than a listing may carry ({} bytes): read it with kv_get",
                    pack.bounds.max_bytes
                )),
            },
        })
        .collect();
    Ok(Structured(Listing {
        entries,
        next: page.next,
    }))
}

/// Arguments of `sql_exec`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SqlArgs {
    /// One SQL statement.
    query: String,
    /// Values for ?1, ?2, …
    params: Option<Vec<AnyJson>>,
    object: Option<ObjectName>,
}

/// A statement's answer.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SqlAnswer {
    columns: Vec<String>,
    /// One object per row, by column name.
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Rows the statement inserted, updated or deleted.
    rows_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows_left_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

async fn sql_exec(
    pack: &StatePack,
    args: SqlArgs,
    cx: &ToolContext,
) -> Result<Structured<SqlAnswer>, ToolError> {
    let object = object_of(cx, &args.object).await?;
    let storage = object.storage();
    let params = args
        .params
        .unwrap_or_default()
        .iter()
        .map(|p| SqlValue::from_json(&p.0))
        .collect();
    let result = storage
        .guarded_sql(&args.query, params, pack.bounds)
        .await?;
    let rows = result
        .rows_as_json()
        .into_iter()
        .map(|row| match row {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        })
        .collect();
    let (rows_left_out, note) = match &result.cut {
        Some(cut) => {
            let shown = result.rows.len();
            let more = if cut.counted_all { "" } else { "at least " };
            (
                Some(cut.rows_left_out),
                Some(format!(
                    "the answer stops at {}: {shown} rows shown, {more}{} left out; ask for the rest with LIMIT {shown} OFFSET {shown} (or narrow the query)",
                    cut.bound, cut.rows_left_out
                )),
            )
        }
        None => (None, None),
    };
    Ok(Structured(SqlAnswer {
        columns: result.columns,
        rows,
        rows_written: result.rows_written,
        rows_left_out,
        note,
    }))
}
