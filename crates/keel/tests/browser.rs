//! The browser tools through `/mcp` of the real binary, with a real Chromium (Debian's `chromium`,
//! which `scripts/test` installs), against `keel demo booking` on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::Server;
use common::browser::{Demo, call, call_with, handle_of, navigate, open, serve_with_browser};

/// The ref on the line of the snapshot that contains `needle`.
fn ref_of(snapshot: &str, needle: &str) -> String {
    let line = snapshot
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{snapshot}"));
    let start = line.find("[ref=").expect("a ref") + 5;
    line[start..].split(']').next().unwrap().to_string()
}

/// `browser_click` on `target` in the browsing session `handle`.
fn click(server: &Server, handle: &str, target: &str) -> (String, bool) {
    call(
        server,
        "browser_click",
        json!({"handle": handle, "target": target}),
    )
}

/// Opens `url` in the session and clicks the element on the snapshot line containing `needle`;
/// the click's result and whether it is an error.
fn open_and_click(server: &Server, handle: &str, url: &str, needle: &str) -> (String, bool) {
    let (page, _) = navigate(server, handle, url);
    click(server, handle, &ref_of(&page, needle))
}

/// Opens `url` (a page with the court-6 widget in a frame), clicks "Reserve court 6" and waits for
/// the widget to say so; the page as first read.
fn reserve_court_6(server: &Server, handle: &str, url: &str) -> String {
    let (page, error) = navigate(server, handle, url);
    assert!(!error, "{page}");
    let page = until_shown(server, handle, page, "\"Reserve court 6\"");
    let (clicked, error) = call(
        server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "\"Reserve court 6\"")}),
    );
    assert!(!error, "{clicked}");
    until_shown(server, handle, clicked, "button \"Reserved\"");
    page
}

/// `page`, or the session's later snapshots until one contains `needle` (a page that changes on
/// its own, or a frame drawn a moment later); fails after 5 s.
fn until_shown(server: &Server, handle: &str, page: String, needle: &str) -> String {
    until_shown_by(server, "browser_snapshot", handle, page, needle)
}

/// Like [`until_shown`], calling `tool` (with only the handle) to look again.
fn until_shown_by(
    server: &Server,
    tool: &str,
    handle: &str,
    first: String,
    needle: &str,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut text = first;
    while !text.contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} in:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        text = call(server, tool, json!({"handle": handle})).0;
    }
    text
}

#[test]
fn an_agent_books_a_court_reading_the_page_and_clicking() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));

    let (page, error) = open(&server, &format!("{}/park/riverside", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    // Each Book button says which court and hour it is.
    let book = ref_of(&page, "button \"Book\" [ref=");
    assert!(page.contains("[Court 3 × 17:00]"), "{page}");
    let book = if page.contains("[Court 3 × 17:00]") {
        ref_of(&page, "[Court 3 × 17:00]")
    } else {
        book
    };

    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": book, "element": "Book court 3 at 17:00"}),
    );
    assert!(!error, "{page}");
    assert!(
        page.contains("The page navigated") && page.contains("Court 3, 17:00"),
        "{page}"
    );
    let name = ref_of(&page, "textbox \"Your name\"");
    let (typed, error) = call(
        &server,
        "browser_type",
        json!({"handle": handle, "ref": name, "text": "Alice Marble"}),
    );
    assert!(!error, "{typed}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    let confirm = ref_of(&page, "button \"Confirm booking\"");
    // Refs stay the same across snapshots of an unchanged page.
    let (again, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert_eq!(ref_of(&again, "button \"Confirm booking\""), confirm);
    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": confirm}),
    );
    assert!(!error, "{page}");
    assert!(
        page.contains("Booking confirmed") && page.contains("booked for Alice Marble"),
        "{page}"
    );

    // The app's own records have it.
    let records: Value = serde_json::from_str(&demo.get("/api/bookings")).unwrap();
    assert_eq!(
        records["bookings"],
        json!([{"id": 1, "park": "riverside", "court": 3, "hour": "17:00", "name": "Alice Marble"}])
    );

    // A ref from the earlier page is recognisably stale.
    let (stale, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": confirm}),
    );
    assert!(
        error && stale.contains("stale") && stale.contains("snapshot"),
        "{stale}"
    );
    // Without a session or a handle only browser_navigate starts a browsing session.
    let (needs, error) = call(&server, "browser_snapshot", json!({}));
    assert!(error && needs.contains("pass the `handle`"), "{needs}");
    // A made-up handle is refused with what to do.
    let (unknown, error) = call(
        &server,
        "browser_snapshot",
        json!({"handle": "0123456789abcdef0123456789abcdef"}),
    );
    assert!(error && unknown.contains("unknown handle"), "{unknown}");
}

#[test]
fn the_url_policy_refuses_private_addresses_and_other_schemes() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), None);
    for url in [
        format!("{}/", demo.url),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "file:///etc/passwd".to_string(),
        "chrome://settings".to_string(),
    ] {
        let (text, error) = open(&server, &url);
        assert!(
            error && text.contains("refused by the URL policy"),
            "{url}: {text}"
        );
    }
    drop(server);

    // Allowed to reach the demo, but not what its page asks for on other private addresses.
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    assert_leak_refused(&server, &demo, None);
}

/// Opens the lab page that asks for an image on 10.255.255.1 and a fetch of 169.254.169.254 (in
/// the session `handle`, or a new one) and checks that both were refused and reported.
fn assert_leak_refused(server: &Server, demo: &Demo, handle: Option<&str>) -> String {
    let url = format!("{}/lab/leak", demo.url);
    let (page, error) = match handle {
        Some(handle) => navigate(server, handle, &url),
        None => open(server, &url),
    };
    assert!(!error, "{page}");
    let handle = handle.map_or_else(|| handle_of(&page), str::to_string);
    let (requests, _) = call(
        server,
        "browser_network_requests",
        json!({"handle": handle}),
    );
    assert!(requests.contains("Refused by the URL policy"), "{requests}");
    assert!(
        requests.contains("10.255.255.1") && requests.contains("169.254.169.254"),
        "{requests}"
    );
    handle
}

