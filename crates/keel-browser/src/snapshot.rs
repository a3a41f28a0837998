//! The page as compact text for a model: Chromium's accessibility tree, with a ref on every element
//! an agent can act on (`- button "Book" [ref=e12]`). Noise is folded away: ignored nodes and
//! nameless wrappers give their children to their parent, and text that repeats its parent's name
//! is dropped. Inside a table, an element carries its row and column headers (`[Court 3 × 17:00]`),
//! so an agent knows which "Book" button is which without counting cells.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

/// Roles whose elements get a ref: the ones an agent clicks, types into or picks from.
const INTERACTIVE: [&str; 22] = [
    "button",
    "link",
    "textbox",
    "searchbox",
    "checkbox",
    "radio",
    "combobox",
    "listbox",
    "option",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "tab",
    "switch",
    "slider",
    "spinbutton",
    "treeitem",
    "textarea",
    "PopUpButton",
    "ToggleButton",
    "MenuListPopup",
    "MenuListOption",
];

/// Roles folded away when they have no name: their children go to their parent.
const WRAPPERS: [&str; 15] = [
    "form",
    "generic",
    "none",
    "presentation",
    "group",
    "section",
    "Section",
    "div",
    "paragraph",
    "LineBreak",
    "InlineTextBox",
    "LabelText",
    "rowgroup",
    "Pre",
    "ListMarker",
];

/// How to render a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// Only the subtree of this DOM node.
    pub root_backend_id: Option<i64>,
    /// Levels below the root to show (`None`: all).
    pub max_depth: Option<usize>,
    /// Cut the text at this many bytes.
    pub max_bytes: Option<usize>,
}

/// A rendered snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The text.
    pub text: String,
    /// True if depth or size cut something off.
    pub truncated: bool,
}

struct Node<'a> {
    raw: &'a Value,
    role: &'a str,
    name: &'a str,
    children: Vec<&'a str>,
    backend_id: Option<i64>,
    ignored: bool,
}

/// Table context passed down to a cell's contents.
#[derive(Clone, Default)]
struct CellContext {
    row: Option<String>,
    column: Option<String>,
}

struct Renderer<'a, 'r> {
    nodes: HashMap<&'a str, Node<'a>>,
    ref_for: &'r mut dyn FnMut(i64) -> String,
    /// The accessibility trees of iframes, by the backend ID of their `<iframe>` element.
    frames: &'a HashMap<i64, Vec<Value>>,
    out: String,
    options: SnapshotOptions,
    truncated: bool,
    /// Indentation of this tree's top level (an iframe's tree sits under its iframe line).
    base_depth: usize,
}

/// Renders the nodes of `Accessibility.getFullAXTree`; `ref_for` gives the ref of an element by its
/// DOM backend node ID (the caller keeps refs stable across snapshots); `frames` holds the trees of
/// iframes by their element's backend ID.
pub fn render(
    nodes: &[Value],
    frames: &HashMap<i64, Vec<Value>>,
    options: SnapshotOptions,
    mut ref_for: impl FnMut(i64) -> String,
) -> Snapshot {
    let mut out = String::new();
    let truncated = render_tree(
        nodes,
        frames,
        &options,
        &mut ref_for,
        &mut out,
        0,
        options.root_backend_id,
    );
    let mut snapshot = Snapshot {
        text: out,
        truncated,
    };
    if let Some(max) = options.max_bytes
        && snapshot.text.len() > max
    {
        let mut cut = max;
        while !snapshot.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let keep = snapshot.text[..cut].rfind('\n').map_or(cut, |n| n + 1);
        snapshot.text.truncate(keep);
        snapshot.truncated = true;
    }
    snapshot
}

fn render_tree(
    nodes: &[Value],
    frames: &HashMap<i64, Vec<Value>>,
    options: &SnapshotOptions,
    ref_for: &mut dyn FnMut(i64) -> String,
    out: &mut String,
    base_depth: usize,
    root_backend_id: Option<i64>,
) -> bool {
    let mut map = HashMap::new();
    let mut root = None;
    for raw in nodes {
        let Some(id) = raw.get("nodeId").and_then(Value::as_str) else {
            continue;
        };
        let node = Node {
            raw,
            role: raw
                .pointer("/role/value")
                .and_then(Value::as_str)
                .unwrap_or(""),
            name: raw
                .pointer("/name/value")
                .and_then(Value::as_str)
                .unwrap_or(""),
            children: raw
                .get("childIds")
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            backend_id: raw.get("backendDOMNodeId").and_then(Value::as_i64),
            ignored: raw.get("ignored").and_then(Value::as_bool).unwrap_or(false),
        };
        if root.is_none() && raw.get("parentId").is_none() {
            root = Some(id);
        }
        map.insert(id, node);
    }
    let mut renderer = Renderer {
        nodes: map,
        ref_for,
        frames,
        out: String::new(),
        options: options.clone(),
        truncated: false,
        base_depth,
    };
    let start = match root_backend_id {
        Some(backend) => renderer
            .nodes
            .iter()
            .find(|(_, n)| n.backend_id == Some(backend))
            .map(|(id, _)| *id),
        None => root,
    };
    if let Some(start) = start {
        if root_backend_id.is_some() {
            renderer.node(start, 0, &CellContext::default(), "");
        } else {
            renderer.children(start, 0, &CellContext::default(), "");
        }
    }
    out.push_str(&renderer.out);
    renderer.truncated
}

