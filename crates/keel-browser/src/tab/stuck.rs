//! Pages that stop answering. A script that never yields (`while (true) {}`) holds the page's main
//! thread, so every call to the page would wait out its whole time limit; dialogs without end
//! (`while (true) alert()`) open the next one as soon as one is answered, and the page never
//! commits a navigation. A tab notes that it is stuck (a call to the page timed out, or a load
//! went on and the page did not answer a probe); later calls check once more at once instead of
//! waiting out their limit, and leaving the page ends the stuck script first. Out of dialogs
//! without end only a new tab leads.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Tab;
use crate::error::BrowserError;

/// How long a page has to answer a probe.
pub(super) const PROBE_WAIT: Duration = Duration::from_secs(2);
/// How long a load may go on before the page is probed (and again after each such period).
pub(super) const PROBE_AFTER: Duration = Duration::from_secs(3);
/// How long after a dialog was answered a new one counts as the page opening them without end.
const STORM_WINDOW: Duration = Duration::from_millis(250);

impl Tab {
    /// Whether the page's main thread answers a trivial call within `wait`.
    pub(super) async fn answers(&self, wait: Duration) -> bool {
        let probe = self
            .conn
            .call(
                "Runtime.evaluate",
                json!({"expression": "0", "returnByValue": true}),
                Some(&self.session_id),
                wait,
            )
            .await;
        !matches!(probe, Err(BrowserError::Timeout(_)))
    }

    /// Notes that the page stopped answering (the first time is kept: it says for how long).
    pub(super) fn mark_stuck(&self) {
        self.lock().stuck_since.get_or_insert_with(Instant::now);
    }

    /// Since when the page has not answered, if it is known to be stuck.
    pub fn stuck_since(&self) -> Option<Instant> {
        self.lock().stuck_since
    }

    /// A call to the page (`session`: the page's or one of its frames') that fails at once while
    /// the page is known to be stuck and still does not answer, and that notes a timeout as the
    /// page being stuck.
    pub(super) async fn page_call(
        &self,
        session: &str,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        if let Some(since) = self.stuck_since() {
            if !self.answers(PROBE_WAIT).await {
                return Err(not_responding(since));
            }
            self.lock().stuck_since = None;
        }
        // A dialog the call makes the page open (an alert in a focus handler, in the function
        // browser_evaluate runs) holds the call's answer until the dialog is answered: the call
        // ends when it opens, so the dialog can be answered.
        let opened = self.lock().dialogs_opened;
        let call = self.conn.call(method, params, Some(session), timeout);
        let result = tokio::select! {
            result = call => result,
            dialog = self.dialog_opened_after(opened) => {
                return Err(BrowserError::DialogOpened(format!(
                    "{} opened ({:?}): answer it with browser_handle_dialog",
                    dialog.described(),
                    dialog.message
                )));
            }
        };
        match result {
            Err(BrowserError::Timeout(what)) if self.dialog().is_some() => {
                // Not stuck: waiting for the dialog's answer.
                Err(BrowserError::Timeout(what))
            }
            Err(BrowserError::Timeout(what)) => {
                self.mark_stuck();
                Err(BrowserError::Timeout(format!(
                    "{what}; the page may be stuck: navigate elsewhere (browser_navigate, which ends a stuck script) or close the tab (browser_tabs)"
                )))
            }
            other => other,
        }
    }

    /// Gets the page ready to be left: an open dialog is dismissed (a "leave this page?" one
    /// accepted) and a script that keeps the page busy is ended. False when the page opened
    /// another dialog at once (dialogs without end): then only closing the tab gets out.
    pub async fn unstick(&self) -> Result<bool, BrowserError> {
        if let Some(dialog) = self.dialog() {
            let opened = self.lock().dialogs_opened;
            // "Leave this page?" is answered yes: leaving is what the navigation asks for.
            let leave = dialog.kind == "beforeunload";
            self.conn
                .call(
                    "Page.handleJavaScriptDialog",
                    json!({"accept": leave}),
                    Some(&self.session_id),
                    self.timeouts.action,
                )
                .await?;
            if self
                .wait_until(STORM_WINDOW, |s| s.dialogs_opened > opened)
                .await
            {
                return Ok(false);
            }
        }
        if self.stuck_since().is_some() {
            // An interrupt: it reaches a script that never yields.
            let _ = self
                .conn
                .call(
                    "Runtime.terminateExecution",
                    json!({}),
                    Some(&self.session_id),
                    PROBE_WAIT,
                )
                .await;
            self.lock().stuck_since = None;
        }
        Ok(true)
    }
}

/// The error for a call to a page that does not answer.
pub(super) fn not_responding(since: Instant) -> BrowserError {
    BrowserError::Invalid(format!(
        "the page is not responding: a script has kept it busy for {} s; navigate elsewhere (browser_navigate, which ends the script) or close the tab (browser_tabs)",
        since.elapsed().as_secs().max(1)
    ))
}

/// The error for leaving a page that opens dialogs without end, where that needs its history.
pub(super) fn dialogs_without_end() -> BrowserError {
    BrowserError::Invalid(
        "the page opens dialogs without end: navigate elsewhere with browser_navigate (the tab is replaced) or close the tab (browser_tabs)".into(),
    )
}
