//! Reading tool arguments with messages that tell the caller exactly what to fix.

use serde_json::{Map, Value};

/// A tool's arguments.
pub struct Arguments<'a> {
    tool: &'a str,
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Arguments<'a> {
    /// Wraps the `arguments` of a `tools/call` (absent means none).
    pub fn new(tool: &'a str, map: Option<&'a Map<String, Value>>) -> Self {
        Self { tool, map }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(name)).filter(|v| !v.is_null())
    }

    /// A required string.
    pub fn string(&self, name: &str) -> Result<&'a str, String> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(format!(
                "{}: `{name}` must be a string, not {}",
                self.tool,
                kind(other)
            )),
            None => Err(format!("{}: `{name}` is required", self.tool)),
        }
    }

    /// An optional string.
    pub fn opt_string(&self, name: &str) -> Result<Option<&'a str>, String> {
        self.get(name).map(|_| self.string(name)).transpose()
    }

    /// A required value of any JSON type.
    pub fn value(&self, name: &str) -> Result<&'a Value, String> {
        self.map
            .and_then(|m| m.get(name))
            .ok_or_else(|| format!("{}: `{name}` is required", self.tool))
    }

    /// An optional non-negative integer.
    pub fn opt_count(&self, name: &str) -> Result<Option<usize>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
                .ok_or_else(|| {
                    format!(
                        "{}: `{name}` must be a whole number of 0 or more",
                        self.tool
                    )
                }),
            Some(other) => Err(format!(
                "{}: `{name}` must be a number, not {}",
                self.tool,
                kind(other)
            )),
        }
    }

    /// An optional array.
    pub fn opt_array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(format!(
                "{}: `{name}` must be an array, not {}",
                self.tool,
                kind(other)
            )),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