impl<'a, 'r> Renderer<'a, 'r> {
    fn is_interactive(&self, node: &Node<'_>) -> bool {
        INTERACTIVE.contains(&node.role)
            || property(node.raw, "focusable") == Some(&Value::Bool(true))
                && !matches!(
                    node.role,
                    "RootWebArea" | "WebArea" | "Iframe" | "generic" | "ScrollArea"
                )
    }

    fn folds(&self, node: &Node<'_>) -> bool {
        node.ignored
            || (node.name.is_empty() && WRAPPERS.contains(&node.role) && !self.is_interactive(node))
    }

    fn children(&mut self, id: &str, depth: usize, cx: &CellContext, parent_name: &str) {
        let children = self
            .nodes
            .get(id)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        for child in children {
            self.node(child, depth, cx, parent_name);
        }
    }

    fn role_of(&self, id: &str) -> &str {
        self.nodes.get(id).map_or("", |n| n.role)
    }

    fn node(&mut self, id: &str, depth: usize, cx: &CellContext, parent_name: &str) {
        let Some(node) = self.nodes.get(id) else {
            return;
        };
        let (role, name, backend, raw) = (node.role, node.name, node.backend_id, node.raw);
        if role == "table" || role == "grid" || role == "treegrid" {
            return self.table(id, depth, cx, parent_name);
        }
        if role == "Iframe"
            && let Some(inner) = backend.and_then(|b| self.frames.get(&b))
        {
            let mut line = String::from("- iframe");
            if !name.is_empty() {
                line.push(' ');
                line.push_str(&quote(name));
            }
            line.push(':');
            self.line(depth, &line);
            let mut nested = String::new();
            let frames = self.frames;
            let options = self.options.clone();
            let cut = render_tree(
                inner,
                frames,
                &options,
                self.ref_for,
                &mut nested,
                self.base_depth + depth + 1,
                None,
            );
            self.truncated |= cut;
            self.out.push_str(&nested);
            return;
        }
        if self.folds(node) {
            return self.children(id, depth, cx, parent_name);
        }
        if role == "ListMarker" {
            return;
        }
        if role == "StaticText" || role == "text" {
            let text = name.trim();
            if !text.is_empty() && !parent_name.contains(text) {
                self.line(depth, &format!("- {}", quote(text)));
            }
            return;
        }
        if self.options.max_depth.is_some_and(|max| depth > max) {
            self.truncated = true;
            return;
        }
        let interactive = self.is_interactive(node);
        if name.is_empty() && !interactive {
            let kids = self.flat_children(id, name);
            if let [only] = kids.as_slice() {
                let only_role = self.role_of(only);
                if only_role == "StaticText" || only_role == "text" {
                    // `- listitem: "Rule 1"` instead of a line for the item and one for its text.
                    let text = self.nodes.get(only).map_or("", |n| n.name.trim());
                    self.line(depth, &format!("- {}: {}", display_role(role), quote(text)));
                    return;
                }
                if role == "listitem" {
                    // A list item holding one element is that element.
                    return self.node(only, depth, cx, parent_name);
                }
            }
        }
        let mut line = format!("- {}", display_role(role));
        if !name.is_empty() {
            line.push(' ');
            line.push_str(&quote(name));
        }
        for (prop, label) in [
            ("checked", "checked"),
            ("selected", "selected"),
            ("expanded", "expanded"),
            ("pressed", "pressed"),
            ("disabled", "disabled"),
            ("required", "required"),
        ] {
            match property(raw, prop) {
                Some(Value::Bool(true)) => line.push_str(&format!(" [{label}]")),
                Some(Value::String(s)) if s == "true" || s == "mixed" => line.push_str(&format!(
                    " [{label}{}]",
                    if s == "mixed" { "=mixed" } else { "" }
                )),
                _ => {}
            }
        }
        if role == "heading"
            && let Some(level) = property(raw, "level").and_then(Value::as_i64)
        {
            line.push_str(&format!(" [level={level}]"));
        }
        if let Some(value) = raw.pointer("/value/value")
            && let Some(text) = value
                .as_str()
                .map(str::to_string)
                .or_else(|| value.as_number().map(|n| n.to_string()))
            && !text.is_empty()
            && text != name
        {
            line.push_str(&format!(" [value={}]", quote(&text)));
        }
        if interactive && let Some(backend) = backend {
            line.push_str(&format!(" [ref={}]", (self.ref_for)(backend)));
        }
        if interactive && (cx.row.is_some() || cx.column.is_some()) {
            let parts: Vec<&str> = [cx.row.as_deref(), cx.column.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            line.push_str(&format!(" [{}]", parts.join(" × ")));
        }
        let has_children = self.has_visible_children(id, name);
        if has_children {
            line.push(':');
        }
        self.line(depth, &line);
        if has_children {
            self.children(id, depth + 1, cx, name);
        }
    }

    /// The children that would print, wrappers folded away (text that repeats `name` dropped).
    fn flat_children(&self, id: &str, name: &str) -> Vec<&'a str> {
        let mut out = Vec::new();
        let Some(node) = self.nodes.get(id) else {
            return out;
        };
        for child in node.children.clone() {
            let Some(c) = self.nodes.get(child) else {
                continue;
            };
            if self.folds(c) {
                out.extend(self.flat_children(child, name));
            } else if c.role == "StaticText" || c.role == "text" {
                let t = c.name.trim();
                if !t.is_empty() && !name.contains(t) {
                    out.push(child);
                }
            } else if c.role != "ListMarker" {
                out.push(child);
            }
        }
        out
    }

