//! What a page gives out: script results, screenshots, PDFs, its HTML, console and network
//! logs, and waiting for text to show or go.

use super::frames::gone;
use super::*;

impl Tab {
    /// Runs a JavaScript function (`() => …`, or `(element) => …` with a target) and returns its
    /// JSON value.
    pub async fn evaluate(
        &self,
        function: &str,
        target: Option<&str>,
    ) -> Result<Value, BrowserError> {
        self.no_dialog()?;
        let result = self.run_function(function, target).await.map_err(|e| match e {
            BrowserError::Cdp(message)
                if message.contains("Object reference chain is too long")
                    || message.contains("could not be cloned")
                    || message.contains("couldn't be returned by value") =>
            {
                BrowserError::Invalid(format!(
                    "the function's value cannot be sent back as JSON (it refers to itself, or is something like a DOM node or window): return plain data, like el.textContent or {{ title: document.title }} ({message})"
                ))
            }
            other => other,
        })?;
        if let Some(details) = result.get("exceptionDetails") {
            return Err(BrowserError::Invalid(format!(
                "the function threw: {}",
                exception_text(details, "unknown")
            )));
        }
        // NaN, Infinity, -0 and BigInts (1n) have no JSON: given as the text JavaScript shows.
        if let Some(text) = result["result"]["unserializableValue"].as_str() {
            return Ok(Value::String(text.to_string()));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Runs `function` (on the element `target` names, if any) and returns the protocol's answer.
    async fn run_function(
        &self,
        function: &str,
        target: Option<&str>,
    ) -> Result<Value, BrowserError> {
        Ok(match target {
            Some(target) => {
                // In the page's own world (its globals in reach), on the element keel's world names.
                let node = self.resolve_target(target).await?;
                let session = self.frame_session(split_node(node).0, target)?;
                let object = self.object_of(node, target).await?;
                let described = self
                    .call_in(&session, "DOM.describeNode", json!({"objectId": object}))
                    .await?;
                let resolved = self
                    .call_in(
                        &session,
                        "DOM.resolveNode",
                        json!({"backendNodeId": described["node"]["backendNodeId"]}),
                    )
                    .await?;
                let object = resolved["object"]["objectId"]
                    .as_str()
                    .ok_or_else(|| gone(target))?;
                self.call_in(
                    &session,
                    "Runtime.callFunctionOn",
                    json!({"objectId": object, "functionDeclaration": format!("function() {{ return ({function})(this); }}"),
                           "returnByValue": true, "awaitPromise": true, "userGesture": true}),
                )
                .await?
            }
            None => {
                self.call(
                    "Runtime.evaluate",
                    json!({"expression": format!("({function})()"), "returnByValue": true, "awaitPromise": true, "userGesture": true}),
                )
                .await?
            }
        })
    }

    /// [`Tab::evaluate`] as an action (`browser_evaluate`): also waits for what the function
    /// started (a navigation, a request), as typing does.
    pub async fn evaluate_action(
        &self,
        function: &str,
        target: Option<&str>,
    ) -> Result<(Value, ActionOutcome), BrowserError> {
        let before = self.lock().mark();
        let value = self.evaluate(function, target).await?;
        Ok((value, self.settle_if_started(before).await))
    }

    /// A screenshot (PNG or JPEG, base64) of the viewport, the whole page, or one element.
    pub async fn screenshot(
        &self,
        full_page: bool,
        target: Option<&str>,
        format: &str,
    ) -> Result<String, BrowserError> {
        self.no_dialog()?;
        let mut params = json!({"format": format});
        if let Some(target) = target {
            let backend = self.resolve_target(target).await?;
            let rect = self.call_on(backend, target, RECT_JS, vec![]).await?;
            params["clip"] = json!({"x": rect["x"], "y": rect["y"], "width": rect["width"], "height": rect["height"], "scale": 1});
            params["captureBeyondViewport"] = json!(true);
        } else if full_page {
            params["captureBeyondViewport"] = json!(true);
            let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
            let size = &metrics["cssContentSize"];
            params["clip"] = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        }
        let shot = self.call("Page.captureScreenshot", params).await?;
        shot["data"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BrowserError::Protocol("captureScreenshot gave no data".into()))
    }

    /// The page as PDF (base64).
    pub async fn pdf(&self) -> Result<String, BrowserError> {
        self.no_dialog()?;
        let pdf = self
            .conn
            .call(
                "Page.printToPDF",
                json!({"printBackground": true}),
                Some(&self.session_id),
                self.timeouts.navigation,
            )
            .await?;
        pdf["data"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BrowserError::Protocol("printToPDF gave no data".into()))
    }

    /// The page's HTML.
    pub async fn content(&self) -> Result<String, BrowserError> {
        let html = self
            .evaluate(
                "() => document.documentElement ? document.documentElement.outerHTML : ''",
                None,
            )
            .await?;
        Ok(html.as_str().unwrap_or_default().to_string())
    }

    /// Console messages (the last few hundred): of the current document, or with `all` since the
    /// tab opened.
    pub fn console(&self, all: bool) -> Vec<ConsoleEntry> {
        let s = self.lock();
        s.console
            .iter()
            .filter(|e| all || e.document == s.documents)
            .cloned()
            .collect()
    }

    /// Requests the current document made (the last few hundred; the request that loaded it
    /// counts as its own).
    pub fn network(&self) -> Vec<NetworkEntry> {
        let s = self.lock();
        // The document's own request is made before the navigation commits it.
        let first = s
            .network
            .iter()
            .rposition(|e| e.document + 1 == s.documents && e.kind == "Document");
        s.network
            .iter()
            .enumerate()
            .filter(|(i, e)| e.document == s.documents || Some(*i) == first)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The body of request `entry`'s response (base64 when it is binary), while the browser
    /// still holds it.
    pub async fn response_body(
        &self,
        entry: &NetworkEntry,
    ) -> Result<(String, bool), BrowserError> {
        let reply = self
            .call(
                "Network.getResponseBody",
                json!({"requestId": entry.request_id}),
            )
            .await
            .map_err(|e| {
                BrowserError::Invalid(format!(
                    "the response body of {} is not available (not loaded yet, a redirect, or no longer held by the browser): {e}",
                    entry.url
                ))
            })?;
        Ok((
            reply["body"].as_str().unwrap_or_default().to_string(),
            reply["base64Encoded"].as_bool().unwrap_or(false),
        ))
    }

    /// The body request `entry` sent.
    pub async fn request_body(&self, entry: &NetworkEntry) -> Result<String, BrowserError> {
        if !entry.has_body {
            return Ok(String::new());
        }
        let reply = self
            .call(
                "Network.getRequestPostData",
                json!({"requestId": entry.request_id}),
            )
            .await
            .map_err(|e| {
                BrowserError::Invalid(format!(
                    "the request body of {} is not available: {e}",
                    entry.url
                ))
            })?;
        Ok(reply["postData"].as_str().unwrap_or_default().to_string())
    }

    /// Waits until `text` appears or `gone` disappears, or `seconds` pass.
    pub async fn wait_for(
        &self,
        text: Option<&str>,
        gone: Option<&str>,
        seconds: Option<f64>,
    ) -> Result<String, BrowserError> {
        if text.is_none() && gone.is_none() && seconds.is_none() {
            return Err(BrowserError::Invalid(
                "say what to wait for: `text` to appear, `textGone` to go away, or `time` in seconds"
                    .into(),
            ));
        }
        let budget = Duration::from_secs_f64(seconds.unwrap_or(0.0).clamp(0.0, 60.0));
        if text.is_none() && gone.is_none() {
            tokio::time::sleep(budget).await;
            return Ok(format!("waited {:.1} s", budget.as_secs_f64()));
        }
        let deadline = Instant::now()
            + if seconds.is_some() {
                budget
            } else {
                self.timeouts.navigation
            };
        loop {
            let body = self
                .evaluate("() => document.body ? document.body.innerText : ''", None)
                .await?;
            let body = body.as_str().unwrap_or_default();
            let appeared = text.is_none_or(|t| body.contains(t));
            let vanished = gone.is_none_or(|g| !body.contains(g));
            if appeared && vanished {
                return Ok(match (text, gone) {
                    (Some(t), _) => format!("{t:?} is on the page"),
                    (None, Some(g)) => format!("{g:?} is gone from the page"),
                    _ => String::new(),
                });
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::Timeout(match (text, gone) {
                    (Some(t), _) => format!("{t:?} did not appear"),
                    (None, Some(g)) => format!("{g:?} did not go away"),
                    _ => String::new(),
                }));
            }
            let notified = self.changed.notified();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }
}

/// An element's box in the page, for an element screenshot.
pub(super) const RECT_JS: &str = r#"function() {
  this.scrollIntoView({block: "center", behavior: "instant"});
  const r = this.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: Math.max(1, r.width), height: Math.max(1, r.height)};
}"#;
