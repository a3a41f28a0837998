//! Conformance fixtures for input-required results (2026-07-28, SEP-2322): a tool (or prompt) that
//! needs something from the client answers with `InputRequiredResult`; the client calls again with
//! `inputResponses` and the sealed `requestState`, which keel checks for tampering.

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, CallToolResult, GetPromptResult, InputRequiredResult, InputResponses,
};
use serde_json::{Value, json};

use keel_mcp::{NoArguments, ToolContext, ToolDef, ToolError};

use crate::{ConformancePack, from_json};

fn ask(requests: Value, state: Option<String>) -> Result<CallToolResponse, ErrorData> {
    let mut result = json!({"resultType": "input_required", "inputRequests": requests});
    if let Some(state) = state {
        result["requestState"] = state.into();
    }
    Ok(from_json::<InputRequiredResult>(result)?.into())
}

fn done(text: String) -> Result<CallToolResponse, ErrorData> {
    Ok(from_json::<CallToolResult>(
        json!({"resultType": "complete", "content": [{"type": "text", "text": text}]}),
    )?
    .into())
}

fn elicit(message: &str, field: &str, kind: &str) -> Value {
    json!({"method": "elicitation/create", "params": {"message": message, "requestedSchema": {
        "type": "object", "properties": {field: {"type": kind}}, "required": [field]}}})
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens}})
}

fn roots() -> Value {
    json!({"method": "roots/list", "params": {}})
}

/// The accepted elicitation answer's `content.FIELD`, if the response under `key` has one.
fn answer<'a>(responses: Option<&'a InputResponses>, key: &str, field: &str) -> Option<&'a Value> {
    let response = responses?.get(key)?;
    (response.get("action").and_then(Value::as_str) == Some("accept")).then_some(())?;
    response.get("content")?.get(field)
}

fn sampled_text(responses: Option<&InputResponses>, key: &str) -> Option<String> {
    let content = responses?.get(key)?.get("content")?;
    Some(
        content
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| content.to_string()),
    )
}

fn root_uris(responses: Option<&InputResponses>, key: &str) -> Option<Vec<String>> {
    let roots = responses?.get(key)?.get("roots")?.as_array()?;
    Some(
        roots
            .iter()
            .filter_map(|r| r.get("uri").and_then(Value::as_str).map(str::to_string))
            .collect(),
    )
}

/// The input-required fixture tools (and the SEP-2575 diagnostics built on them).
pub(crate) fn tools() -> Vec<ToolDef<ConformancePack>> {
    const ASKS: &str = "Asks the client for input first (2026-07-28).";
    vec![
        ToolDef::new("test_missing_capability", ASKS, missing_capability),
        ToolDef::new("test_streaming_elicitation", ASKS, streaming_elicitation),
        ToolDef::new("test_input_required_result_elicitation", ASKS, ask_name),
        ToolDef::new("test_input_required_result_sampling", ASKS, ask_model),
        ToolDef::new("test_input_required_result_list_roots", ASKS, list_roots),
        ToolDef::new(
            "test_input_required_result_request_state",
            ASKS,
            request_state,
        ),
        ToolDef::new(
            "test_input_required_result_multiple_inputs",
            ASKS,
            multiple_inputs,
        ),
        ToolDef::new("test_input_required_result_multi_round", ASKS, multi_round),
        ToolDef::new(
            "test_input_required_result_tampered_state",
            ASKS,
            tampered_state,
        ),
        ToolDef::new(
            "test_input_required_result_capabilities",
            ASKS,
            capabilities,
        ),
    ]
}

type Answer = Result<CallToolResponse, ToolError>;

async fn ask_name(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let responses = cx.input_responses();
    Ok(
        match answer(responses, "user_name", "name").and_then(Value::as_str) {
            Some(name) => done(format!("Hello, {name}!")),
            // Missing, wrong or malformed answers: ask again rather than fail (SEP-2322 SHOULD).
            None => ask(
                json!({"user_name": elicit("What is your name?", "name", "string")}),
                None,
            ),
        }?,
    )
}

async fn ask_model(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    Ok(
        match sampled_text(cx.input_responses(), "capital_question") {
            Some(text) => done(format!("LLM said: {text}")),
            None => ask(
                json!({"capital_question": sample("What is the capital of France?", 100)}),
                None,
            ),
        }?,
    )
}

async fn list_roots(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    Ok(match root_uris(cx.input_responses(), "client_roots") {
        Some(uris) => done(format!("Client roots: {}", uris.join(", "))),
        None => ask(json!({"client_roots": roots()}), None),
    }?)
}

