//! The tools that drive the mouse by drags and coordinates, drop things onto a page, and set
//! the viewport and media features (Playwright MCP's browser_drag, browser_drop, browser_resize,
//! browser_emulate_media and browser_mouse_*).

use super::args::{Clearable, MouseButton, browser_args, element, present};
use super::*;

pub(super) fn tools() -> Vec<ToolDef<BrowserPack>> {
    const XY: &str = "browser-coordinates";
    vec![
        ToolDef::new(
            "browser_drag",
            "Drag one element onto another (mouse down, move, up; HTML drag and drop too).",
            run::<Drag>,
        )
        .group("browser-drag"),
        ToolDef::new(
            "browser_drop",
            "Drop data (MIME type → text) or files (this session's downloads, by name) onto an element, as if dragged in from outside the page.",
            run::<Drop>,
        )
        .group("browser-drag"),
        ToolDef::new(
            "browser_resize",
            "Set the size of the page's viewport (CSS pixels).",
            run::<Resize>,
        )
        .idempotent()
        .group("browser-emulation"),
        ToolDef::new(
            "browser_emulate_media",
            "Emulate CSS media features (dark or light colour scheme, reduced motion, forced colours, contrast) and the media type; parameters left out keep their setting, null clears one.",
            run::<EmulateMedia>,
        )
        .idempotent()
        .group("browser-emulation"),
        ToolDef::new(
            "browser_mouse_move_xy",
            "Move the mouse to a point of the viewport (pixels, as in a screenshot).",
            run::<MouseMove>,
        )
        .group(XY),
        ToolDef::new(
            "browser_mouse_click_xy",
            "Click at a point of the viewport (pixels, as in a screenshot); returns what changed and the new snapshot.",
            run::<MouseClick>,
        )
        .group(XY),
        ToolDef::new(
            "browser_mouse_down",
            "Press a mouse button where the mouse is.",
            run::<MouseDown>,
        )
        .group(XY),
        ToolDef::new(
            "browser_mouse_up",
            "Release a mouse button where the mouse is.",
            run::<MouseUp>,
        )
        .group(XY),
        ToolDef::new(
            "browser_mouse_drag_xy",
            "Drag with the left button from one point of the viewport to another.",
            run::<MouseDrag>,
        )
        .group(XY),
        ToolDef::new(
            "browser_mouse_wheel",
            "Turn the mouse wheel where the mouse is (pixels; positive deltaY scrolls down).",
            run::<MouseWheel>,
        )
        .group(XY),
    ]
}

browser_args!(
    /// Arguments of `browser_drag`.
    #[schemars(extend("allOf" = [
        {"anyOf": [{"required": ["startTarget"]}, {"required": ["startRef"]}]},
        {"anyOf": [{"required": ["endTarget"]}, {"required": ["endRef"]}]}
    ]))]
    Drag {
        /// Human-readable description of the element to drag.
        #[serde(rename = "startElement")]
        #[allow(dead_code)]
        start_element: Option<String>,
        /// The element to drag: a ref from browser_snapshot or a CSS selector.
        #[serde(rename = "startTarget")]
        start_target: Option<String>,
        /// Alias of `startTarget`.
        #[serde(rename = "startRef")]
        start_ref: Option<String>,
        /// Human-readable description of the element to drop on.
        #[serde(rename = "endElement")]
        #[allow(dead_code)]
        end_element: Option<String>,
        /// The element to drop on: a ref from browser_snapshot or a CSS selector.
        #[serde(rename = "endTarget")]
        end_target: Option<String>,
        /// Alias of `endTarget`.
        #[serde(rename = "endRef")]
        end_ref: Option<String>,
    }
);

impl BrowserTool for Drag {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let from = self
            .start_target
            .as_deref()
            .or(self.start_ref.as_deref())
            .ok_or("name the element to drag with `startTarget` (a ref or a CSS selector)")?;
        let to = self
            .end_target
            .as_deref()
            .or(self.end_ref.as_deref())
            .ok_or("name the element to drop on with `endTarget` (a ref or a CSS selector)")?;
        let outcome = page.tab.drag(from, to).await.map_err(err)?;
        Ok(Answer::Text(page.report(&outcome, true).await?))
    }
}

browser_args!(
    /// Arguments of `browser_drop`.
    #[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
    Drop {
        /// The element to drop onto: a ref from the latest snapshot, or a CSS selector.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        /// MIME type → text, e.g. {"text/plain": "hello"}.
        data: Option<std::collections::BTreeMap<String, String>>,
        /// Names of this browsing session's downloads (browser_downloads).
        paths: Option<Vec<String>>,
    }
);

impl BrowserTool for Drop {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let session = page.session;
        let data: Vec<(String, String)> = self
            .data
            .iter()
            .flatten()
            .map(|(mime, text)| (mime.clone(), text.clone()))
            .collect();
        let named = self.paths.as_deref().unwrap_or_default();
        if data.is_empty() && named.is_empty() {
            return Err(
                "give `data` (MIME type → text) or `paths` (this session's downloads) to drop"
                    .into(),
            );
        }
        let mut noted = String::new();
        let mut files = Vec::new();
        if !named.is_empty() {
            let dir = session.upload_dir().map_err(err)?;
            (files, noted) = session_files(session, &page.call.found.object, &dir, named).await?;
        }
        let outcome = page
            .tab
            .drop_onto(element(&self.target, &self.ref_)?, &data, &files)
            .await
            .map_err(err)?;
        Ok(Answer::Text(format!(
            "{noted}{}",
            page.report(&outcome, true).await?
        )))
    }
}

