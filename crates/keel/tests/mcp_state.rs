//! The `state` pack through `/mcp` of the real binary, on both protocol generations, and a SIGKILL
//! in the middle of concurrent writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use serde_json::{Value, json};

mod common;

use common::mcp::{Session, call_stateless, meta, post};
use common::{Server, raw};

#[test]
fn state_tools_act_on_the_session_or_a_named_object_in_both_generations() {
    let dir = tempfile::tempdir().unwrap();
    // Only the built-in state pack: the browser pack is tested in browser.rs.
    let server = Server::start(dir.path(), &["--browser", "off"]);
    let addr = server.addr.as_str();

    let mut alice = Session::open(addr);
    let tools = alice.request("tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["kv_get", "kv_put", "kv_delete", "kv_list", "sql_exec"]
    );
    let object_prop = &tools["result"]["tools"][0]["inputSchema"]["properties"]["object"];
    assert_eq!(object_prop["x-mcp-header"], "Object");

    let put = alice.call(
        "kv_put",
        json!({"key": "todo:1", "value": {"task": "book court 3"}}),
    );
    assert_eq!(
        put["result"]["structuredContent"],
        json!({"key": "todo:1", "stored": true})
    );
    alice.call("kv_put", json!({"key": "todo:2", "value": "pay"}));
    let got = alice.call("kv_get", json!({"key": "todo:1"}));
    assert_eq!(
        got["result"]["structuredContent"]["value"],
        json!({"task": "book court 3"})
    );
    let list = alice.call("kv_list", json!({"prefix": "todo:", "limit": 1}));
    assert_eq!(
        list["result"]["structuredContent"]["entries"],
        json!([{"key": "todo:1", "value": {"task": "book court 3"}}])
    );
    let deleted = alice.call("kv_delete", json!({"key": "todo:2"}));
    assert_eq!(deleted["result"]["structuredContent"]["deleted"], true);

    alice.call(
        "sql_exec",
        json!({"query": "CREATE TABLE booking (court INTEGER, hour INTEGER)"}),
    );
    let ins = alice.call(
        "sql_exec",
        json!({"query": "INSERT INTO booking VALUES (?1, ?2)", "params": [3, 17]}),
    );
    assert_eq!(ins["result"]["structuredContent"]["rowsWritten"], 1);
    let rows = alice.call(
        "sql_exec",
        json!({"query": "SELECT court, hour FROM booking"}),
    );
    assert_eq!(
        rows["result"]["structuredContent"]["rows"],
        json!([{"court": 3, "hour": 17}])
    );

    // Another session has its own object.
    let mut bob = Session::open(addr);
    let empty = bob.call("kv_get", json!({"key": "todo:1"}));
    assert_eq!(empty["result"]["structuredContent"]["value"], Value::Null);

    // A named object is shared by sessions and stateless requests alike.
    bob.call(
        "kv_put",
        json!({"key": "court-3", "value": "booked by bob", "object": "club"}),
    );
    let seen = call_stateless(
        addr,
        7,
        "kv_get",
        json!({"key": "court-3", "object": "club"}),
    );
    assert_eq!(
        seen["result"]["structuredContent"]["value"],
        "booked by bob"
    );
    let seen = alice.call("kv_get", json!({"key": "court-3", "object": "club"}));
    assert_eq!(
        seen["result"]["structuredContent"]["value"],
        "booked by bob"
    );

    // Stateless without `object`: a clear tool error.
    let no_object = call_stateless(addr, 8, "kv_get", json!({"key": "x"}));
    assert_eq!(no_object["result"]["isError"], true);
    let text = no_object["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("pass an `object` argument"), "{text}");

    // Bad arguments are tool errors the model can read; an unknown tool is a protocol error.
    let bad = alice.call("kv_put", json!({"key": 5, "value": 1}));
    assert_eq!(bad["result"]["isError"], true);
    assert!(
        bad["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("/key: 5 is not of type \"string\"")
    );
    let typo = alice.call("kv_get", json!({"kee": "x"}));
    let text = typo["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        typo["result"]["isError"] == true && text.contains("kee"),
        "{typo}"
    );
    let sql = alice.call("sql_exec", json!({"query": "SELEKT"}));
    assert!(
        sql["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("syntax error")
    );
    let unknown = alice.call("no_such_tool", json!({}));
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_tool"),
        "{unknown}"
    );
}

#[test]
fn sigkill_during_concurrent_kv_puts_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (addr, stop) = (addr.clone(), std::sync::Arc::clone(&stop));
        writers.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            for i in 0u64.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let key = format!("w{w}-{i}");
                let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                    "name": "kv_put", "arguments": {"key": key, "value": i, "object": "ledger"}, "_meta": meta()}});
                let headers = [("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "kv_put"), ("Mcp-Param-Object", "ledger")];
                let result = std::panic::catch_unwind(|| post(&addr, &headers, &body));
                match result {
                    Ok((200, _, messages)) if messages.iter().any(|m| m["result"]["structuredContent"]["stored"] == true) => {
                        acked.push(key)
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acked.len() > 50,
        "only {} writes were acknowledged",
        acked.len()
    );
    drop(server);

    let server = Server::start(dir.path(), &[]);
    // Every page of the listing (an answer carries at most 1000 entries).
    let mut stored = std::collections::HashSet::new();
    let mut args = json!({"object": "ledger"});
    for id in 1.. {
        let listed = call_stateless(&server.addr, id, "kv_list", args.clone());
        let page = &listed["result"]["structuredContent"];
        stored.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["key"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => args["start"] = json!(next),
            None => break,
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

fn send_delete(addr: &str, session: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "DELETE /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

#[test]
fn a_session_survives_a_restart_and_delete_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let session_id = {
        let server = Server::start(dir.path(), &[]);
        let mut alice = Session::open(&server.addr);
        alice.call(
            "kv_put",
            json!({"key": "plan", "value": "court 3 at 17:00"}),
        );
        alice.id.clone()
    };
    // The server was killed (not even a clean shutdown); a new process serves the same data.
    let server = Server::start(dir.path(), &[]);
    let mut alice = Session {
        addr: &server.addr,
        id: session_id.clone(),
        next: 100,
    };
    let got = alice.call("kv_get", json!({"key": "plan"}));
    assert_eq!(
        got["result"]["structuredContent"]["value"], "court 3 at 17:00",
        "{got}"
    );

    let unknown = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let (status, _, _) = post(
        &server.addr,
        &[
            ("Mcp-Session-Id", "no-such-session"),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &unknown,
    );
    assert_eq!(status, 404, "an unknown session gets 404");
    let absurd = "s".repeat(5000);
    let (status, _, _) = post(
        &server.addr,
        &[
            ("Mcp-Session-Id", &absurd),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &unknown,
    );
    assert_eq!(
        status, 404,
        "a session ID no server could have issued gets 404, not a 5xx"
    );

    let status = send_delete(&server.addr, &session_id);
    assert!(
        (200..300).contains(&status),
        "DELETE ends the session: {status}"
    );
    let (status, _, _) = post(
        &server.addr,
        &[
            ("Mcp-Session-Id", &session_id),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &unknown,
    );
    assert_eq!(status, 404, "a deleted session is gone");
    drop(server);
    let listed = Command::new(env!("CARGO_BIN_EXE_keel"))
        .current_dir(dir.path())
        .env_remove("KEEL_DATA")
        .args(["objects", "list", "--namespace", "session"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        String::from_utf8_lossy(&listed.stdout).trim().is_empty(),
        "the session's object was removed"
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_keel"))
        .current_dir(dir.path())
        .env_remove("KEEL_DATA")
        .args(["objects", "list", "--namespace", "session-events"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        String::from_utf8_lossy(&listed.stdout).trim().is_empty(),
        "the session's event log was removed: {}",
        String::from_utf8_lossy(&listed.stdout)
    );
}

#[test]
fn malformed_requests_get_clear_errors_and_the_server_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-body-bytes", "2000"]);
    let addr = server.addr.as_str();
    let headers = "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n";

    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(5000)
    );
    let (status, _) = raw(
        addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\r\n{big}",
            big.len()
        ),
    );
    assert_eq!(status, 413, "a body over --max-body-bytes gets 413");

    let junk = "{not json";
    let (status, text) = raw(
        addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\r\n{junk}",
            junk.len()
        ),
    );
    assert!(
        (400..500).contains(&status),
        "malformed JSON gets a 4xx: {text}"
    );
    assert!(
        text.contains("-32700")
            || text.to_lowercase().contains("parse")
            || text.to_lowercase().contains("json"),
        "{text}"
    );

    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}})
            .to_string();
    let (status, text) = raw(
        addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: evil.example:80\r\n{headers}MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(
        (400..500).contains(&status),
        "a foreign Host header is refused (DNS rebinding): {text}"
    );

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();
    let from = |origin: &str| {
        raw(addr, &format!("POST /mcp HTTP/1.1\r\nHost: {addr}\r\n{headers}Origin: {origin}\r\nContent-Length: {}\r\n\r\n{init}", init.len())).0
    };
    assert_eq!(
        from("http://evil.example"),
        403,
        "a foreign browser Origin is refused"
    );
    assert_eq!(
        from("http://localhost:5173"),
        200,
        "a local browser Origin is accepted"
    );

    // Still serving.
    let ok = call_stateless(addr, 9, "kv_get", json!({"key": "k", "object": "o"}));
    assert_eq!(ok["result"]["isError"], false, "{ok}");
}

#[test]
fn a_slow_tool_call_is_stopped_at_the_tool_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--tool-timeout", "300ms", "--max-statement-time", "3s"],
    );
    let addr = server.addr.as_str();
    let started = std::time::Instant::now();
    let runaway =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let slow = call_stateless(
        addr,
        1,
        "sql_exec",
        json!({"query": runaway, "object": "slow"}),
    );
    assert_eq!(slow["result"]["isError"], true, "{slow}");
    let text = slow["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("did not finish within"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let other = call_stateless(
        addr,
        2,
        "kv_put",
        json!({"key": "k", "value": 1, "object": "fast"}),
    );
    assert_eq!(
        other["result"]["isError"], false,
        "other objects keep working: {other}"
    );
}

#[test]
fn sigterm_lets_running_calls_finish_and_refuses_new_ones_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &["--tool-timeout", "10s", "--max-statement-time", "1500ms"],
    );
    let addr = server.addr.clone();
    // A call that takes ~1.5 s (stopped by the statement limit, answered as a tool error).
    let slow = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
            call_stateless(
                &addr,
                1,
                "sql_exec",
                json!({"query": runaway, "object": "slow"}),
            )
        }
    });
    // Wait (with a deadline) until the call is running on the server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, metrics) = raw(
            &addr,
            &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        );
        if metrics.contains("keel_mcp_tool_calls_in_flight 1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slow call never started: {metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // A keep-alive connection opened before the signal.
    let mut early = TcpStream::connect(&addr).unwrap();
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let body =
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": meta()}})
            .to_string();
    write!(
        early,
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut refused = String::new();
    let _ = early.read_to_string(&mut refused);
    assert!(
        refused.starts_with("HTTP/1.1 503"),
        "a request during the drain gets 503: {refused}"
    );
    assert!(
        refused.to_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    let finished = slow.join().unwrap();
    assert!(
        finished["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ran longer than"),
        "{finished}"
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "keel exits 0 after draining: {status}");
}

/// `keel_mcp_tool_calls_in_flight` now.
fn calls_in_flight(addr: &str) -> String {
    let (_, metrics) = raw(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    metrics
        .lines()
        .find(|l| l.starts_with("keel_mcp_tool_calls_in_flight "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_call_the_client_cancels_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--tool-timeout", "30s", "--max-statement-time", "20s"],
    );
    let addr = server.addr.clone();
    let session = Session::open(&addr);
    let id = session.id.clone();
    // A call that would run 20 s (a statement without end, stopped by the statement limit).
    let slow = std::thread::spawn({
        let (addr, id) = (addr.clone(), id.clone());
        move || {
            let runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
            let body = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {
                "name": "sql_exec", "arguments": {"query": runaway, "object": "slow"}}});
            post(
                &addr,
                &[
                    ("Mcp-Session-Id", &id),
                    ("MCP-Protocol-Version", "2025-11-25"),
                ],
                &body,
            )
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while calls_in_flight(&addr) != "keel_mcp_tool_calls_in_flight 1" {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow call never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 77, "reason": "the user moved on"}});
    let (status, _, _) = post(
        &addr,
        &[
            ("Mcp-Session-Id", &id),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &cancel,
    );
    assert_eq!(status, 202);
    // The call is gone within moments, not after its 20 s (what it held is free again).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while calls_in_flight(&addr) != "keel_mcp_tool_calls_in_flight 0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the cancelled call still runs: {}",
            calls_in_flight(&addr)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = slow.join().unwrap();
    let mut session = session;
    let other = session.call("kv_put", json!({"key": "k", "value": 1, "object": "fast"}));
    assert_eq!(other["result"]["isError"], false, "{other}");
}
