//! Tool arguments checked against each tool's input schema (JSON Schema 2020-12) before the tool
//! runs, so a model that sends the wrong shape gets a precise message instead of a half-run tool.

use std::collections::HashMap;

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

/// Compiled input schemas, by tool name.
#[derive(Debug, Default)]
pub struct ArgumentValidators {
    by_tool: HashMap<String, jsonschema::Validator>,
}

/// At most this many problems are listed in one message.
const MAX_PROBLEMS: usize = 5;

impl ArgumentValidators {
    /// Compiles every tool's input schema; a schema that does not compile is a bug in its pack.
    pub fn new(tools: &[Tool]) -> Result<Self, String> {
        let mut by_tool = HashMap::new();
        for tool in tools {
            let schema = Value::Object(tool.input_schema.as_ref().clone());
            let validator = jsonschema::validator_for(&schema).map_err(|e| {
                format!(
                    "the input schema of tool {} is not valid JSON Schema: {e}",
                    tool.name
                )
            })?;
            by_tool.insert(tool.name.to_string(), validator);
        }
        Ok(Self { by_tool })
    }

    /// Checks `arguments` (absent means `{}`); the error lists what is wrong, where.
    pub fn check(&self, tool: &str, arguments: Option<&JsonObject>) -> Result<(), String> {
        let Some(validator) = self.by_tool.get(tool) else {
            return Ok(());
        };
        let instance = Value::Object(arguments.cloned().unwrap_or_default());
        let problems: Vec<String> = validator
            .iter_errors(&instance)
            .take(MAX_PROBLEMS)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the arguments of {tool} do not match its input schema: {} (tools/list shows the schema)",
            problems.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_shapes_are_reported_with_where_and_what() {
        let packs = crate::Packs::new().with(std::sync::Arc::new(
            crate::state_pack::StatePack::for_config(&crate::McpConfig::default()),
        ));
        let tools: Vec<Tool> = packs.tools().map(|(t, _)| t.clone()).collect();
        let v = ArgumentValidators::new(&tools).unwrap();
        assert!(
            v.check("kv_put", json!({"key": "a", "value": 1}).as_object())
                .is_ok()
        );
        let e = v
            .check("kv_put", json!({"key": 5}).as_object())
            .unwrap_err();
        assert!(e.contains("/key") && e.contains("string"), "{e}");
        assert!(
            e.contains("value"),
            "missing required value is reported: {e}"
        );
        let e = v
            .check("kv_get", json!({"key": "a", "kee": 1}).as_object())
            .unwrap_err();
        assert!(e.contains("kee"), "{e}");
        let e = v
            .check("kv_list", json!({"limit": -1}).as_object())
            .unwrap_err();
        assert!(e.contains("/limit"), "{e}");
    }
}
