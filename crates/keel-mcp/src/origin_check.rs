//! DNS-rebinding protection for keel's own routes (the legacy transport, `/healthz`, `/metrics`),
//! matching what rmcp checks on `/mcp`: the `Host` must be an allowed host and a browser's `Origin`
//! an allowed origin.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use crate::server::McpConfig;

/// The hosts and origins a server accepts (`McpConfig::allowed_hosts`, `allowed_origins`).
#[derive(Debug, Clone)]
pub struct OriginCheck {
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
}

impl OriginCheck {
    /// The check `config` asks for.
    pub fn new(config: &McpConfig) -> Self {
        Self {
            allowed_hosts: config.allowed_hosts.clone(),
            allowed_origins: config.allowed_origins.clone(),
        }
    }

    /// `Ok` when the request's `Host` and `Origin` are allowed; else a 403 that names which.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Response> {
        check_origin(self, headers)
    }

    /// The check as a middleware.
    pub async fn middleware(self, request: Request, next: Next) -> Response {
        match self.check(request.headers()) {
            Ok(()) => next.run(request).await,
            Err(refused) => refused,
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}

/// DNS-rebinding protection, as on `/mcp`: the `Host` must be an allowed host and a browser's
/// `Origin` an allowed origin.
#[allow(clippy::result_large_err)]
fn check_origin(state: &OriginCheck, headers: &HeaderMap) -> Result<(), Response> {
    if !state.allowed_hosts.is_empty() && !state.allowed_hosts.iter().any(|h| h == "*") {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(host_name)
            .unwrap_or_default();
        if !state
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
        {
            return Err(plain(
                StatusCode::FORBIDDEN,
                &format!("Host {host:?} is not allowed (allowed_hosts)"),
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !state.allowed_origins.is_empty()
        && !state
            .allowed_origins
            .iter()
            .any(|pattern| origin_matches(pattern, origin))
    {
        return Err(plain(
            StatusCode::FORBIDDEN,
            &format!("Origin {origin:?} is not allowed (allowed_origins)"),
        ));
    }
    Ok(())
}

/// `host[:port]` or `[v6]:port` -> the host name (IPv6 without brackets).
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// `pattern` is `*`, an exact origin, or `scheme://host:*` for any port.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" || pattern.eq_ignore_ascii_case(origin) {
        return true;
    }
    let Some(prefix) = pattern.strip_suffix(":*") else {
        return false;
    };
    let Some(port) = origin
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .and_then(|_| origin[prefix.len()..].strip_prefix(':'))
    else {
        return origin.eq_ignore_ascii_case(prefix);
    };
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_hosts_match_as_on_mcp() {
        assert!(origin_matches(
            "http://localhost:*",
            "http://localhost:5173"
        ));
        assert!(origin_matches("http://localhost:*", "http://localhost"));
        assert!(!origin_matches(
            "http://localhost:*",
            "http://localhost.evil.com:80"
        ));
        assert!(!origin_matches(
            "http://localhost:*",
            "http://localhost:80x"
        ));
        assert!(origin_matches("https://app.example", "https://app.example"));
        assert_eq!(host_name("127.0.0.1:8787"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8787"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
    }
}