#[test]
fn dialogs_overlays_iframes_and_shadow_dom() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1,localhost"));

    // A dialog does not hang the click; the result says how to answer it.
    let (page, _) = open(&server, &format!("{}/lab/dialog", demo.url));
    let handle = handle_of(&page);
    let (clicked, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "\"Cancel booking\"")}),
    );
    assert!(
        !error && clicked.contains("a confirm dialog open") && clicked.contains("Really cancel?"),
        "{clicked}"
    );
    let (blocked, error) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(
        error && blocked.contains("browser_handle_dialog"),
        "{blocked}"
    );
    let (answered, error) = call(
        &server,
        "browser_handle_dialog",
        json!({"handle": handle, "accept": false}),
    );
    assert!(!error, "{answered}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(page.contains("kept"), "{page}");

    // A dialog opened by a function browser_evaluate runs, or by a handler that typing, picking
    // or hovering sets off, is the call's result at once (they waited out the action limit and
    // left the page marked stuck, so the dialog could not be answered).
    let (opened, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { alert('from the function'); return 2; }"}),
    );
    assert!(
        !error
            && opened.contains("None yet: the function is waiting for the dialog it opened")
            && opened.contains("An alert dialog opened (\"from the function\")"),
        "{opened}"
    );
    let answer = |accept: bool| {
        let (answered, error) = call(
            &server,
            "browser_handle_dialog",
            json!({"handle": handle, "accept": accept}),
        );
        assert!(!error, "{answered}");
    };
    answer(true);
    let (added, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { document.body.insertAdjacentHTML('afterbegin', '<input aria-label=Nag oninput=\"alert(`typed ` + this.value)\"><select aria-label=Pick onchange=\"confirm(`sure?`)\"><option>a</option><option>b</option></select><span id=over onmouseover=\"alert(`over`)\">Hover me</span>'); }"}),
    );
    assert!(!error, "{added}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    let (typed, error) = call(
        &server,
        "browser_type",
        json!({"handle": handle, "target": ref_of(&page, "textbox \"Nag\""), "text": "xy"}),
    );
    assert!(
        !error && typed.contains("There is an alert dialog open: \"typed xy\""),
        "{typed}"
    );
    answer(true);
    let (picked, error) = call(
        &server,
        "browser_select_option",
        json!({"handle": handle, "target": ref_of(&page, "combobox \"Pick\""), "values": ["b"]}),
    );
    assert!(
        !error && picked.contains("There is a confirm dialog open: \"sure?\""),
        "{picked}"
    );
    answer(false);
    let (hovered, error) = call(
        &server,
        "browser_hover",
        json!({"handle": handle, "target": "#over"}),
    );
    assert!(
        !error && hovered.contains("There is an alert dialog open: \"over\""),
        "{hovered}"
    );
    answer(true);
    let (values, _) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => document.querySelector('input').value + '/' + document.querySelector('select').value"}),
    );
    assert!(values.contains("\"xy/b\""), "{values}");

    // "Leave this page?": reported when a click asks it; a navigation elsewhere answers it yes.
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/draft", demo.url));
    let note = ref_of(&page, "textbox \"Note\"");
    click(&server, &handle, &note);
    let (typed, error) = call(
        &server,
        "browser_type",
        json!({"handle": handle, "target": note, "text": "half a booking"}),
    );
    assert!(!error, "{typed}");
    let (clicked, error) = click(&server, &handle, &ref_of(&page, "\"Back to the parks\""));
    assert!(
        !error && clicked.contains("a beforeunload dialog open"),
        "{clicked}"
    );
    let (page, error) = navigate(&server, &handle, &format!("{}/park/riverside", demo.url));
    assert!(
        !error && page.contains("[Court 3 × 17:00]") && !page.contains("dialog"),
        "{page}"
    );

    // A cookie banner on top: the click names it instead of clicking the banner.
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/overlay", demo.url));
    let book = ref_of(&page, "button \"Book now\"");
    let (covered, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": book}),
    );
    assert!(error && covered.contains("cookie-banner"), "{covered}");
    call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "button \"Accept\"")}),
    );
    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": book}),
    );
    assert!(!error && page.contains("booked"), "{page}");

    // A page that changes itself: a later snapshot shows the change (snapshots are cached only
    // while Chromium reports the page unchanged).
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/clock", demo.url));
    assert!(page.contains("soon"), "{page}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
        if page.contains("later") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change never showed: {page}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Inside an iframe (scrolled out of view first) and inside an open shadow root.
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/iframe", demo.url));
    assert!(page.contains("iframe \"Booking widget\""), "{page}");
    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "\"Reserve court 6\"")}),
    );
    assert!(!error && page.contains("button \"Reserved\""), "{page}");
    // A cross-site iframe runs in its own process: read and clicked all the same; so is one inside
    // another cross-site iframe.
    let page = reserve_court_6(&server, &handle, &format!("{}/lab/xiframe", demo.url));
    assert!(page.contains("iframe \"Partner widget\""), "{page}");
    let page = reserve_court_6(&server, &handle, &format!("{}/lab/xxiframe", demo.url));
    assert!(
        page.contains("iframe \"Partner site\"") && page.contains("iframe \"Club widget\""),
        "{page}"
    );
    let (page, error) = open_and_click(
        &server,
        &handle,
        &format!("{}/lab/shadow", demo.url),
        "\"Pick court 2\"",
    );
    assert!(!error && page.contains("picked 2"), "{page}");
}

#[test]
fn browsing_sessions_are_isolated_and_limits_hold() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));

    // Two sessions, two cookie jars.
    let (alice, _) = open(&server, &format!("{}/lab/cookie?user=alice", demo.url));
    let alice = handle_of(&alice);
    let (page, _) = navigate(&server, &alice, &format!("{}/lab/cookie", demo.url));
    assert!(page.contains("Signed in as alice"), "{page}");
    let (bob, _) = open(&server, &format!("{}/lab/cookie", demo.url));
    assert!(bob.contains("Signed in as nobody"), "{bob}");
    assert_ne!(handle_of(&bob), alice);

    // A huge page: the snapshot is cut where asked, and says so.
    let (page, _) = navigate(&server, &alice, &format!("{}/lab/big", demo.url));
    assert!(
        page.len() < 120_000,
        "navigate results are capped: {} bytes",
        page.len()
    );
    let (small, error) = call(
        &server,
        "browser_snapshot",
        json!({"handle": alice, "max_bytes": 2000}),
    );
    assert!(!error && small.contains("cut"), "{small}");
    assert!(small.len() < 2300, "{} bytes", small.len());
    // An enormous one (30,000 links in list items: 60,000 elements): the walk itself stops at
    // 50,000 nodes and says so first.
    let (page, error) = navigate(&server, &alice, &format!("{}/lab/big?n=30000", demo.url));
    assert!(
        !error && page.contains("more than 50000 nodes") && page.contains("Slot 0\""),
        "{}",
        &page[..page.len().min(2000)]
    );

    // Endless redirects get a clear error; the session keeps working.
    let (redirects, error) = navigate(&server, &alice, &format!("{}/lab/redirect", demo.url));
    assert!(error && redirects.contains("REDIRECT"), "{redirects}");
    let (page, error) = navigate(&server, &alice, &format!("{}/", demo.url));
    assert!(!error && page.contains("Riverside Park"), "{page}");

    // Closing a session forgets its cookies.
    let (closed, _) = call(&server, "browser_close", json!({"handle": alice}));
    assert!(closed.contains("closed"), "{closed}");
}

#[test]
fn a_page_that_never_yields_or_opens_dialogs_without_end_is_reported_and_can_be_left() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (other, _) = open(&server, &format!("{}/park/riverside", demo.url));
    let other = handle_of(&other);

    // A script that never yields: said within seconds (not after the 30 s navigation limit),
    // later calls fail fast with what to do, and navigating away ends the script.
    let started = std::time::Instant::now();
    let (looping, error) = open(&server, &format!("{}/lab/loop", demo.url));
    assert!(
        !error && looping.contains("The page is not responding"),
        "{looping}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let stuck = handle_of(&looping);
    let started = std::time::Instant::now();
    let (snapshot, error) = call(&server, "browser_snapshot", json!({"handle": stuck}));
    assert!(
        error && snapshot.contains("not responding") && snapshot.contains("browser_navigate"),
        "{snapshot}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Other sessions are not held up meanwhile.
    let (page, error) = call(&server, "browser_snapshot", json!({"handle": other}));
    assert!(!error && page.contains("Riverside Park"), "{page}");
    let (page, error) = navigate(&server, &stuck, &format!("{}/", demo.url));
    assert!(
        !error && page.contains("Riverside Park") && !page.contains("not responding"),
        "{page}"
    );
    // The same for a script the agent runs: its call ends at the action limit and says what to
    // do; the next navigation ends the script.
    let (evaluated, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": stuck, "function": "() => { while (true) {} }"}),
    );
    assert!(error && evaluated.contains("may be stuck"), "{evaluated}");
    let (snapshot, error) = call(&server, "browser_snapshot", json!({"handle": stuck}));
    assert!(error && snapshot.contains("not responding"), "{snapshot}");
    let (page, error) = navigate(&server, &stuck, &format!("{}/", demo.url));
    assert!(!error && page.contains("Riverside Park"), "{page}");

    // Dialogs without end: each answer brings the next; navigating away replaces the tab.
    let (storm, error) = navigate(&server, &stuck, &format!("{}/lab/storm", demo.url));
    assert!(
        !error && storm.contains("an alert dialog open: \"Alert 1\""),
        "{storm}"
    );
    let (answered, error) = call(
        &server,
        "browser_handle_dialog",
        json!({"handle": stuck, "accept": true}),
    );
    assert!(!error && answered.contains("\"Alert 2\""), "{answered}");
    let (page, error) = navigate(&server, &stuck, &format!("{}/park/riverside", demo.url));
    assert!(
        !error && page.contains("kept opening dialogs") && page.contains("[Court 3 × 17:00]"),
        "{page}"
    );
    let (tabs, _) = call(
        &server,
        "browser_tabs",
        json!({"handle": stuck, "action": "list"}),
    );
    assert!(
        tabs.contains("park/riverside") && !tabs.contains("storm"),
        "{tabs}"
    );
    let (page, error) = click(&server, &stuck, &ref_of(&page, "[Court 3 × 17:00]"));
    assert!(!error && page.contains("Court 3, 17:00"), "{page}");
}

#[test]
fn a_sleeping_browsing_session_keeps_its_login_and_storage_even_across_a_restart() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let start = |dir: &std::path::Path| {
        std::fs::write(
            dir.join("keel.toml"),
            "[browser]\nidle_timeout = \"1s\"\nnavigation_timeout = \"5s\"\naction_timeout = \"3s\"\n",
        )
        .unwrap();
        Server::start(
            dir,
            &[
                "--tools",
                "all",
                "--browser",
                "on",
                "--browser-allow",
                "127.0.0.1",
            ],
        )
    };
    let server = start(dir.path());
    let (page, _) = open(&server, &format!("{}/lab/cookie?user=alice", demo.url));
    let handle = handle_of(&page);
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/storage", demo.url));
    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "Remember court 4")}),
    );
    assert!(!error && page.contains("4"), "{page}");
    // How the page is shown is the session's too.
    for (tool, args) in [
        ("browser_resize", json!({"width": 700, "height": 500})),
        ("browser_emulate_media", json!({"colorScheme": "dark"})),
    ] {
        let mut args = args;
        args["handle"] = json!(handle);
        let (result, error) = call(&server, tool, args);
        assert!(!error, "{tool}: {result}");
    }
    let display = "() => innerWidth + 'x' + innerHeight + (matchMedia('(prefers-color-scheme: dark)').matches ? ' dark' : ' light')";

    // Idle past browser.idle_timeout: the session sleeps (state saved in its object, browser
    // context closed). Time passing is what is under test here.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (page, error) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(!error && page.contains("had slept"), "{page}");
    assert!(
        page.contains("lab/storage") && page.contains("status: \"4\""),
        "localStorage came back: {page}"
    );
    let (shown, _) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": display}),
    );
    assert!(shown.contains("700x500 dark"), "{shown}");
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/cookie", demo.url));
    assert!(
        page.contains("Signed in as alice"),
        "the login survived the sleep: {page}"
    );

    // A graceful restart saves every open session; the next call restores it.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let server = start(dir.path());
    let (page, error) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(
        !error && page.contains("had slept") && page.contains("Signed in as alice"),
        "{page}"
    );
}

