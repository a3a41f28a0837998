//! Looking into a page: run a function on it, read its console and its network requests, search
//! its snapshot (browser_evaluate, browser_console_messages, browser_network_requests,
//! browser_network_request, browser_find).

use super::args::browser_args;
use super::*;

pub(super) fn tools() -> Vec<ToolDef<BrowserPack>> {
    const DEVTOOLS: &str = "browser-devtools";
    vec![
        // Not read-only: a function can change the page.
        ToolDef::new(
            "browser_evaluate",
            "Run a JavaScript function on the page (or on an element) and return its JSON value.",
            run::<Evaluate>,
        )
        .group("browser-evaluate"),
        ToolDef::new(
            "browser_console_messages",
            "The page's console messages (and uncaught errors) since it loaded.",
            run::<ConsoleMessages>,
        )
        .read_only()
        .group(DEVTOOLS),
        ToolDef::new(
            "browser_network_requests",
            "A numbered list of the requests the page made since it loaded (browser_network_request shows one in full), and any the URL policy refused.",
            run::<NetworkRequests>,
        )
        .read_only()
        .group(DEVTOOLS),
        ToolDef::new(
            "browser_network_request",
            "One request from browser_network_requests in full (headers and bodies), or one part of it.",
            run::<NetworkRequest>,
        )
        .read_only()
        .group(DEVTOOLS),
        ToolDef::new(
            "browser_find",
            "Search the page's snapshot for text (case-insensitive) or a regular expression (`/pattern/i` for flags): each match with its path from the root and the lines below it. Cheaper than a whole snapshot when you know what to look for.",
            run::<Find>,
        )
        .read_only()
        .group("browser-extract"),
    ]
}

browser_args!(
    /// Arguments of `browser_evaluate`.
    Evaluate + filename {
        /// () => { ... } or (element) => { ... }
        function: String,
        /// The element the function gets (a ref or CSS selector).
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
    }
);

impl BrowserTool for Evaluate {
    const CUT: Cut = Cut::AtSnapshotCap;

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let tab = &page.tab;
        let target = self.target.as_deref().or(self.ref_.as_deref());
        Ok(Answer::Text(
            match tab.evaluate_action(&self.function, target).await {
                Ok((value, outcome)) => {
                    let mut out = format!(
                        "### Result\n{}\n",
                        serde_json::to_string_pretty(&value).unwrap_or_default()
                    );
                    // What the function set off (a navigation, a dialog, a download).
                    if outcome.navigated
                        || outcome.dialog.is_some()
                        || outcome.downloads > 0
                        || outcome.still_busy
                    {
                        out.push_str(&page.report(&outcome, outcome.navigated).await?);
                    }
                    out
                }
                // The function waits in the dialog it opened; its value is not known yet.
                Err(e) if e.is_dialog() => format!(
                    "### Result\nNone yet: the function is waiting for the dialog it opened.\n### Page\n- URL: {}\n- {}.\n",
                    tab.url(),
                    sentence(&e.to_string())
                ),
                Err(e) => return Err(err(e)),
            },
        ))
    }
}

// A console level.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ConsoleLevel {
    Error,
    Warning,
    #[default]
    Info,
    Debug,
}

browser_args!(
    /// Arguments of `browser_console_messages`.
    ConsoleMessages + filename {
        /// Messages of this level and more severe ones (default: info).
        level: Option<ConsoleLevel>,
        /// Since the tab opened, not only since the page loaded.
        all: Option<bool>,
    }
);

impl BrowserTool for ConsoleMessages {
    const CUT: Cut = Cut::AtSnapshotCap;

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        // Each level includes the more severe ones, as in Playwright MCP.
        let rank = |level: &str| match level {
            "error" => 0,
            "warning" => 1,
            "info" => 2,
            _ => 3,
        };
        let wanted = self.level.unwrap_or_default() as usize;
        let lines: Vec<String> = page
            .tab
            .console(self.all.unwrap_or(false))
            .into_iter()
            .filter(|e| rank(e.level) <= wanted)
            .map(|e| e.line)
            .collect();
        Ok(Answer::Text(if lines.is_empty() {
            "No console messages.\n".to_string()
        } else {
            lines.join("\n") + "\n"
        }))
    }
}

