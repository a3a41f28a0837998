//! The fixtures the official MCP conformance suite calls (`keel serve --conformance`): tools,
//! resources and prompts with the exact names and contents its scenarios expect. Results are
//! written as the JSON the spec shows and converted into rmcp's types, so they read like the spec.

use std::time::Duration;

use rmcp::model::{
    CallToolResult, CompleteResult, GetPromptResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Tool,
};
use rmcp::{ErrorData, model::JsonObject};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::pack::{ToolContext, ToolFuture, ToolPack};

/// A 1x1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A 44-byte WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

pub(crate) fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| {
        ErrorData::internal_error(format!("fixture does not fit the model: {e}"), None)
    })
}

/// A result as 2026-07-28 wants it (`resultType`); rmcp drops the field for older peers.
fn result<T: DeserializeOwned>(mut value: Value) -> Result<T, ErrorData> {
    if let Value::Object(map) = &mut value {
        map.entry("resultType").or_insert_with(|| json!("complete"));
    }
    from_json(value)
}

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    let schema = match schema {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    };
    Tool::new(
        name.to_string(),
        description.to_string(),
        std::sync::Arc::new(schema),
    )
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

/// The fixture tools.
pub fn tools() -> Vec<Tool> {
    let string_arg = |name: &str, description: &str| json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]});
    vec![
        tool(
            "test_simple_text",
            "Returns a simple text response.",
            no_args(),
        ),
        tool("test_image_content", "Returns an image.", no_args()),
        tool("test_audio_content", "Returns audio.", no_args()),
        tool(
            "test_embedded_resource",
            "Returns an embedded resource.",
            no_args(),
        ),
        tool(
            "test_multiple_content_types",
            "Returns text, an image and a resource.",
            no_args(),
        ),
        tool(
            "test_tool_with_logging",
            "Sends three log messages while it runs.",
            no_args(),
        ),
        tool(
            "test_logging_tool",
            "Logs while it runs, only when the request asked for logs.",
            no_args(),
        ),
        tool(
            "test_error_handling",
            "Always fails, as a tool error.",
            no_args(),
        ),
        tool(
            "test_tool_with_progress",
            "Reports progress 0, 50, 100 of 100.",
            no_args(),
        ),
        tool(
            "test_reconnection",
            "Ends its SSE connection and answers afterwards: the client gets the answer by reconnecting with Last-Event-ID.",
            no_args(),
        ),
        tool(
            "test_sampling",
            "Asks the client's model.",
            string_arg("prompt", "The prompt to send to the LLM"),
        ),
        tool(
            "test_elicitation",
            "Asks the user.",
            string_arg("message", "The message to show the user"),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Asks the user, with defaults for every type.",
            no_args(),
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Asks the user, with every enum form.",
            no_args(),
        ),
        tool(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"},
                    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                    "phone": {"type": "string"},
                    "email": {"type": "string"}
                },
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "additionalProperties": false
            }),
        ),
    ]
    .into_iter()
    .chain(crate::conformance_input::TOOLS.iter().map(|name| tool(name, "Asks the client for input first (2026-07-28).", no_args())))
    .chain(crate::conformance_tasks::tools())
    .collect()
}

fn text(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}]})
}

/// The conformance suite's fixture tools.
pub struct ConformancePack;

impl ToolPack for ConformancePack {
    fn tools(&self) -> Vec<Tool> {
        tools()
    }

    fn task_support(&self, tool: &str) -> crate::tasks::TaskSupport {
        crate::conformance_tasks::task_support(tool)
    }

    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: Option<&'a JsonObject>,
        cx: &'a ToolContext,
    ) -> ToolFuture<'a> {
        Box::pin(async move {
            if let Some(result) = crate::conformance_input::call(tool, cx)? {
                return Ok(result);
            }
            if let Some(result) = crate::conformance_tasks::call(tool, arguments, cx).await {
                return result;
            }
            call(tool, arguments, cx).await.map(Into::into)
        })
    }
}

