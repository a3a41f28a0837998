//! `keel serve`: opens the data directory, listens, serves `/healthz` and `/metrics`, and shuts
//! down gracefully on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use keel_objects::{HostConfig, ObjectHost};

use crate::ServeArgs;
use crate::config::{self, FileConfig, ObjectOverrides};

/// Everything `keel serve` needs, resolved from flags, environment and file.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub shutdown_grace: Duration,
    pub front: crate::http_front::FrontLimits,
    pub host: HostConfig,
    pub mcp: keel_mcp::McpConfig,
    pub browser: BrowserChoice,
    /// What packs and tool groups to offer.
    pub offer: Offer,
}

/// What a server offers beyond its settings: the operator's tool groups and the fixtures.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Tool groups or tools, as `--tools` names them (`default` when none are given).
    pub tools: Vec<String>,
    /// The conformance suite's fixtures.
    pub conformance: bool,
}

impl Offer {
    /// From `--tools` (comma-separated) or the file's `tools`.
    pub fn resolve(flag: Option<&str>, file: Option<&[String]>, conformance: bool) -> Self {
        let tools = match (flag, file) {
            (Some(flag), _) => comma_list(flag),
            (None, Some(file)) => file.to_vec(),
            (None, None) => Vec::new(),
        };
        let tools = if tools.is_empty() {
            vec!["default".to_string()]
        } else {
            tools
        };
        Self { tools, conformance }
    }
}

/// The tool groups `default` stands for.
pub const DEFAULT_GROUPS: [&str; 2] = [keel_mcp::state_pack::GROUP, "browser"];

/// The packs a server offers (the state tools, the browser's when it is on, the fixtures when
/// asked for), narrowed to the operator's tool groups.
pub fn packs(
    mcp: &keel_mcp::McpConfig,
    browser: Option<&Arc<keel_browser::tools::BrowserPack>>,
    offer: &Offer,
) -> anyhow::Result<keel_mcp::Packs> {
    let mut packs =
        keel_mcp::Packs::new().with(Arc::new(keel_mcp::state_pack::StatePack::for_config(mcp)));
    if let Some(browser) = browser {
        packs = packs.with(Arc::clone(browser));
    }
    if offer.conformance {
        packs = packs.with(Arc::new(keel_conformance::ConformancePack));
    }
    // A group or tool of the browser pack, named while the browser is off (no Chromium here),
    // is left out rather than refused: the same keel.toml serves machines with and without it.
    let wanted: Vec<String> = match browser {
        Some(_) => offer.tools.clone(),
        None => {
            let browser_only: std::collections::BTreeSet<String> =
                <keel_browser::tools::BrowserPack as keel_mcp::Pack>::tools()
                    .iter()
                    .flat_map(|t| [t.group_name().to_string(), t.tool().name.to_string()])
                    .collect();
            let offered: std::collections::BTreeSet<String> = packs
                .tools()
                .flat_map(|(tool, group)| [group.to_string(), tool.name.to_string()])
                .collect();
            offer
                .tools
                .iter()
                .filter(|t| offered.contains(*t) || !browser_only.contains(*t))
                .cloned()
                .collect()
        }
    };
    packs
        .select(&wanted, &DEFAULT_GROUPS)
        .map_err(|e| anyhow::anyhow!("tools: {e}"))
}

/// Whether and how to serve the browser tools.
pub enum BrowserChoice {
    Off,
    /// Serve them if Chromium is found (say clearly why not otherwise).
    Auto(keel_browser::BrowserConfig),
    /// Serve them; fail to start without Chromium.
    On(keel_browser::BrowserConfig),
}

