//! Plain JSON answers on the handshake protocol.
//!
//! rmcp answers every request of a handshake session with an SSE stream (its `json_response`
//! option only applies to stateless requests). The spec lets a server answer a POST with either,
//! and most calls only answer: for them an SSE stream costs a stream, a priming event, a stored
//! event and the client's SSE parsing. The session manager
//! ([`DurableSessionManager`](crate::event_log::DurableSessionManager)) hands such an answer over as
//! one event without an ID; this layer, in front of rmcp, turns a stream that holds nothing but that
//! one event into an `application/json` response. Every other stream passes through untouched.

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method};

/// The middleware (see the module documentation).
pub async fn single_event_as_json(request: Request, next: Next) -> Response {
    // Only a session's requests: stateless streams (a `subscriptions/listen`, say) carry events
    // without IDs that are not answers.
    let in_session = request.method() == Method::POST && request.headers().contains_key(SESSION_ID);
    let response = next.run(request).await;
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !in_session || !is_sse {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut frames = body.into_data_stream();
    let Some(first) = frames.next().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let answer = first.as_ref().ok().and_then(lone_data);
    let mut seen = vec![first];
    if let Some(json) = answer {
        match frames.next().await {
            None => {
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                parts.headers.remove(CONTENT_LENGTH);
                parts.headers.remove("cache-control");
                parts.headers.remove("x-accel-buffering");
                return Response::from_parts(parts, Body::from(json));
            }
            // More followed: an SSE stream after all.
            Some(second) => seen.push(second),
        }
    }
    // Sent on as it came.
    let rest = futures::stream::iter(seen).chain(frames);
    Response::from_parts(parts, Body::from_stream(rest))
}

const SESSION_ID: &str = "mcp-session-id";

/// The payload of an SSE frame that is a single `data:` line and nothing else (no event ID) holding
/// a JSON-RPC message with an `id` (as rmcp writes them: `jsonrpc` first, then `id`).
fn lone_data(frame: &Bytes) -> Option<Bytes> {
    let text = frame.strip_prefix(b"data:")?;
    let text = text.strip_prefix(b" ").unwrap_or(text);
    let text = text.strip_suffix(b"\n\n")?;
    if !text.starts_with(br#"{"jsonrpc":"2.0","id":"#) || text.contains(&b'\n') {
        return None;
    }
    Some(frame.slice_ref(text))
}

#[cfg(test)]
mod tests {
    use super::lone_data;
    use axum::body::Bytes;

    #[test]
    fn only_a_lone_data_line_is_an_answer() {
        let answer = Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n");
        assert_eq!(
            lone_data(&answer).as_deref(),
            Some(&b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"[..])
        );
        let notification = b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
        assert_eq!(lone_data(&Bytes::from_static(notification)), None);
        assert_eq!(
            lone_data(&Bytes::from_static(b"id: a.1\ndata: {}\n\n")),
            None
        );
        assert_eq!(lone_data(&Bytes::from_static(b"data:\n\n")), None);
        assert_eq!(
            lone_data(&Bytes::from_static(b"data: {}\nretry: 3\n\n")),
            None
        );
        assert_eq!(lone_data(&Bytes::from_static(b": ping\n\n")), None);
    }
}
