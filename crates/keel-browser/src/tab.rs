//! One page (tab) of a browsing session: its flat CDP session, its state (kept up to date from
//! the page's events, `events.rs`), its element refs, navigation, settling and snapshots. An
//! action returns as soon as what it caused has settled (a navigation, the requests it started, a
//! short quiet period), not after a fixed pause. Frames and keel's world in each are in
//! `frames.rs`, the actions in `input.rs`, what a page gives out in `inspect.rs`, pages that stop
//! answering in `stuck.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::cdp::Connection;
use crate::error::BrowserError;
use crate::snapshot::{self, PageNode, Snapshot, SnapshotOptions};

mod events;
mod frames;
mod input;
mod inspect;
mod pointer;
mod stuck;

pub(crate) use input::modifier_bit;

use events::{apply, frame_event};
use frames::{ChildFrame, has_frames, split_node};

/// How long an action waits for what it started (a task queued by a click, a fetch) to show up.
const SETTLE_GRACE: Duration = Duration::from_millis(5);
/// Quiet time after the last request finished before the page counts as settled.
const SETTLE_QUIET: Duration = Duration::from_millis(10);
/// Longest wait for requests still running once the page itself has loaded (long polls never end).
const SETTLE_REQUESTS_MAX: Duration = Duration::from_millis(1500);
/// How long a load goes on being waited for once its document is parsed: what is still coming
/// then (a slow image, a tracker that never answers) does not hold the agent up longer.
const LOAD_AFTER_DOM_MAX: Duration = Duration::from_secs(5);
/// How long a download that a navigation or a click led to may take to begin.
const DOWNLOAD_START_WAIT: Duration = Duration::from_secs(2);
/// How long a requested navigation may take to start loading before it counts as cancelled.
const NAVIGATION_START_MAX: Duration = Duration::from_millis(500);
/// How long a failed navigation waits for the browser's error page to commit (it does so after
/// the navigation's answer; measured here: 10–30 ms).
const ERROR_PAGE_WAIT: Duration = Duration::from_secs(1);
/// How long a snapshot's tree is reused at most while the page reports no change: what changes
/// without touching the DOM (a value a script sets, a transition that ends) shows within this.
const TREE_CACHE_MAX: Duration = Duration::from_secs(1);

/// Time limits of a tab's work.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A navigation (and the load it starts).
    pub navigation: Duration,
    /// Any other action, and each protocol call.
    pub action: Duration,
}

/// A JavaScript dialog waiting for an answer.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// `alert`, `confirm`, `prompt` or `beforeunload`.
    pub kind: String,
    /// Its message.
    pub message: String,
}

impl Dialog {
    /// "an alert dialog", "a confirm dialog", …
    pub fn described(&self) -> String {
        let article = if self.kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {} dialog", self.kind)
    }
}

/// A request the page made.
#[derive(Debug, Clone)]
pub struct NetworkEntry {
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
    /// Status, once the response came (0: none came, see `failure`).
    pub status: i64,
    /// Resource type (Document, XHR, Fetch, Script, …).
    pub kind: String,
    /// The protocol's ID of the request (to ask for its response body).
    pub request_id: String,
    /// Request headers, as sent.
    pub request_headers: Value,
    /// Whether the request carried a body (read on demand).
    pub has_body: bool,
    /// Response headers, once the response came.
    pub response_headers: Value,
    /// The main-frame document the request was made in (see `TabState::documents`).
    pub document: u64,
    /// Why it failed (the protocol's `errorText`, like `net::ERR_NAME_NOT_RESOLVED`), if it did.
    pub failure: Option<String>,
}

impl NetworkEntry {
    /// How it ended, as the network tools show it: the status, the failure, or `pending`.
    pub fn outcome(&self) -> String {
        match (&self.failure, self.status) {
            (None, 0) => "pending".to_string(),
            (None, status) => status.to_string(),
            (Some(failure), 0) => format!("failed: {failure}"),
            (Some(failure), status) => format!("{status}, then failed: {failure}"),
        }
    }
}

/// A console message (or an uncaught exception) of the page.
#[derive(Debug, Clone)]
pub struct ConsoleEntry {
    /// `error`, `warning`, `info` or `debug`.
    pub level: &'static str,
    /// The line as shown: `[type] text`.
    pub line: String,
    /// The main-frame document it came from (see `TabState::documents`).
    pub document: u64,
}

