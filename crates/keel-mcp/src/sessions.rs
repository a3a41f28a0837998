//! MCP sessions as durable objects: rmcp's `SessionStore` backed by the session's own object, so a
//! client's `Mcp-Session-Id` keeps working after the session was evicted and after a restart, and a
//! DELETE removes the session's object with everything in it.
//!
//! The handshake is kept in a table of its own (`_keel_mcp_session`), created by the `session`
//! kind's migration, so that it never shows up among the session's KV entries.

use std::sync::Arc;

use keel_objects::{
    Migration, Namespace, ObjectError, ObjectHost, ObjectKey, ObjectKind, SqlValue,
};
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::target::SESSION_NAMESPACE;

/// The kind of the objects behind MCP sessions.
pub struct SessionKind;

impl ObjectKind for SessionKind {
    fn namespace(&self) -> Namespace {
        Namespace::new(SESSION_NAMESPACE).unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![Migration::sql(
            1,
            "CREATE TABLE _keel_mcp_session (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        )]
    }
}

/// The kind of the objects that keep a session's SSE event log (`event_log.rs`): one per session,
/// named by the session ID, beside the session's object. Apart from it because its commits need no
/// fsync: an event log that loses its last moments to a power cut is harmless, and an fsync per
/// event halved a session's calls/s.
pub struct SessionEventsKind;

/// The namespace of [`SessionEventsKind`].
pub const SESSION_EVENTS_NAMESPACE: &str = "session-events";

impl ObjectKind for SessionEventsKind {
    fn namespace(&self) -> Namespace {
        Namespace::new(SESSION_EVENTS_NAMESPACE)
            .unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![Migration::sql(
            1,
            "CREATE TABLE _keel_mcp_events (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, data TEXT NOT NULL);
             CREATE INDEX _keel_mcp_events_stream ON _keel_mcp_events (stream, seq)",
        )]
    }

    fn durability(&self) -> keel_objects::Durability {
        keel_objects::Durability::Relaxed
    }
}

/// Registers the kinds keel-mcp's objects are made of.
pub fn register_kinds(host: &ObjectHost) -> Result<(), ObjectError> {
    host.register(SessionKind)?;
    host.register(SessionEventsKind)
}

/// Keeps each session's handshake in the session's object.
pub struct ObjectSessionStore {
    host: Arc<ObjectHost>,
    unused: Arc<crate::unused_sessions::UnusedSessions>,
}

impl ObjectSessionStore {
    /// A store over `host` (whose kinds include [`SessionKind`]); each new session waits in
    /// `unused` for its first request.
    pub fn new(host: Arc<ObjectHost>, unused: Arc<crate::unused_sessions::UnusedSessions>) -> Self {
        Self { host, unused }
    }

    fn key(session_id: &str) -> Result<ObjectKey, SessionStoreError> {
        Ok(ObjectKey::from_name(
            &Namespace::new(SESSION_NAMESPACE)?,
            session_id,
        )?)
    }
}

#[async_trait::async_trait]
impl SessionStore for ObjectSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        // An ID that could not name an object was never issued: the session is unknown (404).
        let Ok(key) = Self::key(session_id) else {
            return Ok(None);
        };
        let object = self.host.get(&key).await?;
        let result = object
            .storage()
            .sql(
                "SELECT value FROM _keel_mcp_session WHERE key = 'handshake'",
                vec![],
            )
            .await?;
        match result.rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Text(json)) => Ok(Some(serde_json::from_str(json)?)),
            _ => Ok(None),
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let ns = Namespace::new(SESSION_NAMESPACE)?;
        let object = self.host.get_named(&ns, session_id).await?;
        let json = stored_handshake(state)?;
        object
            .storage()
            .sql(
                "INSERT INTO _keel_mcp_session (key, value) VALUES ('handshake', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![SqlValue::Text(json)],
            )
            .await?;
        self.unused.created(session_id);
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        Ok(delete(&self.host, session_id).await?)
    }
}