browser_args!(
    /// Arguments of `browser_network_requests`.
    NetworkRequests + filename {
        /// Include static resources that loaded (images, fonts, scripts, stylesheets, media).
        #[serde(rename = "static")]
        with_static: Option<bool>,
        /// Only requests whose URL matches this regular expression (e.g. "/api/.*user").
        filter: Option<String>,
    }
);

impl BrowserTool for NetworkRequests {
    const CUT: Cut = Cut::AtSnapshotCap;

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let filter = self
            .filter
            .as_deref()
            .map(|pattern| {
                fancy_regex::Regex::new(pattern)
                    .map_err(|e| format!("`filter` is not a valid regular expression: {e}"))
            })
            .transpose()?;
        let with_static = self.with_static.unwrap_or(false);
        let mut out = String::new();
        for (index, entry) in page.tab.network().into_iter().enumerate() {
            if !with_static && is_static(&entry) {
                continue;
            }
            if let Some(filter) = &filter
                && !filter.is_match(&entry.url).unwrap_or(false)
            {
                continue;
            }
            out.push_str(&format!(
                "{}. [{}] {} {} => {}\n",
                index + 1,
                entry.kind,
                entry.method,
                entry.url,
                entry.outcome()
            ));
        }
        let refused = page.session.refusals().since(0);
        if !refused.is_empty() {
            out.push_str("Refused by the URL policy:\n");
            for url in refused {
                out.push_str(&format!("- {url}\n"));
            }
        }
        Ok(Answer::Text(if out.is_empty() {
            "No requests.\n".into()
        } else {
            out
        }))
    }
}

// A part of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RequestPart {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
}

browser_args!(
    /// Arguments of `browser_network_request`.
    NetworkRequest + filename {
        /// Its number in browser_network_requests (from 1).
        #[schemars(range(min = 1))]
        index: u32,
        /// Only this part.
        part: Option<RequestPart>,
    }
);

impl BrowserTool for NetworkRequest {
    const CUT: Cut = Cut::AtReadCap;

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        Ok(Answer::Text(
            request_details(&page.tab, self.index as usize, self.part).await?,
        ))
    }
}

browser_args!(
    /// Arguments of `browser_find`.
    Find + filename {
        /// Text to find.
        text: Option<String>,
        /// A regular expression to find (instead of `text`).
        regex: Option<String>,
    }
);

impl BrowserTool for Find {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let tab = &page.tab;
        let snapshot = tab
            .snapshot(SnapshotOptions::default())
            .await
            .map_err(err)?;
        let found = find_in_snapshot(&snapshot.text, self.text.as_deref(), self.regex.as_deref())?;
        Ok(Answer::Text(format!(
            "### Page\n- URL: {}\n{found}",
            tab.url()
        )))
    }
}

/// A static resource that loaded (an image, a font, a script, …): left out of the request list
/// unless asked for, as Playwright MCP does.
fn is_static(entry: &crate::NetworkEntry) -> bool {
    matches!(
        entry.kind.as_str(),
        "Image" | "Font" | "Script" | "Stylesheet" | "Media" | "Manifest" | "TextTrack"
    ) && (1..400).contains(&entry.status)
}

