//! The pack's tools as clients see them: names, descriptions and input schemas, named and shaped
//! like Playwright MCP's (`target` with `ref` as an alias, `element` for people), plus keel's
//! reading tools; every schema takes the `handle` of a browsing session.

use super::*;

/// An object schema with these properties (and the `handle` every browser tool takes).
pub(super) fn schema(
    mut properties: Map<String, Value>,
    required: &[&str],
) -> Arc<Map<String, Value>> {
    properties.insert(
        "handle".into(),
        keel_mcp::handles::handle_property(
            "The browsing session, from an earlier browser call's result. Omit on a session connection; on stateless requests, omitting it starts a new one.",
        ),
    );
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), json!(required));
    schema.insert("additionalProperties".into(), json!(false));
    Arc::new(schema)
}

/// A JSON object of property schemas as a map.
pub(super) fn props(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `target`/`ref` and `element`, as Playwright MCP names an element.
pub(super) fn element_props(extra: Value) -> Map<String, Value> {
    let mut p = props(json!({
        "element": {"type": "string", "description": "Human-readable description of the element."},
        "target": {"type": "string", "description": "A ref from the latest snapshot (like e12), or a CSS selector matching one element."},
        "ref": {"type": "string", "description": "Alias of `target`."}
    }));
    p.extend(props(extra));
    p
}

/// `filename`, for the tools whose answer can be kept in the session as a file.
const FILENAME_TOOLS: [&str; 8] = [
    "browser_snapshot",
    "browser_take_screenshot",
    "browser_pdf_save",
    "browser_evaluate",
    "browser_console_messages",
    "browser_network_requests",
    "browser_network_request",
    "browser_find",
];

/// A tool with annotations: read-only or not; never destructive; open world (the web).
pub(super) fn tool(
    name: &'static str,
    description: &'static str,
    schema: Arc<Map<String, Value>>,
    read_only: bool,
) -> Tool {
    let mut schema = schema;
    if FILENAME_TOOLS.contains(&name) {
        let mut with = (*schema).clone();
        if let Some(Value::Object(properties)) = with.get_mut("properties") {
            properties.insert("filename".into(), json!({"type": "string", "description": "Keep the answer in this browsing session as a file of this name instead of returning it (browser_downloads hands it over)."}));
        }
        schema = Arc::new(with);
    }
    let mut tool = Tool::new(name, description, schema);
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(read_only);
    annotations.destructive_hint = Some(false);
    annotations.open_world_hint = Some(true);
    tool.annotations = Some(annotations);
    tool
}

/// The pack's tools.
pub fn tools() -> Vec<Tool> {
    let snapshot_props = json!({
        "depth": {"type": "integer", "minimum": 0, "description": "Levels to show below the root (default: all)."},
        "max_bytes": {"type": "integer", "minimum": 200, "description": "Cut the snapshot at this many bytes."}
    });
    vec![
        tool(
            "browser_navigate",
            "Open a URL in the current tab; returns the page's snapshot.",
            schema(
                props(
                    json!({"url": {"type": "string", "description": "The URL (http or https)."}}),
                ),
                &["url"],
            ),
            false,
        ),
        tool(
            "browser_navigate_back",
            "Go back to the previous page.",
            schema(Map::new(), &[]),
            false,
        ),
        tool(
            "browser_snapshot",
            "The page's accessibility snapshot: elements with refs to act on. Scope it with `target`, cut it with `depth` or `max_bytes`.",
            schema(
                {
                    let mut p = props(snapshot_props.clone());
                    p.insert("target".into(), json!({"type": "string", "description": "Only this element's subtree (a ref or CSS selector)."}));
                    p.insert("boxes".into(), json!({"type": "boolean", "description": "Show each element's box after its ref as [box=x,y,width,height] (viewport CSS pixels, for the browser_mouse_*_xy tools)."}));
                    p
                },
                &[],
            ),
            true,
        ),
        tool(
            "browser_click",
            "Click an element; returns what changed and the new snapshot.",
            schema(
                element_props(json!({
                    "doubleClick": {"type": "boolean", "description": "Double-click."},
                    "button": {"type": "string", "enum": ["left", "right", "middle"]},
                    "modifiers": {"type": "array", "items": {"type": "string", "enum": ["Alt", "Control", "ControlOrMeta", "Meta", "Shift"]}, "description": "Keys held during the click."}
                })),
                &[],
            ),
            false,
        ),
        tool(
            "browser_type",
            "Type text into an editable element (replacing its text).",
            schema(
                element_props(json!({
                    "text": {"type": "string"},
                    "submit": {"type": "boolean", "description": "Press Enter afterwards."},
                    "slowly": {"type": "boolean", "description": "One key at a time (for pages that react to each key)."}
                })),
                &["text"],
            ),
            false,
        ),
        tool(
            "browser_fill_form",
            "Fill several fields at once.",
            schema(
                props(json!({
                    "fields": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "target": {"type": "string"}, "ref": {"type": "string"},
                        "type": {"type": "string", "enum": ["textbox", "checkbox", "radio", "combobox", "slider"]},
                        "value": {"type": "string"}}, "required": ["value"]}}
                })),
                &["fields"],
            ),
            false,
        ),
        tool(
            "browser_select_option",
            "Select options in a <select> by value or visible text.",
            schema(
                element_props(json!({
                    "values": {"type": "array", "items": {"type": "string"}, "minItems": 1}
                })),
                &["values"],
            ),
            false,
        ),
        tool(
            "browser_hover",
            "Move the mouse over an element.",
            schema(element_props(json!({})), &[]),
            false,
        ),
        tool(
            "browser_press_key",
            "Press a key (Enter, Tab, Escape, ArrowDown, F5, a, …) in the focused element, with modifiers held if named before it (Control+a, Shift+Tab, Alt+ArrowLeft).",
            schema(
                props(
                    json!({"key": {"type": "string", "description": "A key name or one character, with modifiers (Control, Shift, Alt, Meta, ControlOrMeta) joined by +."}}),
                ),
                &["key"],
            ),
            false,
        ),
        tool(
            "browser_drag",
            "Drag one element onto another (mouse down, move, up; HTML drag and drop too).",
            schema(
                props(json!({
                    "startElement": {"type": "string", "description": "Human-readable description of the element to drag."},
                    "startTarget": {"type": "string", "description": "The element to drag: a ref from browser_snapshot or a CSS selector."},
                    "endElement": {"type": "string", "description": "Human-readable description of the element to drop on."},
                    "endTarget": {"type": "string", "description": "The element to drop on: a ref from browser_snapshot or a CSS selector."},
                    "startRef": {"type": "string", "description": "Alias of `startTarget`."},
                    "endRef": {"type": "string", "description": "Alias of `endTarget`."}
                })),
                &[],
            ),
            false,
        ),
        tool(
            "browser_drop",
            "Drop data (MIME type → text) or files (this session's downloads, by name) onto an element, as if dragged in from outside the page.",
            schema(
                element_props(json!({
                    "data": {"type": "object", "additionalProperties": {"type": "string"}, "description": "MIME type → text, e.g. {\"text/plain\": \"hello\"}."},
                    "paths": {"type": "array", "items": {"type": "string"}, "description": "Names of this browsing session's downloads (browser_downloads)."}
                })),
                &[],
            ),
            false,
        ),
        tool(
            "browser_emulate_media",
            "Emulate CSS media features (dark or light colour scheme, reduced motion, forced colours, contrast) and the media type; parameters left out keep their setting, null clears one.",
            schema(
                props(json!({
                    "colorScheme": {"anyOf": [{"type": "string", "enum": ["light", "dark"]}, {"type": "null"}]},
                    "reducedMotion": {"anyOf": [{"type": "string", "enum": ["reduce", "no-preference"]}, {"type": "null"}]},
                    "forcedColors": {"anyOf": [{"type": "string", "enum": ["active", "none"]}, {"type": "null"}]},
                    "contrast": {"anyOf": [{"type": "string", "enum": ["more", "no-preference"]}, {"type": "null"}]},
                    "media": {"anyOf": [{"type": "string", "enum": ["screen", "print"]}, {"type": "null"}]}
                })),
                &[],
            ),
            false,
        ),
        tool(
            "browser_find",
            "Search the page's snapshot for text (case-insensitive) or a regular expression (`/pattern/i` for flags): each match with its path from the root and the lines below it. Cheaper than a whole snapshot when you know what to look for.",
            schema(
                props(json!({
                    "text": {"type": "string", "description": "Text to find."},
                    "regex": {"type": "string", "description": "A regular expression to find (instead of `text`)."}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "browser_resize",
            "Set the size of the page's viewport (CSS pixels).",
            schema(
                props(json!({
                    "width": {"type": "number", "minimum": 1, "maximum": 10000},
                    "height": {"type": "number", "minimum": 1, "maximum": 10000}
                })),
                &["width", "height"],
            ),
            false,
        ),
        tool(
            "browser_mouse_move_xy",
            "Move the mouse to a point of the viewport (pixels, as in a screenshot).",
            schema(
                props(json!({"x": {"type": "number"}, "y": {"type": "number"}})),
                &["x", "y"],
            ),
            false,
        ),
        tool(
            "browser_mouse_click_xy",
            "Click at a point of the viewport (pixels, as in a screenshot); returns what changed and the new snapshot.",
            schema(
                props(json!({
                    "x": {"type": "number"}, "y": {"type": "number"},
                    "button": {"type": "string", "enum": ["left", "right", "middle"]},
                    "clickCount": {"type": "integer", "minimum": 1, "maximum": 3},
                    "delay": {"type": "number", "minimum": 0, "maximum": 5000, "description": "Milliseconds between press and release."}
                })),
                &["x", "y"],
            ),
            false,
        ),
        tool(
            "browser_mouse_down",
            "Press a mouse button where the mouse is.",
            schema(
                props(json!({"button": {"type": "string", "enum": ["left", "right", "middle"]}})),
                &[],
            ),
            false,
        ),
        tool(
            "browser_mouse_up",
            "Release a mouse button where the mouse is.",
            schema(
                props(json!({"button": {"type": "string", "enum": ["left", "right", "middle"]}})),
                &[],
            ),
            false,
        ),
        tool(
            "browser_mouse_drag_xy",
            "Drag with the left button from one point of the viewport to another.",
            schema(
                props(json!({
                    "startX": {"type": "number"}, "startY": {"type": "number"},
                    "endX": {"type": "number"}, "endY": {"type": "number"}
                })),
                &["startX", "startY", "endX", "endY"],
            ),
            false,
        ),
        tool(
            "browser_mouse_wheel",
            "Turn the mouse wheel where the mouse is (pixels; positive deltaY scrolls down).",
            schema(
                props(json!({"deltaX": {"type": "number"}, "deltaY": {"type": "number"}})),
                &["deltaX", "deltaY"],
            ),
            false,
        ),
        tool(
            "browser_wait_for",
            "Wait for text to appear or disappear, or for some seconds.",
            schema(
                props(json!({
                    "text": {"type": "string"}, "textGone": {"type": "string"}, "time": {"type": "number", "minimum": 0, "maximum": 60}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "browser_take_screenshot",
            "A screenshot of the viewport, the full page, or one element.",
            schema(
                element_props(json!({
                    "fullPage": {"type": "boolean"}, "type": {"type": "string", "enum": ["png", "jpeg", "webp"]},
                    "scale": {"type": "string", "enum": ["css", "device"], "description": "Pixels per CSS pixel: keel's pages have a device scale of 1, so both are the same."}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "browser_pdf_save",
            "The page as a PDF (returned as an embedded resource).",
            schema(Map::new(), &[]),
            true,
        ),
        tool(
            "browser_tabs",
            "List, open, select or close tabs.",
            schema(
                props(json!({
                    "action": {"type": "string", "enum": ["list", "new", "select", "close"]},
                    "index": {"type": "integer", "minimum": 0}, "url": {"type": "string"}
                })),
                &["action"],
            ),
            false,
        ),
        tool(
            "browser_handle_dialog",
            "Accept or dismiss the open alert/confirm/prompt.",
            schema(
                props(json!({
                    "accept": {"type": "boolean"}, "promptText": {"type": "string"}
                })),
                &["accept"],
            ),
            false,
        ),
        tool(
            "browser_evaluate",
            "Run a JavaScript function on the page (or on an element) and return its JSON value.",
            schema(
                element_props(json!({
                    "function": {"type": "string", "description": "() => { ... } or (element) => { ... }"}
                })),
                &["function"],
            ),
            false,
        ),
        tool(
            "browser_console_messages",
            "The page's console messages (and uncaught errors) since it loaded.",
            schema(
                props(json!({
                    "level": {"type": "string", "enum": ["error", "warning", "info", "debug"], "default": "info", "description": "Messages of this level and more severe ones (default: info)."},
                    "all": {"type": "boolean", "description": "Since the tab opened, not only since the page loaded."}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "browser_network_requests",
            "A numbered list of the requests the page made since it loaded (browser_network_request shows one in full), and any the URL policy refused.",
            schema(
                props(json!({
                    "static": {"type": "boolean", "default": false, "description": "Include static resources that loaded (images, fonts, scripts, stylesheets, media)."},
                    "filter": {"type": "string", "description": "Only requests whose URL matches this regular expression (e.g. \"/api/.*user\")."}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "browser_network_request",
            "One request from browser_network_requests in full (headers and bodies), or one part of it.",
            schema(
                props(json!({
                    "index": {"type": "integer", "minimum": 1, "description": "Its number in browser_network_requests (from 1)."},
                    "part": {"type": "string", "enum": ["request-headers", "request-body", "response-headers", "response-body"], "description": "Only this part."}
                })),
                &["index"],
            ),
            true,
        ),
        tool(
            "browser_downloads",
            "Files the pages of this browsing session downloaded (kept in the session, also after it slept): the list, or with `name` the file itself.",
            schema(
                props(
                    json!({"name": {"type": "string", "description": "A download's name from the list."}}),
                ),
                &[],
            ),
            true,
        ),
        tool(
            "browser_close",
            "End the browsing session: its tabs, cookies, storage and downloads.",
            schema(Map::new(), &[]),
            false,
        ),
        tool(
            "page_content",
            "The page's HTML (of `url`, opened and closed, or of the current tab).",
            schema(props(json!({"url": {"type": "string"}})), &[]),
            true,
        ),
        tool(
            "browser_file_upload",
            "Upload files into the file chooser a click opened (or the file input named by `target`). Send the files' content with `files`; `paths` can only name this session's downloads (keel does not run on the agent's machine). Neither cancels the chooser.",
            schema(
                element_props(json!({
                    "paths": {"type": "array", "items": {"type": "string"}, "description": "Names of this browsing session's downloads (browser_downloads) to upload."},
                    "files": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "object", "properties": {
                        "name": {"type": "string", "description": "File name, e.g. report.pdf"},
                        "text": {"type": "string", "description": "The content as text."},
                        "base64": {"type": "string", "description": "The content, base64-encoded (binary files)."}
                    }, "required": ["name"]}}
                })),
                &[],
            ),
            false,
        ),
        tool(
            "page_markdown",
            "The page's main content as clean Markdown (the whole page with `whole`); of `url` (opened and closed) or the current tab.",
            schema(
                props(json!({
                    "url": {"type": "string"}, "whole": {"type": "boolean", "description": "Include navigation, header, footer and asides."}
                })),
                &[],
            ),
            true,
        ),
        tool(
            "page_links",
            "The page's links (text and absolute URL), of `url` or the current tab.",
            schema(props(json!({"url": {"type": "string"}})), &[]),
            true,
        ),
        tool(
            "page_scrape",
            "Elements picked by CSS selectors, as JSON (text, HTML, attributes, box), of `url` or the current tab.",
            schema(
                props(json!({
                    "url": {"type": "string"},
                    "elements": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {"selector": {"type": "string"}}, "required": ["selector"]}}
                })),
                &["elements"],
            ),
            true,
        ),
        tool(
            "page_extract",
            "JSON matching a JSON Schema, extracted from the page by the client's own model (MCP sampling), guided by a prompt; of `url` or the current tab.",
            schema(
                props(json!({
                    "url": {"type": "string"},
                    "prompt": {"type": "string", "description": "What to extract."},
                    "schema": {"type": "object", "description": "JSON Schema the answer must match."}
                })),
                &["prompt", "schema"],
            ),
            true,
        ),
    ]
}
