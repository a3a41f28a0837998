//! The one error type of tools. What the caller can fix (a wrong argument, a refused URL, a limit,
//! a failed SQL statement) becomes an `isError` result whose text says what to fix: the model reads
//! it and tries again. What it cannot fix (the server's storage failing) becomes a JSON-RPC error.

use std::fmt;

use keel_objects::ObjectError;
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use crate::handles::HandleError;
use crate::target::TargetError;

/// Why a tool call failed. Any error type converts with `?`: the object runtime's errors by
/// whose fault they are, JSON-RPC errors as they are, every other error as something to fix
/// (its message is what the model reads, so it should say what to do).
#[derive(Debug)]
pub enum ToolError {
    /// The caller can fix it: an `isError` result with this text.
    Fix(String),
    /// The request cannot be served: this JSON-RPC error.
    Request(ErrorData),
}

impl ToolError {
    /// Something the caller can fix, said so that it knows how.
    pub fn fix(message: impl Into<String>) -> Self {
        Self::Fix(message.into())
    }

    /// The tool's answer: an `isError` result, or the JSON-RPC error.
    pub fn into_answer(self) -> Result<CallToolResponse, ErrorData> {
        match self {
            Self::Fix(message) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
            Self::Request(error) => Err(error),
        }
    }

    fn from_object(error: &ObjectError) -> Self {
        match error {
            ObjectError::Corrupt { .. }
            | ObjectError::Io { .. }
            | ObjectError::DataDirInUse { .. }
            | ObjectError::UnknownNamespace(_)
            | ObjectError::Panicked(_)
            | ObjectError::ShuttingDown => {
                Self::Request(ErrorData::internal_error(error.to_string(), None))
            }
            _ => Self::Fix(error.to_string()),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fix(message) => f.write_str(message),
            Self::Request(error) => f.write_str(&error.message),
        }
    }
}

// `ToolError` is not itself a `std::error::Error`, so that every error converts into it (as
// `anyhow::Error` does); the runtime's own errors are told apart by type, never by their text.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ToolError {
    fn from(error: E) -> Self {
        let any: &dyn std::any::Any = &error;
        if let Some(object) = any.downcast_ref::<ObjectError>() {
            return Self::from_object(object);
        }
        if let Some(HandleError::Object(object)) = any.downcast_ref::<HandleError>() {
            return Self::from_object(object);
        }
        if let Some(TargetError::Invalid(object)) = any.downcast_ref::<TargetError>() {
            return Self::from_object(object);
        }
        if let Some(rpc) = any.downcast_ref::<ErrorData>() {
            return Self::Request(rpc.clone());
        }
        Self::Fix(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_failing_is_a_protocol_error_a_bad_call_is_a_tool_error() {
        let disk = ToolError::from(ObjectError::Io {
            object: "kv/x".into(),
            detail: "EIO".into(),
        });
        assert!(matches!(disk, ToolError::Request(_)), "{disk}");
        let sql = ToolError::from(ObjectError::Sql("no such table: t".into()));
        assert!(
            matches!(&sql, ToolError::Fix(m) if m.contains("no such table")),
            "{sql}"
        );
        let refused = ToolError::from(ObjectError::NotAllowed("ATTACH".into()));
        let answer = refused.into_answer().unwrap();
        let CallToolResponse::Complete(result) = answer else {
            panic!("a refusal is a result");
        };
        assert_eq!(result.is_error, Some(true));
        let rpc = ToolError::from(ErrorData::invalid_params("bad", None));
        assert!(rpc.into_answer().is_err());
    }
}