/// One request of `browser_network_requests` in full, or one part of it.
async fn request_details(
    tab: &crate::Tab,
    index: usize,
    part: Option<RequestPart>,
) -> Result<String, String> {
    let entries = tab.network();
    let entry = index
        .checked_sub(1)
        .and_then(|i| entries.get(i))
        .ok_or_else(|| {
            format!(
                "there is no request {index}: the page has made {} (numbers from browser_network_requests, starting at 1)",
                entries.len()
            )
        })?;
    let headers = |value: &Value| -> String {
        match value.as_object() {
            Some(map) if !map.is_empty() => map
                .iter()
                .map(|(k, v)| format!("{k}: {}\n", v.as_str().unwrap_or_default()))
                .collect(),
            _ => "(none)\n".into(),
        }
    };
    let body = |(text, base64): (String, bool)| -> String {
        if text.is_empty() {
            "(empty)\n".into()
        } else if base64 {
            format!("(binary, base64)\n{text}\n")
        } else {
            format!("{text}\n")
        }
    };
    let part = part.map(|part| match part {
        RequestPart::RequestHeaders => "request-headers",
        RequestPart::RequestBody => "request-body",
        RequestPart::ResponseHeaders => "response-headers",
        RequestPart::ResponseBody => "response-body",
    });
    let mut out = String::new();
    if part.is_none() {
        let status = entry.outcome();
        out.push_str(&format!(
            "### Request {index}\n[{}] {} {} => {status}\n",
            entry.kind, entry.method, entry.url
        ));
    }
    // The parts in order; `part` (one of them, as the schema has it) picks one, without a title.
    for (name, title) in [
        ("request-headers", "Request headers"),
        ("request-body", "Request body"),
        ("response-headers", "Response headers"),
        ("response-body", "Response body"),
    ] {
        if part.is_some_and(|part| part != name) {
            continue;
        }
        if part.is_none() {
            out.push_str(&format!("### {title}\n"));
        }
        match name {
            "request-headers" => out.push_str(&headers(&entry.request_headers)),
            "request-body" => {
                let text = tab.request_body(entry).await.map_err(err)?;
                out.push_str(&body((text, false)));
            }
            "response-headers" => out.push_str(&headers(&entry.response_headers)),
            _ => match tab.response_body(entry).await {
                Ok(found) => out.push_str(&body(found)),
                // The whole request is still worth having without its body.
                Err(e) if part.is_none() => out.push_str(&format!("({e})\n")),
                Err(e) => return Err(err(e)),
            },
        }
    }
    Ok(out)
}

/// Lines of the snapshot that match `text` (case-insensitive) or `regex` (`/pattern/flags` for
/// flags), each under its path from the root and with the lines below it, as browser_find
/// answers.
fn find_in_snapshot(
    snapshot: &str,
    text: Option<&str>,
    regex: Option<&str>,
) -> Result<String, String> {
    let matcher: Box<dyn Fn(&str) -> bool> = match (text, regex) {
        (Some(text), None) if !text.is_empty() => {
            let needle = text.to_lowercase();
            Box::new(move |line: &str| line.to_lowercase().contains(&needle))
        }
        (None, Some(pattern)) if !pattern.is_empty() => {
            // `/error/i`: a pattern with flags, as in JavaScript.
            let source = match pattern.strip_prefix('/').and_then(|p| p.rsplit_once('/')) {
                Some((body, flags)) if flags.chars().all(|c| "imsu".contains(c)) => {
                    let flags: String = flags.chars().filter(|c| *c != 'u').collect();
                    if flags.is_empty() {
                        body.to_string()
                    } else {
                        format!("(?{flags}){body}")
                    }
                }
                _ => pattern.to_string(),
            };
            let regex = fancy_regex::Regex::new(&source)
                .map_err(|e| format!("`regex` is not a valid regular expression: {e}"))?;
            Box::new(move |line: &str| regex.is_match(line).unwrap_or(false))
        }
        _ => return Err("give either `text` or `regex` (not both)".into()),
    };
    let lines: Vec<&str> = snapshot.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut out = String::new();
    let mut found = 0;
    let mut shown_until = 0;
    for (i, line) in lines.iter().enumerate() {
        if !matcher(line) || i < shown_until {
            continue;
        }
        found += 1;
        if found > 20 {
            out.push_str("… (more matches: narrow the search)\n");
            break;
        }
        // The path: each nearest line above with less indentation.
        let mut path = Vec::new();
        let mut level = indent(line);
        for above in lines[..i].iter().rev() {
            if indent(above) < level {
                level = indent(above);
                path.push(above.trim());
                if level == 0 {
                    break;
                }
            }
        }
        path.reverse();
        out.push_str(&format!("### Match {found}\n"));
        if !path.is_empty() {
            out.push_str(&format!("In: {}\n", path.join(" > ")));
        }
        // The match and up to three lines of context below it.
        shown_until = (i + 4).min(lines.len());
        for context in &lines[i..shown_until] {
            out.push_str(context);
            out.push('\n');
        }
    }
    if found == 0 {
        out.push_str("No matches in the page's snapshot.\n");
    }
    Ok(out)
}