#[test]
fn a_crashed_browser_is_replaced_and_sessions_carry_on() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (page, _) = open(&server, &format!("{}/", demo.url));
    let handle = handle_of(&page);

    // SIGKILL the browser (keel's only child process).
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-P", &server.child.id().to_string()])
        .status()
        .expect("pkill runs");
    assert!(killed.success(), "there was a browser to kill");

    // The next calls get a clear error at worst, then a new browser serves the same session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (page, error) = navigate(&server, &handle, &format!("{}/park/hilltop", demo.url));
        if !error {
            assert!(page.contains("Hilltop Park"), "{page}");
            break;
        }
        assert!(
            page.contains("try again") || page.contains("closed"),
            "a clear error: {page}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no new browser: {page}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Other tools keep working.
    let (page, error) = call(
        &server,
        "kv_put",
        json!({"key": "k", "value": 1, "object": "after-crash"}),
    );
    assert!(!error, "{page}");
}

#[test]
fn reading_tools_give_markdown_links_selected_elements_and_extracted_json() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let article = format!("{}/lab/article", demo.url);

    let (markdown, error) = call(&server, "page_markdown", json!({"url": article}));
    assert!(!error, "{markdown}");
    assert!(
        markdown.contains("## Chapter 12") && markdown.contains("| Year | Courts | Players |"),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!("[see note 1.0]({}/lab/article?ref=1-0)", demo.url)),
        "{markdown}"
    );
    assert!(
        !markdown.contains("CourtBook · tennis courts"),
        "the footer is not main content: {markdown}"
    );
    // The title ("Lab: article · CourtBook") is not said again above the page's own heading.
    assert!(
        markdown.starts_with("# Lab: article\n")
            && !markdown.contains("# Lab: article · CourtBook"),
        "{markdown}"
    );

    let links = call_with(
        &server,
        "page_links",
        json!({"url": article}),
        json!({}),
        None,
    );
    let links = links["structuredContent"]["links"]
        .as_array()
        .expect("links")
        .clone();
    assert!(links.len() > 80, "{}", links.len());
    assert!(
        links
            .iter()
            .all(|l| l["href"].as_str().unwrap().starts_with("http://"))
    );

    let scraped = call_with(
        &server,
        "page_scrape",
        json!({"url": article, "elements": [{"selector": "h2"}, {"selector": "nav a"}]}),
        json!({}),
        None,
    );
    let results = &scraped["structuredContent"]["results"];
    assert_eq!(
        results[0]["results"].as_array().unwrap().len(),
        12,
        "{scraped}"
    );
    assert_eq!(results[0]["results"][0]["text"], "Chapter 1");
    assert!(
        results[1]["results"][0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "href")
    );
    let (bad, error) = call(
        &server,
        "page_scrape",
        json!({"url": article, "elements": [{"selector": "h2[["}]}),
    );
    assert!(error && bad.contains("not a valid CSS selector"), "{bad}");

    // Extraction uses the client's model: without sampling, a clear error; with it (2026-07-28),
    // an input request, answered by calling again.
    let schema = json!({"type": "object", "properties": {"chapters": {"type": "integer"}}, "required": ["chapters"]});
    let args = json!({"url": article, "prompt": "How many chapters are there?", "schema": schema});
    let (refused, error) = call(&server, "page_extract", args.clone());
    assert!(error && refused.contains("sampling"), "{refused}");
    let asked = call_with(
        &server,
        "page_extract",
        args.clone(),
        json!({"sampling": {}}),
        None,
    );
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let request = &asked["inputRequests"]["extract"];
    assert_eq!(request["method"], "sampling/createMessage");
    assert!(
        request["params"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Chapter 12")
    );
    let answer = |text: &str| {
        json!({"extract": {"role": "assistant", "model": "test-model",
        "content": {"type": "text", "text": text}}})
    };
    let done = call_with(
        &server,
        "page_extract",
        args.clone(),
        json!({"sampling": {}}),
        Some(answer("```json\n{\"chapters\": 12}\n```")),
    );
    assert_eq!(done["structuredContent"], json!({"chapters": 12}), "{done}");
    let wrong = call_with(
        &server,
        "page_extract",
        args,
        json!({"sampling": {}}),
        Some(answer("{\"chapters\": \"twelve\"}")),
    );
    assert_eq!(wrong["isError"], true, "{wrong}");
    assert!(
        wrong.to_string().contains("does not match the schema"),
        "{wrong}"
    );
}

