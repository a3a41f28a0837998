//! The mouse by coordinates and by drags, and the viewport's size: what Playwright MCP offers
//! beyond clicking an element (`browser_drag`, `browser_resize`, the `browser_mouse_*` tools).

use super::input::ClickPoint;
use super::*;

/// Mouse moves a drag makes between its two ends (pages that follow the mouse see a path, not a
/// jump).
const DRAG_STEPS: usize = 5;

/// How long a drag waits for the page to start an HTML drag-and-drop after the mouse moved.
const DRAG_START_WAIT: Duration = Duration::from_millis(200);

/// The protocol's bit for a held mouse button (`buttons`).
pub(super) fn button_bit(button: &str) -> i64 {
    match button {
        "right" => 2,
        "middle" => 4,
        _ => 1,
    }
}

impl Tab {
    /// Drags element `from` onto element `to`: the mouse pressed on one, moved, released on the
    /// other. An HTML drag-and-drop the page starts is carried to `to` as a person's would be.
    pub async fn drag(&self, from: &str, to: &str) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let start_node = self.resolve_target(from).await?;
        let end_node = self.resolve_target(to).await?;
        let ClickPoint {
            x: x0,
            y: y0,
            draggable,
            ..
        } = self.click_point(start_node, from).await?;
        let before = self.lock().mark();
        if draggable {
            // The page's drag is handed to us instead of to a desktop that does not exist.
            self.lock().drag = None;
            self.call("Input.setInterceptDrags", json!({"enabled": true}))
                .await?;
        }
        let result = async {
            self.mouse_event("mouseMoved", x0, y0, "none", 0).await?;
            self.mouse_event("mousePressed", x0, y0, "left", 1).await?;
            // The end is measured with the mouse down: scrolling it into view may move the start.
            let end = self.click_point(end_node, to).await?;
            self.move_held((x0, y0), (end.x, end.y)).await?;
            let data = if draggable {
                self.wait_until(DRAG_START_WAIT, |s| s.drag.is_some()).await;
                self.lock().drag.take()
            } else {
                None
            };
            if let Some(data) = data {
                self.drop_at(end.x, end.y, &data).await?;
            }
            self.mouse_event("mouseReleased", end.x, end.y, "left", 1)
                .await?;
            Ok::<_, BrowserError>(())
        }
        .await;
        if draggable {
            let _ = self
                .call("Input.setInterceptDrags", json!({"enabled": false}))
                .await;
        }
        result?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Moves the mouse to `(x, y)` (viewport pixels).
    pub async fn mouse_move(&self, x: f64, y: f64) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        self.mouse_event("mouseMoved", x, y, "none", 0).await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Clicks at `(x, y)`: `count` clicks of `button`, each held for `hold`.
    pub async fn mouse_click(
        &self,
        x: f64,
        y: f64,
        button: &str,
        count: u32,
        hold: Duration,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        self.mouse_event("mouseMoved", x, y, "none", 0).await?;
        for n in 1..=count.max(1) {
            self.mouse_event("mousePressed", x, y, button, n).await?;
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            self.mouse_event("mouseReleased", x, y, button, n).await?;
        }
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Presses (`down`) or releases a mouse button where the mouse is.
    pub async fn mouse_button(
        &self,
        down: bool,
        button: &str,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        let (x, y) = self.lock().mouse;
        let kind = if down {
            "mousePressed"
        } else {
            "mouseReleased"
        };
        self.mouse_event(kind, x, y, button, 1).await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Drags with the left button from one point to another.
    pub async fn mouse_drag(
        &self,
        from: (f64, f64),
        to: (f64, f64),
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        self.mouse_event("mouseMoved", from.0, from.1, "none", 0)
            .await?;
        self.mouse_event("mousePressed", from.0, from.1, "left", 1)
            .await?;
        self.move_held(from, to).await?;
        self.mouse_event("mouseReleased", to.0, to.1, "left", 1)
            .await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Turns the mouse wheel where the mouse is (pixels; positive `dy` scrolls down).
    pub async fn mouse_wheel(&self, dx: f64, dy: f64) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        let (x, y) = self.lock().mouse;
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseWheel", "x": x, "y": y, "deltaX": dx, "deltaY": dy}),
        )
        .await?;
        // The browser acknowledges a wheel before the page has seen it (scrolling does not wait
        // for the page's listeners): two frames later it has.
        self.two_frames(&self.session_id).await;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Drops `data` (MIME type → text) and `files` (paths on this machine) onto element
    /// `target`, as if dragged in from outside the page.
    pub async fn drop_onto(
        &self,
        target: &str,
        data: &[(String, String)],
        files: &[std::path::PathBuf],
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let node = self.resolve_target(target).await?;
        let ClickPoint { x, y, .. } = self.click_point(node, target).await?;
        let before = self.lock().mark();
        let items: Vec<Value> = data
            .iter()
            .map(|(mime, text)| json!({"mimeType": mime, "data": text}))
            .collect();
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        // Copy, move and link: whatever the page's drop zone accepts.
        let drag = json!({"items": items, "files": files, "dragOperationsMask": 1 | 2 | 16});
        self.lock().mouse = (x, y);
        self.drop_at(x, y, &drag).await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Emulates CSS media features (`prefers-color-scheme`, …: a value, or null to clear it)
    /// and the media type (`media`: screen, print or null); features not named keep their
    /// setting. Returns what is emulated now.
    pub async fn emulate_media(
        &self,
        changes: serde_json::Map<String, Value>,
    ) -> Result<serde_json::Map<String, Value>, BrowserError> {
        let now = {
            let mut s = self.lock();
            for (name, value) in changes {
                if value.is_null() {
                    s.media.remove(&name);
                } else {
                    s.media.insert(name, value);
                }
            }
            s.media.clone()
        };
        let features: Vec<Value> = now
            .iter()
            .filter(|(name, _)| *name != "media")
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let media = now.get("media").and_then(Value::as_str).unwrap_or("");
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"media": media, "features": features}),
        )
        .await?;
        self.lock().tree_cache = None;
        Ok(now)
    }