browser_args!(
    /// Arguments of `browser_resize`.
    Resize {
        #[schemars(range(min = 1, max = 10000))]
        width: f64,
        #[schemars(range(min = 1, max = 10000))]
        height: f64,
    }
);

impl BrowserTool for Resize {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let size = |name: &str, value: f64| -> Result<u32, String> {
            Some(value)
                .filter(|v| (1.0..=10_000.0).contains(v))
                .map(|v| v.round() as u32)
                .ok_or_else(|| format!("`{name}` must be a number of pixels from 1 to 10000"))
        };
        let (width, height) = (size("width", self.width)?, size("height", self.height)?);
        page.tab.resize(width, height).await.map_err(err)?;
        Ok(Answer::Text(format!(
            "### Page\n- URL: {}\n- The viewport is now {width}×{height}.\n",
            page.tab.url()
        )))
    }
}

// `prefers-color-scheme`.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ColorScheme {
    Light,
    Dark,
}

// `prefers-reduced-motion`.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ReducedMotion {
    Reduce,
    NoPreference,
}

// `prefers-contrast`.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Contrast {
    More,
    NoPreference,
}

// `forced-colors`.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ForcedColors {
    Active,
    None,
}

// The media type.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MediaType {
    Screen,
    Print,
}

browser_args!(
    /// Arguments of `browser_emulate_media` (left out: kept; null: cleared).
    EmulateMedia {
        #[serde(rename = "colorScheme", default, deserialize_with = "present")]
        #[schemars(with = "Option<Clearable<ColorScheme>>")]
        color_scheme: Option<Option<ColorScheme>>,
        #[serde(rename = "reducedMotion", default, deserialize_with = "present")]
        #[schemars(with = "Option<Clearable<ReducedMotion>>")]
        reduced_motion: Option<Option<ReducedMotion>>,
        #[serde(rename = "forcedColors", default, deserialize_with = "present")]
        #[schemars(with = "Option<Clearable<ForcedColors>>")]
        forced_colors: Option<Option<ForcedColors>>,
        #[serde(default, deserialize_with = "present")]
        #[schemars(with = "Option<Clearable<Contrast>>")]
        contrast: Option<Option<Contrast>>,
        #[serde(default, deserialize_with = "present")]
        #[schemars(with = "Option<Clearable<MediaType>>")]
        media: Option<Option<MediaType>>,
    }
);

impl BrowserTool for EmulateMedia {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let mut changes = Map::new();
        let features = [
            (
                "prefers-color-scheme",
                self.color_scheme.map(|v| v.map(json_of)),
            ),
            (
                "prefers-reduced-motion",
                self.reduced_motion.map(|v| v.map(json_of)),
            ),
            ("forced-colors", self.forced_colors.map(|v| v.map(json_of))),
            ("prefers-contrast", self.contrast.map(|v| v.map(json_of))),
            ("media", self.media.map(|v| v.map(json_of))),
        ];
        for (feature, value) in features {
            if let Some(value) = value {
                changes.insert(feature.to_string(), value.unwrap_or(Value::Null));
            }
        }
        let tab = &page.tab;
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
        Ok(Answer::Text(out))
    }
}

fn json_of<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

browser_args!(
    /// Arguments of `browser_mouse_move_xy`.
    MouseMove { x: f64, y: f64 }
);

impl BrowserTool for MouseMove {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page.tab.mouse_move(self.x, self.y).await.map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

browser_args!(
    /// Arguments of `browser_mouse_click_xy`.
    MouseClick {
        x: f64,
        y: f64,
        button: Option<MouseButton>,
        #[serde(rename = "clickCount")]
        #[schemars(range(min = 1, max = 3))]
        click_count: Option<u32>,
        /// Milliseconds between press and release.
        #[schemars(range(min = 0, max = 5000))]
        delay: Option<f64>,
    }
);

impl BrowserTool for MouseClick {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let hold = self.delay.unwrap_or(0.0).clamp(0.0, 5_000.0) / 1000.0;
        let outcome = page
            .tab
            .mouse_click(
                self.x,
                self.y,
                self.button.unwrap_or_default().name(),
                self.click_count.unwrap_or(1).clamp(1, 3),
                Duration::from_secs_f64(hold),
            )
            .await
            .map_err(err)?;
        Ok(Answer::Text(page.report(&outcome, true).await?))
    }
}

browser_args!(
    /// Arguments of `browser_mouse_down`.
    MouseDown { button: Option<MouseButton> }
);

impl BrowserTool for MouseDown {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let button = self.button.unwrap_or_default().name();
        let outcome = page.tab.mouse_button(true, button).await.map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

browser_args!(
    /// Arguments of `browser_mouse_up`.
    MouseUp { button: Option<MouseButton> }
);

impl BrowserTool for MouseUp {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let button = self.button.unwrap_or_default().name();
        let outcome = page.tab.mouse_button(false, button).await.map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

browser_args!(
    /// Arguments of `browser_mouse_drag_xy`.
    MouseDrag {
        #[serde(rename = "startX")]
        start_x: f64,
        #[serde(rename = "startY")]
        start_y: f64,
        #[serde(rename = "endX")]
        end_x: f64,
        #[serde(rename = "endY")]
        end_y: f64,
    }
);

impl BrowserTool for MouseDrag {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page
            .tab
            .mouse_drag((self.start_x, self.start_y), (self.end_x, self.end_y))
            .await
            .map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

browser_args!(
    /// Arguments of `browser_mouse_wheel`.
    MouseWheel {
        #[serde(rename = "deltaX")]
        delta_x: f64,
        #[serde(rename = "deltaY")]
        delta_y: f64,
    }
);

impl BrowserTool for MouseWheel {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page
            .tab
            .mouse_wheel(self.delta_x, self.delta_y)
            .await
            .map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}
