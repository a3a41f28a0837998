//! The real binary, attacked through its front door: SQL and KV tools driven by a steered model,
//! requests built to cost memory, slow and piled-up connections, hosts it does not serve, and
//! handshakes made to fill the disk. Each attempt is refused with an error that says why, and the
//! server keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::mcp::{Session, post};
use common::{Server, http_get, raw};

/// A tool result's text, and whether it is an error.
fn outcome(response: &Value) -> (bool, String) {
    let result = &response["result"];
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (result["isError"] == true, text)
}

fn structured(response: &Value) -> &Value {
    &response["result"]["structuredContent"]
}

#[test]
fn sql_and_kv_tools_stay_inside_their_object_and_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--max-answer-rows", "50", "--max-answer-bytes", "4000"],
    );
    let mut s = Session::open(&server.addr);
    s.call("kv_put", json!({"key": "mine", "value": "kept"}));

    let outside = tempfile::tempdir().unwrap();
    let attach = format!(
        "ATTACH DATABASE '{}' AS x",
        outside.path().join("x.db").display()
    );
    for (sql, why) in [
        (attach.as_str(), "ATTACH and DETACH are not allowed"),
        ("DROP TABLE _keel_kv", "keel's internal tables"),
        (
            "PRAGMA journal_mode=OFF",
            "PRAGMA journal_mode = OFF is not allowed",
        ),
        ("PRAGMA database_list", "is not allowed"),
        ("COMMIT", "each call is already one transaction"),
    ] {
        let (is_error, text) = outcome(&s.call("sql_exec", json!({"query": sql})));
        assert!(is_error, "{sql} was not refused: {text}");
        assert!(text.contains(why), "{sql}: {text:?} does not say {why:?}");
    }
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    let got = s.call("kv_get", json!({"key": "mine"}));
    assert_eq!(structured(&got)["value"], "kept", "{got}");

    // A million rows: 50 come back, with how many were left out and how to get them.
    let million = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000) SELECT n FROM c";
    let r = s.call("sql_exec", json!({"query": million}));
    let answer = structured(&r);
    assert_eq!(answer["rows"].as_array().map(Vec::len), Some(50), "{r}");
    assert_eq!(answer["rowsLeftOut"], 999_950, "{r}");
    assert!(
        answer["note"]
            .as_str()
            .is_some_and(|n| n.contains("LIMIT 50 OFFSET 50")),
        "{r}"
    );
    // A value SQL builds may not pass the value limit.
    let (is_error, text) =
        outcome(&s.call("sql_exec", json!({"query": "SELECT randomblob(300000000)"})));
    assert!(is_error && text.contains("max_value_bytes"), "{text}");

    // kv_list pages by bytes; following `next` reads every entry exactly once.
    for i in 0..40 {
        s.call(
            "kv_put",
            json!({"key": format!("item:{i:02}"), "value": "v".repeat(300)}),
        );
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..40 {
        let mut args = json!({"prefix": "item:"});
        if let Some(start) = &start {
            args["start"] = json!(start);
        }
        let page = s.call("kv_list", args);
        let page = structured(&page).clone();
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        assert!(
            !entries.is_empty() && serde_json::to_string(&entries).unwrap().len() <= 4000 + 1000,
            "{page}"
        );
        seen.extend(
            entries
                .iter()
                .map(|e| e["key"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => start = Some(next.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..40).map(|i| format!("item:{i:02}")).collect();
    assert_eq!(seen, expected);
    // A value larger than an answer may carry is listed without it.
    s.call(
        "kv_put",
        json!({"key": "huge", "value": "h".repeat(10_000)}),
    );
    let page = s.call("kv_list", json!({"prefix": "huge"}));
    let entry = &structured(&page)["entries"][0];
    assert_eq!(entry["key"], "huge");
    assert!(
        entry.get("value").is_none() && entry["size"].as_u64() > Some(10_000),
        "{page}"
    );
}

#[test]
fn a_request_built_to_cost_memory_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = Session::open(&server.addr);
    let before = common::memory_of(server.child.id(), "VmHWM");

    // 4 MiB of {"a":1}: 520,000 objects, ~1 GB of memory once parsed and copied.
    let objects = format!("[{}]", vec![r#"{"a":1}"#; 520_000].join(","));
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"kv_put","arguments":{{"key":"k","value":{objects}}}}}}}"#
    );
    let headers = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: {}\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        s.id,
        body.len()
    );
    let (status, text) = raw(&server.addr, &(headers + &body));
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("too many small objects"), "{text}");

    // The largest ordinary request still goes through, and a read of it back too.
    let numbers = format!("[{}]", vec!["1"; 400_000].join(","));
    let value: Value = serde_json::from_str(&numbers).unwrap();
    let put = s.call("kv_put", json!({"key": "numbers", "value": value}));
    assert_eq!(structured(&put)["stored"], true, "{put}");
    let got = s.call("kv_get", json!({"key": "numbers"}));
    assert_eq!(
        structured(&got)["value"].as_array().map(Vec::len),
        Some(400_000)
    );

    let grew = common::memory_of(server.child.id(), "VmHWM").saturating_sub(before);
    assert!(grew < 256 << 20, "peak memory grew by {} MiB", grew >> 20);
    s.call("kv_put", json!({"key": "after", "value": 1}));
}

