//! The fixtures the official MCP conformance suite calls (`keel serve --conformance`): tools,
//! resources, prompts and completions with the exact names and contents its scenarios expect, as
//! an ordinary keel pack. Results are written as the JSON the spec shows and converted into rmcp's
//! types, so they read like the spec.

use std::time::Duration;

use keel_mcp::{NoArguments, Offers, Pack, ToolContext, ToolDef, ToolError};
use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompletionInfo, GetPromptResponse, GetPromptResult,
    Prompt, ReadResourceResponse, ReadResourceResult, Resource, ResourceTemplate,
};
use rmcp::{ErrorData, model::JsonObject};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod input;
mod tasks;

/// A 1x1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A 44-byte WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

/// A fixture written as JSON, as rmcp's type.
fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| {
        ErrorData::internal_error(format!("fixture does not fit the model: {e}"), None)
    })
}

/// A result as 2026-07-28 wants it (`resultType`); rmcp drops the field for older peers.
fn result<T: DeserializeOwned>(mut value: Value) -> Result<T, ToolError> {
    if let Value::Object(map) = &mut value {
        map.entry("resultType").or_insert_with(|| json!("complete"));
    }
    Ok(from_json(value)?)
}

fn text(text: impl Into<String>) -> Result<CallToolResult, ToolError> {
    result(json!({"content": [{"type": "text", "text": text.into()}]}))
}

/// A schema with one required string argument.
fn string_arg(name: &str, description: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]})
}

