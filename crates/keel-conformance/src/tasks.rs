//! Conformance fixtures for the tasks extension (SEP-2663): a sync-only tool, tools that run long
//! enough to become tasks, fail as a tool or as a protocol error, ask for input inside the task, or
//! gather input first (input-required) and then become a task.

use std::time::Duration;

use keel_mcp::{NoArguments, TaskSupport, ToolContext, ToolDef, ToolError};
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, JsonObject};
use serde_json::{Value, json};

use crate::{ConformancePack, from_json};

/// The fixture tools, and how each may run as a task.
pub(crate) fn tools() -> Vec<ToolDef<ConformancePack>> {
    vec![
        ToolDef::new("greet", "Says hello (never a task).", greet).input_schema(
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
        ),
        ToolDef::new(
            "slow_compute",
            "Sleeps `seconds` seconds, then answers (a task when the client supports tasks).",
            slow_compute,
        )
        .input_schema(json!({"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}, "label": {"type": "string"}}}))
        .task_support(TaskSupport::Optional),
        ToolDef::new(
            "failing_job",
            "Fails as a tool after about a second (tasks only).",
            failing_job,
        )
        .task_support(TaskSupport::Required),
        ToolDef::new(
            "protocol_error_job",
            "Fails with a protocol error after a moment (a task when the client supports tasks).",
            protocol_error_job,
        )
        .task_support(TaskSupport::Optional),
        ToolDef::new(
            "confirm_delete",
            "Asks the user to confirm, then 'deletes' the file.",
            confirm_delete,
        )
        .input_schema(json!({"type": "object", "properties": {"filename": {"type": "string"}}}))
        .task_support(TaskSupport::Optional),
        ToolDef::new("multi_input", "Asks two questions at once.", multi_input)
            .task_support(TaskSupport::Optional),
        ToolDef::new(
            "test_tool_with_task",
            "Asks for a name (input-required), then works on it as a task (tasks only).",
            tool_with_task,
        )
        .task_support(TaskSupport::Required),
    ]
}

type Answer = Result<CallToolResponse, ToolError>;

fn text(text: String, is_error: bool) -> Answer {
    Ok(from_json::<CallToolResult>(json!({
        "resultType": "complete", "content": [{"type": "text", "text": text}], "isError": is_error}))?
    .into())
}

fn confirm(message: String) -> Value {
    json!({"message": message, "requestedSchema": {"type": "object",
        "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}})
}

async fn greet(_: &ConformancePack, args: JsonObject, _: &ToolContext) -> Answer {
    let name = args.get("name").and_then(Value::as_str).unwrap_or("world");
    text(format!("Hello, {name}!"), false)
}

async fn slow_compute(_: &ConformancePack, args: JsonObject, _: &ToolContext) -> Answer {
    let seconds = args.get("seconds").and_then(Value::as_f64).unwrap_or(1.0);
    tokio::time::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 600.0))).await;
    let label = args.get("label").and_then(Value::as_str).unwrap_or("");
    text(format!("computed {label} in {seconds} s"), false)
}

async fn failing_job(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    tokio::time::sleep(Duration::from_secs(1)).await;
    text("the job failed (as it always does)".into(), true)
}

async fn protocol_error_job(_: &ConformancePack, _: NoArguments, _: &ToolContext) -> Answer {
    tokio::time::sleep(Duration::from_millis(500)).await;
    Err(ErrorData::internal_error(
        "protocol_error_job failed with a protocol error (as it always does)",
        None,
    )
    .into())
}

async fn confirm_delete(_: &ConformancePack, args: JsonObject, cx: &ToolContext) -> Answer {
    let file = args
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or("a file");
    let answer = cx.elicit(confirm(format!("Delete {file}?"))).await?;
    if answer["action"] == "accept" {
        text(format!("deleted {file}"), false)
    } else {
        text(format!("kept {file}"), false)
    }
}

async fn multi_input(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let ask = |what: &str| {
        json!({"message": format!("Your {what}?"), "requestedSchema": {"type": "object",
        "properties": {"name": {"type": "string"}}}})
    };
    let (first, second) = tokio::join!(cx.elicit(ask("name")), cx.elicit(ask("nickname")));
    let (a, b) = (first?, second?);
    text(
        format!("got {} and {}", a["content"]["name"], b["content"]["name"]),
        false,
    )
}

async fn tool_with_task(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let name = cx
        .input_responses()
        .and_then(|r| r.get("user_name"))
        .filter(|r| r["action"] == "accept")
        .and_then(|r| r["content"]["name"].as_str())
        .map(str::to_string);
    match name {
        None => Ok(from_json(json!({"resultType": "input_required", "inputRequests": {
            "user_name": {"method": "elicitation/create", "params": {"message": "What is your name?",
                "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}}))
            .map(CallToolResponse::InputRequired)?),
        Some(name) => {
            // The long part, which makes the call a task.
            tokio::time::sleep(Duration::from_millis(500)).await;
            text(format!("Hello, {name}! Your task is done."), false)
        }
    }
}
