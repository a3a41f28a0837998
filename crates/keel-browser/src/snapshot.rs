//! The page as compact text for a model: the page's tree of roles and names (walked in the page by
//! `world.js`), with a ref on every element an agent can act on (`- button "Book" [ref=e12]`).
//! Noise is folded away: nameless wrappers give their children to their parent, and text that
//! repeats its parent's name is dropped. Inside a table, an element carries its row and column
//! headers (`[Court 3 × 17:00]`), so an agent knows which "Book" button is which without counting
//! cells.

use std::collections::HashMap;
use std::fmt::Write;

use serde::Deserialize;

/// Roles whose elements get a ref: the ones an agent clicks, types into or picks from.
const INTERACTIVE: [&str; 17] = [
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
];

/// Roles folded away when they have no name: their children go to their parent.
const WRAPPERS: [&str; 10] = [
    "form",
    "generic",
    "none",
    "group",
    "paragraph",
    "LabelText",
    "rowgroup",
    "Pre",
    "term",
    "definition",
];

/// One node of a page's tree, as the page script reports it (short keys keep the reply small).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageNode {
    /// The role (ARIA's, plus `StaticText`, `RootWebArea`, `Iframe`, `LabelText`, `Pre`).
    #[serde(rename = "r")]
    pub role: String,
    /// The accessible name (a text node's text).
    #[serde(rename = "n", default)]
    pub name: String,
    /// The element's key (see `Tab`): set on what can be acted on, and on iframes.
    #[serde(rename = "i", default)]
    pub id: Option<i64>,
    /// Indices of the children in the same list.
    #[serde(rename = "c", default)]
    pub children: Vec<usize>,
    /// States shown in brackets: `checked`, `checked=mixed`, `selected`, `expanded`, …
    #[serde(rename = "s", default)]
    pub states: Vec<String>,
    /// The value of a field, a select, a slider.
    #[serde(rename = "v", default)]
    pub value: Option<String>,
    /// A heading's level.
    #[serde(rename = "l", default)]
    pub level: Option<i64>,
    /// Focusable by the keyboard (`tabindex`).
    #[serde(rename = "f", default)]
    pub focusable: u8,
    /// Shows the pointing hand where its parent does not: something to click whatever its role.
    #[serde(rename = "k", default)]
    pub clickable: u8,
    /// An iframe whose document is walked on its own (another origin).
    #[serde(rename = "x", default)]
    pub frame: u8,
}

/// How to render a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// Only the subtree of this element (its key).
    pub root: Option<i64>,
    /// Levels below the root to show (`None`: all).
    pub max_depth: Option<usize>,
    /// Cut the text at this many bytes.
    pub max_bytes: Option<usize>,
    /// Measure each element with a ref and show its box (fills `boxes`).
    pub with_boxes: bool,
    /// Bounding boxes to show after refs (`[box=x,y,width,height]`, viewport CSS pixels), by
    /// element key.
    pub boxes: HashMap<i64, [f64; 4]>,
}

/// A rendered snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The text.
    pub text: String,
    /// True if depth or size cut something off.
    pub truncated: bool,
}

/// Table context passed down to a cell's contents.
#[derive(Clone, Default)]
struct CellContext {
    row: Option<String>,
    column: Option<String>,
}

struct Renderer<'a, 'r> {
    nodes: &'a [PageNode],
    ref_for: &'r mut dyn FnMut(i64) -> String,
    /// The trees of iframes walked on their own, by the key of their `<iframe>` element.
    frames: &'a HashMap<i64, Vec<PageNode>>,
    out: String,
    options: SnapshotOptions,
    truncated: bool,
    /// Indentation of this tree's top level (an iframe's tree sits under its iframe line).
    base_depth: usize,
}

