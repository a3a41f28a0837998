//! The browser tools as an MCP pack, named and shaped like Playwright MCP's so agents already know
//! them. A browsing session lives in a durable object: on the handshake protocol the MCP session's
//! (by default), on 2026-07-28 one minted by `browser_navigate` whose `handle` later calls pass back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_mcp::{ToolContext, ToolFuture, ToolPack};
use keel_objects::{ObjectHost, ObjectKey};
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations,
};
use serde_json::{Map, Value, json};

use crate::downloads;
use crate::error::BrowserError;
use crate::policy::LogMark;
use crate::pool::{BrowserPool, BrowsingContext, InUse, Note};
use crate::reading;
use crate::snapshot::SnapshotOptions;
use crate::tab::{ActionOutcome, Tab};

mod files;
mod inspect;
mod pointer;
mod schemas;
mod sleep;

use files::{save_base64, save_output, session_files};
use inspect::{find_in_snapshot, is_static, request_details};
pub use schemas::tools;
use sleep::{keep_downloads, put_to_sleep, save_state};

/// The namespace of browsing-session objects minted through handles.
pub const BROWSER_NAMESPACE: &str = "browser";

/// The KV key under which a browsing session's object keeps its state while it sleeps.
pub const STATE_KEY: &str = "_keel_browser_state";

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

impl ToolPack for BrowserPack {
    fn tools(&self) -> Vec<Tool> {
        tools()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<&'a JsonObject>,
        cx: &'a ToolContext,
    ) -> ToolFuture<'a> {
        Box::pin(async move {
            let empty = Map::new();
            let args = arguments.unwrap_or(&empty);
            Ok(match self.run(name, args, cx).await {
                Ok(response) => response,
                Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]).into(),
            })
        })
    }
}

