//! Reading a page without acting on it, like Cloudflare's Browser Rendering endpoints: its main
//! content as Markdown, its links, and elements picked by CSS selectors as JSON. Each runs as one
//! script in the page, so it costs one round trip.

use serde_json::{Value, json};

use crate::error::BrowserError;
use crate::tab::Tab;

/// The page as Markdown: the main content (`<main>`, `<article>`, `[role=main]`, else the body
/// without navigation, header, footer and asides), or the whole body with `whole`.
pub async fn markdown(tab: &Tab, whole: bool) -> Result<String, BrowserError> {
    let function = MARKDOWN_JS.replace("__WHOLE__", if whole { "true" } else { "false" });
    let value = tab.evaluate(&function, None).await?;
    Ok(value.as_str().unwrap_or_default().to_string())
}

/// The page's links: text and absolute URL, each once, in page order.
pub async fn links(tab: &Tab) -> Result<Value, BrowserError> {
    tab.evaluate(LINKS_JS, None).await
}

/// For each CSS selector, the matching elements' text, HTML, attributes and box.
pub async fn scrape(tab: &Tab, selectors: &[String]) -> Result<Value, BrowserError> {
    let function = format!(
        "() => ({})({})",
        SCRAPE_JS,
        serde_json::to_string(selectors).unwrap_or_else(|_| "[]".into())
    );
    let value = tab.evaluate(&function, None).await?;
    if let Some(problem) = value.get("problem").and_then(Value::as_str) {
        return Err(BrowserError::Invalid(problem.to_string()));
    }
    Ok(value)
}

/// The sampling request that asks the client's model to extract JSON matching `schema` from the
/// page's Markdown, guided by `prompt`.
pub fn extraction_request(prompt: &str, schema: &Value, page: &str, url: &str) -> Value {
    const MAX_PAGE_CHARS: usize = 60_000;
    let page: String = page.chars().take(MAX_PAGE_CHARS).collect();
    json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": format!(
            "Extract data from the web page below.\n\nWhat to extract: {prompt}\n\nAnswer with one JSON value that matches this JSON Schema, and nothing else:\n{}\n\nThe page ({url}) as Markdown:\n\n{page}",
            serde_json::to_string_pretty(schema).unwrap_or_default()
        )}}],
        "systemPrompt": "You extract structured data from web pages. Reply with JSON only.",
        "maxTokens": 4000,
        "temperature": 0
    })
}

/// The JSON value in a model's reply (bare, or inside a ```json fence, or the first {…}/[…]).
pub fn json_in_reply(reply: &str) -> Option<Value> {
    let trimmed = reply.trim();
    if let Ok(value) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let after = after.strip_prefix("json").unwrap_or(after);
        if let Some(end) = after.find("```")
            && let Ok(value) = serde_json::from_str(after[..end].trim())
        {
            return Some(value);
        }
    }
    let start = trimmed.find(['{', '['])?;
    let end = trimmed.rfind(['}', ']'])?;
    serde_json::from_str(trimmed.get(start..=end)?).ok()
}