#[test]
fn uploads_popups_and_downloads_are_handled_and_reported() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));

    // Clicking a file input opens a chooser (intercepted); the files go in by content.
    let (page, _) = open(&server, &format!("{}/lab/upload", demo.url));
    let handle = handle_of(&page);
    let input = ref_of(&page, "button \"Team photo\"");
    let (clicked, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": input}),
    );
    assert!(
        !error && clicked.contains("file chooser is open"),
        "{clicked}"
    );
    let (uploaded, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "files": [
        {"name": "team.txt", "text": "Alice, Bob"}, {"name": "../../escape.bin", "base64": "AAEC"}]}),
    );
    assert!(!error, "{uploaded}");
    let got = call(
        &server,
        "browser_wait_for",
        json!({"handle": handle, "text": "team.txt (10 chars)"}),
    );
    assert!(!got.1, "{}", got.0);
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(
        page.contains("escape.bin (3 chars)"),
        "the name was reduced to a file name: {page}"
    );
    let (none, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "files": [{"name": "x.txt", "text": "x"}]}),
    );
    assert!(error && none.contains("no file chooser is open"), "{none}");

    // A tab the page opens is reported, and can be used.
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/popup", demo.url));
    let (clicked, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "Open the widget")}),
    );
    // In the click's own result: the page announces the window before the click's answer, and
    // the call waits for its tab (it could come a moment after the result).
    assert!(
        !error && clicked.contains("### Events\n- The page opened a new tab (1)"),
        "{clicked}"
    );
    // So does a script's window.open (a popup a browser would block outside a click).
    let (opened, error) = call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { window.open('/lab/widget'); }"}),
    );
    assert!(
        !error && opened.contains("The page opened a new tab (2)"),
        "{opened}"
    );
    let (closed, error) = call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "close", "index": 2}),
    );
    assert!(!error && !closed.contains("- 2:"), "{closed}");
    let (tabs, error) = call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "select", "index": 1}),
    );
    assert!(!error && tabs.contains("1: (current)"), "{tabs}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(page.contains("Reserve court 6"), "{page}");
    // A tab its page closes (window.close(), as a sign-in popup does): gone from the list, and
    // the next result says which tab is current now (it acted on a closed tab: "Session with
    // given id not found").
    call(
        &server,
        "browser_evaluate",
        json!({"handle": handle, "function": "() => { setTimeout(() => window.close(), 10); }"}),
    );
    call(
        &server,
        "browser_wait_for",
        json!({"handle": handle, "time": 0.5}),
    );
    let (page, error) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(
        !error
            && page.contains("was closed by its page; tab 0 is current now")
            && page.contains("lab/popup"),
        "{page}"
    );
    let (tabs, _) = call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "list"}),
    );
    assert!(!tabs.contains("- 1:"), "{tabs}");

    // A download is kept in the browsing session's object, reported, and handed over by
    // browser_downloads (the agent may be on another machine), also after a restart.
    call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "select", "index": 0}),
    );
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    // The click's own result reports it: the click waits for the download it began.
    let (clicked, _) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "Download the rules")}),
    );
    // In a section of its own, not read as part of the snapshot.
    assert!(
        clicked.contains("\n### Events\n- Downloaded rules.txt (41 bytes)")
            && clicked.contains("browser_downloads"),
        "{clicked}"
    );
    let rules = "Rule 1: the ball must land in the court.\n";
    let read = |server: &Server| {
        call_with(
            server,
            "browser_downloads",
            json!({"handle": handle, "name": "rules.txt"}),
            json!({}),
            None,
        )
    };
    let file = read(&server);
    assert_eq!(file["content"][0]["resource"]["text"], rules, "{file}");
    assert_eq!(
        file["content"][0]["resource"]["mimeType"], "text/plain",
        "{file}"
    );
    // The same file again, opened by its URL (a download, not a page: no error, the page stays),
    // gets a name of its own.
    let (opened, error) = navigate(&server, &handle, &format!("{}/lab/file", demo.url));
    assert!(
        !error
            && opened.contains("Downloaded rules (2).txt (41 bytes)")
            && opened.contains("/lab/popup"),
        "{opened}"
    );
    let list = call(&server, "browser_downloads", json!({"handle": handle})).0;
    assert!(
        list.contains("- rules.txt (41 bytes) from http://"),
        "{list}"
    );
    assert!(list.contains("- rules (2).txt (41 bytes)"), "{list}");
    let (missing, error) = call(
        &server,
        "browser_downloads",
        json!({"handle": handle, "name": "nope.txt"}),
    );
    assert!(error && missing.contains("rules (2).txt"), "{missing}");

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let file = read(&server);
    assert_eq!(file["content"][0]["resource"]["text"], rules, "{file}");

    // `paths`, as Playwright MCP names files, can name the session's downloads: a file from one
    // site goes up to another. Anything else is on the agent's machine, which keel cannot read.
    let (page, _) = call(
        &server,
        "browser_navigate",
        json!({"handle": handle, "url": format!("{}/lab/upload", demo.url)}),
    );
    let (_, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "button \"Team photo\"")}),
    );
    assert!(!error);
    let (refused, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "paths": ["/home/me/photo.jpg"]}),
    );
    assert!(
        error && refused.contains("cannot read files on your machine"),
        "{refused}"
    );
    let (uploaded, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "paths": ["rules.txt"]}),
    );
    assert!(!error, "{uploaded}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    let page = until_shown(&server, &handle, page, "rules.txt (41 chars)");
    assert!(page.contains("rules.txt (41 chars)"), "{page}");
    let (_, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "button \"Team photo\"")}),
    );
    assert!(!error);
    let (cancelled, error) = call(&server, "browser_file_upload", json!({"handle": handle}));
    assert!(!error && cancelled.contains("cancelled"), "{cancelled}");
    let (none, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "files": [{"name": "x.txt", "text": "x"}]}),
    );
    assert!(error && none.contains("no file chooser is open"), "{none}");

    // Closing the session deletes what it kept.
    let (closed, _) = call(&server, "browser_close", json!({"handle": handle}));
    assert!(
        closed.contains("closed") || closed.contains("no open"),
        "{closed}"
    );
    let (list, error) = call(&server, "browser_downloads", json!({"handle": handle}));
    assert!(!error && list.contains("No downloads"), "{list}");
    // Nor does its page come back (it was saved when the server stopped).
    let (tabs, error) = call(
        &server,
        "browser_tabs",
        json!({"handle": handle, "action": "list"}),
    );
    assert!(
        !error && !tabs.contains("had slept") && !tabs.contains("lab/"),
        "{tabs}"
    );
}

#[test]
fn the_browser_tools_work_over_stdio_too() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let answers = common::stdio_session(
        dir.path(),
        "agent",
        &[("KEEL_BROWSER", "on"), ("KEEL_BROWSER_ALLOW", "127.0.0.1")],
        &[
            json!({"name": "browser_navigate", "arguments": {"url": format!("{}/park/hilltop", demo.url)}}),
        ],
    );
    let text = answers[0]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("Hilltop Park") && text.contains("button \"Book\""),
        "{answers:?}"
    );
    // Court 2 at 10:00 is taken in the demo's data: no Book button for it.
    assert!(
        !text.contains("[Court 2 × 10:00]") && text.contains("\"Taken\" [10:00]"),
        "{answers:?}"
    );
}

#[test]
fn a_page_that_never_finishes_loading_is_read_and_operated_without_waiting_it_out() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    // Long limits: what is checked is that nothing waits them out.
    std::fs::write(
        dir.path().join("keel.toml"),
        "[browser]\nnavigation_timeout = \"60s\"\naction_timeout = \"30s\"\n",
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--tools",
            "all",
            "--browser",
            "on",
            "--browser-allow",
            "127.0.0.1",
        ],
    );
    let timed = |tool: &str, args: Value| {
        let start = std::time::Instant::now();
        let (text, error) = call(&server, tool, args);
        assert!(!error, "{text}");
        (text, start.elapsed())
    };

    // Its image never comes: the parsed page is given a few seconds to finish, then read as it is.
    let (page, took) = timed(
        "browser_navigate",
        json!({"url": format!("{}/lab/slowimage", demo.url)}),
    );
    assert!(took < Duration::from_secs(20), "{took:?}\n{page}");
    assert!(
        page.contains("still loading") && page.contains("Book court 2"),
        "{page}"
    );
    let handle = handle_of(&page);
    let h = |mut args: Value| {
        args["handle"] = json!(handle);
        args
    };

    // A fragment of it: the same document, no load to wait for.
    let (moved, took) = timed(
        "browser_navigate",
        h(json!({"url": format!("{}/lab/slowimage#map", demo.url)})),
    );
    assert!(took < Duration::from_secs(10), "{took:?}\n{moved}");
    assert!(moved.contains("/lab/slowimage#map"), "{moved}");

    // Actions wait for what they started, not for the page's own load that never ends.
    let (clicked, took) = timed(
        "browser_click",
        h(json!({"target": ref_of(&page, "Book court 2")})),
    );
    assert!(took < Duration::from_secs(10), "{took:?}\n{clicked}");
    assert!(!clicked.contains("still loading"), "{clicked}");
    until_shown(&server, &handle, clicked, "\"Booked\"");
    // A request the click started is waited for a while, and said to be still running.
    let (asked, took) = timed(
        "browser_click",
        h(json!({"target": ref_of(&page, "Ask the club")})),
    );
    assert!(took < Duration::from_secs(10), "{took:?}\n{asked}");
    assert!(asked.contains("still loading"), "{asked}");
    // A navigation it started is waited for, though the page it leaves was still loading.
    let (followed, took) = timed(
        "browser_click",
        h(json!({"target": ref_of(&page, "The widget")})),
    );
    assert!(took < Duration::from_secs(10), "{took:?}\n{followed}");
    assert!(followed.contains("Reserve court 6"), "{followed}");
}