    /// Whether any descendant would print a line (text that repeats `name` does not).
    fn has_visible_children(&self, id: &str, name: &str) -> bool {
        let Some(node) = self.nodes.get(id) else {
            return false;
        };
        node.children.iter().any(|child| {
            let Some(c) = self.nodes.get(child) else {
                return false;
            };
            if self.folds(c) {
                return self.has_visible_children(child, name);
            }
            if c.role == "StaticText" || c.role == "text" {
                let t = c.name.trim();
                return !t.is_empty() && !name.contains(t);
            }
            true
        })
    }

    /// A table: its rows, each cell's contents knowing its row and column headers.
    fn table(&mut self, id: &str, depth: usize, cx: &CellContext, parent_name: &str) {
        let rows = self.collect(id, &["row"]);
        let mut columns: HashMap<usize, String> = HashMap::new();
        for row in &rows {
            for (index, cell) in self.cells(row).into_iter().enumerate() {
                if self.role_of(cell) == "columnheader" {
                    let name = self
                        .nodes
                        .get(cell)
                        .map_or("", |n| n.name)
                        .trim()
                        .to_string();
                    if !name.is_empty() {
                        columns.insert(index, name);
                    }
                }
            }
        }
        let name = self.nodes.get(id).map_or("", |n| n.name);
        let mut header = format!("- {}", self.role_of(id));
        if !name.is_empty() {
            header.push(' ');
            header.push_str(&quote(name));
        }
        header.push(':');
        self.line(depth, &header);
        for row in rows {
            let cells = self.cells(row);
            let header_cell = cells
                .iter()
                .position(|c| self.role_of(c) == "rowheader")
                .or_else(|| {
                    cells
                        .first()
                        .filter(|c| {
                            self.role_of(c) != "columnheader" && !self.subtree_interactive(c)
                        })
                        .map(|_| 0)
                });
            let row_header = header_cell
                .and_then(|i| self.nodes.get(cells[i]))
                .map(|n| n.name.trim().to_string())
                .filter(|n| !n.is_empty());
            let all_headers = cells.iter().all(|c| self.role_of(c) == "columnheader");
            if all_headers {
                let names: Vec<String> = cells
                    .iter()
                    .filter_map(|c| self.nodes.get(c))
                    .map(|n| quote(n.name.trim()))
                    .collect();
                self.line(depth + 1, &format!("- columnheaders: {}", names.join(", ")));
                continue;
            }
            let row_label = match &row_header {
                Some(name) => format!("- row {}:", quote(name)),
                None => "- row:".to_string(),
            };
            // A row of plain data under named columns fits on one line.
            let data: Option<Vec<String>> = cells
                .iter()
                .enumerate()
                .filter(|(index, _)| Some(*index) != header_cell)
                .map(|(index, cell)| {
                    let column = columns.get(&index)?;
                    if self.subtree_interactive(cell) {
                        return None;
                    }
                    let text = self.nodes.get(cell).map_or("", |n| n.name).trim();
                    Some(format!("{column}={}", quote(text)))
                })
                .collect();
            if let Some(data) = data.filter(|d| !d.is_empty()) {
                self.line(depth + 1, &format!("{row_label} {}", data.join(", ")));
                continue;
            }
            self.line(depth + 1, &row_label);
            for (index, cell) in cells.iter().enumerate() {
                if Some(index) == header_cell {
                    continue;
                }
                let cell_cx = CellContext {
                    row: row_header.clone().or_else(|| cx.row.clone()),
                    column: columns.get(&index).cloned().or_else(|| cx.column.clone()),
                };
                if self.subtree_interactive(cell) {
                    // The cell itself is noise; its controls carry the headers.
                    self.children(cell, depth + 2, &cell_cx, parent_name);
                } else {
                    let text = self
                        .nodes
                        .get(cell)
                        .map_or("", |n| n.name)
                        .trim()
                        .to_string();
                    if !text.is_empty() {
                        let column = cell_cx
                            .column
                            .as_deref()
                            .map(|c| format!(" [{c}]"))
                            .unwrap_or_default();
                        self.line(depth + 2, &format!("- cell {}{column}", quote(&text)));
                    }
                }
            }
        }
    }

