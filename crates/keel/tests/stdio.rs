//! `keel stdio`: MCP over stdin/stdout, with the session's state kept in its object so that the
//! same `--session` resumes it in a later process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// Runs one `keel stdio` process: sends each request after the previous answer arrived.
fn session(dir: &std::path::Path, name: &str, calls: &[Value]) -> Vec<Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .current_dir(dir)
        .env_remove("KEEL_DATA")
        .args(["stdio", "--session", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("keel stdio starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |message: &Value| writeln!(stdin, "{message}").expect("write");
    let mut read = |id: u64| loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "keel stdio closed stdout"
        );
        let message: Value = serde_json::from_str(&line).expect("a JSON line");
        if message["id"] == id {
            return message;
        }
    };
    send(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    );
    assert_eq!(read(0)["result"]["serverInfo"]["name"], "keel");
    send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let mut answers = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let id = i as u64 + 1;
        send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": call}));
        answers.push(read(id));
    }
    drop(stdin);
    assert!(
        child.wait().expect("exit").success(),
        "keel stdio exits cleanly when stdin closes"
    );
    answers
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
