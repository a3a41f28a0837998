//! The MCP server: an rmcp `ServerHandler` over keel's packs, and the Streamable HTTP service that
//! serves both protocol generations on one endpoint.
// Logging and sampling are deprecated by 2026-07-28 (SEP-2577) but part of 2025-11-25, which keel serves.
#![allow(deprecated)]

use std::sync::Arc;

use keel_objects::ObjectHost;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};

use std::collections::HashMap;

use crate::changes::ChangeHub;
use crate::context::ToolContext;
use crate::pack::{Offers, Pack, Packs};
use crate::tasks::TaskSupport;
use crate::tool::ToolRoute;
use crate::tool_error::ToolError;
use crate::{sessions, target};

/// Settings of the MCP endpoint.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// `Host` header values accepted (DNS-rebinding protection); empty disables the check.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s accepted (`scheme://host:port`, `:*` for any port); requests without an
    /// `Origin` (non-browser clients) always pass; empty disables the check.
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A session not used (no request) this long after its `initialize` is deleted.
    pub unused_session_ttl: std::time::Duration,
    /// How large an answer of the state tools may be (SQL rows, KV listings).
    pub answer_bounds: keel_objects::AnswerBounds,
    /// A tool call running longer than this is stopped and answered with a tool error.
    pub tool_timeout: std::time::Duration,
    /// Key (32 bytes or more) that seals `requestState`; `None` picks a random one per process.
    pub request_state_key: Option<Vec<u8>>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            max_body_bytes: 4 << 20,
            answer_bounds: keel_objects::AnswerBounds::default(),
            unused_session_ttl: crate::unused_sessions::UNUSED_SESSION_TTL,
            tool_timeout: std::time::Duration::from_secs(60),
            request_state_key: None,
        }
    }
}

/// Keel's MCP server. Cheap to clone: rmcp builds one per session and per stateless request, and
/// all of them share the object host, where the state lives.
#[derive(Clone)]
pub struct KeelMcp {
    host: Arc<ObjectHost>,
    tools: Arc<Vec<Tool>>,
    routes: Arc<HashMap<String, ToolRoute>>,
    packs: Arc<Vec<Arc<dyn Pack>>>,
    offers: Offers,
    changes: Arc<ChangeHub>,
    tool_timeout: std::time::Duration,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    validators: Arc<crate::validation::ArgumentValidators>,
    /// The session of a connection that has no HTTP session header (stdio).
    fixed_session: Option<Arc<str>>,
    /// Seals `requestState` of input-required results.
    codec: Arc<rmcp::model::RequestStateCodec>,
    /// Tasks (tasks extension): the running ones and access to the stored ones.
    tasks: Arc<crate::tasks::TaskRuntime>,
    /// Cancelled when the server shuts down (see `call_tool`).
    shutdown: tokio_util::sync::CancellationToken,
}

