//! Reading pages: their HTML, their main content as Markdown, their links, elements by CSS
//! selectors, and JSON extracted by the client's own model; of the current tab, or of a `url`
//! opened in a tab of its own and closed again.

use super::args::browser_args;
use super::*;
use crate::reading;

pub(super) fn tools() -> Vec<ToolDef<BrowserPack>> {
    const EXTRACT: &str = "browser-extract";
    vec![
        ToolDef::new(
            "page_markdown",
            "The page's main content as clean Markdown (the whole page with `whole`); of `url` (opened and closed) or the current tab.",
            run::<PageMarkdown>,
        )
        .read_only()
        .group(super::page::GROUP),
        ToolDef::new(
            "page_content",
            "The page's HTML (of `url`, opened and closed, or of the current tab).",
            run::<PageContent>,
        )
        .read_only()
        .group(EXTRACT),
        ToolDef::new(
            "page_links",
            "The page's links (text and absolute URL), of `url` or the current tab.",
            run::<PageLinks>,
        )
        .read_only()
        .group(EXTRACT),
        ToolDef::new(
            "page_scrape",
            "Elements picked by CSS selectors, as JSON (text, HTML, attributes, box), of `url` or the current tab.",
            run::<PageScrape>,
        )
        .read_only()
        .group(EXTRACT),
        ToolDef::new(
            "page_extract",
            "JSON matching a JSON Schema, extracted from the page by the client's own model (MCP sampling), guided by a prompt; of `url` or the current tab.",
            run::<PageExtract>,
        )
        .read_only()
        .group(EXTRACT),
    ]
}

/// The tab a reading tool reads: a `url` opened in a tab of its own (closed by [`done`]), or
/// the current tab.
async fn reading_tab(page: &Page<'_>, url: Option<&str>) -> Result<Arc<Tab>, String> {
    let Some(url) = url else {
        return Ok(Arc::clone(&page.tab));
    };
    let session = page.session;
    let scratch = session.new_tab().await.map_err(err)?;
    let opened = async {
        scratch.skip_tree_at_load().await.map_err(err)?;
        let outcome = open(session, &scratch, url).await?;
        if outcome.downloads > 0 || outcome.downloading {
            return Err(format!(
                "{url} is a file to download, not a page: it is kept in the session (browser_downloads hands it over)"
            ));
        }
        Ok(())
    };
    if let Err(e) = opened.await {
        let _ = session.close_tab(None).await;
        return Err(e);
    }
    Ok(scratch)
}

/// Closes the tab [`reading_tab`] opened for `url`, whatever the reading came to.
async fn done<T>(page: &Page<'_>, url: Option<&str>, read: Result<T, String>) -> Result<T, String> {
    if url.is_some() {
        let _ = page.session.close_tab(None).await;
    }
    read
}

/// `url` completed to `https://…` when written without a scheme.
fn complete(url: &mut Option<String>) -> Option<&str> {
    let url = url.as_mut()?;
    *url = crate::policy::with_scheme(url);
    Some(url)
}

browser_args!(
    /// Arguments of `page_markdown`.
    PageMarkdown {
        /// The page to read (opened in a tab of its own); the current tab when left out.
        url: Option<String>,
        /// Include navigation, header, footer and asides.
        whole: Option<bool>,
    }
);

impl BrowserTool for PageMarkdown {
    const CUT: Cut = Cut::AtReadCap;

    fn opens(&mut self) -> Option<&str> {
        complete(&mut self.url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let url = self.url.as_deref();
        let tab = reading_tab(page, url).await?;
        let read = reading::markdown(&tab, self.whole.unwrap_or(false))
            .await
            .map_err(err);
        Ok(Answer::Text(done(page, url, read).await?))
    }
}

browser_args!(
    /// Arguments of `page_content`.
    PageContent {
        /// The page to read (opened in a tab of its own); the current tab when left out.
        url: Option<String>,
    }
);

impl BrowserTool for PageContent {
    const CUT: Cut = Cut::AtReadCap;
    const REOPENS_PAGE: bool = false;

