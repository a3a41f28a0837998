//! The browser pool: one Chromium process (started on first use, started again if it dies), and
//! one isolated browser context (own cookies, storage and cache) per browsing session, created
//! lazily, each with its tabs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::cdp::Connection;
use crate::error::BrowserError;
use crate::guard::RemoteGuard;
use crate::launch::{ChromeProcess, find_chromium};
use crate::policy::{PolicyProxy, UrlPolicy};
use crate::tab::{Tab, Timeouts};

/// Settings of the browser pool.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// The Chromium binary; `None`: `chromium` on PATH or in /usr/bin.
    pub chrome_path: Option<PathBuf>,
    /// A remote browser's DevTools WebSocket (`ws://host:port/devtools/browser/…`, or `wss://`) to use instead
    /// of starting Chromium here.
    pub ws_url: Option<String>,
    /// Hosts, IPs and networks pages may reach although they are loopback or private.
    pub allow: Vec<String>,
    /// Longest navigation.
    pub navigation_timeout: Duration,
    /// Longest action (and protocol call).
    pub action_timeout: Duration,
    /// Browsing sessions open at once.
    pub max_contexts: usize,
    /// Tabs per browsing session.
    pub max_tabs: usize,
    /// Largest snapshot, in bytes, unless a call asks for less.
    pub max_snapshot_bytes: usize,
    /// Largest download kept; a larger one is cancelled while it downloads.
    pub max_download_bytes: u64,
    /// Most browsing sessions one client (one peer address, until clients are authenticated) may
    /// have open; past it its own session idle longest sleeps. `None`: no share.
    pub max_contexts_per_client: Option<usize>,
    /// Largest answer of the tools that read a page or a request whole (`page_content`,
    /// `page_markdown`, `browser_network_request`), unless kept as a file.
    pub max_read_bytes: usize,
    /// A browsing session unused this long is put to sleep: its state is saved in its object and
    /// its browser context closed; the next call restores it.
    pub idle_timeout: Duration,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            chrome_path: None,
            ws_url: None,
            allow: Vec::new(),
            navigation_timeout: Duration::from_secs(30),
            action_timeout: Duration::from_secs(10),
            max_contexts: 64,
            max_tabs: 8,
            max_snapshot_bytes: 100_000,
            max_download_bytes: 32 << 20,
            max_read_bytes: 1_000_000,
            max_contexts_per_client: None,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// One browsing session: a browser context and its tabs.
pub struct BrowsingContext {
    /// The CDP browser context ID.
    pub id: String,
    /// The context's own policy proxy (so refusals are reported to this session only); `None`
    /// with a remote browser, whose requests the [`RemoteGuard`] checks.
    _proxy: Option<PolicyProxy>,
    /// What the URL policy refused in this session.
    refusals: Arc<crate::policy::RefusalLog>,
    /// True when the browser runs elsewhere (no local files: uploads and downloads are off).
    remote: bool,
    /// Where the session's downloads are saved.
    downloads: tempfile::TempDir,
    /// What happened on its own since the last tool result (tabs a page opened, downloads).
    notes: Arc<std::sync::Mutex<Vec<Note>>>,
    /// Tabs its pages opened that are attached (or failed to be): see [`Self::await_popups`].
    popups_attached: std::sync::atomic::AtomicU64,
    /// Held by the tool call acting on the session: calls take turns (see [`Self::turn`]).
    turn: tokio::sync::Mutex<()>,
    watcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    conn: Connection,
    timeouts: Timeouts,
    max_tabs: usize,
    /// Largest download kept (`BrowserConfig::max_download_bytes`).
    pub(crate) max_download_bytes: u64,
    tabs: tokio::sync::Mutex<(Vec<Arc<Tab>>, usize)>,
    usage: Arc<std::sync::Mutex<Usage>>,
}

