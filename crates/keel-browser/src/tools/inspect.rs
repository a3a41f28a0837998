//! Answers that look into a page's records: one network request in full, and searching the
//! snapshot (browser_network_request, browser_find).

use super::*;

/// A static resource that loaded (an image, a font, a script, …): left out of the request list
/// unless asked for, as Playwright MCP does.
pub(super) fn is_static(entry: &crate::NetworkEntry) -> bool {
    matches!(
        entry.kind.as_str(),
        "Image" | "Font" | "Script" | "Stylesheet" | "Media" | "Manifest" | "TextTrack"
    ) && (1..400).contains(&entry.status)
}

/// One request of `browser_network_requests` in full, or one part of it.
pub(super) async fn request_details(
    tab: &crate::Tab,
    args: &Map<String, Value>,
) -> Result<String, String> {
    let entries = tab.network();
    let index = args.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
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
    let part = string(args, "part");
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
pub(super) fn find_in_snapshot(
    snapshot: &str,
    args: &Map<String, Value>,
) -> Result<String, String> {
    let matcher: Box<dyn Fn(&str) -> bool> = match (string(args, "text"), string(args, "regex")) {
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
