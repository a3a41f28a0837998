//! The browser tools as an MCP pack, named and shaped like Playwright MCP's so agents already know
//! them. A browsing session lives in a durable object: on the handshake protocol the MCP session's
//! (by default), on 2026-07-28 one minted by a call that opens a page, whose `handle` later calls
//! pass back. Each tool is a type of arguments with [`BrowserTool`]: the file of its group says
//! what it does on the page; this file finds the browsing session and writes the answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_mcp::{Pack, ToolContext, ToolDef, ToolError};
use keel_objects::{ObjectHost, ObjectKey};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use crate::downloads;
use crate::error::BrowserError;
use crate::policy::LogMark;
use crate::pool::{BrowserPool, BrowsingContext, InUse, Note};
use crate::snapshot::SnapshotOptions;
use crate::tab::{ActionOutcome, Tab};

mod args;
mod files;
mod inspect;
mod operate;
mod page;
mod pointer;
mod read;
mod sleep;

use args::BrowserArgs;
use files::{save_base64, save_output, session_files};
use sleep::{keep_downloads, put_to_sleep, save_state};

/// The namespace of browsing-session objects minted through handles.
pub const BROWSER_NAMESPACE: &str = "browser";

/// The KV key under which a browsing session's object keeps its state while it sleeps.
pub const STATE_KEY: &str = "_keel_browser_state";

/// The tool groups a server offers by default: what an agent needs to read and operate a page.
pub const DEFAULT_GROUPS: [&str; 1] = ["browser"];

/// The browser pack.
pub struct BrowserPack {
    pool: Arc<BrowserPool>,
    host: Arc<ObjectHost>,
    /// Open browsing sessions: pool key -> their object.
    objects: Arc<Mutex<HashMap<String, ObjectKey>>>,
    /// Who opened each browsing session (pool key -> peer address), for the per-client share.
    clients: Mutex<HashMap<String, std::net::IpAddr>>,
    sleeper: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for BrowserPack {
    fn drop(&mut self) {
        if let Some(task) = &self.sleeper {
            task.abort();
        }
    }
}

impl BrowserPack {
    /// A pack over `pool`, keeping browsing sessions' state in objects of `host`. Inside a tokio
    /// runtime it also puts idle sessions to sleep (state saved, browser context closed).
    pub fn new(pool: Arc<BrowserPool>, host: Arc<ObjectHost>) -> Self {
        let objects: Arc<Mutex<HashMap<String, ObjectKey>>> = Arc::default();
        let sleeper = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (pool, host, objects) =
                (Arc::clone(&pool), Arc::clone(&host), Arc::clone(&objects));
            runtime.spawn(async move {
                let idle = pool.config().idle_timeout;
                let every = (idle / 2).clamp(Duration::from_millis(200), Duration::from_secs(10));
                loop {
                    tokio::time::sleep(every).await;
                    for (key, context) in pool.sessions().await {
                        if context.try_sleep(idle) {
                            put_to_sleep(&pool, &host, &objects, &key, &context).await;
                        }
                    }
                }
            })
        });
        Self {
            pool,
            host,
            objects,
            clients: Mutex::default(),
            sleeper,
        }
    }

    /// Saves every open browsing session's state in its object (before a shutdown).
    pub async fn save_all(&self) {
        for (key, context) in self.pool.sessions().await {
            save_state(&self.host, &self.objects, &key, &context).await;
        }
    }
}

impl Pack for BrowserPack {
    fn tools() -> Vec<ToolDef<Self>> {
        let mut tools = page::tools();
        tools.extend(operate::tools());
        tools.extend(pointer::tools());
        tools.extend(inspect::tools());
        tools.extend(read::tools());
        // Every browser tool works on pages of the web.
        tools.into_iter().map(ToolDef::open_world).collect()
    }
}

