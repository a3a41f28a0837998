//! The SSE event log of handshake sessions, kept in an object of each session's own, so that a client
//! that lost its connection resumes with `Last-Event-ID` and gets what it missed: after a dropped
//! connection, after the session was evicted, and after the server restarted.
//!
//! rmcp's `EventStore` hook sees only a stream ID (a random UUID for request streams), not the
//! session, so it could keep events only in one global log that any holder of an event ID could
//! read. Instead [`DurableSessionManager`] wraps rmcp's `LocalSessionManager`: every response
//! stream it hands out is drained by a pump task that writes each message to the session's event
//! object (a `session-events` object named by the session ID, whose commits are not fsynced: see
//! [`SessionEventsKind`](crate::sessions::SessionEventsKind)) and then forwards it to whichever
//! connection is attached now. A resume reads the stored events after the given ID from the log of
//! the session named in the request, so one session can never read another's events, and re-attaches to the pump when
//! the stream is still running.
//!
//! Event IDs are `STREAM.SEQ`: `STREAM` is random per request stream (`c` for the session's GET
//! stream), `SEQ` the row of the event in `_keel_mcp_events`; a priming event is `STREAM.0`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use futures::{Stream, StreamExt};
use keel_objects::{Namespace, ObjectError, ObjectHost, ObjectId, SqlValue};
use rmcp::model::{ClientJsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    EventStream, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::sessions::SESSION_EVENTS_NAMESPACE;

/// Events kept per session; older ones are dropped as new ones arrive.
pub const MAX_EVENTS_PER_SESSION: i64 = 1024;

/// The stream key of a session's standalone (GET) stream.
const COMMON_STREAM: &str = "c";

/// How long a request stream waits for its first message to be the answer (and so be sent as plain
/// JSON) before it becomes an SSE stream with stored events.
const ANSWER_FAST_PATH: std::time::Duration = std::time::Duration::from_millis(100);

/// Messages buffered for a slow connection before the pump waits for it.
const CHANNEL_CAPACITY: usize = 64;

/// Why a session stream could not be opened or resumed.
#[derive(Debug, thiserror::Error)]
pub enum SessionStreamError {
    /// rmcp's in-memory session worker refused.
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    /// The session's event log could not be read or written.
    #[error("the session's event log is not available: {0}")]
    Storage(#[from] ObjectError),
    /// The `Last-Event-ID` is not one this server issues.
    #[error("Last-Event-ID {0:?} was not issued by this server (expected STREAM.SEQ)")]
    BadEventId(String),
}

/// Request streams whose connection is to be ended (by session and JSON-RPC request ID), asked for
/// by [`close_request_stream`].
static CLOSING: LazyLock<Mutex<HashSet<(String, String)>>> = LazyLock::new(Mutex::default);

fn request_key(session: &str, request: &RequestId) -> (String, String) {
    (session.to_string(), request.to_string())
}

/// Ends the SSE connection that carries the answer to `request` of `session` (SEP-1699 polling:
/// a server may close a request's stream and let the client come back). The call goes on; what it
/// sends from then on is stored in the session's event log, and the client gets it by reconnecting
/// with `Last-Event-ID`. The connection ends after the next event it carries (the priming event,
/// with the ID to resume from, when asked as the call begins).
pub fn close_request_stream(session: &str, request: &RequestId) {
    lock_closing().insert(request_key(session, request));
}

fn lock_closing() -> std::sync::MutexGuard<'static, HashSet<(String, String)>> {
    CLOSING.lock().unwrap_or_else(|p| p.into_inner())
}

/// A stream being pumped now: where its messages go.
struct LiveStream {
    /// The connection attached to the stream, if any.
    sender: tokio::sync::Mutex<Option<mpsc::Sender<ServerSseMessage>>>,
}

type LiveKey = (SessionId, String);

/// rmcp's in-memory session manager with each session's SSE events stored in its object.
pub struct DurableSessionManager {
    inner: LocalSessionManager,
    host: Arc<ObjectHost>,
    live: Arc<Mutex<HashMap<LiveKey, Arc<LiveStream>>>>,
    /// Sessions waiting for their first request.
    unused: Arc<crate::unused_sessions::UnusedSessions>,
}

impl DurableSessionManager {
    /// A manager whose session objects live in `host`; a session's first request takes it off
    /// `unused`.
    pub fn new(host: Arc<ObjectHost>, unused: Arc<crate::unused_sessions::UnusedSessions>) -> Self {
        Self {
            inner: LocalSessionManager::default(),
            host,
            live: Arc::default(),
            unused,
        }
    }

    fn live_stream(&self, session: &SessionId, stream: &str) -> Option<Arc<LiveStream>> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(&(session.clone(), stream.to_string())).cloned()
    }

    /// Starts the task that stores and forwards the messages of `inner`; returns the first
    /// connection's end.
    fn pump(
        &self,
        session: SessionId,
        stream: String,
        request: Option<(String, String)>,
        inner: impl Stream<Item = ServerSseMessage> + Send + 'static,
    ) -> ReceiverStream<ServerSseMessage> {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let live_stream = Arc::new(LiveStream {
            sender: tokio::sync::Mutex::new(Some(tx)),
        });
        let key = (session.clone(), stream.clone());
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), Arc::clone(&live_stream));
        let host = Arc::clone(&self.host);
        let live = Arc::clone(&self.live);
        tokio::spawn(async move {
            let mut inner = std::pin::pin!(inner);
            while let Some(mut event) = inner.next().await {
                if let Some(message) = &event.message {
                    // Written (not fsynced: SessionEventsKind) before it is sent, so a kill -9
                    // right after cannot lose it.
                    match append(&host, &session, &stream, message).await {
                        Ok(seq) => event.event_id = Some(format!("{stream}.{seq}")),
                        Err(error) => {
                            // Still deliver it; it just cannot be replayed.
                            tracing::warn!(%error, "an SSE event could not be stored");
                            event.event_id = None;
                        }
                    }
                } else if event.event_id.is_some() {
                    event.event_id = Some(format!("{stream}.0"));
                }
                let mut sender = live_stream.sender.lock().await;
                if let Some(tx) = sender.as_ref()
                    && tx.send(event).await.is_err()
                {
                    *sender = None;
                }
                if let Some(key) = &request
                    && lock_closing().remove(key)
                {
                    // Asked to end the connection: the rest goes to the log only.
                    *sender = None;
                }
            }
            if let Some(key) = &request {
                lock_closing().remove(key);
            }
            let mut live = live.lock().unwrap_or_else(|p| p.into_inner());
            if live.get(&key).is_some_and(|s| Arc::ptr_eq(s, &live_stream)) {
                live.remove(&key);
            }
        });
        ReceiverStream::new(rx)
    }

    /// Attaches a new connection to a running stream: the stored events after `after`, then what
    /// the stream sends from now on.
    async fn reattach(
        &self,
        session: &SessionId,
        stream: &str,
        after: i64,
        live_stream: &LiveStream,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionStreamError>
    {
        let mut sender = live_stream.sender.lock().await;
        // Under the lock nothing is forwarded, so every event is either in this replay or arrives
        // live afterwards (an event in both is dropped from the live part by its sequence number).
        let replay = replay(&self.host, session, stream, after).await?;
        let last = replay.last().map_or(after, |(seq, _)| *seq);
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        *sender = Some(tx);
        let live = ReceiverStream::new(rx).filter(move |event| {
            let seq = event.event_id.as_deref().and_then(sequence_of);
            futures::future::ready(seq.is_none_or(|seq| seq > last))
        });
        Ok(futures::stream::iter(replay.into_iter().map(|(_, e)| e)).chain(live))
    }
}

