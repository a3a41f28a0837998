//! Generated requests against the real binary's MCP endpoint: JSON-RPC messages of every method
//! with arguments, IDs and headers drawn at random (valid, wrong-typed, huge, nested, garbage),
//! some mangled byte by byte. Each gets an HTTP answer within a few seconds, none a server error,
//! keel never panics, and afterwards it serves a normal session as before.
//!
//! `KEEL_FUZZ_ITERATIONS` (200 by default, as in CI) and `KEEL_FUZZ_SEED` as for
//! `keel-objects/tests/guarded_sql_fuzz.rs`; the long run:
//! `KEEL_FUZZ_ITERATIONS=20000 cargo test -p keel --test fuzz_requests`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use keel_objects::fuzzing::{FuzzRng, fuzz_run};
use serde_json::{Value, json};

mod common;

use common::mcp::Session;

const METHODS: &[&str] = &[
    "initialize",
    "notifications/initialized",
    "notifications/cancelled",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "ping",
    "tasks/get",
    "tasks/cancel",
    "tasks/update",
    "tasks/list",
    "server/discover",
    "subscriptions/listen",
    "sampling/createMessage",
    "x/unknown",
    "",
];
const TOOLS: &[&str] = &[
    "kv_get",
    "kv_put",
    "kv_list",
    "kv_delete",
    "sql_exec",
    "nope",
    "",
];
const KEYS: &[&str] = &[
    "key", "value", "object", "query", "params", "prefix", "start", "limit", "handle", "x",
];

fn value(rng: &mut FuzzRng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 7 } else { 10 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next_u64() as i64),
        3 => json!(
            f64::from_bits(rng.next_u64())
                .clamp(-1e300, 1e300)
                .max(-1e300)
        ),
        4 => json!(rng.pick(&[
            "",
            "x",
            "_keel_kv",
            "ATTACH DATABASE '/tmp/x' AS y",
            "../../etc/passwd",
            "\u{0}",
            "🙂",
            "SELECT 1"
        ])),
        5 => json!("k".repeat(rng.below(5000))),
        6 => json!(rng.below(1000)),
        7 => Value::Array((0..rng.below(5)).map(|_| value(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| (rng.pick(KEYS).to_string(), value(rng, depth + 1)))
                .collect(),
        ),
    }
}

fn message(rng: &mut FuzzRng) -> Value {
    let method = rng.pick(METHODS);
    let mut params = match rng.below(4) {
        0 if rng.below(2) == 0 => value(rng, 0),
        _ => json!({
            "name": rng.pick(TOOLS),
            "arguments": if rng.below(5) == 0 { value(rng, 1) } else {
                Value::Object((0..rng.below(4)).map(|_| (rng.pick(KEYS).to_string(), value(rng, 1))).collect())
            },
            "protocolVersion": rng.pick(&["2025-11-25", "2026-07-28", "1999-01-01", ""]),
            "capabilities": value(rng, 2),
            "clientInfo": value(rng, 2),
            "taskId": rng.pick(&["", "00", "zz", "0123456789abcdef0123456789abcdef"]),
            "uri": rng.pick(&["", "file:///etc/passwd", "keel://x", "http://169.254.169.254/"]),
        }),
    };
    if rng.below(3) == 0
        && let Some(p) = params.as_object_mut()
    {
        p.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": rng.pick(&["2026-07-28", "2025-11-25", "x"]),
                "io.modelcontextprotocol/clientInfo": value(rng, 2),
                "io.modelcontextprotocol/clientCapabilities": value(rng, 2),
            }),
        );
    }
    let jsonrpc = if rng.below(10) == 0 {
        rng.pick(&["1.0", ""])
    } else {
        "2.0"
    };
    let mut m = json!({"jsonrpc": jsonrpc, "method": method, "params": params});
    if rng.below(5) != 0 {
        m["id"] = if rng.below(4) == 0 {
            value(rng, 3)
        } else {
            json!(rng.below(1 << 20))
        };
    }
    m
}