#[test]
fn a_page_that_cannot_be_opened_gets_an_error_that_says_why() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (page, _) = open(&server, &format!("{}/", demo.url));
    let handle = handle_of(&page);
    // A port nobody listens on (taken and let go), over http and https (a tunnel through keel's
    // proxy, which the browser only sees fail).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("http://127.0.0.1:{closed}/"),
        format!("https://127.0.0.1:{closed}/"),
    ] {
        let (text, error) = navigate(&server, &handle, &url);
        assert!(
            error && text.contains(&format!("could not open {url}: cannot connect")),
            "{url}: {text}"
        );
    }
    for (path, why) in [
        (
            "/no-such-page",
            "the server answered HTTP 404 with an empty page",
        ),
        (
            "/lab/nocontent",
            "the server answered HTTP 204 (no content)",
        ),
        ("/lab/members", "asks for a user name and password"),
    ] {
        let (text, error) = navigate(&server, &handle, &format!("{}{path}", demo.url));
        assert!(error && text.contains(why), "{path}: {text}");
    }
    // An error page with something on it is a page, said to be one.
    let (page, error) = navigate(&server, &handle, &format!("{}/park/nowhere", demo.url));
    assert!(
        !error && page.contains("The server answered HTTP 404.") && page.contains("No such park"),
        "{page}"
    );
    // The reading tools say the same, and that a file is no page to read.
    let (text, error) = call(
        &server,
        "page_links",
        json!({"handle": handle, "url": format!("http://127.0.0.1:{closed}/")}),
    );
    assert!(error && text.contains("cannot connect"), "{text}");
    let (text, error) = call(
        &server,
        "page_markdown",
        json!({"handle": handle, "url": format!("{}/lab/file", demo.url)}),
    );
    assert!(error && text.contains("is a file to download"), "{text}");
    // A click on a link that cannot be opened says why, with the URL it went for (not the
    // browser's chrome-error:// page, nor the proxy's page as the server's HTTP 403).
    for (url, why) in [
        (format!("http://127.0.0.1:{closed}/a"), "cannot connect"),
        (format!("https://127.0.0.1:{closed}/b"), "cannot connect"),
        ("http://127.0.0.1:1/c".to_string(), "net::ERR_UNSAFE_PORT"),
    ] {
        let (page, error) = navigate(&server, &handle, &format!("{}/", demo.url));
        assert!(!error, "{page}");
        let (added, error) = call(
            &server,
            "browser_evaluate",
            json!({"handle": handle, "function": format!("() => {{ document.body.insertAdjacentHTML('afterbegin', '<a href=\"{url}\">Elsewhere</a>'); }}")}),
        );
        assert!(!error, "{added}");
        let (snapshot, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
        let (clicked, error) = call(
            &server,
            "browser_click",
            json!({"handle": handle, "target": ref_of(&snapshot, "link \"Elsewhere\""), "element": "Elsewhere"}),
        );
        assert!(
            !error
                && clicked.contains(&format!("- URL: {url}\n"))
                && clicked.contains(&format!("- Could not open {url}: "))
                && clicked.contains(why)
                && !clicked.contains("HTTP 403"),
            "{url}: {clicked}"
        );
    }
    let (requests, _) = call(
        &server,
        "browser_network_requests",
        json!({"handle": handle}),
    );
    assert!(
        requests.contains("GET http://127.0.0.1:1/c => failed: net::ERR_UNSAFE_PORT"),
        "{requests}"
    );
    // The session carries on.
    let (page, error) = navigate(&server, &handle, &format!("{}/lab/widget", demo.url));
    assert!(!error && page.contains("Reserve court 6"), "{page}");
}

#[test]
fn the_other_tools_do_what_they_say() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (page, _) = open(&server, &format!("{}/", demo.url));
    let handle = handle_of(&page);
    let h = |mut args: Value| {
        args["handle"] = json!(handle);
        args
    };
    let (page, error) = call(
        &server,
        "browser_navigate",
        h(json!({"url": format!("{}/lab/form", demo.url)})),
    );
    assert!(!error, "{page}");

    // Forms: a select by its visible text, a text field and a checkbox at once, then submit.
    let (picked, error) = call(
        &server,
        "browser_select_option",
        h(json!({"target": ref_of(&page, "combobox \"Court\""), "values": ["Court 3"]})),
    );
    assert!(!error && picked.contains("[\"3\"]"), "{picked}");
    let (filled, error) = call(
        &server,
        "browser_fill_form",
        h(json!({"fields": [
        {"name": "Name", "type": "textbox", "target": ref_of(&page, "textbox \"Name\""), "value": "Ann"},
        {"name": "Floodlights", "type": "checkbox", "target": ref_of(&page, "checkbox \"Floodlights\""), "value": "true"}]})),
    );
    assert!(!error && filled.contains("Filled 2 fields"), "{filled}");
    let (done, error) = call(
        &server,
        "browser_click",
        h(json!({"target": ref_of(&page, "button \"Reserve\"")})),
    );
    assert!(
        !error && done.contains("court=3&name=Ann&lights=on"),
        "{done}"
    );

    // Keys, hover, waiting, script, console.
    let (_, error) = call(
        &server,
        "browser_type",
        h(json!({"target": ref_of(&page, "textbox \"Name\""), "text": "Bo"})),
    );
    assert!(!error);
    let (pressed, error) = call(&server, "browser_press_key", h(json!({"key": "Enter"})));
    assert!(!error && !pressed.contains("still loading"), "{pressed}");
    let (page, _) = call(&server, "browser_snapshot", h(json!({})));
    assert!(page.contains("name=Bo"), "Enter submitted the form: {page}");
    // The result shows what hovering opened or changed (menus, tooltips).
    let (hovered, error) = call(&server, "browser_hover", h(json!({"target": "#hover"})));
    assert!(
        !error && hovered.contains("### Snapshot") && hovered.contains("\"hovered\""),
        "{hovered}"
    );
    let (waited, error) = call(
        &server,
        "browser_wait_for",
        h(json!({"text": "hovered", "time": 5})),
    );
    assert!(!error, "{waited}");
    let (value, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => document.title"})),
    );
    assert!(!error && value.contains("Lab: form"), "{value}");
    let (value, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "(e) => e.textContent", "target": "#hover"})),
    );
    assert!(!error && value.contains("hovered"), "{value}");
    let (thrown, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => { throw new Error('nope') }"})),
    );
    assert!(error && thrown.contains("nope"), "{thrown}");
    // Values JSON has no word for, and values that cannot be sent back at all.
    let (big, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => 2n ** 70n"})),
    );
    assert!(
        !error && big.contains("\"1180591620717411303424n\""),
        "{big}"
    );
    let (window, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => window"})),
    );
    assert!(
        error && window.contains("cannot be sent back as JSON"),
        "{window}"
    );
    // A value of megabytes is cut at the snapshot's cap (100 kB), saying how to get it whole.
    let (huge, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => 'x'.repeat(300000)"})),
    );
    assert!(
        !error
            && huge.len() < 101_000
            && huge.contains("(cut: 100000 of 300014 bytes shown; pass `filename`"),
        "{}",
        &huge[huge.len().saturating_sub(300)..]
    );
    let (console, _) = call(&server, "browser_console_messages", h(json!({})));
    assert!(console.contains("[log] form ready"), "{console}");
    let (html, _) = call(&server, "page_content", h(json!({})));
    assert!(
        html.contains("<form") && html.contains("id=\"hover\""),
        "{html}"
    );

    // Pictures and paper.
    let shot = call_with(
        &server,
        "browser_take_screenshot",
        h(json!({})),
        json!({}),
        None,
    );
    assert_eq!(shot["content"][0]["type"], "image", "{shot}");
    assert!(
        shot["content"][0]["data"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo"),
        "a PNG"
    );
    let element = call_with(
        &server,
        "browser_take_screenshot",
        h(json!({"target": "#hover", "type": "jpeg"})),
        json!({}),
        None,
    );
    assert_eq!(element["content"][0]["mimeType"], "image/jpeg", "{element}");
    let pdf = call_with(&server, "browser_pdf_save", h(json!({})), json!({}), None);
    assert!(
        pdf["content"][0]["resource"]["blob"]
            .as_str()
            .unwrap()
            .starts_with("JVBER"),
        "a PDF"
    );

    // History and tabs.
    let (back, error) = call(&server, "browser_navigate_back", h(json!({})));
    assert!(
        !error
            && back.contains(&format!("URL: {}/", demo.url))
            && back.contains("Book a tennis court"),
        "{back}"
    );
    let (tabs, error) = call(
        &server,
        "browser_tabs",
        h(json!({"action": "new", "url": format!("{}/park/riverside", demo.url)})),
    );
    assert!(
        !error && tabs.contains("1: (current)") && tabs.contains("park/riverside"),
        "{tabs}"
    );
    let (tabs, error) = call(&server, "browser_tabs", h(json!({"action": "close"})));
    assert!(
        !error && !tabs.contains("- 1:") && tabs.contains("- 0: (current)"),
        "{tabs}"
    );
    let (nope, error) = call(
        &server,
        "browser_tabs",
        h(json!({"action": "select", "index": 5})),
    );
    assert!(error && nope.contains("no tab 5"), "{nope}");
    // A new tab for a URL that is refused or cannot be opened: an error, and no stray blank tab
    // left as the current one.
    for url in ["http://10.0.0.1/", "http://nowhere.invalid/"] {
        let (refused, error) = call(
            &server,
            "browser_tabs",
            h(json!({"action": "new", "url": url})),
        );
        assert!(error, "{url}: {refused}");
    }
    let (tabs, _) = call(&server, "browser_tabs", h(json!({"action": "list"})));
    assert!(
        !tabs.contains("- 1:") && tabs.contains(&format!("- 0: (current) {}/", demo.url)),
        "{tabs}"
    );

    // Keys with modifiers held: select all and type over it, a capital, focus going back. (The
    // URL as agents often write it, without a scheme: http for a loopback host.)
    let bare = demo.url.trim_start_matches("http://");
    let (page, _) = call(
        &server,
        "browser_navigate",
        h(json!({"url": format!("{bare}/lab/form")})),
    );
    assert!(
        page.contains(&format!("URL: {}/lab/form", demo.url)),
        "{page}"
    );
    let name = ref_of(&page, "textbox \"Name\"");
    call(
        &server,
        "browser_type",
        h(json!({"target": name, "text": "hello world"})),
    );
    call(
        &server,
        "browser_evaluate",
        h(
            json!({"function": "() => { window.keys = []; addEventListener('keydown', (e) => keys.push((e.shiftKey ? 'Shift+' : '') + e.key)); }"}),
        ),
    );
    for key in ["Control+a", "x", "Shift+b", ".", "Shift+Tab"] {
        let (pressed, error) = call(&server, "browser_press_key", h(json!({"key": key})));
        assert!(!error, "{key}: {pressed}");
    }
    let (state, _) = call(
        &server,
        "browser_evaluate",
        h(
            json!({"function": "() => document.activeElement.name + ' ' + document.querySelector('input[name=name]').value"}),
        ),
    );
    assert!(state.contains("court xB."), "{state}");
    // Shift with a named key keeps its name (Shift+Enter: a new line in many chat boxes).
    call(
        &server,
        "browser_press_key",
        h(json!({"key": "Shift+Enter"})),
    );
    let (keys, _) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => keys.join(' ')"})),
    );
    assert!(
        keys.contains("Shift+B") && keys.contains("Shift+Tab") && keys.contains("Shift+Enter"),
        "{keys}"
    );
    let (unknown, error) = call(&server, "browser_press_key", h(json!({"key": "Hyper+a"})));
    assert!(error && unknown.contains("Control+a"), "{unknown}");
    // Typing that makes the page ask its server: the type waits for the answer.
    let (page, _) = call(
        &server,
        "browser_navigate",
        h(json!({"url": format!("{}/lab/search", demo.url)})),
    );
    let (typed, error) = call(
        &server,
        "browser_type",
        h(json!({"target": ref_of(&page, "Search courts"), "text": "3"})),
    );
    assert!(!error, "{typed}");
    let (page, _) = call(&server, "browser_snapshot", h(json!({})));
    assert!(page.contains("Courts matching"), "{page}");
    // Nothing to wait for, and a ref nobody handed out: errors that say so.
    let (nothing, error) = call(&server, "browser_wait_for", h(json!({})));
    assert!(error && nothing.contains("textGone"), "{nothing}");
    let (never, error) = call(&server, "browser_click", h(json!({"target": "e99999"})));
    assert!(error && never.contains("never given out"), "{never}");
    // A function that sends the page elsewhere: the result waits for the page it leads to (the
    // browser starts the navigation after answering) and shows it.
    let (sent, error) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => { location.href = '/lab/widget'; return 'going'; }"})),
    );
    assert!(
        !error
            && sent.contains("\"going\"")
            && sent.contains("- The page navigated.")
            && sent.contains("Reserve court 6"),
        "{sent}"
    );
    // Fields with a picker take their value whole (typing into them did nothing, and said so
    // nowhere); a value in the wrong format is an error that shows the right one.
    call(
        &server,
        "browser_evaluate",
        h(
            json!({"function": "() => { document.body.insertAdjacentHTML('afterbegin', '<input type=date aria-label=Day><input type=time aria-label=Hour><input type=range aria-label=Volume>'); window.changes = []; addEventListener('change', (e) => changes.push(e.target.value)); }"}),
        ),
    );
    let (page, _) = call(&server, "browser_snapshot", h(json!({})));
    for (name, value) in [("Day", "2026-12-24"), ("Hour", "17:30"), ("Volume", "70")] {
        let (typed, error) = call(
            &server,
            "browser_type",
            h(json!({"target": ref_of(&page, &format!("\"{name}\"")), "text": value})),
        );
        assert!(!error, "{name}: {typed}");
    }
    let (wrong, error) = call(
        &server,
        "browser_type",
        h(json!({"target": ref_of(&page, "\"Day\""), "text": "24/12/2026"})),
    );
    assert!(
        error && wrong.contains("takes a date like 2026-12-24"),
        "{wrong}"
    );
    let (values, _) = call(
        &server,
        "browser_evaluate",
        h(
            json!({"function": "() => [...document.querySelectorAll('input')].slice(0, 3).map((e) => e.value).join(' ') + ' / ' + changes.join(' ')"}),
        ),
    );
    assert!(
        values.contains("2026-12-24 17:30 70 / 2026-12-24 17:30 70"),
        "{values}"
    );
    // Calls sent at once (a client running tool calls in parallel) take turns: the first
    // navigation was cut short by the second ("net::ERR_ABORTED") and a snapshot read whichever
    // page was there.
    let ((first, first_failed), (second, second_failed)) = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            call(
                &server,
                "browser_navigate",
                h(json!({"url": format!("{}/lab/big?n=3000", demo.url)})),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = scope.spawn(|| {
            call(
                &server,
                "browser_navigate",
                h(json!({"url": format!("{}/park/riverside", demo.url)})),
            )
        });
        (first.join().unwrap(), second.join().unwrap())
    });
    assert!(!first_failed && first.contains("lab/big"), "{first}");
    assert!(
        !second_failed && second.contains("heading \"Riverside Park\""),
        "{second}"
    );
}