impl ServeOptions {
    pub fn resolve(args: ServeArgs, file: &FileConfig, data: PathBuf) -> anyhow::Result<Self> {
        let listen = args
            .listen
            .as_deref()
            .or(file.listen.as_deref())
            .unwrap_or("127.0.0.1:8787");
        let grace = match args
            .shutdown_grace
            .as_deref()
            .or(file.shutdown_grace.as_deref())
        {
            Some(g) => config::parse_duration(g).context("shutdown_grace")?,
            None => Duration::from_secs(30),
        };
        let defaults = crate::http_front::FrontLimits::default();
        let front = crate::http_front::FrontLimits {
            header_timeout: match args
                .header_timeout
                .as_deref()
                .or(file.header_timeout.as_deref())
            {
                Some(t) => config::parse_duration(t).context("header_timeout")?,
                None => defaults.header_timeout,
            },
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.max_connections),
        };
        let flags = BrowserFlags {
            browser: args.browser.clone(),
            chrome: args.chrome.clone(),
            ws: args.browser_ws.clone(),
            allow: args.browser_allow.clone(),
        };
        let browser = browser_choice(&flags, &file.browser)?;
        Ok(Self {
            browser,
            listen: config::parse_listen(listen)?,
            data,
            shutdown_grace: grace,
            front,
            host: config::host_config(&file.objects, &ObjectOverrides::from(args.objects))?,
            offer: Offer::resolve(
                args.tools.as_deref(),
                file.tools.as_deref(),
                args.conformance,
            ),
            mcp: keel_mcp::McpConfig {
                tool_timeout: match args
                    .tool_timeout
                    .as_deref()
                    .or(file.tool_timeout.as_deref())
                {
                    Some(t) => config::parse_duration(t).context("tool_timeout")?,
                    None => keel_mcp::McpConfig::default().tool_timeout,
                },
                max_body_bytes: args
                    .max_body_bytes
                    .or(file.max_body_bytes)
                    .unwrap_or(keel_mcp::McpConfig::default().max_body_bytes),
                unused_session_ttl: match args
                    .unused_session_ttl
                    .as_deref()
                    .or(file.unused_session_ttl.as_deref())
                {
                    Some(t) => config::parse_duration(t).context("unused_session_ttl")?,
                    None => keel_mcp::McpConfig::default().unused_session_ttl,
                },
                answer_bounds: keel_objects::AnswerBounds {
                    max_bytes: args
                        .max_answer_bytes
                        .or(file.max_answer_bytes)
                        .unwrap_or(keel_objects::AnswerBounds::default().max_bytes),
                    max_rows: args
                        .max_answer_rows
                        .or(file.max_answer_rows)
                        .unwrap_or(keel_objects::AnswerBounds::default().max_rows),
                },
                ..mcp_config(
                    args.allowed_hosts
                        .as_deref()
                        .or(file.allowed_hosts.as_deref()),
                    args.allowed_origins
                        .as_deref()
                        .or(file.allowed_origins.as_deref()),
                )
            },
        })
    }
}

/// The browser settings a command line (or, for `keel stdio`, the environment) gives.
pub struct BrowserFlags {
    pub browser: Option<String>,
    pub chrome: Option<PathBuf>,
    pub ws: Option<String>,
    pub allow: Option<String>,
}

impl BrowserFlags {
    /// `KEEL_BROWSER`, `KEEL_CHROME`, `KEEL_BROWSER_WS`, `KEEL_BROWSER_ALLOW` (for commands
    /// without the flags).
    pub fn from_env() -> Self {
        Self {
            browser: std::env::var("KEEL_BROWSER").ok(),
            chrome: std::env::var_os("KEEL_CHROME").map(PathBuf::from),
            ws: std::env::var("KEEL_BROWSER_WS").ok(),
            allow: std::env::var("KEEL_BROWSER_ALLOW").ok(),
        }
    }
}

