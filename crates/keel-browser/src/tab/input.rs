//! Acting on a page as a person does: real mouse events at an element's centre (after checking
//! what is on top), typing through the editing pipeline, keys, selects, file choosers, dialogs.

use super::*;

/// How long a click on a link or a submit button waits for its navigation to start before the
/// page counts as settled without one.
const LIKELY_NAVIGATION_WAIT: Duration = Duration::from_millis(100);

/// Where to click an element, and what the click may open.
pub(super) struct ClickPoint {
    pub(super) x: f64,
    pub(super) y: f64,
    /// A file input: the click opens a chooser.
    file_input: bool,
    /// A link to another document or a submit button: the click likely navigates.
    may_navigate: bool,
    /// A link to a file to download (`<a download>`).
    downloads: bool,
    /// The element (or an ancestor) can be dragged (HTML drag and drop).
    pub(super) draggable: bool,
    /// The element is in an out-of-process frame: the browser routes the mouse there by the
    /// frames last drawn, which may lag on a busy machine.
    remote: bool,
}

impl Tab {
    /// The point to click on an element: scrolled into view, its center, and checked to be the
    /// element on top there (else an error names what covers it).
    pub(super) async fn click_point(
        &self,
        backend: i64,
        target: &str,
    ) -> Result<ClickPoint, BrowserError> {
        // The chain of out-of-process frames around the element, innermost first, each `<iframe>`
        // scrolled into view from the outermost in.
        let (frame, _) = split_node(backend);
        let mut chain = Vec::new();
        let mut current = frame;
        while current > 0 {
            if chain.len() > MAX_FRAME_DEPTH {
                return Err(BrowserError::Invalid(format!(
                    "cannot click {target}: its frames are nested too deep"
                )));
            }
            let (parent, session, owner) = self.frame_owner(current, target).await?;
            chain.push((session, owner));
            current = parent;
        }
        for (session, owner) in chain.iter().rev() {
            let _ = self
                .call_in(
                    session,
                    "DOM.scrollIntoViewIfNeeded",
                    json!({"backendNodeId": owner}),
                )
                .await;
        }
        let point = self.call_on(backend, target, POINT_JS, vec![]).await?;
        // Measured after the element was scrolled into view, which may scroll the page too.
        let mut offset = (0.0, 0.0);
        if !chain.is_empty() {
            // The browser routes input to another process's frame by the last frames drawn:
            // let two frames be drawn after the scroll, in every frame on the way, so the click
            // lands where it aims.
            let own = self.frame_session(frame, target)?;
            let sessions = chain
                .iter()
                .map(|(session, _)| session.clone())
                .chain([own]);
            futures::future::join_all(
                sessions.map(|session| async move { self.two_frames(&session).await }),
            )
            .await;
            for (session, owner) in &chain {
                let (x, y) = self.frame_offset(session, *owner).await?;
                offset.0 += x;
                offset.1 += y;
            }
        }
        if let Some(problem) = point.get("problem").and_then(Value::as_str) {
            return Err(BrowserError::Invalid(format!(
                "cannot click {target}: {problem}"
            )));
        }
        match (point["x"].as_f64(), point["y"].as_f64()) {
            (Some(x), Some(y)) => Ok(ClickPoint {
                x: x + offset.0,
                y: y + offset.1,
                file_input: point["file"] == json!(true),
                may_navigate: point["navigates"] == json!(true),
                downloads: point["download"] == json!(true),
                draggable: point["draggable"] == json!(true),
                remote: !chain.is_empty(),
            }),
            _ => Err(BrowserError::Invalid(format!(
                "cannot click {target}: it has no position on the page"
            ))),
        }
    }

    /// Waits until the frame of `session` has drawn two more frames (what a page does with
    /// input is seen by then); a frame that does not answer is not waited for.
    pub(super) async fn two_frames(&self, session: &str) {
        let _ = self
            .page_call(
                session,
                "Runtime.evaluate",
                json!({"expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))", "awaitPromise": true}),
                self.timeouts.action,
            )
            .await;
    }