/// What agents that know Playwright MCP also reach for: drags, the mouse by coordinates, the
/// wheel, click modifiers, the viewport's size, searching the snapshot, console levels and one
/// request in full.
#[test]
fn drags_the_mouse_by_point_and_the_logs_in_detail() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (page, _) = open(&server, &format!("{}/lab/drag", demo.url));
    let handle = handle_of(&page);
    let h = |mut args: Value| {
        args["handle"] = json!(handle);
        args
    };
    let text = |id: &str| {
        let (value, error) = call(
            &server,
            "browser_evaluate",
            h(json!({"function": format!("() => document.getElementById('{id}').textContent")})),
        );
        assert!(!error, "{value}");
        value
    };

    // HTML drag and drop, carried to the drop zone.
    let (dragged, error) = call(
        &server,
        "browser_drag",
        h(
            json!({"startElement": "card", "startTarget": "#card", "endElement": "zone", "endTarget": "#zone"}),
        ),
    );
    assert!(!error && dragged.contains("dropped Court 2"), "{dragged}");
    // A knob that follows the mouse: pressed, moved, released.
    let (_, error) = call(
        &server,
        "browser_drag",
        h(json!({"startTarget": "#knob", "endTarget": "#zone"})),
    );
    assert!(!error);
    assert!(
        text("moved").contains("moved 361,-109"),
        "{}",
        text("moved")
    );
    let (_, error) = call(
        &server,
        "browser_mouse_drag_xy",
        h(json!({"startX": 40, "startY": 240, "endX": 140, "endY": 250})),
    );
    assert!(!error);
    assert!(
        text("moved").contains("moved 100,10, 5 moves with the button held"),
        "{}",
        text("moved")
    );
    // The same by hand: down, a move (the page sees the button held), up.
    for (tool, args) in [
        ("browser_mouse_move_xy", json!({"x": 40, "y": 240})),
        ("browser_mouse_down", json!({})),
        ("browser_mouse_move_xy", json!({"x": 90, "y": 260})),
        ("browser_mouse_up", json!({})),
    ] {
        let (result, error) = call(&server, tool, h(args));
        assert!(!error, "{tool}: {result}");
    }
    assert!(
        text("moved").contains("moved 50,20, 1 moves with the button held"),
        "{}",
        text("moved")
    );

    // Clicks at a point, with modifiers, and the wheel.
    let (clicked, error) = call(
        &server,
        "browser_mouse_click_xy",
        h(json!({"x": 550, "y": 320})),
    );
    assert!(
        !error && clicked.contains("clicked at 550,320"),
        "{clicked}"
    );
    // Boxes in the snapshot, in the coordinates those tools take.
    let (boxed, error) = call(&server, "browser_snapshot", h(json!({"boxes": true})));
    assert!(
        !error && boxed.contains("button \"Spot\"") && boxed.contains("[box=500,300,100,40]"),
        "{boxed}"
    );
    let (clicked, error) = call(
        &server,
        "browser_click",
        h(json!({"target": "#spot", "modifiers": ["Shift", "ControlOrMeta"]})),
    );
    assert!(
        !error && clicked.contains("with shift with control"),
        "{clicked}"
    );
    let (bad, error) = call(
        &server,
        "browser_click",
        h(json!({"target": "#spot", "modifiers": ["Hyper"]})),
    );
    assert!(error && bad.contains("\"Hyper\" is not one of"), "{bad}");
    call(
        &server,
        "browser_mouse_move_xy",
        h(json!({"x": 100, "y": 500})),
    );
    let (_, error) = call(
        &server,
        "browser_mouse_wheel",
        h(json!({"deltaX": 0, "deltaY": 120})),
    );
    assert!(!error);
    assert!(text("wheel").contains("wheel 120"), "{}", text("wheel"));
    // (The wheel may scroll smoothly: wait for the scroll to arrive.)
    let (scrolled, _) = call(
        &server,
        "browser_evaluate",
        h(
            json!({"function": "() => new Promise(r => { const t = Date.now(); (function f() { if (scrollY >= 120 || Date.now() - t > 3000) r(scrollY); else requestAnimationFrame(f); })(); })"}),
        ),
    );
    assert!(scrolled.contains("120"), "{scrolled}");

    // The viewport's size.
    let (resized, error) = call(
        &server,
        "browser_resize",
        h(json!({"width": 800, "height": 600})),
    );
    assert!(!error && resized.contains("800×600"), "{resized}");
    let (size, _) = call(
        &server,
        "browser_evaluate",
        h(json!({"function": "() => innerWidth + 'x' + innerHeight"})),
    );
    assert!(size.contains("800x600"), "{size}");
    let (bad, error) = call(
        &server,
        "browser_resize",
        h(json!({"width": 0, "height": 600})),
    );
    assert!(error && bad.contains("minimum of 1"), "{bad}");

    // Data dropped in from outside the page.
    let (dropped, error) = call(
        &server,
        "browser_drop",
        h(json!({"target": "#zone", "data": {"text/plain": "Court 5"}})),
    );
    assert!(!error && dropped.contains("dropped Court 5"), "{dropped}");
    let (nothing, error) = call(&server, "browser_drop", h(json!({"target": "#zone"})));
    assert!(error && nothing.contains("give `data`"), "{nothing}");

    // Media features: set, kept while others change, cleared by null.
    let query = |q: &str| {
        call(
            &server,
            "browser_evaluate",
            h(json!({"function": format!("() => matchMedia('{q}').matches")})),
        )
        .0
    };
    let (emulated, error) = call(
        &server,
        "browser_emulate_media",
        h(json!({"colorScheme": "dark"})),
    );
    assert!(
        !error && emulated.contains("prefers-color-scheme: dark"),
        "{emulated}"
    );
    call(
        &server,
        "browser_emulate_media",
        h(json!({"media": "print"})),
    );
    assert!(query("(prefers-color-scheme: dark)").contains("true"));
    assert!(query("print").contains("true"));
    let (cleared, _) = call(
        &server,
        "browser_emulate_media",
        h(json!({"colorScheme": null, "media": null})),
    );
    assert!(cleared.contains("No media features"), "{cleared}");
    assert!(query("(prefers-color-scheme: dark)").contains("false"));

    // An answer kept in the session as a file (`filename`), handed over by browser_downloads.
    let (saved, error) = call(
        &server,
        "browser_snapshot",
        h(json!({"filename": "page.txt"})),
    );
    assert!(!error && saved.contains("Saved as \"page.txt\""), "{saved}");
    let file = call_with(
        &server,
        "browser_downloads",
        h(json!({"name": "page.txt"})),
        json!({}),
        None,
    );
    assert!(
        file["content"][0]["resource"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Drop here")),
        "{file}"
    );
    let (saved, error) = call(
        &server,
        "browser_take_screenshot",
        h(json!({"filename": "shot.png"})),
    );
    assert!(!error && saved.contains("Saved as \"shot.png\""), "{saved}");
    let (list, _) = call(&server, "browser_downloads", h(json!({})));
    assert!(list.contains("- shot.png ("), "{list}");

    // Searching the snapshot: the match, where it is, what follows.
    let (found, error) = call(&server, "browser_find", h(json!({"text": "DROP here"})));
    assert!(
        !error && found.contains("### Match 1") && found.contains("Drop here"),
        "{found}"
    );
    let (found, _) = call(&server, "browser_find", h(json!({"regex": "/SPOT/i"})));
    assert!(found.contains("button \"Spot\""), "{found}");
    let (none, _) = call(&server, "browser_find", h(json!({"text": "no such words"})));
    assert!(none.contains("No matches"), "{none}");
    let (bad, error) = call(&server, "browser_find", h(json!({"regex": "(unclosed"})));
    assert!(
        error && bad.contains("not a valid regular expression"),
        "{bad}"
    );

    // Console levels: each includes the more severe ones; info by default.
    let (errors, _) = call(
        &server,
        "browser_console_messages",
        h(json!({"level": "error"})),
    );
    assert!(
        errors.contains("broken") && !errors.contains("careful"),
        "{errors}"
    );
    let (info, _) = call(&server, "browser_console_messages", h(json!({})));
    assert!(
        info.contains("careful") && info.contains("broken") && !info.contains("a debug note"),
        "{info}"
    );
    let (debug, _) = call(
        &server,
        "browser_console_messages",
        h(json!({"level": "debug"})),
    );
    assert!(debug.contains("a debug note"), "{debug}");

    // Requests since the page loaded, filtered, and one in full.
    let (requests, error) = call(
        &server,
        "browser_network_requests",
        h(json!({"filter": "widget\\?from=drag"})),
    );
    assert!(!error, "{requests}");
    let line = requests
        .lines()
        .find(|l| l.contains("/lab/widget?from=drag"))
        .unwrap_or_else(|| panic!("{requests}"));
    assert!(!requests.contains("/lab/drag "), "filtered: {requests}");
    let number: u64 = line.split('.').next().unwrap().parse().unwrap();
    let (details, error) = call(
        &server,
        "browser_network_request",
        h(json!({"index": number})),
    );
    assert!(
        !error
            && details.contains("=> 200")
            && details.contains("### Response headers")
            && details.contains("Reserve court 6"),
        "{details}"
    );
    let (body, _) = call(
        &server,
        "browser_network_request",
        h(json!({"index": number, "part": "response-body"})),
    );
    assert!(
        body.contains("Reserve court 6") && !body.contains("###"),
        "{body}"
    );
    let (missing, error) = call(&server, "browser_network_request", h(json!({"index": 999})));
    assert!(
        error && missing.contains("there is no request 999"),
        "{missing}"
    );
    // A new page starts a new list.
    call(
        &server,
        "browser_navigate",
        h(json!({"url": format!("{}/lab/form", demo.url)})),
    );
    let (requests, _) = call(&server, "browser_network_requests", h(json!({})));
    assert!(
        requests.contains("/lab/form") && !requests.contains("from=drag"),
        "{requests}"
    );
}

