//! The SSE event log of handshake sessions: a client that lost its connection resumes with
//! `Last-Event-ID` and gets what it missed, also after the server restarted; another session cannot
//! read those events.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::Server;

/// An SSE event as the client sees it.
#[derive(Debug, Clone)]
struct Event {
    id: Option<String>,
    data: Option<Value>,
}

/// Sends `request` and reads the SSE events of the answer, stopping after `stop_after` events
/// (then dropping the connection, as a client whose network failed) or at the end of the stream.
fn events(addr: &str, request: &str, stop_after: Option<usize>) -> (u16, Vec<Event>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut events = Vec::new();
    let mut current = Event {
        id: None,
        data: None,
    };
    let mut seen_any_field = false;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if let Some(id) = l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")) {
            current.id = Some(id.trim().to_string());
            seen_any_field = true;
        } else if let Some(data) = l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")) {
            current.data = serde_json::from_str(data.trim()).ok();
            seen_any_field = true;
        } else if l.starts_with("retry:") {
            seen_any_field = true;
        } else if l.is_empty() && seen_any_field {
            events.push(std::mem::replace(
                &mut current,
                Event {
                    id: None,
                    data: None,
                },
            ));
            seen_any_field = false;
            if stop_after.is_some_and(|n| events.len() >= n) {
                break;
            }
        }
    }
    (status, events)
}

fn post_request(addr: &str, session: Option<&str>, body: &Value) -> String {
    let body = body.to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(session) = session {
        req.push_str(&format!(
            "Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    req
}

fn resume_request(addr: &str, session: &str, last_event_id: &str) -> String {
    format!(
        "GET /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
    )
}

/// Opens a handshake session; its ID.
fn open_session(addr: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "keel-test", "version": "1"}}});
    let (status, text) = common::raw(addr, &post_request(addr, None, &init));
    assert_eq!(status, 200, "{text}");
    let session = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("mcp-session-id")
                .then(|| value.trim().to_string())
        })
        .expect("a session id");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _) = common::raw(addr, &post_request(addr, Some(&session), &note));
    assert_eq!(status, 202);
    session
}

fn progress_call(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p1"}}})
}

fn messages(events: &[Event]) -> Vec<Value> {
    events.iter().filter_map(|e| e.data.clone()).collect()
}

#[test]
fn a_dropped_stream_resumes_with_last_event_id_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--conformance"]);
    let session = open_session(&server.addr);

    // The whole answer, read to the end: every event has an ID.
    let (status, all) = events(
        &server.addr,
        &post_request(&server.addr, Some(&session), &progress_call(1)),
        None,
    );
    assert_eq!(status, 200);
    let all_messages = messages(&all);
    assert_eq!(
        all_messages.len(),
        4,
        "3 progress notifications + the result: {all:?}"
    );
    assert!(all.iter().all(|e| e.id.is_some()), "{all:?}");

    // A client whose connection drops after the first progress notification (event 2: the first
    // is the priming event) resumes from there and gets the rest, the result included.
    let (_, first) = events(
        &server.addr,
        &post_request(&server.addr, Some(&session), &progress_call(2)),
        Some(2),
    );
    let last_seen = first[1].id.clone().expect("an event id");
    assert_eq!(
        first[1].data.as_ref().unwrap()["params"]["progress"].as_f64(),
        Some(0.0),
        "{first:?}"
    );
    let (status, rest) = events(
        &server.addr,
        &resume_request(&server.addr, &session, &last_seen),
        None,
    );
    assert_eq!(status, 200);
    let rest = messages(&rest);
    let progress: Vec<Option<f64>> = rest
        .iter()
        .map(|m| m["params"]["progress"].as_f64())
        .collect();
    assert_eq!(progress[..2], [Some(50.0), Some(100.0)], "{rest:?}");
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert_eq!(rest[2]["id"], 2);
    assert_eq!(
        rest[2]["result"]["content"][0]["text"],
        "Tool with progress executed successfully"
    );

    // Another session cannot read this session's events with the same ID.
    let other = open_session(&server.addr);
    let (status, stolen) = events(
        &server.addr,
        &resume_request(&server.addr, &other, &last_seen),
        None,
    );
    assert_eq!(status, 200);
    assert!(messages(&stolen).is_empty(), "{stolen:?}");

    // After a restart (SIGKILL: no clean shutdown), the same resume gives the same events.
    drop(server);
    let server = Server::start(dir.path(), &["--conformance"]);
    let (status, again) = events(
        &server.addr,
        &resume_request(&server.addr, &session, &last_seen),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(messages(&again), rest, "the stored events after a restart");

    // An ID this server never issued gets an empty stream, not an error page or a hang.
    let (status, none) = events(
        &server.addr,
        &resume_request(&server.addr, &session, "not-an-event-id"),
        None,
    );
    assert_eq!(status, 200);
    assert!(messages(&none).is_empty());
}

#[test]
fn a_plain_answer_is_json_and_a_stream_the_server_closes_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--conformance"]);
    let session = open_session(&server.addr);

    // A call that only answers gets `application/json` (no stream, nothing stored).
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "kv_put", "arguments": {"key": "k", "value": 1}}});
    let (status, text) = common::raw(
        &server.addr,
        &post_request(&server.addr, Some(&session), &call),
    );
    assert_eq!(status, 200, "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let answer: Value = serde_json::from_str(body.trim()).expect("one JSON answer");
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["result"]["structuredContent"]["stored"], true);

    // A call that reports progress first still streams, every event with an ID.
    let (_, streamed) = events(
        &server.addr,
        &post_request(&server.addr, Some(&session), &progress_call(8)),
        None,
    );
    assert_eq!(messages(&streamed).len(), 4, "{streamed:?}");
    assert!(streamed.iter().all(|e| e.id.is_some()), "{streamed:?}");

    // The server ends a call's connection after the priming event (SEP-1699 polling); the answer
    // comes to the client that reconnects with Last-Event-ID.
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "test_reconnection", "arguments": {}}});
    let (status, cut) = events(
        &server.addr,
        &post_request(&server.addr, Some(&session), &call),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(cut.len(), 1, "only the priming event: {cut:?}");
    assert!(cut[0].data.is_none(), "{cut:?}");
    let resume_from = cut[0].id.clone().expect("the priming event's ID");
    let (status, rest) = events(
        &server.addr,
        &resume_request(&server.addr, &session, &resume_from),
        Some(1),
    );
    assert_eq!(status, 200);
    let rest = messages(&rest);
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0]["id"], 9);
    assert_eq!(
        rest[0]["result"]["content"][0]["text"],
        "Reconnection test completed"
    );
}
