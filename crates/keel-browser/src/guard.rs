//! The URL policy for a remote browser (`browser.ws`).
//!
//! A local Chromium sends every request of a browser context through keel's own proxy
//! ([`PolicyProxy`](crate::policy::PolicyProxy)), which resolves and checks each address and
//! connects to the address it checked. A remote browser cannot reach a proxy on keel's loopback, so
//! the guard stands in the protocol instead: it auto-attaches to every target the browser starts
//! (pages, popups, iframes, workers), each held before it runs (`waitForDebuggerOnStart`) until
//! request interception (`Fetch.enable`) is on, and then checks each request the browser pauses:
//! http/https only, and every address the host resolves to (here) against the policy (a verdict is
//! reused for an origin's requests for a few seconds). A refused
//! request fails with `AccessDenied` and is recorded in its browser context's refusal log. It fails
//! closed: a target in which interception cannot be turned on stays paused and never runs.
//!
//! What this cannot do, unlike the proxy: the browser resolves names itself, so a name that
//! resolves differently there (DNS rebinding, split DNS) is checked against keel's answer; and
//! WebSocket connections are not paused by request interception (they are refused outright here,
//! see [`BLOCKED`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cdp::Connection;
use crate::error::BrowserError;
use crate::policy::{RefusalLog, UrlPolicy};

/// URL patterns refused outright: request interception does not see WebSocket handshakes.
const BLOCKED: [&str; 2] = ["ws://*", "wss://*"];

/// Target types whose requests are intercepted.
const INTERCEPTED: [&str; 5] = [
    "page",
    "iframe",
    "worker",
    "shared_worker",
    "service_worker",
];

/// Checks the requests of every target of a remote browser (see the module documentation).
pub struct RemoteGuard {
    logs: Arc<Mutex<HashMap<String, Arc<RefusalLog>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RemoteGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RemoteGuard {
    /// Starts guarding `conn` with `policy`; returns once new targets are held for it.
    pub async fn start(
        conn: Connection,
        policy: Arc<UrlPolicy>,
        timeout: Duration,
    ) -> Result<Self, BrowserError> {
        let logs: Arc<Mutex<HashMap<String, Arc<RefusalLog>>>> = Arc::default();
        let mut events = conn.events();
        let task = {
            let conn = conn.clone();
            let logs = Arc::clone(&logs);
            let verdicts = Arc::new(Verdicts::default());
            tokio::spawn(async move {
                // The guard's own session of each target → (its browser context, its target ID).
                let mut sessions: HashMap<String, (String, String)> = HashMap::new();
                loop {
                    let event = match events.recv().await {
                        Ok(event) => event,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(
                                missed = n,
                                "the URL guard fell behind the browser's events"
                            );
                            continue;
                        }
                        Err(_) => return,
                    };
                    let ours = event
                        .session_id
                        .as_ref()
                        .is_none_or(|s| sessions.contains_key(s));
                    if !ours {
                        continue;
                    }
                    match event.method.as_str() {
                        "Target.attachedToTarget" => {
                            let info = &event.params["targetInfo"];
                            let (Some(session), Some(target)) = (
                                event.params["sessionId"].as_str(),
                                info["targetId"].as_str(),
                            ) else {
                                continue;
                            };
                            // A target the guard holds already: this is someone else's session
                            // (a tab attaching to its page).
                            if sessions.values().any(|(_, t)| t == target) {
                                continue;
                            }
                            let context = info["browserContextId"]
                                .as_str()
                                .map(str::to_string)
                                .or_else(|| {
                                    event
                                        .session_id
                                        .as_ref()
                                        .and_then(|p| sessions.get(p).map(|(c, _)| c.clone()))
                                })
                                .unwrap_or_default();
                            sessions.insert(session.to_string(), (context, target.to_string()));
                            let kind = info["type"].as_str().unwrap_or_default().to_string();
                            let waiting = event.params["waitingForDebugger"] == json!(true);
                            tokio::spawn(hold_and_arm(
                                conn.clone(),
                                session.to_string(),
                                kind,
                                waiting,
                                timeout,
                            ));
                        }
                        "Target.detachedFromTarget" => {
                            if let Some(session) = event.params["sessionId"].as_str() {
                                sessions.remove(session);
                            }
                        }
                        "Fetch.requestPaused" => {
                            let Some(session) = event.session_id.clone() else {
                                continue;
                            };
                            let log = sessions
                                .get(&session)
                                .and_then(|(c, _)| {
                                    logs.lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .get(c)
                                        .cloned()
                                })
                                .unwrap_or_default();
                            tokio::spawn(decide(
                                conn.clone(),
                                Arc::clone(&policy),
                                Arc::clone(&verdicts),
                                log,
                                session,
                                event.params,
                                timeout,
                            ));
                        }
                        _ => {}
                    }
                }
            })
        };
        conn.call(
            "Target.setAutoAttach",
            json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
            None,
            timeout,
        )
        .await?;
        Ok(Self { logs, task })
    }

    /// Refusals in browser context `context` go to `log`.
    pub fn register(&self, context: &str, log: Arc<RefusalLog>) {
        self.logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(context.to_string(), log);
    }

