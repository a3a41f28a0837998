//! Sealed `requestState` (2026-07-28 input-required results), bound to its use.
//!
//! The client holds the state between the two halves of a call and echoes it back; the HMAC seal
//! (rmcp's codec, keyed by the data directory's key) stops it being altered. The seal alone would
//! let a state sealed for one call be replayed with another (another tool, other arguments, so
//! another object or handle) and for ever, so the sealed envelope also carries a digest of the
//! call it belongs to and when it expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::ErrorData;
use rmcp::model::RequestStateCodec;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// How long a sealed state is accepted back.
pub const REQUEST_STATE_TTL: Duration = Duration::from_secs(3600);

/// A digest of the call a state belongs to: the tool and its arguments (which name its object or
/// handle). The client repeats both when it comes back with its input.
pub(crate) fn call_digest(tool: &str, arguments: Option<&Map<String, Value>>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tool.as_bytes());
    hasher.update([0u8]);
    // serde_json's map keeps keys sorted: the same arguments give the same text.
    if let Some(arguments) = arguments {
        hasher.update(Value::Object(arguments.clone()).to_string().as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seals `state` for the call `digest`, valid for [`REQUEST_STATE_TTL`] from `now`.
pub(crate) fn seal(
    codec: &RequestStateCodec,
    state: &Value,
    digest: &str,
    now: SystemTime,
) -> Result<String, ErrorData> {
    let envelope = json!({
        "state": state,
        "call": digest,
        "expires": unix_seconds(now + REQUEST_STATE_TTL),
    });
    codec
        .seal_json(&envelope)
        .map_err(|e| ErrorData::internal_error(format!("cannot seal the request state: {e}"), None))
}

/// The state `sealed` holds, if it is intact, belongs to the call `digest` and has not expired.
pub(crate) fn open(
    codec: &RequestStateCodec,
    sealed: &str,
    digest: &str,
    now: SystemTime,
) -> Result<Value, ErrorData> {
    let refuse =
        |why: String| ErrorData::invalid_params(format!("{why}: start the call again"), None);
    let envelope: Value = codec
        .open_json(sealed)
        .map_err(|e| refuse(format!("requestState failed its integrity check ({e})")))?;
    if envelope["call"].as_str() != Some(digest) {
        return Err(refuse(
            "requestState belongs to another call (another tool, or other arguments)".into(),
        ));
    }
    if envelope["expires"]
        .as_u64()
        .is_none_or(|at| at < unix_seconds(now))
    {
        return Err(refuse(format!(
            "requestState has expired (it is accepted for {} s)",
            REQUEST_STATE_TTL.as_secs()
        )));
    }
    Ok(envelope["state"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> RequestStateCodec {
        RequestStateCodec::new_unchecked(vec![7u8; 32])
    }

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_state_opens_only_for_its_own_call_and_within_its_time() {
        let now = SystemTime::now();
        let mine = call_digest("page_extract", Some(&args(json!({"handle": "a", "x": 1}))));
        let sealed = seal(&codec(), &json!({"step": 2}), &mine, now).unwrap();
        assert_eq!(
            open(&codec(), &sealed, &mine, now).unwrap(),
            json!({"step": 2})
        );
        // Same arguments in another order are the same call.
        let reordered = call_digest("page_extract", Some(&args(json!({"x": 1, "handle": "a"}))));
        assert!(open(&codec(), &sealed, &reordered, now).is_ok());

        let other_tool = call_digest("kv_put", Some(&args(json!({"handle": "a", "x": 1}))));
        let other_handle = call_digest("page_extract", Some(&args(json!({"handle": "b", "x": 1}))));
        for other in [other_tool, other_handle] {
            let e = open(&codec(), &sealed, &other, now).unwrap_err();
            assert!(e.message.contains("another call"), "{}", e.message);
        }
        let later = now + REQUEST_STATE_TTL + Duration::from_secs(1);
        let e = open(&codec(), &sealed, &mine, later).unwrap_err();
        assert!(e.message.contains("expired"), "{}", e.message);

        let mut tampered = sealed.clone();
        tampered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(open(&codec(), &tampered, &mine, now).is_err());
        // A state sealed by another key (another server) does not open.
        let foreign = RequestStateCodec::new_unchecked(vec![9u8; 32]);
        let sealed_elsewhere = seal(&foreign, &json!({}), &mine, now).unwrap();
        assert!(open(&codec(), &sealed_elsewhere, &mine, now).is_err());
    }
}