    /// Sets the viewport to `width` × `height` CSS pixels (as Playwright MCP's browser_resize).
    pub async fn resize(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 0, "mobile": false}),
        )
        .await?;
        let mut s = self.lock();
        s.tree_cache = None;
        s.viewport = Some((width, height));
        Ok(())
    }

    /// What the agent set of how the page is shown (viewport size, emulated media), to be put
    /// back on a tab of a session that slept ([`Tab::apply_display`]); null when nothing was.
    pub fn display(&self) -> Value {
        let s = self.lock();
        if s.viewport.is_none() && s.media.is_empty() {
            return Value::Null;
        }
        json!({
            "viewport": s.viewport.map(|(w, h)| json!({"width": w, "height": h})),
            "media": s.media,
        })
    }

    /// Puts back what [`Tab::display`] gave.
    pub async fn apply_display(&self, display: &Value) -> Result<(), BrowserError> {
        let size = |k: &str| {
            display["viewport"][k]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
        };
        if let (Some(width), Some(height)) = (size("width"), size("height")) {
            self.resize(width, height).await?;
        }
        if let Some(media) = display["media"].as_object()
            && !media.is_empty()
        {
            self.emulate_media(media.clone()).await?;
        }
        Ok(())
    }

    /// One mouse event at `(x, y)`: a move (with `button` held, or `none`: with the buttons
    /// held now, if any), or a press or release of `button` (`clicks`: its click count). The
    /// buttons held are kept across calls, as a person's hand keeps them.
    pub(super) async fn mouse_event(
        &self,
        kind: &str,
        x: f64,
        y: f64,
        button: &str,
        clicks: u32,
    ) -> Result<(), BrowserError> {
        let (button, buttons) = {
            let mut s = self.lock();
            s.mouse = (x, y);
            match kind {
                "mousePressed" => s.held |= button_bit(button),
                "mouseReleased" => s.held &= !button_bit(button),
                _ => {}
            }
            // A plain move reports the button held (the protocol wants one named with `buttons`).
            let button = match (kind, button, s.held) {
                ("mouseMoved", "none", held) if held & 1 != 0 => "left",
                ("mouseMoved", "none", held) if held & 2 != 0 => "right",
                ("mouseMoved", "none", held) if held & 4 != 0 => "middle",
                _ => button,
            };
            (button, s.held)
        };
        let mut params =
            json!({"type": kind, "x": x, "y": y, "button": button, "buttons": buttons});
        if kind != "mouseMoved" {
            params["clickCount"] = json!(clicks);
        }
        self.call("Input.dispatchMouseEvent", params).await?;
        Ok(())
    }

    /// Moves the mouse from `from` to `to` with the left button held, in `DRAG_STEPS` steps.
    async fn move_held(&self, from: (f64, f64), to: (f64, f64)) -> Result<(), BrowserError> {
        for step in 1..=DRAG_STEPS {
            let t = step as f64 / DRAG_STEPS as f64;
            let (x, y) = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            self.mouse_event("mouseMoved", x, y, "left", 0).await?;
        }
        Ok(())
    }

    /// Carries the drag `data` (the protocol's `DragData`) in at `(x, y)` and drops it there.
    async fn drop_at(&self, x: f64, y: f64, data: &Value) -> Result<(), BrowserError> {
        for kind in ["dragEnter", "dragOver", "drop"] {
            self.call(
                "Input.dispatchDragEvent",
                json!({"type": kind, "x": x, "y": y, "data": data}),
            )
            .await?;
        }
        Ok(())
    }
}
