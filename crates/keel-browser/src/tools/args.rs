//! What the browser tools' arguments share: the `handle` of a browsing session, the element an
//! action is on (`target`, with Playwright MCP's `ref` as an alias), and the names of keys and
//! buttons. Every tool's schema is derived from its argument type.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// The `handle` of a browsing session, sent as the `Mcp-Param-Handle` header too.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct Handle(pub(crate) String);

impl JsonSchema for Handle {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Handle".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Session handle from an earlier result.",
            "x-mcp-header": keel_mcp::handles::HANDLE_HEADER,
        })
    }
}

/// What every browser tool's arguments have ([`browser_args!`] writes it).
pub(crate) trait BrowserArgs {
    /// The browsing session the caller named.
    fn handle(&self) -> Option<&str>;
    /// `filename`: keep the text answer in the session as a file of this name instead.
    fn filename(&self) -> Option<&str> {
        None
    }
}

/// Declares a browser tool's arguments: its own fields (documented: the docs are the schema's
/// descriptions) and the `handle` of the browsing session every browser tool takes. With
/// `+ filename` also `filename`, for a tool whose text answer can be kept as a file instead.
macro_rules! browser_args {
    ($(#[$meta:meta])* $name:ident + filename { $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub(crate) struct $name {
            $($(#[$field_meta])* pub(crate) $field: $ty,)*
            /// Save it in the session under this name instead (see browser_downloads).
            filename: Option<String>,
            handle: Option<$crate::tools::args::Handle>,
        }

        impl $crate::tools::args::BrowserArgs for $name {
            fn handle(&self) -> Option<&str> {
                self.handle.as_ref().map(|h| h.0.as_str())
            }
            fn filename(&self) -> Option<&str> {
                self.filename.as_deref()
            }
        }
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub(crate) struct $name {
            $($(#[$field_meta])* pub(crate) $field: $ty,)*
            handle: Option<$crate::tools::args::Handle>,
        }

        impl $crate::tools::args::BrowserArgs for $name {
            fn handle(&self) -> Option<&str> {
                self.handle.as_ref().map(|h| h.0.as_str())
            }
        }
    };
}
pub(crate) use browser_args;

/// The element an action is on, from its `target` or `ref`.
pub(crate) fn element<'a>(
    target: &'a Option<String>,
    alias: &'a Option<String>,
) -> Result<&'a str, String> {
    target
        .as_deref()
        .or(alias.as_deref())
        .ok_or_else(|| "name the element with `target` (a ref from browser_snapshot, like e12, or a CSS selector)".to_string())
}

// A mouse button.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MouseButton {
    #[default]
    Left,
    Right,
    Middle,
}

impl MouseButton {
    /// The button's name, as the browser has it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
            Self::Middle => "middle",
        }
    }
}

// A key held during a click.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub(crate) enum Modifier {
    Alt,
    Control,
    ControlOrMeta,
    Meta,
    Shift,
}

/// The modifiers as the protocol's bit mask.
pub(crate) fn modifier_mask(modifiers: &[Modifier]) -> i64 {
    modifiers
        .iter()
        .map(|m| {
            let name = match m {
                Modifier::Alt => "Alt",
                Modifier::Control => "Control",
                Modifier::ControlOrMeta => "ControlOrMeta",
                Modifier::Meta => "Meta",
                Modifier::Shift => "Shift",
            };
            crate::tab::modifier_bit(name).unwrap_or(0)
        })
        .fold(0, |mask, bit| mask | bit)
}

/// For an argument where `null` means something (clear the setting) and leaving it out means
/// another (keep it): `Some(None)` for null.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The schema of such an argument: `T`, or null (kept: keel-mcp cuts only `Option`'s `[T, "null"]`
/// types to `T`).
pub(crate) struct Clearable<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Clearable<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Clearable_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let inner = generator.subschema_for::<T>();
        json_schema!({"anyOf": [{"type": "null"}, inner]})
    }
}
