//! What every request a pack serves gets: a `ToolContext`, with the object it acts on (the
//! session's, or one named by an `object` argument), other objects by name, progress, logging,
//! cancellation, change notifications, and requests to the client (elicitation, sampling).

#![allow(deprecated)] // Logging and sampling are deprecated by 2026-07-28 but part of 2025-11-25.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;
use keel_objects::{Namespace, Object, ObjectHost};
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, InputResponses, JsonObject, RequestStateCodec};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::changes::{Audience, Change};
use crate::tool_error::ToolError;
use crate::{sessions, target};

/// What a tool call answers: a result, or (2026-07-28) an `InputRequiredResult` asking the client
/// for input, after which the client calls again with `inputResponses`.
pub type ToolFuture<'a> = BoxFuture<'a, Result<CallToolResponse, ErrorData>>;

const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

fn level_rank(level: &str) -> usize {
    LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// Everything a tool call (or a resource read, a prompt, a completion) may use.
pub struct ToolContext {
    host: Arc<ObjectHost>,
    request: RequestContext<RoleServer>,
    session: Option<String>,
    input_responses: Option<InputResponses>,
    request_state: Option<String>,
    /// The call a sealed `requestState` is bound to: its tool and arguments, and their digest
    /// once worked out (only calls that seal or open a state need it).
    call: (String, Option<Arc<JsonObject>>),
    call_digest: std::sync::OnceLock<String>,
    codec: Arc<RequestStateCodec>,
    /// Set when the call may run as a task: input requests and cancellation go through it.
    task: Option<Arc<crate::tasks::TaskCell>>,
    changes: Arc<crate::changes::ChangeHub>,
}

impl ToolContext {
    pub(crate) fn new(
        host: Arc<ObjectHost>,
        request: RequestContext<RoleServer>,
        session: Option<String>,
        codec: Arc<RequestStateCodec>,
        changes: Arc<crate::changes::ChangeHub>,
    ) -> Self {
        Self {
            host,
            request,
            session,
            input_responses: None,
            request_state: None,
            call: (String::new(), None),
            call_digest: std::sync::OnceLock::new(),
            codec,
            task: None,
            changes,
        }
    }

    pub(crate) fn with_task(mut self, task: Arc<crate::tasks::TaskCell>) -> Self {
        self.task = Some(task);
        self
    }

    pub(crate) fn with_input(
        mut self,
        tool: &str,
        arguments: Option<Arc<JsonObject>>,
        responses: Option<InputResponses>,
        state: Option<String>,
    ) -> Self {
        self.input_responses = responses;
        self.request_state = state;
        self.call = (tool.to_string(), arguments);
        self
    }

    fn call_digest(&self) -> &str {
        self.call_digest
            .get_or_init(|| crate::request_state::call_digest(&self.call.0, self.call.1.as_deref()))
    }

    /// The tool called (empty outside a tool call).
    pub fn tool_name(&self) -> &str {
        &self.call.0
    }

    /// Tells the clients in `audience` that listen for it that `change` happened (a resource or
    /// a list changed): sessions that subscribed, and 2026-07-28 `subscriptions/listen` streams.
    pub fn announce(&self, change: Change, audience: Audience) {
        self.changes.announce(change, audience);
    }

    /// The client's answers to an earlier `InputRequiredResult`, by input-request key.
    pub fn input_responses(&self) -> Option<&InputResponses> {
        self.input_responses.as_ref()
    }

    /// Seals `state` (HMAC, keyed by the server's secret) for an `InputRequiredResult`'s
    /// `requestState`: the client echoes it back and cannot alter it.
    pub fn seal_state(&self, state: &Value) -> Result<String, ErrorData> {
        crate::request_state::seal(&self.codec, state, self.call_digest(), SystemTime::now())
    }

    /// The state sealed by [`ToolContext::seal_state`] that the client echoed back; an error if it
    /// was altered or forged. `Ok(None)` when the client sent none.
    pub fn request_state(&self) -> Result<Option<Value>, ErrorData> {
        let Some(sealed) = self.request_state.as_deref() else {
            return Ok(None);
        };
        crate::request_state::open(&self.codec, sealed, self.call_digest(), SystemTime::now())
            .map(Some)
    }

    /// The address the request came from (`None` over stdio). Without authentication this is
    /// the closest thing to who the client is (a proxy in front makes every client its own).
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        let parts = self.request.extensions.get::<http::request::Parts>()?;
        let axum::extract::ConnectInfo(addr) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?;
        Some(*addr)
    }

    /// What the client said it can do (its per-request capabilities on 2026-07-28).
    pub fn client_capabilities(&self) -> Option<rmcp::model::ClientCapabilities> {
        self.request.client_capabilities()
    }

    /// The object host, for anything the helpers below do not cover.
    pub fn host(&self) -> &Arc<ObjectHost> {
        &self.host
    }

    /// The rmcp request context (peer, metadata, extensions).
    pub fn request(&self) -> &RequestContext<RoleServer> {
        &self.request
    }

    /// The session this call came over, on the handshake protocol.
    pub fn session_id(&self) -> Option<String> {
        self.session.clone()
    }

    /// Ends the SSE connection this call answers on, while the call goes on (SEP-1699 polling): the
    /// client reconnects with `Last-Event-ID` and gets the rest from the session's event log. Only
    /// on the handshake protocol (a stateless request has no log to resume from); returns whether
    /// it applies. The connection ends after the next event it carries: at once (after the priming
    /// event) when called as the call begins.
    pub fn close_stream(&self) -> bool {
        match &self.session {
            Some(session) if self.task.is_none() => {
                crate::event_log::close_request_stream(session, &self.request.id);
                true
            }
            _ => false,
        }
    }

    /// The object the call acts on: the one named by `object` if given, else the session's. The
    /// error says what to do (on stateless requests, pass `object`).
    pub async fn object(&self, object: Option<&str>) -> Result<Object, ToolError> {
        let target = target::resolve(object, self.session.as_deref())?;
        Ok(self
            .host
            .get_named(&target.key.namespace, &target.name)
            .await?)
    }

    /// The object a stateful tool keeps its state in (see [`crate::handles`]): the one behind
    /// `handle` if the client passed one back, else this session's object in `namespace`, else (a
    /// stateless request) a newly minted one whose handle the tool returns to the client.
    pub async fn handle_object(
        &self,
        namespace: &str,
        handle: Option<&str>,
    ) -> Result<crate::handles::HandleObject, ToolError> {
        let ns = Namespace::new(namespace)?;
        Ok(crate::handles::resolve(&self.host, &ns, handle, self.session.as_deref()).await?)
    }

    /// Another object by namespace and name (so one agent can hand work to another).
    pub async fn named(&self, namespace: &str, name: &str) -> Result<Object, ToolError> {
        let ns = Namespace::new(namespace)?;
        Ok(self.host.get_named(&ns, name).await?)
    }

    /// Cancelled when the client cancels the call or its task (or the server shuts down). Keel
    /// also stops the call's future by dropping it; this is for work outside it (threads, processes).
    pub fn cancellation(&self) -> &CancellationToken {
        match &self.task {
            Some(task) => task.cancellation(),
            None => &self.request.ct,
        }
    }

    /// Reports progress, if the client asked for it (a `progressToken`).
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.request.meta.get_progress_token() else {
            return;
        };
        let mut param = serde_json::json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            param["total"] = total.into();
        }
        if let Some(message) = message {
            param["message"] = message.into();
        }
        if let Ok(param) = serde_json::from_value(param) {
            let _ = self.request.peer.notify_progress(param).await;
        }
    }

    /// Sends a log message if the session's level (`logging/setLevel`) lets it through.
    /// On 2026-07-28 (no session) a request opts in with `_meta` `io.modelcontextprotocol/logLevel`;
    /// without it no log message is sent.
    pub async fn log(&self, level: &str, logger: &str, data: Value) {
        let minimum = match self.session_id() {
            Some(id) => sessions::value(&self.host, &id, "log_level")
                .await
                .ok()
                .flatten(),
            None => match self.request.meta.log_level() {
                Some(min) => serde_json::to_value(min)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                None => return,
            },
        };
        if minimum.is_some_and(|min| level_rank(level) < level_rank(&min)) {
            return;
        }
        let param = serde_json::json!({"level": level, "logger": logger, "data": data});
        if let Ok(param) = serde_json::from_value(param) {
            let _ = self.request.peer.notify_logging_message(param).await;
        }
    }

    /// Asks the user through the client (`elicitation/create`); returns the client's answer as
    /// JSON (`action`, `content`). In a task the request waits in the task (`input_required`)
    /// until `tasks/update` answers it; otherwise it goes over the session (handshake protocol).
    pub async fn elicit(&self, params: Value) -> Result<Value, ErrorData> {
        let typed: rmcp::model::ElicitRequestParams = serde_json::from_value(params.clone())
            .map_err(|e| {
                ErrorData::invalid_params(format!("elicitation request is malformed: {e}"), None)
            })?;
        if let Some(task) = &self.task {
            return task.request_input("elicitation/create", params).await;
        }
        let params = typed;
        let reply = self
            .request
            .peer
            .create_elicitation(params)
            .await
            .map_err(|e| ErrorData::internal_error(format!("elicitation failed: {e}"), None))?;
        Ok(serde_json::to_value(&reply).unwrap_or(Value::Null))
    }

    /// Asks the client's model (`sampling/createMessage`); returns its answer as JSON. In a task,
    /// as with [`ToolContext::elicit`], the request waits in the task.
    pub async fn sample(&self, params: Value) -> Result<Value, ErrorData> {
        let typed: rmcp::model::CreateMessageRequestParams = serde_json::from_value(params.clone())
            .map_err(|e| {
                ErrorData::invalid_params(format!("sampling request is malformed: {e}"), None)
            })?;
        if let Some(task) = &self.task {
            return task.request_input("sampling/createMessage", params).await;
        }
        let params = typed;
        let reply = self
            .request
            .peer
            .create_message(params)
            .await
            .map_err(|e| ErrorData::internal_error(format!("sampling failed: {e}"), None))?;
        Ok(serde_json::to_value(&reply).unwrap_or(Value::Null))
    }
}