#[test]
fn slow_idle_and_surplus_connections_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--header-timeout", "1s", "--max-connections", "3"],
    );
    // Headers that never finish: the connection is closed at the header timeout.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let n = slow.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "a slow sender held its connection {waited:?} (read {n} bytes)"
    );

    // Three silent connections fill the cap: the fourth is told so at once.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, text) = raw(
        &server.addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("max_connections"), "{text}");
    // They are closed at the header timeout, and the server serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = http_get(&server.addr, "/healthz");
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the cap never freed up");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
}

#[test]
fn health_and_metrics_check_the_host_as_mcp_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for path in ["/healthz", "/metrics"] {
        let (status, text) = raw(
            &server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 403, "{path}: {text}");
        assert!(text.contains("allowed_hosts"), "{text}");
        assert_eq!(http_get(&server.addr, path).0, 200, "{path}");
    }
}

#[test]
fn a_handshake_cannot_fill_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let huge = "n".repeat(900_000);
    for id in 0..5 {
        let init = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {"experimental": {"x": {"blob": huge}}},
            "clientInfo": {"name": huge, "version": "1", "description": huge}}});
        let (status, session, _) = post(&server.addr, &[], &init);
        assert_eq!(status, 200);
        assert!(session.is_some());
    }
    let mut total = 0;
    let mut stack = vec![dir.path().join(".keel")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    assert!(total < 1 << 20, "5 handshakes left {total} bytes on disk");
    // The session still works, with its client's name cut, not lost.
    let mut s = Session::open(&server.addr);
    s.call("kv_put", json!({"key": "k", "value": 1}));
}

#[test]
fn a_task_is_reached_only_from_the_session_that_started_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--conformance"]);
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let mut owner = Session::open_with(&server.addr, tasks.clone());
    let mut other = Session::open_with(&server.addr, tasks);
    let created = owner.call("slow_compute", json!({"seconds": 5}));
    let id = created["result"]["taskId"]
        .as_str()
        .or_else(|| created["result"]["task"]["taskId"].as_str())
        .unwrap_or_else(|| panic!("no task: {created}"))
        .to_string();

    for method in ["tasks/get", "tasks/cancel"] {
        let answer = other.request(method, json!({"taskId": id}));
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("unknown task"),
            "{method} from another session: {answer}"
        );
    }
    let mut meta = common::mcp::meta();
    meta["io.modelcontextprotocol/clientCapabilities"] =
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let stateless = json!({"jsonrpc": "2.0", "id": 9, "method": "tasks/get", "params": {"taskId": id, "_meta": meta}});
    let (_, _, messages) = post(
        &server.addr,
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tasks/get"),
            ("Mcp-Name", &id),
        ],
        &stateless,
    );
    assert!(
        messages.iter().any(|m| m["error"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("unknown task"))),
        "a stateless tasks/get: {messages:?}"
    );
    // The other session's cancel did nothing: the owner still sees it working, and can cancel it.
    let got = owner.request("tasks/get", json!({"taskId": id}));
    assert_eq!(got["result"]["status"], "working", "{got}");
    let cancelled = owner.request("tasks/cancel", json!({"taskId": id}));
    assert!(cancelled.get("error").is_none(), "{cancelled}");
}

#[test]
fn a_session_never_used_after_initialize_is_deleted_soon() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--unused-session-ttl", "1s"]);
    let abandoned: Vec<String> = (0..5).map(|_| Session::open(&server.addr).id).collect();
    let mut used = Session::open(&server.addr);
    used.call("kv_get", json!({"key": "nothing"}));
    let files = || {
        keel_objects::fuzzing::files_under(&dir.path().join(".keel/objects"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while files() > 1 {
        assert!(
            Instant::now() < deadline,
            "{} session objects left",
            files()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The used session is the one left, and still works; an abandoned one is unknown now.
    let put = used.call("kv_put", json!({"key": "k", "value": 1}));
    assert_eq!(structured(&put)["stored"], true, "{put}");
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let (status, _, _) = post(
        &server.addr,
        &[
            ("Mcp-Session-Id", &abandoned[0]),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        &ping,
    );
    assert_eq!(status, 404);
}
