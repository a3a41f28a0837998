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
}

impl ObjectSessionStore {
    /// A store over `host` (whose kinds include [`SessionKind`]).
    pub fn new(host: Arc<ObjectHost>) -> Self {
        Self { host }
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
        let json = serde_json::to_string(state)?;
        object
            .storage()
            .sql(
                "INSERT INTO _keel_mcp_session (key, value) VALUES ('handshake', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![SqlValue::Text(json)],
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.host.delete(&Self::key(session_id)?).await?;
        let events = ObjectKey::from_name(&Namespace::new(SESSION_EVENTS_NAMESPACE)?, session_id)?;
        self.host.delete(&events).await?;
        Ok(())
    }
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
