//! Operating a page's elements: click, hover, type, fill a form, select options, press keys,
//! upload files.

use super::args::{Modifier, MouseButton, browser_args, element, modifier_mask};
use super::*;

pub(super) fn tools() -> Vec<ToolDef<BrowserPack>> {
    use super::page::GROUP;
    vec![
        ToolDef::new(
            "browser_click",
            "Click an element; returns what changed and the new snapshot.",
            run::<Click>,
        )
        .group(GROUP),
        ToolDef::new("browser_hover", "Move the mouse over an element.", run::<Hover>).group(GROUP),
        ToolDef::new(
            "browser_type",
            "Type text into an editable element (replacing its text).",
            run::<Type>,
        )
        .group(GROUP),
        ToolDef::new("browser_fill_form", "Fill several fields at once.", run::<FillForm>)
            .group(GROUP),
        ToolDef::new(
            "browser_select_option",
            "Select options in a <select> by value or visible text.",
            run::<SelectOption>,
        )
        .group(GROUP),
        ToolDef::new(
            "browser_press_key",
            "Press a key (Enter, Tab, Escape, ArrowDown, F5, a, …) in the focused element, with modifiers held if named before it (Control+a, Shift+Tab, Alt+ArrowLeft).",
            run::<PressKey>,
        )
        .group(GROUP),
        ToolDef::new(
            "browser_file_upload",
            "Upload files into the file chooser a click opened (or the file input named by `target`). Send the files' content with `files`; `paths` can only name this session's downloads (keel does not run on the agent's machine). Neither cancels the chooser.",
            run::<FileUpload>,
        )
        .group("browser-files"),
    ]
}

browser_args!(
    /// Arguments of `browser_click`.
    #[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
    Click {
        /// A ref (e12) from the snapshot, or a CSS selector.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        /// Double-click.
        #[serde(rename = "doubleClick")]
        double_click: Option<bool>,
        button: Option<MouseButton>,
        /// Keys held during the click.
        modifiers: Option<Vec<Modifier>>,
    }
);

impl BrowserTool for Click {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page
            .tab
            .click(
                element(&self.target, &self.ref_)?,
                self.double_click.unwrap_or(false),
                self.button.unwrap_or_default().name(),
                modifier_mask(self.modifiers.as_deref().unwrap_or_default()),
            )
            .await
            .map_err(err)?;
        Ok(Answer::Text(page.report(&outcome, true).await?))
    }
}

browser_args!(
    /// Arguments of `browser_hover`.
    #[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
    Hover {
        /// A ref (e12) from the snapshot, or a CSS selector.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
    }
);

impl BrowserTool for Hover {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        // With the snapshot: hovering is how menus and tooltips open.
        let outcome = page
            .tab
            .hover(element(&self.target, &self.ref_)?)
            .await
            .map_err(err)?;
        Ok(Answer::Text(page.report(&outcome, true).await?))
    }
}

browser_args!(
    /// Arguments of `browser_type`.
    #[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
    Type {
        /// A ref (e12) from the snapshot, or a CSS selector.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        text: String,
        /// Press Enter afterwards.
        submit: Option<bool>,
        /// One key at a time (for pages that react to each key).
        slowly: Option<bool>,
    }
);

impl BrowserTool for Type {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page
            .tab
            .type_text(
                element(&self.target, &self.ref_)?,
                &self.text,
                self.submit.unwrap_or(false),
                self.slowly.unwrap_or(false),
            )
            .await
            .map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

// What kind of field `browser_fill_form` fills.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FieldType {
    #[default]
    Textbox,
    Checkbox,
    Radio,
    Combobox,
    Slider,
}

// One field of `browser_fill_form`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
pub(crate) struct Field {
    /// Human-readable name of the field.
    name: Option<String>,
    /// A ref or CSS selector.
    target: Option<String>,
    /// Alias of `target`.
    #[serde(rename = "ref")]
    ref_: Option<String>,
    #[serde(rename = "type")]
    kind: Option<FieldType>,
    /// The text, the option, or "true"/"false" for a checkbox or radio.
    value: String,
}

browser_args!(
    /// Arguments of `browser_fill_form`.
    FillForm {
        #[schemars(length(min = 1))]
        fields: Vec<Field>,
    }
);

