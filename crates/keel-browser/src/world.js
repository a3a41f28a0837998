// keel's script in every frame's isolated "keel" world (the page cannot see or change it): it
// reports page changes through a binding, names elements by number for the tools, and walks the
// page into the tree a snapshot is rendered from. The tree follows the accessibility roles and
// names of WAI-ARIA and HTML-AAM (roles, names from labels and content, states), computed here
// from the DOM: far cheaper than asking the browser for its whole accessibility tree.
(() => {
  if (globalThis.__keel) return;

  // Changes of the DOM: at most one report per microtask. What keel's own actions change (typing,
  // picking, focus, scrolling) needs no report: every action drops the cached tree, and a report
  // from inside an action's call would hold up its answer (~0.6 ms of a type).
  let pending = false;
  const changed = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; try { __keelChanged(""); } catch (e) {} });
  };
  new MutationObserver(changed).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});

  // Element numbers: stable for an element's life in this document; a new document starts at a
  // random base, so a number from an older document names nothing here.
  let next = 1 + Math.floor(Math.random() * 0x3fffffff);
  const ids = new WeakMap();
  const elements = new Map();
  const idOf = (e) => {
    let n = ids.get(e);
    if (n === undefined) {
      n = next++;
      ids.set(e, n);
      elements.set(n, new WeakRef(e));
    }
    return n;
  };
  const el = (n) => {
    const ref = elements.get(n);
    const e = ref && ref.deref();
    return e && e.isConnected ? e : null;
  };

  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "HEAD", "META", "LINK", "TITLE", "BASE", "DATALIST", "PARAM", "SOURCE", "TRACK"]);
  const BLOCK = new Set(["DIV", "P", "LI", "UL", "OL", "DL", "DT", "DD", "H1", "H2", "H3", "H4", "H5", "H6", "TR", "TD", "TH", "TABLE", "SECTION", "ARTICLE", "ASIDE", "NAV", "MAIN", "HEADER", "FOOTER", "FORM", "FIELDSET", "BLOCKQUOTE", "PRE", "FIGURE", "FIGCAPTION", "ADDRESS", "DETAILS", "SUMMARY", "BR", "HR", "LABEL", "OPTION"]);
  const INTERACTIVE = new Set(["button", "link", "textbox", "searchbox", "checkbox", "radio", "combobox", "listbox", "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider", "spinbutton", "treeitem"]);
  // Roles whose text children are printed even when their name repeats them (see walk).
  const KEEPS_TEXT = new Set(["cell", "gridcell", "columnheader", "rowheader", "Iframe"]);
  const FROM_CONTENT = new Set(["button", "link", "heading", "cell", "gridcell", "columnheader", "rowheader", "option", "tab", "menuitem", "menuitemcheckbox", "menuitemradio", "checkbox", "radio", "switch", "treeitem", "tooltip"]);
  const LANDMARK_SCOPE = "article, aside, main, nav, section";
  // Nodes a walk reports at most: a hostile or enormous page does not become a reply of many
  // megabytes.
  const MAX_NODES = 50000;
  const MAX_TEXT = 10000;
  // Elements with states of their own (disabled, checked, selected, open).
  const FORMY = new Set(["BUTTON", "INPUT", "SELECT", "TEXTAREA", "OPTION", "OPTGROUP", "FIELDSET", "SUMMARY"]);
  const INPUT_ROLES = {button: "button", submit: "button", reset: "button", image: "button", file: "button", color: "button",
    checkbox: "checkbox", radio: "radio", range: "slider", number: "spinbutton", search: "searchbox"};

  const attr = (e, name) => {
    const v = e.getAttribute(name);
    return v === null ? "" : v.trim();
  };
  const squash = (s) => s.replace(/\s+/g, " ").trim();
  // Whether an element carries any aria-* attribute (most carry none: their ARIA lookups are
  // skipped).
  const hasAria = (e) => {
    if (!e.hasAttributes()) return false;
    for (const name of e.getAttributeNames()) if (name.startsWith("aria-")) return true;
    return false;
  };

  function role(e) {
    if (e.hasAttribute("role")) {
      const explicit = attr(e, "role").split(/\s+/)[0];
      if (explicit) return explicit === "presentation" ? "none" : explicit;
    }
    switch (e.tagName) {
      case "A": case "AREA": return e.hasAttribute("href") ? "link" : "generic";
      case "BUTTON": return "button";
      case "INPUT": {
        if (e.type === "checkbox" && e.hasAttribute("switch")) return "switch";
        if (INPUT_ROLES[e.type]) return INPUT_ROLES[e.type];
        return e.list ? "combobox" : "textbox";
      }
      case "SELECT": return e.multiple || e.size > 1 ? "listbox" : "combobox";
      case "OPTION": return "option";
      case "OPTGROUP": return "group";
      case "TEXTAREA": return "textbox";
      case "H1": case "H2": case "H3": case "H4": case "H5": case "H6": return "heading";
      case "UL": case "OL": case "MENU": case "DL": return "list";
      case "LI": return e.parentElement && ["none", "presentation"].includes(attr(e.parentElement, "role")) ? "none" : "listitem";
      case "DT": return "term";
      case "DD": return "definition";
      case "NAV": return "navigation";
      case "MAIN": return "main";
      case "HEADER": return e.parentElement && e.parentElement.closest(LANDMARK_SCOPE) ? "generic" : "banner";
      case "FOOTER": return e.parentElement && e.parentElement.closest(LANDMARK_SCOPE) ? "generic" : "contentinfo";
      case "ASIDE": return "complementary";
      case "SECTION": return e.hasAttribute("aria-label") || e.hasAttribute("aria-labelledby") ? "region" : "generic";
      case "ARTICLE": return "article";
      case "FORM": return "form";
      case "FIELDSET": return "group";
      case "DETAILS": return "group";
      case "SUMMARY": return "button";
      case "DIALOG": return "dialog";
      case "FIGURE": return "figure";
      case "TABLE": return tableKind(e) === "data" ? "table" : "none";
      case "THEAD": case "TBODY": case "TFOOT": return tableKind(e.closest("table")) === "data" ? "rowgroup" : "none";
      case "TR": return tableKind(e.closest("table")) === "data" ? "row" : "none";
      case "TD": {
        const table = e.closest("table");
        if (tableKind(table) !== "data") return "none";
        return attr(table, "role") === "grid" ? "gridcell" : "cell";
      }
      case "TH": return tableKind(e.closest("table")) === "data" ? headerRole(e) : "none";
      case "P": return "paragraph";
      case "BLOCKQUOTE": return "blockquote";
      case "PRE": return "Pre";
      case "HR": return "separator";
      case "IMG": return e.getAttribute("alt") === "" ? "none" : "image";
      case "SVG": case "svg": return "image";
      case "LABEL": return "LabelText";
      case "OUTPUT": return "status";
      case "PROGRESS": return "progressbar";
      case "METER": return "meter";
      case "IFRAME": case "FRAME": return "Iframe";
      default: return e.isContentEditable && !(e.parentElement && e.parentElement.isContentEditable) ? "textbox" : "generic";
    }
  }

  // A table holds data, or only lays a page out (as many older sites do: then its rows and cells
  // are plain wrappers, as the browser's own accessibility tree has them), or was made
  // presentational by its author. Data: a role, a caption, a head or foot, header cells, a
  // summary or a label.
  let tableMemo = null;
  function tableKind(table) {
    if (!table) return "layout";
    if (tableMemo && tableMemo.has(table)) return tableMemo.get(table);
    const r = attr(table, "role");
    let kind;
    if (r === "none" || r === "presentation") kind = "presentation";
    else if (r || table.caption || table.tHead || table.tFoot || table.hasAttribute("summary") ||
      table.hasAttribute("aria-label") || table.hasAttribute("aria-labelledby") ||
      table.querySelector(":scope > tr > th, :scope > tbody > tr > th, :scope > thead > tr > th")) kind = "data";
    else kind = "layout";
    if (tableMemo) tableMemo.set(table, kind);
    return kind;
  }

  function headerRole(th) {
    const scope = attr(th, "scope").toLowerCase();
    if (scope === "row" || scope === "rowgroup") return "rowheader";
    if (scope === "col" || scope === "colgroup") return "columnheader";
    const row = th.parentElement;
    if (row && row.parentElement && row.parentElement.tagName === "THEAD") return "columnheader";
    return row && row.querySelector(":scope > td") ? "rowheader" : "columnheader";
  }

  // Whether an element shows: "no" (it and its subtree are not rendered), "wrapper" (it has no
  // box of its own, display: contents, but its children show), "invisible" (visibility: hidden:
  // its text does not show, its children may make themselves visible) or "yes".
  // Answers remembered for the length of one walk (an element is asked about as part of its
  // ancestors' names and again when it is visited).
  let shownMemo = null, textMemo = null;
  function shown(e) {
    if (shownMemo) {
      let v = shownMemo.get(e);
      if (v === undefined) shownMemo.set(e, (v = shownUncached(e)));
      return v;
    }
    return shownUncached(e);
  }
  function shownUncached(e) {
    if (e.checkVisibility({visibilityProperty: true})) return "yes";
    const style = getComputedStyle(e);
    if (style.display === "contents") return "wrapper";
    if (style.display !== "none" && style.visibility !== "visible" && e.checkVisibility()) return "invisible";
    return "no";
  }

  // The children of an element as laid out: its shadow root's, a slot's assigned nodes, or its own
  // (`null`: its own, to be followed by sibling pointers, which is cheaper than a NodeList).
  function kids(e) {
    if (e.shadowRoot) return e.shadowRoot.childNodes;
    if (e.tagName === "SLOT") {
      const assigned = e.assignedNodes({flatten: true});
      return assigned.length ? assigned : e.childNodes;
    }
    return null;
  }

  // The text an element gives a name made from its content (accname "name from content").
  function textOf(node, skip, hiddenOk) {
    if (node.nodeType === 3) return node.data;
    if (node.nodeType !== 1 || node === skip) return "";
    if (skip || hiddenOk || !textMemo) return textOfUncached(node, skip, hiddenOk);
    let text = textMemo.get(node);
    if (text === undefined) textMemo.set(node, (text = textOfUncached(node, null, false)));
    return text;
  }
  function textOfUncached(e, skip, hiddenOk) {
    if (SKIP.has(e.tagName)) return "";
    if (!hiddenOk && (attr(e, "aria-hidden") === "true" || shown(e) === "no" || shown(e) === "invisible")) return "";
    const label = attr(e, "aria-label");
    let text;
    if (label) text = label;
    else if (e.tagName === "IMG" || e.tagName === "AREA") text = e.getAttribute("alt") || "";
    else if (e.tagName === "INPUT") text = e.type === "checkbox" || e.type === "radio" ? "" : e.value;
    else if (e.tagName === "TEXTAREA") text = e.value;
    else if (e.tagName === "SELECT") text = Array.from(e.selectedOptions).map((o) => o.label).join(" ");
    else {
      text = "";
      const laid = kids(e);
      if (laid) for (const child of laid) text += textOf(child, skip, hiddenOk);
      else for (let child = e.firstChild; child; child = child.nextSibling) text += textOf(child, skip, hiddenOk);
    }
    return BLOCK.has(e.tagName) || label ? " " + text + " " : text;
  }

  function byIds(e, name) {
    if (!e.hasAttribute(name)) return [];
    const root = e.getRootNode();
    return attr(e, name).split(/\s+/).filter(Boolean)
      .map((id) => (root.getElementById ? root : document).getElementById(id))
      .filter(Boolean);
  }

  function nameOf(e, r) {
    const labelledBy = byIds(e, "aria-labelledby");
    if (labelledBy.length) {
      const text = squash(labelledBy.map((l) => textOf(l, null, true)).join(" "));
      if (text) return text;
    }
    const label = attr(e, "aria-label");
    if (label) return squash(label);
    const tag = e.tagName;
    if (tag === "INPUT" && ["button", "submit", "reset"].includes(e.type)) {
      return e.value || (e.type === "submit" ? "Submit" : e.type === "reset" ? "Reset" : "");
    }
    if (tag === "INPUT" && e.type === "image") return attr(e, "alt") || e.value || "Submit";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || tag === "METER" || tag === "PROGRESS" || tag === "OUTPUT") {
      const labels = e.labels ? Array.from(e.labels) : [];
      const text = squash(labels.map((l) => textOf(l, e, false)).join(" "));
      if (text) return text;
      if (tag !== "SELECT" && attr(e, "placeholder")) return attr(e, "placeholder");
      return attr(e, "title");
    }
    if (tag === "IMG" || tag === "AREA") return squash(e.getAttribute("alt") || attr(e, "title"));
    if (tag === "svg" || tag === "SVG") {
      const title = e.querySelector(":scope > title");
      return title ? squash(title.textContent) : "";
    }
    if (tag === "FIELDSET") {
      const legend = e.querySelector(":scope > legend");
      if (legend) return squash(textOf(legend, null, false));
    }
    if (tag === "TABLE" && e.caption) return squash(textOf(e.caption, null, true));
    if (tag === "FIGURE") {
      const caption = e.querySelector(":scope > figcaption");
      if (caption) return squash(textOf(caption, null, false));
    }
    if (tag === "IFRAME" || tag === "FRAME") return attr(e, "title");
    if (FROM_CONTENT.has(r)) {
      const text = squash(textOf(e, null, false));
      if (text) return text;
    }
    return attr(e, "title");
  }

  function states(e, r) {
    const out = [];
    const aria = (name) => attr(e, "aria-" + name);
    const tag = e.tagName;
    const formy = FORMY.has(tag) || (tag.includes("-") && "disabled" in e);
    if (!formy && !hasAria(e)) return out;
    let checked = aria("checked");
    if (tag === "INPUT" && (e.type === "checkbox" || e.type === "radio")) checked = e.indeterminate ? "mixed" : String(e.checked);
    if (checked === "true") out.push("checked");
    else if (checked === "mixed") out.push("checked=mixed");
    if ((tag === "OPTION" && e.selected) || aria("selected") === "true") out.push("selected");
    let expanded = aria("expanded");
    if (tag === "SUMMARY" && e.parentElement && e.parentElement.tagName === "DETAILS") expanded = String(e.parentElement.open);
    if (expanded === "true") out.push("expanded");
    if (aria("pressed") === "true") out.push("pressed");
    else if (aria("pressed") === "mixed") out.push("pressed=mixed");
    if ((formy && e.matches(":disabled")) || aria("disabled") === "true") out.push("disabled");
    if (e.required || aria("required") === "true") out.push("required");
    return out;
  }

  function valueOf(e, r) {
    const tag = e.tagName;
    if (tag === "INPUT") {
      if (e.type === "password") return e.value ? "•".repeat(Math.min(e.value.length, MAX_TEXT)) : "";
      if (e.type === "file") return e.files && e.files.length ? Array.from(e.files).map((f) => f.name).join(", ") : "No file chosen";
      if (["button", "submit", "reset", "image", "checkbox", "radio"].includes(e.type)) return "";
      return e.value;
    }
    if (tag === "TEXTAREA") return e.value;
    if (tag === "SELECT" && !e.multiple) return e.selectedOptions.length ? e.selectedOptions[0].label : "";
    if (tag === "PROGRESS" || tag === "METER") return String(e.value);
    if (r === "slider" || r === "spinbutton" || r === "progressbar") return aria(e, "valuetext") || attr(e, "aria-valuenow");
    if (r === "textbox" && e.isContentEditable) return e.innerText;
    return "";
  }
  const aria = (e, name) => attr(e, "aria-" + name);

  // Walks the page into a flat list of nodes (index 0 is the root), each
  // {r: role, n: name, i: element number, c: child indices, s: states, v: value, l: level,
  //  f: focusable, k: clickable (the pointing hand), x: an iframe whose document is walked on
  //  its own}.
  function snapshot(rootId) {
    // Numbers of elements the page has dropped and the garbage collector took are forgotten
    // once there are many (a page that re-renders its lists keeps making new elements).
    if (elements.size > 20000) for (const [n, ref] of elements) if (!ref.deref()) elements.delete(n);
    shownMemo = new Map();
    textMemo = new Map();
    tableMemo = new Map();
    try {
      return walkAll(rootId);
    } finally {
      shownMemo = textMemo = tableMemo = null;
    }
  }

  function walkAll(rootId) {
    const nodes = [];
    // A name, value or text longer than MAX_TEXT is cut (a page's 1 MB labels would otherwise
    // travel whole to keel and stay in its cached tree).
    const clip = (s) => s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "… (" + (s.length - MAX_TEXT) + " more characters)" : s;
    const add = (node) => {
      if (node.n) node.n = clip(node.n);
      if (node.v) node.v = clip(node.v);
      return nodes.push(node) - 1;
    };
    // The cursor over the parent, and whether an ancestor is already something to act on: an
    // element that shows the pointing hand where its parent does not (a clickable card, a
    // div made into a button by a script) is something to click too.
    let cursorAbove = "auto";
    let inControl = false;

    function visit(e, parent) {
      const tag = e.tagName;
      if (SKIP.has(tag) || tag === "CAPTION" || (tag === "INPUT" && e.type === "hidden")) return;
      if (attr(e, "aria-hidden") === "true") return;
      const visible = shown(e);
      if (visible === "no") return;
      let r = visible === "yes" ? role(e) : "generic";
      if (r === "image" && (tag === "svg" || tag === "SVG") && !attr(e, "aria-label") && !e.querySelector(":scope > title")) return;
      const node = {r};
      if (visible === "yes" && r !== "generic" && r !== "none") {
        const name = nameOf(e, r);
        if (name) node.n = name;
      } else if (visible === "yes" && (attr(e, "aria-label") || attr(e, "aria-labelledby"))) {
        node.n = nameOf(e, r);
      }
      if (r === "image" && !node.n) return;
      const focusable = e.hasAttribute("tabindex") && e.tabIndex >= 0 && !e.disabled;
      if (focusable || (r === "textbox" && e.isContentEditable)) node.f = 1;
      let cursor = cursorAbove;
      // A label counts when the control it names does not show (a styled checkbox whose input
      // is hidden: the label is what a person clicks).
      const labelForHidden = r === "LabelText" && e.control && shown(e.control) !== "yes";
      if (visible === "yes" && !inControl && !INTERACTIVE.has(r) && !node.f && (r !== "LabelText" || labelForHidden) && r !== "Iframe") {
        cursor = getComputedStyle(e).cursor;
        if (cursor === "pointer" && cursorAbove !== "pointer") {
          node.k = 1;
          if (!node.n) node.n = squash(textOf(e, null, false));
        }
      }
      const control = INTERACTIVE.has(r) || node.f || node.k;
      if (control || r === "Iframe") node.i = idOf(e);
      if (visible === "yes") {
        const s = states(e, r);
        if (s.length) node.s = s;
        const v = valueOf(e, r);
        if (v) node.v = v;
        if (r === "heading") {
          const level = Number(aria(e, "level")) || Number(tag.slice(1)) || 0;
          if (level) node.l = level;
        }
      }
      const index = add(node);
      if (parent) (parent.c || (parent.c = [])).push(index);
      if (r === "Iframe") {
        let inner = null;
        try { inner = e.contentDocument; } catch (err) {}
        if (inner && inner.body) {
          for (const child of inner.body.childNodes) walk(child, node);
        } else if (e.src || e.srcdoc) {
          node.x = 1;
        }
        return;
      }
      if (tag === "SELECT") {
        for (const option of e.querySelectorAll("option")) {
          const o = {r: "option", n: squash(option.label || option.text), i: idOf(option)};
          if (option.selected) o.s = ["selected"];
          if (option.disabled) (o.s || (o.s = [])).push("disabled");
          (node.c || (node.c = [])).push(add(o));
        }
        return;
      }
      if (tag === "TEXTAREA" || tag === "INPUT" || tag === "IMG" || tag === "svg" || tag === "SVG") return;
      // A label's own text is its control's name already: only its elements are walked.
      const labelling = tag === "LABEL" && e.control && shown(e.control) === "yes";
      const savedCursor = cursorAbove, savedInControl = inControl;
      cursorAbove = cursor;
      inControl = inControl || !!control;
      const ownText = !labelling && visible !== "invisible";
      const laid = kids(e);
      if (laid) {
        for (const child of laid) if (ownText || child.nodeType !== 3) walk(child, node);
      } else {
        for (let child = e.firstChild; child; child = child.nextSibling) if (ownText || child.nodeType !== 3) walk(child, node);
      }
      cursorAbove = savedCursor;
      inControl = savedInControl;
    }

    function walk(child, parent) {
      if (nodes.length >= MAX_NODES) return;
      if (child.nodeType === 3) {
        // Text the parent's name already says (a link's or button's own words) is left out: the
        // snapshot would not print it, and on a page of links it is half of the tree. (A cell's
        // or a frame's contents print under their own lines, so theirs stays.)
        const text = child.data, trimmed = text.trim();
        if (trimmed && !(parent.n && !KEEPS_TEXT.has(parent.r) && parent.n.includes(trimmed))) (parent.c || (parent.c = [])).push(add({r: "StaticText", n: text}));
      } else if (child.nodeType === 1) {
        visit(child, parent);
      }
    }

    if (rootId !== null && rootId !== undefined) {
      const root = el(rootId);
      if (!root) return null;
      visit(root, null);
      if (!nodes.length) add({r: "generic"});
    } else {
      const root = add({r: "RootWebArea", n: document.title});
      const body = document.body || document.documentElement;
      if (body) {
        const laid = kids(body);
        if (laid) for (const child of laid) walk(child, nodes[root]);
        else for (let child = body.firstChild; child; child = child.nextSibling) walk(child, nodes[root]);
      }
    }
    if (nodes.length >= MAX_NODES) {
      (nodes[0].c || (nodes[0].c = [])).unshift(add({r: "StaticText", n: "… (the page has more than " + MAX_NODES + " nodes: the snapshot stops here; scope it to a part with target)"}));
    }
    return JSON.stringify(nodes);
  }

  // Where the viewport of an element's document starts in the top document this world reaches
  // (each same-origin frame on the way added): the mouse works in the top page's coordinates.
  function origin(e) {
    let x = 0, y = 0, win = e.ownerDocument.defaultView;
    while (win && win.frameElement) {
      const f = win.frameElement, r = f.getBoundingClientRect();
      x += r.left + f.clientLeft; y += r.top + f.clientTop;
      win = win.parent;
    }
    return [x, y];
  }

  // The top document's tree, walked the moment it finishes loading and sent to keel through
  // `__keelTree` (a binding of keel's world; tabs opened only to read a page go without it): the
  // snapshot a navigation or an action returns is then ready as the load ends, instead of a
  // round trip later behind the page's next frame. "" says a walk has begun, "!" that it failed.
  // Walked at `pageshow`, which follows `load` in the same task: every load listener has run.
  // Whatever changes later is reported as any change is and drops this tree.
  if (window.parent === window && typeof __keelTree === "function" && document.readyState !== "complete") {
    addEventListener("pageshow", () => {
      // A page with frames is walked frame by frame when asked (keel does not cache its tree).
      if (document.querySelector("iframe, frame")) return;
      let tree = "!";
      try {
        __keelTree("");
        tree = snapshot(null);
      } catch (e) {}
      try { __keelTree(tree); } catch (e) {}
    }, {once: true});
  }

  Object.defineProperty(globalThis, "__keel", {value: Object.freeze({snapshot, el, idOf, origin})});
})();