/// A browser tool: its arguments, and what it does on the page of the call's browsing session.
/// [`run`] finds (or starts, or wakes) the session and writes the answer around what `act` says.
pub(crate) trait BrowserTool:
    BrowserArgs + serde::de::DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static
{
    /// How a long answer is cut.
    const CUT: Cut = Cut::Never;
    /// Whether a session that slept gets its page back before the call (not for a call that
    /// opens a page of its own anyway).
    const REOPENS_PAGE: bool = true;

    /// The URL the call opens (completed to `https://…` when written without a scheme): such a
    /// call may start a browsing session where there is none.
    fn opens(&mut self) -> Option<&str> {
        None
    }

    /// Does the tool's work on `page`.
    fn act(&self, page: &Page<'_>) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// How a long answer is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// It cuts itself (a snapshot), or is short.
    Never,
    /// At the snapshot cap: a value or a log can be megabytes, more than a model should read.
    AtSnapshotCap,
    /// At `browser.max_read_bytes`: a whole page or response body, larger, never unbounded.
    AtReadCap,
}

/// What a tool's work came to.
pub(crate) enum Answer {
    /// Text, which [`run`] completes with what else happened (events, the handle, …).
    Text(String),
    /// A result sent as it is (an image, a PDF, structured content, a question for the client).
    Done(CallToolResponse),
}

/// The page a tool works on, and what it may need of the call.
pub(crate) struct Page<'a> {
    pack: &'a BrowserPack,
    cx: &'a ToolContext,
    call: &'a CallSession,
    session: &'a BrowsingContext,
    tab: Arc<Tab>,
    logged: LogMark,
}

impl Page<'_> {
    /// What an action did, and (when asked) the page's new snapshot.
    async fn report(&self, outcome: &ActionOutcome, with_snapshot: bool) -> Result<String, String> {
        self.pack
            .report(self.session, &self.tab, outcome, with_snapshot, self.logged)
            .await
    }

    /// The note that gives the client the handle of a session this call started.
    fn handle_note(&self) -> Option<String> {
        let found = &self.call.found;
        found
            .minted
            .then_some(found.handle.as_deref())
            .flatten()
            .map(handle_note)
    }

    fn config(&self) -> &crate::BrowserConfig {
        self.pack.pool.config()
    }
}

/// Runs the browser tool `A`: the browsing session of the call (woken or started as needed),
/// `A::act` on its current tab, and the answer with what else happened.
async fn run<A: BrowserTool>(
    pack: &BrowserPack,
    mut args: A,
    cx: &ToolContext,
) -> Result<CallToolResponse, ToolError> {
    let name = cx.tool_name();
    // Without a session (2026-07-28) and without a handle, only a call that opens a page
    // starts a browsing session; any other would act on a blank one.
    let opens = args.opens().map(str::to_string);
    if args.handle().is_none() && cx.session_id().is_none() && opens.is_none() {
        return Err(ToolError::fix(format!(
            "{name} needs a browsing session: pass the `handle` that browser_navigate returned (this request has no MCP session)"
        )));
    }
    if let Some(url) = &opens {
        // A refused URL is refused before any browser work.
        pack.pool
            .policy()
            .check_url(url)
            .map_err(|e| ToolError::fix(err(e)))?;
    }
    let call = pack
        .session(args.handle(), cx, A::REOPENS_PAGE)
        .await
        .map_err(ToolError::Fix)?;
    let minted = call.found.minted.then(|| call.found.object.key().clone());
    let result = pack.in_session(&args, cx, call).await;
    if result.is_err()
        && let Some(key) = minted
    {
        // The caller never got this session's handle: nothing could close it, and it would
        // hold a slot of browser.max_contexts until it slept.
        let _ = pack.pool.close(&key.to_string()).await;
        pack.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key.to_string());
        if let Err(error) = pack.host.delete(&key).await {
            tracing::warn!(%error, "a browsing session a failed call minted could not be deleted");
        }
    }
    result.map_err(ToolError::Fix)
}