#[derive(Default)]
struct TabState {
    /// The main frame's URL; on the browser's error page, the URL that could not be opened.
    url: String,
    /// The main frame shows the browser's error page for `url` (it could not be opened).
    error_page: bool,
    main_frame: Option<String>,
    loading: bool,
    /// Main-frame loads begun (grows with every one): a load that began after an action's mark
    /// is the action's to wait for.
    loads: u64,
    /// When the main frame's document was parsed (`DOMContentLoaded`).
    dom_ready_at: Option<Instant>,
    /// A main-frame load began and has not committed yet (to a new document or within this one).
    committing: bool,
    /// Main-frame loads that stopped without committing (a download, a 204, a cancelled one).
    loads_gone_nowhere: u64,
    /// Events the listener has taken in (see `Tab::caught_up`).
    events_taken: u64,
    /// Requests in flight: request ID -> the frame it loads for and its number (see `requests`).
    inflight: HashMap<String, (String, u64)>,
    /// Requests the page has made (each one's number is the count when it began).
    requests: u64,
    /// Downloads the page began (each one's number is the count when it began).
    downloads: u64,
    /// Downloads running: GUID -> number.
    downloading: HashMap<String, u64>,
    /// Downloads finished (saved).
    downloads_done: u64,
    last_activity: Option<Instant>,
    /// Main-frame documents seen (grows with every navigation).
    documents: u64,
    refs: HashMap<i64, u64>,
    by_ref: HashMap<u64, i64>,
    /// The execution context of keel's world in each frame known to have one (frame ID →
    /// context ID), from the page's events or made on demand.
    worlds: HashMap<String, i64>,
    next_ref: u64,
    /// The first ref number handed out for the current document: lower ones are stale.
    document_first_ref: u64,
    dialog: Option<Dialog>,
    /// The `<input type=file>` whose chooser a click opened (intercepted, never shown).
    file_chooser: Option<i64>,
    /// When a main-frame navigation was requested and has not started loading yet.
    navigation_requested: Option<Instant>,
    /// Main-frame navigations the page asked for (a script, a form): announced before the
    /// answer to the call that asked, while the load starts in a task of its own.
    navigations_requested: u64,
    /// Windows (tabs) the page opened (`Page.windowOpen`, announced before the answer to the
    /// call that opened them).
    windows_opened: u64,
    /// The tree of the last snapshot and when it was walked, while the page reports no change
    /// to it (and for `TREE_CACHE_MAX` at most).
    tree_cache: Option<(Instant, Arc<Vec<PageNode>>)>,
    /// The main-frame document (see `documents`) whose walk at load keel's world has begun and
    /// not yet sent (see `TREE_BINDING`).
    walking_at_load: Option<u64>,
    /// Frames walked on their own: out-of-process (cross-site) iframes attached to this page, and
    /// cross-origin iframes in a process already known. An element in the one at `index` is
    /// named by `number + (index + 1) << 32` (see `split_node`), so refs and targets stay plain
    /// numbers.
    child_frames: Vec<Option<ChildFrame>>,
    console: VecDeque<ConsoleEntry>,
    network: VecDeque<NetworkEntry>,
    network_index: HashMap<String, usize>,
    network_base: usize,
    closed: bool,
    /// Since when the page has not answered (a call timed out, or a probe did); see `stuck.rs`.
    stuck_since: Option<Instant>,
    /// Dialogs the page has opened (to tell one dialog from dialogs without end).
    dialogs_opened: u64,
    /// Where keel last put the mouse (viewport coordinates).
    mouse: (f64, f64),
    /// The mouse buttons held down now (the protocol's `buttons` bits), so that a move between
    /// `browser_mouse_down` and `browser_mouse_up` is a move with the button held.
    held: i64,
    /// The data of a drag the page started while drags are intercepted (see `pointer.rs`).
    drag: Option<Value>,
    /// Emulated CSS media features (name → value) and media type (`media`), as last set.
    media: serde_json::Map<String, Value>,
    /// The viewport size `browser_resize` set, if it did.
    viewport: Option<(u32, u32)>,
}

