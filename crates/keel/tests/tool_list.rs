//! What `tools/list` offers: the operator's tool groups (`--tools`), metadata derived from each
//! tool's types (schemas, output schemas, truthful annotations), a default list small enough for
//! every conversation's context, and nothing of the conformance fixtures unless asked for.

use serde_json::{Value, json};

mod common;

use common::Server;
use common::mcp::Session;

fn tools(server: &Server) -> Vec<Value> {
    let mut session = Session::open(server.addr.as_str());
    let list = session.request("tools/list", json!({}));
    list["result"]["tools"].as_array().unwrap().clone()
}

fn names(tools: &[Value]) -> Vec<&str> {
    tools.iter().map(|t| t["name"].as_str().unwrap()).collect()
}

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools.iter().find(|t| t["name"] == name).unwrap()
}

#[test]
fn the_default_offers_what_reads_and_operates_a_page_in_little_context() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--browser", "on"]);
    let listed = tools(&server);
    let offered = names(&listed);
    for wanted in [
        "kv_get",
        "sql_exec",
        "browser_navigate",
        "browser_navigate_back",
        "browser_snapshot",
        "browser_click",
        "browser_type",
        "browser_fill_form",
        "browser_select_option",
        "browser_press_key",
        "browser_hover",
        "browser_wait_for",
        "browser_tabs",
        "browser_handle_dialog",
        "browser_take_screenshot",
        "page_markdown",
    ] {
        assert!(
            offered.contains(&wanted),
            "{wanted} is missing from {offered:?}"
        );
    }
    for opt_in in [
        "browser_evaluate",
        "browser_mouse_click_xy",
        "browser_drag",
        "browser_network_requests",
        "browser_pdf_save",
        "browser_file_upload",
        "browser_resize",
        "page_extract",
    ] {
        assert!(!offered.contains(&opt_in), "{opt_in} is on by default");
    }
    // The whole list as a client receives it, in bytes.
    let bytes = serde_json::to_string(&listed).unwrap().len();
    assert!(bytes <= 14 * 1024, "the default tool list is {bytes} bytes");
    for t in &listed {
        let description = t["description"].as_str().unwrap();
        assert!(description.len() >= 25, "{}: {description:?}", t["name"]);
    }
}

#[test]
fn groups_and_tools_are_picked_by_name_and_a_wrong_name_is_refused_with_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--browser",
            "on",
            "--tools",
            "state,browser-devtools,browser_evaluate",
        ],
    );
    let listed = tools(&server);
    let offered = names(&listed);
    assert!(offered.contains(&"kv_put") && offered.contains(&"browser_evaluate"));
    assert!(offered.contains(&"browser_network_requests"), "{offered:?}");
    assert!(!offered.contains(&"browser_click"), "{offered:?}");
    drop(server);

    let all = Server::start(dir.path(), &["--browser", "on", "--tools", "all"]);
    assert!(tools(&all).len() >= 42, "{:?}", names(&tools(&all)));
    drop(all);

    let out = common::keel()
        .args(["--data"])
        .arg(dir.path().join("data2"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tools",
            "default,brwoser",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"brwoser\"") && err.contains("browser-devtools"),
        "{err}"
    );

    // A browser group named where Chromium is off is left out, not refused: one keel.toml
    // serves machines with and without it.
    let no_browser = Server::start(
        dir.path(),
        &["--browser", "off", "--tools", "default,browser-pdf"],
    );
    assert_eq!(
        names(&tools(&no_browser)),
        ["kv_get", "kv_put", "kv_delete", "kv_list", "sql_exec"]
    );
}

#[test]
fn metadata_comes_from_the_types_and_tells_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--browser", "on", "--tools", "all"]);
    let listed = tools(&server);

    // The same INSERT twice inserts twice: not idempotent, and it can delete.
    let sql = tool(&listed, "sql_exec");
    assert_eq!(sql["annotations"]["destructiveHint"], Value::Null, "{sql}");
    assert_ne!(sql["annotations"]["idempotentHint"], true, "{sql}");
    assert!(sql["outputSchema"]["properties"]["rowsWritten"].is_object());
    // Every state tool says what its structured answer looks like.
    for name in ["kv_get", "kv_put", "kv_delete", "kv_list", "sql_exec"] {
        assert_eq!(
            tool(&listed, name)["outputSchema"]["type"],
            "object",
            "{name}"
        );
    }
    let value = &tool(&listed, "kv_put")["inputSchema"]["properties"]["value"];
    assert!(
        value["type"].is_array(),
        "kv_put's value has a type: {value}"
    );
    assert_eq!(tool(&listed, "kv_get")["annotations"]["readOnlyHint"], true);

    // `target` (or its alias `ref`) is required, and says so.
    let click = &tool(&listed, "browser_click")["inputSchema"];
    assert_eq!(
        click["anyOf"],
        json!([{"required": ["target"]}, {"required": ["ref"]}]),
        "{click}"
    );
    assert_eq!(click["additionalProperties"], false);
    // Closing deletes cookies, storage and downloads: destructive (the spec's default).
    let close = &tool(&listed, "browser_close")["annotations"];
    assert_ne!(close["destructiveHint"], false, "{close}");
    assert_eq!(
        tool(&listed, "browser_click")["annotations"]["openWorldHint"],
        Value::Null
    );
    // Optional arguments are left out, not null; no `$ref`s for a model to follow.
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("$ref"), "{text}");
    assert!(!text.contains(r#"["string","null"]"#), "{text}");
}

#[test]
fn without_conformance_nothing_of_the_fixtures_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--browser", "off"]);
    let mut session = Session::open(server.addr.as_str());
    let complete = session.request(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
               "argument": {"name": "arg1", "value": "pa"}}),
    );
    let values = &complete["result"]["completion"]["values"];
    assert!(
        complete["error"].is_object() || values.as_array().is_some_and(|v| v.is_empty()),
        "{complete}"
    );
    let read = session.request("resources/read", json!({"uri": "test://static-text"}));
    assert!(read["error"].is_object(), "{read}");
    let prompt = session.request("prompts/get", json!({"name": "test_simple_prompt"}));
    assert!(prompt["error"].is_object(), "{prompt}");
    let listed = session.request("tools/list", json!({}));
    assert!(!listed.to_string().contains("test_simple_text"));
}
