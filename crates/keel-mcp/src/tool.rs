//! A tool, declared in one place: its name, title, description and annotations, the Rust type of
//! its arguments (the input schema is derived from it, and the arguments arrive parsed), the type
//! of its structured answer (the output schema is derived from it), and its handler.
//!
//! ```ignore
//! /// Arguments of `kv_get`.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct KvGet { /// The key.
//!                key: String }
//!
//! ToolDef::new("kv_get", "Read the value under a key.", kv_get).read_only()
//!
//! async fn kv_get(pack: &StatePack, args: KvGet, cx: &ToolContext) -> Result<Structured<Entry>, ToolError>
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{ToolContext, ToolFuture};
use crate::tasks::TaskSupport;
use crate::tool_error::ToolError;

/// A tool of the pack `P`: what clients see of it and its handler (see the module's example).
pub struct ToolDef<P> {
    tool: Tool,
    group: &'static str,
    task_support: TaskSupport,
    bind: Box<dyn FnOnce(Arc<P>) -> Arc<dyn CallTool> + Send + Sync>,
}

impl<P: Send + Sync + 'static> ToolDef<P> {
    /// A tool called `name`, described for a model by `description` (what it does, when to use
    /// it, what it returns), run by `handler`: an `async fn(&P, Args, &ToolContext) ->
    /// Result<Answer, ToolError>`. It changes something, but nothing it cannot add back, and stays
    /// inside the server, until annotated otherwise (the spec's defaults assume the worst; the
    /// hints that differ from them are sent).
    pub fn new<A, F>(name: &'static str, description: &'static str, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: for<'a> ToolHandler<'a, P, A>,
    {
        let mut tool = Tool::new(name, description, input_schema::<A>());
        tool.output_schema =
            <<F as ToolHandler<'static, P, A>>::Answer as IntoToolAnswer>::output_schema();
        tool.annotations = Some(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(false),
        );
        Self {
            tool,
            group: "",
            task_support: TaskSupport::Forbidden,
            bind: Box::new(move |pack| {
                Arc::new(Bound {
                    pack,
                    handler,
                    _args: PhantomData::<fn() -> A>,
                })
            }),
        }
    }

    /// A human-readable title (clients show it instead of the name).
    pub fn title(mut self, title: &'static str) -> Self {
        self.tool.title = Some(title.into());
        self
    }

    /// Only reads: calling it changes nothing (so it is also idempotent and not destructive).
    pub fn read_only(self) -> Self {
        self.annotate(|a| a.read_only(true).idempotent(true))
    }

    /// It may overwrite or delete what is there (clients ask the user before calling it).
    pub fn destructive(self) -> Self {
        self.annotate(|a| a.destructive(true))
    }

    /// Calling it twice with the same arguments does what calling it once did (clients may retry it).
    pub fn idempotent(self) -> Self {
        self.annotate(|a| a.idempotent(true))
    }

    /// It reaches outside the server (the web, other systems).
    pub fn open_world(self) -> Self {
        self.annotate(|a| a.open_world(true))
    }

    fn annotate(mut self, change: impl FnOnce(ToolAnnotations) -> ToolAnnotations) -> Self {
        let annotations = self.tool.annotations.take().unwrap_or_default();
        self.tool.annotations = Some(change(annotations));
        self
    }

    /// The tool group it belongs to: the operator picks which groups a server offers.
    pub fn group(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }

    /// Whether it may run as a task (tasks extension); by default it may not.
    pub fn task_support(mut self, support: TaskSupport) -> Self {
        self.task_support = support;
        self
    }

    /// Replaces the derived input schema, for a tool whose arguments are only known at run time
    /// (take them as a `JsonObject`). It must be a JSON Schema of `type: object`.
    pub fn input_schema(mut self, schema: serde_json::Value) -> Self {
        if let serde_json::Value::Object(schema) = schema {
            self.tool.input_schema = Arc::new(schema);
        }
        self
    }

    /// What clients see of the tool.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }

    /// Its group (`""` when none was given).
    pub fn group_name(&self) -> &'static str {
        self.group
    }

    pub(crate) fn into_route(self, pack: Arc<P>) -> ToolRoute {
        let mut tool = self.tool;
        tool.annotations = tool.annotations.map(concise);
        ToolRoute {
            tool,
            group: self.group,
            task_support: self.task_support,
            call: (self.bind)(pack),
        }
    }
}

