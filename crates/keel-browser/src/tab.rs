//! One page (tab) of a browsing session: its flat CDP session, what its events tell (loading,
//! requests in flight, dialogs, console, network), its element refs, and the actions on it. An
//! action returns as soon as what it caused has settled (a navigation, the requests it started, a
//! short quiet period), not after a fixed pause.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::cdp::Connection;
use crate::error::BrowserError;
use crate::snapshot::{self, PageNode, Snapshot, SnapshotOptions};

mod stuck;

/// How long an action waits for what it started (a task queued by a click, a fetch) to show up.
const SETTLE_GRACE: Duration = Duration::from_millis(5);
/// Quiet time after the last request finished before the page counts as settled.
const SETTLE_QUIET: Duration = Duration::from_millis(10);
/// Longest wait for requests still running once the page itself has loaded (long polls never end).
const SETTLE_REQUESTS_MAX: Duration = Duration::from_millis(1500);
/// How long a requested navigation may take to start loading before it counts as cancelled.
const NAVIGATION_START_MAX: Duration = Duration::from_millis(500);
/// How long a snapshot's tree is reused at most while the page reports no change: what changes
/// without touching the DOM (a value a script sets, a transition that ends) shows within this.
const TREE_CACHE_MAX: Duration = Duration::from_secs(1);
/// Console messages and network requests kept per tab.
const LOG_KEPT: usize = 500;

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
    /// Status, once the response came (0: failed or pending).
    pub status: i64,
    /// Resource type (Document, XHR, Fetch, Script, …).
    pub kind: String,
}

#[derive(Default)]
struct TabState {
    url: String,
    main_frame: Option<String>,
    loading: bool,
    /// Requests in flight: request ID -> the frame it loads for.
    inflight: HashMap<String, String>,
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
    /// The tree of the last snapshot and when it was walked, while the page reports no change
    /// to it (and for `TREE_CACHE_MAX` at most).
    tree_cache: Option<(Instant, Arc<Vec<PageNode>>)>,
    /// Frames walked on their own: out-of-process (cross-site) iframes attached to this page, and
    /// cross-origin iframes in a process already known. An element in the one at `index` is
    /// named by `number + (index + 1) << 32` (see `split_node`), so refs and targets stay plain
    /// numbers.
    child_frames: Vec<Option<ChildFrame>>,
    console: VecDeque<String>,
    network: VecDeque<NetworkEntry>,
    network_index: HashMap<String, usize>,
    network_base: usize,
    closed: bool,
    /// Since when the page has not answered (a call timed out, or a probe did); see `stuck.rs`.
    stuck_since: Option<Instant>,
    /// Dialogs the page has opened (to tell one dialog from dialogs without end).
    dialogs_opened: u64,
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
    /// Since when the page has not answered, if a script keeps it busy.
    pub stuck_since: Option<Instant>,
}

impl Tab {
    /// Attaches to `target_id` and enables the domains the tab uses.
    pub async fn attach(
        conn: Connection,
        target_id: String,
        timeouts: Timeouts,
    ) -> Result<Arc<Tab>, BrowserError> {
        // Subscribe before attaching so that no event of the new session is missed.
        let mut events = conn.events();
        let attached = conn
            .call(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
                None,
                timeouts.action,
            )
            .await?;
        let session_id = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("attachToTarget gave no sessionId".into()))?
            .to_string();
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
                loop {
                    let event = match events.recv().await {
                        Ok(event) => event,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    };
                    let on_page = event.session_id.as_deref() == Some(session.as_str());
                    let page_detached = event.method == "Target.detachedFromTarget"
                        && event.params["sessionId"] == json!(session);
                    if page_detached {
                        state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
                        changed.notify_waiters();
                        continue;
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
                            changed.notify_waiters();
                        }
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

    /// A protocol call on this tab with the action timeout.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.call_in(&self.session_id, method, params).await
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.lock().url.clone()
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
        self.lock().tree_cache = None;
        let before = self.lock().documents;
        self.lock().loading = true;
        let result = self
            .conn
            .call(
                "Page.navigate",
                json!({"url": url}),
                Some(&self.session_id),
                self.timeouts.navigation,
            )
            .await?;
        if let Some(error) = result.get("errorText").and_then(Value::as_str)
            && !error.is_empty()
        {
            self.lock().loading = false;
            return Err(BrowserError::Invalid(navigation_error(url, error)));
        }
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
        let before = self.lock().documents;
        self.call(
            "Page.navigateToHistoryEntry",
            json!({"entryId": entry["id"]}),
        )
        .await?;
        Ok(self.settle(before, self.timeouts.navigation, true).await)
    }

