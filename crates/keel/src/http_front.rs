//! The HTTP front: accepts connections and serves the app on each, with the bounds axum's own
//! `serve` lacks. A connection must send a request's headers within `header_timeout` (which is
//! also how long an idle keep-alive connection stays open: hyper starts the same timer while it
//! waits for the next request), and at most `max_connections` are open at once; past it a new
//! connection gets a 503 and is closed. Bodies have their own size and time limits
//! (`keel_mcp::request_budget`). A long answer (an SSE stream) is not cut: the timer runs only
//! while a request's head is awaited.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Bounds of the HTTP front.
#[derive(Debug, Clone, Copy)]
pub struct FrontLimits {
    /// A request's headers must arrive within this; an idle connection is closed after it.
    pub header_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for FrontLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// What a connection past the cap gets before it is closed.
fn too_many_connections() -> Vec<u8> {
    let body = "too many connections are open (max_connections); retry shortly\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets each
/// connection finish the request it is on, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: FrontLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused: u64 = 0;
    // Every connection holds a receiver; the sender's `closed()` resolves when all are gone.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Streamed (SSE) responses are written in several small pieces: without TCP_NODELAY,
        // Nagle's algorithm and delayed ACKs hold each response for ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refused += 1;
            // The 1st, 2nd, 4th, 8th… refusal: a flood of connections is not a flood of logs.
            if refused.is_power_of_two() {
                tracing::warn!(%remote, refused, max = limits.max_connections, "connections refused: max_connections reached");
            }
            tokio::spawn(async move {
                let mut tcp = tcp;
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tcp.write_all(&too_many_connections()),
                )
                .await;
            });
            continue;
        };
        // Each request carries its peer's address (`ConnectInfo`), as axum's own serve gives it.
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<_>| {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(remote));
            tower_service::Service::call(&mut app.clone(), request)
        });
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = stop.wait_for(|stop| *stop) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    stop_tx.closed().await;
    Ok(())
}
