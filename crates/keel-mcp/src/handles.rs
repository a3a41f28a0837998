//! State without sessions: server-minted handles. Protocol 2026-07-28 has no sessions and advises
//! keeping state behind handles the server mints and the client passes back as a tool argument
//! ("Stateful Tools"). In keel a handle is a durable object: a pack mints one (a fresh object with
//! a random 128-bit ID, unguessable, so the handle is also the capability to use it), returns it,
//! and accepts it back; the argument is marked `x-mcp-header` so a load balancer can route by it.
//! On the handshake protocol the session plays the same role: without a handle, a call uses the
//! object of its pack named by the session ID.

use keel_objects::{Namespace, Object, ObjectError, ObjectHost, ObjectId, ObjectKey};
use serde_json::json;

/// The HTTP header (`Mcp-Param-Handle`) a load balancer can route 2026-07-28 requests by.
pub const HANDLE_HEADER: &str = "Handle";

/// The KV key that marks an object as minted through a handle.
const MINTED_KEY: &str = "_keel_handle";

/// Why a handle could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Not a handle keel mints.
    #[error(
        "{0:?} is not a handle: pass back the `handle` a previous result gave, or leave it out to start anew"
    )]
    Malformed(String),
    /// Well-formed, but no object was minted under it (or it was deleted).
    #[error(
        "unknown handle {0:?}: it was never issued or has ended; leave `handle` out to start anew"
    )]
    Unknown(String),
    /// The object could not be reached.
    #[error(transparent)]
    Object(#[from] ObjectError),
}

/// The object a call's state lives in, and how it was found.
pub struct HandleObject {
    /// The object.
    pub object: Object,
    /// The handle to give back to the client (`None` when the session's object is used).
    pub handle: Option<String>,
    /// True when the object was minted by this call (its handle is new to the client).
    pub minted: bool,
}

/// Mints a new handle in `namespace`: a new object, marked durably as minted.
pub async fn mint(host: &ObjectHost, namespace: &Namespace) -> Result<HandleObject, HandleError> {
    let id = ObjectId::unique();
    let object = host.get(&ObjectKey::new(namespace.clone(), id)).await?;
    object.storage().put(MINTED_KEY, json!(true)).await?;
    Ok(HandleObject {
        object,
        handle: Some(id.to_hex()),
        minted: true,
    })
}

/// The object behind `handle` in `namespace`; an error that says what to do when there is none.
pub async fn open(
    host: &ObjectHost,
    namespace: &Namespace,
    handle: &str,
) -> Result<HandleObject, HandleError> {
    let id = ObjectId::parse(handle).map_err(|_| HandleError::Malformed(handle.to_string()))?;
    let object = host.get(&ObjectKey::new(namespace.clone(), id)).await?;
    if object.storage().get(MINTED_KEY).await?.is_none() {
        return Err(HandleError::Unknown(handle.to_string()));
    }
    Ok(HandleObject {
        object,
        handle: Some(handle.to_string()),
        minted: false,
    })
}

/// The object a call uses: the one behind `handle` if given, else the session's object in
/// `namespace`, else (a stateless request) a newly minted one.
pub async fn resolve(
    host: &ObjectHost,
    namespace: &Namespace,
    handle: Option<&str>,
    session: Option<&str>,
) -> Result<HandleObject, HandleError> {
    match (handle, session) {
        (Some(handle), _) => open(host, namespace, handle).await,
        (None, Some(session)) => Ok(HandleObject {
            object: host.get_named(namespace, session).await?,
            handle: None,
            minted: false,
        }),
        (None, None) => mint(host, namespace).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_objects::HostConfig;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_minted_handle_comes_back_to_the_same_object_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let host = ObjectHost::open_embedded(dir.path(), HostConfig::default()).unwrap();
        let ns = Namespace::new("browser").unwrap();

        let minted = resolve(&host, &ns, None, None).await.unwrap();
        assert!(minted.minted);
        let handle = minted.handle.clone().unwrap();
        assert_eq!(handle.len(), 32);
        minted
            .object
            .storage()
            .put("url", json!("https://a.example"))
            .await
            .unwrap();
        drop(minted);

        let again = resolve(&host, &ns, Some(&handle), None).await.unwrap();
        assert!(!again.minted);
        assert_eq!(
            again.object.storage().get("url").await.unwrap(),
            Some(json!("https://a.example").into())
        );

        // A well-formed handle nobody minted, and garbage, get errors that say what to do.
        let stranger = ObjectId::unique().to_hex();
        let e = resolve(&host, &ns, Some(&stranger), None)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, HandleError::Unknown(_)), "{e}");
        assert!(e.to_string().contains("leave `handle` out"), "{e}");
        let e = resolve(&host, &ns, Some("../etc"), None)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, HandleError::Malformed(_)), "{e}");

        // On the handshake protocol the session's object is used, with no handle to pass around.
        let by_session = resolve(&host, &ns, None, Some("s1")).await.unwrap();
        assert!(by_session.handle.is_none() && !by_session.minted);
        let same = host.get_named(&ns, "s1").await.unwrap();
        assert_eq!(same.key(), by_session.object.key());

        // A handle is bound to its namespace: the same ID in another pack's namespace is unknown.
        let other = Namespace::new("sandbox").unwrap();
        assert!(matches!(
            resolve(&host, &other, Some(&handle), None).await,
            Err(HandleError::Unknown(_))
        ));
        host.shutdown(std::time::Duration::from_secs(5)).await;
    }
}