    /// Forgets browser context `context`.
    pub fn unregister(&self, context: &str) {
        self.logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(context);
    }
}

/// Removes WebRTC's peer connections from a page's main world (see `hold_and_arm`).
const NO_WEBRTC: &str = "for (const n of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCDataChannel']) { try { delete globalThis[n]; } catch (e) {} }";

/// Turns interception on in a new target (and auto-attaching in its own children), then lets it run.
async fn hold_and_arm(
    conn: Connection,
    session: String,
    kind: String,
    waiting: bool,
    timeout: Duration,
) {
    let s = Some(session.as_str());
    if INTERCEPTED.contains(&kind.as_str()) {
        let armed = conn
            .call(
                "Fetch.enable",
                json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
                s,
                timeout,
            )
            .await;
        if let Err(error) = armed {
            // Fail closed: a target whose requests cannot be checked never runs.
            tracing::warn!(%error, kind, "request interception could not be turned on in a target of the remote browser; it stays paused");
            return;
        }
        if kind == "page" || kind == "iframe" {
            // WebRTC sends UDP that no request interception sees, and a remote browser's flags are
            // not keel's to set: its pages get no RTCPeerConnection. Weaker than the local
            // browser's flag (a frame made before the script runs keeps it), and said so.
            // (The script is only run in a session with the Page domain on.)
            let _ = conn.call("Page.enable", json!({}), s, timeout).await;
            let _ = conn
                .call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({"source": NO_WEBRTC, "runImmediately": true}),
                    s,
                    timeout,
                )
                .await;
        }
        if kind != "service_worker" && kind != "shared_worker" {
            let _ = conn.call("Network.enable", json!({}), s, timeout).await;
            let _ = conn
                .call(
                    "Network.setBlockedURLs",
                    json!({"urls": BLOCKED}),
                    s,
                    timeout,
                )
                .await;
        }
        let _ = conn
            .call(
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
                s,
                timeout,
            )
            .await;
    }
    if waiting {
        let _ = conn
            .call("Runtime.runIfWaitingForDebugger", json!({}), s, timeout)
            .await;
    }
}

/// How long a host's verdict is reused.
const VERDICT_TTL: Duration = Duration::from_secs(10);

/// Verdicts by origin, for a short while: a page's many requests to one host resolve it once.
#[derive(Default)]
struct Verdicts(Mutex<HashMap<String, Verdict>>);

/// When a verdict was reached, and what it was (the reason when refused).
type Verdict = (Instant, Result<(), String>);

impl Verdicts {
    /// The policy's verdict on `url` (a refusal recorded in `log` each time).
    async fn check(&self, policy: &UrlPolicy, url: &str, log: &RefusalLog) -> Result<(), String> {
        let origin = url::Url::parse(url)
            .ok()
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .map(|o| o.ascii_serialization());
        let cached = origin.as_ref().and_then(|origin| {
            let verdicts = self.0.lock().unwrap_or_else(|p| p.into_inner());
            verdicts
                .get(origin)
                .filter(|(at, _)| at.elapsed() < VERDICT_TTL)
                .map(|(_, verdict)| verdict.clone())
        });
        match cached {
            Some(Ok(())) => Ok(()),
            Some(Err(reason)) => {
                log.record(url.to_string());
                Err(reason)
            }
            None => {
                let verdict = policy.check_request(url, log).await;
                if let Some(origin) = origin {
                    let mut verdicts = self.0.lock().unwrap_or_else(|p| p.into_inner());
                    if verdicts.len() >= MAX_VERDICTS {
                        verdicts.retain(|_, (at, _)| at.elapsed() < VERDICT_TTL);
                        if verdicts.len() >= MAX_VERDICTS {
                            verdicts.clear();
                        }
                    }
                    verdicts.insert(origin, (Instant::now(), verdict.clone()));
                }
                verdict
            }
        }
    }
}

/// Origins remembered at most (when full, expired verdicts go, and all if none has expired).
const MAX_VERDICTS: usize = 1024;

/// Lets a paused request go on, or fails it when the policy refuses it.
async fn decide(
    conn: Connection,
    policy: Arc<UrlPolicy>,
    verdicts: Arc<Verdicts>,
    log: Arc<RefusalLog>,
    session: String,
    params: Value,
    timeout: Duration,
) {
    let Some(id) = params["requestId"].as_str() else {
        return;
    };
    let url = params["request"]["url"].as_str().unwrap_or_default();
    let verdict = verdicts.check(&policy, url, &log).await;
    let (method, body) = match verdict {
        Ok(()) => ("Fetch.continueRequest", json!({"requestId": id})),
        Err(reason) => {
            tracing::debug!(reason, "a request of a remote browser was refused");
            (
                "Fetch.failRequest",
                json!({"requestId": id, "errorReason": "AccessDenied"}),
            )
        }
    };
    if let Err(error) = conn.call(method, body, Some(&session), timeout).await {
        tracing::debug!(%error, method, "a paused request could not be answered");
    }
}
