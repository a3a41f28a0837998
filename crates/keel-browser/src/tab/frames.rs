//! Frames and keel's world in each: the page and its same-origin frames are walked in one
//! world; frames of another origin in their own (same-process ones in a world made there,
//! cross-site ones in their own attached session). Elements are keyed `number + (frame << 32)`.

use super::*;

impl Tab {
    /// The trees of the iframes in `nodes` whose documents are walked on their own (another
    /// origin: in this process or another), nested ones included, by the key of their `<iframe>`.
    pub(super) async fn frame_trees(&self, nodes: &[PageNode]) -> HashMap<i64, Vec<PageNode>> {
        const MAX_FRAMES: usize = 32;
        let mut frames = HashMap::new();
        let mut queue: Vec<i64> = frame_elements(nodes);
        while let Some(element) = queue.pop() {
            if frames.len() >= MAX_FRAMES {
                break;
            }
            let Ok(holder) = self.frame_holder(element).await else {
                continue;
            };
            let Ok(inner) = self.walk(holder, None, "an iframe").await else {
                continue;
            };
            queue.extend(frame_elements(&inner));
            frames.insert(element, inner);
        }
        frames
    }

    /// The index (1-based) in `child_frames` of the frame an `<iframe>` element shows, registering
    /// it when it is in its parent's process and not known yet.
    pub(super) async fn frame_holder(&self, element: i64) -> Result<usize, BrowserError> {
        let (parent, _) = split_node(element);
        let session = self.frame_session(parent, "an iframe")?;
        let object = self.object_of(element, "an iframe").await?;
        let described = self
            .call_in(&session, "DOM.describeNode", json!({"objectId": object}))
            .await?;
        let frame_id = described["node"]["frameId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("an iframe without a frame".into()))?
            .to_string();
        if let Some(index) = self.known_frame(&frame_id) {
            return Ok(index);
        }
        // In the page's process when the page's events announced keel's world there; in the
        // parent's process when that world can be made there.
        let announced = (session == self.session_id)
            .then(|| self.lock().worlds.get(&frame_id).copied())
            .flatten();
        let in_process = match announced {
            Some(context) => Some(context),
            None => {
                let created = self
                    .call_in(
                        &session,
                        "Page.createIsolatedWorld",
                        json!({"frameId": frame_id, "worldName": KEEL_WORLD}),
                    )
                    .await
                    .ok()
                    .and_then(|created| created["executionContextId"].as_i64());
                if let Some(context) = created {
                    self.call_in(
                        &session,
                        "Runtime.evaluate",
                        json!({"expression": WORLD_JS, "contextId": context}),
                    )
                    .await?;
                }
                created
            }
        };
        if let Some(context) = in_process {
            let mut state = self.lock();
            state.worlds.insert(frame_id.clone(), context);
            if let Some(index) = find_frame(&state, &frame_id) {
                return Ok(index);
            }
            state.child_frames.push(Some(ChildFrame {
                session,
                frame_id,
                parent,
                in_process: true,
            }));
            return Ok(state.child_frames.len());
        }
        // Not in this process: a cross-site iframe, whose session is announced a moment after
        // the page loads.
        self.child_session(&frame_id, Duration::from_secs(2))
            .await
            .map(|(index, _)| index)
            .ok_or_else(|| BrowserError::Invalid("an iframe whose frame is not attached".into()))
    }

    /// The index of the child frame `frame_id`, if it is known.
    pub(super) fn known_frame(&self, frame_id: &str) -> Option<usize> {
        find_frame(&self.lock(), frame_id)
    }

    /// The index (1-based) and session of the out-of-process iframe showing `frame_id`, waiting up
    /// to `wait` for it to be attached.
    pub(super) async fn child_session(
        &self,
        frame_id: &str,
        wait: Duration,
    ) -> Option<(usize, String)> {
        let find = |state: &TabState| {
            state.child_frames.iter().enumerate().find_map(|(i, c)| {
                c.as_ref()
                    .filter(|c| c.frame_id == frame_id)
                    .map(|c| (i + 1, c.session.clone()))
            })
        };
        self.wait_until(wait, |state| find(state).is_some()).await;
        find(&self.lock())
    }

    /// The session of frame `frame` (0: the page).
    pub(super) fn frame_session(&self, frame: usize, target: &str) -> Result<String, BrowserError> {
        self.frame_of(frame, target).map(|(session, _)| session)
    }

    /// The session and frame ID of frame `frame` (0: the page's main frame).
    pub(super) fn frame_of(
        &self,
        frame: usize,
        target: &str,
    ) -> Result<(String, String), BrowserError> {
        let state = self.lock();
        if frame == 0 {
            return Ok((
                self.session_id.clone(),
                state.main_frame.clone().unwrap_or_default(),
            ));
        }
        match state.child_frames.get(frame - 1) {
            Some(Some(child)) => Ok((child.session.clone(), child.frame_id.clone())),
            _ => Err(BrowserError::Invalid(format!(
                "element {target} was in a frame that is gone; take a new snapshot (browser_snapshot)"
            ))),
        }
    }

    /// The session and execution context of keel's world in frame `frame`, made there (and the
    /// script run in it) when no event announced it.
    pub(super) async fn world(
        &self,
        frame: usize,
        target: &str,
    ) -> Result<(String, i64), BrowserError> {
        let (session, frame_id) = self.frame_of(frame, target)?;
        if let Some(context) = self.lock().worlds.get(&frame_id) {
            return Ok((session, *context));
        }
        let created = self
            .call_in(
                &session,
                "Page.createIsolatedWorld",
                json!({"frameId": frame_id, "worldName": KEEL_WORLD}),
            )
            .await?;
        let context = created["executionContextId"]
            .as_i64()
            .ok_or_else(|| BrowserError::Protocol("createIsolatedWorld gave no context".into()))?;
        self.call_in(
            &session,
            "Runtime.evaluate",
            json!({"expression": WORLD_JS, "contextId": context}),
        )
        .await?;
        self.lock().worlds.insert(frame_id, context);
        Ok((session, context))
    }

    /// Calls `function` in keel's world of frame `frame` and returns its value (by value) or an
    /// error naming `target` if it threw. A world that went away unseen (the frame moved on) is
    /// made anew once.
    pub(super) async fn call_world(
        &self,
        frame: usize,
        target: &str,
        function: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let arguments: Vec<Value> = args.into_iter().map(|v| json!({"value": v})).collect();
        let mut retried = false;
        loop {
            let (session, context) = self.world(frame, target).await?;
            let result = self
                .page_call(
                    &session,
                    "Runtime.callFunctionOn",
                    json!({"executionContextId": context, "functionDeclaration": function,
                           "arguments": arguments, "returnByValue": true, "awaitPromise": true}),
                    timeout,
                )
                .await;
            let result = match result {
                Err(BrowserError::Cdp(message)) if !retried && message.contains("context") => {
                    retried = true;
                    let mut state = self.lock();
                    state.worlds.retain(|_, c| *c != context);
                    continue;
                }
                other => other?,
            };
            if let Some(details) = result.get("exceptionDetails") {
                return Err(BrowserError::Invalid(format!(
                    "script error on {target}: {}",
                    exception_text(details, "unknown")
                )));
            }
            return Ok(result["result"]["value"].clone());
        }
    }

    /// The JavaScript object (in keel's world) of the element `node` names, for protocol calls
    /// that take one; an error that says to take a new snapshot if it is gone.
    pub(super) async fn object_of(&self, node: i64, target: &str) -> Result<String, BrowserError> {
        let (frame, number) = split_node(node);
        let (session, context) = self.world(frame, target).await?;
        let found = self
            .call_in(
                &session,
                "Runtime.callFunctionOn",
                json!({"executionContextId": context, "functionDeclaration": "function(n) { return __keel.el(n); }",
                       "arguments": [{"value": number}]}),
            )
            .await?;
        found["result"]["objectId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| gone(target))
    }

    /// Calls `function` (JavaScript, `this` is the element) on the element `node` names, in
    /// keel's world, and returns its value: one protocol call.
    pub(super) async fn call_on(
        &self,
        node: i64,
        target: &str,
        function: &str,
        args: Vec<Value>,
    ) -> Result<Value, BrowserError> {
        let (frame, number) = split_node(node);
        let wrapped = format!(
            "function(n, ...args) {{ const e = __keel.el(n); if (!e) return {{{STALE}: true}}; return ({function}).apply(e, args); }}"
        );
        let mut all = vec![json!(number)];
        all.extend(args);
        let value = self
            .call_world(frame, target, &wrapped, all, self.timeouts.action)
            .await?;
        if value.get(STALE).is_some() {
            return Err(gone(target));
        }
        Ok(value)
    }

    /// The `<iframe>` element of out-of-process frame `frame`: the frame that holds it, that
    /// frame's session and the element's backend ID there.
    pub(super) async fn frame_owner(
        &self,
        frame: usize,
        target: &str,
    ) -> Result<(usize, String, i64), BrowserError> {
        let (frame_id, parent) = {
            let state = self.lock();
            match state.child_frames.get(frame - 1) {
                Some(Some(child)) => (child.frame_id.clone(), child.parent),
                _ => {
                    return Err(BrowserError::Invalid(format!(
                        "element {target} was in a frame that is gone; take a new snapshot"
                    )));
                }
            }
        };
        let session = self.frame_session(parent, target)?;
        let owner = self
            .call_in(&session, "DOM.getFrameOwner", json!({"frameId": frame_id}))
            .await?;
        let owner = owner["backendNodeId"]
            .as_i64()
            .ok_or_else(|| BrowserError::Protocol("getFrameOwner gave no node".into()))?;
        Ok((parent, session, owner))
    }

    /// The bounding boxes (viewport CSS pixels) of the elements of a snapshot's trees that are
    /// still on the page, by key; frames whose position cannot be told are left out.
    pub(super) async fn boxes(
        &self,
        nodes: &[PageNode],
        frames: &HashMap<i64, Vec<PageNode>>,
    ) -> HashMap<i64, [f64; 4]> {
        let mut by_frame: HashMap<usize, Vec<i64>> = HashMap::new();
        for node in nodes.iter().chain(frames.values().flatten()) {
            if let Some(key) = node.id {
                let (frame, number) = split_node(key);
                by_frame.entry(frame).or_default().push(number);
            }
        }
        let mut boxes = HashMap::new();
        for (frame, numbers) in by_frame {
            // Out-of-process frames: their origin in the top page, frame by frame.
            let origin = async {
                let (mut origin, mut current) = ((0.0, 0.0), frame);
                while current > 0 {
                    let (parent, session, owner) = self.frame_owner(current, "the page").await?;
                    let (x, y) = self.frame_offset(&session, owner).await?;
                    origin = (origin.0 + x, origin.1 + y);
                    current = parent;
                }
                Ok::<_, BrowserError>(origin)
            };
            let Ok(origin) = origin.await else {
                continue;
            };
            let Ok(rects) = self
                .call_world(
                    frame,
                    "the page",
                    BOXES_JS,
                    vec![json!(numbers)],
                    self.timeouts.action,
                )
                .await
            else {
                continue;
            };
            for (number, rect) in numbers.iter().zip(rects.as_array().into_iter().flatten()) {
                if let Some([x, y, w, h]) = rect
                    .as_array()
                    .and_then(|r| <[Value; 4]>::try_from(r.clone()).ok())
                    .map(|r| r.map(|v| v.as_f64().unwrap_or(0.0)))
                {
                    let key = ((frame as i64) << 32) + number;
                    boxes.insert(key, [x + origin.0, y + origin.1, w, h]);
                }
            }
        }
        boxes
    }

    /// Where the content of `owner` (an `<iframe>` in the frame of `session`) starts in that
    /// frame's viewport.
    pub(super) async fn frame_offset(
        &self,
        session: &str,
        owner: i64,
    ) -> Result<(f64, f64), BrowserError> {
        let model = self
            .call_in(session, "DOM.getBoxModel", json!({"backendNodeId": owner}))
            .await?;
        let content = &model["model"]["content"];
        Ok((
            content[0].as_f64().unwrap_or(0.0),
            content[1].as_f64().unwrap_or(0.0),
        ))
    }
}

/// Each numbered element's box in its frame's top document's viewport (same-process frames on
/// the way added), or null when it is gone.
const BOXES_JS: &str = r#"function(numbers) {
  return numbers.map((n) => {
    const e = __keel.el(n);
    if (!e) return null;
    const r = e.getBoundingClientRect(), [ox, oy] = __keel.origin(e);
    return [r.left + ox, r.top + oy, r.width, r.height];
  });
}"#;

/// A frame walked on its own: its session (its own when out of process), its frame ID and the
/// frame that holds its `<iframe>` (0: the page; else the index of another such frame).
#[derive(Debug, Clone)]
pub(super) struct ChildFrame {
    pub(super) session: String,
    pub(super) frame_id: String,
    pub(super) parent: usize,
    /// In its parent's process (a cross-origin, same-site frame): no session of its own, so it
    /// is forgotten when the page navigates or the frame is detached.
    pub(super) in_process: bool,
}

/// Splits an element key into its frame (0: the page and the same-origin frames walked with it,
/// i: `child_frames[i - 1]`) and the element's number in that frame's keel world.
pub(super) fn split_node(id: i64) -> (usize, i64) {
    ((id >> 32) as usize, id & 0xffff_ffff)
}

/// The keys of the iframes in `nodes` whose documents are walked on their own.
pub(super) fn frame_elements(nodes: &[PageNode]) -> Vec<i64> {
    nodes
        .iter()
        .filter(|n| n.frame != 0)
        .filter_map(|n| n.id)
        .collect()
}

/// Whether `nodes` hold an iframe of any kind (a tree with frames is not cached).
pub(super) fn has_frames(nodes: &[PageNode]) -> bool {
    nodes.iter().any(|n| n.role == "Iframe")
}

/// The index (1-based, as in element keys) of the child frame `frame_id`.
pub(super) fn find_frame(s: &TabState, frame_id: &str) -> Option<usize> {
    s.child_frames
        .iter()
        .position(|c| c.as_ref().is_some_and(|c| c.frame_id == frame_id))
        .map(|i| i + 1)
}

/// The error for an element that went away since the snapshot.
pub(super) fn gone(target: &str) -> BrowserError {
    BrowserError::Invalid(format!(
        "element {target} is no longer on the page; take a new snapshot (browser_snapshot)"
    ))
}

/// What `call_on` answers for an element whose number names nothing any more.
pub(super) const STALE: &str = "__keelStale";
