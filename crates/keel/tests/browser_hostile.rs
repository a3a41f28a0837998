//! Hostile pages against the real Chromium: what a page does may cost its own browsing session,
//! never keel's memory, other addresses, or other users' service.

use std::net::UdpSocket;
use std::time::Duration;

use serde_json::json;

mod common;

use common::browser::{Demo, call, handle_of, open, serve_with_browser};

/// The port of the demo site, for an allow entry that names it alone.
fn demo_host_port(demo: &Demo) -> String {
    demo.url.trim_start_matches("http://").to_string()
}

#[test]
fn webrtc_sends_nothing_past_the_url_policy() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some(&demo_host_port(&demo)));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(3000)))
        .unwrap();
    let port = udp.local_addr().unwrap().port();

    let (page, error) = open(&server, &format!("{}/", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    // STUN and TURN servers on loopback, and the connection checks a remote description asks for:
    // each would be a UDP datagram with page-chosen bytes to an address the policy refuses.
    let function = format!(
        r#"async () => {{
            const pc = new RTCPeerConnection({{iceServers: [
                {{urls: 'stun:127.0.0.1:{port}'}},
                {{urls: 'turn:127.0.0.1:{port}', username: 'u', credential: 'p'}}]}});
            pc.createDataChannel('x');
            await pc.setLocalDescription(await pc.createOffer());
            await new Promise(r => setTimeout(r, 1500));
            return pc.iceGatheringState + ' ' + (pc.localDescription.sdp.match(/a=candidate/g) || []).length;
        }}"#
    );
    let (result, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": function}),
    );
    assert!(!error, "{result}");
    let mut buf = [0u8; 2048];
    let got = udp.recv_from(&mut buf);
    assert!(
        got.is_err(),
        "a page sent UDP to 127.0.0.1:{port} ({result}): {:?}",
        got.map(|(n, from)| (n, from))
    );
}