const MARKDOWN_JS: &str = r##"() => {
  const whole = __WHOLE__;
  const root = whole ? document.body : (document.querySelector("main, article, [role=main]") || document.body);
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "CANVAS", "IFRAME"]);
  const chrome = new Set(["NAV", "HEADER", "FOOTER", "ASIDE"]);
  const abs = (u) => { try { return new URL(u, location.href).href; } catch (e) { return u; } };
  const clean = (t) => t.replace(/\s+/g, " ");
  function inline(node) {
    let out = "";
    for (const c of node.childNodes) {
      if (c.nodeType === 3) { out += clean(c.textContent); continue; }
      if (c.nodeType !== 1 || skip.has(c.tagName) || c.hidden || c.getAttribute("aria-hidden") === "true") continue;
      const t = c.tagName;
      if (t === "A" && c.getAttribute("href")) { const s = inline(c).trim(); out += s ? `[${s}](${abs(c.getAttribute("href"))})` : ""; }
      else if (t === "STRONG" || t === "B") { const s = inline(c).trim(); out += s ? `**${s}**` : ""; }
      else if (t === "EM" || t === "I") { const s = inline(c).trim(); out += s ? `_${s}_` : ""; }
      else if (t === "CODE") out += "`" + c.textContent + "`";
      else if (t === "BR") out += "\n";
      else if (t === "IMG") out += c.alt ? `![${clean(c.alt)}](${abs(c.getAttribute("src") || "")})` : "";
      else if (t === "INPUT" || t === "SELECT" || t === "TEXTAREA" || t === "BUTTON") out += t === "BUTTON" ? `[${clean(c.innerText).trim()}]` : "";
      else out += inline(c);
    }
    return out;
  }
  const blocks = [];
  function table(t) {
    const rows = Array.from(t.rows).map(r => Array.from(r.cells).map(c => inline(c).trim().replace(/\|/g, "\\|")));
    if (!rows.length) return;
    const width = Math.max(...rows.map(r => r.length));
    const line = (r) => "| " + Array.from({length: width}, (_, i) => r[i] || "").join(" | ") + " |";
    blocks.push([line(rows[0]), "| " + Array(width).fill("---").join(" | ") + " |", ...rows.slice(1).map(line)].join("\n"));
  }
  function list(l, depth) {
    let i = 1;
    for (const li of l.children) {
      if (li.tagName !== "LI") continue;
      const marker = l.tagName === "OL" ? `${i++}.` : "-";
      const own = Array.from(li.childNodes).filter(c => !(c.nodeType === 1 && (c.tagName === "UL" || c.tagName === "OL")));
      const holder = document.createElement("div");
      own.forEach(c => holder.appendChild(c.cloneNode(true)));
      blocks.push("  ".repeat(depth) + marker + " " + inline(holder).trim());
      for (const sub of li.children) if (sub.tagName === "UL" || sub.tagName === "OL") list(sub, depth + 1);
    }
  }
  function walk(node) {
    for (const c of node.children) {
      const t = c.tagName;
      if (skip.has(t) || c.hidden || c.getAttribute("aria-hidden") === "true") continue;
      if (!whole && chrome.has(t) && c !== root) continue;
      if (/^H[1-6]$/.test(t)) { const s = inline(c).trim(); if (s) blocks.push("#".repeat(+t[1]) + " " + s); }
      else if (t === "P") { const s = inline(c).trim(); if (s) blocks.push(s); }
      else if (t === "UL" || t === "OL") list(c, 0);
      else if (t === "PRE") blocks.push("```\n" + c.textContent.replace(/\n$/, "") + "\n```");
      else if (t === "BLOCKQUOTE") { const s = inline(c).trim(); if (s) blocks.push(s.split("\n").map(l => "> " + l).join("\n")); }
      else if (t === "TABLE") table(c);
      else if (t === "HR") blocks.push("---");
      else if (c.children.length === 0) { const s = inline(c).trim(); if (s) blocks.push(s); }
      else {
        const hasBlock = Array.from(c.children).some(k => !["A","STRONG","B","EM","I","CODE","SPAN","BR","IMG","LABEL","SMALL","SUP","SUB"].includes(k.tagName));
        if (hasBlock) walk(c); else { const s = inline(c).trim(); if (s) blocks.push(s); }
      }
    }
  }
  walk(root);
  // The title as the heading, unless the page's own first heading already says it ("Park ·
  // Site" above "# Park" said it twice).
  const first = blocks.length && blocks[0].startsWith("# ") ? blocks[0].slice(2).trim() : "";
  const said = first && document.title.includes(first);
  const title = document.title && !said ? "# " + document.title.trim() + "\n\n" : "";
  return title + blocks.join("\n\n") + "\n";
}"##;

const LINKS_JS: &str = r##"() => {
  const seen = new Set();
  const links = [];
  for (const a of document.querySelectorAll("a[href]")) {
    let href;
    try { href = new URL(a.getAttribute("href"), location.href).href; } catch (e) { continue; }
    if (!/^https?:/.test(href) || seen.has(href)) continue;
    seen.add(href);
    links.push({text: (a.innerText || a.getAttribute("aria-label") || a.title || "").replace(/\s+/g, " ").trim(), href});
  }
  return links;
}"##;

const SCRAPE_JS: &str = r##"(selectors) => {
  const results = [];
  for (const selector of selectors) {
    let found;
    try { found = document.querySelectorAll(selector); } catch (e) { return {problem: `${JSON.stringify(selector)} is not a valid CSS selector`}; }
    results.push({selector, results: Array.from(found).slice(0, 500).map(el => {
      const r = el.getBoundingClientRect();
      return {
        text: (el.innerText || el.textContent || "").trim(),
        html: el.innerHTML.length > 20000 ? el.innerHTML.slice(0, 20000) + "…" : el.innerHTML,
        attributes: Array.from(el.attributes).map(a => ({name: a.name, value: a.value})),
        top: r.top + scrollY, left: r.left + scrollX, width: r.width, height: r.height,
      };
    })});
  }
  return results;
}"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_in_the_usual_shapes_of_a_reply() {
        assert_eq!(json_in_reply(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(
            json_in_reply("Here:\n```json\n[1, 2]\n```\nDone."),
            Some(json!([1, 2]))
        );
        assert_eq!(
            json_in_reply("The answer is {\"court\": 3}."),
            Some(json!({"court": 3}))
        );
        assert_eq!(json_in_reply("no json here"), None);
    }
}