/// Something a page did on its own that the next tool result reports.
#[derive(Debug, Clone)]
pub enum Note {
    /// A page opened a tab (now at `index` in the tab list).
    TabOpened { index: usize, url: String },
    /// The current tab, showing `url`, was closed by its page (`window.close()`); tab `index`
    /// is current now, if any is left.
    TabClosed { url: String, index: Option<usize> },
    /// A page opened a tab past `browser.max_tabs` (to `url`); it was closed at once.
    TabRefused { url: String, max_tabs: usize },
    /// A download passed `browser.max_download_bytes` and was cancelled.
    DownloadCancelled {
        file_name: String,
        url: String,
        max_bytes: u64,
    },
    /// A download finished: saved at `path`.
    Downloaded {
        file_name: String,
        url: String,
        path: std::path::PathBuf,
    },
}

impl Drop for BrowsingContext {
    fn drop(&mut self) {
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            watcher.abort();
        }
    }
}

/// Follows the browser's events for one context: tabs its pages open, and its downloads.
async fn watch_context(
    context: std::sync::Weak<BrowsingContext>,
    mut events: tokio::sync::broadcast::Receiver<crate::cdp::CdpEvent>,
) {
    let mut downloads: HashMap<String, (String, String)> = HashMap::new();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(context) = context.upgrade() else {
            return;
        };
        let p = &event.params;
        match event.method.as_str() {
            "Target.targetCreated" => {
                let info = &p["targetInfo"];
                let opened_by_page =
                    info.get("openerId").is_some() || info.get("openerFrameId").is_some();
                if info["type"] == "page"
                    && info["browserContextId"] == json!(context.id)
                    && opened_by_page
                {
                    let Some(target) = info["targetId"].as_str().map(str::to_string) else {
                        continue;
                    };
                    let context = Arc::clone(&context);
                    let url = info["url"].as_str().unwrap_or_default().to_string();
                    tokio::spawn(async move {
                        // Counted under the lock, so a page opening tabs in a loop meets the cap.
                        let mut tabs = context.tabs.lock().await;
                        if tabs.0.len() >= context.max_tabs {
                            let _ = context
                                .conn
                                .call(
                                    "Target.closeTarget",
                                    json!({"targetId": target}),
                                    None,
                                    context.timeouts.action,
                                )
                                .await;
                            context
                                .notes
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(Note::TabRefused {
                                    url,
                                    max_tabs: context.max_tabs,
                                });
                            context
                                .popups_attached
                                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                        let attached =
                            Tab::attach(context.conn.clone(), target, context.timeouts).await;
                        if let Ok(tab) = attached {
                            tabs.0.push(Arc::clone(&tab));
                            let note = Note::TabOpened {
                                index: tabs.0.len() - 1,
                                url: tab.url(),
                            };
                            context
                                .notes
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(note);
                            // The new tab took the foreground; input to a background tab stalls,
                            // so the current tab goes back in front until the agent switches.
                            if let Some(current) = tabs.0.get(tabs.1) {
                                let _ = current.call("Page.bringToFront", json!({})).await;
                            }
                        }
                        context
                            .popups_attached
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    });
                }
            }
            "Browser.downloadWillBegin" => {
                if let Some(guid) = p["guid"].as_str() {
                    let name = p["suggestedFilename"]
                        .as_str()
                        .unwrap_or("download")
                        .to_string();
                    downloads.insert(
                        guid.to_string(),
                        (name, p["url"].as_str().unwrap_or_default().to_string()),
                    );
                }
            }
            "Browser.downloadProgress"
                if p["state"] == "inProgress"
                    && [&p["receivedBytes"], &p["totalBytes"]].iter().any(|b| {
                        b.as_f64()
                            .is_some_and(|b| b > context.max_download_bytes as f64)
                    }) =>
            {
                // An endless or huge download stops here instead of filling the disk. Every
                // context's watcher sees it; the cancel works in the one it belongs to.
                let guid = p["guid"].as_str().unwrap_or_default();
                if let Some((file_name, url)) = downloads.get(guid).cloned() {
                    let cancelled = context
                        .conn
                        .call(
                            "Browser.cancelDownload",
                            json!({"guid": guid, "browserContextId": context.id}),
                            None,
                            context.timeouts.action,
                        )
                        .await;
                    downloads.remove(guid);
                    if cancelled.is_ok() {
                        context
                            .notes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(Note::DownloadCancelled {
                                file_name,
                                url,
                                max_bytes: context.max_download_bytes,
                            });
                    }
                }
            }
            "Browser.downloadProgress" if p["state"] == "completed" => {
                let guid = p["guid"].as_str().unwrap_or_default();
                // Each context's watcher sees every download; only the one whose directory
                // Chromium wrote to reports it.
                let path = p["filePath"]
                    .as_str()
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| context.downloads.path().join(guid));
                if let Some((file_name, url)) = downloads.remove(guid)
                    && path.starts_with(context.downloads.path())
                {
                    context
                        .notes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(Note::Downloaded {
                            file_name,
                            url,
                            path,
                        });
                }
            }
            _ => {}
        }
    }
}

