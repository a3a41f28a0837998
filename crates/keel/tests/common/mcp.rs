//! An MCP client over raw HTTP, for tests that look at exactly what goes over the wire.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

/// One POST to /mcp; returns the status, the session header, and the JSON-RPC messages (from a JSON
/// body or from SSE `data:` lines).
pub fn post(
    addr: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Option<String>, Vec<Value>) {
    let body = body.to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let session = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("mcp-session-id: ")
                .or_else(|| l.strip_prefix("Mcp-Session-Id: "))
        })
        .map(|s| s.trim().to_string());
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let messages = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").or(Some(l)))
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(|v| v.get("jsonrpc").is_some())
        .collect();
    (status, session, messages)
}

pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "keel-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A stateless (2026-07-28) tools/call.
pub fn call_stateless(addr: &str, id: u64, tool: &str, mut args: Value) -> Value {
    let object = args
        .get("object")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut headers = vec![
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", tool),
    ];
    if let Some(o) = object.as_deref() {
        headers.push(("Mcp-Param-Object", o));
    }
    args.as_object_mut().expect("object args");
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": args, "_meta": meta()}});
    let (status, _, messages) = post(addr, &headers, &body);
    assert_eq!(status, 200, "{messages:?}");
    messages
        .into_iter()
        .find(|m| m["id"] == id)
        .expect("a response")
}

/// A handshake session (2025-11-25).
pub struct Session<'a> {
    pub addr: &'a str,
    pub id: String,
    pub next: u64,
}

impl<'a> Session<'a> {
    pub fn open(addr: &'a str) -> Session<'a> {
        Session::open_with(addr, json!({}))
    }

    /// A session whose client declares `capabilities`.
    pub fn open_with(addr: &'a str, capabilities: Value) -> Session<'a> {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": "keel-test", "version": "1"}}});
        let (status, session, messages) = post(addr, &[], &init);
        assert_eq!(status, 200);
        assert_eq!(messages[0]["result"]["serverInfo"]["name"], "keel");
        let id = session.expect("a session id");
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, _) = post(
            addr,
            &[
                ("Mcp-Session-Id", &id),
                ("MCP-Protocol-Version", "2025-11-25"),
            ],
            &note,
        );
        assert_eq!(status, 202);
        Session { addr, id, next: 1 }
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let headers = [
            ("Mcp-Session-Id", self.id.as_str()),
            ("MCP-Protocol-Version", "2025-11-25"),
        ];
        let (status, _, messages) = post(self.addr, &headers, &body);
        assert_eq!(status, 200, "{messages:?}");
        messages
            .into_iter()
            .find(|m| m["id"] == id)
            .expect("a response")
    }

    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": args}))
    }
}