/// A page of a browsing session.
pub struct Tab {
    /// The CDP target ID.
    pub target_id: String,
    /// The flat session ID of the target.
    pub session_id: String,
    conn: Connection,
    state: Arc<Mutex<TabState>>,
    changed: Arc<Notify>,
    /// Events the browser has sent this tab's listener (see `Tab::caught_up`).
    routed: Arc<std::sync::atomic::AtomicU64>,
    timeouts: Timeouts,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// What an action caused, for its tool result.
#[derive(Debug, Clone, Default)]
pub struct ActionOutcome {
    /// The page's URL after the action.
    pub url: String,
    /// True if the main frame loaded a new document.
    pub navigated: bool,
    /// A dialog the action opened (answer it with `handle_dialog`).
    pub dialog: Option<Dialog>,
    /// True if the action opened a file chooser (answer it with `upload_files`).
    pub file_chooser: bool,
    /// True if the page was still busy when the wait ran out.
    pub still_busy: bool,
    /// Downloads the action began that finished.
    pub downloads: u64,
    /// A download the action began was still running when the wait ended.
    pub downloading: bool,
    /// Since when the page has not answered, if a script keeps it busy.
    pub stuck_since: Option<Instant>,
}

/// Where a page was when an action began: `Tab::settle` waits for what came after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    documents: u64,
    loads: u64,
    requests: u64,
    downloads: u64,
    downloads_done: u64,
    loads_gone_nowhere: u64,
    navigations_requested: u64,
    /// Requests logged so far (the next one's index in the network log).
    network: usize,
}

impl TabState {
    /// The last document request logged at index `from` of the network log or later that is for
    /// `url` (if given) and matches `also`.
    fn last_document(
        &self,
        from: usize,
        url: Option<&str>,
        also: impl Fn(&NetworkEntry) -> bool,
    ) -> Option<&NetworkEntry> {
        self.network
            .iter()
            .skip(from.saturating_sub(self.network_base))
            .rfind(|e| e.kind == "Document" && url.is_none_or(|u| e.url == u) && also(e))
    }

    /// The status of the last answered document request (for `url`, if given) logged at index
    /// `from` of the network log or later.
    fn document_status(&self, from: usize, url: Option<&str>) -> Option<i64> {
        self.last_document(from, url, |e| e.status != 0)
            .map(|e| e.status)
    }

    /// A mark for an action that lets a blocked page go on (answering the dialog it waits in):
    /// the load it was in counts as the action's, like one the action started.
    fn mark_resuming(&self) -> Mark {
        let mut mark = self.mark();
        if self.loading {
            mark.loads = mark.loads.saturating_sub(1);
        }
        mark
    }

    fn mark(&self) -> Mark {
        Mark {
            documents: self.documents,
            loads: self.loads,
            requests: self.requests,
            downloads: self.downloads,
            downloads_done: self.downloads_done,
            loads_gone_nowhere: self.loads_gone_nowhere,
            navigations_requested: self.navigations_requested,
            network: self.network_base + self.network.len(),
        }
    }
}