/// The hints that differ from what the spec says a client assumes without them (not read-only,
/// destructive, not idempotent, open world); for a read-only tool, only that. The same meaning in
/// fewer bytes: a tool list is in every conversation's context.
fn concise(hints: ToolAnnotations) -> ToolAnnotations {
    let read_only = hints.read_only_hint == Some(true);
    let mut out = ToolAnnotations::new();
    out.title = hints.title;
    if read_only {
        out.read_only_hint = Some(true);
    } else {
        out.destructive_hint = hints.destructive_hint.filter(|d| !d);
        out.idempotent_hint = hints.idempotent_hint.filter(|i| *i);
    }
    out.open_world_hint = hints.open_world_hint.filter(|o| !o);
    out
}

/// A tool bound to its pack, as the server keeps it.
pub(crate) struct ToolRoute {
    pub(crate) tool: Tool,
    pub(crate) group: &'static str,
    pub(crate) task_support: TaskSupport,
    pub(crate) call: Arc<dyn CallTool>,
}

/// A tool's handler: an `async fn(&P, A, &ToolContext) -> Result<Answer, ToolError>` (implemented
/// for every such function; the trait exists so the future may borrow the pack and the context).
pub trait ToolHandler<'a, P: 'a, A>: Send + Sync + 'static {
    /// What the handler answers with.
    type Answer: IntoToolAnswer;
    /// The handler's future.
    type Future: Future<Output = Result<Self::Answer, ToolError>> + Send + 'a;
    /// Runs the tool.
    fn call(&self, pack: &'a P, args: A, cx: &'a ToolContext) -> Self::Future;
}

impl<'a, P, A, F, Fut, R> ToolHandler<'a, P, A> for F
where
    P: 'a,
    F: Fn(&'a P, A, &'a ToolContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ToolError>> + Send + 'a,
    R: IntoToolAnswer,
{
    type Answer = R;
    type Future = Fut;
    fn call(&self, pack: &'a P, args: A, cx: &'a ToolContext) -> Fut {
        self(pack, args, cx)
    }
}

/// A bound tool with its arguments' type erased: what the server calls.
pub(crate) trait CallTool: Send + Sync {
    fn call<'a>(&'a self, arguments: Option<&'a JsonObject>, cx: &'a ToolContext)
    -> ToolFuture<'a>;
}

struct Bound<P, A, F> {
    pack: Arc<P>,
    handler: F,
    _args: PhantomData<fn() -> A>,
}

impl<P, A, F> CallTool for Bound<P, A, F>
where
    P: Send + Sync + 'static,
    A: DeserializeOwned + Send + 'static,
    F: for<'a> ToolHandler<'a, P, A>,
{
    fn call<'a>(
        &'a self,
        arguments: Option<&'a JsonObject>,
        cx: &'a ToolContext,
    ) -> ToolFuture<'a> {
        let parsed = match arguments {
            Some(map) => A::deserialize(map),
            None => A::deserialize(&JsonObject::new()),
        };
        match parsed {
            // The input schema was checked first, so this is a schema that says less than the type.
            Err(e) => Box::pin(std::future::ready(
                ToolError::fix(format!(
                    "the arguments of {} do not fit: {e}",
                    cx.tool_name()
                ))
                .into_answer(),
            )),
            Ok(args) => {
                let running = self.handler.call(&self.pack, args, cx);
                Box::pin(async move {
                    match running.await {
                        Ok(answer) => Ok(answer.into_answer()),
                        Err(error) => error.into_answer(),
                    }
                })
            }
        }
    }
}

/// What a handler may answer with: structured content ([`Structured`]), a `CallToolResult`, or
/// (2026-07-28) a `CallToolResponse` that asks the client for input.
pub trait IntoToolAnswer: Send {
    /// The output schema clients see (`None`: the tool declares none).
    fn output_schema() -> Option<Arc<JsonObject>> {
        None
    }
    /// The answer as sent.
    fn into_answer(self) -> CallToolResponse;
}

