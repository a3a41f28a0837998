//! The MCP server: an rmcp `ServerHandler` over keel's packs, and the Streamable HTTP service that
//! serves both protocol generations on one endpoint.

use std::sync::Arc;

use keel_objects::ObjectHost;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};

use crate::state_pack;

/// Settings of the MCP endpoint.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// `Host` header values accepted (DNS-rebinding protection); empty disables the check.
    pub allowed_hosts: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            max_body_bytes: 4 << 20,
        }
    }
}

/// Keel's MCP server. Cheap to clone: rmcp builds one per session and per stateless request, and
/// all of them share the object host, where the state lives.
#[derive(Clone)]
pub struct KeelMcp {
    host: Arc<ObjectHost>,
    tools: Arc<Vec<Tool>>,
}

impl KeelMcp {
    /// A server whose packs keep their state in `host`.
    pub fn new(host: Arc<ObjectHost>) -> Self {
        Self {
            host,
            tools: Arc::new(state_pack::tools()),
        }
    }
}

impl ServerHandler for KeelMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("keel", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Keel keeps state in durable objects. The state tools act on this session's object, or on a shared object named by `object`.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !state_pack::TOOLS.contains(&request.name.as_ref()) {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}: tools/list shows the tools there are",
                    request.name
                ),
                None,
            ));
        }
        let result = state_pack::call(
            &self.host,
            &request.name,
            request.arguments.as_ref(),
            &context,
        )
        .await;
        Ok(result.into())
    }
}

/// Ends the MCP endpoint's open streams and sessions, so that a graceful shutdown does not wait on them.
#[derive(Clone, Debug)]
pub struct McpShutdown(tokio_util::sync::CancellationToken);

impl McpShutdown {
    /// Closes every open stream and session; new requests are refused.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

/// The Streamable HTTP service for `/mcp`: the handshake protocol with sessions and the stateless
/// 2026-07-28 protocol on the same endpoint.
pub fn http_service(
    host: Arc<ObjectHost>,
    config: &McpConfig,
) -> Result<
    (
        StreamableHttpService<KeelMcp, LocalSessionManager>,
        McpShutdown,
    ),
    keel_objects::ObjectError,
> {
    crate::sessions::register_kinds(&host)?;
    let server = KeelMcp::new(Arc::clone(&host));
    let token = tokio_util::sync::CancellationToken::new();
    let mut http = StreamableHttpServerConfig::default()
        .with_cancellation_token(token.clone())
        .with_max_request_body_bytes(config.max_body_bytes)
        // Stateless requests whose handler only answers get a plain JSON body, not an SSE stream.
        .with_json_response(true)
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)));
    http = if config.allowed_hosts.is_empty() {
        http.disable_allowed_hosts()
    } else {
        http.with_allowed_hosts(config.allowed_hosts.clone())
    };
    http.session_store = Some(Arc::new(crate::sessions::ObjectSessionStore::new(host)));
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        http,
    );
    Ok((service, McpShutdown(token)))
}
