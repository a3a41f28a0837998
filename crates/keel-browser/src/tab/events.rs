//! What the page's protocol events tell a tab: loading, requests in flight, dialogs, frames,
//! console and network logs, keel's worlds. Applied to `TabState` by the tab's listener.

use super::*;

/// Applies one protocol event of the page's own session to its state.
pub(super) fn apply(state: &Mutex<TabState>, method: &str, params: &Value) {
    if method == "Runtime.bindingCalled" && params["name"] == TREE_BINDING {
        return tree_at_load(state, params["payload"].as_str().unwrap_or_default());
    }
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
            s.loads += 1;
            // Until it commits, the load may be of a new document (or of a fragment of this one).
            s.committing = true;
            s.navigation_requested = None;
            s.last_activity = Some(Instant::now());
        }
        // A requested navigation may still be cancelled (a submit handler that prevents it), so
        // it keeps the page busy only briefly unless loading really starts.
        "Page.frameRequestedNavigation" if is_main(&s, params["frameId"].as_str()) => {
            s.navigation_requested = Some(Instant::now());
            s.navigations_requested += 1;
            s.last_activity = Some(Instant::now());
        }
        "Page.windowOpen" => s.windows_opened += 1,
        "Page.domContentEventFired" => s.dom_ready_at = Some(Instant::now()),
        "Page.frameStoppedLoading" if is_main(&s, params["frameId"].as_str()) => {
            s.loading = false;
            if s.committing {
                // It went nowhere: a download, a 204, a cancelled navigation.
                s.committing = false;
                s.loads_gone_nowhere += 1;
            }
            s.navigation_requested = None;
            s.last_activity = Some(Instant::now());
        }
        "Page.frameNavigated" => {
            let frame = &params["frame"];
            if frame.get("parentId").is_none() {
                s.main_frame = frame["id"].as_str().map(str::to_string);
                // The browser's error page (chrome-error://…) stands for the URL it could not
                // open: that URL is the one the agent knows and can retry.
                let unreachable = frame["unreachableUrl"].as_str().filter(|u| !u.is_empty());
                s.error_page = unreachable.is_some();
                s.url = unreachable
                    .or(frame["url"].as_str())
                    .unwrap_or_default()
                    .to_string();
                s.documents += 1;
                s.committing = false;
                s.dom_ready_at = None;
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
            s.error_page = false;
            s.committing = false;
        }
        "Page.javascriptDialogOpening" => {
            s.dialogs_opened += 1;
            s.dialog = Some(Dialog {
                kind: params["type"].as_str().unwrap_or("alert").to_string(),
                message: params["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        "Page.javascriptDialogClosed" => s.dialog = None,
        "Page.downloadWillBegin" => {
            s.downloads += 1;
            let number = s.downloads;
            let guid = params["guid"].as_str().unwrap_or_default().to_string();
            s.downloading.insert(guid, number);
        }
        "Page.downloadProgress" if params["state"] != "inProgress" => {
            s.downloading
                .remove(params["guid"].as_str().unwrap_or_default());
            if params["state"] == "completed" {
                s.downloads_done += 1;
            }
        }
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
                s.requests += 1;
                let number = s.requests;
                s.inflight.insert(id.clone(), (frame, number));
            }
            s.last_activity = Some(Instant::now());
            if s.network.len() == LOG_KEPT {
                s.network.pop_front();
                s.network_base += 1;
            }
            let index = s.network_base + s.network.len();
            let document = s.documents;
            s.network.push_back(NetworkEntry {
                method: params["request"]["method"]
                    .as_str()
                    .unwrap_or("GET")
                    .to_string(),
                url,
                status: 0,
                kind,
                request_id: id.clone(),
                request_headers: params["request"]["headers"].clone(),
                has_body: params["request"]["hasPostData"].as_bool().unwrap_or(false),
                response_headers: Value::Null,
                document,
                failure: None,
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
                    entry.response_headers = params["response"]["headers"].clone();
                }
            }
        }
        "Network.loadingFinished" | "Network.loadingFailed" => {
            let id = params["requestId"].as_str().unwrap_or_default().to_string();
            if let Some(error) = params["errorText"].as_str().filter(|e| !e.is_empty())
                && let Some(&index) = s.network_index.get(&id)
                && index >= s.network_base
            {
                let base = s.network_base;
                if let Some(entry) = s.network.get_mut(index - base) {
                    entry.failure = Some(match params["blockedReason"].as_str() {
                        Some(blocked) => format!("{error} (blocked: {blocked})"),
                        None => error.to_string(),
                    });
                }
            }
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
            let level = match kind {
                "error" | "assert" => "error",
                "warning" => "warning",
                "debug" => "debug",
                _ => "info",
            };
            push_console(&mut s, level, format!("[{kind}] {}", text.join(" ")));
        }
        "Runtime.exceptionThrown" => {
            let text = exception_text(&params["exceptionDetails"], "exception");
            push_console(&mut s, "error", format!("[error] {text}"));
        }
        "Target.attachedToTarget" | "Target.detachedFromTarget" => {
            frame_event(&mut s, 0, method, params);
        }
        "Inspector.detached" => s.closed = true,
        "Input.dragIntercepted" => s.drag = Some(params["data"].clone()),
        _ => {}
    }
}

/// An out-of-process frame attached or detached, announced by the page (`parent` 0) or by the
/// out-of-process frame `parent` (a cross-site frame inside another). Returns the session of a new
/// frame (which is to announce its own frames in turn).
pub(super) fn frame_event(
    s: &mut TabState,
    parent: usize,
    method: &str,
    params: &Value,
) -> Option<String> {
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
                s.inflight.retain(|_, (f, _)| f != frame);
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

/// What keel's world in the top document sent as its load ended (see `TREE_BINDING`): a walk
/// begun, or its tree, kept as the cached one (read outside the lock: a big page's tree is
/// megabytes of JSON). Changes the page makes later are reported after it and drop it.
fn tree_at_load(state: &Mutex<TabState>, payload: &str) {
    let tree = match payload {
        "" => {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.walking_at_load = Some(s.documents);
            return;
        }
        "!" => None,
        json => serde_json::from_str::<Vec<PageNode>>(json)
            .ok()
            .filter(|nodes| !nodes.is_empty() && !has_frames(nodes)),
    };
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    if s.walking_at_load == Some(s.documents)
        && let Some(nodes) = tree
    {
        s.tree_cache = Some((Instant::now(), Arc::new(nodes)));
    }
    s.walking_at_load = None;
}

/// Keeps a console line (the oldest goes past `LOG_KEPT`), cut at `MAX_CONSOLE_LINE_BYTES`: a
/// page may log 20 MB strings, and 500 of them would stay in keel's memory.
pub(super) fn push_console(s: &mut TabState, level: &'static str, mut line: String) {
    if line.len() > MAX_CONSOLE_LINE_BYTES {
        let more = line.len() - MAX_CONSOLE_LINE_BYTES;
        let mut end = MAX_CONSOLE_LINE_BYTES;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        // A new string: truncating would keep the whole allocation.
        line = format!("{}… ({more} bytes more)", &line[..end]);
    }
    if s.console.len() == LOG_KEPT {
        s.console.pop_front();
    }
    let document = s.documents;
    s.console.push_back(ConsoleEntry {
        level,
        line,
        document,
    });
}

/// Console messages and network requests kept per tab.
pub(super) const LOG_KEPT: usize = 500;
/// Longest console line kept.
pub(super) const MAX_CONSOLE_LINE_BYTES: usize = 10_000;