/// A request body, and the method and tool name of the message in it (for the headers the
/// stateless protocol wants repeated).
fn body(rng: &mut FuzzRng) -> (String, String, String) {
    let one = message(rng);
    let method = one["method"].as_str().unwrap_or_default().to_string();
    let name = one["params"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut text = match rng.below(12) {
        0 => Value::Array((0..1 + rng.below(4)).map(|_| message(rng)).collect()).to_string(),
        1 => "[".repeat(10_000),
        2 => format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        3 => String::new(),
        _ => one.to_string(),
    };
    if rng.below(4) == 0 && !text.is_empty() {
        for _ in 0..1 + rng.below(4) {
            if text.is_empty() {
                break;
            }
            let at = rng.below(text.len());
            let at = (0..=at)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            match rng.below(3) {
                0 => text.truncate(at),
                1 => text.insert(at, ['"', '{', ']', '\\', ',', '\0'][rng.below(6)]),
                _ => {
                    if at < text.len() {
                        text.remove(at);
                    } else {
                        text.pop();
                    }
                }
            }
        }
    }
    (text, method, name)
}

/// Sends one request; the status, once the answer's head arrived (a stream may go on after it).
fn send(addr: &str, head: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .ok()?;
    stream
        .write_all(format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
}

#[test]
fn generated_requests_get_answers_and_the_server_keeps_serving() {
    let (mut rng, iterations) = fuzz_run(200);

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("keel.log");
    let mut child = common::keel()
        .current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--conformance",
            "--tool-timeout",
            "3s",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = common::ready_line(&mut child, "keel listening on http://");
    let server = common::Server { child, addr };
    let valid = Session::open(&server.addr);

    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..iterations {
        let (body, method, tool) = body(&mut rng);
        let mut head = format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            server.addr
        );
        // A third of the requests carry the headers of a valid session, a third those of a valid
        // stateless request, so that they get past the transport to the handlers.
        let mode = rng.below(3);
        if mode < 2 {
            head.push_str(
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n",
            );
        }
        if mode == 0 {
            head.push_str(&format!(
                "MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {}\r\n",
                valid.id
            ));
        } else if mode == 1 && method.is_ascii() && tool.is_ascii() {
            head.push_str(&format!(
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\n"
            ));
            if !tool.is_empty() {
                head.push_str(&format!("Mcp-Name: {tool}\r\n"));
            }
        }
        for (name, values) in [
            (
                "Content-Type",
                &[
                    "application/json",
                    "text/plain",
                    "application/json; charset=utf-8",
                ][..],
            ),
            (
                "Accept",
                &[
                    "application/json, text/event-stream",
                    "text/event-stream",
                    "*/*",
                    "application/json",
                ][..],
            ),
            (
                "MCP-Protocol-Version",
                &["2025-11-25", "2026-07-28", "2099-01-01", "x"][..],
            ),
            (
                "Mcp-Session-Id",
                &[
                    valid.id.as_str(),
                    "00000000000000000000000000000000",
                    "../x",
                    "💥",
                ][..],
            ),
            ("Mcp-Method", &["tools/call", "ping", "x"][..]),
            ("Mcp-Name", &["kv_get", "sql_exec", ""][..]),
            ("Mcp-Param-Object", &["shared", "", "a\u{7f}"][..]),
        ] {
            if mode == 2 && rng.below(2) == 0 {
                let value = rng.pick(values);
                if value.is_ascii() && !value.contains(['\r', '\n']) {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
            }
        }
        let status = send(&server.addr, &head, &body);
        let shown: String = body.chars().take(300).collect();
        let status = status.unwrap_or_else(|| panic!("#{i}: no answer to {head}{shown}"));
        assert!(
            status < 500 || status == 503,
            "#{i}: {status} for {head}{shown}"
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("statuses: {statuses:?}");

    // Still serving, a normal session included, and nothing panicked.
    let mut after = Session::open(&server.addr);
    let put = after.call("kv_put", json!({"key": "k", "value": 1}));
    assert_eq!(put["result"]["structuredContent"]["stored"], true, "{put}");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("panicked"), "keel panicked:\n{log}");
}