/// Deletes a session's object and its event log.
pub async fn delete(host: &ObjectHost, session_id: &str) -> Result<(), ObjectError> {
    host.delete(&ObjectKey::from_name(
        &Namespace::new(SESSION_NAMESPACE)?,
        session_id,
    )?)
    .await?;
    let events = ObjectKey::from_name(&Namespace::new(SESSION_EVENTS_NAMESPACE)?, session_id)?;
    host.delete(&events).await?;
    Ok(())
}

/// Stores a session value (log level, …) in its object; durable when it returns.
pub async fn set_value(
    host: &ObjectHost,
    session_id: &str,
    key: &str,
    value: &str,
) -> Result<(), ObjectError> {
    let ns = Namespace::new(SESSION_NAMESPACE)?;
    let object = host.get_named(&ns, session_id).await?;
    object
        .storage()
        .sql(
            "INSERT INTO _keel_mcp_session (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![SqlValue::from(key), SqlValue::from(value)],
        )
        .await?;
    Ok(())
}

/// Reads a session value stored with [`set_value`].
pub async fn value(
    host: &ObjectHost,
    session_id: &str,
    key: &str,
) -> Result<Option<String>, ObjectError> {
    let ns = Namespace::new(SESSION_NAMESPACE)?;
    let object = host.get_named(&ns, session_id).await?;
    let result = object
        .storage()
        .sql(
            "SELECT value FROM _keel_mcp_session WHERE key = ?1",
            vec![SqlValue::from(key)],
        )
        .await?;
    Ok(match result.rows.first().and_then(|r| r.first()) {
        Some(SqlValue::Text(v)) => Some(v.clone()),
        _ => None,
    })
}

/// Most bytes of a session's handshake that are stored (it lives as long as the session does).
pub const MAX_HANDSHAKE_BYTES: usize = 16 << 10;
/// Longest string of a stored handshake (a client's name, version, description, …).
const MAX_HANDSHAKE_STRING: usize = 256;

/// The handshake as stored: a client's `initialize` is its own to make as large as a request may
/// be (a 4 MB name), so strings are cut to [`MAX_HANDSHAKE_STRING`] bytes, and past
/// [`MAX_HANDSHAKE_BYTES`] what keel does not act on (icons, `_meta`, experimental capabilities,
/// extensions) is dropped; a handshake still larger keeps only its version and client name.
fn stored_handshake(state: &SessionState) -> Result<String, SessionStoreError> {
    let mut value = serde_json::to_value(state)?;
    if !has_long_string(&value) {
        let json = value.to_string();
        if json.len() <= MAX_HANDSHAKE_BYTES {
            return Ok(json);
        }
    }
    cut_strings(&mut value);
    for drop in [
        ["_meta", ""],
        ["clientInfo", "icons"],
        ["capabilities", "experimental"],
        ["capabilities", "extensions"],
    ] {
        if serde_json::to_string(&value)?.len() <= MAX_HANDSHAKE_BYTES {
            break;
        }
        let params = &mut value["initialize_params"];
        match drop {
            [key, ""] => params.as_object_mut().map(|o| o.remove(key)),
            [outer, inner] => params[outer].as_object_mut().map(|o| o.remove(inner)),
        };
    }
    if serde_json::to_string(&value)?.len() > MAX_HANDSHAKE_BYTES {
        let params = &value["initialize_params"];
        value = serde_json::json!({"initialize_params": {
            "protocolVersion": params["protocolVersion"],
            "capabilities": {},
            "clientInfo": {"name": params["clientInfo"]["name"], "version": params["clientInfo"]["version"]},
        }});
    }
    // Back through the type, so what is stored always loads.
    let trimmed: SessionState = serde_json::from_value(value)?;
    Ok(serde_json::to_string(&trimmed)?)
}

fn has_long_string(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.len() > MAX_HANDSHAKE_STRING,
        serde_json::Value::Array(a) => a.iter().any(has_long_string),
        serde_json::Value::Object(o) => o.values().any(has_long_string),
        _ => false,
    }
}

fn cut_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.len() > MAX_HANDSHAKE_STRING => {
            let mut end = MAX_HANDSHAKE_STRING;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(cut_strings),
        serde_json::Value::Object(o) => o.values_mut().for_each(cut_strings),
        _ => {}
    }
}
