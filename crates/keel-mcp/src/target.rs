//! Which durable object a tool call acts on: the caller's session object (handshake protocol), or
//! an object the call names (any protocol; the only way on stateless 2026-07-28 requests).

use keel_objects::{Namespace, ObjectError, ObjectKey};
use rmcp::service::{RequestContext, RoleServer};

/// Namespace of the objects behind MCP sessions.
pub const SESSION_NAMESPACE: &str = "session";
/// Namespace of the objects that tools name with an `object` argument.
pub const NAMED_NAMESPACE: &str = "named";
/// The HTTP header a load balancer can route by (the `object` argument, marked `x-mcp-header`).
pub const OBJECT_HEADER: &str = "Object";

/// The object a call acts on, and the name it is recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The object's key.
    pub key: ObjectKey,
    /// The name (session ID or the `object` argument).
    pub name: String,
}

/// Why no object could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A stateless request without `object`.
    #[error(
        "this request has no session (protocol 2026-07-28 is stateless): pass an `object` argument naming the object to use"
    )]
    NoSession,
    /// A malformed object name.
    #[error("invalid `object`: {0}")]
    Invalid(#[from] ObjectError),
}

/// The session ID of the request, if it came over a handshake session.
pub fn session_id(context: &RequestContext<RoleServer>) -> Option<String> {
    session_id_of(&context.extensions)
}

/// The session ID in a request's or notification's extensions (its HTTP request).
pub fn session_id_of(extensions: &rmcp::model::Extensions) -> Option<String> {
    let parts = extensions.get::<http::request::Parts>()?;
    let value = parts.headers.get("mcp-session-id")?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_string())
}

/// Chooses the object: the named one if `object` is given, else the session's.
pub fn resolve(object: Option<&str>, session: Option<&str>) -> Result<Target, TargetError> {
    if let Some(name) = object {
        let ns = Namespace::new(NAMED_NAMESPACE)?;
        return Ok(Target {
            key: ObjectKey::from_name(&ns, name)?,
            name: name.to_string(),
        });
    }
    let id = session.ok_or(TargetError::NoSession)?.to_string();
    let ns = Namespace::new(SESSION_NAMESPACE)?;
    Ok(Target {
        key: ObjectKey::from_name(&ns, &id)?,
        name: id,
    })
}
