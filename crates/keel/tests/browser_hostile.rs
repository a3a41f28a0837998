//! Hostile pages against the real Chromium: what a page does may cost its own browsing session,
//! never keel's memory, other addresses, or other users' service.

mod common;

use serde_json::json;

use common::browser::{Demo, assert_no_udp_from_the_page, call, handle_of, open};

/// `keel serve` with the browser, allowed to reach the demo's port alone, with `browser` settings
/// added to the test timeouts.
fn serve_for(dir: &std::path::Path, demo: &Demo, browser: &str) -> common::Server {
    std::fs::write(
        dir.join("keel.toml"),
        format!("[browser]\nnavigation_timeout = \"5s\"\naction_timeout = \"3s\"\n{browser}"),
    )
    .unwrap();
    common::Server::start(
        dir,
        &[
            "--tools",
            "all",
            "--browser",
            "on",
            "--browser-allow",
            &demo_host_port(demo),
        ],
    )
}

/// A new browsing session on `url`; its handle.
fn open_session(server: &common::Server, url: &str) -> String {
    let (page, error) = open(server, url);
    assert!(!error, "{page}");
    handle_of(&page)
}

/// The port of the demo site, for an allow entry that names it alone.
fn demo_host_port(demo: &Demo) -> String {
    demo.url.trim_start_matches("http://").to_string()
}

#[test]
fn webrtc_sends_nothing_past_the_url_policy() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_for(dir.path(), &demo, "");
    let handle = open_session(&server, &format!("{}/", demo.url));
    assert_no_udp_from_the_page(&server, &handle);
}

#[test]
fn a_page_that_floods_logs_labels_and_tabs_costs_keel_little() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_for(dir.path(), &demo, "");
    let handle = open_session(&server, &format!("{}/", demo.url));
    let before = common::memory_of(server.child.id(), "VmRSS");

    // 20 console lines of 2 MB each: kept cut, not whole.
    let (logged, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { const s = 'x'.repeat(2e6); for (let i = 0; i < 20; i++) console.log(i + s); return 'logged'; }"}),
    );
    assert!(!error, "{logged}");
    let (console, error) = call(
        &server,
        "browser_console_messages",
        json!({"handle": handle}),
    );
    assert!(
        !error && console.contains("bytes more)"),
        "{}",
        &console[..console.len().min(500)]
    );
    assert!(console.len() < 200_000, "{} bytes", console.len());

    // 100 buttons with 1 MB labels: names are cut in the page (the tree keel reads and caches
    // stays small) and again in the snapshot.
    let (labelled, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { const s = 'L'.repeat(1e6); for (let i = 0; i < 100; i++) { const b = document.createElement('button'); b.setAttribute('aria-label', i + s); document.body.append(b); } return 'labelled'; }"}),
    );
    assert!(!error, "{labelled}");
    let (snapshot, error) = call(&server, "browser_snapshot", json!({"handle": handle}));
    let first = snapshot
        .lines()
        .find(|l| l.contains("button \"0L"))
        .unwrap_or_default();
    assert!(!error && first.ends_with("…\" [ref=e4]"), "{first}");
    assert!(
        first.len() < 1000 && snapshot.len() < 100_000,
        "{} bytes",
        snapshot.len()
    );

    let grew = common::memory_of(server.child.id(), "VmRSS").saturating_sub(before);
    assert!(grew < 150 << 20, "keel holds {} MiB more", grew >> 20);

    // A whole page's HTML is cut at browser.max_read_bytes, saying how to keep it whole.
    let (page, error) = call(
        &server,
        "page_content",
        json!({"handle": handle, "url": format!("{}/lab/big?n=30000", demo.url)}),
    );
    assert!(
        !error && page.contains("pass `filename`"),
        "{}",
        &page[page.len().saturating_sub(300)..]
    );
    assert!(page.len() < 1_100_000, "{} bytes", page.len());
    let links = common::browser::call_with(
        &server,
        "page_links",
        json!({"handle": handle, "url": format!("{}/lab/big?n=30000", demo.url)}),
        json!({}),
        None,
    );
    let answer = &links["structuredContent"];
    assert!(
        answer["linksLeftOut"].as_u64() > Some(0),
        "{}",
        &answer.to_string()[..300]
    );
    assert!(answer.to_string().len() < 1_100_000);

    // Tabs a page opens on its own stop at browser.max_tabs (8).
    let (opened, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { for (let i = 0; i < 20; i++) window.open('/?tab=' + i); return 'opened'; }"}),
    );
    assert!(!error, "{opened}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut events = opened;
    while !events.contains("browser.max_tabs") {
        assert!(
            std::time::Instant::now() < deadline,
            "no refusal reported: {events}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        events = call(
            &server,
            "browser_tabs",
            json!({"handle": handle, "action": "list"}),
        )
        .0;
    }
    let (tabs, _) = call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "list"}),
    );
    let listed = tabs
        .lines()
        .filter(|l| l.contains("/?tab=") || l.contains("Riverside") || l.contains("about:blank"))
        .count();
    assert!(listed <= 8, "{tabs}");
}

