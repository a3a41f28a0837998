//! MCP sessions as durable objects: rmcp's `SessionStore` backed by the session's own object, so a
//! client's `Mcp-Session-Id` keeps working after the session was evicted and after a restart, and a
//! DELETE removes the session's object with everything in it.

use std::sync::Arc;

use keel_objects::{Namespace, ObjectHost, ObjectKey, Value};
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::target::SESSION_NAMESPACE;

/// The KV key under which a session object keeps its handshake (the client's `initialize`).
pub const HANDSHAKE_KEY: &str = "_mcp/handshake";

/// Keeps each session's handshake in the session's object.
pub struct ObjectSessionStore {
    host: Arc<ObjectHost>,
}

impl ObjectSessionStore {
    /// A store over `host`.
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
        let key = Self::key(session_id)?;
        let object = self.host.get(&key).await?;
        match object.storage().get(HANDSHAKE_KEY).await? {
            Some(Value::Json(state)) => Ok(Some(serde_json::from_value(state)?)),
            Some(Value::Bytes(_)) => Err("the session's stored handshake is not JSON".into()),
            None => Ok(None),
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let ns = Namespace::new(SESSION_NAMESPACE)?;
        let object = self.host.get_named(&ns, session_id).await?;
        object
            .storage()
            .put(HANDSHAKE_KEY, serde_json::to_value(state)?)
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.host.delete(&Self::key(session_id)?).await?;
        Ok(())
    }
}