async fn call(
    name: &str,
    arguments: Option<&JsonObject>,
    cx: &ToolContext,
) -> Result<CallToolResult, ErrorData> {
    let arg = |key: &str| {
        arguments
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let result = match name {
        "test_simple_text" => text("This is a simple text response for testing."),
        "test_image_content" => {
            json!({"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]})
        }
        "test_audio_content" => {
            json!({"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]})
        }
        "test_embedded_resource" => json!({"content": [{"type": "resource", "resource": {
            "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content."}}]}),
        "test_multiple_content_types" => json!({"content": [
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json",
                "text": "{\"test\":\"data\",\"value\":123}"}}]}),
        "test_tool_with_logging" => {
            for (i, message) in [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                cx.log("info", "conformance", json!(message)).await;
            }
            text("Tool with logging executed successfully")
        }
        "test_logging_tool" => {
            for message in ["logging tool started", "logging tool finished"] {
                cx.log("info", "conformance", json!(message)).await;
            }
            text("Logging tool executed")
        }
        "test_error_handling" => {
            json!({"content": [{"type": "text", "text": "This tool intentionally returns an error for testing"}], "isError": true})
        }
        "test_tool_with_progress" => {
            for (i, progress) in [0, 50, 100].iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                cx.progress(f64::from(*progress), Some(100.0), None).await;
            }
            text("Tool with progress executed successfully")
        }
        "test_reconnection" => {
            cx.close_stream();
            // Long enough for the stream to have begun (and ended) before the answer.
            tokio::time::sleep(Duration::from_millis(400)).await;
            text("Reconnection test completed")
        }
        "test_sampling" => {
            let reply = cx
                .sample(json!({"messages": [{"role": "user", "content": {"type": "text", "text": arg("prompt")}}],
                               "maxTokens": 100}))
                .await?;
            let answer = reply["content"]["text"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| reply["content"].to_string());
            text(format!("LLM response: {answer}"))
        }
        "test_elicitation" => {
            let params = json!({"message": arg("message"), "requestedSchema": {"type": "object", "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}}, "required": ["username", "email"]}});
            text(format!("User response: {}", elicited(cx, params).await?))
        }
        "test_elicitation_sep1034_defaults" => {
            let params = json!({"message": "Please review and update the form fields with defaults",
                "requestedSchema": {"type": "object", "properties": {
                    "name": {"type": "string", "description": "User name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User age", "default": 30},
                    "score": {"type": "number", "description": "User score", "default": 95.5},
                    "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Verification status", "default": true}}}});
            text(format!(
                "Elicitation completed: {}",
                elicited(cx, params).await?
            ))
        }
        "test_elicitation_sep1330_enums" => {
            let params = json!({"message": "Please select options from the enum fields",
                "requestedSchema": {"type": "object", "properties": {
                    "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                        {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}]},
                    "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"]},
                    "untitledMulti": {"type": "array", "description": "Select multiple options",
                        "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                    "titledMulti": {"type": "array", "description": "Select multiple options with titles", "items": {"anyOf": [
                        {"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"}]}}}}});
            text(format!(
                "Elicitation completed: {}",
                elicited(cx, params).await?
            ))
        }
        "json_schema_2020_12_tool" => text("Received a valid argument object."),
        other => {
            return Err(ErrorData::invalid_params(
                format!("no fixture tool {other:?}"),
                None,
            ));
        }
    };
    self::result(result)
}

/// Asks the client, and describes its answer as `action=…, content=…`.
async fn elicited(cx: &ToolContext, params: Value) -> Result<String, ErrorData> {
    let reply = cx.elicit(params).await?;
    Ok(format!(
        "action={}, content={}",
        reply["action"].as_str().unwrap_or("?"),
        reply["content"]
    ))
}

/// The fixture resources.
pub fn resources() -> Result<ListResourcesResult, ErrorData> {
    result(json!({"resources": [
        {"uri": "test://static-text", "name": "static-text", "description": "A static text resource", "mimeType": "text/plain"},
        {"uri": "test://static-binary", "name": "static-binary", "description": "A static binary resource (PNG)", "mimeType": "image/png"},
        {"uri": "test://watched-resource", "name": "watched-resource", "description": "A resource to subscribe to", "mimeType": "text/plain"}
    ]}))
}

/// The fixture resource templates.
pub fn resource_templates() -> Result<ListResourceTemplatesResult, ErrorData> {
    result(json!({"resourceTemplates": [
        {"uriTemplate": "test://template/{id}/data", "name": "template-data", "description": "Data for an ID", "mimeType": "application/json"}
    ]}))
}

/// Reads a fixture resource; `None` for an unknown URI.
pub fn read_resource(uri: &str) -> Option<Result<ReadResourceResult, ErrorData>> {
    let contents = match uri {
        "test://static-text" => {
            json!({"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."})
        }
        "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
        "test://watched-resource" => {
            json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content."})
        }
        _ => {
            let id = uri
                .strip_prefix("test://template/")?
                .strip_suffix("/data")?;
            let body =
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
            json!({"uri": uri, "mimeType": "application/json", "text": body.to_string()})
        }
    };
    Some(result(json!({"contents": [contents]})))
}

/// The fixture prompts.
pub fn prompts() -> Result<ListPromptsResult, ErrorData> {
    result(json!({"prompts": [
        {"name": "test_simple_prompt", "description": "A simple prompt without arguments"},
        {"name": "test_prompt_with_arguments", "description": "A prompt with arguments", "arguments": [
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true}]},
        {"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource", "arguments": [
            {"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
        {"name": "test_prompt_with_image", "description": "A prompt with an image"},
        {"name": "test_input_required_result_prompt", "description": "Asks the client for context first (2026-07-28)"}
    ]}))
}

/// Renders a fixture prompt; `None` for an unknown name.
pub fn get_prompt(
    name: &str,
    arguments: Option<&JsonObject>,
) -> Option<Result<GetPromptResult, ErrorData>> {
    let arg = |key: &str| {
        arguments
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let messages = match name {
        "test_simple_prompt" => {
            json!([{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}])
        }
        "test_prompt_with_arguments" => json!([{"role": "user", "content": {"type": "text",
            "text": format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2"))}}]),
        "test_prompt_with_embedded_resource" => json!([
            {"role": "user", "content": {"type": "resource", "resource": {"uri": arg("resourceUri"), "mimeType": "text/plain",
                "text": "Embedded resource content for testing."}}},
            {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}}]),
        "test_prompt_with_image" => json!([
            {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
            {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}}]),
        _ => return None,
    };
    Some(result(json!({"messages": messages})))
}

/// Completion values for a fixture prompt or template argument.
pub fn complete(argument: &str, prefix: &str) -> Result<CompleteResult, ErrorData> {
    let candidates: &[&str] = match argument {
        "arg1" | "arg2" => &["paris", "park", "party", "hello", "world"],
        "id" => &["123", "456", "789"],
        _ => &[],
    };
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|v| v.starts_with(prefix))
        .collect();
    result(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}))
}