fn browser_choice(
    args: &BrowserFlags,
    file: &config::BrowserFileConfig,
) -> anyhow::Result<BrowserChoice> {
    let defaults = keel_browser::BrowserConfig::default();
    let duration =
        |value: Option<&String>, name: &str, default: Duration| -> anyhow::Result<Duration> {
            match value {
                Some(v) => config::parse_duration(v).with_context(|| format!("browser.{name}")),
                None => Ok(default),
            }
        };
    let allow = match &args.allow {
        Some(list) => comma_list(list),
        None => file.allow.clone().unwrap_or_default(),
    };
    let browser = keel_browser::BrowserConfig {
        chrome_path: args.chrome.clone().or_else(|| file.chrome.clone()),
        ws_url: args.ws.clone().or_else(|| file.ws.clone()),
        allow,
        navigation_timeout: duration(
            file.navigation_timeout.as_ref(),
            "navigation_timeout",
            defaults.navigation_timeout,
        )?,
        action_timeout: duration(
            file.action_timeout.as_ref(),
            "action_timeout",
            defaults.action_timeout,
        )?,
        max_contexts: file.max_contexts.unwrap_or(defaults.max_contexts),
        max_tabs: file.max_tabs.unwrap_or(defaults.max_tabs),
        max_snapshot_bytes: file
            .max_snapshot_bytes
            .unwrap_or(defaults.max_snapshot_bytes),
        max_download_bytes: file
            .max_download_bytes
            .unwrap_or(defaults.max_download_bytes),
        max_read_bytes: file.max_read_bytes.unwrap_or(defaults.max_read_bytes),
        max_contexts_per_client: file
            .max_contexts_per_client
            .or(defaults.max_contexts_per_client),
        idle_timeout: duration(
            file.idle_timeout.as_ref(),
            "idle_timeout",
            defaults.idle_timeout,
        )?,
    };
    match args
        .browser
        .as_deref()
        .or(file.enabled.as_deref())
        .unwrap_or("auto")
    {
        "auto" => Ok(BrowserChoice::Auto(browser)),
        "on" => Ok(BrowserChoice::On(browser)),
        "off" => Ok(BrowserChoice::Off),
        other => anyhow::bail!("browser = {other:?} is not known: use auto, on or off"),
    }
}

