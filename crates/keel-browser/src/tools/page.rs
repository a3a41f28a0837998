//! Pages and tabs: open a page, go back, read its snapshot, wait, answer a dialog, manage tabs,
//! take a screenshot or a PDF, hand over downloads, end the session.

use super::args::browser_args;
use super::*;

/// The default group: what an agent needs to read and operate a page.
pub(crate) const GROUP: &str = "browser";

pub(super) fn tools() -> Vec<ToolDef<BrowserPack>> {
    vec![
        ToolDef::new(
            "browser_navigate",
            "Open a URL in the current tab; returns the page's snapshot. Starts a browsing session when there is none (its `handle` is in the result).",
            run::<Navigate>,
        )
        .group(GROUP),
        ToolDef::new("browser_navigate_back", "Go back to the previous page.", run::<Back>)
            .group(GROUP),
        ToolDef::new(
            "browser_snapshot",
            "The page's accessibility snapshot: elements with refs to act on. Scope it with `target`, cut it with `depth` or `max_bytes`.",
            run::<Snapshot>,
        )
        .read_only()
        .group(GROUP),
        ToolDef::new(
            "browser_wait_for",
            "Wait for text to appear or disappear, or for some seconds.",
            run::<WaitFor>,
        )
        .read_only()
        .group(GROUP),
        ToolDef::new(
            "browser_handle_dialog",
            "Accept or dismiss the open alert/confirm/prompt.",
            run::<HandleDialog>,
        )
        .group(GROUP),
        ToolDef::new("browser_tabs", "List, open, select or close tabs.", run::<Tabs>).group(GROUP),
        ToolDef::new(
            "browser_take_screenshot",
            "A screenshot of the viewport, the full page, or one element.",
            run::<Screenshot>,
        )
        .read_only()
        .group(GROUP),
        ToolDef::new(
            "browser_close",
            "End the browsing session: its tabs, cookies, storage and downloads.",
            close,
        )
        .destructive()
        .idempotent()
        .group(GROUP),
        ToolDef::new(
            "browser_pdf_save",
            "The page as a PDF (returned as an embedded resource).",
            run::<PdfSave>,
        )
        .read_only()
        .group("browser-pdf"),
        ToolDef::new(
            "browser_downloads",
            "Files the pages of this browsing session downloaded (kept in the session, also after it slept): the list, or with `name` the file itself.",
            downloads,
        )
        .read_only()
        .group("browser-files"),
    ]
}

browser_args!(
    /// Arguments of `browser_navigate`.
    Navigate {
        /// The URL (http or https).
        url: String,
    }
);

impl BrowserTool for Navigate {
    const REOPENS_PAGE: bool = false;

    fn opens(&mut self) -> Option<&str> {
        // `example.com` or `localhost:3000/admin`, as agents write them: given a scheme.
        self.url = crate::policy::with_scheme(&self.url);
        Some(&self.url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let (session, tab) = (page.session, &page.tab);
        // A page that opens dialogs without end is never left in its own tab.
        let (tab, replaced) = match tab.unstick().await.map_err(err)? {
            true => (Arc::clone(tab), false),
            false => (session.replace_tab(tab).await.map_err(err)?, true),
        };
        let outcome = open(session, &tab, &self.url).await?;
        let mut out = page
            .pack
            .report(session, &tab, &outcome, true, page.logged)
            .await?;
        if replaced {
            out.insert_str(
                0,
                "The last page kept opening dialogs: its tab was closed and this page opened in a new one.\n",
            );
        }
        Ok(Answer::Text(out))
    }
}

browser_args!(
    /// Arguments of `browser_navigate_back`.
    Back {}
);

impl BrowserTool for Back {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page.tab.back().await.map_err(err)?;
        Ok(Answer::Text(page.report(&outcome, true).await?))
    }
}

browser_args!(
    /// Arguments of `browser_snapshot`.
    Snapshot + filename {
        /// Only this element's subtree (a ref or CSS selector).
        target: Option<String>,
        /// Levels to show below the root (default: all).
        depth: Option<u32>,
        /// Cut the snapshot at this many bytes (at most the server's cap).
        #[schemars(range(min = 200))]
        max_bytes: Option<u64>,
        /// Add each element's box, [box=x,y,width,height] in viewport pixels.
        boxes: Option<bool>,
    }
);

