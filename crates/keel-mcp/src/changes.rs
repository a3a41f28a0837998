//! Change notifications. A pack says what changed ([`ToolContext::announce`](crate::ToolContext::announce))
//! and for whom; every client that listens and may see it is told: over its session (handshake
//! protocol; resource updates only for URIs it subscribed to) or over its `subscriptions/listen`
//! stream (2026-07-28; what its filter accepts).

use std::sync::Arc;
use std::time::Duration;

use keel_objects::ObjectHost;
use rmcp::model::{
    PromptListChangedNotification, ResourceListChangedNotification, ResourceUpdatedNotification,
    ResourceUpdatedNotificationParam, ServerNotification, ToolListChangedNotification,
};
use rmcp::service::{Peer, RoleServer, SubscriptionContext};
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The list of resources (`notifications/resources/list_changed`).
    ResourceList,
    /// A resource's content (`notifications/resources/updated`).
    Resource(String),
    /// The list of prompts.
    PromptList,
    /// The list of tools.
    ToolList,
}

/// Who may be told of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every client (a change to something shared).
    Everyone,
    /// The clients of one session (a change to the session's own object).
    Session(String),
}

/// Most changes kept for a listener that falls behind; past that it misses the oldest (a
/// notification is a hint to read again, so a missed one costs a stale view, not lost data).
const BACKLOG: usize = 256;

/// Where changes are announced and listened for, one per server.
#[derive(Debug)]
pub(crate) struct ChangeHub {
    sender: broadcast::Sender<Arc<(Change, Audience)>>,
}

impl ChangeHub {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
        }
    }

    pub(crate) fn announce(&self, change: Change, audience: Audience) {
        // No listener is not an error.
        let _ = self.sender.send(Arc::new((change, audience)));
    }

    /// Tells the session `session` of changes meant for it, over `peer`, until its connection ends.
    pub(crate) fn forward_to_session(
        self: &Arc<Self>,
        host: Arc<ObjectHost>,
        session: String,
        peer: Peer<RoleServer>,
    ) {
        let mut changes = self.sender.subscribe();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    next = changes.recv() => next,
                    () = tokio::time::sleep(Duration::from_secs(30)) => {
                        if peer.is_transport_closed() {
                            return;
                        }
                        continue;
                    }
                };
                let item = match next {
                    Ok(item) => item,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let (change, audience) = item.as_ref();
                if let Audience::Session(id) = audience
                    && *id != session
                {
                    continue;
                }
                if let Change::Resource(uri) = change {
                    let key = format!("subscription:{uri}");
                    let on = crate::sessions::value(&host, &session, &key).await;
                    if !matches!(on, Ok(Some(v)) if v == "on") {
                        continue;
                    }
                }
                if peer.send_notification(notification(change)).await.is_err() {
                    return;
                }
            }
        });
    }

    /// Serves one `subscriptions/listen` stream until the client cancels it.
    pub(crate) async fn listen(&self, subscription: SubscriptionContext) {
        let mut changes = self.sender.subscribe();
        loop {
            let next = tokio::select! {
                next = changes.recv() => next,
                () = subscription.cancelled() => return,
            };
            let item = match next {
                Ok(item) => item,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let (change, audience) = item.as_ref();
            // A stateless stream belongs to no session: it hears only what everyone may.
            if *audience != Audience::Everyone {
                continue;
            }
            // What the filter does not accept is refused by the sink; that is not an error here.
            let _ = subscription.sink().send(notification(change)).await;
        }
    }
}

fn notification(change: &Change) -> ServerNotification {
    match change {
        Change::ResourceList => {
            ServerNotification::ResourceListChangedNotification(ResourceListChangedNotification {
                method: Default::default(),
                extensions: Default::default(),
            })
        }
        Change::Resource(uri) => ServerNotification::ResourceUpdatedNotification(
            ResourceUpdatedNotification::new(ResourceUpdatedNotificationParam::new(uri.clone())),
        ),
        Change::PromptList => {
            ServerNotification::PromptListChangedNotification(PromptListChangedNotification {
                method: Default::default(),
                extensions: Default::default(),
            })
        }
        Change::ToolList => {
            ServerNotification::ToolListChangedNotification(ToolListChangedNotification {
                method: Default::default(),
                extensions: Default::default(),
            })
        }
    }
}