/// The sequence number of an event ID (`STREAM.SEQ`).
fn sequence_of(event_id: &str) -> Option<i64> {
    event_id.rsplit_once('.')?.1.parse().ok()
}

fn parse_event_id(event_id: &str) -> Result<(String, i64), SessionStreamError> {
    let bad = || SessionStreamError::BadEventId(event_id.to_string());
    let (stream, seq) = event_id.rsplit_once('.').ok_or_else(bad)?;
    let valid_stream = !stream.is_empty()
        && stream.len() <= 32
        && stream.bytes().all(|b| b.is_ascii_alphanumeric());
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if !valid_stream || seq < 0 {
        return Err(bad());
    }
    Ok((stream.to_string(), seq))
}

/// The object that keeps `session`'s events (beside the session's own object).
async fn events_object(
    host: &ObjectHost,
    session: &str,
) -> Result<keel_objects::Object, ObjectError> {
    host.get_named(&Namespace::new(SESSION_EVENTS_NAMESPACE)?, session)
        .await
}

/// Writes one event to the session's log (dropping the oldest beyond the cap); its sequence
/// number. Sequence numbers only grow: the trim never removes the newest row.
async fn append(
    host: &ObjectHost,
    session: &str,
    stream: &str,
    message: &ServerJsonRpcMessage,
) -> Result<i64, ObjectError> {
    let data = serde_json::to_string(message)
        .map_err(|e| ObjectError::InvalidValue(format!("an event is not JSON: {e}")))?;
    let stream = stream.to_string();
    let object = events_object(host, session).await?;
    object
        .storage()
        .transaction(move |t| {
            let inserted = t.sql(
                "INSERT INTO _keel_mcp_events (stream, data) VALUES (?1, ?2) RETURNING seq",
                &[SqlValue::Text(stream), SqlValue::Text(data)],
            )?;
            let Some(SqlValue::Integer(seq)) = inserted.rows.first().and_then(|r| r.first()) else {
                return Err(ObjectError::InvalidValue(
                    "the event log gave no sequence number".into(),
                ));
            };
            let seq = *seq;
            // Trimmed every 64 events: the log holds at most 64 more than the cap.
            if seq % 64 == 0 {
                t.sql(
                    "DELETE FROM _keel_mcp_events WHERE seq <= ?1",
                    &[SqlValue::Integer(seq - MAX_EVENTS_PER_SESSION)],
                )?;
            }
            Ok(seq)
        })
        .await
}