    /// Clicks an element like a person (mouse down and up at its center) and waits for what it caused.
    /// `modifiers`: the keys held, as the protocol's bit mask (Alt 1, Control 2, Meta 4, Shift 8).
    pub async fn click(
        &self,
        target: &str,
        double: bool,
        button: &str,
        modifiers: i64,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let mut point = self.click_point(backend, target).await?;
        let (file_input, may_navigate, downloads) =
            (point.file_input, point.may_navigate, point.downloads);
        let before = self.lock().mark();
        // In an out-of-process frame, the element says whether the mouse reached it; a click
        // that went astray (the frame's new position not drawn yet) is tried once more.
        let tries = if point.remote { 2 } else { 1 };
        for attempt in 1..=tries {
            if point.remote {
                self.call_on(backend, target, ARM_HIT_JS, vec![]).await?;
            }
            if self
                .press(point.x, point.y, double, button, modifiers)
                .await?
                || !point.remote
            {
                break;
            }
            let hit = self
                .call_on(
                    backend,
                    target,
                    "function() { return this.__keelHit === true; }",
                    vec![],
                )
                .await;
            // Reached, or gone because the click took it away (a navigation, say).
            if !matches!(hit, Ok(Value::Bool(false))) {
                break;
            }
            if attempt == tries {
                return Err(BrowserError::Invalid(format!(
                    "the click did not reach {target}: its frame may not be drawn yet; try again"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            point = self.click_point(backend, target).await?;
        }
        if may_navigate && !downloads {
            // A link or a submit button: the browser starts its navigation in a task of its own,
            // which a busy machine may run well after the quiet period has passed.
            self.wait_until(LIKELY_NAVIGATION_WAIT, |s| {
                s.navigation_requested.is_some()
                    || s.loads > before.loads
                    || s.documents > before.documents
                    || s.dialog.is_some()
                    || s.closed
            })
            .await;
        }
        if file_input {
            // The chooser is announced a moment after the click: wait for it.
            self.wait_until(self.timeouts.action, |s| s.file_chooser.is_some())
                .await;
        }
        let outcome = self.settle(before, self.timeouts.action, true).await;
        // A link to a file, or a navigation that went nowhere (it may have turned into a
        // download): the download is announced a moment later, and is what the click gave.
        let (went_nowhere, began) = {
            let s = self.lock();
            (
                s.loads_gone_nowhere > before.loads_gone_nowhere,
                s.downloads > before.downloads,
            )
        };
        if !began && outcome.dialog.is_none() && (downloads || went_nowhere) {
            return Ok(self.await_download(before).await);
        }
        Ok(outcome)
    }

    /// Moves the mouse to `(x, y)` and clicks there (twice with `double`); whether a dialog the
    /// click opened cut it short.
    async fn press(
        &self,
        x: f64,
        y: f64,
        double: bool,
        button: &str,
        modifiers: i64,
    ) -> Result<bool, BrowserError> {
        {
            let mut s = self.lock();
            s.mouse = (x, y);
            // The click ends with its button up, whatever browser_mouse_down left held.
            s.held &= !super::pointer::button_bit(button);
        }
        let clicks = if double { 2 } else { 1 };
        for count in 1..=clicks {
            // Move, press and release are sent back to back (the browser handles them in order) and
            // awaited together: one round trip instead of three.
            let moved = async {
                if count == 1 {
                    self.call(
                        "Input.dispatchMouseEvent",
                        json!({"type": "mouseMoved", "x": x, "y": y, "modifiers": modifiers}),
                    )
                    .await?;
                }
                Ok::<_, BrowserError>(())
            };
            let pressed = self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mousePressed", "x": x, "y": y, "button": button, "clickCount": count, "modifiers": modifiers}),
            );
            let released = self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mouseReleased", "x": x, "y": y, "button": button, "clickCount": count, "modifiers": modifiers}),
            );
            // A dialog opened by the click holds the input events until it is answered: each
            // call ends when it opens (`page_call`), and the click returns then.
            match tokio::try_join!(moved, pressed, released) {
                Err(e) if e.is_dialog() => return Ok(true),
                other => {
                    other?;
                }
            }
        }
        Ok(false)
    }

    /// Resolves with the dialog open once one opened after `opened` (`TabState::dialogs_opened`
    /// then).
    pub(super) async fn dialog_opened_after(&self, opened: u64) -> Dialog {
        loop {
            let notified = self.changed.notified();
            {
                let s = self.lock();
                if s.dialogs_opened > opened
                    && let Some(dialog) = &s.dialog
                {
                    return dialog.clone();
                }
            }
            notified.await;
        }
    }

    /// Drops the cached tree (an action may change the page) and fails while a dialog is open.
    pub(super) fn no_dialog(&self) -> Result<(), BrowserError> {
        // Every action starts here: what it does may change the page.
        self.lock().tree_cache = None;
        match self.dialog() {
            Some(dialog) => Err(dialog_open(&dialog)),
            None => Ok(()),
        }
    }

    /// Moves the mouse over an element.
    pub async fn hover(&self, target: &str) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let ClickPoint { x, y, .. } = self.click_point(backend, target).await?;
        let before = self.lock().mark();
        match self.mouse_event("mouseMoved", x, y, "none", 0).await {
            Err(e) if e.is_dialog() => return Ok(self.settle_if_started(before).await),
            other => other?,
        }
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Replaces the text of an editable element with `text` (as typed input events); with
    /// `submit`, presses Enter afterwards.
    pub async fn type_text(
        &self,
        target: &str,
        text: &str,
        submit: bool,
        slowly: bool,
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let before = self.lock().mark();
        // Focus, select and insert in one call (execCommand goes through the browser's editing
        // pipeline: the page sees the same input events as from a keyboard).
        let typed = async {
            let editable = self
                .call_on(
                    backend,
                    target,
                    FOCUS_AND_SELECT_JS,
                    vec![json!(text), json!(slowly)],
                )
                .await?;
            if let Some(problem) = editable.get("problem").and_then(Value::as_str) {
                return Err(BrowserError::Invalid(format!(
                    "cannot type into {target}: {problem}"
                )));
            }
            if editable.get("typed") == Some(&json!(true)) {
                // Typed already (a field with a picker takes its value whole).
            } else if slowly {
                for ch in text.chars() {
                    self.call(
                        "Input.dispatchKeyEvent",
                        json!({"type": "keyDown", "text": ch.to_string(), "key": ch.to_string()}),
                    )
                    .await?;
                    self.call(
                        "Input.dispatchKeyEvent",
                        json!({"type": "keyUp", "key": ch.to_string()}),
                    )
                    .await?;
                }
            } else {
                // The page's editor refused execCommand: type through the input pipeline instead.
                self.call("Input.insertText", json!({"text": text})).await?;
            }
            Ok(())
        };
        // A dialog a handler opens (on focus, on input) is the typing's result.
        match typed.await {
            Err(e) if e.is_dialog() => return Ok(self.settle_if_started(before).await),
            other => other?,
        }
        if submit {
            self.key("Enter").await?;
            return Ok(self.settle(before, self.timeouts.navigation, true).await);
        }
        Ok(self.settle_if_started(before).await)
    }

    /// After an action whose own effects are done when its call returns (typing, picking an
    /// option: the page's handlers ran inside it): waits for what it started (a search-as-you-type
    /// request, a load, a download, a navigation a script asked for), which the events that came
    /// before the call's answer tell;
    /// most such actions start nothing, and then there is no wait at all.
    pub(super) async fn settle_if_started(&self, before: Mark) -> ActionOutcome {
        self.caught_up().await;
        let started = {
            let s = self.lock();
            s.requests > before.requests
                || s.loads > before.loads
                || s.downloads > before.downloads
                || s.navigations_requested > before.navigations_requested
        };
        if started {
            return self.settle(before, self.timeouts.action, true).await;
        }
        let s = self.lock();
        ActionOutcome {
            url: s.url.clone(),
            navigated: s.documents > before.documents,
            dialog: s.dialog.clone(),
            file_chooser: s.file_chooser.is_some(),
            still_busy: false,
            downloads: 0,
            downloading: false,
            stuck_since: s.stuck_since,
        }
    }

    /// Puts files (paths on this machine) into a file input: `target`, or the one whose chooser the
    /// last click opened.
    pub async fn upload_files(
        &self,
        target: Option<&str>,
        paths: &[std::path::PathBuf],
    ) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        // The input: named (its object in the frame that holds it), or the page's open chooser.
        let (session, params) = match target {
            Some(target) => {
                let node = self.resolve_target(target).await?;
                let session = self.frame_session(split_node(node).0, target)?;
                let object = self.object_of(node, target).await?;
                (session, json!({"files": files, "objectId": object}))
            }
            None => {
                let backend = self.lock().file_chooser.ok_or_else(|| {
                    BrowserError::Invalid("no file chooser is open: click the upload button first, or name the file input with `target`".into())
                })?;
                (
                    self.session_id.clone(),
                    json!({"files": files, "backendNodeId": backend}),
                )
            }
        };
        let before = self.lock().mark();
        match self
            .call_in(&session, "DOM.setFileInputFiles", params)
            .await
        {
            Err(e) if e.is_dialog() => {
                self.lock().file_chooser = None;
                return Ok(self.settle_if_started(before).await);
            }
            Err(e) => {
                return Err(BrowserError::Invalid(format!(
                    "cannot put files into that element (is it an <input type=file>?): {e}"
                )));
            }
            Ok(_) => {}
        }
        self.lock().file_chooser = None;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Forgets the file chooser a click opened (it was never shown: nothing else to close).
    pub fn cancel_file_chooser(&self) {
        self.lock().file_chooser = None;
    }

    /// Presses a key (`Enter`, `Tab`, `ArrowDown`, `a`, …) on the focused element.
    pub async fn press_key(&self, key: &str) -> Result<ActionOutcome, BrowserError> {
        self.no_dialog()?;
        let before = self.lock().mark();
        self.key(key).await?;
        Ok(self.settle(before, self.timeouts.action, true).await)
    }

    /// Presses `combo`: a key, or modifiers and a key (`Control+a`, `Shift+Tab`): the modifiers
    /// go down in order, the key is pressed with them held, and they come up in reverse.
    pub(super) async fn key(&self, combo: &str) -> Result<(), BrowserError> {
        let (held, key) = parse_combo(combo).ok_or_else(|| {
            BrowserError::Invalid(format!(
                "unknown key {combo:?}: use a key name like Enter, Tab, Escape, Backspace, ArrowDown, F5, or one character, with modifiers before it if any (Control+a, Shift+Tab)"
            ))
        })?;
        let mut events = Vec::new();
        let mut bits = 0;
        for modifier in &held {
            bits |= modifier.bit;
            events.push(json!({"type": "rawKeyDown", "key": modifier.key, "code": modifier.code, "windowsVirtualKeyCode": modifier.vk, "modifiers": bits}));
        }
        // Shift makes a letter a capital (a named key, like Enter, stays as it is).
        let character = key.key.chars().count() == 1;
        let dom_key = if character && bits & SHIFT != 0 {
            key.key.to_uppercase()
        } else {
            key.key.clone()
        };
        // A character key types its key (Enter types "\r"); a shortcut (Control, Alt or Meta
        // held) types nothing.
        let text = key.text.as_ref().filter(|_| bits & !SHIFT == 0).map(|t| {
            if character {
                dom_key.clone()
            } else {
                t.clone()
            }
        });
        let mut down = json!({"type": if text.is_some() { "keyDown" } else { "rawKeyDown" }, "key": dom_key, "code": key.code, "windowsVirtualKeyCode": key.vk, "modifiers": bits});
        if let Some(text) = text {
            down["text"] = json!(text);
        }
        events.push(down);
        events.push(json!({"type": "keyUp", "key": dom_key, "code": key.code, "windowsVirtualKeyCode": key.vk, "modifiers": bits}));
        for modifier in held.iter().rev() {
            bits &= !modifier.bit;
            events.push(json!({"type": "keyUp", "key": modifier.key, "code": modifier.code, "windowsVirtualKeyCode": modifier.vk, "modifiers": bits}));
        }
        // Sent back to back (the browser handles them in order) and awaited together; a dialog
        // the key opened holds the rest until it is answered: each call ends when it opens
        // (`page_call`), and the key returns then.
        let all = futures::future::try_join_all(
            events
                .into_iter()
                .map(|event| self.call("Input.dispatchKeyEvent", event)),
        );
        match all.await {
            Err(e) if e.is_dialog() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Picks options of a `<select>` by value or visible text; returns the values now selected.
    pub async fn select_option(
        &self,
        target: &str,
        values: &[String],
    ) -> Result<(ActionOutcome, Value), BrowserError> {
        self.no_dialog()?;
        let backend = self.resolve_target(target).await?;
        let before = self.lock().mark();
        let picked = match self
            .call_on(backend, target, SELECT_JS, vec![json!(values)])
            .await
        {
            // A change handler's dialog: the options are picked, the page waits in it.
            Err(e) if e.is_dialog() => {
                return Ok((self.settle_if_started(before).await, Value::Null));
            }
            other => other?,
        };
        if let Some(problem) = picked.get("problem").and_then(Value::as_str) {
            return Err(BrowserError::Invalid(format!(
                "cannot select in {target}: {problem}"
            )));
        }
        Ok((
            self.settle_if_started(before).await,
            picked["selected"].clone(),
        ))
    }

    /// Answers the open dialog (accept or dismiss, with text for a prompt).
    pub async fn handle_dialog(
        &self,
        accept: bool,
        prompt_text: Option<&str>,
    ) -> Result<ActionOutcome, BrowserError> {
        if self.dialog().is_none() {
            return Err(BrowserError::Invalid("no dialog is open".into()));
        }
        let (before, opened) = {
            let s = self.lock();
            (s.mark_resuming(), s.dialogs_opened)
        };
        let mut params = json!({"accept": accept});
        if let Some(text) = prompt_text {
            params["promptText"] = json!(text);
        }
        // Straight to the browser, which answers it while the page is blocked (a page call
        // would first ask the blocked page whether it answers).
        self.conn
            .call(
                "Page.handleJavaScriptDialog",
                params,
                Some(&self.session_id),
                self.timeouts.action,
            )
            .await?;
        {
            let mut s = self.lock();
            // Closed now, unless the page opened its next dialog already: that one's event can
            // come before this answer, and must not be forgotten (the page is blocked in it).
            if s.dialogs_opened == opened {
                s.dialog = None;
            }
        }
        Ok(self.settle(before, self.timeouts.action, true).await)
    }
}

/// A key as `Input.dispatchKeyEvent` wants it.
pub(super) struct KeyDef {
    /// The DOM `key` (`Enter`, `a`, ` `).
    key: String,
    /// The DOM `code` (`Enter`, `KeyA`, `Space`).
    code: String,
    /// The Windows virtual key code (`keyCode` in the page).
    vk: i64,
    /// What it types, if anything.
    text: Option<String>,
}

/// A modifier key.
struct Modifier {
    key: &'static str,
    code: &'static str,
    vk: i64,
    /// Its bit in the protocol's `modifiers`.
    bit: i64,
}

const SHIFT: i64 = 8;

/// A modifier's bit in the protocol's `modifiers` (`Control`, `Shift`, …; `ControlOrMeta` is
/// Control here).
pub(crate) fn modifier_bit(name: &str) -> Option<i64> {
    modifier(name).map(|m| m.bit)
}

fn modifier(name: &str) -> Option<Modifier> {
    let (key, code, vk, bit) = match name.to_ascii_lowercase().as_str() {
        "alt" | "option" => ("Alt", "AltLeft", 18, 1),
        // Control on this platform (Linux), as Playwright has it.
        "control" | "ctrl" | "controlormeta" => ("Control", "ControlLeft", 17, 2),
        "meta" | "cmd" | "command" => ("Meta", "MetaLeft", 91, 4),
        "shift" => ("Shift", "ShiftLeft", 16, SHIFT),
        _ => return None,
    };
    Some(Modifier { key, code, vk, bit })
}

/// `Control+Shift+a` as its modifiers and its key (`+` alone, or last, is the plus key).
fn parse_combo(combo: &str) -> Option<(Vec<Modifier>, KeyDef)> {
    let (mods, key) = match combo.strip_suffix("++") {
        Some(mods) => (mods, "+"),
        None => match combo.rsplit_once('+') {
            Some((mods, key)) if !key.is_empty() => (mods, key),
            _ => ("", combo),
        },
    };
    let held = if mods.is_empty() {
        Vec::new()
    } else {
        mods.split('+').map(modifier).collect::<Option<Vec<_>>>()?
    };
    Some((held, key_definition(key)?))
}

/// A key's name (`Enter`, `F5`, `Space`) or one character, as `Input.dispatchKeyEvent` wants it.
pub(super) fn key_definition(key: &str) -> Option<KeyDef> {
    let named = match key {
        "Enter" => Some(("Enter", "Enter", 13, Some("\r"))),
        "Tab" => Some(("Tab", "Tab", 9, None)),
        "Escape" => Some(("Escape", "Escape", 27, None)),
        "Backspace" => Some(("Backspace", "Backspace", 8, None)),
        "Delete" => Some(("Delete", "Delete", 46, None)),
        "Insert" => Some(("Insert", "Insert", 45, None)),
        "ArrowUp" => Some(("ArrowUp", "ArrowUp", 38, None)),
        "ArrowDown" => Some(("ArrowDown", "ArrowDown", 40, None)),
        "ArrowLeft" => Some(("ArrowLeft", "ArrowLeft", 37, None)),
        "ArrowRight" => Some(("ArrowRight", "ArrowRight", 39, None)),
        "Home" => Some(("Home", "Home", 36, None)),
        "End" => Some(("End", "End", 35, None)),
        "PageUp" => Some(("PageUp", "PageUp", 33, None)),
        "PageDown" => Some(("PageDown", "PageDown", 34, None)),
        " " | "Space" => Some((" ", "Space", 32, Some(" "))),
        _ => None,
    };
    if let Some((key, code, vk, text)) = named {
        return Some(KeyDef {
            key: key.to_string(),
            code: code.to_string(),
            vk,
            text: text.map(str::to_string),
        });
    }
    if let Some(n) = key.strip_prefix('F').and_then(|n| n.parse::<i64>().ok())
        && (1..=12).contains(&n)
    {
        return Some(KeyDef {
            key: key.to_string(),
            code: key.to_string(),
            vk: 111 + n,
            text: None,
        });
    }
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    let upper = c.to_ascii_uppercase();
    // US layout: the code and key code of the key that types `c` (0 for others).
    let (code, vk) = match c {
        'a'..='z' | 'A'..='Z' => (format!("Key{upper}"), i64::from(upper as u8)),
        '0'..='9' => (format!("Digit{c}"), i64::from(c as u8)),
        ';' => ("Semicolon".into(), 186),
        '=' => ("Equal".into(), 187),
        ',' => ("Comma".into(), 188),
        '-' => ("Minus".into(), 189),
        '.' => ("Period".into(), 190),
        '/' => ("Slash".into(), 191),
        '`' => ("Backquote".into(), 192),
        '[' => ("BracketLeft".into(), 219),
        '\\' => ("Backslash".into(), 220),
        ']' => ("BracketRight".into(), 221),
        '\'' => ("Quote".into(), 222),
        _ => (String::new(), 0),
    };
    Some(KeyDef {
        key: c.to_string(),
        code,
        vk,
        text: Some(c.to_string()),
    })
}

/// Scrolls the element into view and returns its center, or the problem (hidden, covered).
pub(super) const POINT_JS: &str = r##"function() {
  if (!this.isConnected) return {problem: "it is no longer on the page; take a new snapshot"};
  this.scrollIntoView({block: "center", inline: "center", behavior: "instant"});
  const r = this.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {problem: "it is not visible (zero size or hidden)"};
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const root = this.getRootNode();
  const top = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
  if (top && top !== this && !this.contains(top) && !(top.contains && top.contains(this) && top.tagName === "LABEL")) {
    let d = top.tagName.toLowerCase();
    if (top.id) d += "#" + top.id;
    if (typeof top.className === "string" && top.className.trim()) d += "." + top.className.trim().split(/\s+/).join(".");
    const t = (top.innerText || "").trim().slice(0, 60);
    return {problem: "another element is on top of it: <" + d + ">" + (t ? " \"" + t + "\"" : "") + " (close the overlay or cookie banner first)"};
  }
  // Inside (same-origin) iframes, add each frame's offset: the mouse works in the top page's coordinates.
  const [ox, oy] = __keel.origin(this);
  // A link to another document, or a form's submit button: the click will likely navigate.
  const link = this.closest("a[href], area[href]");
  const href = link ? link.getAttribute("href") || "" : "";
  const control = this.closest("button, input");
  const navigates = (!!link && !href.startsWith("#") && !/^javascript:/i.test(href) && link.target !== "_blank") ||
    (!!control && !!control.form && (control.type === "submit" || control.type === "image"));
  const dragged = this.closest('[draggable="true"], a[href], img');
  return {x: x + ox, y: y + oy, file: this.tagName === "INPUT" && this.type === "file", navigates, download: !!link && link.hasAttribute("download"), draggable: !!dragged && dragged.draggable};
}"##;

/// Focuses a text field, selects its text and types `text` over it (`null`: focus only).
pub(super) const FOCUS_AND_SELECT_JS: &str = r#"function(text, slowly) {
  if (!this.isConnected) return {problem: "it is no longer on the page; take a new snapshot"};
  // Fields with a picker take their value whole, in a set format (typing into them does nothing).
  const formats = {date: "a date like 2026-12-24", time: "a time like 17:30 or 17:30:15", "datetime-local": "a date and time like 2026-12-24T17:30", month: "a month like 2026-12", week: "a week like 2026-W52", color: "a colour like #1a2b3c", range: "a number within the slider's min and max, on its step"};
  const picker = this.tagName === "INPUT" && Object.hasOwn(formats, this.type);
  const editable = picker || this.isContentEditable || (this.tagName === "TEXTAREA") ||
    (this.tagName === "INPUT" && !["button","submit","reset","checkbox","radio","file","image"].includes(this.type));
  if (!editable) return {problem: "it is not a text field (it is <" + this.tagName.toLowerCase() + (this.type ? " type=" + this.type : "") + ">)"};
  if (this.disabled || this.readOnly) return {problem: "it is disabled or read-only"};
  // Scrolled only when out of view: a scroll costs a layout and a frame.
  const r = this.getBoundingClientRect();
  if (r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) this.scrollIntoView({block: "center", behavior: "instant"});
  this.focus({preventScroll: true});
  if (picker) {
    const value = this.type === "color" ? text.trim().toLowerCase() : text.trim();
    const old = this.value;
    this.value = value;
    if (this.value !== value) {
      this.value = old;
      return {problem: "<input type=" + this.type + "> takes " + formats[this.type] + ", not " + JSON.stringify(text)};
    }
    this.dispatchEvent(new Event("input", {bubbles: true, composed: true}));
    this.dispatchEvent(new Event("change", {bubbles: true}));
    return {typed: true};
  }
  if (this.select) this.select(); else document.execCommand("selectAll");
  if (slowly) return {};
  const typed = text === "" ? document.execCommand("delete") : document.execCommand("insertText", false, text);
  return {typed};
}"#;

/// Arms an element to tell whether the next mouse press reached it (or something inside it), in
/// keel's world: the page sees neither the listener nor the mark.
/// Listened for on the window, where a press arrives first (a page that stops it on its way
/// does not hide it).
pub(super) const ARM_HIT_JS: &str = r#"function() {
  const el = this;
  el.__keelHit = false;
  el.ownerDocument.defaultView.addEventListener("mousedown", (e) => { if (e.composedPath().includes(el)) el.__keelHit = true; }, {once: true, capture: true});
  return true;
}"#;

/// Selects the options of a `<select>` named by value or visible text.
pub(super) const SELECT_JS: &str = r#"function(values) {
  if (this.tagName !== "SELECT") return {problem: "it is not a <select> (use browser_click for custom dropdowns)"};
  const options = Array.from(this.options);
  const missing = values.filter(v => !options.some(o => o.value === v || o.label === v || o.text.trim() === v));
  if (missing.length) return {problem: "no option " + JSON.stringify(missing) + "; options are " + JSON.stringify(options.map(o => o.text.trim()))};
  if (!this.multiple && values.length > 1) return {problem: "it takes one option"};
  for (const o of options) o.selected = values.some(v => o.value === v || o.label === v || o.text.trim() === v);
  this.dispatchEvent(new Event("input", {bubbles: true}));
  this.dispatchEvent(new Event("change", {bubbles: true}));
  return {selected: options.filter(o => o.selected).map(o => o.value)};
}"#;

/// Out-of-process frames inside one another at most, for an action.
pub(super) const MAX_FRAME_DEPTH: usize = 8;
