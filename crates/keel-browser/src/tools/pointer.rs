//! The tools that drive the mouse by drags and coordinates, drop things onto a page, and set
//! the viewport and media features (Playwright MCP's browser_drag, browser_drop, browser_resize,
//! browser_emulate_media and browser_mouse_*).

use super::*;

impl BrowserPack {
    /// Runs the tool `name` of this family on `tab` of the call's browsing session.
    pub(super) async fn pointer(
        &self,
        name: &str,
        args: &Map<String, Value>,
        call: &CallSession,
        tab: &Arc<Tab>,
        logged: LogMark,
    ) -> Result<String, String> {
        let session = &call.context;
        Ok(match name {
            "browser_drag" => {
                let from = string(args, "startTarget")
                    .or_else(|| string(args, "startRef"))
                    .ok_or(
                        "name the element to drag with `startTarget` (a ref or a CSS selector)",
                    )?;
                let to = string(args, "endTarget")
                    .or_else(|| string(args, "endRef"))
                    .ok_or(
                        "name the element to drop on with `endTarget` (a ref or a CSS selector)",
                    )?;
                let outcome = tab.drag(from, to).await.map_err(err)?;
                self.report(session, tab, &outcome, true, logged).await?
            }
            "browser_resize" => {
                let size = |name: &str| -> Result<u32, String> {
                    args.get(name)
                        .and_then(Value::as_f64)
                        .filter(|v| (1.0..=10_000.0).contains(v))
                        .map(|v| v.round() as u32)
                        .ok_or_else(|| {
                            format!("`{name}` must be a number of pixels from 1 to 10000")
                        })
                };
                let (width, height) = (size("width")?, size("height")?);
                tab.resize(width, height).await.map_err(err)?;
                format!(
                    "### Page\n- URL: {}\n- The viewport is now {width}×{height}.\n",
                    tab.url()
                )
            }
            "browser_mouse_move_xy"
            | "browser_mouse_click_xy"
            | "browser_mouse_down"
            | "browser_mouse_up"
            | "browser_mouse_drag_xy"
            | "browser_mouse_wheel" => {
                let number = |name: &str| -> Result<f64, String> {
                    args.get(name)
                        .and_then(Value::as_f64)
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| format!("`{name}` (a number of pixels) is required"))
                };
                let button = string(args, "button").unwrap_or("left");
                if !matches!(button, "left" | "right" | "middle") {
                    return Err(format!(
                        "button {button:?} is not one of left, right, middle"
                    ));
                }
                let outcome = match name {
                    "browser_mouse_move_xy" => tab.mouse_move(number("x")?, number("y")?).await,
                    "browser_mouse_click_xy" => {
                        let count = args.get("clickCount").and_then(Value::as_u64).unwrap_or(1);
                        let hold = args.get("delay").and_then(Value::as_f64).unwrap_or(0.0);
                        tab.mouse_click(
                            number("x")?,
                            number("y")?,
                            button,
                            count.clamp(1, 3) as u32,
                            std::time::Duration::from_secs_f64(hold.clamp(0.0, 5_000.0) / 1000.0),
                        )
                        .await
                    }
                    "browser_mouse_down" => tab.mouse_button(true, button).await,
                    "browser_mouse_up" => tab.mouse_button(false, button).await,
                    "browser_mouse_drag_xy" => {
                        tab.mouse_drag(
                            (number("startX")?, number("startY")?),
                            (number("endX")?, number("endY")?),
                        )
                        .await
                    }
                    _ => tab.mouse_wheel(number("deltaX")?, number("deltaY")?).await,
                }
                .map_err(err)?;
                let with_snapshot = outcome.navigated || name == "browser_mouse_click_xy";
                self.report(session, tab, &outcome, with_snapshot, logged)
                    .await?
            }
            "browser_drop" => {
                let data: Vec<(String, String)> = args
                    .get("data")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(mime, text)| {
                        (mime.clone(), text.as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                let named = args.get("paths").and_then(Value::as_array);
                if data.is_empty() && named.is_none_or(|p| p.is_empty()) {
                    return Err("give `data` (MIME type → text) or `paths` (this session's downloads) to drop".into());
                }
                let mut noted = String::new();
                let mut files = Vec::new();
                if let Some(named) = named {
                    let dir = session.upload_dir().map_err(err)?;
                    (files, noted) =
                        session_files(session, &call.found.object, &dir, named).await?;
                }
                let outcome = tab
                    .drop_onto(target_of(args)?, &data, &files)
                    .await
                    .map_err(err)?;
                format!(
                    "{noted}{}",
                    self.report(session, tab, &outcome, true, logged).await?
                )
            }
            "browser_emulate_media" => {
                let mut changes = Map::new();
                for (arg, feature) in [
                    ("colorScheme", "prefers-color-scheme"),
                    ("reducedMotion", "prefers-reduced-motion"),
                    ("forcedColors", "forced-colors"),
                    ("contrast", "prefers-contrast"),
                    ("media", "media"),
                ] {
                    if let Some(value) = args.get(arg) {
                        changes.insert(feature.to_string(), value.clone());
                    }
                }
                let now = tab.emulate_media(changes).await.map_err(err)?;
                let mut out = format!("### Page\n- URL: {}\n", tab.url());
                if now.is_empty() {
                    out.push_str("- No media features are emulated.\n");
                }
                for (feature, value) in &now {
                    out.push_str(&format!(
                        "- Emulated: {feature}: {}\n",
                        value.as_str().unwrap_or_default()
                    ));
                }
                out
            }
            other => return Err(format!("unknown browser tool {other}")),
        })
    }
}