impl KeelMcp {
    /// A server offering `packs`. Two packs may not share a tool name.
    pub fn new(host: Arc<ObjectHost>, packs: Packs) -> Result<Self, String> {
        let crate::pack::Served {
            tools,
            routes,
            packs,
        } = packs.into_served()?;
        let validators = crate::validation::ArgumentValidators::new(&tools)?;
        let offers = packs
            .iter()
            .fold(Offers::default(), |all, pack| all.union(pack.offers()));
        Ok(Self {
            tasks: Arc::new(crate::tasks::TaskRuntime::new(Arc::clone(&host))),
            host,
            tools: Arc::new(tools),
            routes: Arc::new(routes),
            packs: Arc::new(packs),
            offers,
            changes: Arc::new(ChangeHub::new()),
            tool_timeout: std::time::Duration::from_secs(60),
            in_flight: Arc::default(),
            validators: Arc::new(validators),
            fixed_session: None,
            codec: Arc::new(random_codec()),
            shutdown: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// Seals `requestState` with `key` (at least 32 bytes), so that states stay valid across restarts
    /// and across servers that share the key.
    pub fn with_request_state_key(mut self, key: &[u8]) -> Result<Self, String> {
        let codec = rmcp::model::RequestStateCodec::try_new(key.to_vec())
            .map_err(|e| format!("the request-state key is not usable: {e}"))?;
        self.codec = Arc::new(codec);
        Ok(self)
    }

    /// Serves one stdio connection as the session `session` (its object keeps the state).
    pub fn with_fixed_session(mut self, session: &str) -> Self {
        self.fixed_session = Some(Arc::from(session));
        self
    }

    fn session_of(&self, context: &RequestContext<RoleServer>) -> Option<String> {
        target::session_id(context).or_else(|| self.fixed_session.as_deref().map(str::to_string))
    }

    async fn set_session_value(
        &self,
        context: &RequestContext<RoleServer>,
        key: &str,
        value: &str,
    ) -> Result<(), ErrorData> {
        let id = self.session_of(context).ok_or_else(|| {
            ErrorData::invalid_request("this request needs a session (initialize first)", None)
        })?;
        sessions::set_value(&self.host, &id, key, value)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    /// The context of a request a pack serves.
    fn context_of(&self, context: RequestContext<RoleServer>) -> ToolContext {
        let session = self.session_of(&context);
        ToolContext::new(
            Arc::clone(&self.host),
            context,
            session,
            Arc::clone(&self.codec),
            Arc::clone(&self.changes),
        )
    }

    async fn dispatch_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Shared with the context (for a sealed state's digest, worked out only if asked for).
        let arguments = request.arguments.take().map(Arc::new);
        let Some(route) = self.routes.get(request.name.as_ref()) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}: tools/list shows the tools there are",
                    request.name
                ),
                None,
            ));
        };
        let support = route.task_support;
        let client_tasks = context
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks());
        if support == TaskSupport::Required && !client_tasks {
            return Err(ErrorData::missing_required_client_capability(
                rmcp::model::ClientCapabilities::builder()
                    .enable_tasks()
                    .build(),
            ));
        }
        let cx = self.context_of(context).with_input(
            &request.name,
            arguments.clone(),
            request.input_responses.clone(),
            request.request_state.clone(),
        );
        if support == TaskSupport::Forbidden || !client_tasks {
            return route.call.call(arguments.as_deref(), &cx).await;
        }
        let owner = cx.session_id().unwrap_or_default();
        let cell = self.tasks.cell(&request.name, None, &owner);
        let cx = cx.with_task(Arc::clone(&cell));
        let tool = Arc::clone(&route.call);
        let running = InFlight::enter(&self.in_flight);
        let call = Box::pin(async move {
            let _running = running;
            tool.call(arguments.as_deref(), &cx).await
        });
        self.tasks.run(cell, call).await
    }
}