impl IntoToolAnswer for CallToolResult {
    fn into_answer(self) -> CallToolResponse {
        self.into()
    }
}

impl IntoToolAnswer for CallToolResponse {
    fn into_answer(self) -> CallToolResponse {
        self
    }
}

/// A structured answer: sent as `structuredContent` (and as its JSON text, for older clients),
/// with the output schema derived from `T`.
pub struct Structured<T>(pub T);

impl<T: Serialize + JsonSchema + Send + 'static> IntoToolAnswer for Structured<T> {
    fn output_schema() -> Option<Arc<JsonObject>> {
        Some(output_schema::<T>())
    }
    fn into_answer(self) -> CallToolResponse {
        match serde_json::to_value(&self.0) {
            Ok(value) => CallToolResult::structured(value).into(),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
                "the answer could not be written as JSON: {e}"
            ))])
            .into(),
        }
    }
}

fn generator(for_output: bool) -> schemars::SchemaGenerator {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    // Every subschema in place: no `$defs` and `$ref`s for a model to follow.
    settings.inline_subschemas = true;
    if for_output {
        settings = settings.for_serialize();
    }
    settings.into_generator()
}

/// An optional argument (`Option<T>`) means "may be left out": its schema says `T`, not "`T` or
/// null" (shorter, and what strict clients and model providers expect). Nested objects alike.
fn optional_is_not_nullable(schema: &mut JsonObject) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let Some(serde_json::Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let serde_json::Value::Object(property) = property else {
            continue;
        };
        optional_is_not_nullable(property);
        if let Some(serde_json::Value::Object(items)) = property.get_mut("items") {
            optional_is_not_nullable(items);
        }
        if required.contains(name) {
            continue;
        }
        // `[T, "null"]`, as `Option<T>` comes out (a type that takes any JSON keeps its null).
        if let Some(serde_json::Value::Array(types)) = property.get("type")
            && types.len() == 2
            && let Some(only) = types.iter().find(|t| *t != "null")
            && types.iter().any(|t| t == "null")
        {
            let only = only.clone();
            property.insert("type".into(), only);
            if let Some(serde_json::Value::Array(values)) = property.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
        }
    }
}

/// A schema as a tool list carries it: no `$schema` (2020-12 is the default dialect), no title or
/// description of the Rust type itself (noise to a model).
fn trimmed(schema: schemars::Schema) -> Arc<JsonObject> {
    let mut object = match serde_json::Value::from(schema) {
        serde_json::Value::Object(object) => object,
        // `true`/`false` schemas: anything / nothing.
        _ => JsonObject::new(),
    };
    for key in ["$schema", "title", "description"] {
        object.remove(key);
    }
    without_formats(&mut object);
    Arc::new(object)
}

/// Drops `format` (`uint32`, `double`, …): Rust's number types say nothing a client checks, and
/// every byte of a tool list is in every conversation's context.
fn without_formats(schema: &mut JsonObject) {
    schema.remove("format");
    // Doc comments wrap; a description is one line.
    if let Some(serde_json::Value::String(description)) = schema.get_mut("description")
        && description.contains('\n')
    {
        *description = description.replace('\n', " ");
    }
    for value in schema.values_mut() {
        match value {
            serde_json::Value::Object(inner) => without_formats(inner),
            serde_json::Value::Array(items) => {
                for item in items {
                    if let serde_json::Value::Object(inner) = item {
                        without_formats(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The input schema of arguments of type `A`.
pub fn input_schema<A: JsonSchema>() -> Arc<JsonObject> {
    let mut schema = trimmed(generator(false).into_root_schema_for::<A>());
    let object = Arc::make_mut(&mut schema);
    optional_is_not_nullable(object);
    object
        .entry("type")
        .or_insert_with(|| serde_json::Value::from("object"));
    object
        .entry("properties")
        .or_insert_with(|| serde_json::Value::Object(JsonObject::new()));
    schema
}

/// The output schema of answers of type `T`. (A field that may be absent is left out when it
/// has no value, `skip_serializing_if`, so it is never null either.)
pub fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    let mut schema = trimmed(generator(true).into_root_schema_for::<T>());
    optional_is_not_nullable(Arc::make_mut(&mut schema));
    schema
}

/// Arguments of a tool that takes none.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}
