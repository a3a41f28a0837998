//! What one request may make keel hold: its body is read whole, within the body limit and a time
//! limit, and its JSON is weighed before anything builds values from it.
//!
//! A body of the size limit can still cost far more memory once parsed: 4 MiB of `{"a":1}` is
//! 520,000 objects, ~350 MB as `serde_json` values, and a call copies its arguments a few times
//! on their way to storage. So every POST is scanned first (one pass over the bytes, no
//! allocation) and the memory its values would take is estimated; past [`MAX_JSON_BYTES`] it is
//! refused with a JSON-RPC error that says why, before any value is built.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};

/// Most memory the values of one request may take, as [`json_value_bytes`] estimates it. A call
/// holds its arguments a few times over (the request, the validated arguments, the stored copy),
/// so this keeps one request well under ~256 MiB of peak memory.
pub const MAX_JSON_BYTES: usize = 32 << 20;

/// A request body must arrive within this (a slow sender holds a connection and a buffer).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a `serde_json` object costs before its entries: a B-tree leaf of 11 slots.
const OBJECT_BYTES: usize = 640;
/// What any value costs in its parent (an array slot or an object entry, with the room a growing
/// array leaves) or at the top.
const VALUE_BYTES: usize = 64;
/// What a string or an object key costs besides its characters (its allocation).
const STRING_BYTES: usize = 24;

/// About how many bytes `serde_json` values parsed from `json` take: objects, arrays, strings and
/// scalars weighed by what each costs in memory. Scans the text once; never fails (malformed
/// JSON is weighed as far as it goes and left to the parser to refuse).
pub fn json_value_bytes(json: &[u8]) -> usize {
    let mut total = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_scalar = false;
    for &b in json {
        if in_string {
            total += 1;
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                in_scalar = false;
                total += STRING_BYTES + VALUE_BYTES;
            }
            b'{' => {
                in_scalar = false;
                total += OBJECT_BYTES + VALUE_BYTES;
            }
            b'[' => {
                in_scalar = false;
                total += VALUE_BYTES;
            }
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' | b'}' | b']' => in_scalar = false,
            _ => {
                if !in_scalar {
                    in_scalar = true;
                    total += VALUE_BYTES;
                }
            }
        }
    }
    total
}

/// The middleware: POST bodies read within the size and time limits, then weighed.
pub async fn bounded_body(max_body_bytes: usize, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let mut collect = std::pin::pin!(axum::body::to_bytes(body, max_body_bytes));
    // A small body has arrived with its head: no timer for it (a timer per request is a lock
    // on the runtime's timer wheel).
    let read = match futures::poll!(&mut collect) {
        std::task::Poll::Ready(read) => Ok(read),
        std::task::Poll::Pending => tokio::time::timeout(BODY_READ_TIMEOUT, collect).await,
    };
    let bytes: Bytes = match read {
        Err(_) => {
            return refusal(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            );
        }
        Ok(Err(_)) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than the limit of {max_body_bytes} bytes (max_body_bytes)"
                ),
            );
        }
        Ok(Ok(bytes)) => bytes,
    };
    let weight = json_value_bytes(&bytes);
    if weight > MAX_JSON_BYTES {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request's JSON would take about {} MiB of memory as values, more than the limit of {} MiB: it holds too many small objects, arrays or values; send fewer, or send the data as one string",
                weight >> 20,
                MAX_JSON_BYTES >> 20
            ),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A refusal as a JSON-RPC error (the request's ID is not known without parsing it).
fn refusal(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32600, "message": message },
    });
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighs_what_parsing_would_build() {
        // Each estimate is at least what serde_json really allocates for the shape.
        let many_objects = format!("[{}]", vec![r#"{"a":1}"#; 520_000].join(","));
        assert!(json_value_bytes(many_objects.as_bytes()) > 300 << 20);
        let one_string = format!(r#"{{"v":"{}"}}"#, "x".repeat(4 << 20));
        let w = json_value_bytes(one_string.as_bytes());
        assert!(w > 4 << 20 && w < 5 << 20, "{w}");
        // Braces and quotes inside strings (escaped quotes included) are characters, not values.
        let quoted = r#"{"s":"{[\"{\"]}"}"#;
        assert!(json_value_bytes(quoted.as_bytes()) < 2 * OBJECT_BYTES);
        let numbers = format!("[{}]", vec!["12345"; 1000].join(","));
        assert_eq!(json_value_bytes(numbers.as_bytes()), VALUE_BYTES * 1001);
    }
}