impl BrowserPack {
    /// The tool `args` on the browsing session `call` found or minted.
    async fn in_session<A: BrowserTool>(
        &self,
        args: &A,
        cx: &ToolContext,
        call: CallSession,
    ) -> Result<CallToolResponse, String> {
        let _turn = call.context.turn().await;
        let session = &call.context;
        let tab = session.current_tab().await.map_err(err)?;
        let logged = session.refusals().mark();
        // Tabs the page opens during the call are waited for at its end (see below).
        let (popups_before, windows_before) = (session.popups_attached(), tab.windows_opened());
        let page = Page {
            pack: self,
            cx,
            call: &call,
            session,
            tab: Arc::clone(&tab),
            logged,
        };
        let mut out = match args.act(&page).await? {
            Answer::Text(out) => out,
            Answer::Done(response) => return Ok(response),
        };
        // `filename`, as Playwright MCP has it: the answer is kept in the session as a file
        // (browser_downloads hands it over: keel's disk is not the agent's).
        if let Some(file_name) = args.filename() {
            out = save_output(
                &call.found.object,
                file_name,
                cx.tool_name(),
                out.into_bytes(),
            )
            .await?;
        } else {
            match A::CUT {
                Cut::Never => {}
                Cut::AtSnapshotCap => cut_to(&mut out, self.pool.config().max_snapshot_bytes),
                Cut::AtReadCap => cut_to(&mut out, self.pool.config().max_read_bytes),
            }
        }
        // Tabs the call's page opened are attached before the answer, so it reports them.
        let opened = tab.windows_opened().saturating_sub(windows_before);
        if opened > 0 {
            session.await_popups(popups_before + opened).await;
        }
        // What pages did on their own (downloads, new tabs) since the last call: a section of
        // its own, so it is not read as part of the snapshot above it.
        let mut events = keep_downloads(session, &call.found.object).await;
        for note in session.take_notes() {
            match note {
                Note::TabOpened { index, url } => events.push(format!(
                    "- The page opened a new tab ({index}): {url}. Switch to it with browser_tabs (action select, index {index}).\n"
                )),
                Note::TabClosed { url, index: Some(index) } => events.push(format!(
                    "- The current tab ({url}) was closed by its page; tab {index} is current now.\n"
                )),
                Note::TabClosed { url, index: None } => events.push(format!(
                    "- The current tab ({url}) was closed by its page; no other tab was open (a blank one takes its place).\n"
                )),
                Note::TabRefused { url, max_tabs } => events.push(format!(
                    "- The page opened a tab ({url}) past the session's {max_tabs} tabs (browser.max_tabs); it was closed.\n"
                )),
                Note::DownloadCancelled {
                    file_name,
                    url,
                    max_bytes,
                } => events.push(format!(
                    "- The download of {file_name} from {url} was cancelled: it passed {max_bytes} bytes, the most kept (browser.max_download_bytes).\n"
                )),
                Note::Downloaded { .. } => {}
            }
        }
        if !events.is_empty() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("### Events\n");
            out.extend(events);
        }
        if call.restored {
            out.insert_str(
                0,
                "(This browsing session had slept; its cookies, storage and page were restored.)\n",
            );
        }
        if let Some(note) = page.handle_note() {
            out.push_str(&note);
        }
        Ok(text(&out).into())
    }

    /// What an action did, and (when asked) the page's new snapshot.
    async fn report(
        &self,
        session: &BrowsingContext,
        tab: &Tab,
        outcome: &ActionOutcome,
        with_snapshot: bool,
        logged: LogMark,
    ) -> Result<String, String> {
        let mut out = format!("### Page\n- URL: {}\n", outcome.url);
        if outcome.navigated {
            out.push_str("- The page navigated.\n");
            // An error page is a page too, but the agent should know it is one, and why: keel's
            // proxy knows what the browser shows as a failed tunnel or the proxy's own page.
            let failed = session.refusals().failure_for(&outcome.url, logged.failed);
            if let Some(reason) = failed {
                // A refusal is listed below with the others.
                if !reason.starts_with("refused by the URL policy") {
                    out.push_str(&format!(
                        "- {}.\n",
                        sentence(&unreachable(&outcome.url, &reason))
                    ));
                }
            } else if let Some(error) = tab.load_error() {
                out.push_str(&format!("- {}.\n", sentence(&error)));
            } else if let Some(status) = tab.document_status().filter(|s| *s >= 400) {
                out.push_str(&format!("- The server answered HTTP {status}.\n"));
            }
        }
        if let Some(since) = outcome.stuck_since {
            out.push_str(&format!(
                "- The page is not responding: a script has kept it busy for {} s. Navigate elsewhere (browser_navigate ends the script) or close the tab.\n",
                since.elapsed().as_secs().max(1)
            ));
            return Ok(out);
        }
        if outcome.downloading {
            out.push_str("- A download it began is still running: the call that sees it finish reports it.\n");
        } else if outcome.still_busy {
            out.push_str("- The page was still loading when the wait ended.\n");
        }
        if outcome.downloads > 0 {
            // Reported below with what else happened since the last call, once it is kept.
            session.await_download_notes(outcome.downloads).await;
        }
        for url in session.refusals().since(logged.refused) {
            out.push_str(&format!("- Refused by the URL policy: {url}\n"));
        }
        if outcome.file_chooser {
            out.push_str("- A file chooser is open: send the files with browser_file_upload.\n");
        }
        if let Some(dialog) = &outcome.dialog {
            out.push_str(&format!(
                "- There is {} open: {:?}. Answer it with browser_handle_dialog.\n",
                dialog.described(),
                dialog.message
            ));
            return Ok(out);
        }
        if with_snapshot {
            let snapshot = tab
                .snapshot(SnapshotOptions {
                    max_bytes: Some(self.pool.config().max_snapshot_bytes),
                    ..Default::default()
                })
                .await
                .map_err(err)?;
            out.push_str("### Snapshot\n");
            out.push_str(&snapshot.text);
            if snapshot.truncated {
                out.push_str("… (cut: call browser_snapshot with `target` for a part)\n");
            }
        }
        Ok(out)
    }
}