    /// Waits until what an action started has settled: a navigation and the requests in flight,
    /// then a short quiet period. Returns early when a dialog opens.
    pub async fn settle(
        &self,
        documents_before: u64,
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
        loop {
            let notified = self.changed.notified();
            let (loading, inflight, last, dialog, closed, navigated) = {
                let s = self.lock();
                (
                    s.loading
                        || s.navigation_requested
                            .is_some_and(|t| t.elapsed() < NAVIGATION_START_MAX),
                    !s.inflight.is_empty(),
                    s.last_activity,
                    s.dialog.is_some(),
                    s.closed,
                    s.documents > documents_before,
                )
            };
            if dialog || closed {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                still_busy = loading || inflight;
                break;
            }
            if loading && now >= probe_at {
                if !self.answers(stuck::PROBE_WAIT).await {
                    self.mark_stuck();
                    still_busy = true;
                    break;
                }
                probe_at = Instant::now() + stuck::PROBE_AFTER;
                continue;
            }
            let wait = if loading {
                // Woken by events; re-checked at least every 50 ms (a requested navigation that
                // never starts stops counting).
                (deadline - now).min(Duration::from_millis(50))
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
            navigated: s.documents > documents_before,
            dialog: s.dialog.clone(),
            file_chooser: s.file_chooser.is_some(),
            still_busy,
            stuck_since: s.stuck_since,
        }
    }

    /// The page's snapshot, with refs.
    pub async fn snapshot(&self, options: SnapshotOptions) -> Result<Snapshot, BrowserError> {
        if let Some(dialog) = self.dialog() {
            return Err(dialog_open(&dialog));
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

    /// The trees of the iframes in `nodes` whose documents are walked on their own (another
    /// origin: in this process or another), nested ones included, by the key of their `<iframe>`.
    async fn frame_trees(&self, nodes: &[PageNode]) -> HashMap<i64, Vec<PageNode>> {
        const MAX_FRAMES: usize = 32;
        let mut frames = HashMap::new();
        let mut queue: Vec<i64> = frame_elements(nodes);
        while let Some(element) = queue.pop() {
            if frames.len() >= MAX_FRAMES {
                break;
            }
            let Ok(holder) = self.frame_holder(element).await else {
                continue;
            };
            let Ok(inner) = self.walk(holder, None, "an iframe").await else {
                continue;
            };
            queue.extend(frame_elements(&inner));
            frames.insert(element, inner);
        }
        frames
    }

    /// The index (1-based) in `child_frames` of the frame an `<iframe>` element shows, registering
    /// it when it is in its parent's process and not known yet.
    async fn frame_holder(&self, element: i64) -> Result<usize, BrowserError> {
        let (parent, _) = split_node(element);
        let session = self.frame_session(parent, "an iframe")?;
        let object = self.object_of(element, "an iframe").await?;
        let described = self
            .call_in(&session, "DOM.describeNode", json!({"objectId": object}))
            .await?;
        let frame_id = described["node"]["frameId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("an iframe without a frame".into()))?
            .to_string();
        if let Some(index) = self.known_frame(&frame_id) {
            return Ok(index);
        }
        // In the page's process when the page's events announced keel's world there; in the
        // parent's process when that world can be made there.
        let announced = (session == self.session_id)
            .then(|| self.lock().worlds.get(&frame_id).copied())
            .flatten();
        let in_process = match announced {
            Some(context) => Some(context),
            None => {
                let created = self
                    .call_in(
                        &session,
                        "Page.createIsolatedWorld",
                        json!({"frameId": frame_id, "worldName": KEEL_WORLD}),
                    )
                    .await
                    .ok()
                    .and_then(|created| created["executionContextId"].as_i64());
                if let Some(context) = created {
                    self.call_in(
                        &session,
                        "Runtime.evaluate",
                        json!({"expression": WORLD_JS, "contextId": context}),
                    )
                    .await?;
                }
                created
            }
        };
        if let Some(context) = in_process {
            let mut state = self.lock();
            state.worlds.insert(frame_id.clone(), context);
            if let Some(index) = find_frame(&state, &frame_id) {
                return Ok(index);
            }
            state.child_frames.push(Some(ChildFrame {
                session,
                frame_id,
                parent,
                in_process: true,
            }));
            return Ok(state.child_frames.len());
        }
        // Not in this process: a cross-site iframe, whose session is announced a moment after
        // the page loads.
        self.child_session(&frame_id, Duration::from_secs(2))
            .await
            .map(|(index, _)| index)
            .ok_or_else(|| BrowserError::Invalid("an iframe whose frame is not attached".into()))
    }

    fn known_frame(&self, frame_id: &str) -> Option<usize> {
        find_frame(&self.lock(), frame_id)
    }

    /// The index (1-based) and session of the out-of-process iframe showing `frame_id`, waiting up
    /// to `wait` for it to be attached.
    async fn child_session(&self, frame_id: &str, wait: Duration) -> Option<(usize, String)> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            {
                let state = self.lock();
                let found = state.child_frames.iter().enumerate().find_map(|(i, c)| {
                    c.as_ref()
                        .filter(|c| c.frame_id == frame_id)
                        .map(|c| (i + 1, c.session.clone()))
                });
                if found.is_some() {
                    return found;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        }
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
            return Err(BrowserError::Invalid(
                if n < state.document_first_ref || n > state.next_ref {
                    format!(
                        "ref {target} is stale: it belongs to an earlier page; take a new snapshot (browser_snapshot) and use its refs"
                    )
                } else {
                    format!(
                        "ref {target} is not in the latest snapshot; take a new snapshot (browser_snapshot)"
                    )
                },
            ));
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

    /// The session of frame `frame` (0: the page).
    fn frame_session(&self, frame: usize, target: &str) -> Result<String, BrowserError> {
        self.frame_of(frame, target).map(|(session, _)| session)
    }

    /// The session and frame ID of frame `frame` (0: the page's main frame).
    fn frame_of(&self, frame: usize, target: &str) -> Result<(String, String), BrowserError> {
        let state = self.lock();
        if frame == 0 {
            return Ok((
                self.session_id.clone(),
                state.main_frame.clone().unwrap_or_default(),
            ));
        }
        match state.child_frames.get(frame - 1) {
            Some(Some(child)) => Ok((child.session.clone(), child.frame_id.clone())),
            _ => Err(BrowserError::Invalid(format!(
                "element {target} was in a frame that is gone; take a new snapshot (browser_snapshot)"
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

    /// The session and execution context of keel's world in frame `frame`, made there (and the
    /// script run in it) when no event announced it.
    async fn world(&self, frame: usize, target: &str) -> Result<(String, i64), BrowserError> {
        let (session, frame_id) = self.frame_of(frame, target)?;
        if let Some(context) = self.lock().worlds.get(&frame_id) {
            return Ok((session, *context));
        }
        let created = self
            .call_in(
                &session,
                "Page.createIsolatedWorld",
                json!({"frameId": frame_id, "worldName": KEEL_WORLD}),
            )
            .await?;
        let context = created["executionContextId"]
            .as_i64()
            .ok_or_else(|| BrowserError::Protocol("createIsolatedWorld gave no context".into()))?;
        self.call_in(
            &session,
            "Runtime.evaluate",
            json!({"expression": WORLD_JS, "contextId": context}),
        )
        .await?;
        self.lock().worlds.insert(frame_id, context);
        Ok((session, context))
    }

    /// Calls `function` in keel's world of frame `frame` and returns its value (by value) or an
    /// error naming `target` if it threw. A world that went away unseen (the frame moved on) is
    /// made anew once.
    async fn call_world(
        &self,
        frame: usize,
        target: &str,
        function: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let arguments: Vec<Value> = args.into_iter().map(|v| json!({"value": v})).collect();
        let mut retried = false;
        loop {
            let (session, context) = self.world(frame, target).await?;
            let result = self
                .page_call(
                    &session,
                    "Runtime.callFunctionOn",
                    json!({"executionContextId": context, "functionDeclaration": function,
                           "arguments": arguments, "returnByValue": true, "awaitPromise": true}),
                    timeout,
                )
                .await;
            let result = match result {
                Err(BrowserError::Cdp(message)) if !retried && message.contains("context") => {
                    retried = true;
                    let mut state = self.lock();
                    state.worlds.retain(|_, c| *c != context);
                    continue;
                }
                other => other?,
            };
            if let Some(details) = result.get("exceptionDetails") {
                return Err(BrowserError::Invalid(format!(
                    "script error on {target}: {}",
                    exception_text(details, "unknown")
                )));
            }
            return Ok(result["result"]["value"].clone());
        }
    }

    /// The JavaScript object (in keel's world) of the element `node` names, for protocol calls
    /// that take one; an error that says to take a new snapshot if it is gone.
    async fn object_of(&self, node: i64, target: &str) -> Result<String, BrowserError> {
        let (frame, number) = split_node(node);
        let (session, context) = self.world(frame, target).await?;
        let found = self
            .call_in(
                &session,
                "Runtime.callFunctionOn",
                json!({"executionContextId": context, "functionDeclaration": "function(n) { return __keel.el(n); }",
                       "arguments": [{"value": number}]}),
            )
            .await?;
        found["result"]["objectId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| gone(target))
    }

    /// Calls `function` (JavaScript, `this` is the element) on the element `node` names, in
    /// keel's world, and returns its value: one protocol call.
    async fn call_on(
        &self,
        node: i64,
        target: &str,
        function: &str,
        args: Vec<Value>,
    ) -> Result<Value, BrowserError> {
        let (frame, number) = split_node(node);
        let wrapped = format!(
            "function(n, ...args) {{ const e = __keel.el(n); if (!e) return {{{STALE}: true}}; return ({function}).apply(e, args); }}"
        );
        let mut all = vec![json!(number)];
        all.extend(args);
        let value = self
            .call_world(frame, target, &wrapped, all, self.timeouts.action)
            .await?;
        if value.get(STALE).is_some() {
            return Err(gone(target));
        }
        Ok(value)
    }

    /// The `<iframe>` element of out-of-process frame `frame`: the frame that holds it, that
    /// frame's session and the element's backend ID there.
    async fn frame_owner(
        &self,
        frame: usize,
        target: &str,
    ) -> Result<(usize, String, i64), BrowserError> {
        let (frame_id, parent) = {
            let state = self.lock();
            match state.child_frames.get(frame - 1) {
                Some(Some(child)) => (child.frame_id.clone(), child.parent),
                _ => {
                    return Err(BrowserError::Invalid(format!(
                        "element {target} was in a frame that is gone; take a new snapshot"
                    )));
                }
            }
        };
        let session = self.frame_session(parent, target)?;
        let owner = self
            .call_in(&session, "DOM.getFrameOwner", json!({"frameId": frame_id}))
            .await?;
        let owner = owner["backendNodeId"]
            .as_i64()
            .ok_or_else(|| BrowserError::Protocol("getFrameOwner gave no node".into()))?;
        Ok((parent, session, owner))
    }

    /// Where the content of `owner` (an `<iframe>` in the frame of `session`) starts in that
    /// frame's viewport.
    async fn frame_offset(&self, session: &str, owner: i64) -> Result<(f64, f64), BrowserError> {
        let model = self
            .call_in(session, "DOM.getBoxModel", json!({"backendNodeId": owner}))
            .await?;
        let content = &model["model"]["content"];
        Ok((
            content[0].as_f64().unwrap_or(0.0),
            content[1].as_f64().unwrap_or(0.0),
        ))
    }

    /// The point to click on an element: scrolled into view, its center, and checked to be the
    /// element on top there (else an error names what covers it).
    async fn click_point(
        &self,
        backend: i64,
        target: &str,
    ) -> Result<(f64, f64, bool), BrowserError> {
        // The chain of out-of-process frames around the element, innermost first, each `<iframe>`
        // scrolled into view from the outermost in.
        let (frame, _) = split_node(backend);
        let mut chain = Vec::new();
        let mut current = frame;
        while current > 0 {
            if chain.len() > MAX_FRAME_DEPTH {
                return Err(BrowserError::Invalid(format!(
                    "cannot click {target}: its frames are nested too deep"
                )));
            }
            let (parent, session, owner) = self.frame_owner(current, target).await?;
            chain.push((session, owner));
            current = parent;
        }
        for (session, owner) in chain.iter().rev() {
            let _ = self
                .call_in(
                    session,
                    "DOM.scrollIntoViewIfNeeded",
                    json!({"backendNodeId": owner}),
                )
                .await;
        }
        let point = self.call_on(backend, target, POINT_JS, vec![]).await?;
        // Measured after the element was scrolled into view, which may scroll the page too.
        let mut offset = (0.0, 0.0);
        if !chain.is_empty() {
            // The browser routes input to another process's frame by the last frames drawn:
            // let two frames be drawn after the scroll, in every frame on the way, so the click
            // lands where it aims.
            let own = self.frame_session(frame, target)?;
            let sessions = chain
                .iter()
                .map(|(session, _)| session.clone())
                .chain([own]);
            futures::future::join_all(sessions.map(|session| async move {
                let _ = self
                    .call_in(
                        &session,
                        "Runtime.evaluate",
                        json!({"expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))", "awaitPromise": true}),
                    )
                    .await;
            }))
            .await;
            for (session, owner) in &chain {
                let (x, y) = self.frame_offset(session, *owner).await?;
                offset.0 += x;
                offset.1 += y;
            }
        }
        if let Some(problem) = point.get("problem").and_then(Value::as_str) {
            return Err(BrowserError::Invalid(format!(
                "cannot click {target}: {problem}"
            )));
        }
        match (point["x"].as_f64(), point["y"].as_f64()) {
            (Some(x), Some(y)) => Ok((x + offset.0, y + offset.1, point["file"] == json!(true))),
            _ => Err(BrowserError::Invalid(format!(
                "cannot click {target}: it has no position on the page"
            ))),
        }
    }

    /// Clicks an element like a person (mouse down and up at its center) and waits for what it caused.
    pub async fn click(
        &self,
        target: &str,
        double: bool,
        button: &str,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let (x, y, file_input) = self.click_point(backend, target).await?;
        let before = self.lock().documents;
        let clicks = if double { 2 } else { 1 };
        for count in 1..=clicks {
            // Move, press and release are sent back to back (the browser handles them in order) and
            // awaited together: one round trip instead of three.
            let moved = async {
                if count == 1 {
                    self.call(
                        "Input.dispatchMouseEvent",
                        json!({"type": "mouseMoved", "x": x, "y": y}),
                    )
                    .await?;
                }
                Ok::<_, BrowserError>(())
            };
            let pressed = self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mousePressed", "x": x, "y": y, "button": button, "clickCount": count}),
            );
            let released = self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mouseReleased", "x": x, "y": y, "button": button, "clickCount": count}),
            );
            let all = async { tokio::try_join!(moved, pressed, released) };
            // A dialog opened by the click holds the input events until it is answered: return then.
            tokio::select! {
                result = all => { result?; }
                () = self.dialog_opened() => break,
            }
        }
        if file_input {
            // The chooser is announced a moment after the click: wait for it.
            let deadline = Instant::now() + self.timeouts.action;
            while self.lock().file_chooser.is_none() && Instant::now() < deadline {
                let notified = self.changed.notified();
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
        }
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    async fn dialog_opened(&self) {
        loop {
            let notified = self.changed.notified();
            if self.lock().dialog.is_some() {
                return;
            }
            notified.await;
        }
    }

    fn no_dialog(&self) -> Result<(), BrowserError> {
        // Every action starts here: what it does may change the page.
        self.lock().tree_cache = None;
        match self.dialog() {
            Some(dialog) => Err(dialog_open(&dialog)),
            None => Ok(()),
        }
    }

    /// Moves the mouse over an element.
    pub async fn hover(&self, target: &str) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let (x, y, _) = self.click_point(backend, target).await?;
        let before = self.lock().documents;
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Replaces the text of an editable element with `text` (as typed input events); with
    /// `submit`, presses Enter afterwards.
    pub async fn type_text(
        &self,
        target: &str,
        text: &str,
        submit: bool,
        slowly: bool,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        // Focus, select and insert in one call (execCommand goes through the browser's editing
        // pipeline: the page sees the same input events as from a keyboard).
        let typed_now = if slowly { Value::Null } else { json!(text) };
        let editable = self
            .call_on(backend, target, FOCUS_AND_SELECT_JS, vec![typed_now])
            .await?;
        if let Some(problem) = editable.get("problem").and_then(Value::as_str) {
            return Err(BrowserError::Invalid(format!(
                "cannot type into {target}: {problem}"
            )));
        }
        let before = self.lock().documents;
        if slowly {
            for ch in text.chars() {
                self.call(
                    "Input.dispatchKeyEvent",
                    json!({"type": "keyDown", "text": ch.to_string(), "key": ch.to_string()}),
                )
                .await?;
                self.call(
                    "Input.dispatchKeyEvent",
                    json!({"type": "keyUp", "key": ch.to_string()}),
                )
                .await?;
            }
        } else if editable.get("typed") != Some(&json!(true)) {
            // The page's editor refused execCommand: type through the input pipeline instead.
            self.call("Input.insertText", json!({"text": text})).await?;
        }
        if submit {
            self.key("Enter").await?;
            return Ok(self.settle(before, self.timeouts.navigation, true).await);
        }
        let s = self.lock();
        Ok(ActionOutcome {
            url: s.url.clone(),
            navigated: false,
            dialog: s.dialog.clone(),
            file_chooser: s.file_chooser.is_some(),
            still_busy: false,
            stuck_since: s.stuck_since,
        })
    }

    /// Puts files (paths on this machine) into a file input: `target`, or the one whose chooser the
    /// last click opened.
    pub async fn upload_files(
        &self,
        target: Option<&str>,
        paths: &[std::path::PathBuf],
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        // The input: named (its object in the frame that holds it), or the page's open chooser.
        let (session, params) = match target {
            Some(target) => {
                let node = self.resolve_target(target).await?;
                let session = self.frame_session(split_node(node).0, target)?;
                let object = self.object_of(node, target).await?;
                (session, json!({"files": files, "objectId": object}))
            }
            None => {
                let backend = self.lock().file_chooser.ok_or_else(|| {
                    BrowserError::Invalid("no file chooser is open: click the upload button first, or name the file input with `target`".into())
                })?;
                (
                    self.session_id.clone(),
                    json!({"files": files, "backendNodeId": backend}),
                )
            }
        };
        let before = self.lock().documents;
        self.call_in(&session, "DOM.setFileInputFiles", params)
            .await
            .map_err(|e| {
                BrowserError::Invalid(format!(
                    "cannot put files into that element (is it an <input type=file>?): {e}"
                ))
            })?;
        self.lock().file_chooser = None;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Presses a key (`Enter`, `Tab`, `ArrowDown`, `a`, …) on the focused element.
    pub async fn press_key(&self, key: &str) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().documents;
        self.key(key).await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    async fn key(&self, key: &str) -> Result<(), BrowserError> {
        let (code, vk, text) = key_definition(key)
            .ok_or_else(|| BrowserError::Invalid(format!("unknown key {key:?}: use a key name like Enter, Tab, Escape, Backspace, ArrowDown, or one character")))?;
        let mut down = json!({"type": if text.is_some() { "keyDown" } else { "rawKeyDown" }, "key": key, "code": code, "windowsVirtualKeyCode": vk});
        if let Some(text) = text {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down).await?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
        )
        .await?;
        Ok(())
    }

    /// Picks options of a `<select>` by value or visible text; returns the values now selected.
    pub async fn select_option(
        &self,
        target: &str,
        values: &[String],
    ) -> Result<(ActionOutcome, Value), BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let before = self.lock().documents;
        let picked = self
            .call_on(backend, target, SELECT_JS, vec![json!(values)])
            .await?;
        if let Some(problem) = picked.get("problem").and_then(Value::as_str) {
            return Err(BrowserError::Invalid(format!(
                "cannot select in {target}: {problem}"
            )));
        }
        Ok((
            self.settle(before, self.timeouts.action, true).await,
            picked["selected"].clone(),
        ))
    }

    /// Answers the open dialog (accept or dismiss, with text for a prompt).
    pub async fn handle_dialog(
        &self,
        accept: bool,
        prompt_text: Option<&str>,
    ) -> Result<ActionOutcome, BrowserError> {
        if self.dialog().is_none() {
            return Err(BrowserError::Invalid("no dialog is open".into()));
        }
        let before = self.lock().documents;
        let mut params = json!({"accept": accept});
        if let Some(text) = prompt_text {
            params["promptText"] = json!(text);
        }
        self.call("Page.handleJavaScriptDialog", params).await?;
        self.lock().dialog = None;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Runs a JavaScript function (`() => …`, or `(element) => …` with a target) and returns its
    /// JSON value.
    pub async fn evaluate(
        &self,
        function: &str,
        target: Option<&str>,
    ) -> Result<Value, BrowserError> {
        self.no_dialog()?;
        let result = match target {
            Some(target) => {
                // In the page's own world (its globals in reach), on the element keel's world names.
                let node = self.resolve_target(target).await?;
                let session = self.frame_session(split_node(node).0, target)?;
                let object = self.object_of(node, target).await?;
                let described = self
                    .call_in(&session, "DOM.describeNode", json!({"objectId": object}))
                    .await?;
                let resolved = self
                    .call_in(
                        &session,
                        "DOM.resolveNode",
                        json!({"backendNodeId": described["node"]["backendNodeId"]}),
                    )
                    .await?;
                let object = resolved["object"]["objectId"]
                    .as_str()
                    .ok_or_else(|| gone(target))?;
                self.call_in(
                    &session,
                    "Runtime.callFunctionOn",
                    json!({"objectId": object, "functionDeclaration": format!("function() {{ return ({function})(this); }}"),
                           "returnByValue": true, "awaitPromise": true}),
                )
                .await?
            }
            None => {
                self.call(
                    "Runtime.evaluate",
                    json!({"expression": format!("({function})()"), "returnByValue": true, "awaitPromise": true}),
                )
                .await?
            }
        };
        if let Some(details) = result.get("exceptionDetails") {
            return Err(BrowserError::Invalid(format!(
                "the function threw: {}",
                exception_text(details, "unknown")
            )));
        }
        Ok(result["result"]["value"].clone())
    }

    /// A screenshot (PNG or JPEG, base64) of the viewport, the whole page, or one element.
    pub async fn screenshot(
        &self,
        full_page: bool,
        target: Option<&str>,
        jpeg: bool,
    ) -> Result<String, BrowserError> {
        self.no_dialog()?;
        let mut params = json!({"format": if jpeg { "jpeg" } else { "png" }});
        if let Some(target) = target {
            let backend = self.resolve_target(target).await?;
            let rect = self.call_on(backend, target, RECT_JS, vec![]).await?;
            params["clip"] = json!({"x": rect["x"], "y": rect["y"], "width": rect["width"], "height": rect["height"], "scale": 1});
            params["captureBeyondViewport"] = json!(true);
        } else if full_page {
            params["captureBeyondViewport"] = json!(true);
            let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
            let size = &metrics["cssContentSize"];
            params["clip"] = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        }
        let shot = self.call("Page.captureScreenshot", params).await?;
        shot["data"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BrowserError::Protocol("captureScreenshot gave no data".into()))
    }

    /// The page as PDF (base64).
    pub async fn pdf(&self) -> Result<String, BrowserError> {
        self.no_dialog()?;
        let pdf = self
            .conn
            .call(
                "Page.printToPDF",
                json!({"printBackground": true}),
                Some(&self.session_id),
                self.timeouts.navigation,
            )
            .await?;
        pdf["data"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BrowserError::Protocol("printToPDF gave no data".into()))
    }

    /// The page's HTML.
    pub async fn content(&self) -> Result<String, BrowserError> {
        let html = self
            .evaluate(
                "() => document.documentElement ? document.documentElement.outerHTML : ''",
                None,
            )
            .await?;
        Ok(html.as_str().unwrap_or_default().to_string())
    }

    /// Console messages so far (the last few hundred).
    pub fn console(&self) -> Vec<String> {
        self.lock().console.iter().cloned().collect()
    }

    /// Requests the page made (the last few hundred).
    pub fn network(&self) -> Vec<NetworkEntry> {
        self.lock().network.iter().cloned().collect()
    }

    /// Waits until `text` appears or `gone` disappears, or `seconds` pass.
    pub async fn wait_for(
        &self,
        text: Option<&str>,
        gone: Option<&str>,
        seconds: Option<f64>,
    ) -> Result<String, BrowserError> {
        let budget = Duration::from_secs_f64(seconds.unwrap_or(0.0).clamp(0.0, 60.0));
        if text.is_none() && gone.is_none() {
            tokio::time::sleep(budget).await;
            return Ok(format!("waited {:.1} s", budget.as_secs_f64()));
        }
        let deadline = Instant::now()
            + if seconds.is_some() {
                budget
            } else {
                self.timeouts.navigation
            };
        loop {
            let body = self
                .evaluate("() => document.body ? document.body.innerText : ''", None)
                .await?;
            let body = body.as_str().unwrap_or_default();
            let appeared = text.is_none_or(|t| body.contains(t));
            let vanished = gone.is_none_or(|g| !body.contains(g));
            if appeared && vanished {
                return Ok(match (text, gone) {
                    (Some(t), _) => format!("{t:?} is on the page"),
                    (None, Some(g)) => format!("{g:?} is gone from the page"),
                    _ => String::new(),
                });
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::Timeout(match (text, gone) {
                    (Some(t), _) => format!("{t:?} did not appear"),
                    (None, Some(g)) => format!("{g:?} did not go away"),
                    _ => String::new(),
                }));
            }
            let notified = self.changed.notified();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }
}

/// A frame walked on its own: its session (its own when out of process), its frame ID and the
/// frame that holds its `<iframe>` (0: the page; else the index of another such frame).
#[derive(Debug, Clone)]
struct ChildFrame {
    session: String,
    frame_id: String,
    parent: usize,
    /// In its parent's process (a cross-origin, same-site frame): no session of its own, so it
    /// is forgotten when the page navigates or the frame is detached.
    in_process: bool,
}

/// Splits an element key into its frame (0: the page and the same-origin frames walked with it,
/// i: `child_frames[i - 1]`) and the element's number in that frame's keel world.
fn split_node(id: i64) -> (usize, i64) {
    ((id >> 32) as usize, id & 0xffff_ffff)
}

/// The keys of the iframes in `nodes` whose documents are walked on their own.
fn frame_elements(nodes: &[PageNode]) -> Vec<i64> {
    nodes
        .iter()
        .filter(|n| n.frame != 0)
        .filter_map(|n| n.id)
        .collect()
}

fn has_frames(nodes: &[PageNode]) -> bool {
    nodes.iter().any(|n| n.role == "Iframe")
}

fn find_frame(s: &TabState, frame_id: &str) -> Option<usize> {
    s.child_frames
        .iter()
        .position(|c| c.as_ref().is_some_and(|c| c.frame_id == frame_id))
        .map(|i| i + 1)
}

fn gone(target: &str) -> BrowserError {
    BrowserError::Invalid(format!(
        "element {target} is no longer on the page; take a new snapshot (browser_snapshot)"
    ))
}

fn apply(state: &Mutex<TabState>, method: &str, params: &Value) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    // Anything that may change the page's tree drops the cached one.
    if method == "Runtime.bindingCalled"
        || matches!(
            method,
            "Page.frameNavigated"
                | "Page.navigatedWithinDocument"
                | "Page.javascriptDialogOpening"
                | "Page.javascriptDialogClosed"
                | "Runtime.executionContextsCleared"
        )
    {
        s.tree_cache = None;
    }
    match method {
        "Runtime.executionContextCreated" => {
            let context = &params["context"];
            if context["name"] == KEEL_WORLD
                && let (Some(id), Some(frame)) = (
                    context["id"].as_i64(),
                    context["auxData"]["frameId"].as_str(),
                )
            {
                s.worlds.insert(frame.to_string(), id);
            }
        }
        "Runtime.executionContextDestroyed" => {
            let gone = params["executionContextId"].as_i64();
            s.worlds.retain(|_, c| Some(*c) != gone);
        }
        "Runtime.executionContextsCleared" => s.worlds.clear(),
        "Page.frameDetached" => {
            let frame = params["frameId"].as_str().unwrap_or_default();
            s.worlds.remove(frame);
            for slot in s.child_frames.iter_mut() {
                if slot
                    .as_ref()
                    .is_some_and(|c| c.in_process && c.frame_id == frame)
                {
                    *slot = None;
                }
            }
        }
        _ => {}
    }
    let is_main =
        |s: &TabState, frame: Option<&str>| frame.is_some() && frame == s.main_frame.as_deref();
    match method {
        "Page.frameStartedLoading" if is_main(&s, params["frameId"].as_str()) => {
            s.loading = true;
            s.navigation_requested = None;
            s.last_activity = Some(Instant::now());
        }
        // A requested navigation may still be cancelled (a submit handler that prevents it), so
        // it keeps the page busy only briefly unless loading really starts.
        "Page.frameRequestedNavigation" if is_main(&s, params["frameId"].as_str()) => {
            s.navigation_requested = Some(Instant::now());
            s.last_activity = Some(Instant::now());
        }
        "Page.frameStoppedLoading" if is_main(&s, params["frameId"].as_str()) => {
            s.loading = false;
            s.navigation_requested = None;
            s.last_activity = Some(Instant::now());
        }
        "Page.frameNavigated" => {
            let frame = &params["frame"];
            if frame.get("parentId").is_none() {
                s.main_frame = frame["id"].as_str().map(str::to_string);
                s.url = frame["url"].as_str().unwrap_or_default().to_string();
                s.documents += 1;
                s.refs.clear();
                s.by_ref.clear();
                s.document_first_ref = s.next_ref + 1;
                // Frames in the page's process went with the old document.
                for slot in s.child_frames.iter_mut() {
                    if slot.as_ref().is_some_and(|c| c.in_process) {
                        *slot = None;
                    }
                }
                // The old document's requests end with it, often without a word (a favicon cut
                // off by the navigation): waiting for them would stall every later action.
                s.inflight.clear();
                s.last_activity = Some(Instant::now());
                s.file_chooser = None;
            }
        }
        "Page.navigatedWithinDocument" if is_main(&s, params["frameId"].as_str()) => {
            s.url = params["url"].as_str().unwrap_or_default().to_string();
        }
        "Page.javascriptDialogOpening" => {
            s.dialogs_opened += 1;
            s.dialog = Some(Dialog {
                kind: params["type"].as_str().unwrap_or("alert").to_string(),
                message: params["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        "Page.javascriptDialogClosed" => s.dialog = None,
        "Page.fileChooserOpened" => s.file_chooser = params["backendNodeId"].as_i64(),
        "Network.requestWillBeSent" => {
            let kind = params["type"].as_str().unwrap_or("Other").to_string();
            let id = params["requestId"].as_str().unwrap_or_default().to_string();
            let url = params["request"]["url"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // Streams that never end would keep the page busy forever.
            if !matches!(kind.as_str(), "EventSource" | "WebSocket" | "Ping")
                && !url.starts_with("data:")
            {
                let frame = params["frameId"].as_str().unwrap_or_default().to_string();
                s.inflight.insert(id.clone(), frame);
            }
            s.last_activity = Some(Instant::now());
            if s.network.len() == LOG_KEPT {
                s.network.pop_front();
                s.network_base += 1;
            }
            let index = s.network_base + s.network.len();
            s.network.push_back(NetworkEntry {
                method: params["request"]["method"]
                    .as_str()
                    .unwrap_or("GET")
                    .to_string(),
                url,
                status: 0,
                kind,
            });
            s.network_index.insert(id, index);
        }
        "Network.responseReceived" => {
            let id = params["requestId"].as_str().unwrap_or_default();
            if let Some(&index) = s.network_index.get(id)
                && index >= s.network_base
            {
                let base = s.network_base;
                if let Some(entry) = s.network.get_mut(index - base) {
                    entry.status = params["response"]["status"].as_i64().unwrap_or(0);
                }
            }
        }
        "Network.loadingFinished" | "Network.loadingFailed" => {
            let id = params["requestId"].as_str().unwrap_or_default().to_string();
            s.inflight.remove(&id);
            s.network_index.remove(&id);
            s.last_activity = Some(Instant::now());
        }
        "Runtime.consoleAPICalled" => {
            let kind = params["type"].as_str().unwrap_or("log");
            let text: Vec<String> = params["args"]
                .as_array()
                .map(|args| {
                    args.iter()
                        .map(|a| match a.get("value") {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => a["description"].as_str().unwrap_or("").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            push_console(&mut s, format!("[{kind}] {}", text.join(" ")));
        }
        "Runtime.exceptionThrown" => {
            let text = exception_text(&params["exceptionDetails"], "exception");
            push_console(&mut s, format!("[error] {text}"));
        }
        "Target.attachedToTarget" | "Target.detachedFromTarget" => {
            frame_event(&mut s, 0, method, params);
        }
        "Inspector.detached" => s.closed = true,
        _ => {}
    }
}

/// An out-of-process frame attached or detached, announced by the page (`parent` 0) or by the
/// out-of-process frame `parent` (a cross-site frame inside another). Returns the session of a new
/// frame (which is to announce its own frames in turn).
fn frame_event(s: &mut TabState, parent: usize, method: &str, params: &Value) -> Option<String> {
    match method {
        "Target.attachedToTarget" => {
            let info = &params["targetInfo"];
            if info["type"] == "iframe"
                && let (Some(session), Some(frame)) =
                    (params["sessionId"].as_str(), info["targetId"].as_str())
            {
                s.child_frames.push(Some(ChildFrame {
                    session: session.to_string(),
                    frame_id: frame.to_string(),
                    parent,
                    in_process: false,
                }));
                s.tree_cache = None;
                // The frame's requests now finish in its own process: they are not waited for here.
                s.inflight.retain(|_, f| f != frame);
                return Some(session.to_string());
            }
            None
        }
        // A child frame going away (the page's own detach is handled by the listener).
        "Target.detachedFromTarget" => {
            let gone = params["sessionId"].as_str().unwrap_or_default().to_string();
            for slot in s.child_frames.iter_mut() {
                if slot.as_ref().is_some_and(|c| c.session == gone) {
                    *slot = None;
                }
            }
            s.tree_cache = None;
            None
        }
        _ => None,
    }
}

/// What a page's exception says (`exceptionDetails` of the protocol), else `default`.
fn exception_text<'a>(details: &'a Value, default: &'a str) -> &'a str {
    details["exception"]["description"]
        .as_str()
        .or(details["text"].as_str())
        .unwrap_or(default)
}

fn push_console(s: &mut TabState, line: String) {
    if s.console.len() == LOG_KEPT {
        s.console.pop_front();
    }
    s.console.push_back(line);
}

fn dialog_open(dialog: &Dialog) -> BrowserError {
    BrowserError::Invalid(format!(
        "{} is open ({:?}): answer it with browser_handle_dialog first",
        dialog.described(),
        dialog.message
    ))
}

fn navigation_error(url: &str, error: &str) -> String {
    if error.contains("ERR_TUNNEL_CONNECTION_FAILED") || error.contains("ERR_BLOCKED") {
        format!(
            "refused by the URL policy: {url} ({error}); add its host to browser.allow to permit it"
        )
    } else {
        format!("could not open {url}: {error}")
    }
}

fn key_definition(key: &str) -> Option<(String, i64, Option<String>)> {
    let named = match key {
        "Enter" => ("Enter", 13, Some("\r")),
        "Tab" => ("Tab", 9, None),
        "Escape" => ("Escape", 27, None),
        "Backspace" => ("Backspace", 8, None),
        "Delete" => ("Delete", 46, None),
        "ArrowUp" => ("ArrowUp", 38, None),
        "ArrowDown" => ("ArrowDown", 40, None),
        "ArrowLeft" => ("ArrowLeft", 37, None),
        "ArrowRight" => ("ArrowRight", 39, None),
        "Home" => ("Home", 36, None),
        "End" => ("End", 35, None),
        "PageUp" => ("PageUp", 33, None),
        "PageDown" => ("PageDown", 34, None),
        " " | "Space" => ("Space", 32, Some(" ")),
        _ => ("", 0, None),
    };
    if named.1 != 0 {
        return Some((named.0.to_string(), named.1, named.2.map(str::to_string)));
    }
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    let upper = c.to_ascii_uppercase();
    let code = if c.is_ascii_alphabetic() {
        format!("Key{upper}")
    } else if c.is_ascii_digit() {
        format!("Digit{c}")
    } else {
        String::new()
    };
    Some((code, i64::from(upper as u32 as u8), Some(c.to_string())))
}

/// The isolated world keel's own page scripts run in.
const KEEL_WORLD: &str = "keel";
/// The binding the change observer calls.
const CHANGE_BINDING: &str = "__keelChanged";

/// keel's script in every frame's keel world (see `world.js`).
const WORLD_JS: &str = include_str!("world.js");

/// What `call_on` answers for an element whose number names nothing any more.
const STALE: &str = "__keelStale";

/// Scrolls the element into view and returns its center, or the problem (hidden, covered).
const POINT_JS: &str = r##"function() {
  if (!this.isConnected) return {problem: "it is no longer on the page; take a new snapshot"};
  this.scrollIntoView({block: "center", inline: "center", behavior: "instant"});
  const r = this.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {problem: "it is not visible (zero size or hidden)"};
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const root = this.getRootNode();
  const top = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
  if (top && top !== this && !this.contains(top) && !(top.contains && top.contains(this) && top.tagName === "LABEL")) {
    let d = top.tagName.toLowerCase();
    if (top.id) d += "#" + top.id;
    if (typeof top.className === "string" && top.className.trim()) d += "." + top.className.trim().split(/\s+/).join(".");
    const t = (top.innerText || "").trim().slice(0, 60);
    return {problem: "another element is on top of it: <" + d + ">" + (t ? " \"" + t + "\"" : "") + " (close the overlay or cookie banner first)"};
  }
  // Inside (same-origin) iframes, add each frame's offset: the mouse works in the top page's coordinates.
  let ox = 0, oy = 0, win = this.ownerDocument.defaultView;
  while (win && win.frameElement) {
    const f = win.frameElement, fr = f.getBoundingClientRect();
    ox += fr.left + f.clientLeft; oy += fr.top + f.clientTop;
    win = win.parent;
  }
  return {x: x + ox, y: y + oy, file: this.tagName === "INPUT" && this.type === "file"};
}"##;

/// Out-of-process frames inside one another at most, for an action.
const MAX_FRAME_DEPTH: usize = 8;

const FOCUS_AND_SELECT_JS: &str = r#"function(text) {
  if (!this.isConnected) return {problem: "it is no longer on the page; take a new snapshot"};
  const editable = this.isContentEditable || (this.tagName === "TEXTAREA") ||
    (this.tagName === "INPUT" && !["button","submit","reset","checkbox","radio","file","image","range","color"].includes(this.type));
  if (!editable) return {problem: "it is not a text field (it is <" + this.tagName.toLowerCase() + (this.type ? " type=" + this.type : "") + ">)"};
  if (this.disabled || this.readOnly) return {problem: "it is disabled or read-only"};
  // Scrolled only when out of view: a scroll costs a layout and a frame.
  const r = this.getBoundingClientRect();
  if (r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) this.scrollIntoView({block: "center", behavior: "instant"});
  this.focus({preventScroll: true});
  if (this.select) this.select(); else document.execCommand("selectAll");
  if (text === null) return {};
  const typed = text === "" ? document.execCommand("delete") : document.execCommand("insertText", false, text);
  return {typed};
}"#;

const SELECT_JS: &str = r#"function(values) {
  if (this.tagName !== "SELECT") return {problem: "it is not a <select> (use browser_click for custom dropdowns)"};
  const options = Array.from(this.options);
  const missing = values.filter(v => !options.some(o => o.value === v || o.label === v || o.text.trim() === v));
  if (missing.length) return {problem: "no option " + JSON.stringify(missing) + "; options are " + JSON.stringify(options.map(o => o.text.trim()))};
  if (!this.multiple && values.length > 1) return {problem: "it takes one option"};
  for (const o of options) o.selected = values.some(v => o.value === v || o.label === v || o.text.trim() === v);
  this.dispatchEvent(new Event("input", {bubbles: true}));
  this.dispatchEvent(new Event("change", {bubbles: true}));
  return {selected: options.filter(o => o.selected).map(o => o.value)};
}"#;

const RECT_JS: &str = r#"function() {
  this.scrollIntoView({block: "center", behavior: "instant"});
  const r = this.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: Math.max(1, r.width), height: Math.max(1, r.height)};
}"#;
