//! `keel-browser`: real Chromium that agents can read and operate. A plain Rust API first
//! ([`BrowserPool`] → [`BrowsingContext`] → [`Tab`]), and the MCP tool pack second
//! ([`tools::BrowserPack`]).

pub mod cdp;
mod downloads;
mod error;
pub mod guard;
pub mod launch;
pub mod policy;
mod pool;
pub mod reading;
pub mod snapshot;
mod tab;
pub mod tools;

pub use error::BrowserError;
pub use pool::{BrowserConfig, BrowserPool, BrowsingContext, InUse, Note};
pub use tab::{ActionOutcome, ConsoleEntry, Dialog, NetworkEntry, Tab, Timeouts};
