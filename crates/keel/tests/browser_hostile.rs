//! Hostile pages against the real Chromium: what a page does may cost its own browsing session,
//! never keel's memory, other addresses, or other users' service.

mod common;

use common::browser::{Demo, assert_no_udp_from_the_page, handle_of, open, serve_with_browser};

/// The port of the demo site, for an allow entry that names it alone.
fn demo_host_port(demo: &Demo) -> String {
    demo.url.trim_start_matches("http://").to_string()
}

#[test]
fn webrtc_sends_nothing_past_the_url_policy() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some(&demo_host_port(&demo)));
    let (page, error) = open(&server, &format!("{}/", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    assert_no_udp_from_the_page(&server, &handle);
}