/// A Chromium of its own with a DevTools WebSocket (`--remote-debugging-port`), standing in for a
/// browser service on another machine; killed when dropped.
struct RemoteBrowser {
    child: Child,
    ws: String,
    _profile: tempfile::TempDir,
}

impl RemoteBrowser {
    fn start() -> RemoteBrowser {
        let profile = tempfile::tempdir().unwrap();
        // Without the sandbox, which refuses to run as root (CI runs the tests as root); this
        // browser only ever opens the demo's pages.
        let mut child = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--remote-debugging-port=0",
                "--no-first-run",
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts (scripts/test installs it)");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut ws = None;
        for line in stderr.lines() {
            let line = line.expect("chromium's stderr");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                ws = Some(url.trim().to_string());
                break;
            }
        }
        RemoteBrowser {
            child,
            ws: ws.expect("chromium prints its DevTools WebSocket"),
            _profile: profile,
        }
    }
}

impl Drop for RemoteBrowser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_remote_browser_is_driven_over_its_websocket_under_the_same_url_policy() {
    let demo = Demo::start();
    let browser = RemoteBrowser::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keel.toml"),
        format!(
            "[browser]\nws = \"{}\"\nnavigation_timeout = \"5s\"\naction_timeout = \"3s\"\n",
            browser.ws
        ),
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--tools",
            "all",
            "--browser",
            "on",
            "--browser-allow",
            "127.0.0.1",
        ],
    );

    // The booking, on the remote browser.
    let (page, error) = open(&server, &format!("{}/park/riverside", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    let (page, error) = call(
        &server,
        "browser_click",
        json!({"handle": handle, "target": ref_of(&page, "[Court 3 × 17:00]")}),
    );
    assert!(!error && page.contains("Court 3, 17:00"), "{page}");
    let (typed, error) = call(
        &server,
        "browser_type",
        json!({"handle": handle, "target": ref_of(&page, "textbox \"Your name\""), "text": "Maria Bueno", "submit": true}),
    );
    assert!(!error && typed.contains("Booking confirmed"), "{typed}");
    let records: Value = serde_json::from_str(&demo.get("/api/bookings")).unwrap();
    assert_eq!(records["bookings"][0]["name"], "Maria Bueno");

    // The URL policy holds for the remote browser's own requests too: what a page asks for on
    // private and metadata addresses is refused (checked in the protocol, not by a proxy).
    assert_leak_refused(&server, &demo, Some(&handle));
    let (refused, error) = navigate(&server, &handle, "http://169.254.169.254/latest/meta-data/");
    assert!(
        error && refused.contains("refused by the URL policy"),
        "{refused}"
    );
    // A tab the page opens is held until its requests are checked too.
    let (clicked, error) = open_and_click(
        &server,
        &handle,
        &format!("{}/lab/popleak", demo.url),
        "Open the metadata",
    );
    assert!(!error, "{clicked}");
    let requests = until_shown_by(
        &server,
        "browser_network_requests",
        &handle,
        clicked,
        "http://169.254.169.254/latest/user-data",
    );
    assert!(requests.contains("Refused by the URL policy"), "{requests}");
    // WebRTC's UDP, which no request interception sees, goes nowhere either.
    common::browser::assert_no_udp_from_the_page(&server, &handle);

    // Files stay on this machine: an upload says why it cannot be done.
    let (page, _) = navigate(&server, &handle, &format!("{}/lab/upload", demo.url));
    let (upload, error) = call(
        &server,
        "browser_file_upload",
        json!({"handle": handle, "target": ref_of(&page, "button"), "files": [{"name": "a.txt", "text": "hi"}]}),
    );
    assert!(error && upload.contains("remote browser"), "{upload}");
}

/// A TLS terminator with a self-signed certificate for `localhost` in front of a plain TCP
/// address: a browser service behind `wss://`. Runs until the test process ends.
struct TlsFront {
    port: u16,
    /// The certificate as PEM, for a client that is to trust it (`SSL_CERT_FILE`).
    cert_file: tempfile::NamedTempFile,
}

impl TlsFront {
    fn start(backend: String) -> TlsFront {
        use tokio_rustls::rustls;
        let (cert, key) = self_signed_localhost();
        let cert_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cert_file.path(), cert.pem()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, backend) = (acceptor.clone(), backend.clone());
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        if let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                        }
                    });
                }
            });
        });
        TlsFront { port, cert_file }
    }
}

