//! Sessions that were opened and never used. Most clients that never come back never say so
//! either (no DELETE), and every `initialize` makes a session object: 50 of them left 51 objects
//! on disk for ever. A session waits here from its handshake to its first request; one still
//! waiting after `ttl`, or pushed out by [`MAX_WAITING`] newer ones, is closed and its objects
//! deleted. Kept in memory, so the handshake and the first request cost no extra write: a session
//! opened just before a restart and never used is left for the expiry of idle sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel_objects::ObjectHost;

/// How long a session may go unused after its `initialize` before it is deleted, by default.
pub const UNUSED_SESSION_TTL: Duration = Duration::from_secs(600);

/// Most sessions waiting for their first request; past it the oldest goes at once.
pub const MAX_WAITING: usize = 100_000;

/// The sessions waiting for their first request.
pub struct UnusedSessions {
    ttl: Duration,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// Session -> when its handshake was stored.
    since: HashMap<String, Instant>,
    /// The same sessions, oldest first (entries of sessions since used are skipped).
    order: VecDeque<(Instant, String)>,
}

impl UnusedSessions {
    /// A list whose sessions go after `ttl` unused.
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            ttl,
            waiting: Mutex::default(),
        })
    }

    /// How long a session may wait.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A session's handshake was stored: it waits for its first request.
    pub fn created(&self, session: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        // Sessions used since leave the front of the queue now, not at their TTL: the queue
        // stays about as long as the list of those still waiting.
        while let Some((at, front)) = waiting.order.front()
            && waiting.since.get(front) != Some(at)
        {
            waiting.order.pop_front();
        }
        let now = Instant::now();
        waiting.since.insert(session.to_string(), now);
        waiting.order.push_back((now, session.to_string()));
    }

    /// A session made a request: it no longer waits. Cheap when it is not waiting.
    pub fn used(&self, session: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if !waiting.since.is_empty() {
            waiting.since.remove(session);
        }
    }

    /// The sessions to delete now: waited past the TTL, or beyond [`MAX_WAITING`].
    pub fn expired(&self, now: Instant) -> Vec<String> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        while let Some((at, session)) = waiting.order.front().cloned() {
            let over = waiting.since.len() > MAX_WAITING;
            if !over && now.duration_since(at) < self.ttl {
                break;
            }
            waiting.order.pop_front();
            // Still waiting, and since this very handshake (not a used session's old entry).
            if waiting.since.get(&session) == Some(&at) {
                waiting.since.remove(&session);
                out.push(session);
            }
        }
        out
    }
}

/// Deletes the sessions that waited too long, every few seconds, until `host` is gone; `close`
/// ends a session's life in memory first, so it is not served after its objects are deleted.
pub fn sweep<F, Fut>(unused: Arc<UnusedSessions>, host: std::sync::Weak<ObjectHost>, close: F)
where
    F: Fn(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let every = (unused.ttl() / 4).clamp(Duration::from_millis(100), Duration::from_secs(15));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(host) = host.upgrade() else {
                return;
            };
            for session in unused.expired(Instant::now()) {
                close(session.clone()).await;
                if let Err(error) = crate::sessions::delete(&host, &session).await {
                    tracing::warn!(%error, "an unused session could not be deleted");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_waits_until_used_or_expired() {
        let unused = UnusedSessions::new(Duration::from_secs(10));
        let start = Instant::now();
        unused.created("a");
        unused.created("b");
        unused.used("a");
        assert!(unused.expired(start).is_empty());
        assert_eq!(unused.expired(start + Duration::from_secs(11)), ["b"]);
        assert!(unused.expired(start + Duration::from_secs(20)).is_empty());
    }

    #[test]
    fn past_the_cap_the_oldest_goes_at_once() {
        let unused = UnusedSessions::new(Duration::from_secs(3600));
        for i in 0..MAX_WAITING + 3 {
            unused.created(&i.to_string());
        }
        assert_eq!(unused.expired(Instant::now()), ["0", "1", "2"]);
    }
}