/// Who is using a browsing session, so that it is never put to sleep in the middle of a call.
struct Usage {
    calls: usize,
    last_used: std::time::Instant,
    asleep: bool,
}

/// Marks a browsing session in use for as long as it lives.
pub struct InUse(Arc<std::sync::Mutex<Usage>>);

impl Drop for InUse {
    fn drop(&mut self) {
        let mut usage = self.0.lock().unwrap_or_else(|p| p.into_inner());
        usage.calls -= 1;
        usage.last_used = std::time::Instant::now();
    }
}

/// Cookie fields `Storage.setCookies` takes back from `Storage.getCookies`.
const COOKIE_FIELDS: [&str; 12] = [
    "name",
    "value",
    "domain",
    "path",
    "secure",
    "httpOnly",
    "sameSite",
    "expires",
    "priority",
    "sourceScheme",
    "sourcePort",
    "partitionKey",
];

impl BrowsingContext {
    /// What the URL policy refused in this session.
    pub fn refusals(&self) -> &crate::policy::RefusalLog {
        &self.refusals
    }

    /// A fresh directory for files an agent uploads (inside the session's scratch directory).
    pub fn upload_dir(&self) -> Result<std::path::PathBuf, BrowserError> {
        if self.remote {
            return Err(BrowserError::Invalid(
                "file uploads need a browser on this machine: the remote browser (browser.ws) cannot read keel's files".into(),
            ));
        }
        let dir = self
            .downloads
            .path()
            .join("uploads")
            .join(keel_objects::ObjectId::unique().to_hex());
        std::fs::create_dir_all(&dir)
            .map_err(|e| BrowserError::Invalid(format!("cannot store the files: {e}")))?;
        Ok(dir)
    }

