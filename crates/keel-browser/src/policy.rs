//! The URL policy: pages may reach http and https only, and no loopback, private, link-local or
//! cloud-metadata address unless `browser.allow` names it. It is enforced on every request a page
//! makes by an HTTP proxy that Chromium must use for everything (loopback included): the proxy
//! resolves the host itself, checks every address, and connects to the address it checked, so DNS
//! rebinding cannot slip a private address past the check.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::BrowserError;

/// How many refused requests are remembered for tool results.
const REFUSED_KEPT: usize = 256;
/// Largest request head the proxy reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One `browser.allow` entry: a host name or a network, on any port or on one.
#[derive(Debug, Clone)]
struct AllowRule {
    target: AllowTarget,
    port: Option<u16>,
}

#[derive(Debug, Clone)]
enum AllowTarget {
    Host(String),
    Net(IpAddr, u8),
}

/// Which URLs and addresses pages may reach.
#[derive(Debug, Default)]
pub struct UrlPolicy {
    allow: Vec<AllowRule>,
}

/// The requests one proxy refused (the last few hundred), for tool results.
#[derive(Debug, Default)]
pub struct RefusalLog {
    refused: Mutex<VecDeque<String>>,
    total: std::sync::atomic::AtomicUsize,
    /// Every request the proxy did not carry (refused, or its host unreachable) and why, newest
    /// last: the browser only sees a refusal page or a failed tunnel.
    failed: Mutex<VecDeque<(String, String)>>,
    failed_total: std::sync::atomic::AtomicUsize,
}

/// `url` with a scheme if it is a bare host and path as agents write them (`example.com/a`,
/// `localhost:3000`): http for loopback hosts, https for others, as Playwright MCP does. Anything
/// else (a URL, text that is no host) comes back as it is, for the policy to judge.
pub fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") || url.is_empty() || url.contains(char::is_whitespace) {
        return url.to_string();
    }
    let authority = &url[..url.find(['/', '?', '#']).unwrap_or(url.len())];
    let host = match authority.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        // `mailto:x`, `javascript:…`: a scheme of its own, not a port.
        Some(_) if !authority.starts_with('[') => return url.to_string(),
        _ => authority,
    };
    let host = host.to_ascii_lowercase();
    let loopback = host == "localhost"
        || host == "[::1]"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        format!("http://{url}")
    } else if host.contains('.') && !host.starts_with('.') && !host.ends_with('.') {
        format!("https://{url}")
    } else {
        url.to_string()
    }
}