/// Renders a page's tree (node 0 is its root: the document, or the element a snapshot is scoped
/// to when `options.root` is set); `ref_for` gives the ref of an element by its key (the caller
/// keeps refs stable across snapshots); `frames` holds the trees of iframes by their element's key.
pub fn render(
    nodes: &[PageNode],
    frames: &HashMap<i64, Vec<PageNode>>,
    options: SnapshotOptions,
    mut ref_for: impl FnMut(i64) -> String,
) -> Snapshot {
    let mut out = String::new();
    let scoped = options.root.is_some();
    let truncated = render_tree(nodes, frames, &options, &mut ref_for, &mut out, 0, scoped);
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

/// Renders one tree into `out`: its root's line and subtree when `with_root`, else the root's
/// children (a document's).
fn render_tree(
    nodes: &[PageNode],
    frames: &HashMap<i64, Vec<PageNode>>,
    options: &SnapshotOptions,
    ref_for: &mut dyn FnMut(i64) -> String,
    out: &mut String,
    base_depth: usize,
    with_root: bool,
) -> bool {
    if nodes.is_empty() {
        return false;
    }
    let mut renderer = Renderer {
        nodes,
        ref_for,
        frames,
        out: String::new(),
        options: options.clone(),
        truncated: false,
        base_depth,
    };
    if with_root {
        renderer.node(0, 0, &CellContext::default(), "");
    } else {
        renderer.children(0, 0, &CellContext::default(), "");
    }
    out.push_str(&renderer.out);
    renderer.truncated
}

impl<'a, 'r> Renderer<'a, 'r> {
    fn get(&self, id: usize) -> Option<&'a PageNode> {
        self.nodes.get(id)
    }

    fn is_interactive(node: &PageNode) -> bool {
        INTERACTIVE.contains(&node.role.as_str())
            || node.clickable != 0
            || node.focusable != 0
                && !matches!(node.role.as_str(), "RootWebArea" | "Iframe" | "generic")
    }

    fn folds(node: &PageNode) -> bool {
        node.name.is_empty()
            && WRAPPERS.contains(&node.role.as_str())
            && !Self::is_interactive(node)
    }

    fn is_text(node: &PageNode) -> bool {
        node.role == "StaticText"
    }

    fn children(&mut self, id: usize, depth: usize, cx: &CellContext, parent_name: &str) {
        let Some(node) = self.get(id) else {
            return;
        };
        for &child in &node.children {
            self.node(child, depth, cx, parent_name);
        }
    }

    fn role_of(&self, id: usize) -> &'a str {
        self.get(id).map_or("", |n| n.role.as_str())
    }

    fn name_of(&self, id: usize) -> &'a str {
        self.get(id).map_or("", |n| n.name.trim())
    }

    fn node(&mut self, id: usize, depth: usize, cx: &CellContext, parent_name: &str) {
        let Some(node) = self.get(id) else {
            return;
        };
        let (role, name) = (node.role.as_str(), node.name.as_str());
        if role == "table" || role == "grid" || role == "treegrid" {
            return self.table(id, depth, cx, parent_name);
        }
        if role == "Iframe" {
            let mut line = String::from("- iframe");
            if !name.is_empty() {
                line.push(' ');
                line.push_str(&quote(name));
            }
            let inner = node.id.and_then(|key| self.frames.get(&key));
            if inner.is_none() && node.children.is_empty() {
                self.line(depth, &line);
                return;
            }
            line.push(':');
            self.line(depth, &line);
            match inner {
                // A document walked on its own (another origin): rendered as a tree of its own.
                Some(inner) => {
                    let mut nested = String::new();
                    let (frames, options) = (self.frames, self.options.clone());
                    let cut = render_tree(
                        inner,
                        frames,
                        &options,
                        self.ref_for,
                        &mut nested,
                        self.base_depth + depth + 1,
                        false,
                    );
                    self.truncated |= cut;
                    self.out.push_str(&nested);
                }
                // A same-origin document, walked with its parent.
                None => self.children(id, depth + 1, cx, ""),
            }
            return;
        }
        if Self::folds(node) {
            return self.children(id, depth, cx, parent_name);
        }
        if Self::is_text(node) {
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
        let interactive = Self::is_interactive(node);
        if name.is_empty() && !interactive {
            let kids = self.flat_children(id, name);
            if let [only] = kids.as_slice() {
                if self.get(*only).is_some_and(Self::is_text) {
                    // `- listitem: "Rule 1"` instead of a line for the item and one for its text.
                    let text = self.name_of(*only);
                    self.line(depth, &format!("- {}: {}", display_role(role), quote(text)));
                    return;
                }
                if role == "listitem" {
                    // A list item holding one element is that element.
                    return self.node(*only, depth, cx, parent_name);
                }
            }
        }
        let shown_role = match role {
            "generic" | "none" | "LabelText" if node.clickable != 0 => "clickable",
            other => display_role(other),
        };
        let mut line = format!("- {shown_role}");
        if !name.is_empty() {
            line.push(' ');
            line.push_str(&quote(name));
        }
        for state in &node.states {
            let _ = write!(line, " [{state}]");
        }
        if role == "heading"
            && let Some(level) = node.level
        {
            let _ = write!(line, " [level={level}]");
        }
        if let Some(value) = node.value.as_deref()
            && !value.is_empty()
            && value != name
        {
            let _ = write!(line, " [value={}]", quote(value));
        }
        if interactive && let Some(key) = node.id {
            let _ = write!(line, " [ref={}]", (self.ref_for)(key));
            if let Some([x, y, w, h]) = self.options.boxes.get(&key) {
                let _ = write!(
                    line,
                    " [box={},{},{},{}]",
                    x.round(),
                    y.round(),
                    w.round(),
                    h.round()
                );
            }
        }
        if interactive && (cx.row.is_some() || cx.column.is_some()) {
            let parts: Vec<&str> = [cx.row.as_deref(), cx.column.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let _ = write!(line, " [{}]", parts.join(" × "));
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
    fn flat_children(&self, id: usize, name: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let Some(node) = self.get(id) else {
            return out;
        };
        for &child in &node.children {
            let Some(c) = self.get(child) else {
                continue;
            };
            if Self::folds(c) {
                out.extend(self.flat_children(child, name));
            } else if Self::is_text(c) {
                let t = c.name.trim();
                if !t.is_empty() && !name.contains(t) {
                    out.push(child);
                }
            } else {
                out.push(child);
            }
        }
        out
    }

    /// Whether any descendant would print a line (text that repeats `name` does not).
    fn has_visible_children(&self, id: usize, name: &str) -> bool {
        let Some(node) = self.get(id) else {
            return false;
        };
        node.children.iter().any(|&child| {
            let Some(c) = self.get(child) else {
                return false;
            };
            if Self::folds(c) {
                return self.has_visible_children(child, name);
            }
            if Self::is_text(c) {
                let t = c.name.trim();
                return !t.is_empty() && !name.contains(t);
            }
            true
        })
    }

    /// A table: its rows, each cell's contents knowing its row and column headers.
    fn table(&mut self, id: usize, depth: usize, cx: &CellContext, parent_name: &str) {
        let rows = self.collect(id, &["row"]);
        let mut columns: HashMap<usize, String> = HashMap::new();
        for &row in &rows {
            for (index, cell) in self.cells(row).into_iter().enumerate() {
                if self.role_of(cell) == "columnheader" {
                    let name = self.name_of(cell);
                    if !name.is_empty() {
                        columns.insert(index, name.to_string());
                    }
                }
            }
        }
        let name = self.get(id).map_or("", |n| n.name.as_str());
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
                .position(|&c| self.role_of(c) == "rowheader")
                .or_else(|| {
                    cells
                        .first()
                        .filter(|&&c| {
                            self.role_of(c) != "columnheader" && !self.subtree_interactive(c)
                        })
                        .map(|_| 0)
                });
            let row_header = header_cell
                .map(|i| self.name_of(cells[i]).to_string())
                .filter(|n| !n.is_empty());
            let all_headers = cells.iter().all(|&c| self.role_of(c) == "columnheader");
            if all_headers {
                let names: Vec<String> = cells.iter().map(|&c| quote(self.name_of(c))).collect();
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
                .map(|(index, &cell)| {
                    let column = columns.get(&index)?;
                    if self.subtree_interactive(cell) {
                        return None;
                    }
                    Some(format!("{column}={}", quote(self.name_of(cell))))
                })
                .collect();
            if let Some(data) = data.filter(|d| !d.is_empty()) {
                self.line(depth + 1, &format!("{row_label} {}", data.join(", ")));
                continue;
            }
            self.line(depth + 1, &row_label);
            for (index, &cell) in cells.iter().enumerate() {
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
                    let text = self.name_of(cell);
                    if !text.is_empty() {
                        let column = cell_cx
                            .column
                            .as_deref()
                            .map(|c| format!(" [{c}]"))
                            .unwrap_or_default();
                        self.line(depth + 2, &format!("- cell {}{column}", quote(text)));
                    }
                }
            }
        }
    }

    /// Descendants of `id` (not crossing nested tables) with one of `roles`.
    fn collect(&self, id: usize, roles: &[&str]) -> Vec<usize> {
        let mut found = Vec::new();
        let Some(node) = self.get(id) else {
            return found;
        };
        for &child in &node.children {
            let role = self.role_of(child);
            if roles.contains(&role) {
                found.push(child);
            } else if !matches!(role, "table" | "grid" | "treegrid") {
                found.extend(self.collect(child, roles));
            }
        }
        found
    }

    fn cells(&self, row: usize) -> Vec<usize> {
        self.collect(row, &["cell", "gridcell", "columnheader", "rowheader"])
    }

    fn subtree_interactive(&self, id: usize) -> bool {
        let Some(node) = self.get(id) else {
            return false;
        };
        Self::is_interactive(node) || node.children.iter().any(|&c| self.subtree_interactive(c))
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..self.base_depth + depth {
            self.out.push_str("  ");
        }
        let _ = writeln!(self.out, "{text}");
    }
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

    fn node(role: &str, name: &str, children: &[usize], id: Option<i64>) -> PageNode {
        PageNode {
            role: role.into(),
            name: name.into(),
            id,
            children: children.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn wrappers_fold_and_cells_carry_their_headers() {
        let nodes = vec![
            node("RootWebArea", "Courts", &[1, 4], None),
            node("generic", "", &[2], None),
            node("heading", "Riverside Park", &[3], None),
            node("StaticText", "Riverside Park", &[], None),
            node("table", "", &[5, 8], None),
            node("row", "", &[6, 7], None),
            node("columnheader", "Court", &[], None),
            node("columnheader", "17:00", &[], None),
            node("row", "", &[9, 10], None),
            node("rowheader", "Court 3", &[], None),
            node("cell", "Book", &[11], None),
            node("button", "Book", &[12], Some(23)),
            node("StaticText", "Book", &[], None),
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

    #[test]
    fn the_page_script_reply_parses() {
        let nodes: Vec<PageNode> = serde_json::from_str(
            r#"[{"r":"RootWebArea","n":"T","c":[1]},{"r":"checkbox","n":"Lights","i":7,"s":["checked"],"f":1}]"#,
        )
        .unwrap();
        let text = render(&nodes, &HashMap::new(), SnapshotOptions::default(), |k| {
            format!("e{k}")
        })
        .text;
        assert_eq!(text, "- checkbox \"Lights\" [checked] [ref=e7]\n");
    }
}