impl BrowserTool for Snapshot {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let tab = &page.tab;
        let cap = page.config().max_snapshot_bytes;
        let mut options = SnapshotOptions {
            root: None,
            max_depth: self.depth.map(|d| d as usize),
            max_bytes: Some(self.max_bytes.map_or(cap, |n| (n as usize).min(cap))),
            with_boxes: self.boxes.unwrap_or(false),
            ..Default::default()
        };
        if let Some(target) = &self.target {
            options.root = Some(tab.resolve_target(target).await.map_err(err)?);
        }
        let snapshot = tab.snapshot(options).await.map_err(err)?;
        let mut out = format!(
            "### Page\n- URL: {}\n### Snapshot\n{}",
            tab.url(),
            snapshot.text
        );
        if snapshot.truncated {
            out.push_str("… (cut: scope it with `target`, a ref of a part, or lower `depth`)\n");
        }
        Ok(Answer::Text(out))
    }
}

browser_args!(
    /// Arguments of `browser_wait_for`.
    WaitFor {
        /// Text to wait for.
        text: Option<String>,
        /// Text to wait to disappear.
        #[serde(rename = "textGone")]
        text_gone: Option<String>,
        /// Seconds to wait.
        #[schemars(range(min = 0, max = 60))]
        time: Option<f64>,
    }
);

impl BrowserTool for WaitFor {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let out = page
            .tab
            .wait_for(self.text.as_deref(), self.text_gone.as_deref(), self.time)
            .await
            .map_err(err)?;
        Ok(Answer::Text(out))
    }
}

browser_args!(
    /// Arguments of `browser_handle_dialog`.
    HandleDialog {
        /// Accept (or dismiss) the dialog.
        accept: bool,
        /// The text to answer a prompt with.
        #[serde(rename = "promptText")]
        prompt_text: Option<String>,
    }
);

impl BrowserTool for HandleDialog {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page
            .tab
            .handle_dialog(self.accept, self.prompt_text.as_deref())
            .await
            .map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

// What `browser_tabs` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TabAction {
    List,
    New,
    Select,
    Close,
}

browser_args!(
    /// Arguments of `browser_tabs`.
    Tabs {
        action: TabAction,
        /// The tab to select or close (from 0; close: the current one when left out).
        index: Option<u32>,
        /// The page a new tab opens.
        url: Option<String>,
    }
);

impl BrowserTool for Tabs {
    fn opens(&mut self) -> Option<&str> {
        let url = self.url.as_mut()?;
        *url = crate::policy::with_scheme(url);
        Some(url)
    }

    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let session = page.session;
        let index = self.index.map(|i| i as usize);
        match self.action {
            TabAction::New => {
                // A refused URL opens no tab; one that cannot be opened closes the tab it got.
                let (_, previous) = session.list_tabs().await;
                let tab = session.new_tab().await.map_err(err)?;
                if let Some(url) = &self.url
                    && let Err(error) = open(session, &tab, url).await
                {
                    let _ = session.close_tab(None).await;
                    let _ = session.select_tab(previous).await;
                    return Err(error);
                }
            }
            TabAction::Select => {
                session
                    .select_tab(index.ok_or("`index` is required to select a tab")?)
                    .await
                    .map_err(err)?;
            }
            TabAction::Close => session.close_tab(index).await.map_err(err)?,
            TabAction::List => {}
        }
        let (urls, current) = session.list_tabs().await;
        let mut out = String::from("### Tabs\n");
        if urls.is_empty() {
            out.push_str("No tab is open: the next browser call opens a blank one (browser_navigate opens a page).\n");
        }
        for (i, url) in urls.iter().enumerate() {
            out.push_str(&format!(
                "- {i}:{} {url}\n",
                if i == current { " (current)" } else { "" }
            ));
        }
        Ok(Answer::Text(out))
    }
}

// An image format.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ImageType {
    #[default]
    Png,
    Jpeg,
    Webp,
}

