//! Conformance fixtures for the tasks extension (SEP-2663): a sync-only tool, tools that run long
//! enough to become tasks, fail as a tool or as a protocol error, ask for input inside the task, or
//! gather input first (input-required) and then become a task.

use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, JsonObject, Tool};
use serde_json::{Value, json};

use crate::conformance_pack::from_json;
use crate::pack::ToolContext;
use crate::tasks::TaskSupport;

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("schemas here are objects")
    };
    Tool::new(
        name.to_string(),
        description.to_string(),
        std::sync::Arc::new(schema),
    )
}

/// The fixture tools.
pub fn tools() -> Vec<Tool> {
    let none = json!({"type": "object", "properties": {}});
    vec![
        tool(
            "greet",
            "Says hello (never a task).",
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
        ),
        tool(
            "slow_compute",
            "Sleeps `seconds` seconds, then answers (a task when the client supports tasks).",
            json!({"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}, "label": {"type": "string"}}}),
        ),
        tool(
            "failing_job",
            "Fails as a tool after about a second (tasks only).",
            none.clone(),
        ),
        tool(
            "protocol_error_job",
            "Fails with a protocol error after a moment (a task when the client supports tasks).",
            none.clone(),
        ),
        tool(
            "confirm_delete",
            "Asks the user to confirm, then 'deletes' the file.",
            json!({"type": "object", "properties": {"filename": {"type": "string"}}}),
        ),
        tool("multi_input", "Asks two questions at once.", none.clone()),
        tool(
            "test_tool_with_task",
            "Asks for a name (input-required), then works on it as a task (tasks only).",
            none,
        ),
    ]
}

/// How each fixture may run as a task.
pub fn task_support(tool: &str) -> TaskSupport {
    match tool {
        "failing_job" | "test_tool_with_task" => TaskSupport::Required,
        "slow_compute" | "protocol_error_job" | "confirm_delete" | "multi_input" => {
            TaskSupport::Optional
        }
        _ => TaskSupport::Forbidden,
    }
}

fn text(text: String, is_error: bool) -> Result<CallToolResponse, ErrorData> {
    Ok(from_json::<CallToolResult>(json!({
        "resultType": "complete", "content": [{"type": "text", "text": text}], "isError": is_error}))?
    .into())
}

fn confirm(message: String) -> Value {
    json!({"message": message, "requestedSchema": {"type": "object",
        "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}})
}

/// Runs a tasks fixture; `None` if `tool` is not one.
pub async fn call(
    tool: &str,
    arguments: Option<&JsonObject>,
    cx: &ToolContext,
) -> Option<Result<CallToolResponse, ErrorData>> {
    let arg = |key: &str| arguments.and_then(|a| a.get(key));
    let result = match tool {
        "greet" => text(
            format!(
                "Hello, {}!",
                arg("name").and_then(Value::as_str).unwrap_or("world")
            ),
            false,
        ),
        "slow_compute" => {
            let seconds = arg("seconds").and_then(Value::as_f64).unwrap_or(1.0);
            tokio::time::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 600.0))).await;
            let label = arg("label").and_then(Value::as_str).unwrap_or("");
            text(format!("computed {label} in {seconds} s"), false)
        }
        "failing_job" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            text("the job failed (as it always does)".into(), true)
        }
        "protocol_error_job" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Err(ErrorData::internal_error(
                "protocol_error_job failed with a protocol error (as it always does)",
                None,
            ))
        }
        "confirm_delete" => {
            let file = arg("filename").and_then(Value::as_str).unwrap_or("a file");
            match cx.elicit(confirm(format!("Delete {file}?"))).await {
                Ok(answer) if answer["action"] == "accept" => {
                    text(format!("deleted {file}"), false)
                }
                Ok(_) => text(format!("kept {file}"), false),
                Err(e) => Err(e),
            }
        }
        "multi_input" => {
            let ask = |what: &str| {
                json!({"message": format!("Your {what}?"), "requestedSchema": {"type": "object",
                "properties": {"name": {"type": "string"}}}})
            };
            let (first, second) = tokio::join!(cx.elicit(ask("name")), cx.elicit(ask("nickname")));
            match (first, second) {
                (Ok(a), Ok(b)) => text(
                    format!("got {} and {}", a["content"]["name"], b["content"]["name"]),
                    false,
                ),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        "test_tool_with_task" => {
            let name = cx
                .input_responses()
                .and_then(|r| r.get("user_name"))
                .filter(|r| r["action"] == "accept")
                .and_then(|r| r["content"]["name"].as_str())
                .map(str::to_string);
            match name {
                None => from_json(json!({"resultType": "input_required", "inputRequests": {
                    "user_name": {"method": "elicitation/create", "params": {"message": "What is your name?",
                        "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}}))
                    .map(CallToolResponse::InputRequired),
                Some(name) => {
                    // The long part, which makes the call a task.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    text(format!("Hello, {name}! Your task is done."), false)
                }
            }
        }
        _ => return None,
    };
    Some(result)
}