/// The browsing session a call acts on, held in use for the call.
struct CallSession {
    context: Arc<BrowsingContext>,
    _in_use: InUse,
    /// Its object, and the handle to report.
    found: keel_mcp::handles::HandleObject,
    /// True if it had slept and was restored for this call.
    restored: bool,
}

impl BrowserPack {
    /// The browsing session of this call; a session that slept is restored from its object first
    /// (its page reopened unless `reopen_page` is false).
    async fn session(
        &self,
        handle: Option<&str>,
        cx: &ToolContext,
        reopen_page: bool,
    ) -> Result<CallSession, String> {
        let found = cx
            .handle_object(BROWSER_NAMESPACE, handle)
            .await
            .map_err(|e| e.to_string())?;
        let key = found.object.key().to_string();
        if let Some(context) = self.pool.existing(&key).await {
            if let Some(in_use) = context.enter() {
                return Ok(CallSession {
                    context,
                    _in_use: in_use,
                    found,
                    restored: false,
                });
            }
            // Being put to sleep right now: wait until it is saved and closed, then wake it.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while self.pool.existing(&key).await.is_some() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Only with a share configured is the client noted (the notes are pruned when counted).
        let client = cx
            .peer()
            .map(|addr| addr.ip())
            .filter(|_| self.pool.config().max_contexts_per_client.is_some());
        if let Some(client) = client {
            self.keep_share(client).await?;
        }
        self.make_room().await;
        let context = self.pool.context(&key).await.map_err(err)?;
        if let Some(client) = client {
            self.clients
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone(), client);
        }
        let in_use = context
            .enter()
            .ok_or("the browsing session was put to sleep while it was being opened; try again")?;
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, found.object.key().clone());
        let mut restored = false;
        if let Ok(Some(keel_objects::Value::Json(mut state))) =
            found.object.storage().get(STATE_KEY).await
        {
            if !reopen_page {
                state["url"] = Value::Null;
            }
            match context.import_state(&state).await {
                Ok(()) => restored = true,
                Err(error) => tracing::warn!(%error, "a browsing session could not be restored"),
            }
        }
        Ok(CallSession {
            context,
            _in_use: in_use,
            found,
            restored,
        })
    }

    /// Before `client` opens a browsing session: at its share (`browser.max_contexts_per_client`),
    /// its own session idle longest sleeps; when all of its sessions are in calls, it is refused.
    async fn keep_share(&self, client: std::net::IpAddr) -> Result<(), String> {
        let Some(share) = self.pool.config().max_contexts_per_client else {
            return Ok(());
        };
        let open = self.pool.sessions().await;
        let mine: Vec<_> = {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            // Sessions closed or asleep since are no one's any more.
            clients.retain(|key, _| open.iter().any(|(k, _)| k == key));
            open.into_iter()
                .filter(|(key, _)| clients.get(key) == Some(&client))
                .collect()
        };
        if mine.len() < share || self.sleep_idle_longest(mine).await {
            return Ok(());
        }
        Err(format!(
            "this client has {share} browsing sessions in use, its share of browser.max_contexts (browser.max_contexts_per_client): wait for one to finish, or close one with browser_close"
        ))
    }

    /// Puts the one of `sessions` idle longest to sleep (its state saved in its object, as after
    /// its idle timeout); false when every one is in a call.
    async fn sleep_idle_longest(&self, sessions: Vec<(String, Arc<BrowsingContext>)>) -> bool {
        let oldest = sessions
            .into_iter()
            .filter_map(|(key, context)| Some((context.idle_for()?, key, context)))
            .max_by_key(|(idle, ..)| *idle);
        match oldest {
            Some((idle, key, context)) if context.try_sleep(idle) => {
                put_to_sleep(&self.pool, &self.host, &self.objects, &key, &context).await;
                true
            }
            _ => false,
        }
    }

    /// At `browser.max_contexts`, puts the session idle longest to sleep so a new one can open:
    /// a client that opens sessions and walks away does not lock everyone out. Sessions in the
    /// middle of a call are never chosen; when every one is, the cap refuses the new session.
    async fn make_room(&self) {
        let sessions = self.pool.sessions().await;
        if sessions.len() >= self.pool.config().max_contexts {
            self.sleep_idle_longest(sessions).await;
        }
    }
}

