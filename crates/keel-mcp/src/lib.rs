//! Keel's MCP server core on rmcp: both protocol generations on one Streamable HTTP endpoint, tool
//! packs whose state lives in durable objects (`keel-objects`). A handshake session is an object;
//! a stateless (2026-07-28) request names its object with an `object` argument that is also sent
//! as an HTTP header, so a load balancer can route by it.

pub mod changes;
pub mod context;
pub mod event_log;
pub mod handles;
pub mod json_answer;
mod legacy_sse;
pub mod origin_check;
pub mod pack;
pub mod request_budget;
mod request_state;
mod server;
pub mod sessions;
pub mod state_pack;
pub mod target;
pub mod tasks;
pub mod tool;
pub mod tool_error;
pub mod unused_sessions;
pub mod validation;

pub use changes::{Audience, Change};
pub use context::{ToolContext, ToolFuture};
pub use pack::{Offers, Pack, Packs};
pub use tool::{IntoToolAnswer, NoArguments, Structured, ToolDef, ToolHandler};
pub use tool_error::ToolError;
// What a pack's argument and answer types derive (`#[derive(JsonSchema)]`).
pub use schemars;
pub use server::{KeelMcp, McpConfig, McpEndpoints, McpShutdown, http_service, serve_stdio};
pub use tasks::TaskSupport;
