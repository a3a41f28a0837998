//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (JSON messages separated
//! by NUL bytes, written to the browser's fd 3 and read from its fd 4) or, for a remote browser,
//! a WebSocket. One connection carries every target through flat sessions (`sessionId` on each
//! message).
//!
//! Why our own and not `chromiumoxide`: the pack needs about 25 protocol methods, and the typed
//! crate covers the whole protocol at 3–4 minutes of clean release build and 2.6 GB of compiler
//! memory on this machine; this file builds in seconds and keeps every call's timeout ours.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::BrowserError;

/// An event the browser sent: its method, params and the session it belongs to.
#[derive(Debug, Clone)]
pub struct CdpEvent {
    /// `Domain.event`.
    pub method: String,
    /// The event's parameters.
    pub params: Value,
    /// The flat session of the target it came from (`None`: the browser itself).
    pub session_id: Option<String>,
}

/// A call waiting for its answer, and where the events of the session it opens go (an attach
/// that routes them, see [`Connection::attach`]).
struct Waiting {
    reply: oneshot::Sender<Result<Value, BrowserError>>,
    route: Option<Route>,
}

/// Where a routed session's events go, and how many went there: every event that came before an
/// answer was sent on before the answer is handed over, so a listener that has taken in that many
/// has seen all of them (see [`Connection::attach`]).
#[derive(Clone)]
struct Route {
    to: mpsc::UnboundedSender<CdpEvent>,
    sent: Arc<AtomicU64>,
}

impl Route {
    fn send(&self, event: CdpEvent) -> Result<(), mpsc::error::SendError<CdpEvent>> {
        self.to.send(event)?;
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Largest message read from the browser. Answers carry screenshots, PDFs and response bodies
/// (base64); events carry what a page logs. Past this a message is skipped without being kept,
/// and a call it answered gets an error that says so.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// One NUL-terminated message from the pipe; `None` at its end. A message longer than
/// [`MAX_MESSAGE_BYTES`] is read past, keeping only its start, and comes back as an error answer
/// to the call it answered (the browser writes `{"id":N,` first), or an empty object (an event).
async fn read_message(
    reader: &mut BufReader<impl AsyncRead + Unpin>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut skipped = 0usize;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let end = available.iter().position(|&b| b == 0);
        let chunk = &available[..end.unwrap_or(available.len())];
        if skipped == 0 && message.len() + chunk.len() <= MAX_MESSAGE_BYTES {
            message.extend_from_slice(chunk);
        } else {
            if skipped == 0 {
                skipped = message.len();
                message.truncate(64);
                message.shrink_to_fit();
            }
            skipped += chunk.len();
        }
        let used = end.map_or(available.len(), |e| e + 1);
        reader.consume(used);
        if end.is_some() {
            break;
        }
    }
    if skipped == 0 {
        return Ok(Some(message));
    }
    tracing::warn!(
        bytes = skipped,
        "skipped a message from the browser larger than {MAX_MESSAGE_BYTES} bytes"
    );
    let head = String::from_utf8_lossy(&message);
    let id = head
        .strip_prefix("{\"id\":")
        .map(|rest| {
            rest.bytes()
                .take_while(u8::is_ascii_digit)
                .collect::<Vec<u8>>()
        })
        .and_then(|digits| String::from_utf8(digits).ok()?.parse::<u64>().ok());
    Ok(Some(match id {
        Some(id) => json!({"id": id, "error": {"code": -32000, "message": format!(
            "the browser's answer was {skipped} bytes, more than keel reads ({MAX_MESSAGE_BYTES} bytes)"
        )}})
        .to_string()
        .into_bytes(),
        None => b"{}".to_vec(),
    }))
}

type Pending = Arc<Mutex<HashMap<u64, Waiting>>>;

/// Sessions whose events go to one listener of their own instead of to every subscriber.
type Routes = Arc<Mutex<HashMap<String, Route>>>;

/// A connection to one browser process. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    events: broadcast::Sender<CdpEvent>,
    closed: Arc<tokio::sync::Notify>,
    is_closed: Arc<std::sync::atomic::AtomicBool>,
}

impl Connection {
    /// Speaks CDP over `writer` (the browser's fd 3) and `reader` (its fd 4).
    pub fn new(
        writer: impl AsyncWrite + Send + Unpin + 'static,
        reader: impl AsyncRead + Send + Unpin + 'static,
    ) -> Self {
        let outgoing =
            futures::sink::unfold(writer, |mut writer, mut message: Vec<u8>| async move {
                message.push(0);
                writer.write_all(&message).await?;
                writer.flush().await?;
                Ok::<_, std::io::Error>(writer)
            });
        let incoming = futures::stream::unfold(
            BufReader::with_capacity(1 << 16, reader),
            |mut reader| async move {
                read_message(&mut reader)
                    .await
                    .ok()
                    .flatten()
                    .map(|message| (message, reader))
            },
        );
        Self::over(outgoing, incoming)
    }