/// The stored events of `stream` after `after`, in order.
async fn replay(
    host: &ObjectHost,
    session: &str,
    stream: &str,
    after: i64,
) -> Result<Vec<(i64, ServerSseMessage)>, ObjectError> {
    let object = events_object(host, session).await?;
    let rows = object
        .storage()
        .sql(
            "SELECT seq, data FROM _keel_mcp_events WHERE stream = ?1 AND seq > ?2 ORDER BY seq",
            vec![SqlValue::from(stream), SqlValue::Integer(after)],
        )
        .await?;
    let mut events = Vec::with_capacity(rows.rows.len());
    for row in rows.rows {
        let (Some(SqlValue::Integer(seq)), Some(SqlValue::Text(data))) = (row.first(), row.get(1))
        else {
            continue;
        };
        match serde_json::from_str::<ServerJsonRpcMessage>(data) {
            Ok(message) => events.push((
                *seq,
                ServerSseMessage::new(format!("{stream}.{seq}"), message),
            )),
            Err(error) => tracing::warn!(%error, seq, "a stored SSE event could not be read"),
        }
    }
    Ok(events)
}

impl DurableSessionManager {
    /// Ends a session that was never used in memory (its objects go next).
    pub async fn close_unused(&self, session: &str) {
        let _ = self.inner.close_session(&SessionId::from(session)).await;
    }
}

impl SessionManager for DurableSessionManager {
    type Error = SessionStreamError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        Ok(self.inner.create_session().await?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let request = match &message {
            ClientJsonRpcMessage::Request(request) => Some(request_key(id, &request.id)),
            _ => None,
        };
        if request.is_some() {
            self.unused.used(id);
        }
        let mut inner = Box::pin(self.inner.create_stream(id, message).await?);
        // The fast path: a handler that only answers (no notification or request first) and does so
        // quickly gets its answer as a lone event with no ID, which `single_event_as_json` turns
        // into a plain JSON response. Such an answer is not stored: a JSON response is not
        // resumable, so there is nothing to replay.
        let mut held = Vec::new();
        let first = tokio::time::timeout(ANSWER_FAST_PATH, async {
            loop {
                match inner.next().await {
                    Some(event) if event.message.is_none() => held.push(event),
                    other => return other,
                }
            }
        })
        .await;
        let first = match first {
            Ok(Some(mut event))
                if event.message.as_deref().is_some_and(|m| {
                    matches!(
                        m,
                        ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_)
                    )
                }) =>
            {
                event.event_id = None;
                event.retry = None;
                if let Some(key) = &request {
                    lock_closing().remove(key);
                }
                return Ok(futures::stream::iter([event]).left_stream());
            }
            Ok(first) => first,
            // Nothing yet: a stream it is.
            Err(_elapsed) => None,
        };
        let stream = ObjectId::unique().to_hex()[..16].to_string();
        let rest = futures::stream::iter(held.into_iter().chain(first)).chain(inner);
        Ok(self.pump(id.clone(), stream, request, rest).right_stream())
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.unused.used(id);
        // A new GET takes the session's stream over from the previous one.
        let stream = match self.live_stream(id, COMMON_STREAM) {
            Some(live) => self
                .reattach(id, COMMON_STREAM, i64::MAX, &live)
                .await?
                .left_stream(),
            None => {
                let inner = self.inner.create_standalone_stream(id).await?;
                self.pump(id.clone(), COMMON_STREAM.to_string(), None, inner)
                    .right_stream()
            }
        };
        Ok(Box::pin(stream) as EventStream)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let (stream, after) = parse_event_id(&last_event_id)?;
        if let Some(live) = self.live_stream(id, &stream) {
            return Ok(Box::pin(self.reattach(id, &stream, after, &live).await?) as EventStream);
        }
        let events = replay(&self.host, id, &stream, after).await?;
        let replayed = futures::stream::iter(events.into_iter().map(|(_, e)| e));
        if stream == COMMON_STREAM {
            // The GET stream goes on after the replay.
            let inner = self.inner.create_standalone_stream(id).await?;
            let live = self.pump(id.clone(), stream, None, inner);
            return Ok(Box::pin(replayed.chain(live)) as EventStream);
        }
        Ok(Box::pin(replayed) as EventStream)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(self.inner.restore_session(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stream_and_sequence() {
        assert_eq!(parse_event_id("ab12.7").unwrap(), ("ab12".to_string(), 7));
        assert_eq!(parse_event_id("c.0").unwrap(), ("c".to_string(), 0));
        for bad in ["", "7", "ab.", ".3", "a-b.1", "ab.-1", "ab.x", "0/1"] {
            assert!(
                matches!(parse_event_id(bad), Err(SessionStreamError::BadEventId(_))),
                "{bad:?} was accepted"
            );
        }
        assert_eq!(sequence_of("ab.12"), Some(12));
    }
}