    /// What happened on its own since the last call (and forgets it).
    pub fn take_notes(&self) -> Vec<Note> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Waits (a second at most) until `count` finished downloads are noted: the tab sees a
    /// download finish a moment before the browser-wide event that notes it is handled.
    pub async fn await_download_notes(&self, count: u64) {
        if self.remote {
            // A remote browser saves on its own machine: nothing here notes it.
            return;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            let noted = self
                .notes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|note| matches!(note, Note::Downloaded { .. }))
                .count();
            if noted as u64 >= count || std::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for this session's turn (first come, first served) and holds it until the guard is
    /// dropped. A browsing session is one agent's browser, acted on like a single-threaded
    /// object: calls sent at once (a client running tool calls in parallel) run one after the
    /// other instead of interleaving (a navigation cut short by the next one's, a snapshot of a
    /// page half loaded).
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Tabs its pages opened so far that are attached (a mark for [`Self::await_popups`]).
    pub fn popups_attached(&self) -> u64 {
        self.popups_attached
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (a second at most) until `count` tabs pages opened are attached: a page announces
    /// `window.open` before the call that made it answers, but the new tab is attached a moment
    /// later, so a call returning at once would not list it (and a tab call made next would see
    /// the list change under it).
    pub async fn await_popups(&self, count: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while self.popups_attached() < count && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The downloads finished since the last call (and forgets them; other notes stay).
    pub fn take_downloads(&self) -> Vec<Note> {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        let (downloads, rest) = std::mem::take(&mut *notes)
            .into_iter()
            .partition(|note| matches!(note, Note::Downloaded { .. }));
        *notes = rest;
        downloads
    }

    /// Marks the session in use; `None` if it has been put to sleep (get it from the pool again).
    pub fn enter(&self) -> Option<InUse> {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if usage.asleep {
            return None;
        }
        usage.calls += 1;
        Some(InUse(Arc::clone(&self.usage)))
    }

    /// How long nobody has used the session; `None` while a call is using it.
    pub fn idle_for(&self) -> Option<Duration> {
        let usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        (usage.calls == 0 && !usage.asleep).then(|| usage.last_used.elapsed())
    }

    /// Marks the session asleep if nobody has used it for `idle`; true if it now is.
    pub fn try_sleep(&self, idle: Duration) -> bool {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if usage.calls == 0 && usage.last_used.elapsed() >= idle {
            usage.asleep = true;
        }
        usage.asleep
    }

    /// What a later session needs to carry on: cookies, the current tab's URL, that page's
    /// localStorage, and the viewport and media the agent set on it.
    pub async fn export_state(&self) -> Result<serde_json::Value, BrowserError> {
        let cookies = self
            .conn
            .call(
                "Storage.getCookies",
                json!({"browserContextId": self.id}),
                None,
                self.timeouts.action,
            )
            .await?;
        let tab = {
            let tabs = self.tabs.lock().await;
            tabs.0.get(tabs.1).cloned()
        };
        let (url, storage, display) = match tab {
            Some(tab) if !tab.is_closed() => {
                let storage = tab
                    .evaluate("() => { try { return {origin: location.origin, items: Object.fromEntries(Object.entries(localStorage))}; } catch (e) { return null; } }", None)
                    .await
                    .unwrap_or(serde_json::Value::Null);
                (tab.url(), storage, tab.display())
            }
            _ => (
                String::new(),
                serde_json::Value::Null,
                serde_json::Value::Null,
            ),
        };
        Ok(
            json!({"cookies": cookies["cookies"], "url": url, "localStorage": storage, "display": display}),
        )
    }

    /// Puts back what [`BrowsingContext::export_state`] saved: cookies, localStorage (set before
    /// the page's own scripts run), the viewport and media, and the page.
    pub async fn import_state(&self, state: &serde_json::Value) -> Result<(), BrowserError> {
        let cookies: Vec<serde_json::Value> = state["cookies"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| {
                        let kept: serde_json::Map<String, serde_json::Value> = COOKIE_FIELDS
                            .iter()
                            .filter_map(|f| c.get(*f).map(|v| ((*f).to_string(), v.clone())))
                            .collect();
                        serde_json::Value::Object(kept)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !cookies.is_empty() {
            self.conn
                .call(
                    "Storage.setCookies",
                    json!({"cookies": cookies, "browserContextId": self.id}),
                    None,
                    self.timeouts.action,
                )
                .await?;
        }
        let tab = self.current_tab().await?;
        // The viewport and media the agent chose, before the page lays itself out.
        tab.apply_display(&state["display"]).await?;
        let storage = &state["localStorage"];
        if let (Some(origin), Some(items)) =
            (storage["origin"].as_str(), storage["items"].as_object())
            && !items.is_empty()
        {
            let script = format!(
                "(() => {{ if (location.origin !== {origin}) return; try {{ if (sessionStorage.getItem('__keel_restored')) return; sessionStorage.setItem('__keel_restored', '1'); const items = {items}; for (const k in items) if (localStorage.getItem(k) === null) localStorage.setItem(k, items[k]); }} catch (e) {{}} }})()",
                origin = serde_json::to_string(origin).unwrap_or_default(),
                items = serde_json::Value::Object(items.clone()),
            );
            tab.call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": script}),
            )
            .await?;
        }
        if let Some(url) = state["url"].as_str()
            && (url.starts_with("http://") || url.starts_with("https://"))
        {
            tab.navigate(url).await?;
        }
        Ok(())
    }

    /// The current tab (a new one if the session has none).
    pub async fn current_tab(&self) -> Result<Arc<Tab>, BrowserError> {
        let mut tabs = self.tabs.lock().await;
        self.prune(&mut tabs);
        if tabs.0.is_empty() {
            let tab = self.open_tab().await?;
            tabs.0.push(tab);
            tabs.1 = 0;
        }
        let index = tabs.1.min(tabs.0.len() - 1);
        Ok(Arc::clone(&tabs.0[index]))
    }

    /// Drops the tabs that closed on their own (a page's `window.close()`, a crash), keeping the
    /// current tab current; if it was the one that closed, the one before it is current now, and
    /// a note says so.
    fn prune(&self, tabs: &mut (Vec<Arc<Tab>>, usize)) {
        if !tabs.0.iter().any(|t| t.is_closed()) {
            return;
        }
        let current = tabs.1.min(tabs.0.len().saturating_sub(1));
        let closed_current = tabs
            .0
            .get(current)
            .filter(|t| t.is_closed())
            .map(|t| t.url());
        let before = tabs.0[..current].iter().filter(|t| t.is_closed()).count();
        tabs.0.retain(|t| !t.is_closed());
        tabs.1 = if closed_current.is_some() {
            // The one before it (or the first), as a browser shows when a tab closes.
            (current - before).saturating_sub(1)
        } else {
            current - before
        }
        .min(tabs.0.len().saturating_sub(1));
        if let Some(url) = closed_current {
            let index = (!tabs.0.is_empty()).then_some(tabs.1);
            self.notes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Note::TabClosed { url, index });
        }
    }

    async fn open_tab(&self) -> Result<Arc<Tab>, BrowserError> {
        let mut params = json!({"url": "about:blank", "browserContextId": self.id});
        if !self.remote {
            // A full-screen window shows no toolbar or tab strip, so the page's viewport is the
            // whole window (the screen keel's browser is started with). A window with them lays
            // them out and paints them again while a page loads (the throbber turns) and after
            // (address, buttons), on the browser's main thread, where every protocol answer
            // waits its turn. Traced here over a 5,000-link page's load: that thread 179 ms with
            // a normal window, 76 ms full screen (the GPU process 105 -> 25 ms). (A remote
            // browser's screen is not keel's to choose: its windows stay as they are.)
            params["windowState"] = json!("fullscreen");
        }
        let mut created = self
            .conn
            .call(
                "Target.createTarget",
                params.clone(),
                None,
                self.timeouts.action,
            )
            .await;
        if let Err(BrowserError::Cdp(message)) = &created
            && message.contains("window state")
        {
            // The session's window is open already (the state is only for a new window): the
            // tab joins it, full screen as it is.
            params.as_object_mut().map(|p| p.remove("windowState"));
            created = self
                .conn
                .call("Target.createTarget", params, None, self.timeouts.action)
                .await;
        }
        let created = created?;
        let target = created["targetId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("createTarget gave no targetId".into()))?
            .to_string();
        Tab::attach(self.conn.clone(), target, self.timeouts).await
    }

    /// Opens a new tab and makes it current.
    pub async fn new_tab(&self) -> Result<Arc<Tab>, BrowserError> {
        let mut tabs = self.tabs.lock().await;
        self.prune(&mut tabs);
        if tabs.0.len() >= self.max_tabs {
            return Err(BrowserError::Limit(format!(
                "this session has {} tabs open, the most allowed (browser.max_tabs): close one with browser_tabs",
                tabs.0.len()
            )));
        }
        let tab = self.open_tab().await?;
        tabs.0.push(Arc::clone(&tab));
        tabs.1 = tabs.0.len() - 1;
        Ok(tab)
    }

    /// Puts a new tab in the place of `old` and closes `old`: the way out of a page that cannot
    /// be left otherwise (one that opens dialogs without end).
    pub async fn replace_tab(&self, old: &Arc<Tab>) -> Result<Arc<Tab>, BrowserError> {
        let tab = self.open_tab().await?;
        {
            let mut tabs = self.tabs.lock().await;
            match tabs.0.iter().position(|t| Arc::ptr_eq(t, old)) {
                Some(index) => tabs.0[index] = Arc::clone(&tab),
                None => {
                    tabs.0.push(Arc::clone(&tab));
                    tabs.1 = tabs.0.len() - 1;
                }
            }
        }
        if let Err(error) = self
            .conn
            .call(
                "Target.closeTarget",
                json!({"targetId": old.target_id}),
                None,
                self.timeouts.action,
            )
            .await
        {
            tracing::warn!(%error, "a replaced tab could not be closed");
        }
        Ok(tab)
    }

    /// The tabs (URL each) and the index of the current one.
    pub async fn list_tabs(&self) -> (Vec<String>, usize) {
        let mut tabs = self.tabs.lock().await;
        self.prune(&mut tabs);
        (tabs.0.iter().map(|t| t.url()).collect(), tabs.1)
    }

    /// Makes tab `index` current.
    pub async fn select_tab(&self, index: usize) -> Result<Arc<Tab>, BrowserError> {
        let mut tabs = self.tabs.lock().await;
        let tab = tabs.0.get(index).cloned().ok_or_else(|| {
            BrowserError::Invalid(format!("there is no tab {index}: browser_tabs lists them"))
        })?;
        tabs.1 = index;
        tab.call("Page.bringToFront", json!({})).await?;
        Ok(tab)
    }

    /// Closes tab `index` (the current one if `None`).
    pub async fn close_tab(&self, index: Option<usize>) -> Result<(), BrowserError> {
        let tab = {
            let mut tabs = self.tabs.lock().await;
            let index = index.unwrap_or(tabs.1);
            if index >= tabs.0.len() {
                return Err(BrowserError::Invalid(format!(
                    "there is no tab {index}: browser_tabs lists them"
                )));
            }
            let tab = tabs.0.remove(index);
            tabs.1 = tabs.1.min(tabs.0.len().saturating_sub(1));
            tab
        };
        self.conn
            .call(
                "Target.closeTarget",
                json!({"targetId": tab.target_id}),
                None,
                self.timeouts.action,
            )
            .await?;
        let current = {
            let tabs = self.tabs.lock().await;
            tabs.0.get(tabs.1).cloned()
        };
        if let Some(current) = current {
            let _ = current.call("Page.bringToFront", json!({})).await;
        }
        Ok(())
    }
}

/// The browser the pool drives.
enum Backend {
    /// A Chromium process of keel's own, over a pipe.
    Local(ChromeProcess),
    /// A remote browser over its DevTools WebSocket, with its requests checked in the protocol.
    Remote(Connection, RemoteGuard),
}

impl Backend {
    fn connection(&self) -> &Connection {
        match self {
            Backend::Local(process) => &process.connection,
            Backend::Remote(connection, _) => connection,
        }
    }
}

struct Running {
    process: Backend,
    contexts: HashMap<String, Arc<BrowsingContext>>,
}

/// The pool of browser contexts over one browser process.
pub struct BrowserPool {
    config: BrowserConfig,
    /// The local Chromium (`None` with a remote browser).
    binary: Option<PathBuf>,
    policy: Arc<UrlPolicy>,
    proxy: tokio::sync::OnceCell<PolicyProxy>,
    running: tokio::sync::Mutex<Option<Running>>,
}

impl BrowserPool {
    /// A pool with `config`; fails at once (with the package to install) if there is no Chromium
    /// (and no remote browser is configured).
    pub fn new(config: BrowserConfig) -> Result<Self, BrowserError> {
        let binary = match &config.ws_url {
            Some(url) => {
                if !url.starts_with("ws://") && !url.starts_with("wss://") {
                    return Err(BrowserError::Invalid(format!(
                        "browser.ws {url:?}: give the browser's DevTools WebSocket URL, ws://host:port/devtools/browser/… or wss://…"
                    )));
                }
                None
            }
            None => Some(find_chromium(config.chrome_path.as_deref())?),
        };
        let policy = Arc::new(UrlPolicy::new(&config.allow)?);
        Ok(Self {
            config,
            binary,
            policy,
            proxy: tokio::sync::OnceCell::new(),
            running: tokio::sync::Mutex::new(None),
        })
    }

    /// The settings.
    pub fn config(&self) -> &BrowserConfig {
        &self.config
    }

    /// The URL policy.
    pub fn policy(&self) -> &Arc<UrlPolicy> {
        &self.policy
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            navigation: self.config.navigation_timeout,
            action: self.config.action_timeout,
        }
    }

    /// The browsing session `key` if it is open.
    pub async fn existing(&self, key: &str) -> Option<Arc<BrowsingContext>> {
        let running = self.running.lock().await;
        let running = running
            .as_ref()
            .filter(|r| !r.process.connection().is_closed())?;
        running.contexts.get(key).cloned()
    }

    /// The open browsing sessions, with their keys.
    pub async fn sessions(&self) -> Vec<(String, Arc<BrowsingContext>)> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .map(|r| {
                r.contexts
                    .iter()
                    .map(|(k, c)| (k.clone(), Arc::clone(c)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The browsing session `key` (created on first use).
    pub async fn context(&self, key: &str) -> Result<Arc<BrowsingContext>, BrowserError> {
        let mut running = self.running.lock().await;
        if running
            .as_ref()
            .is_some_and(|r| r.process.connection().is_closed())
        {
            tracing::warn!("the browser went away; starting a new one");
            *running = None;
        }
        if running.is_none() {
            let process = self.start_browser().await?;
            // Tabs that pages open (window.open, target=_blank) are announced as targets.
            process
                .connection()
                .call(
                    "Target.setDiscoverTargets",
                    json!({"discover": true}),
                    None,
                    self.config.action_timeout,
                )
                .await?;
            *running = Some(Running {
                process,
                contexts: HashMap::new(),
            });
        }
        let Some(state) = running.as_mut() else {
            return Err(BrowserError::Disconnected);
        };
        if let Some(context) = state.contexts.get(key) {
            return Ok(Arc::clone(context));
        }
        if state.contexts.len() >= self.config.max_contexts {
            return Err(BrowserError::Limit(format!(
                "{} browsing sessions are open, the most allowed (browser.max_contexts); close one with browser_close",
                state.contexts.len()
            )));
        }
        let conn = state.process.connection().clone();
        let (proxy, refusals, options) = match &state.process {
            Backend::Local(_) => {
                let proxy = PolicyProxy::start(Arc::clone(&self.policy)).await?;
                let options = json!({"disposeOnDetach": false, "proxyServer": format!("http://{}", proxy.addr), "proxyBypassList": "<-loopback>"});
                let refusals = Arc::clone(&proxy.log);
                (Some(proxy), refusals, options)
            }
            // Contexts on a shared browser go away with keel's connection.
            Backend::Remote(..) => (None, Arc::default(), json!({"disposeOnDetach": true})),
        };
        let remote = proxy.is_none();
        let created = conn
            .call(
                "Target.createBrowserContext",
                options,
                None,
                self.config.action_timeout,
            )
            .await?;
        let id = created["browserContextId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("createBrowserContext gave no ID".into()))?
            .to_string();
        if let Backend::Remote(_, guard) = &state.process {
            guard.register(&id, Arc::clone(&refusals));
        }
        let downloads = tempfile::Builder::new()
            .prefix("keel-downloads-")
            .tempdir()
            .map_err(|e| {
                BrowserError::Launch(format!("cannot create a download directory: {e}"))
            })?;
        // A remote browser's downloads would land on its machine, out of the agent's reach.
        let behavior = if remote {
            json!({"behavior": "deny", "browserContextId": id, "eventsEnabled": true})
        } else {
            json!({"behavior": "allowAndName", "browserContextId": id, "downloadPath": downloads.path(), "eventsEnabled": true})
        };
        conn.call(
            "Browser.setDownloadBehavior",
            behavior,
            None,
            self.config.action_timeout,
        )
        .await?;
        let events = conn.events();
        let context = Arc::new(BrowsingContext {
            id,
            _proxy: proxy,
            refusals,
            remote,
            downloads,
            notes: Arc::default(),
            popups_attached: std::sync::atomic::AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            watcher: std::sync::Mutex::new(None),
            conn,
            timeouts: self.timeouts(),
            max_tabs: self.config.max_tabs,
            max_download_bytes: self.config.max_download_bytes,
            tabs: tokio::sync::Mutex::new((Vec::new(), 0)),
            usage: Arc::new(std::sync::Mutex::new(Usage {
                calls: 0,
                last_used: std::time::Instant::now(),
                asleep: false,
            })),
        });
        let watcher = tokio::spawn(watch_context(Arc::downgrade(&context), events));
        *context.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        state.contexts.insert(key.to_string(), Arc::clone(&context));
        Ok(context)
    }

    /// Ends the browsing session `key`: its tabs, cookies and storage. Returns whether it existed.
    pub async fn close(&self, key: &str) -> Result<bool, BrowserError> {
        let context = {
            let mut running = self.running.lock().await;
            running.as_mut().and_then(|r| {
                let context = r.contexts.remove(key)?;
                if let Backend::Remote(_, guard) = &r.process {
                    guard.unregister(&context.id);
                }
                Some(context)
            })
        };
        let Some(context) = context else {
            return Ok(false);
        };
        context
            .conn
            .call(
                "Target.disposeBrowserContext",
                json!({"browserContextId": context.id}),
                None,
                self.config.action_timeout,
            )
            .await?;
        Ok(true)
    }

    /// Browsing sessions open now.
    pub async fn open_sessions(&self) -> usize {
        self.running
            .lock()
            .await
            .as_ref()
            .map_or(0, |r| r.contexts.len())
    }

    /// Kills the browser process (tests use it to prove a crash is survived); with a remote
    /// browser, drops the connection to it.
    pub async fn kill_browser(&self) {
        let mut running = self.running.lock().await;
        match running.as_mut().map(|r| &mut r.process) {
            Some(Backend::Local(process)) => process.kill().await,
            Some(Backend::Remote(..)) => *running = None,
            None => {}
        }
    }

    /// Starts (or connects to) the browser and proves it answers.
    async fn start_browser(&self) -> Result<Backend, BrowserError> {
        let version = |conn: Connection, what: String| async move {
            // The first call proves the browser is up (a broken install fails here, clearly).
            conn.call(
                "Browser.getVersion",
                json!({}),
                None,
                Duration::from_secs(30),
            )
            .await
            .map_err(|e| BrowserError::Launch(format!("{what} did not answer: {e}")))
        };
        match (&self.binary, &self.config.ws_url) {
            (Some(binary), _) => {
                let proxy = self
                    .proxy
                    .get_or_try_init(|| PolicyProxy::start(Arc::clone(&self.policy)))
                    .await?
                    .addr;
                let process = ChromeProcess::start(binary, Some(proxy))?;
                version(process.connection.clone(), binary.display().to_string()).await?;
                Ok(Backend::Local(process))
            }
            (None, Some(url)) => {
                let conn = Connection::websocket(url, Duration::from_secs(30)).await?;
                version(conn.clone(), format!("the browser at {url}")).await?;
                let guard = RemoteGuard::start(
                    conn.clone(),
                    Arc::clone(&self.policy),
                    self.config.action_timeout,
                )
                .await?;
                Ok(Backend::Remote(conn, guard))
            }
            (None, None) => Err(BrowserError::Launch("no browser is configured".into())),
        }
    }
}
