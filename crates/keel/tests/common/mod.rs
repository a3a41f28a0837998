//! What the end-to-end tests share: the real `keel` binary, started on an ephemeral port.

#![allow(dead_code)] // Each test file uses a different part.

pub mod browser;
pub mod mcp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What follows `prefix` on the first line `child` prints (its ready line, with its address).
pub fn ready_line(child: &mut Child, prefix: &str) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the ready line");
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"))
        .to_string()
}

/// A GET to `addr`; the status and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let (status, text) = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The `keel` command, without settings leaking in from the environment.
pub fn keel() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.env_remove("KEEL_LISTEN")
        .env_remove("KEEL_DATA")
        .env_remove("KEEL_CONFIG");
    cmd
}

/// A running `keel serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// `keel serve --listen 127.0.0.1:0 EXTRA…` in `dir`; returns once it printed its address.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(dir, extra, &[])
    }

    /// `start`, with these environment variables set for the server.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = keel()
            .current_dir(dir)
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(match std::env::var_os("KEEL_TEST_STDERR") {
                // For debugging a test: keel's log goes to that file.
                Some(path) => std::fs::File::create(path)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
                None => Stdio::null(),
            })
            .spawn()
            .expect("keel starts");
        let addr = ready_line(&mut child, "keel listening on http://");
        Server { child, addr }
    }

    /// A GET; the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }

    /// Sends SIGTERM and waits (with a deadline) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "keel did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a raw HTTP request on a new connection; the status and the whole response text.
pub fn raw(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Runs one `keel stdio` process in `dir` with `env`: initializes, then sends each `tools/call`
/// (its params) after the previous answer arrived; the answers.
pub fn stdio_session(
    dir: &Path,
    name: &str,
    env: &[(&str, &str)],
    calls: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let mut child = keel()
        .current_dir(dir)
        .envs(env.iter().copied())
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

/// A memory figure of process `pid` from /proc, in bytes: `VmRSS` (resident now) or `VmHWM` (its
/// peak).
pub fn memory_of(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        * 1024
}