/// Counts a running tool call (or task) for as long as it lives (graceful shutdown waits for the
/// count to drop).
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl ServerHandler for KeelMcp {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tasks()
            .build();
        let offers = self.offers;
        if offers.resources {
            let mut resources = rmcp::model::ResourcesCapability::default();
            resources.subscribe = Some(true);
            resources.list_changed = Some(true);
            capabilities.resources = Some(resources);
        }
        if offers.prompts {
            let mut prompts = rmcp::model::PromptsCapability::default();
            prompts.list_changed = Some(true);
            capabilities.prompts = Some(prompts);
        }
        if offers.completions {
            capabilities.completions = Some(Default::default());
        }
        if offers.logging {
            capabilities.logging = Some(Default::default());
        }
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("keel", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Keel keeps state in durable objects. The state tools act on this session's object, or on a shared object named by `object`.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    /// `subscriptions/listen` (2026-07-28): accept what the client asks for; rmcp narrows it to the
    /// capabilities advertised, acknowledges it, and keeps the stream until it is cancelled.
    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(requested.clone())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.clone();
        let _running = InFlight::enter(&self.in_flight);
        if let Err(message) = self.validators.check(&name, request.arguments.as_ref()) {
            return Ok(
                rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)])
                    .into(),
            );
        }

        // A call the client cancels (`notifications/cancelled`) stops: its future is dropped,
        // so it holds nothing (a browsing session's turn, an object) for the rest of its run.
        // One the server's shutdown cancels runs on: a graceful shutdown waits for it.
        let cancelled = context.ct.clone();
        let shutdown = self.shutdown.clone();
        let by_client = async move {
            cancelled.cancelled().await;
            if shutdown.is_cancelled() {
                std::future::pending::<()>().await;
            }
        };
        let call = tokio::time::timeout(self.tool_timeout, self.dispatch_tool(request, context));
        let finished = tokio::select! {
            finished = call => finished,
            () = by_client => {
                return Err(ErrorData::new(
                    rmcp::model::ErrorCode::INTERNAL_ERROR,
                    format!("tool {name} was cancelled by the client"),
                    None,
                ));
            }
        };
        match finished {
            Ok(result) => result,
            Err(_) => {
                Ok(
                    rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(
                        format!(
                            "tool {name} did not finish within {:.0} s and was stopped",
                            self.tool_timeout.as_secs_f64()
                        ),
                    )])
                    .into(),
                )
            }
        }
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        let requester = self.session_of(&context).unwrap_or_default();
        self.tasks.get(&request.task_id, &requester).await
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let requester = self.session_of(&context).unwrap_or_default();
        self.tasks
            .update(&request.task_id, &requester, request.input_responses)
            .await
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let requester = self.session_of(&context).unwrap_or_default();
        self.tasks.cancel(&request.task_id, &requester).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let cx = self.context_of(context);
        let mut resources = Vec::new();
        for pack in self.packs.iter() {
            resources.extend(pack.resources(&cx).await.map_err(protocol_error)?);
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates = self.packs.iter().flat_map(|p| p.resource_templates());
        Ok(ListResourceTemplatesResult::with_all_items(
            templates.collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let cx = self.context_of(context);
        for pack in self.packs.iter() {
            if let Some(found) = pack
                .read_resource(&request.uri, &cx)
                .await
                .map_err(protocol_error)?
            {
                return Ok(found);
            }
        }
        Err(ErrorData::resource_not_found(
            format!(
                "no resource {:?}: resources/list shows the resources there are",
                request.uri
            ),
            Some(serde_json::json!({ "uri": request.uri })),
        ))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.set_session_value(&context, &format!("subscription:{}", request.uri), "on")
            .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.set_session_value(&context, &format!("subscription:{}", request.uri), "off")
            .await
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        // Only a server with something that changes keeps a listener per session.
        if !(self.offers.resources || self.offers.prompts) {
            return;
        }
        let session = target::session_id_of(&context.extensions)
            .or_else(|| self.fixed_session.as_deref().map(str::to_string));
        if let Some(session) = session {
            self.changes
                .forward_to_session(Arc::clone(&self.host), session, context.peer);
        }
    }

    async fn listen(
        &self,
        subscription: rmcp::service::SubscriptionContext,
    ) -> Result<(), ErrorData> {
        self.changes.listen(subscription).await;
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self.packs.iter().flat_map(|p| p.prompts());
        Ok(ListPromptsResult::with_all_items(prompts.collect()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let cx = self.context_of(context).with_input(
            "",
            None,
            request.input_responses.clone(),
            request.request_state.clone(),
        );
        let arguments = request.arguments.clone().unwrap_or_default();
        for pack in self.packs.iter() {
            if let Some(found) = pack
                .get_prompt(&request.name, &arguments, &cx)
                .await
                .map_err(protocol_error)?
            {
                return Ok(found);
            }
        }
        Err(ErrorData::invalid_params(
            format!(
                "unknown prompt {:?}: prompts/list shows the prompts there are",
                request.name
            ),
            None,
        ))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let cx = self.context_of(context);
        for pack in self.packs.iter() {
            if let Some(found) = pack.complete(&request, &cx).await.map_err(protocol_error)? {
                return Ok(CompleteResult::new(found));
            }
        }
        // Nothing to suggest is an empty answer, not an error (the spec's completion/complete).
        Ok(CompleteResult::default())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let level = serde_json::to_value(request.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| ErrorData::invalid_params("unknown log level", None))?;
        self.set_session_value(&context, "log_level", &level).await
    }
}

/// Ends the MCP endpoint's open streams and sessions, so that a graceful shutdown does not wait on them.
#[derive(Clone, Debug)]
pub struct McpShutdown {
    token: tokio_util::sync::CancellationToken,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    tasks: Arc<crate::tasks::TaskRuntime>,
}

impl McpShutdown {
    /// Tool calls running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every open stream and session; new requests are refused.
    pub fn shutdown(&self) {
        self.token.cancel();
    }

    /// Tasks running now (included in [`McpShutdown::in_flight`]).
    pub fn running_tasks(&self) -> usize {
        self.tasks.running()
    }

    /// Stops the tasks still running and records them as failed (waiting up to `wait` for that),
    /// so that after a restart none is found `working`.
    pub async fn stop_tasks(&self, wait: std::time::Duration) {
        self.tasks.stop_all(wait).await;
    }
}

/// What [`http_service`] builds: the endpoints and the handle that shuts them down.
pub struct McpEndpoints {
    /// `/mcp`: the handshake protocol with sessions and the stateless 2026-07-28 protocol (rmcp's
    /// Streamable HTTP service behind [`single_event_as_json`](crate::json_answer::single_event_as_json)).
    pub streamable: axum::Router,
    /// `GET /sse` and `POST /messages`: the legacy HTTP+SSE transport (2024-11-05).
    pub legacy_sse: axum::Router,
    /// Ends open streams and waits for running calls.
    pub shutdown: McpShutdown,
}

/// The MCP endpoints over `host`: Streamable HTTP for `/mcp` (both protocol generations on one
/// endpoint) and the legacy HTTP+SSE transport, serving `packs`.
pub fn http_service(
    host: Arc<ObjectHost>,
    config: &McpConfig,
    packs: Packs,
) -> Result<McpEndpoints, String> {
    register_kinds(&host).map_err(|e| e.to_string())?;
    let mut server = KeelMcp::new(Arc::clone(&host), packs)?;
    server.tool_timeout = config.tool_timeout;
    if let Some(key) = &config.request_state_key {
        server = server.with_request_state_key(key)?;
    }
    let in_flight = Arc::clone(&server.in_flight);
    let tasks = Arc::clone(&server.tasks);
    let token = tokio_util::sync::CancellationToken::new();
    server.shutdown = token.clone();
    let mut http = StreamableHttpServerConfig::default()
        .with_cancellation_token(token.clone())
        .with_max_request_body_bytes(config.max_body_bytes)
        // Stateless requests whose handler only answers get a plain JSON body, not an SSE stream.
        .with_json_response(true)
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)));
    http = if config.allowed_hosts.is_empty() {
        http.disable_allowed_hosts()
    } else {
        http.with_allowed_hosts(config.allowed_hosts.clone())
    };
    http = if config.allowed_origins.is_empty() {
        http.disable_allowed_origins()
    } else {
        http.with_allowed_origins(config.allowed_origins.clone())
    };
    let unused = crate::unused_sessions::UnusedSessions::new(config.unused_session_ttl);
    http.session_store = Some(Arc::new(crate::sessions::ObjectSessionStore::new(
        Arc::clone(&host),
        Arc::clone(&unused),
    )));
    let legacy_sse = crate::legacy_sse::router(server.clone(), config, token.clone());
    let manager = Arc::new(crate::event_log::DurableSessionManager::new(
        Arc::clone(&host),
        Arc::clone(&unused),
    ));
    let closer = Arc::downgrade(&manager);
    crate::unused_sessions::sweep(unused, Arc::downgrade(&host), move |session| {
        let closer = closer.clone();
        async move {
            if let Some(manager) = closer.upgrade() {
                manager.close_unused(&session).await;
            }
        }
    });
    let streamable =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::clone(&manager), http);
    let max_body_bytes = config.max_body_bytes;
    let bounded = axum::middleware::from_fn(move |request, next| {
        crate::request_budget::bounded_body(max_body_bytes, request, next)
    });
    let streamable = axum::Router::new()
        .fallback_service(streamable)
        .layer(axum::middleware::from_fn(
            crate::json_answer::single_event_as_json,
        ))
        .layer(bounded.clone());
    let legacy_sse = legacy_sse.layer(bounded);
    Ok(McpEndpoints {
        streamable,
        legacy_sse,
        shutdown: McpShutdown {
            token,
            in_flight,
            tasks,
        },
    })
}

