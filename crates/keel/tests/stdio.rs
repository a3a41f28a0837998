//! `keel stdio`: MCP over stdin/stdout, with the session's state kept in its object so that the
//! same `--session` resumes it in a later process.

use serde_json::{Value, json};

mod common;

fn session(dir: &std::path::Path, name: &str, calls: &[Value]) -> Vec<Value> {
    common::stdio_session(dir, name, &[], calls)
}

#[test]
fn stdio_sessions_keep_their_state_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let first = session(
        dir.path(),
        "alice",
        &[json!({"name": "kv_put", "arguments": {"key": "plan", "value": "court 3"}})],
    );
    assert_eq!(
        first[0]["result"]["structuredContent"]["stored"], true,
        "{first:?}"
    );
    let again = session(
        dir.path(),
        "alice",
        &[json!({"name": "kv_get", "arguments": {"key": "plan"}})],
    );
    assert_eq!(
        again[0]["result"]["structuredContent"]["value"], "court 3",
        "{again:?}"
    );
    let other = session(
        dir.path(),
        "bob",
        &[json!({"name": "kv_get", "arguments": {"key": "plan"}})],
    );
    assert_eq!(
        other[0]["result"]["structuredContent"]["value"],
        Value::Null,
        "sessions are separate"
    );
}
