//! Errors of the browser crate. Every message says what happened and what to do.

/// What went wrong driving the browser.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium binary.
    #[error("{0}")]
    NotFound(String),
    /// Chromium could not be started, or a remote browser not reached.
    #[error("the browser could not be started or reached: {0}")]
    Launch(String),
    /// The browser process went away (crashed or was killed); the next call starts a new one.
    #[error(
        "the browser closed the connection (it crashed or was killed); try again: a new browser is started"
    )]
    Disconnected,
    /// A protocol call or a wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The browser answered a call with an error.
    #[error("the browser refused: {0}")]
    Cdp(String),
    /// A message that could not be read or written.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The URL policy refused a URL.
    #[error("{0}")]
    Refused(String),
    /// A limit (contexts, tabs, snapshot size) was hit.
    #[error("{0}")]
    Limit(String),
    /// What the caller asked for cannot be done as asked (a stale ref, a missing element, …).
    #[error("{0}")]
    Invalid(String),
    /// The page opened a dialog while a call to it ran, and waits in it: the call's answer comes
    /// only after the dialog is answered. Actions report it as their result.
    #[error("{0}")]
    DialogOpened(String),
}

impl BrowserError {
    /// True when a dialog the page opened interrupted the call (see [`BrowserError::DialogOpened`]).
    pub fn is_dialog(&self) -> bool {
        matches!(self, Self::DialogOpened(_))
    }
}