#[test]
fn failed_calls_and_abandoned_sessions_do_not_lock_others_out() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_for(dir.path(), &demo, "max_contexts = 2\n");
    // A stateless navigate that fails mints a session the caller never gets a handle for: it is
    // closed with the failure, so five of them leave the cap free.
    for _ in 0..5 {
        let (text, error) = open(&server, "http://no-such-host.invalid/");
        assert!(error && !text.contains("handle: "), "{text}");
    }
    // Sessions opened and walked away from: at the cap, the one idle longest sleeps (its state
    // saved) instead of the next being refused.
    let (first, error) = open(&server, &format!("{}/park/riverside", demo.url));
    assert!(!error, "{first}");
    let first = handle_of(&first);
    for _ in 0..3 {
        let (page, error) = open(&server, &format!("{}/", demo.url));
        assert!(!error, "{page}");
    }
    let (again, error) = call(&server, "browser_snapshot", json!({"handle": first}));
    assert!(!error && again.contains("had slept"), "{again}");
    assert!(again.contains("Riverside"), "{again}");
}

#[test]
fn an_endless_download_is_cancelled_at_the_limit() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_for(dir.path(), &demo, "max_download_bytes = 5000000\n");
    let handle = open_session(&server, &format!("{}/", demo.url));
    let (started, _) = call(
        &server,
        "browser_navigate",
        json!({"handle": handle, "url": format!("{}/lab/endless", demo.url)}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut events = started;
    while !events.contains("was cancelled") {
        assert!(
            std::time::Instant::now() < deadline,
            "no cancel reported: {events}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        events = call(&server, "browser_snapshot", json!({"handle": handle})).0;
    }
    assert!(events.contains("browser.max_download_bytes"), "{events}");
    // Nothing of it stays on the disk (the scratch directories are under the system's temp).
    let (downloads, _) = call(&server, "browser_downloads", json!({"handle": handle}));
    assert!(!downloads.contains("endless.bin"), "{downloads}");
}

#[test]
fn loopback_written_every_way_is_refused() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    // The demo's own port is allowed: every other loopback port, however written, is not.
    let server = serve_for(dir.path(), &demo, "");
    let port: u16 = demo.url.rsplit(':').next().unwrap().parse().unwrap();
    let other = port.wrapping_add(1).max(1024);
    for host in [
        "127.0.0.1".to_string(),
        "[::ffff:127.0.0.1]".into(),
        "[::1]".into(),
        "2130706433".into(),
        "0x7f.1".into(),
        "0177.0.0.1".into(),
        "127.1".into(),
        "localhost".into(),
        "localhost.".into(),
        "foo.localhost".into(),
        "[::127.0.0.1]".into(),
        "[64:ff9b::7f00:1]".into(),
        "169.254.169.254".into(),
        "0.0.0.0".into(),
    ] {
        let url = format!("http://{host}:{other}/");
        let (text, error) = open(&server, &url);
        assert!(
            error
                && (text.contains("refused by the URL policy") || text.contains("cannot resolve")),
            "{url}: {text}"
        );
        assert!(!text.contains("handle: "), "{url} left a session: {text}");
    }
    // A page on the allowed port that redirects, frames or fetches another loopback port is
    // refused there too.
    let (page, error) = open(&server, &format!("{}/lab/leak", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    let (fetched, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": format!("() => fetch('http://127.0.0.1:{other}/').then(() => 'reached', e => 'refused: ' + e)")}),
    );
    assert!(!error && fetched.contains("refused"), "{fetched}");
}

#[test]
fn one_client_keeps_to_its_share_of_browsing_sessions() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_for(dir.path(), &demo, "max_contexts_per_client = 2\n");
    let mut handles = Vec::new();
    for _ in 0..3 {
        handles.push(open_session(
            &server,
            &format!("{}/park/riverside", demo.url),
        ));
    }
    // The third session made this client's first one sleep (the server-wide cap, 64, is far):
    // it wakes with its page; the newest never slept.
    let (first, error) = call(&server, "browser_snapshot", json!({"handle": handles[0]}));
    assert!(
        !error && first.contains("had slept") && first.contains("Riverside"),
        "{first}"
    );
    let (second, error) = call(&server, "browser_snapshot", json!({"handle": handles[2]}));
    assert!(!error && !second.contains("had slept"), "{second}");
}