browser_args!(
    /// Arguments of `browser_take_screenshot`.
    Screenshot {
        /// Only this element (a ref or CSS selector).
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        /// The whole page, not only the viewport.
        #[serde(rename = "fullPage")]
        full_page: Option<bool>,
        #[serde(rename = "type")]
        image_type: Option<ImageType>,
        // Accepted for Playwright MCP's sake: keel's pages have a device scale of 1.
        #[allow(dead_code)]
        scale: Option<String>,
        /// Save it in the session under this name instead (see browser_downloads).
        filename: Option<String>,
    }
);

impl BrowserTool for Screenshot {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let format = match self.image_type.unwrap_or_default() {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpeg",
            ImageType::Webp => "webp",
        };
        let target = self.target.as_deref().or(self.ref_.as_deref());
        let data = page
            .tab
            .screenshot(self.full_page.unwrap_or(false), target, format)
            .await
            .map_err(err)?;
        binary_answer(page, self.filename.as_deref(), data, |data| {
            vec![ContentBlock::image(data, format!("image/{format}"))]
        })
        .await
    }
}

browser_args!(
    /// Arguments of `browser_pdf_save`.
    PdfSave {
        /// Save it in the session under this name instead (see browser_downloads).
        filename: Option<String>,
    }
);

impl BrowserTool for PdfSave {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let tab = &page.tab;
        let data = tab.pdf().await.map_err(err)?;
        binary_answer(page, self.filename.as_deref(), data, |blob| {
            let resource = rmcp::model::ResourceContents::BlobResourceContents {
                uri: format!("keel://browser/{}/page.pdf", tab.target_id),
                mime_type: Some("application/pdf".into()),
                blob,
                meta: None,
            };
            vec![
                ContentBlock::resource(resource),
                ContentBlock::text(format!("PDF of {}", tab.url())),
            ]
        })
        .await
    }
}

/// An answer the browser gave as base64 `data` (an image, a PDF): kept in the session as the file
/// `filename` when asked for, else sent as `content(data)` with the handle of a session this call
/// started.
async fn binary_answer(
    page: &Page<'_>,
    filename: Option<&str>,
    data: String,
    content: impl FnOnce(String) -> Vec<ContentBlock>,
) -> Result<Answer, String> {
    if let Some(file_name) = filename {
        let object = &page.call.found.object;
        let saved = save_base64(object, file_name, page.cx.tool_name(), &data).await?;
        return Ok(Answer::Done(text(&saved).into()));
    }
    let mut content = content(data);
    if let Some(note) = page.handle_note() {
        content.push(ContentBlock::text(note));
    }
    Ok(Answer::Done(CallToolResult::success(content).into()))
}

browser_args!(
    /// Arguments of `browser_close`.
    Close {}
);

/// `browser_close`: needs no page, and never starts a session.
async fn close(
    pack: &BrowserPack,
    args: Close,
    cx: &ToolContext,
) -> Result<CallToolResult, ToolError> {
    let found = cx.handle_object(BROWSER_NAMESPACE, args.handle()).await?;
    let closed = pack
        .pool
        .close(&found.object.key().to_string())
        .await
        .map_err(|e| ToolError::fix(err(e)))?;
    // What it kept for its sleep goes too, so nothing of it comes back.
    let mut kept = downloads::keys(&found.object)
        .await
        .map_err(ToolError::Fix)?;
    kept.push(STATE_KEY.to_string());
    found
        .object
        .storage()
        .delete_many(kept)
        .await
        .map_err(|e| {
            ToolError::fix(format!(
                "the browsing session's saved state could not be deleted: {e}"
            ))
        })?;
    Ok(text(if closed {
        "The browsing session was closed."
    } else {
        "There was no open browsing session."
    }))
}

browser_args!(
    /// Arguments of `browser_downloads`.
    Downloads {
        /// A download's name from the list.
        name: Option<String>,
    }
);

/// `browser_downloads`: kept in the object, so no browser is needed.
async fn downloads(
    pack: &BrowserPack,
    args: Downloads,
    cx: &ToolContext,
) -> Result<CallToolResult, ToolError> {
    let found = cx.handle_object(BROWSER_NAMESPACE, args.handle()).await?;
    if let Some(context) = pack.pool.existing(&found.object.key().to_string()).await {
        keep_downloads(&context, &found.object).await;
    }
    let content = downloads::tool(&found.object, args.name.as_deref())
        .await
        .map_err(ToolError::Fix)?;
    Ok(CallToolResult::success(content))
}