fn string<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn flag(args: &Map<String, Value>, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// A click's `modifiers` (Playwright MCP's names) as the protocol's bit mask.
fn modifiers(args: &Map<String, Value>) -> Result<i64, String> {
    let mut mask = 0;
    for key in args
        .get("modifiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = key.as_str().unwrap_or_default();
        mask |= crate::tab::modifier_bit(name).ok_or_else(|| {
            format!("modifier {name:?} is not one of Alt, Control, ControlOrMeta, Meta, Shift")
        })?;
    }
    Ok(mask)
}

fn target_of(args: &Map<String, Value>) -> Result<&str, String> {
    string(args, "target")
        .or_else(|| string(args, "ref"))
        .ok_or_else(|| "name the element with `target` (a ref from browser_snapshot, like e12, or a CSS selector)".to_string())
}

fn err(e: BrowserError) -> String {
    e.to_string()
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
        args: &Map<String, Value>,
        cx: &ToolContext,
        reopen_page: bool,
    ) -> Result<CallSession, String> {
        let found = cx
            .handle_object(BROWSER_NAMESPACE, string(args, "handle"))
            .await?;
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

    async fn run(
        &self,
        name: &str,
        args: &Map<String, Value>,
        cx: &ToolContext,
    ) -> Result<CallToolResponse, String> {
        // `example.com` or `localhost:3000/admin`, as agents write them: given a scheme.
        let completed;
        let args = match string(args, "url").map(crate::policy::with_scheme) {
            Some(url) if Some(url.as_str()) != string(args, "url") => {
                let mut with_url = args.clone();
                with_url.insert("url".into(), Value::String(url));
                completed = with_url;
                &completed
            }
            _ => args,
        };
        // Without a session (2026-07-28) and without a handle, only a call that opens a page
        // starts a browsing session; any other would act on a blank one.
        let opens_a_page = name == "browser_navigate"
            || (name.starts_with("page_") && string(args, "url").is_some())
            || (name == "browser_tabs" && string(args, "url").is_some());
        if string(args, "handle").is_none() && cx.session_id().is_none() && !opens_a_page {
            return Err(format!(
                "{name} needs a browsing session: pass the `handle` that browser_navigate returned (this request has no MCP session)"
            ));
        }
        if name == "browser_close" {
            let found = cx
                .handle_object(BROWSER_NAMESPACE, string(args, "handle"))
                .await?;
            let closed = self
                .pool
                .close(&found.object.key().to_string())
                .await
                .map_err(err)?;
            // What it kept for its sleep goes too, so nothing of it comes back.
            let mut kept = downloads::keys(&found.object).await?;
            kept.push(STATE_KEY.to_string());
            found
                .object
                .storage()
                .delete_many(kept)
                .await
                .map_err(|e| {
                    format!("the browsing session's saved state could not be deleted: {e}")
                })?;
            return Ok(CallToolResponse::from(text(if closed {
                "The browsing session was closed."
            } else {
                "There was no open browsing session."
            })));
        }
        if name == "browser_navigate"
            && let Some(url) = string(args, "url")
        {
            // A refused URL is refused before any browser work.
            self.pool.policy().check_url(url).map_err(err)?;
        }
        let reopen = !matches!(name, "browser_navigate" | "page_content");
        if name == "browser_downloads" {
            // Kept in the object: no browser needed.
            let found = cx
                .handle_object(BROWSER_NAMESPACE, string(args, "handle"))
                .await?;
            if let Some(context) = self.pool.existing(&found.object.key().to_string()).await {
                keep_downloads(&context, &found.object).await;
            }
            let content = downloads::tool(&found.object, string(args, "name")).await?;
            return Ok(CallToolResult::success(content).into());
        }
        let call = self.session(args, cx, reopen).await?;
        let minted = call.found.minted.then(|| call.found.object.key().clone());
        let result = self.in_session(name, args, cx, call).await;
        if result.is_err()
            && let Some(key) = minted
        {
            // The caller never got this session's handle: nothing could close it, and it would
            // hold a slot of browser.max_contexts until it slept.
            let _ = self.pool.close(&key.to_string()).await;
            self.objects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key.to_string());
            if let Err(error) = self.host.delete(&key).await {
                tracing::warn!(%error, "a browsing session a failed call minted could not be deleted");
            }
        }
        result
    }

    /// The tool `name` on the browsing session `call` found or minted.
    async fn in_session(
        &self,
        name: &str,
        args: &Map<String, Value>,
        cx: &ToolContext,
        call: CallSession,
    ) -> Result<CallToolResponse, String> {
        let _turn = call.context.turn().await;
        let (session, handle, minted, restored) = (
            &call.context,
            call.found.handle.clone(),
            call.found.minted,
            call.restored,
        );
        let tab = session.current_tab().await.map_err(err)?;
        let logged = session.refusals().mark();
        // Tabs the page opens during the call are waited for at its end (see below).
        let (popups_before, windows_before) = (session.popups_attached(), tab.windows_opened());
        let acting_tab = Arc::clone(&tab);
        let mut out = match name {
            "browser_navigate" => {
                let url = string(args, "url").unwrap_or_default();
                // A page that opens dialogs without end is never left in its own tab.
                let (tab, replaced) = match tab.unstick().await.map_err(err)? {
                    true => (tab, false),
                    false => (session.replace_tab(&tab).await.map_err(err)?, true),
                };
                let outcome = open(session, &tab, url).await?;
                let mut out = self.report(session, &tab, &outcome, true, logged).await?;
                if replaced {
                    out.insert_str(
                        0,
                        "The last page kept opening dialogs: its tab was closed and this page opened in a new one.\n",
                    );
                }
                out
            }
            "browser_navigate_back" => {
                let outcome = tab.back().await.map_err(err)?;
                self.report(session, &tab, &outcome, true, logged).await?
            }
            "browser_snapshot" => {
                let mut options = self.snapshot_options(args);
                if let Some(target) = string(args, "target") {
                    options.root = Some(tab.resolve_target(target).await.map_err(err)?);
                }
                let snapshot = tab.snapshot(options).await.map_err(err)?;
                let mut out = format!(
                    "### Page\n- URL: {}\n### Snapshot\n{}",
                    tab.url(),
                    snapshot.text
                );
                if snapshot.truncated {
                    out.push_str("… (cut: scope it with `target`, or raise `depth`/`max_bytes`)\n");
                }
                out
            }
            "browser_click" => {
                let button = string(args, "button").unwrap_or("left");
                let outcome = tab
                    .click(
                        target_of(args)?,
                        flag(args, "doubleClick"),
                        button,
                        modifiers(args)?,
                    )
                    .await
                    .map_err(err)?;
                self.report(session, &tab, &outcome, true, logged).await?
            }
            "browser_hover" => {
                // With the snapshot: hovering is how menus and tooltips open.
                let outcome = tab.hover(target_of(args)?).await.map_err(err)?;
                self.report(session, &tab, &outcome, true, logged).await?
            }
            "browser_type" => {
                let text = string(args, "text").unwrap_or_default();
                let outcome = tab
                    .type_text(
                        target_of(args)?,
                        text,
                        flag(args, "submit"),
                        flag(args, "slowly"),
                    )
                    .await
                    .map_err(err)?;
                self.report(session, &tab, &outcome, outcome.navigated, logged)
                    .await?
            }
            "browser_fill_form" => {
                let fields = args
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut filled = Vec::new();
                for field in &fields {
                    let Some(map) = field.as_object() else {
                        continue;
                    };
                    let target = target_of(map)?;
                    let value = string(map, "value").unwrap_or_default();
                    let label = string(map, "name").unwrap_or(target);
                    match string(map, "type").unwrap_or("textbox") {
                        "checkbox" | "radio" => {
                            let want = value == "true";
                            let checked = tab
                                .evaluate("(e) => e.checked", Some(target))
                                .await
                                .map_err(err)?;
                            if checked.as_bool() != Some(want) {
                                tab.click(target, false, "left", 0).await.map_err(err)?;
                            }
                        }
                        "combobox" => {
                            tab.select_option(target, &[value.to_string()])
                                .await
                                .map_err(err)?;
                        }
                        _ => {
                            tab.type_text(target, value, false, false)
                                .await
                                .map_err(err)?;
                        }
                    }
                    filled.push(format!("- {label}: {value:?}"));
                }
                format!("Filled {} fields:\n{}\n", filled.len(), filled.join("\n"))
            }
            "browser_select_option" => {
                let values: Vec<String> = args
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let (outcome, selected) = tab
                    .select_option(target_of(args)?, &values)
                    .await
                    .map_err(err)?;
                // Null when the change handler opened a dialog before the values could be read.
                let selected = if selected.is_null() {
                    format!("Selected {values:?} (the page's change handler opened a dialog)")
                } else {
                    format!("Selected {selected}")
                };
                format!(
                    "{selected}\n{}",
                    self.report(session, &tab, &outcome, outcome.navigated, logged)
                        .await?
                )
            }
            "browser_file_upload" => {
                let dir = session.upload_dir().map_err(err)?;
                let mut paths = Vec::new();
                let named = args.get("paths").and_then(Value::as_array);
                if args.get("files").is_none() && named.is_none_or(|p| p.is_empty()) {
                    // As in Playwright MCP: no files cancels the chooser.
                    tab.cancel_file_chooser();
                    return Ok(CallToolResult::success(vec![ContentBlock::text(
                        "The file chooser was cancelled (no files sent).",
                    )])
                    .into());
                }
                // Paths name files on the agent's machine, which keel cannot read; the one kind
                // of file keel holds for a session is its downloads, named as browser_downloads
                // lists them.
                let mut noted = String::new();
                if let Some(named) = named {
                    let (files, notes) =
                        session_files(session, &call.found.object, &dir, named).await?;
                    paths = files;
                    noted = notes;
                }
                for file in args
                    .get("files")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = file["name"].as_str().unwrap_or("upload");
                    // Only the last path component: a name cannot reach outside the directory.
                    let safe = std::path::Path::new(name)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                        .ok_or_else(|| format!("{name:?} is not a file name"))?;
                    let bytes = match (file["text"].as_str(), file["base64"].as_str()) {
                        (Some(text), _) => text.as_bytes().to_vec(),
                        (None, Some(encoded)) => {
                            use base64::Engine as _;
                            base64::engine::general_purpose::STANDARD
                                .decode(encoded.trim())
                                .map_err(|e| {
                                    format!("{name}: `base64` is not valid base64 ({e})")
                                })?
                        }
                        (None, None) => {
                            return Err(format!("{name}: give its content as `text` or `base64`"));
                        }
                    };
                    let path = dir.join(safe);
                    std::fs::write(&path, bytes)
                        .map_err(|e| format!("cannot store {name}: {e}"))?;
                    paths.push(path);
                }
                let target = string(args, "target").or_else(|| string(args, "ref"));
                let outcome = tab.upload_files(target, &paths).await.map_err(err)?;
                format!(
                    "{noted}Uploaded {} file(s).\n{}",
                    paths.len(),
                    self.report(session, &tab, &outcome, outcome.navigated, logged)
                        .await?
                )
            }
            "browser_press_key" => {
                let outcome = tab
                    .press_key(string(args, "key").unwrap_or_default())
                    .await
                    .map_err(err)?;
                self.report(session, &tab, &outcome, outcome.navigated, logged)
                    .await?
            }
            "browser_wait_for" => {
                let time = args.get("time").and_then(Value::as_f64);
                tab.wait_for(string(args, "text"), string(args, "textGone"), time)
                    .await
                    .map_err(err)?
            }
            "browser_take_screenshot" => {
                let format = match string(args, "type").unwrap_or("png") {
                    format @ ("png" | "jpeg" | "webp") => format,
                    other => return Err(format!("type {other:?} is not one of png, jpeg, webp")),
                };
                let target = string(args, "target").or_else(|| string(args, "ref"));
                let data = tab
                    .screenshot(flag(args, "fullPage"), target, format)
                    .await
                    .map_err(err)?;
                let mime = format!("image/{format}");
                if let Some(file_name) = string(args, "filename") {
                    let saved = save_base64(&call.found.object, file_name, name, &data).await?;
                    return Ok(text(&saved).into());
                }
                let mut content = vec![ContentBlock::image(data, mime)];
                if minted && let Some(handle) = &handle {
                    content.push(ContentBlock::text(handle_note(handle)));
                }
                return Ok(CallToolResult::success(content).into());
            }
            "browser_pdf_save" => {
                let data = tab.pdf().await.map_err(err)?;
                if let Some(file_name) = string(args, "filename") {
                    let saved = save_base64(&call.found.object, file_name, name, &data).await?;
                    return Ok(text(&saved).into());
                }
                let resource = rmcp::model::ResourceContents::BlobResourceContents {
                    uri: format!("keel://browser/{}/page.pdf", tab.target_id),
                    mime_type: Some("application/pdf".into()),
                    blob: data,
                    meta: None,
                };
                let mut content = vec![
                    ContentBlock::resource(resource),
                    ContentBlock::text(format!("PDF of {}", tab.url())),
                ];
                if minted && let Some(handle) = &handle {
                    content.push(ContentBlock::text(handle_note(handle)));
                }
                return Ok(CallToolResult::success(content).into());
            }
            "browser_tabs" => self.tabs(session, args).await?,
            "browser_handle_dialog" => {
                let outcome = tab
                    .handle_dialog(flag(args, "accept"), string(args, "promptText"))
                    .await
                    .map_err(err)?;
                self.report(session, &tab, &outcome, outcome.navigated, logged)
                    .await?
            }
            "browser_evaluate" => {
                let function = string(args, "function").unwrap_or_default();
                let target = string(args, "target").or_else(|| string(args, "ref"));
                match tab.evaluate_action(function, target).await {
                    Ok((value, outcome)) => {
                        let mut out = format!(
                            "### Result\n{}\n",
                            serde_json::to_string_pretty(&value).unwrap_or_default()
                        );
                        // What the function set off (a navigation, a dialog, a download).
                        if outcome.navigated
                            || outcome.dialog.is_some()
                            || outcome.downloads > 0
                            || outcome.still_busy
                        {
                            out.push_str(
                                &self
                                    .report(session, &tab, &outcome, outcome.navigated, logged)
                                    .await?,
                            );
                        }
                        out
                    }
                    // The function waits in the dialog it opened; its value is not known yet.
                    Err(e) if e.is_dialog() => format!(
                        "### Result\nNone yet: the function is waiting for the dialog it opened.\n### Page\n- URL: {}\n- {}.\n",
                        tab.url(),
                        sentence(&e.to_string())
                    ),
                    Err(e) => return Err(err(e)),
                }
            }
            "browser_console_messages" => {
                // Each level includes the more severe ones, as in Playwright MCP.
                let rank = |level: &str| match level {
                    "error" => 0,
                    "warning" => 1,
                    "info" => 2,
                    _ => 3,
                };
                let wanted = match string(args, "level").unwrap_or("info") {
                    level @ ("error" | "warning" | "info" | "debug") => rank(level),
                    other => {
                        return Err(format!(
                            "level {other:?} is not one of error, warning, info, debug"
                        ));
                    }
                };
                let lines: Vec<String> = tab
                    .console(flag(args, "all"))
                    .into_iter()
                    .filter(|e| rank(e.level) <= wanted)
                    .map(|e| e.line)
                    .collect();
                if lines.is_empty() {
                    "No console messages.\n".to_string()
                } else {
                    lines.join("\n") + "\n"
                }
            }
            "browser_network_requests" => {
                let filter = string(args, "filter")
                    .map(|pattern| {
                        fancy_regex::Regex::new(pattern)
                            .map_err(|e| format!("`filter` is not a valid regular expression: {e}"))
                    })
                    .transpose()?;
                let with_static = flag(args, "static");
                let mut out = String::new();
                for (index, entry) in tab.network().into_iter().enumerate() {
                    if !with_static && is_static(&entry) {
                        continue;
                    }
                    if let Some(filter) = &filter
                        && !filter.is_match(&entry.url).unwrap_or(false)
                    {
                        continue;
                    }
                    out.push_str(&format!(
                        "{}. [{}] {} {} => {}\n",
                        index + 1,
                        entry.kind,
                        entry.method,
                        entry.url,
                        entry.outcome()
                    ));
                }
                let refused = session.refusals().since(0);
                if !refused.is_empty() {
                    out.push_str("Refused by the URL policy:\n");
                    for url in refused {
                        out.push_str(&format!("- {url}\n"));
                    }
                }
                if out.is_empty() {
                    "No requests.\n".into()
                } else {
                    out
                }
            }
            "browser_network_request" => request_details(&tab, args).await?,
            "browser_find" => {
                let snapshot = tab
                    .snapshot(SnapshotOptions::default())
                    .await
                    .map_err(err)?;
                format!(
                    "### Page\n- URL: {}\n{}",
                    tab.url(),
                    find_in_snapshot(&snapshot.text, args)?
                )
            }
            "page_content" | "page_markdown" | "page_links" | "page_scrape" | "page_extract" => {
                let (reading, scratch) = match string(args, "url") {
                    Some(url) => {
                        self.pool.policy().check_url(url).map_err(err)?;
                        let scratch = session.new_tab().await.map_err(err)?;
                        let opened = async {
                            scratch.skip_tree_at_load().await.map_err(err)?;
                            let outcome = open(session, &scratch, url).await?;
                            if outcome.downloads > 0 || outcome.downloading {
                                return Err(format!(
                                    "{url} is a file to download, not a page: it is kept in the session (browser_downloads hands it over)"
                                ));
                            }
                            Ok(())
                        };
                        if let Err(e) = opened.await {
                            let _ = session.close_tab(None).await;
                            return Err(e);
                        }
                        (scratch, true)
                    }
                    None => (Arc::clone(&tab), false),
                };
                let result = self.read(name, args, cx, &reading).await;
                if scratch {
                    let _ = session.close_tab(None).await;
                }
                match result? {
                    Reading::Text(text) => text,
                    Reading::Result(result) => return Ok(result.into()),
                    Reading::InputRequired(ask) => return Ok(ask.into()),
                }
            }
            "browser_drag"
            | "browser_drop"
            | "browser_resize"
            | "browser_emulate_media"
            | "browser_mouse_move_xy"
            | "browser_mouse_click_xy"
            | "browser_mouse_down"
            | "browser_mouse_up"
            | "browser_mouse_drag_xy"
            | "browser_mouse_wheel" => self.pointer(name, args, &call, &tab, logged).await?,
            other => return Err(format!("unknown browser tool {other}")),
        };
        // `filename`, as Playwright MCP has it: the answer is kept in the session as a file
        // (browser_downloads hands it over: keel's disk is not the agent's).
        if let Some(file_name) = string(args, "filename") {
            out = save_output(&call.found.object, file_name, name, out.into_bytes()).await?;
        } else if matches!(
            name,
            "browser_evaluate" | "browser_console_messages" | "browser_network_requests"
        ) {
            // A function's value or a log can be megabytes: more than any model should read at
            // once (a snapshot is capped the same way).
            cut_to(&mut out, self.pool.config().max_snapshot_bytes);
        } else if matches!(
            name,
            "page_content" | "page_markdown" | "browser_network_request"
        ) {
            // A whole page or response body: larger than a snapshot may be, but never unbounded.
            cut_to(&mut out, self.pool.config().max_read_bytes);
        }
        // Tabs the call's page opened are attached before the answer, so it reports them.
        let opened = acting_tab.windows_opened().saturating_sub(windows_before);
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
        if restored {
            out.insert_str(
                0,
                "(This browsing session had slept; its cookies, storage and page were restored.)\n",
            );
        }
        if minted && let Some(handle) = &handle {
            out.push_str(&handle_note(handle));
        }
        Ok(text(&out).into())
    }

    /// The reading tools on `tab`.
    async fn read(
        &self,
        name: &str,
        args: &Map<String, Value>,
        cx: &ToolContext,
        tab: &Tab,
    ) -> Result<Reading, String> {
        Ok(match name {
            "page_content" => Reading::Text(tab.content().await.map_err(err)?),
            "page_markdown" => Reading::Text(
                reading::markdown(tab, flag(args, "whole"))
                    .await
                    .map_err(err)?,
            ),
            "page_links" => {
                let mut links = reading::links(tab).await.map_err(err)?;
                let mut budget = self.pool.config().max_read_bytes;
                let left_out = keep_within(&mut links, &mut budget);
                let mut answer = json!({"url": tab.url(), "links": links});
                if left_out > 0 {
                    answer["linksLeftOut"] = json!(left_out);
                }
                Reading::Result(structured(answer))
            }
            "page_scrape" => {
                let selectors: Vec<String> = args
                    .get("elements")
                    .and_then(Value::as_array)
                    .map(|e| {
                        e.iter()
                            .filter_map(|x| x["selector"].as_str())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut found = reading::scrape(tab, &selectors).await.map_err(err)?;
                // One budget for all the selectors' matches, in order.
                let mut budget = self.pool.config().max_read_bytes;
                for selector in found.as_array_mut().into_iter().flatten() {
                    let left_out = keep_within(&mut selector["results"], &mut budget);
                    if left_out > 0 {
                        selector["resultsLeftOut"] = json!(left_out);
                    }
                }
                Reading::Result(structured(json!({"url": tab.url(), "results": found})))
            }
            _ => return self.extract(args, cx, tab).await,
        })
    }

    /// `page_extract`: the client's model reads the page's Markdown and answers with JSON, which
    /// must match the schema. Over a session the request goes out as sampling; on 2026-07-28 as an
    /// input-required result that the client answers by calling again.
    async fn extract(
        &self,
        args: &Map<String, Value>,
        cx: &ToolContext,
        tab: &Tab,
    ) -> Result<Reading, String> {
        let schema = args.get("schema").cloned().unwrap_or(json!({}));
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("`schema` is not a usable JSON Schema: {e}"))?;
        let prompt = string(args, "prompt").unwrap_or_default();
        let reply = match cx.input_responses().and_then(|r| r.get("extract")) {
            Some(answer) => answer.clone(),
            None => {
                let can_sample = cx
                    .client_capabilities()
                    .is_some_and(|c| c.sampling.is_some());
                if !can_sample {
                    return Err("page_extract asks the client's own model through MCP sampling, and this client does not offer sampling: read the page with page_markdown and extract the data yourself".into());
                }
                let page = reading::markdown(tab, false).await.map_err(err)?;
                let request = reading::extraction_request(prompt, &schema, &page, &tab.url());
                if cx.session_id().is_some() {
                    cx.sample(request)
                        .await
                        .map_err(|e| format!("the client's model did not answer: {}", e.message))?
                } else {
                    let ask = json!({"resultType": "input_required", "inputRequests": {
                        "extract": {"method": "sampling/createMessage", "params": request}}});
                    let result: rmcp::model::InputRequiredResult = serde_json::from_value(ask)
                        .map_err(|e| format!("cannot ask the client: {e}"))?;
                    return Ok(Reading::InputRequired(result));
                }
            }
        };
        let text = reply["content"]["text"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| reply["content"].to_string());
        let value = reading::json_in_reply(&text).ok_or_else(|| {
            format!(
                "the client's model did not answer with JSON: {}",
                text.chars().take(300).collect::<String>()
            )
        })?;
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .take(5)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !problems.is_empty() {
            return Err(format!(
                "the extracted JSON does not match the schema: {}",
                problems.join("; ")
            ));
        }
        Ok(Reading::Result(structured(value)))
    }

    fn snapshot_options(&self, args: &Map<String, Value>) -> SnapshotOptions {
        let max = args
            .get("max_bytes")
            .and_then(Value::as_u64)
            .map_or(self.pool.config().max_snapshot_bytes, |n| {
                (n as usize).min(self.pool.config().max_snapshot_bytes)
            });
        SnapshotOptions {
            root: None,
            max_depth: args
                .get("depth")
                .and_then(Value::as_u64)
                .map(|d| d as usize),
            max_bytes: Some(max),
            with_boxes: flag(args, "boxes"),
            ..Default::default()
        }
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

    async fn tabs(
        &self,
        session: &BrowsingContext,
        args: &Map<String, Value>,
    ) -> Result<String, String> {
        let index = args
            .get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize);
        match string(args, "action").unwrap_or("list") {
            "new" => {
                // A refused URL opens no tab; one that cannot be opened closes the tab it got.
                let url = string(args, "url");
                if let Some(url) = url {
                    self.pool.policy().check_url(url).map_err(err)?;
                }
                let (_, previous) = session.list_tabs().await;
                let tab = session.new_tab().await.map_err(err)?;
                if let Some(url) = url
                    && let Err(error) = open(session, &tab, url).await
                {
                    let _ = session.close_tab(None).await;
                    let _ = session.select_tab(previous).await;
                    return Err(error);
                }
            }
            "select" => {
                session
                    .select_tab(index.ok_or("`index` is required to select a tab")?)
                    .await
                    .map_err(err)?;
            }
            "close" => session.close_tab(index).await.map_err(err)?,
            _ => {}
        }
        let (urls, current) = session.list_tabs().await;
        let mut out = String::from("### Tabs\n");
        if urls.is_empty() {
            out.push_str("No tab is open: the next browser call opens a blank one (browser_navigate opens a page).\n");
        }
        for (i, url) in urls.iter().enumerate() {
            out.push_str(&format!(
                "- {i}:{} {url}\n",
                if i == current { " (current)" } else { "" }
            ));
        }
        Ok(out)
    }
}

/// What a reading tool produced.
enum Reading {
    Text(String),
    Result(CallToolResult),
    InputRequired(rmcp::model::InputRequiredResult),
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