/// A string argument of a fixture (`""` when absent).
fn arg(arguments: &JsonObject, key: &str) -> String {
    arguments
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The conformance suite's fixtures.
pub struct ConformancePack;

#[async_trait::async_trait]
impl Pack for ConformancePack {
    fn tools() -> Vec<ToolDef<Self>> {
        let mut tools = vec![
            ToolDef::new("test_simple_text", "Returns a simple text response.", simple_text),
            ToolDef::new("test_image_content", "Returns an image.", image_content),
            ToolDef::new("test_audio_content", "Returns audio.", audio_content),
            ToolDef::new("test_embedded_resource", "Returns an embedded resource.", embedded_resource),
            ToolDef::new(
                "test_multiple_content_types",
                "Returns text, an image and a resource.",
                multiple_content_types,
            ),
            ToolDef::new(
                "test_tool_with_logging",
                "Sends three log messages while it runs.",
                tool_with_logging,
            ),
            ToolDef::new(
                "test_logging_tool",
                "Logs while it runs, only when the request asked for logs.",
                logging_tool,
            ),
            ToolDef::new("test_error_handling", "Always fails, as a tool error.", error_handling),
            ToolDef::new(
                "test_tool_with_progress",
                "Reports progress 0, 50, 100 of 100.",
                tool_with_progress,
            ),
            ToolDef::new(
                "test_reconnection",
                "Ends its SSE connection and answers afterwards: the client gets the answer by reconnecting with Last-Event-ID.",
                reconnection,
            ),
            ToolDef::new("test_sampling", "Asks the client's model.", sampling)
                .input_schema(string_arg("prompt", "The prompt to send to the LLM")),
            ToolDef::new("test_elicitation", "Asks the user.", elicitation)
                .input_schema(string_arg("message", "The message to show the user")),
            ToolDef::new(
                "test_elicitation_sep1034_defaults",
                "Asks the user, with defaults for every type.",
                elicitation_defaults,
            ),
            ToolDef::new(
                "test_elicitation_sep1330_enums",
                "Asks the user, with every enum form.",
                elicitation_enums,
            ),
            ToolDef::new(
                "json_schema_2020_12_tool",
                "Tool with JSON Schema 2020-12 features",
                json_schema_2020_12,
            )
            .input_schema(json!({
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
            })),
        ];
        tools.extend(input::tools());
        tools.extend(tasks::tools());
        tools
    }

    fn offers(&self) -> Offers {
        Offers {
            resources: true,
            prompts: true,
            completions: true,
            logging: true,
        }
    }

    async fn resources(&self, _: &ToolContext) -> Result<Vec<Resource>, ToolError> {
        result::<rmcp::model::ListResourcesResult>(json!({"resources": [
            {"uri": "test://static-text", "name": "static-text", "description": "A static text resource", "mimeType": "text/plain"},
            {"uri": "test://static-binary", "name": "static-binary", "description": "A static binary resource (PNG)", "mimeType": "image/png"},
            {"uri": "test://watched-resource", "name": "watched-resource", "description": "A resource to subscribe to", "mimeType": "text/plain"}
        ]}))
        .map(|list| list.resources)
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        from_json(json!([
            {"uriTemplate": "test://template/{id}/data", "name": "template-data", "description": "Data for an ID", "mimeType": "application/json"}
        ]))
        .unwrap_or_default()
    }

    async fn read_resource(
        &self,
        uri: &str,
        _: &ToolContext,
    ) -> Result<Option<ReadResourceResponse>, ToolError> {
        let contents = match uri {
            "test://static-text" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."})
            }
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content."})
            }
            _ => {
                let Some(id) = uri
                    .strip_prefix("test://template/")
                    .and_then(|rest| rest.strip_suffix("/data"))
                else {
                    return Ok(None);
                };
                let body =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                json!({"uri": uri, "mimeType": "application/json", "text": body.to_string()})
            }
        };
        let read: ReadResourceResult = result(json!({"contents": [contents]}))?;
        Ok(Some(read.into()))
    }

    fn prompts(&self) -> Vec<Prompt> {
        from_json(json!([
            {"name": "test_simple_prompt", "description": "A simple prompt without arguments"},
            {"name": "test_prompt_with_arguments", "description": "A prompt with arguments", "arguments": [
                {"name": "arg1", "description": "First test argument", "required": true},
                {"name": "arg2", "description": "Second test argument", "required": true}]},
            {"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource", "arguments": [
                {"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
            {"name": "test_prompt_with_image", "description": "A prompt with an image"},
            {"name": "test_input_required_result_prompt", "description": "Asks the client for context first (2026-07-28)"}
        ]))
        .unwrap_or_default()
    }

    async fn get_prompt(
        &self,
        name: &str,
        arguments: &JsonObject,
        cx: &ToolContext,
    ) -> Result<Option<GetPromptResponse>, ToolError> {
        let messages = match name {
            "test_input_required_result_prompt" => {
                return Ok(Some(input::prompt(cx.input_responses())?));
            }
            "test_simple_prompt" => {
                json!([{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}])
            }
            "test_prompt_with_arguments" => json!([{"role": "user", "content": {"type": "text",
                "text": format!("Prompt with arguments: arg1='{}', arg2='{}'", arg(arguments, "arg1"), arg(arguments, "arg2"))}}]),
            "test_prompt_with_embedded_resource" => json!([
                {"role": "user", "content": {"type": "resource", "resource": {"uri": arg(arguments, "resourceUri"), "mimeType": "text/plain",
                    "text": "Embedded resource content for testing."}}},
                {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}}]),
            "test_prompt_with_image" => json!([
                {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
                {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}}]),
            _ => return Ok(None),
        };
        let prompt: GetPromptResult = result(json!({"messages": messages}))?;
        Ok(Some(prompt.into()))
    }

    async fn complete(
        &self,
        request: &CompleteRequestParams,
        _: &ToolContext,
    ) -> Result<Option<CompletionInfo>, ToolError> {
        let candidates: &[&str] = match request.argument.name.as_str() {
            "arg1" | "arg2" => &["paris", "park", "party", "hello", "world"],
            "id" => &["123", "456", "789"],
            _ => return Ok(None),
        };
        let prefix = &request.argument.value;
        let values: Vec<&str> = candidates
            .iter()
            .copied()
            .filter(|v| v.starts_with(prefix.as_str()))
            .collect();
        Ok(Some(from_json(
            json!({"values": values, "total": values.len(), "hasMore": false}),
        )?))
    }
}

type Answer = Result<CallToolResult, ToolError>;

async fn simple_text(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    text("This is a simple text response for testing.")
}

async fn image_content(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    result(json!({"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]}))
}

async fn audio_content(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    result(json!({"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]}))
}

async fn embedded_resource(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    result(json!({"content": [{"type": "resource", "resource": {
        "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource content."}}]}))
}

async fn multiple_content_types(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    result(json!({"content": [
        {"type": "text", "text": "Multiple content types test:"},
        {"type": "image", "data": PNG, "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json",
            "text": "{\"test\":\"data\",\"value\":123}"}}]}))
}

async fn tool_with_logging(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let messages = [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ];
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cx.log("info", "conformance", json!(message)).await;
    }
    text("Tool with logging executed successfully")
}

async fn logging_tool(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    for message in ["logging tool started", "logging tool finished"] {
        cx.log("info", "conformance", json!(message)).await;
    }
    text("Logging tool executed")
}

async fn error_handling(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    result(
        json!({"content": [{"type": "text", "text": "This tool intentionally returns an error for testing"}], "isError": true}),
    )
}

async fn tool_with_progress(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    for (i, progress) in [0, 50, 100].iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cx.progress(f64::from(*progress), Some(100.0), None).await;
    }
    text("Tool with progress executed successfully")
}

async fn reconnection(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    cx.close_stream();
    // Long enough for the stream to have begun (and ended) before the answer.
    tokio::time::sleep(Duration::from_millis(400)).await;
    text("Reconnection test completed")
}

async fn sampling(_: &ConformancePack, args: JsonObject, cx: &ToolContext) -> Answer {
    let reply = cx
        .sample(json!({"messages": [{"role": "user", "content": {"type": "text", "text": arg(&args, "prompt")}}],
                       "maxTokens": 100}))
        .await?;
    let answer = reply["content"]["text"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| reply["content"].to_string());
    text(format!("LLM response: {answer}"))
}

async fn elicitation(_: &ConformancePack, args: JsonObject, cx: &ToolContext) -> Answer {
    let params = json!({"message": arg(&args, "message"), "requestedSchema": {"type": "object", "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"}}, "required": ["username", "email"]}});
    text(format!("User response: {}", elicited(cx, params).await?))
}

async fn elicitation_defaults(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
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

async fn elicitation_enums(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
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

async fn json_schema_2020_12(_: &ConformancePack, _: JsonObject, _: &ToolContext) -> Answer {
    text("Received a valid argument object.")
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