    /// Speaks CDP over a WebSocket (a browser started with `--remote-debugging-port`, or a
    /// browser service): `url` is its `ws://…/devtools/browser/…` address, or `wss://…` (TLS,
    /// verified against the system's roots).
    pub async fn websocket(url: &str, timeout: Duration) -> Result<Self, BrowserError> {
        let request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .map_err(|e| {
                    BrowserError::Invalid(format!("browser.ws {url:?} is not a WebSocket URL: {e}"))
                })?;
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let connector = match request.uri().scheme_str() {
            Some("wss") => Some(tokio_tungstenite::Connector::Rustls(tls_config(url)?)),
            _ => None,
        };
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            connector,
        );
        let (socket, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| {
                BrowserError::Launch(format!(
                    "the browser at {url} did not answer within {} s",
                    timeout.as_secs()
                ))
            })?
            .map_err(|e| {
                let hint = if is_tls_problem(&e) {
                    " (wss: the certificate is checked against the system's roots; SSL_CERT_FILE or SSL_CERT_DIR name others)"
                } else {
                    ""
                };
                BrowserError::Launch(format!("cannot connect to the browser at {url}: {e}{hint}"))
            })?;
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let (sink, stream) = socket.split();
        let outgoing = sink.with(|message: Vec<u8>| async move {
            String::from_utf8(message)
                .map(|text| Message::Text(text.into()))
                .map_err(|e| tokio_tungstenite::tungstenite::Error::Utf8(e.to_string()))
        });
        let incoming = stream
            .take_while(|message| futures::future::ready(matches!(message, Ok(m) if !m.is_close())))
            .filter_map(|message| async move {
                match message {
                    Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                    Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                    _ => None,
                }
            });
        Ok(Self::over(outgoing, incoming))
    }

    /// Speaks CDP over any transport of whole JSON messages.
    fn over<E>(
        outgoing: impl futures::Sink<Vec<u8>, Error = E> + Send + 'static,
        incoming: impl futures::Stream<Item = Vec<u8>> + Send + 'static,
    ) -> Self {
        use futures::{SinkExt, StreamExt};
        let (outbox, mut outbox_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let pending: Pending = Arc::default();
        let routes: Routes = Arc::default();
        // Events fan out to every tab's listener; a slow listener loses old events, never blocks.
        let (events, _) = broadcast::channel(4096);
        let closed = Arc::new(tokio::sync::Notify::new());
        let is_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connection = Self {
            outbox,
            pending: Arc::clone(&pending),
            next_id: Arc::new(AtomicU64::new(1)),
            events: events.clone(),
            closed: Arc::clone(&closed),
            is_closed: Arc::clone(&is_closed),
        };
        tokio::spawn(async move {
            let mut outgoing = std::pin::pin!(outgoing);
            while let Some(message) = outbox_rx.recv().await {
                if outgoing.send(message).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            let mut incoming = std::pin::pin!(incoming);
            while let Some(buffer) = incoming.next().await {
                let Ok(message) = serde_json::from_slice::<Value>(&buffer) else {
                    tracing::debug!("the browser sent a message that is not JSON");
                    continue;
                };
                dispatch(message, &pending, &routes, &events);
            }
            is_closed.store(true, Ordering::SeqCst);
            let waiting: Vec<_> = pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .collect();
            for (_, waiting) in waiting {
                let _ = waiting.reply.send(Err(BrowserError::Disconnected));
            }
            // Routed listeners see their stream end.
            routes.lock().unwrap_or_else(|p| p.into_inner()).clear();
            closed.notify_waiters();
        });
        connection
    }

    /// Sends `method` (to the target of `session`, or the browser) and waits up to `timeout`.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        self.call_routing(method, params, session, timeout, None)
            .await
    }

    /// Attaches to target `target_id` (a flat session) and routes that session's events, and
    /// those of the sessions it auto-attaches (its out-of-process frames), to the receiver
    /// returned: nobody else sees them, and they see nobody else's. The route is in place before
    /// the first event of the session is read, so none is missed; it ends when the session
    /// detaches (its `Target.detachedFromTarget` is the receiver's last event) or the connection
    /// closes. The counter returned counts the events sent to the receiver: once a call's answer
    /// is in, every event the browser sent before it is counted.
    pub async fn attach(
        &self,
        target_id: &str,
        timeout: Duration,
    ) -> Result<(String, mpsc::UnboundedReceiver<CdpEvent>, Arc<AtomicU64>), BrowserError> {
        let (to, events) = mpsc::unbounded_channel();
        let sent = Arc::new(AtomicU64::new(0));
        let route = Route {
            to,
            sent: Arc::clone(&sent),
        };
        let attached = self
            .call_routing(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
                None,
                timeout,
                Some(route),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("attachToTarget gave no sessionId".into()))?;
        Ok((session.to_string(), events, sent))
    }

    async fn call_routing(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
        timeout: Duration,
        route: Option<Route>,
    ) -> Result<Value, BrowserError> {
        if self.is_closed() {
            return Err(BrowserError::Disconnected);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (reply, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Waiting { reply, route });
        let bytes =
            serde_json::to_vec(&message).map_err(|e| BrowserError::Protocol(e.to_string()))?;
        if self.outbox.send(bytes).is_err() {
            self.forget(id);
            return Err(BrowserError::Disconnected);
        }
        let started = std::time::Instant::now();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => {
                tracing::debug!(
                    method,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "cdp call"
                );
                result
            }
            Ok(Err(_)) => Err(BrowserError::Disconnected),
            Err(_) => {
                self.forget(id);
                Err(BrowserError::Timeout(format!(
                    "{method} did not answer within {} ms",
                    timeout.as_millis()
                )))
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Every event from now on.
    pub fn events(&self) -> broadcast::Receiver<CdpEvent> {
        self.events.subscribe()
    }

    /// True once the browser's end of the pipe is gone.
    pub fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        let notified = self.closed.notified();
        if self.is_closed() {
            return;
        }
        notified.await;
    }
}

/// Hands a message on: an answer to its caller (putting in place the route an attach asked for),
/// an event of a routed session to that session's listener, any other event to every subscriber.
fn dispatch(
    message: Value,
    pending: &Pending,
    routes: &Routes,
    events: &broadcast::Sender<CdpEvent>,
) {
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        let waiting = pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        if let Some(Waiting { reply, route }) = waiting {
            let result = match message.get("error") {
                Some(error) => Err(BrowserError::Cdp(
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_string(),
                )),
                None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
            };
            if let (Ok(result), Some(route)) = (&result, route)
                && let Some(session) = result["sessionId"].as_str()
            {
                routes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(session.to_string(), route);
            }
            let _ = reply.send(result);
        }
        return;
    }
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    let event = CdpEvent {
        method: method.to_string(),
        params: message.get("params").cloned().unwrap_or(Value::Null),
        session_id: message
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let mut routes = routes.lock().unwrap_or_else(|p| p.into_inner());
    let route = event
        .session_id
        .as_ref()
        .and_then(|s| routes.get(s))
        .cloned();
    let named = event.params["sessionId"].as_str();
    match (method, named) {
        // A routed session's new frame session goes where it goes.
        ("Target.attachedToTarget", Some(child)) => {
            if let Some(route) = &route {
                routes.insert(child.to_string(), route.clone());
            }
        }
        // A session that detached: its route ends, and its listener hears of it last (the
        // browser tells of a page's own session on the browser's, where nobody routes it).
        ("Target.detachedFromTarget", Some(gone)) => {
            if let Some(own) = routes.remove(gone)
                && route.is_none()
            {
                let _ = own.send(event);
                return;
            }
        }
        _ => {}
    }
    match route {
        Some(route) => {
            if let Err(lost) = route.send(event) {
                // The listener is gone: its sessions' events go to everyone again.
                if let Some(session) = &lost.0.session_id {
                    routes.remove(session);
                }
            }
        }
        None => {
            drop(routes);
            let _ = events.send(event);
        }
    }
}

/// TLS for `wss:`: the system's root certificates, or those `SSL_CERT_FILE` / `SSL_CERT_DIR` name.
fn tls_config(url: &str) -> Result<Arc<rustls::ClientConfig>, BrowserError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(BrowserError::Launch(format!(
            "cannot connect to the browser at {url}: no trusted root certificates found ({}); install the ca-certificates package or name them with SSL_CERT_FILE",
            errors.join("; ")
        )));
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Whether a WebSocket connection failed in its TLS handshake (tokio-rustls reports rustls's
/// errors inside an I/O error).
fn is_tls_problem(error: &tokio_tungstenite::tungstenite::Error) -> bool {
    match error {
        tokio_tungstenite::tungstenite::Error::Tls(_) => true,
        tokio_tungstenite::tungstenite::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.is::<rustls::Error>()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events of an attached session (and of the frame sessions it attaches) reach its own
    /// listener and nobody else; everything else reaches every subscriber.
    #[test]
    fn a_routed_session_has_its_events_to_itself() {
        let pending: Pending = Arc::default();
        let routes: Routes = Arc::default();
        let (events, mut everyone) = broadcast::channel(16);
        let (to, mut own) = mpsc::unbounded_channel();
        let sent = Arc::new(AtomicU64::new(0));
        let route = Route {
            to,
            sent: Arc::clone(&sent),
        };
        let (reply, mut answer) = oneshot::channel();
        pending.lock().unwrap().insert(
            7,
            Waiting {
                reply,
                route: Some(route),
            },
        );
        let send = |message: Value| dispatch(message, &pending, &routes, &events);

        // The attach's answer puts the route in place before any event of the session.
        send(json!({"id": 7, "result": {"sessionId": "S"}}));
        assert_eq!(answer.try_recv().unwrap().unwrap()["sessionId"], "S");
        send(json!({"method": "Page.loadEventFired", "params": {}, "sessionId": "S"}));
        send(json!({"method": "Page.loadEventFired", "params": {}, "sessionId": "other"}));
        assert_eq!(own.try_recv().unwrap().method, "Page.loadEventFired");
        // Counted as sent on: the other session's event is not.
        assert_eq!(sent.load(Ordering::SeqCst), 1);
        assert_eq!(
            everyone.try_recv().unwrap().session_id.as_deref(),
            Some("other")
        );
        assert!(everyone.try_recv().is_err());

        // A frame the session attaches is routed with it, and leaves with its detach.
        send(
            json!({"method": "Target.attachedToTarget", "params": {"sessionId": "F"}, "sessionId": "S"}),
        );
        send(json!({"method": "Runtime.consoleAPICalled", "params": {}, "sessionId": "F"}));
        send(
            json!({"method": "Target.detachedFromTarget", "params": {"sessionId": "F"}, "sessionId": "S"}),
        );
        let got: Vec<String> = std::iter::from_fn(|| own.try_recv().ok())
            .map(|e| e.method)
            .collect();
        assert_eq!(
            got,
            [
                "Target.attachedToTarget",
                "Runtime.consoleAPICalled",
                "Target.detachedFromTarget"
            ]
        );
        send(json!({"method": "Runtime.consoleAPICalled", "params": {}, "sessionId": "F"}));
        assert!(own.try_recv().is_err());
        assert_eq!(
            everyone.try_recv().unwrap().session_id.as_deref(),
            Some("F")
        );

        // The page's own detach comes on the browser's session: it is the listener's last event.
        send(json!({"method": "Target.detachedFromTarget", "params": {"sessionId": "S"}}));
        assert_eq!(own.try_recv().unwrap().method, "Target.detachedFromTarget");
        assert!(everyone.try_recv().is_err());
        assert!(matches!(
            own.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[tokio::test]
    async fn a_message_past_the_limit_is_skipped_and_its_call_answered_with_an_error() {
        let mut pipe = Vec::new();
        pipe.extend_from_slice(br#"{"id":1,"result":{}}"#);
        pipe.push(0);
        pipe.extend_from_slice(br#"{"id":42,"result":{"data":""#);
        pipe.extend(std::iter::repeat_n(b'A', MAX_MESSAGE_BYTES));
        pipe.extend_from_slice(br#""}}"#);
        pipe.push(0);
        pipe.extend_from_slice(br#"{"method":"Runtime.consoleAPICalled","params":{"x":""#);
        pipe.extend(std::iter::repeat_n(b'B', MAX_MESSAGE_BYTES));
        pipe.extend_from_slice(br#""}}"#);
        pipe.push(0);
        pipe.extend_from_slice(br#"{"id":2,"result":{}}"#);
        pipe.push(0);
        let mut reader = BufReader::new(&pipe[..]);
        let mut messages = Vec::new();
        while let Some(m) = read_message(&mut reader).await.unwrap() {
            assert!(m.len() < 1000, "a message of {} bytes was kept", m.len());
            messages.push(serde_json::from_slice::<Value>(&m).unwrap());
        }
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[0]["id"], 1);
        assert_eq!(messages[1]["id"], 42);
        assert!(
            messages[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("more than keel reads")
        );
        assert_eq!(messages[2], json!({}));
        assert_eq!(messages[3]["id"], 2);
    }
}