fn register_kinds(host: &Arc<ObjectHost>) -> Result<(), keel_objects::ObjectError> {
    crate::sessions::register_kinds(host)?;
    crate::tasks::register_kind(host)
}

/// A codec with a fresh random key: states last as long as this process.
fn random_codec() -> rmcp::model::RequestStateCodec {
    let mut key = Vec::with_capacity(32);
    while key.len() < 32 {
        key.extend_from_slice(&keel_objects::ObjectId::unique().to_hex().into_bytes());
    }
    rmcp::model::RequestStateCodec::new_unchecked(key)
}

/// A tool error where a request (not a tool call) failed: what the caller can fix is an invalid
/// request.
fn protocol_error(error: ToolError) -> ErrorData {
    match error {
        ToolError::Fix(message) => ErrorData::invalid_params(message, None),
        ToolError::Request(error) => error,
    }
}

/// Serves MCP over stdin/stdout (for clients that launch a local command) until the client closes
/// stdin. The connection is the session `session`: its state lives in that session's object, so
/// the same name resumes it later.
pub async fn serve_stdio(
    host: Arc<ObjectHost>,
    config: &McpConfig,
    packs: Packs,
    session: &str,
) -> Result<(), String> {
    use rmcp::ServiceExt;
    register_kinds(&host).map_err(|e| e.to_string())?;
    let mut server = KeelMcp::new(host, packs)?.with_fixed_session(session);
    server.tool_timeout = config.tool_timeout;
    if let Some(key) = &config.request_state_key {
        server = server.with_request_state_key(key)?;
    }
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("stdio session failed to start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("stdio session ended with an error: {e}"))?;
    Ok(())
}