impl Tab {
    /// Attaches to `target_id` and enables the domains the tab uses.
    pub async fn attach(
        conn: Connection,
        target_id: String,
        timeouts: Timeouts,
    ) -> Result<Arc<Tab>, BrowserError> {
        // The session's events (and its frames') come to this tab's listener alone.
        let (session_id, mut events, routed) = conn.attach(&target_id, timeouts.action).await?;
        let state = Arc::new(Mutex::new(TabState::default()));
        let changed = Arc::new(Notify::new());
        let listener = {
            let state = Arc::clone(&state);
            let changed = Arc::clone(&changed);
            let session = session_id.clone();
            let conn = conn.clone();
            // A new out-of-process frame announces the cross-site frames inside it in turn.
            let announce = move |child: String| {
                let conn = conn.clone();
                tokio::spawn(async move {
                    let _ = conn
                        .call(
                            "Target.setAutoAttach",
                            json!({"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true}),
                            Some(&child),
                            timeouts.action,
                        )
                        .await;
                });
            };
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    let on_page = event.session_id.as_deref() == Some(session.as_str());
                    let page_detached = event.method == "Target.detachedFromTarget"
                        && event.params["sessionId"] == json!(session);
                    if page_detached {
                        // Its last event (see `Connection::attach`).
                        break;
                    }
                    let frame_change = matches!(
                        event.method.as_str(),
                        "Target.attachedToTarget" | "Target.detachedFromTarget"
                    );
                    if !on_page {
                        // Frames inside one of the page's out-of-process frames.
                        if frame_change {
                            let new = {
                                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                                let from = event.session_id.as_deref();
                                let parent = s.child_frames.iter().position(|c| {
                                    c.as_ref().is_some_and(|c| Some(c.session.as_str()) == from)
                                });
                                parent.and_then(|p| {
                                    frame_event(&mut s, p + 1, &event.method, &event.params)
                                })
                            };
                            if let Some(child) = new {
                                announce(child);
                            }
                        }
                        state.lock().unwrap_or_else(|p| p.into_inner()).events_taken += 1;
                        changed.notify_waiters();
                        continue;
                    }
                    tracing::trace!(method = %event.method, "tab event");
                    apply(&state, &event.method, &event.params);
                    if event.method == "Target.attachedToTarget"
                        && event.params["targetInfo"]["type"] == "iframe"
                        && let Some(child) = event.params["sessionId"].as_str()
                    {
                        announce(child.to_string());
                    }
                    state.lock().unwrap_or_else(|p| p.into_inner()).events_taken += 1;
                    changed.notify_waiters();
                }
                state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
                changed.notify_waiters();
            })
        };
        let tab = Arc::new(Tab {
            target_id,
            session_id,
            conn,
            state,
            changed,
            routed,
            timeouts,
            listener,
        });
        // Sent together: the browser runs them in order, without a round trip between each.
        let setup = [
            ("Page.enable", json!({})),
            ("Page.setLifecycleEventsEnabled", json!({"enabled": true})),
            ("Runtime.enable", json!({})),
            ("Network.enable", json!({"maxPostDataSize": 0})),
            (
                "Page.setInterceptFileChooserDialog",
                json!({"enabled": true}),
            ),
            // keel's script runs in every document, in a world the page cannot see: it walks the
            // page for snapshots, names elements for actions, and reports page changes so that an
            // unchanged page's snapshot is served from cache and a changed one never is.
            (
                "Runtime.addBinding",
                json!({"name": CHANGE_BINDING, "executionContextName": KEEL_WORLD}),
            ),
            // The top document's tree, walked as its load ends (see `TREE_BINDING`).
            (
                "Runtime.addBinding",
                json!({"name": TREE_BINDING, "executionContextName": KEEL_WORLD}),
            ),
            (
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": WORLD_JS, "worldName": KEEL_WORLD, "runImmediately": true}),
            ),
            // Cross-site iframes run in their own process: attach to them to read and act on them.
            (
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true}),
            ),
        ];
        let results = futures::future::join_all(
            setup
                .into_iter()
                .map(|(method, params)| tab.call(method, params)),
        )
        .await;
        for result in results {
            result?;
        }
        let tree = tab.call("Page.getFrameTree", json!({})).await?;
        {
            let mut state = tab.lock();
            state.main_frame = tree["frameTree"]["frame"]["id"]
                .as_str()
                .map(str::to_string);
            state.url = tree["frameTree"]["frame"]["url"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        Ok(tab)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TabState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (woken by the page's events) until `done` holds for the tab's state, for `wait` at
    /// most; whether it came to hold.
    async fn wait_until(&self, wait: Duration, mut done: impl FnMut(&TabState) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            if done(&self.lock()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        }
    }

    /// A protocol call on this tab with the action timeout.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.call_in(&self.session_id, method, params).await
    }

    /// How many windows (tabs) the page has opened so far.
    pub fn windows_opened(&self) -> u64 {
        self.lock().windows_opened
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.lock().url.clone()
    }

    /// The HTTP status the current document came with, if it is known.
    pub fn document_status(&self) -> Option<i64> {
        let s = self.lock();
        s.document_status(0, Some(&s.url))
    }

    /// Why the main frame shows the browser's error page instead of its URL's page, if it does
    /// (`navigation_error`'s words; the browser's own code when the request's failure is not
    /// known).
    pub fn load_error(&self) -> Option<String> {
        let s = self.lock();
        if !s.error_page {
            return None;
        }
        let failure = s
            .last_document(0, Some(&s.url), |_| true)
            .and_then(|e| e.failure.clone());
        Some(match failure {
            Some(error) => navigation_error(&s.url, &error, s.document_status(0, Some(&s.url))),
            None => format!("could not open {}: the browser shows its error page", s.url),
        })
    }

    /// True once the tab was closed or its browser went away.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The dialog waiting for an answer, if any.
    pub fn dialog(&self) -> Option<Dialog> {
        self.lock().dialog.clone()
    }

    /// Opens `url` and waits for it to load.
    pub async fn navigate(&self, url: &str) -> Result<ActionOutcome, BrowserError> {
        if !self.unstick().await? {
            return Err(stuck::dialogs_without_end());
        }
        let before = {
            let mut s = self.lock();
            s.tree_cache = None;
            s.mark()
        };
        let result = self
            .conn
            .call(
                "Page.navigate",
                json!({"url": url}),
                Some(&self.session_id),
                self.timeouts.navigation,
            )
            .await?;
        if result["isDownload"] == json!(true) {
            // Not a page: the download it began is the result.
            return Ok(self.await_download(before).await);
        }
        if let Some(error) = result.get("errorText").and_then(Value::as_str)
            && !error.is_empty()
        {
            // What the server answered, if it did (its event may come a moment after the call's),
            // and the browser's error page, which it commits after answering: a navigation begun
            // meanwhile races it (measured: the error page then committed during the next
            // navigation, and the pages after it were never announced, so the tab kept the error
            // page's URL and the old page's refs). A cancelled navigation (a 204, a download)
            // commits nothing.
            let error_page = error != "net::ERR_ABORTED";
            let wait = if error_page {
                ERROR_PAGE_WAIT
            } else {
                Duration::from_millis(300)
            };
            self.wait_until(wait, |s| {
                let answered = s
                    .last_document(before.network, None, |_| true)
                    .is_some_and(|e| e.status != 0 || e.failure.is_some());
                s.closed
                    || if error_page {
                        s.documents > before.documents
                    } else {
                        answered
                    }
            })
            .await;
            let status = self.lock().document_status(before.network, None);
            return Err(BrowserError::Invalid(navigation_error(url, error, status)));
        }
        // The load began before the answer, but the tab may not have seen its events yet: a new
        // document's start, or a same-document navigation's end (it has no loader).
        let new_document = result.get("loaderId").is_some();
        self.wait_until(NAVIGATION_START_MAX, |s| {
            (s.loads > before.loads && (new_document || !s.committing))
                || s.documents > before.documents
                || s.closed
        })
        .await;
        let navigated_at = Instant::now();
        let mut outcome = self.settle(before, self.timeouts.navigation, false).await;
        tracing::debug!(
            settle_ms = navigated_at.elapsed().as_secs_f64() * 1000.0,
            "navigation settled"
        );
        outcome.navigated = true;
        Ok(outcome)
    }

    /// Goes back in history.
    pub async fn back(&self) -> Result<ActionOutcome, BrowserError> {
        if !self.unstick().await? {
            return Err(stuck::dialogs_without_end());
        }
        let history = self.call("Page.getNavigationHistory", json!({})).await?;
        let index = history["currentIndex"].as_i64().unwrap_or(0);
        if index <= 0 {
            return Err(BrowserError::Invalid(
                "there is no previous page in this tab's history".into(),
            ));
        }
        let entry = &history["entries"][(index - 1) as usize];
        let before = self.lock().mark();
        self.call(
            "Page.navigateToHistoryEntry",
            json!({"entryId": entry["id"]}),
        )
        .await?;
        Ok(self.settle(before, self.timeouts.navigation, true).await)
    }

    /// Waits until what an action started (after `before`) has settled: a load (for 5 s at most
    /// once its document is parsed), the requests and downloads it began, then a short quiet
    /// period. What was already going on is the page's own. Returns early when a dialog opens.
    pub(crate) async fn settle(
        &self,
        before: Mark,
        budget: Duration,
        grace: bool,
    ) -> ActionOutcome {
        let start = Instant::now();
        let deadline = start + budget;
        if grace {
            tokio::time::sleep(SETTLE_GRACE).await;
        }
        let mut loaded_at: Option<Instant> = None;
        let mut still_busy = false;
        // A load that goes on may be a script that never yields: the page is asked whether it
        // still answers, instead of waiting out the whole budget.
        let mut probe_at = start + stuck::PROBE_AFTER;
        let mut unanswered = 0;
        loop {
            let notified = self.changed.notified();
            let (loading, load_until, inflight, downloading, last, dialog, closed, navigated) = {
                let s = self.lock();
                // Only what began after the mark is the action's: a load or requests already
                // going on (a page still fetching a slow image) are the page's own business.
                let own_load = s.loading && s.loads > before.loads;
                (
                    own_load
                        || s.navigation_requested
                            .is_some_and(|t| t.elapsed() < NAVIGATION_START_MAX),
                    s.dom_ready_at
                        .filter(|_| own_load && !s.committing)
                        .map(|t| t + LOAD_AFTER_DOM_MAX),
                    s.inflight.values().any(|(_, n)| *n > before.requests),
                    s.downloading.values().any(|n| *n > before.downloads),
                    s.last_activity,
                    s.dialog.is_some(),
                    s.closed,
                    s.documents > before.documents,
                )
            };
            if dialog || closed {
                break;
            }
            let now = Instant::now();
            // A parsed document's load is waited for a while, not for the whole budget.
            let deadline = load_until.map_or(deadline, |until| until.min(deadline));
            if now >= deadline {
                still_busy = loading || inflight || downloading;
                // Still loading: a slow page, or one whose script never yields?
                if loading && !self.answers(stuck::PROBE_WAIT).await {
                    self.mark_stuck();
                }
                break;
            }
            if loading && now >= probe_at {
                if self.answers(stuck::PROBE_WAIT).await {
                    unanswered = 0;
                    probe_at = Instant::now() + stuck::PROBE_AFTER;
                } else {
                    // Twice in a row: a page that lays out something huge may miss one.
                    unanswered += 1;
                    if unanswered == 2 {
                        self.mark_stuck();
                        still_busy = true;
                        break;
                    }
                }
                continue;
            }
            let wait = if loading {
                // Woken by events; re-checked at least every 50 ms (a requested navigation that
                // never starts stops counting).
                (deadline - now).min(Duration::from_millis(50))
            } else if downloading {
                // A download the action began: its file is the result.
                deadline - now
            } else if inflight {
                let since = *loaded_at.get_or_insert(now);
                if now.duration_since(since) >= SETTLE_REQUESTS_MAX {
                    still_busy = true;
                    break;
                }
                (since + SETTLE_REQUESTS_MAX).min(deadline) - now
            } else {
                // After a navigation (asked for, or caused by the action) the load event is the
                // signal; otherwise a short quiet period lets the page react to what its requests
                // brought.
                let needed = if grace && !navigated {
                    SETTLE_QUIET
                } else {
                    Duration::ZERO
                };
                let quiet = last.map_or(needed, |t| now.duration_since(t));
                if quiet >= needed {
                    break;
                }
                needed - quiet
            };
            let _ = tokio::time::timeout(wait, notified).await;
        }
        let s = self.lock();
        ActionOutcome {
            url: s.url.clone(),
            navigated: s.documents > before.documents,
            dialog: s.dialog.clone(),
            file_chooser: s.file_chooser.is_some(),
            still_busy,
            downloads: s.downloads_done - before.downloads_done,
            downloading: s.downloading.values().any(|n| *n > before.downloads),
            stuck_since: s.stuck_since,
        }
    }

    /// Waits until the tab has taken in every event the browser sent before the answer to the
    /// last call came (the listener applies them a moment after they are read).
    pub(super) async fn caught_up(&self) {
        let routed = self.routed.load(std::sync::atomic::Ordering::SeqCst);
        self.wait_until(self.timeouts.action, |s| {
            s.events_taken >= routed || s.closed
        })
        .await;
    }

    /// Waits for the download that what happened since `before` is about to begin (a link to a
    /// file, a navigation that turned into a download), then for it to finish.
    pub(super) async fn await_download(&self, before: Mark) -> ActionOutcome {
        self.wait_until(DOWNLOAD_START_WAIT, |s| {
            s.downloads > before.downloads || s.dialog.is_some() || s.closed
        })
        .await;
        self.settle(before, self.timeouts.navigation, false).await
    }

    /// Tabs opened only to read a page (the reading tools given a URL) need no tree: their
    /// documents skip the walk at load.
    pub async fn skip_tree_at_load(&self) -> Result<(), BrowserError> {
        self.call("Runtime.removeBinding", json!({"name": TREE_BINDING}))
            .await
            .map(drop)
    }

    /// Waits for the tree of a walk at load that keel's world has begun and not yet sent (it
    /// runs as the page's load ends, so a call made meanwhile would queue behind it and walk
    /// again). Bounded by the navigation's limit; a dialog, the tab closing or a new document
    /// end the wait.
    async fn await_walk_at_load(&self) {
        self.wait_until(self.timeouts.navigation, |s| {
            s.walking_at_load != Some(s.documents) || s.dialog.is_some() || s.closed
        })
        .await;
    }

    /// The page's snapshot, with refs.
    pub async fn snapshot(&self, options: SnapshotOptions) -> Result<Snapshot, BrowserError> {
        if let Some(dialog) = self.dialog() {
            return Err(dialog_open(&dialog));
        }
        if options.root.is_none() {
            self.await_walk_at_load().await;
        }
        let cached = match options.root {
            None => self
                .lock()
                .tree_cache
                .clone()
                .filter(|(walked, _)| walked.elapsed() < TREE_CACHE_MAX)
                .map(|(_, nodes)| nodes),
            Some(_) => None,
        };
        let (nodes, frames) = match cached {
            Some(nodes) => (nodes, HashMap::new()),
            None => {
                let (holder, root) = match options.root {
                    Some(key) => {
                        let (holder, number) = split_node(key);
                        (holder, Some(number))
                    }
                    None => (0, None),
                };
                let nodes = Arc::new(self.walk(holder, root, "the page").await?);
                let frames = self.frame_trees(&nodes).await;
                if options.root.is_none() && frames.is_empty() && !has_frames(&nodes) {
                    // Kept until the page reports a change or an action runs: an unchanged page
                    // is not walked twice.
                    self.lock().tree_cache = Some((Instant::now(), Arc::clone(&nodes)));
                }
                (nodes, frames)
            }
        };
        let mut options = options;
        if options.with_boxes {
            options.boxes = self.boxes(&nodes, &frames).await;
        }
        let mut state = self.lock();
        let state = &mut *state;
        Ok(snapshot::render(&nodes, &frames, options, |key| {
            let n = *state.refs.entry(key).or_insert_with(|| {
                state.next_ref += 1;
                state.next_ref
            });
            state.by_ref.insert(n, key);
            format!("e{n}")
        }))
    }

    /// The tree of frame `holder`'s document (or of the element `root` in it), elements keyed
    /// page-wide (see `split_node`).
    async fn walk(
        &self,
        holder: usize,
        root: Option<i64>,
        target: &str,
    ) -> Result<Vec<PageNode>, BrowserError> {
        // A huge page takes a while to walk: it gets the navigation's time limit.
        let reply = self
            .call_world(
                holder,
                target,
                "function(root) { return __keel.snapshot(root); }",
                vec![json!(root)],
                self.timeouts.navigation,
            )
            .await?;
        let Some(text) = reply.as_str() else {
            return Err(BrowserError::Invalid(format!(
                "element {target} is no longer on the page; take a new snapshot (browser_snapshot)"
            )));
        };
        let mut nodes: Vec<PageNode> = serde_json::from_str(text).map_err(|e| {
            BrowserError::Protocol(format!("the page's tree could not be read: {e}"))
        })?;
        if holder > 0 {
            let offset = (holder as i64) << 32;
            for node in &mut nodes {
                if let Some(id) = node.id.as_mut() {
                    *id += offset;
                }
            }
        }
        Ok(nodes)
    }

    /// The DOM node a `target` names: a ref from the latest snapshot (`e12`) or a CSS selector
    /// that matches exactly one element.
    pub async fn resolve_target(&self, target: &str) -> Result<i64, BrowserError> {
        let target = target.trim();
        if let Some(n) = target.strip_prefix('e').and_then(|n| n.parse::<u64>().ok()) {
            let state = self.lock();
            if let Some(backend) = state.by_ref.get(&n) {
                return Ok(*backend);
            }
            return Err(BrowserError::Invalid(if n > state.next_ref {
                format!(
                    "ref {target} was never given out on this tab; take a snapshot (browser_snapshot) and use its refs"
                )
            } else if n < state.document_first_ref {
                format!(
                    "ref {target} is stale: it belongs to an earlier page; take a new snapshot (browser_snapshot) and use its refs"
                )
            } else {
                format!(
                    "ref {target} is not in the latest snapshot; take a new snapshot (browser_snapshot)"
                )
            }));
        }
        let found = self
            .call_world(
                0,
                target,
                "function(selector) { const all = document.querySelectorAll(selector); return all.length === 1 ? __keel.idOf(all[0]) : -all.length; }",
                vec![json!(target)],
                self.timeouts.action,
            )
            .await;
        let number = match found {
            Ok(number) => number.as_i64().unwrap_or(0),
            Err(BrowserError::Invalid(message)) if message.starts_with("script error") => {
                return Err(BrowserError::Invalid(format!(
                    "{target:?} is neither a ref from the snapshot (like e12) nor a valid CSS selector: {}",
                    message.lines().next().unwrap_or_default()
                )));
            }
            Err(error) => return Err(error),
        };
        match number {
            n if n > 0 => Ok(n),
            0 => Err(BrowserError::Invalid(format!(
                "selector {target:?} matches no element"
            ))),
            n => Err(BrowserError::Invalid(format!(
                "selector {target:?} matches {} elements; it must match exactly one (or use a ref from browser_snapshot)",
                -n
            ))),
        }
    }

    /// A call on the session `session` with the action timeout.
    async fn call_in(
        &self,
        session: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        self.page_call(session, method, params, self.timeouts.action)
            .await
    }
}

/// What a page's exception says (`exceptionDetails` of the protocol), else `default`.
fn exception_text<'a>(details: &'a Value, default: &'a str) -> &'a str {
    details["exception"]["description"]
        .as_str()
        .or(details["text"].as_str())
        .unwrap_or(default)
}

/// The error for an action while a dialog waits for an answer.
fn dialog_open(dialog: &Dialog) -> BrowserError {
    BrowserError::Invalid(format!(
        "{} is open ({:?}): answer it with browser_handle_dialog first",
        dialog.described(),
        dialog.message
    ))
}

/// What a failed navigation says: a refusal by the URL policy, or the browser's own error.
/// Why `url` could not be opened, from the browser's `error` and the HTTP status the server
/// answered with, if it did.
pub(crate) fn navigation_error(url: &str, error: &str, status: Option<i64>) -> String {
    if error.contains("ERR_TUNNEL_CONNECTION_FAILED") || error.contains("ERR_BLOCKED") {
        return format!(
            "refused by the URL policy: {url} ({error}); add its host to browser.allow to permit it"
        );
    }
    let why = match (error, status) {
        (_, Some(401)) | ("net::ERR_INVALID_AUTH_CREDENTIALS", _) => {
            "the server asks for a user name and password (HTTP authentication), which the browser tools do not give".to_string()
        }
        ("net::ERR_HTTP_RESPONSE_CODE_FAILURE", Some(status)) => {
            format!("the server answered HTTP {status} with an empty page")
        }
        ("net::ERR_ABORTED", Some(status @ (204 | 205))) => {
            format!("the server answered HTTP {status} (no content): there is no page to show")
        }
        ("net::ERR_NAME_NOT_RESOLVED", _) => "its host name does not resolve".to_string(),
        ("net::ERR_CONNECTION_REFUSED", _) => "nothing accepts connections there".to_string(),
        ("net::ERR_CONNECTION_TIMED_OUT" | "net::ERR_TIMED_OUT", _) => {
            "the server did not answer in time".to_string()
        }
        ("net::ERR_TOO_MANY_REDIRECTS", _) => "it redirects without end".to_string(),
        ("net::ERR_CERT_AUTHORITY_INVALID" | "net::ERR_CERT_COMMON_NAME_INVALID" | "net::ERR_CERT_DATE_INVALID", _) => {
            "its TLS certificate is not valid".to_string()
        }
        _ => return format!("could not open {url}: {error}"),
    };
    format!("could not open {url}: {why} ({error})")
}

/// The isolated world keel's own page scripts run in.
const KEEL_WORLD: &str = "keel";
/// The binding the change observer calls.
const CHANGE_BINDING: &str = "__keelChanged";
/// The binding keel's world in the top document sends its tree through when the document
/// finishes loading (`""` first, when the walk begins; `"!"` if it failed): kept as the cached
/// tree, so the snapshot of a navigation or of an action that loaded a page needs no walk of its
/// own. Tabs opened only to read a page drop it (`Tab::skip_tree_at_load`).
const TREE_BINDING: &str = "__keelTree";

/// keel's script in every frame's keel world (see `world.js`).
const WORLD_JS: &str = include_str!("world.js");
