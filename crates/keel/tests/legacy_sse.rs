//! The legacy HTTP+SSE transport (2024-11-05): `GET /sse` names the endpoint, messages are POSTed
//! there, answers come on the stream; bad input gets a clear status.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::{Server, raw};

/// An open `/sse` stream.
struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    fn open(addr: &str) -> Stream {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            tcp,
            "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(tcp);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        Stream { reader }
    }

    /// The next event: its name and data.
    fn next(&mut self) -> (String, String) {
        let (mut event, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).expect("an event");
            assert!(n > 0, "the stream ended");
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(e) = l
                .strip_prefix("event: ")
                .or_else(|| l.strip_prefix("event:"))
            {
                event = e.trim().to_string();
            } else if let Some(d) = l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")) {
                data.push_str(d.trim());
            } else if l.is_empty() && !data.is_empty() {
                return (event, data);
            }
        }
    }

    fn next_message(&mut self) -> Value {
        loop {
            let (event, data) = self.next();
            if event == "message" {
                return serde_json::from_str(&data).expect("JSON");
            }
        }
    }
}

fn post(addr: &str, path: &str, body: &str, extra: &str) -> (u16, String) {
    raw(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn an_old_client_talks_over_sse_and_bad_input_gets_clear_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-body-bytes", "4096"]);
    let addr = server.addr.as_str();
    let mut stream = Stream::open(addr);
    let (event, endpoint) = stream.next();
    assert_eq!(event, "endpoint");
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    let (status, _) = post(addr, &endpoint, &init.to_string(), "");
    assert_eq!(status, 202);
    let answer = stream.next_message();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["serverInfo"]["name"], "keel");
    assert_eq!(answer["result"]["protocolVersion"], "2024-11-05");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(addr, &endpoint, &note.to_string(), "").0, 202);

    let put = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "kv_put", "arguments": {"key": "k", "value": 7}}});
    assert_eq!(post(addr, &endpoint, &put.to_string(), "").0, 202);
    let answer = stream.next_message();
    assert_eq!(answer["id"], 2);
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let get = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                     "params": {"name": "kv_get", "arguments": {"key": "k"}}});
    assert_eq!(post(addr, &endpoint, &get.to_string(), "").0, 202);
    assert_eq!(
        stream.next_message()["result"]["structuredContent"]["value"],
        7
    );

    // Bad input: each gets a status that says what is wrong, and the stream keeps working.
    let (status, text) = post(addr, &endpoint, "{not json", "");
    assert_eq!(status, 400);
    assert!(text.contains("-32700"), "{text}");
    let (status, text) = post(addr, &endpoint, r#"{"hello": 1}"#, "");
    assert_eq!(status, 400);
    assert!(text.contains("-32600"), "{text}");
    let (status, text) = post(addr, "/messages", "{}", "");
    assert_eq!(status, 400);
    assert!(text.contains("sessionId"), "{text}");
    let (status, text) = post(addr, "/messages?sessionId=nope", &get.to_string(), "");
    assert_eq!(status, 404);
    assert!(text.contains("/sse"), "{text}");
    let (status, _) = post(addr, &endpoint, &"x".repeat(10_000), "");
    assert_eq!(status, 413);
    let (status, text) = post(
        addr,
        &endpoint,
        &get.to_string(),
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(status, 403);
    assert!(text.contains("allowed_origins"), "{text}");
    let get4 = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "kv_get", "arguments": {"key": "k"}}});
    assert_eq!(post(addr, &endpoint, &get4.to_string(), "").0, 202);
    assert_eq!(stream.next_message()["id"], 4);

    // When the stream closes, its endpoint is gone.
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = post(addr, &endpoint, &get.to_string(), "");
        if status == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived its stream"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_post_to_the_legacy_endpoint_is_told_where_streamable_http_is() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--browser", "off"]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let (status, text) = raw(
        &server.addr,
        &format!(
            "POST /sse HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        ),
    );
    assert_eq!(status, 405, "{text}");
    assert!(text.contains("POST to /mcp"), "{text}");
}