/// A new self-signed certificate for `localhost` and its key.
fn self_signed_localhost() -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert, key)
}

#[test]
fn a_remote_browser_behind_tls_is_reached_over_wss_and_an_unknown_certificate_is_refused() {
    let demo = Demo::start();
    let browser = RemoteBrowser::start();
    // ws://127.0.0.1:PORT/devtools/browser/ID → wss://localhost:FRONT/devtools/browser/ID
    let rest = browser.ws.strip_prefix("ws://").expect("a ws:// URL");
    let (backend, path) = rest.split_once('/').expect("a path");
    let front = TlsFront::start(backend.to_string());
    let wss = format!("wss://localhost:{}/{path}", front.port);
    let settings = |dir: &std::path::Path| {
        std::fs::write(
            dir.join("keel.toml"),
            format!("[browser]\nws = \"{wss}\"\nnavigation_timeout = \"5s\"\n"),
        )
        .unwrap();
    };

    // Trusted (the certificate named by SSL_CERT_FILE): the booking page, read and clicked.
    let dir = tempfile::tempdir().unwrap();
    settings(dir.path());
    let cert = front.cert_file.path().to_str().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            "--tools",
            "all",
            "--browser",
            "on",
            "--browser-allow",
            "127.0.0.1",
        ],
        &[("SSL_CERT_FILE", cert), ("SSL_CERT_DIR", "/nonexistent")],
    );
    let (page, error) = open(&server, &format!("{}/park/riverside", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    let (page, error) = click(&server, &handle, &ref_of(&page, "[Court 3 × 17:00]"));
    assert!(!error && page.contains("Court 3, 17:00"), "{page}");
    drop(server);

    // Not trusted (only another certificate is): a clear error that says what to do.
    let dir = tempfile::tempdir().unwrap();
    settings(dir.path());
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), self_signed_localhost().0.pem()).unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            "--tools",
            "all",
            "--browser",
            "on",
            "--browser-allow",
            "127.0.0.1",
        ],
        &[
            ("SSL_CERT_FILE", other.path().to_str().unwrap()),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    let (refused, error) = open(&server, &format!("{}/park/riverside", demo.url));
    assert!(
        error
            && refused.contains("cannot connect to the browser")
            && refused.contains("invalid peer certificate")
            && refused.contains("SSL_CERT_FILE"),
        "{refused}"
    );
}

#[test]
fn snapshots_read_roles_names_and_states_and_leave_out_what_is_hidden() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_browser(dir.path(), Some("127.0.0.1"));
    let (page, error) = open(&server, &format!("{}/lab/aria", demo.url));
    assert!(!error, "{page}");
    let handle = handle_of(&page);
    for line in [
        "button \"Lights\" [pressed] [ref=",
        "textbox \"Court number\" [value=\"4\"] [ref=",
        "textbox \"Coach\" [ref=",
        "textbox \"Promo code\" [ref=",
        "textbox \"Password\" [value=\"•••\"] [ref=",
        "textbox \"Notes\" [value=\"Bring balls\"] [ref=",
        "listbox \"Extras\" [ref=",
        "option \"Towels\" [selected] [ref=",
        "group \"Closed courts\" [disabled]",
        "button \"Court 9\" [disabled] [ref=",
        "button \"More options\" [ref=",
        "link \"Still shown\" [ref=",
        "heading \"Level two\" [level=2]",
        "img \"Court map\"",
        "clickable \"Court 7 indoor\" [ref=",
        "navigation \"Inner\":",
        "link \"Slotted link\" [ref=",
        "button \"Shadow action\" [ref=",
    ] {
        assert!(page.contains(line), "no {line:?} in\n{page}");
    }
    // A table that only lays the page out is not a table of data: its text and links, in order.
    for line in [
        "link \"News item\" [ref=",
        "- \"3 points\"",
        "- \"2 hours ago\"",
    ] {
        assert!(page.contains(line), "no {line:?} in\n{page}");
    }
    for hidden in [
        "Hidden option",
        "Gone",
        "Invisible",
        "Muted",
        "ignored",
        "- table",
        "- row",
    ] {
        assert!(
            !page.contains(hidden),
            "{hidden:?} is not shown, yet in\n{page}"
        );
    }
    assert_eq!(page.matches("- img").count(), 1, "{page}");

    // A div made a button, a card that only shows the pointing hand: both clicked like buttons.
    let (clicked, error) = click(&server, &handle, &ref_of(&page, "\"Lights\""));
    assert!(!error && clicked.contains("\"Lights on\""), "{clicked}");
    let (clicked, error) = click(&server, &handle, &ref_of(&clicked, "clickable \"Court 7"));
    assert!(!error && clicked.contains("chosen"), "{clicked}");
    // A styled checkbox whose input is hidden: its label is what is clicked.
    let (clicked, error) = click(
        &server,
        &handle,
        &ref_of(&clicked, "clickable \"Ball machine\""),
    );
    assert!(!error && clicked.contains("machine on"), "{clicked}");
    // A field named by another element takes typing; the snapshot shows the new value.
    let (typed, error) = call(
        &server,
        "browser_type",
        json!({"handle": handle, "target": ref_of(&clicked, "textbox \"Court number\""), "text": "6"}),
    );
    assert!(!error, "{typed}");
    let (page, _) = call(&server, "browser_snapshot", json!({"handle": handle}));
    assert!(
        page.contains("textbox \"Court number\" [value=\"6\"]"),
        "{page}"
    );

    // A navigation's snapshot is what the page's load listeners left, and what changed after:
    // the tree keel's world walks as the load ends is dropped when the page changes later.
    let (page, error) = navigate(&server, &handle, &format!("{}/lab/onload", demo.url));
    assert!(
        !error
            && page.contains("changed by a load listener")
            && page.contains("button \"Added at pageshow\" [ref="),
        "{page}"
    );

    // Another port of the same host: another origin in the same process, read and clicked in
    // its own frame.
    let other = Demo::start();
    let page = reserve_court_6(
        &server,
        &handle,
        &format!("{}/lab/frame?src={}/lab/widget", demo.url, other.url),
    );
    assert!(page.contains("iframe \"Framed page\""), "{page}");
}