/// A result with `value` as structured content and as text.
fn structured(value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(
        serde_json::to_string_pretty(&value).unwrap_or_default(),
    )]);
    result.structured_content = Some(value);
    result
}

fn handle_note(handle: &str) -> String {
    format!(
        "### Browsing session\nhandle: {handle} (pass it as `handle` to later browser calls to keep using this browsing session)\n"
    )
}

fn text(s: &str) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s.to_string())])
}

/// Keeps the items of the array `items` that fit in `budget` bytes of JSON (taking them from
/// it); how many were left out. Not an array: left as it is.
fn keep_within(items: &mut Value, budget: &mut usize) -> usize {
    let Some(array) = items.as_array_mut() else {
        return 0;
    };
    let mut kept = 0;
    for item in array.iter() {
        let size = item.to_string().len() + 1;
        if size > *budget {
            break;
        }
        *budget -= size;
        kept += 1;
    }
    let left_out = array.len() - kept;
    array.truncate(kept);
    left_out
}

/// Cuts `out` to `max` bytes (at a character boundary), saying how much there was and how to get
/// it whole.
fn cut_to(out: &mut String, max: usize) {
    if out.len() <= max {
        return;
    }
    let whole = out.len();
    let mut end = max;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.push_str(&format!(
        "\n… (cut: {end} of {whole} bytes shown; pass `filename` to keep the whole answer in the session)\n"
    ));
}

/// `text` with a capital first letter.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Why `url` could not be opened, from what keel's proxy said about it (a refusal says it all).
fn unreachable(url: &str, reason: &str) -> String {
    if reason.starts_with("refused by the URL policy") {
        reason.to_string()
    } else {
        format!("could not open {url}: {reason}")
    }
}

/// Opens `url` in `tab`, saying why when it cannot be: keel's proxy knows what the browser only
/// sees as a failed tunnel or a refusal page (which is no page of the site).
async fn open(session: &BrowsingContext, tab: &Tab, url: &str) -> Result<ActionOutcome, String> {
    let failures = session.refusals().failure_count();
    let outcome = match tab.navigate(url).await {
        Ok(outcome) => outcome,
        Err(BrowserError::Invalid(message)) if message.contains("ERR_TUNNEL_CONNECTION_FAILED") => {
            return Err(session
                .refusals()
                .failure_for(url, failures)
                .map_or(message, |reason| unreachable(url, &reason)));
        }
        Err(e) => return Err(err(e)),
    };
    match session.refusals().failure_for(&outcome.url, failures) {
        Some(reason) => Err(unreachable(url, &reason)),
        None => Ok(outcome),
    }
}

fn err(e: BrowserError) -> String {
    e.to_string()
}