impl BrowserTool for FillForm {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let tab = &page.tab;
        let mut filled = Vec::new();
        for field in &self.fields {
            let target = element(&field.target, &field.ref_)?;
            let value = field.value.as_str();
            let label = field.name.as_deref().unwrap_or(target);
            match field.kind.unwrap_or_default() {
                FieldType::Checkbox | FieldType::Radio => {
                    let want = value == "true";
                    let checked = tab
                        .evaluate("(e) => e.checked", Some(target))
                        .await
                        .map_err(err)?;
                    if checked.as_bool() != Some(want) {
                        tab.click(target, false, "left", 0).await.map_err(err)?;
                    }
                }
                FieldType::Combobox => {
                    tab.select_option(target, &[value.to_string()])
                        .await
                        .map_err(err)?;
                }
                FieldType::Textbox | FieldType::Slider => {
                    tab.type_text(target, value, false, false)
                        .await
                        .map_err(err)?;
                }
            }
            filled.push(format!("- {label}: {value:?}"));
        }
        Ok(Answer::Text(format!(
            "Filled {} fields:\n{}\n",
            filled.len(),
            filled.join("\n")
        )))
    }
}

browser_args!(
    /// Arguments of `browser_select_option`.
    #[schemars(extend("anyOf" = [{"required": ["target"]}, {"required": ["ref"]}]))]
    SelectOption {
        /// A ref (e12) from the snapshot, or a CSS selector.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        /// Values or visible texts of the options.
        #[schemars(length(min = 1))]
        values: Vec<String>,
    }
);

impl BrowserTool for SelectOption {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let (outcome, selected) = page
            .tab
            .select_option(element(&self.target, &self.ref_)?, &self.values)
            .await
            .map_err(err)?;
        // Null when the change handler opened a dialog before the values could be read.
        let selected = if selected.is_null() {
            format!(
                "Selected {:?} (the page's change handler opened a dialog)",
                self.values
            )
        } else {
            format!("Selected {selected}")
        };
        Ok(Answer::Text(format!(
            "{selected}\n{}",
            page.report(&outcome, outcome.navigated).await?
        )))
    }
}

browser_args!(
    /// Arguments of `browser_press_key`.
    PressKey {
        /// A key name or one character, with modifiers (Control, Shift, Alt, Meta,
        /// ControlOrMeta) joined by +.
        key: String,
    }
);

impl BrowserTool for PressKey {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let outcome = page.tab.press_key(&self.key).await.map_err(err)?;
        Ok(Answer::Text(
            page.report(&outcome, outcome.navigated).await?,
        ))
    }
}

/// A file sent with `browser_file_upload`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadFile {
    /// File name, e.g. report.pdf
    name: String,
    /// The content as text.
    text: Option<String>,
    /// The content, base64-encoded (binary files).
    base64: Option<String>,
}

browser_args!(
    /// Arguments of `browser_file_upload`.
    FileUpload {
        /// The file input (a ref or CSS selector), when no chooser is open.
        target: Option<String>,
        /// Alias of `target`.
        #[serde(rename = "ref")]
        ref_: Option<String>,
        /// What the element is, for people.
        #[allow(dead_code)]
        element: Option<String>,
        /// Names of this browsing session's downloads (browser_downloads) to upload.
        paths: Option<Vec<String>>,
        #[schemars(length(min = 1, max = 20))]
        files: Option<Vec<UploadFile>>,
    }
);

impl BrowserTool for FileUpload {
    async fn act(&self, page: &Page<'_>) -> Result<Answer, String> {
        let (session, tab) = (page.session, &page.tab);
        let dir = session.upload_dir().map_err(err)?;
        let named = self.paths.as_deref().unwrap_or_default();
        if self.files.is_none() && named.is_empty() {
            // As in Playwright MCP: no files cancels the chooser.
            tab.cancel_file_chooser();
            return Ok(Answer::Done(
                text("The file chooser was cancelled (no files sent).").into(),
            ));
        }
        // Paths name files on the agent's machine, which keel cannot read; the one kind of file
        // keel holds for a session is its downloads, named as browser_downloads lists them.
        let (mut paths, noted) = if named.is_empty() {
            (Vec::new(), String::new())
        } else {
            session_files(session, &page.call.found.object, &dir, named).await?
        };
        for file in self.files.iter().flatten() {
            let name = file.name.as_str();
            // Only the last path component: a name cannot reach outside the directory.
            let safe = std::path::Path::new(name)
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                .ok_or_else(|| format!("{name:?} is not a file name"))?;
            let bytes = match (&file.text, &file.base64) {
                (Some(text), _) => text.as_bytes().to_vec(),
                (None, Some(encoded)) => {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|e| format!("{name}: `base64` is not valid base64 ({e})"))?
                }
                (None, None) => {
                    return Err(format!("{name}: give its content as `text` or `base64`"));
                }
            };
            let path = dir.join(safe);
            std::fs::write(&path, bytes).map_err(|e| format!("cannot store {name}: {e}"))?;
            paths.push(path);
        }
        let target = self.target.as_deref().or(self.ref_.as_deref());
        let outcome = tab.upload_files(target, &paths).await.map_err(err)?;
        Ok(Answer::Text(format!(
            "{noted}Uploaded {} file(s).\n{}",
            paths.len(),
            page.report(&outcome, outcome.navigated).await?
        )))
    }
}