    fn opens(&mut self) -> Option<&str> {
        complete(&mut self.url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let url = self.url.as_deref();
        let tab = reading_tab(page, url).await?;
        let read = tab.content().await.map_err(err);
        Ok(Answer::Text(done(page, url, read).await?))
    }
}

browser_args!(
    /// Arguments of `page_links`.
    PageLinks {
        /// The page to read (opened in a tab of its own); the current tab when left out.
        url: Option<String>,
    }
);

impl BrowserTool for PageLinks {
    fn opens(&mut self) -> Option<&str> {
        complete(&mut self.url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let url = self.url.as_deref();
        let tab = reading_tab(page, url).await?;
        let read = reading::links(&tab).await.map_err(err);
        let mut links = done(page, url, read).await?;
        let mut budget = page.config().max_read_bytes;
        let left_out = keep_within(&mut links, &mut budget);
        let mut answer = json!({"url": tab.url(), "links": links});
        if left_out > 0 {
            answer["linksLeftOut"] = json!(left_out);
        }
        Ok(Answer::Done(structured(answer).into()))
    }
}

/// An element picker of `page_scrape`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Picker {
    /// A CSS selector.
    selector: String,
}

browser_args!(
    /// Arguments of `page_scrape`.
    PageScrape {
        /// The page to read (opened in a tab of its own); the current tab when left out.
        url: Option<String>,
        #[schemars(length(min = 1))]
        elements: Vec<Picker>,
    }
);

impl BrowserTool for PageScrape {
    fn opens(&mut self) -> Option<&str> {
        complete(&mut self.url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let url = self.url.as_deref();
        let selectors: Vec<String> = self.elements.iter().map(|e| e.selector.clone()).collect();
        let tab = reading_tab(page, url).await?;
        let read = reading::scrape(&tab, &selectors).await.map_err(err);
        let mut found = done(page, url, read).await?;
        // One budget for all the selectors' matches, in order.
        let mut budget = page.config().max_read_bytes;
        for selector in found.as_array_mut().into_iter().flatten() {
            let left_out = keep_within(&mut selector["results"], &mut budget);
            if left_out > 0 {
                selector["resultsLeftOut"] = json!(left_out);
            }
        }
        let answer = json!({"url": tab.url(), "results": found});
        Ok(Answer::Done(structured(answer).into()))
    }
}

browser_args!(
    /// Arguments of `page_extract`.
    PageExtract {
        /// The page to read (opened in a tab of its own); the current tab when left out.
        url: Option<String>,
        /// What to extract.
        prompt: String,
        /// JSON Schema the answer must match.
        schema: serde_json::Map<String, Value>,
    }
);

impl BrowserTool for PageExtract {
    fn opens(&mut self) -> Option<&str> {
        complete(&mut self.url)
    }

    /// The client's model reads the page's Markdown and answers with JSON, which must match the
    /// schema. Over a session the request goes out as sampling; on 2026-07-28 as an
    /// input-required result that the client answers by calling again.
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let cx = page.cx;
        let schema = Value::Object(self.schema.clone());
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("`schema` is not a usable JSON Schema: {e}"))?;
        let reply = match cx.input_responses().and_then(|r| r.get("extract")) {
            Some(answer) => answer.clone(),
            None => {
                let can_sample = cx
                    .client_capabilities()
                    .is_some_and(|c| c.sampling.is_some());
                if !can_sample {
                    return Err("page_extract asks the client's own model through MCP sampling, and this client does not offer sampling: read the page with page_markdown and extract the data yourself".into());
                }
                let url = self.url.as_deref();
                let tab = reading_tab(page, url).await?;
                let read = reading::markdown(&tab, false).await.map_err(err);
                let markdown = done(page, url, read).await?;
                let request =
                    reading::extraction_request(&self.prompt, &schema, &markdown, &tab.url());
                if cx.session_id().is_some() {
                    cx.sample(request)
                        .await
                        .map_err(|e| format!("the client's model did not answer: {}", e.message))?
                } else {
                    let ask = json!({"resultType": "input_required", "inputRequests": {
                        "extract": {"method": "sampling/createMessage", "params": request}}});
                    let result: rmcp::model::InputRequiredResult = serde_json::from_value(ask)
                        .map_err(|e| format!("cannot ask the client: {e}"))?;
                    return Ok(Answer::Done(result.into()));
                }
            }
        };
        let text = reply["content"]["text"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| reply["content"].to_string());
        let value = reading::json_in_reply(&text).ok_or_else(|| {
            format!(
                "the client's model did not answer with JSON: {}",
                text.chars().take(300).collect::<String>()
            )
        })?;
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .take(5)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !problems.is_empty() {
            return Err(format!(
                "the extracted JSON does not match the schema: {}",
                problems.join("; ")
            ));
        }
        Ok(Answer::Done(structured(value).into()))
    }
}
