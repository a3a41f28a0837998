//! The legacy HTTP+SSE transport (protocol 2024-11-05) for old clients: `GET /sse` opens a stream
//! whose first event names the endpoint to POST messages to (`/messages?sessionId=…`); answers come
//! back on the stream. rmcp 3.11 has no server side for it, so it is written here on axum, over
//! rmcp's sink/stream transport: the same `KeelMcp` handler serves it, with the connection as a
//! named session whose object keeps its state (as with stdio).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use keel_objects::ObjectId;
use rmcp::ServiceExt;
use rmcp::model::ClientJsonRpcMessage;
use tokio_util::sync::CancellationToken;

use crate::origin_check::OriginCheck;
use crate::server::{KeelMcp, McpConfig};

/// Messages a client may queue before its POSTs wait for the session to catch up.
const INBOX_CAPACITY: usize = 64;

struct LegacySse {
    server: KeelMcp,
    /// Open connections: session ID -> the session's inbox.
    sessions: Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
    origin_check: OriginCheck,
    max_body_bytes: usize,
    /// Closes every open stream (graceful shutdown).
    shutdown: CancellationToken,
}

/// Routes `GET /sse` and `POST /messages` for `server`; the streams end when `shutdown` is cancelled.
pub fn router(server: KeelMcp, config: &McpConfig, shutdown: CancellationToken) -> Router {
    let state = Arc::new(LegacySse {
        server,
        sessions: Mutex::default(),
        origin_check: OriginCheck::new(config),
        max_body_bytes: config.max_body_bytes,
        shutdown,
    });
    Router::new()
        .route("/sse", get(open_stream).post(post_to_stream))
        .route("/messages", post(post_message))
        .with_state(state)
}

/// `POST /sse`: a client that speaks Streamable HTTP to the legacy endpoint. 405, saying where to go.
async fn post_to_stream() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        http::StatusCode::METHOD_NOT_ALLOWED,
        [(http::header::ALLOW, "GET")],
        "GET /sse opens the legacy HTTP+SSE transport (2024-11-05); for Streamable HTTP POST to /mcp\n",
    )
        .into_response()
}

/// Removes a connection's session from the table when its stream is dropped.
struct Connection {
    state: Arc<LegacySse>,
    session: String,
    cancel: CancellationToken,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.cancel.cancel();
        let mut sessions = self
            .state
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sessions.remove(&self.session);
    }
}

async fn open_stream(State(state): State<Arc<LegacySse>>, headers: HeaderMap) -> Response {
    if let Err(refused) = state.origin_check.check(&headers) {
        return refused;
    }
    let session = ObjectId::unique().to_hex();
    let (inbox_tx, inbox_rx) = mpsc::channel::<ClientJsonRpcMessage>(INBOX_CAPACITY);
    let (outbox_tx, outbox_rx) = mpsc::channel(INBOX_CAPACITY);
    state
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(session.clone(), inbox_tx);
    let cancel = state.shutdown.child_token();
    let handler = state.server.clone().with_fixed_session(&session);
    let service_cancel = cancel.clone();
    tokio::spawn(async move {
        // `serve` waits for the client's `initialize`; it ends when the stream is dropped.
        let running = tokio::select! {
            running = handler.serve((outbox_tx, inbox_rx)) => running,
            () = service_cancel.cancelled() => return,
        };
        match running {
            Ok(running) => {
                let token = running.cancellation_token();
                tokio::select! {
                    _ = running.waiting() => {}
                    () = service_cancel.cancelled() => token.cancel(),
                }
            }
            Err(error) => tracing::debug!(%error, "a legacy SSE session ended before it started"),
        }
    });
    let connection = Connection {
        state: Arc::clone(&state),
        session: session.clone(),
        cancel: cancel.clone(),
    };
    let endpoint = futures::stream::once(futures::future::ready(Ok::<_, Infallible>(
        Event::default()
            .event("endpoint")
            .data(format!("/messages?sessionId={session}")),
    )));
    let messages = outbox_rx.map(move |message: rmcp::model::ServerJsonRpcMessage| {
        let _ = &connection;
        let data = serde_json::to_string(&message).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a message could not be written as JSON");
            String::from("{}")
        });
        Ok(Event::default().event("message").data(data))
    });
    let stream = endpoint
        .chain(messages)
        .take_until(async move { cancel.cancelled().await });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn post_message(State(state): State<Arc<LegacySse>>, request: Request) -> Response {
    if let Err(refused) = state.origin_check.check(request.headers()) {
        return refused;
    }
    let Some(session) = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("sessionId="))
            .map(str::to_string)
    }) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "missing sessionId: POST to the endpoint the /sse stream named",
        );
    };
    let inbox = state
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&session)
        .cloned();
    let Some(mut inbox) = inbox else {
        return plain(
            StatusCode::NOT_FOUND,
            "unknown session: it ended with its /sse stream; open GET /sse again",
        );
    };
    let body = match axum::body::to_bytes(request.into_body(), state.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the body is larger than the limit of {} bytes (max_body_bytes)",
                    state.max_body_bytes
                ),
            );
        }
    };
    let message = match parse_message(&body) {
        Ok(message) => message,
        Err(response) => return response,
    };
    if inbox.send(message).await.is_err() {
        return plain(
            StatusCode::NOT_FOUND,
            "unknown session: it ended with its /sse stream; open GET /sse again",
        );
    }
    plain(StatusCode::ACCEPTED, "Accepted")
}

/// The JSON-RPC message in `body`, or a 400 with the matching JSON-RPC error.
// The error is the response itself, sent once: its size does not matter.
#[allow(clippy::result_large_err)]
fn parse_message(body: &Bytes) -> Result<ClientJsonRpcMessage, Response> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| jsonrpc_error(-32700, &format!("Parse error: the body is not JSON ({e})")))?;
    serde_json::from_value(value).map_err(|e| {
        jsonrpc_error(
            -32600,
            &format!("Invalid Request: not a JSON-RPC 2.0 message an MCP client sends ({e})"),
        )
    })
}

fn jsonrpc_error(code: i64, message: &str) -> Response {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}