impl UrlPolicy {
    /// A policy that also allows the hosts, IPs and networks (`10.0.0.0/8`) in `allow`, each on
    /// any port or, written `host:port` (`127.0.0.1:8080`, `[::1]:8080`), on that port alone.
    pub fn new(allow: &[String]) -> Result<Self, BrowserError> {
        let mut rules = Vec::new();
        for entry in allow {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (entry, port) = split_allow_port(entry)?;
            let target = if let Some((ip, bits)) = entry.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| {
                    BrowserError::Invalid(format!(
                        "browser.allow: {entry:?} is not a network like 10.0.0.0/8"
                    ))
                })?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits: u8 = bits.parse().ok().filter(|b| *b <= max).ok_or_else(|| {
                    BrowserError::Invalid(format!(
                        "browser.allow: {entry:?} has a bad prefix length"
                    ))
                })?;
                AllowTarget::Net(ip, bits)
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                AllowTarget::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
            } else if entry.contains([':', '[', ']', '/', ' ']) {
                return Err(BrowserError::Invalid(format!(
                    "browser.allow: {entry:?} is not a host, an IP address or a network (write a port as host:port)"
                )));
            } else {
                AllowTarget::Host(entry.to_ascii_lowercase())
            };
            rules.push(AllowRule { target, port });
        }
        Ok(Self { allow: rules })
    }

    /// Whether an allow entry covers `host` (as the page named it) or `ip`, on `port`.
    fn allowed(&self, host: &str, ip: IpAddr, port: u16) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.allow.iter().any(|rule| {
            rule.port.is_none_or(|p| p == port)
                && match &rule.target {
                    AllowTarget::Host(h) => *h == host,
                    AllowTarget::Net(net, bits) => in_network(ip, *net, *bits),
                }
        })
    }

    /// Checks a URL before navigating to it: scheme and (for IP literals) address. Host names are
    /// checked again, after resolution, by the proxy.
    pub fn check_url(&self, url: &str) -> Result<url::Url, BrowserError> {
        let parsed = url::Url::parse(url).map_err(|e| {
            BrowserError::Invalid(format!(
                "{url:?} is not a URL ({e}): give an absolute http or https URL"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BrowserError::Refused(format!(
                "refused by the URL policy: {url} (only http and https URLs may be opened)"
            )));
        }
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default().unwrap_or(80);
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && let Err(reason) = self.check_address(host, ip, port)
        {
            return Err(BrowserError::Refused(format!(
                "refused by the URL policy: {url} ({reason})"
            )));
        }
        Ok(parsed)
    }

    /// Whether a page may connect to `ip` on `port` (reached through `host`); the reason when not.
    pub fn check_address(&self, host: &str, ip: IpAddr, port: u16) -> Result<(), String> {
        match restricted(ip) {
            None => Ok(()),
            Some(_) if self.allowed(host, ip, port) => Ok(()),
            Some(kind) => Err(format!(
                "{ip} is a {kind} address; add it to browser.allow to permit it (with :{port} for this port alone)"
            )),
        }
    }
}

/// A point in a session's logs of refused and failed requests: an action's report names what
/// came after it.
#[derive(Debug, Clone, Copy)]
pub struct LogMark {
    /// [`RefusalLog::count`] then.
    pub refused: usize,
    /// [`RefusalLog::failure_count`] then.
    pub failed: usize,
}

impl RefusalLog {
    /// The logs' point now.
    pub fn mark(&self) -> LogMark {
        LogMark {
            refused: self.count(),
            failed: self.failure_count(),
        }
    }

    pub(crate) fn record(&self, what: String) {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() == REFUSED_KEPT {
            refused.pop_front();
        }
        refused.push_back(what);
        self.total.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn record_failure(&self, shown: &str, reason: &str) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.len() == REFUSED_KEPT {
            failed.pop_front();
        }
        failed.push_back((shown.to_string(), reason.to_string()));
        self.failed_total
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many requests the proxy did not carry so far (a mark for [`RefusalLog::failure_for`]).
    pub fn failure_count(&self) -> usize {
        self.failed_total.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Why the proxy, after `mark`, last failed to carry a request for `url` (an https URL: for
    /// its origin, all a tunnel shows), if it did.
    pub fn failure_for(&self, url: &str, mark: usize) -> Option<String> {
        let wanted = url::Url::parse(url).ok()?;
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        let new = self.failure_count().saturating_sub(mark).min(failed.len());
        failed.iter().rev().take(new).find_map(|(shown, reason)| {
            let shown = url::Url::parse(shown).ok()?;
            let same_origin = shown.scheme() == wanted.scheme()
                && shown.host_str() == wanted.host_str()
                && shown.port_or_known_default() == wanted.port_or_known_default();
            let same = same_origin && (wanted.scheme() == "https" || shown == wanted);
            same.then(|| reason.clone())
        })
    }

    /// How many requests were refused so far (a mark for [`RefusalLog::since`]).
    pub fn count(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The URLs refused after `mark` was taken (the last few hundred at most).
    pub fn since(&self, mark: usize) -> Vec<String> {
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        let new = self.count().saturating_sub(mark).min(refused.len());
        refused.iter().skip(refused.len() - new).cloned().collect()
    }
}

/// `host:port` or `[v6]:port` -> the host and the port; anything else as it is, on any port.
fn split_allow_port(entry: &str) -> Result<(&str, Option<u16>), BrowserError> {
    let split = if let Some(rest) = entry.strip_prefix('[') {
        rest.split_once("]:")
    } else if entry.matches(':').count() == 1 {
        entry.split_once(':')
    } else {
        None
    };
    match split {
        None => Ok((entry, None)),
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) if port > 0 && !host.is_empty() => Ok((host, Some(port))),
            _ => Err(BrowserError::Invalid(format!(
                "browser.allow: {entry:?} has a bad port (write host:port, e.g. 127.0.0.1:8080)"
            ))),
        },
    }
}

/// Why an address is off limits by default, if it is.
fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return restricted_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("reserved")
            } else if s[..6] == [0; 6] {
                // ::/96, IPv4-compatible (deprecated): the address is the IPv4 one.
                restricted_v4(embedded(s[6], s[7])).or(Some("reserved (IPv4-compatible)"))
            } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // 64:ff9b::/96, NAT64: a gateway reaches the IPv4 address inside.
                restricted_v4(embedded(s[6], s[7]))
            } else if s[0] == 0x2002 {
                // 2002::/16, 6to4: a relay reaches the IPv4 address inside.
                restricted_v4(embedded(s[1], s[2]))
            } else if (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x2001 && s[1] == 0xdb8)
                || (s[0] == 0x100 && s[1..4] == [0; 3])
            {
                // Local NAT64 (64:ff9b:1::/48), Teredo (2001::/32, a tunnel to an address it
                // hides), documentation (2001:db8::/32), discard-only (100::/64).
                Some("reserved")
            } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
                // fc00::/7, which holds fd00:ec2::254, a cloud metadata address; fec0::/10, the
                // old site-local range.
                Some("private")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_link_local() {
        // 169.254.0.0/16 holds 169.254.169.254, the cloud metadata service.
        Some("link-local (cloud metadata)")
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || ip.is_documentation()
        || (a == 192 && b == 88 && ip.octets()[2] == 99)
    {
        // Also 192.0.0.0/24 (protocol assignments), 198.18.0.0/15 (benchmarking), the
        // documentation ranges and 192.88.99.0/24 (6to4 relays).
        Some("reserved")
    } else {
        None
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V4(_)) => ip
            .to_ipv4_mapped()
            .is_some_and(|v4| in_network(IpAddr::V4(v4), net, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// A proxy Chromium sends every request of a browser context through.
pub struct PolicyProxy {
    /// Where it listens (loopback, an ephemeral port).
    pub addr: SocketAddr,
    /// What it refused.
    pub log: Arc<RefusalLog>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PolicyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PolicyProxy {
    /// Starts the proxy for `policy`.
    pub async fn start(policy: Arc<UrlPolicy>) -> Result<Self, BrowserError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| BrowserError::Launch(format!("cannot start the URL-policy proxy: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| BrowserError::Launch(e.to_string()))?;
        let log = Arc::new(RefusalLog::default());
        let task_log = Arc::clone(&log);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let policy = Arc::clone(&policy);
                let log = Arc::clone(&task_log);
                tokio::spawn(async move {
                    if let Err(error) = serve(client, &policy, &log).await {
                        tracing::debug!(%error, "proxy connection ended");
                    }
                });
            }
        });
        Ok(Self { addr, log, task })
    }
}

async fn serve(mut client: TcpStream, policy: &UrlPolicy, log: &RefusalLog) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(2048);
    let mut buf = [0u8; 8192];
    let end = loop {
        let n = tokio::time::timeout(Duration::from_secs(30), client.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::other("request head timed out"))??;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(pos) = find(&head, b"\r\n\r\n") {
            break pos + 4;
        }
        if head.len() > MAX_HEAD_BYTES {
            return refuse(&mut client, "request head too large").await;
        }
    };
    let (head, body_start) = head.split_at(end);
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_host_port(target) else {
            return refuse(&mut client, "bad CONNECT target").await;
        };
        let shown = if port == 443 {
            format!("https://{host}/")
        } else {
            format!("https://{host}:{port}/")
        };
        let mut upstream = match connect_checked(policy, log, host, port, &shown).await {
            Ok(upstream) => upstream,
            Err(reason) => {
                log.record_failure(&shown, &reason);
                return refuse(&mut client, &reason).await;
            }
        };
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        if !body_start.is_empty() {
            upstream.write_all(body_start).await?;
        }
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    let Ok(url) = url::Url::parse(target) else {
        return refuse(&mut client, "the proxy only takes absolute http URLs").await;
    };
    if url.scheme() != "http" {
        let reason = format!("refused by the URL policy: {target} (only http and https)");
        log.record(target.to_string());
        return refuse(&mut client, &reason).await;
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let mut upstream = match connect_checked(policy, log, &host, port, url.as_str()).await {
        Ok(upstream) => upstream,
        Err(reason) => {
            log.record_failure(url.as_str(), &reason);
            return refuse(&mut client, &reason).await;
        }
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("proxy-connection")
            || name.eq_ignore_ascii_case("proxy-authorization")
            || name.eq_ignore_ascii_case("connection")
            || name.eq_ignore_ascii_case("keep-alive")
        {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    // One request per proxied connection: the next request may go to another host.
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    if !body_start.is_empty() {
        upstream.write_all(body_start).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Resolves `host`, checks every address, and connects to one it checked.
async fn connect_checked(
    policy: &UrlPolicy,
    log: &RefusalLog,
    host: &str,
    port: u16,
    shown: &str,
) -> Result<TcpStream, String> {
    let addrs = resolve_checked(policy, log, host, port, shown).await?;
    let mut last = String::new();
    for addr in addrs {
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "connect timed out".into(),
        }
    }
    Err(format!("cannot connect to {shown}: {last}"))
}

/// The addresses of `host`, every one of them checked against the policy (a refusal is recorded in
/// `log` as `shown`).
async fn resolve_checked(
    policy: &UrlPolicy,
    log: &RefusalLog,
    host: &str,
    port: u16,
    shown: &str,
) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_matches(['[', ']']);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::lookup_host((bare, port)),
        )
        .await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            _ => return Err(format!("cannot resolve {host}")),
        },
    };
    if addrs.is_empty() {
        return Err(format!("cannot resolve {host}"));
    }
    for addr in &addrs {
        if let Err(reason) = policy.check_address(bare, addr.ip(), addr.port()) {
            log.record(shown.to_string());
            return Err(format!("refused by the URL policy: {shown} ({reason})"));
        }
    }
    Ok(addrs)
}

impl UrlPolicy {
    /// Checks a request a page makes (for a remote browser, which keel's proxy cannot stand in
    /// front of): http or https, and every address its host resolves to (here). A refusal is
    /// recorded in `log`.
    pub async fn check_request(&self, url: &str, log: &RefusalLog) -> Result<(), String> {
        let Ok(parsed) = url::Url::parse(url) else {
            log.record(url.to_string());
            return Err(format!("refused by the URL policy: {url} (not a URL)"));
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            log.record(url.to_string());
            return Err(format!(
                "refused by the URL policy: {url} (only http and https)"
            ));
        }
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default().unwrap_or(80);
        resolve_checked(self, log, host, port, url).await.map(drop)
    }
}

async fn refuse(client: &mut TcpStream, reason: &str) -> std::io::Result<()> {
    let body = format!("keel: {reason}\n");
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

fn split_host_port(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_refused_unless_allowed() {
        let policy = UrlPolicy::new(&[]).unwrap();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2001::1",
            "2001:db8::1",
            "fec0::1",
            "100::1",
            "192.0.0.1",
            "198.18.0.1",
            "198.19.255.1",
            "192.0.2.1",
            "192.88.99.1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert!(
                policy.check_address("x", parsed, 80).is_err(),
                "{ip} passed"
            );
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "198.20.0.1",
        ] {
            assert!(
                policy.check_address("x", ip.parse().unwrap(), 443).is_ok(),
                "{ip} refused"
            );
        }
        let allowed = UrlPolicy::new(&[
            "127.0.0.1".into(),
            "10.0.0.0/8".into(),
            "intranet.local".into(),
        ])
        .unwrap();
        assert!(
            allowed
                .check_address("a", "127.0.0.1".parse().unwrap(), 80)
                .is_ok()
        );
        assert!(
            allowed
                .check_address("a", "10.200.0.1".parse().unwrap(), 80)
                .is_ok()
        );
        assert!(
            allowed
                .check_address("intranet.local", "192.168.0.9".parse().unwrap(), 80)
                .is_ok()
        );
        assert!(
            allowed
                .check_address("a", "192.168.0.9".parse().unwrap(), 80)
                .is_err()
        );
        assert!(UrlPolicy::new(&["10.0.0.0/99".into()]).is_err());
        // A port narrows an entry to that port: other loopback services stay out of reach.
        let one_port = UrlPolicy::new(&[
            "127.0.0.1:18081".into(),
            "[::1]:3000".into(),
            "dev.local:8080".into(),
        ])
        .unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(one_port.check_address("127.0.0.1", loopback, 18081).is_ok());
        assert!(
            one_port
                .check_address("127.0.0.1", loopback, 18082)
                .is_err()
        );
        assert!(
            one_port
                .check_address("::1", "::1".parse().unwrap(), 3000)
                .is_ok()
        );
        assert!(
            one_port
                .check_address("::1", "::1".parse().unwrap(), 3001)
                .is_err()
        );
        assert!(
            one_port
                .check_address("dev.local", "10.0.0.5".parse().unwrap(), 8080)
                .is_ok()
        );
        assert!(
            one_port
                .check_address("dev.local", "10.0.0.5".parse().unwrap(), 22)
                .is_err()
        );
        assert!(one_port.check_url("http://127.0.0.1:18081/").is_ok());
        assert!(one_port.check_url("http://127.0.0.1:18082/").is_err());
        for bad in [
            "127.0.0.1:0",
            "127.0.0.1:99999",
            "host:port",
            "a b",
            "[::1]:x",
        ] {
            assert!(UrlPolicy::new(&[bad.into()]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn only_http_and_https_urls_are_opened() {
        let policy = UrlPolicy::new(&[]).unwrap();
        for url in [
            "file:///etc/passwd",
            "chrome://settings",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://x.example/",
        ] {
            let e = policy.check_url(url).unwrap_err();
            assert!(e.to_string().contains("only http and https"), "{url}: {e}");
        }
        let e = policy
            .check_url("http://169.254.169.254/latest/meta-data")
            .unwrap_err();
        assert!(e.to_string().contains("browser.allow"), "{e}");
        assert!(policy.check_url("https://example.com/a?b=1").is_ok());
        assert!(policy.check_url("not a url").is_err());
        for (written, meant) in [
            ("example.com", "https://example.com"),
            ("www.example.com/a?b=1#c", "https://www.example.com/a?b=1#c"),
            ("localhost:3000/admin", "http://localhost:3000/admin"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("[::1]:8080/x", "http://[::1]:8080/x"),
            ("https://example.com", "https://example.com"),
            ("mailto:someone@example.com", "mailto:someone@example.com"),
            ("javascript:alert(1)", "javascript:alert(1)"),
            ("not a url", "not a url"),
            ("intranet", "intranet"),
        ] {
            assert_eq!(with_scheme(written), meant, "{written}");
        }
    }
}