async fn request_state(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let state = cx.request_state()?;
    Ok(
        match (answer(cx.input_responses(), "confirm", "ok"), state) {
            (Some(_), Some(state)) if state["step"] == "confirm" => {
                done("state-ok: confirmation received".into())
            }
            _ => ask(
                json!({"confirm": elicit("Please confirm", "ok", "boolean")}),
                Some(cx.seal_state(&json!({"step": "confirm"}))?),
            ),
        }?,
    )
}

async fn multiple_inputs(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let responses = cx.input_responses();
    let state = cx.request_state()?;
    let complete = answer(responses, "user_name", "name").is_some()
        && sampled_text(responses, "greeting").is_some()
        && root_uris(responses, "client_roots").is_some();
    Ok(if complete && state.is_some_and(|s| s["step"] == "all") {
        done("Received all inputs: name, greeting and roots".into())
    } else {
        ask(
            json!({
                "user_name": elicit("What is your name?", "name", "string"),
                "greeting": sample("Generate a greeting", 50),
                "client_roots": roots(),
            }),
            Some(cx.seal_state(&json!({"step": "all"}))?),
        )
    }?)
}

async fn multi_round(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let responses = cx.input_responses();
    let state = cx.request_state()?;
    let round = state
        .as_ref()
        .and_then(|s| s["round"].as_u64())
        .unwrap_or(0);
    Ok(match (
        round,
        answer(responses, "step1", "name"),
        answer(responses, "step2", "color"),
    ) {
        (1, Some(name), _) => ask(
            json!({"step2": elicit("Step 2: What is your favorite color?", "color", "string")}),
            Some(cx.seal_state(&json!({"round": 2, "name": name}))?),
        ),
        (2, _, Some(color)) => {
            let name = state
                .as_ref()
                .and_then(|s| s["name"].as_str())
                .unwrap_or("?");
            done(format!(
                "Done: {name} likes {}",
                color.as_str().unwrap_or("?")
            ))
        }
        _ => ask(
            json!({"step1": elicit("Step 1: What is your name?", "name", "string")}),
            Some(cx.seal_state(&json!({"round": 1}))?),
        ),
    }?)
}

async fn tampered_state(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    Ok(match cx.request_state()? {
        Some(_) => done("state verified".into()),
        None => ask(
            json!({"confirm": elicit("Please confirm", "ok", "boolean")}),
            Some(cx.seal_state(&json!({"step": "tamper-check"}))?),
        ),
    }?)
}

async fn capabilities(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    if cx.input_responses().is_some() {
        return Ok(done("Inputs received".into())?);
    }
    let caps = cx.client_capabilities().unwrap_or_default();
    let mut requests = serde_json::Map::new();
    if caps.elicitation.is_some() {
        requests.insert(
            "user_name".into(),
            elicit("What is your name?", "name", "string"),
        );
    }
    if caps.sampling.is_some() {
        requests.insert("greeting".into(), sample("Generate a greeting", 50));
    }
    if caps.roots.is_some() {
        requests.insert("client_roots".into(), roots());
    }
    Ok(if requests.is_empty() {
        done("The client supports no input requests".into())
    } else {
        ask(Value::Object(requests), None)
    }?)
}

/// SEP-2575: a tool that needs sampling says so with a diagnostic the client can act on.
async fn missing_capability(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    let caps = cx.client_capabilities().unwrap_or_default();
    if caps.sampling.is_none() {
        let required = from_json(json!({"sampling": {}}))?;
        return Err(ErrorData::missing_required_client_capability(required).into());
    }
    Ok(match sampled_text(cx.input_responses(), "answer") {
        Some(text) => done(format!("LLM said: {text}")),
        None => ask(json!({"answer": sample("Say hello", 20)}), None),
    }?)
}

async fn streaming_elicitation(_: &ConformancePack, _: NoArguments, cx: &ToolContext) -> Answer {
    Ok(match answer(cx.input_responses(), "confirm", "ok") {
        // On 2026-07-28 the question goes back as an input-required result, never as an
        // independent elicitation request on the response stream.
        Some(_) => done("Confirmed".into()),
        None => ask(
            json!({"confirm": elicit("Please confirm", "ok", "boolean")}),
            None,
        ),
    }?)
}

/// `test_input_required_result_prompt`: asks for context first, then renders.
pub fn prompt(
    responses: Option<&InputResponses>,
) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
    match answer(responses, "user_context", "context").and_then(Value::as_str) {
        Some(context) => Ok(from_json::<GetPromptResult>(json!({"resultType": "complete", "messages": [
            {"role": "user", "content": {"type": "text", "text": format!("Prompt with context: {context}")}}]}))?
        .into()),
        None => Ok(from_json::<InputRequiredResult>(json!({"resultType": "input_required", "inputRequests": {
            "user_context": elicit("What context should the prompt use?", "context", "string")}}))?
        .into()),
    }
}
