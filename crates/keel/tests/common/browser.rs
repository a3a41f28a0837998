//! The browser tests' client: `keel demo booking` and stateless calls of the browser tools.

use std::process::{Child, Stdio};

use serde_json::{Value, json};

use super::{Server, http_get, keel, raw, ready_line};

/// `keel demo booking` on an ephemeral port; killed when dropped.
pub struct Demo {
    pub child: Child,
    pub url: String,
}

impl Demo {
    pub fn start() -> Demo {
        let mut child = keel()
            .args(["demo", "booking", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the demo starts");
        let url = ready_line(&mut child, "booking demo on ");
        Demo { child, url }
    }

    pub fn get(&self, path: &str) -> String {
        http_get(self.url.trim_start_matches("http://"), path).1
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stateless (2026-07-28) tools/call; the text of the result and whether it is an error.
pub fn call(server: &Server, tool: &str, args: Value) -> (String, bool) {
    let result = call_with(server, tool, args, json!({}), None);
    assert!(result.is_object(), "no result");
    let text = result["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    (text, result["isError"] == json!(true))
}

/// `browser_navigate` in a new browsing session (2026-07-28: the result carries its handle).
pub fn open(server: &Server, url: &str) -> (String, bool) {
    call(server, "browser_navigate", json!({"url": url}))
}

/// `browser_navigate` in the browsing session `handle`.
pub fn navigate(server: &Server, handle: &str, url: &str) -> (String, bool) {
    call(
        server,
        "browser_navigate",
        json!({"handle": handle, "url": url}),
    )
}

pub fn handle_of(text: &str) -> String {
    let start = text.find("handle: ").expect("a handle") + 8;
    text[start..start + 32].to_string()
}

pub fn serve_with_browser(dir: &std::path::Path, allow: Option<&str>) -> Server {
    std::fs::write(
        dir.join("keel.toml"),
        "[browser]\nnavigation_timeout = \"5s\"\naction_timeout = \"3s\"\n",
    )
    .unwrap();
    let mut args = vec!["--tools", "all", "--browser", "on"];
    if let Some(allow) = allow {
        args.extend(["--browser-allow", allow]);
    }
    Server::start(dir, &args)
}

/// A stateless tools/call with the client's capabilities and input responses; the whole result.
pub fn call_with(
    server: &Server,
    tool: &str,
    args: Value,
    capabilities: Value,
    responses: Option<Value>,
) -> Value {
    let mut params = json!({"name": tool, "arguments": args, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "keel-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities}});
    if let Some(responses) = responses {
        params["inputResponses"] = responses;
    }
    let body =
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}).to_string();
    let mut headers = format!(
        "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: {tool}\r\n"
    );
    if let Some(handle) = args.get("handle").and_then(Value::as_str) {
        headers.push_str(&format!("Mcp-Param-Handle: {handle}\r\n"));
    }
    if let Some(object) = args.get("object").and_then(Value::as_str) {
        headers.push_str(&format!("Mcp-Param-Object: {object}\r\n"));
    }
    let (status, text) = raw(
        &server.addr,
        &format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        ),
    );
    let json_body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let message: Value = serde_json::from_str(json_body.trim()).unwrap_or_else(|_| {
        json_body
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .find_map(|l| serde_json::from_str(l.trim()).ok())
            .expect("a JSON answer")
    });
    assert_eq!(status, 200, "{text}");
    assert!(message["result"].is_object(), "no result: {message}");
    message["result"].clone()
}

/// Has the page in `handle` try WebRTC against a UDP listener on loopback (STUN and TURN servers
/// there, and the connection checks an offer starts) and asserts that no datagram arrives.
pub fn assert_no_udp_from_the_page(server: &Server, handle: &str) {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_millis(3000)))
        .unwrap();
    let port = udp.local_addr().unwrap().port();
    let function = format!(
        r#"async () => {{
            if (typeof RTCPeerConnection === 'undefined') return 'no RTCPeerConnection';
            const pc = new RTCPeerConnection({{iceServers: [
                {{urls: 'stun:127.0.0.1:{port}'}},
                {{urls: 'turn:127.0.0.1:{port}', username: 'u', credential: 'p'}}]}});
            pc.createDataChannel('x');
            await pc.setLocalDescription(await pc.createOffer());
            await new Promise(r => setTimeout(r, 1500));
            return pc.iceGatheringState;
        }}"#
    );
    let (result, error) = call(
        server,
        "browser_evaluate",
        json!({"handle": handle, "function": function}),
    );
    assert!(!error, "{result}");
    let mut buf = [0u8; 2048];
    let got = udp.recv_from(&mut buf);
    assert!(
        got.is_err(),
        "a page sent UDP to 127.0.0.1:{port} ({result}): {got:?}"
    );
}
