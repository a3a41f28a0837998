//! Session cold start and wake through `/mcp` of a release `keel serve`:
//! `cargo run --release -p keel-bench --bin mcp_sessions [-- --quick]` (builds `keel` first:
//! `cargo build --release -p keel`).
//!
//! - new session: `initialize` + `notifications/initialized` + the first `tools/call` (a durable
//!   `kv_put` into the new session's object), one session after another: p50/p99;
//! - waking a session after a restart of the server: the first `tools/call` on a session created
//!   before the restart (the handshake is restored from the session's object, which wakes): p50/p99.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keel_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.with_file_name("keel")
}

fn start(data: &Path) -> Server {
    let mut child = Command::new(keel_binary())
        .args(["--data"])
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("keel starts (build it first: cargo build --release -p keel)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let addr = line
        .trim()
        .strip_prefix("keel listening on http://")
        .expect("address")
        .to_string();
    Server(child, addr)
}

/// One keep-alive connection speaking just enough HTTP/1.1 for MCP POSTs.
struct Conn(BufReader<TcpStream>, String);

impl Conn {
    fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn(BufReader::new(stream), addr.to_string())
    }

    /// POSTs `body`; returns the session header (if any) and the body.
    fn post(&mut self, session: Option<&str>, body: &str) -> (Option<String>, String) {
        let mut req = format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n",
            self.1,
            body.len()
        );
        if let Some(s) = session {
            req.push_str(&format!("Mcp-Session-Id: {s}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.0.get_mut().write_all(req.as_bytes()).expect("send");
        let (mut session_id, mut length, mut chunked) = (None, None, false);
        let mut status = String::new();
        self.0.read_line(&mut status).expect("status");
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("mcp-session-id: ") {
                session_id = Some(v.to_string());
            } else if let Some(v) = lower.strip_prefix("content-length: ") {
                length = v.parse::<usize>().ok();
            } else if lower == "transfer-encoding: chunked" {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.0.read_line(&mut size).expect("chunk size");
                let n = usize::from_str_radix(size.trim(), 16).expect("hex size");
                let mut chunk = vec![0; n + 2];
                self.0.read_exact(&mut chunk).expect("chunk");
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.0.read_exact(&mut body).expect("body");
        }
        assert!(
            status.contains(" 200 ") || status.contains(" 202 "),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        (session_id, String::from_utf8_lossy(&body).into_owned())
    }
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const PUT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv_put","arguments":{"key":"k","value":1}}}"#;
const GET: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"kv_get","arguments":{"key":"k"}}}"#;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at =
        |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<56} n={:<5} p50={:>7.3} ms  p99={:>7.3} ms",
        samples.len(),
        at(0.5),
        at(0.99)
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 50 } else { 500 };
    let dir = tempfile::tempdir_in(".").expect("temp dir");
    let data = dir.path().join("data");
    let mut sessions = Vec::with_capacity(n);
    {
        let server = start(&data);
        let mut conn = Conn::open(&server.1);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let (session, _) = conn.post(None, INIT);
            let session = session.expect("a session id");
            conn.post(Some(&session), INITIALIZED);
            let (_, body) = conn.post(Some(&session), PUT);
            samples.push(t.elapsed());
            assert!(body.contains(r#""stored":true"#), "{body}");
            sessions.push(session);
        }
        report(
            "new session: initialize -> first durable tool result",
            samples,
        );
    }
    let server = start(&data);
    let mut conn = Conn::open(&server.1);
    let mut samples = Vec::with_capacity(n);
    for session in &sessions {
        let t = Instant::now();
        let (_, body) = conn.post(Some(session), GET);
        samples.push(t.elapsed());
        assert!(body.contains(r#""value":1"#), "{body}");
    }
    report(
        "session after a restart: first tool result (restore+wake)",
        samples,
    );
}