    /// Descendants of `id` (not crossing nested tables) with one of `roles`.
    fn collect(&self, id: &str, roles: &[&str]) -> Vec<&'a str> {
        let mut found = Vec::new();
        let Some(node) = self.nodes.get(id) else {
            return found;
        };
        for child in node.children.clone() {
            let role = self.role_of(child);
            if roles.contains(&role) {
                found.push(child);
            } else if !matches!(role, "table" | "grid" | "treegrid") {
                found.extend(self.collect(child, roles));
            }
        }
        found
    }

    fn cells(&self, row: &str) -> Vec<&'a str> {
        self.collect(row, &["cell", "gridcell", "columnheader", "rowheader"])
    }

    fn subtree_interactive(&self, id: &str) -> bool {
        let Some(node) = self.nodes.get(id) else {
            return false;
        };
        (!node.ignored && self.is_interactive(node))
            || node.children.iter().any(|c| self.subtree_interactive(c))
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..self.base_depth + depth {
            self.out.push_str("  ");
        }
        let _ = writeln!(self.out, "{text}");
    }
}

fn property<'v>(raw: &'v Value, name: &str) -> Option<&'v Value> {
    raw.get("properties")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .pointer("/value/value")
}

fn display_role(role: &str) -> &str {
    match role {
        "RootWebArea" | "WebArea" => "document",
        "Iframe" => "iframe",
        "MenuListPopup" => "listbox",
        "MenuListOption" => "option",
        "PopUpButton" => "combobox",
        "ToggleButton" => "button",
        "image" | "img" => "img",
        other => other,
    }
}

/// A JSON string: quotes and escapes, short enough to stay one line.
fn quote(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = if one_line.chars().count() > 200 {
        let cut: String = one_line.chars().take(200).collect();
        format!("{cut}…")
    } else {
        one_line
    };
    serde_json::to_string(&shown).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ax(id: &str, role: &str, name: &str, children: &[&str], backend: i64) -> Value {
        json!({"nodeId": id, "ignored": false, "role": {"value": role}, "name": {"value": name},
               "childIds": children, "backendDOMNodeId": backend, "parentId": if id == "1" { Value::Null } else { json!("x") }})
    }

    #[test]
    fn wrappers_fold_and_cells_carry_their_headers() {
        let mut root = ax("1", "RootWebArea", "Courts", &["2", "3"], 1);
        root.as_object_mut().unwrap().remove("parentId");
        let nodes = vec![
            root,
            ax("2", "generic", "", &["4"], 2),
            ax("4", "heading", "Riverside Park", &["5"], 4),
            ax("5", "StaticText", "Riverside Park", &[], 5),
            ax("3", "table", "", &["10", "20"], 3),
            ax("10", "row", "", &["11", "12"], 10),
            ax("11", "columnheader", "Court", &[], 11),
            ax("12", "columnheader", "17:00", &[], 12),
            ax("20", "row", "", &["21", "22"], 20),
            ax("21", "rowheader", "Court 3", &[], 21),
            ax("22", "cell", "Book", &["23"], 22),
            ax("23", "button", "Book", &["24"], 23),
            ax("24", "StaticText", "Book", &[], 24),
        ];
        let frames = HashMap::new();
        let snapshot = render(&nodes, &frames, SnapshotOptions::default(), |b| {
            format!("e{b}")
        });
        let text = snapshot.text;
        assert!(text.contains("- heading \"Riverside Park\"\n"), "{text}");
        assert!(!text.contains("generic"), "{text}");
        assert!(
            text.contains("- button \"Book\" [ref=e23] [Court 3 × 17:00]"),
            "{text}"
        );
        assert!(
            !text.contains("text: \"Book\""),
            "repeated text is dropped: {text}"
        );
        assert!(!snapshot.truncated);

        let capped = render(
            &nodes,
            &frames,
            SnapshotOptions {
                max_bytes: Some(30),
                ..Default::default()
            },
            |b| format!("e{b}"),
        );
        assert!(
            capped.truncated && capped.text.len() <= 30,
            "{:?}",
            capped.text
        );
    }
}