/// The browser pack, if it is to be served.
fn browser_pack(
    choice: &BrowserChoice,
    host: &Arc<ObjectHost>,
) -> anyhow::Result<Option<Arc<keel_browser::tools::BrowserPack>>> {
    let (config, required) = match choice {
        BrowserChoice::Off => return Ok(None),
        BrowserChoice::Auto(config) => (config, false),
        BrowserChoice::On(config) => (config, true),
    };
    match keel_browser::BrowserPool::new(config.clone()) {
        Ok(pool) => Ok(Some(Arc::new(keel_browser::tools::BrowserPack::new(
            Arc::new(pool),
            Arc::clone(host),
        )))),
        Err(e) if !required => {
            tracing::warn!("browser tools are off: {e}");
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// The items of a comma-separated setting (a flag or a variable), trimmed, empty ones left out.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// `allowed_hosts` is a comma-separated list of `Host` values; `*` accepts any (for a server behind a
/// proxy that checks hosts itself).
fn mcp_config(allowed_hosts: Option<&str>, allowed_origins: Option<&str>) -> keel_mcp::McpConfig {
    let list = |text: &str| -> Vec<String> {
        if text.trim() == "*" {
            Vec::new()
        } else {
            comma_list(text)
        }
    };
    let mut config = keel_mcp::McpConfig::default();
    if let Some(hosts) = allowed_hosts {
        config.allowed_hosts = list(hosts);
    }
    if let Some(origins) = allowed_origins {
        config.allowed_origins = list(origins);
    }
    config
}

/// `keel stdio`: one MCP connection over stdin/stdout, state in the data directory like `serve`.
pub async fn run_stdio(
    session: Option<String>,
    objects: crate::ObjectArgs,
    file: &FileConfig,
    data: PathBuf,
) -> anyhow::Result<()> {
    let host_config = config::host_config(&file.objects, &ObjectOverrides::from(objects))?;
    let host = ObjectHost::open_embedded(&data, host_config)
        .with_context(|| format!("cannot open data directory {}", data.display()))?;
    let host = Arc::new(host);
    let session = session.unwrap_or_else(|| format!("stdio-{}", keel_objects::ObjectId::unique()));
    tracing::info!(%session, data = %data.display(), "serving MCP on stdin/stdout");
    let choice = browser_choice(&BrowserFlags::from_env(), &file.browser)?;
    let browser = browser_pack(&choice, &host)?;
    // The file's settings, as `keel serve` has them; the request-state key from the data
    // directory, so a sealed `requestState` holds across processes.
    let mut mcp_config =
        ServeOptions::resolve(crate::ServeArgs::default(), file, data.clone())?.mcp;
    mcp_config.request_state_key = Some(request_state_key(&data)?);
    let offer = Offer::resolve(None, file.tools.as_deref(), false);
    let packs = packs(&mcp_config, browser.as_ref(), &offer)?;
    let result = keel_mcp::serve_stdio(Arc::clone(&host), &mcp_config, packs, &session)
        .await
        .map_err(anyhow::Error::msg);
    if let Some(browser) = &browser {
        browser.save_all().await;
    }
    host.shutdown(Duration::from_secs(10)).await;
    result
}

/// The key that seals input-required `requestState`, kept in the data directory so that a state
/// handed out before a restart is still accepted after it. Created (owner-only) on first use.
fn request_state_key(data: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data.join("request-state.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => anyhow::bail!(
            "{} is shorter than 32 bytes: delete it and keel makes a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let key: Vec<u8> = (0..2)
        .flat_map(|_| keel_objects::ObjectId::unique().to_hex().into_bytes())
        .collect();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

struct AppState {
    host: Arc<ObjectHost>,
    mcp: keel_mcp::McpShutdown,
    draining: AtomicBool,
    /// POST requests whose response has not been sent in full yet.
    posts_in_flight: std::sync::atomic::AtomicUsize,
}

/// Decrements `posts_in_flight` when the response body it rides along with is gone (fully sent,
/// or dropped with the connection).
struct PostInFlight(Arc<AppState>);

impl Drop for PostInFlight {
    fn drop(&mut self) {
        self.0.posts_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts POST requests until their response has been streamed out, so that a drain does not
/// close streams under answers that a tool already produced but that are still being written.
async fn track_posts(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    state.posts_in_flight.fetch_add(1, Ordering::SeqCst);
    let guard = PostInFlight(Arc::clone(&state));
    let (parts, body) = next.run(request).await.into_parts();
    // A whole answer (JSON) is in hand already: keep its length (Content-Length, not chunks).
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact() {
        let body = match axum::body::to_bytes(body, len as usize).await {
            Ok(bytes) => axum::body::Body::from(bytes),
            Err(error) => {
                axum::body::Body::from_stream(futures::stream::iter([Err::<axum::body::Bytes, _>(
                    error,
                )]))
            }
        };
        drop(guard);
        return axum::response::Response::from_parts(parts, body);
    }
    let stream = futures::StreamExt::map(body.into_data_stream(), move |chunk| {
        let _ = &guard;
        chunk
    });
    axum::response::Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let host = ObjectHost::open_embedded(&options.data, options.host.clone())
        .with_context(|| format!("cannot open data directory {}", options.data.display()))?;
    let host = Arc::new(host);
    let mut mcp_config = options.mcp.clone();
    mcp_config.request_state_key = Some(request_state_key(&options.data)?);
    let browser = browser_pack(&options.browser, &host)?;
    let packs = packs(&mcp_config, browser.as_ref(), &options.offer)?;
    let endpoints = keel_mcp::http_service(Arc::clone(&host), &mcp_config, packs)
        .map_err(anyhow::Error::msg)?;
    let mcp_shutdown = endpoints.shutdown;
    let state = Arc::new(AppState {
        host,
        mcp: mcp_shutdown.clone(),
        draining: AtomicBool::new(false),
        posts_in_flight: std::sync::atomic::AtomicUsize::new(0),
    });
    let app = Router::new()
        .nest_service("/mcp", endpoints.streamable)
        // /sse and /messages (the legacy transport); anything else is a 404 there.
        .fallback_service(endpoints.legacy_sse)
        .layer(axum::middleware::from_fn(normalize_mcp_answers))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            track_posts,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            refuse_while_draining,
        ))
        .merge(
            Router::new()
                .route("/healthz", get(healthz))
                .route("/metrics", get(metrics))
                .layer(axum::middleware::from_fn({
                    let check = keel_mcp::origin_check::OriginCheck::new(&mcp_config);
                    move |request, next| check.clone().middleware(request, next)
                })),
        )
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    // Handlers go in before the ready line: a SIGTERM right after it must drain, not kill.
    let signals = Signals::install()?;
    // The one line on stdout: scripts (and `--listen 127.0.0.1:0` users) read the port from it.
    println!("keel listening on http://{addr}");
    tracing::info!(%addr, data = %options.data.display(), "keel is ready");

    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let grace = options.shutdown_grace;
    let drain_state = Arc::clone(&state);
    let browser_for_shutdown = browser.clone();
    let shutdown = async move {
        signals.wait().await;
        tracing::info!("shutting down: finishing in-flight requests");
        drain_state.draining.store(true, Ordering::SeqCst);
        // Running tool calls finish (up to the grace period); then open streams are closed so the
        // HTTP server can stop.
        let deadline = tokio::time::Instant::now() + grace;
        while (mcp_shutdown.in_flight() > 0
            || drain_state.posts_in_flight.load(Ordering::SeqCst) > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Tasks still running are stopped and stored as failed, never left `working`.
        mcp_shutdown.stop_tasks(Duration::from_secs(5)).await;
        // Browsing sessions keep their cookies, storage and page across the restart.
        if let Some(browser) = &browser_for_shutdown {
            browser.save_all().await;
        }
        mcp_shutdown.shutdown();
        let _ = signalled_tx.send(());
    };
    let front = options.front;
    let mut server =
        tokio::spawn(async move { crate::http_front::serve(listener, app, front, shutdown).await });
    let result = tokio::select! {
        r = &mut server => r.context("HTTP server task failed")?.context("HTTP server failed"),
        _ = signalled_rx => {
            // In-flight requests get the grace period; then the objects are closed either way.
            match tokio::time::timeout(options.shutdown_grace, &mut server).await {
                Ok(r) => r.context("HTTP server task failed")?.context("HTTP server failed"),
                Err(_) => {
                    tracing::warn!(grace = ?options.shutdown_grace, "requests still running at the end of the grace period");
                    server.abort();
                    Ok(())
                }
            }
        }
    };
    state.host.shutdown(options.shutdown_grace).await;
    tracing::info!("keel stopped; storage closed cleanly");
    result
}

/// SIGTERM and Ctrl-C, listened for from the moment they are installed.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot install the SIGTERM handler")?,
        })
    }

    async fn wait(mut self) {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            self.term.recv().await;
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
}

/// Adjusts two of rmcp's answers to what clients expect: a session DELETE gets 200 (rmcp says 202,
/// which the official Python SDK reports as a failure), and a body that is not JSON gets 400 with
/// the JSON-RPC parse error -32700 (rmcp says 415 with plain text).
async fn normalize_mcp_answers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_delete = request.method() == axum::http::Method::DELETE;
    let json_sent = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut response = next.run(request).await;
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    if json_sent && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        let detail = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32700, "message": format!("Parse error: {}", String::from_utf8_lossy(&detail))},
        });
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    response
}

/// After SIGTERM, requests that arrive on still-open connections get 503 with `Retry-After`, so a
/// client or load balancer retries them elsewhere, while calls already running finish.
async fn refuse_while_draining(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if state.draining.load(Ordering::SeqCst) && request.uri().path() != "/healthz" {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "keel is shutting down: retry the request\n",
        )
            .into_response();
    }
    next.run(request).await
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut out = String::new();
    state.host.metrics().render_prometheus(&mut out);
    let in_flight = state.mcp.in_flight();
    let tasks = state.mcp.running_tasks();
    out.push_str(&format!(
        "# HELP keel_mcp_tool_calls_in_flight Tool calls (and tasks) running now.\n# TYPE keel_mcp_tool_calls_in_flight gauge\nkeel_mcp_tool_calls_in_flight {in_flight}\n# HELP keel_mcp_tasks_running Tasks running now.\n# TYPE keel_mcp_tasks_running gauge\nkeel_mcp_tasks_running {tasks}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
