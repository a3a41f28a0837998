//! Packs: what a server on keel offers. A pack declares its tools ([`ToolDef`]) and may serve
//! resources, resource templates, prompts and completions; [`Packs`] puts packs together into what
//! one server offers, with the operator's choice of tool groups.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{
    CompleteRequestParams, CompletionInfo, GetPromptResponse, Prompt, ReadResourceResponse,
    Resource, ResourceTemplate, Tool,
};

use crate::context::ToolContext;
use crate::tool::{ToolDef, ToolRoute};
use crate::tool_error::ToolError;

/// A set of tools, resources and prompts. Only `tools` is required.
#[async_trait::async_trait]
pub trait Pack: Send + Sync + 'static {
    /// The pack's tools.
    fn tools() -> Vec<ToolDef<Self>>
    where
        Self: Sized;

    /// What the pack serves besides tools (the server announces it to clients).
    fn offers(&self) -> Offers {
        Offers::default()
    }

    /// The resources the caller can list (a client reads them with `resources/read`).
    async fn resources(&self, cx: &ToolContext) -> Result<Vec<Resource>, ToolError> {
        let _ = cx;
        Ok(Vec::new())
    }

    /// URI templates of resources that are not listed one by one.
    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads `uri` if it is the pack's (`Ok(None)`: not this pack's; the next pack is asked).
    async fn read_resource(
        &self,
        uri: &str,
        cx: &ToolContext,
    ) -> Result<Option<ReadResourceResponse>, ToolError> {
        let _ = (uri, cx);
        Ok(None)
    }

    /// The pack's prompts.
    fn prompts(&self) -> Vec<Prompt> {
        Vec::new()
    }

    /// Gets the prompt `name` if it is the pack's (`Ok(None)`: not this pack's).
    async fn get_prompt(
        &self,
        name: &str,
        arguments: &serde_json::Map<String, serde_json::Value>,
        cx: &ToolContext,
    ) -> Result<Option<GetPromptResponse>, ToolError> {
        let _ = (name, arguments, cx);
        Ok(None)
    }

    /// Suggestions for a prompt's or a resource template's argument (`Ok(None)`: not this pack's).
    async fn complete(
        &self,
        request: &CompleteRequestParams,
        cx: &ToolContext,
    ) -> Result<Option<CompletionInfo>, ToolError> {
        let _ = (request, cx);
        Ok(None)
    }
}

/// What a server serves, ready to answer: the tool list, each tool's route, and the packs.
pub(crate) struct Served {
    pub(crate) tools: Vec<Tool>,
    pub(crate) routes: HashMap<String, ToolRoute>,
    pub(crate) packs: Vec<Arc<dyn Pack>>,
}

/// What a pack serves besides tools.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Offers {
    /// Resources (and templates); with `subscribe`, updates of one.
    pub resources: bool,
    /// Prompts.
    pub prompts: bool,
    /// Completions of prompt and template arguments.
    pub completions: bool,
    /// Log messages (`logging/setLevel`; see [`ToolContext::log`]).
    pub logging: bool,
}

impl Offers {
    /// What `self` or `other` serves.
    pub fn union(self, other: Offers) -> Offers {
        Offers {
            resources: self.resources || other.resources,
            prompts: self.prompts || other.prompts,
            completions: self.completions || other.completions,
            logging: self.logging || other.logging,
        }
    }
}

/// The packs one server offers, and which of their tools: built with [`Packs::add`], then
/// narrowed to the operator's tool groups with [`Packs::select`].
#[derive(Default)]
pub struct Packs {
    pub(crate) routes: Vec<ToolRoute>,
    pub(crate) packs: Vec<Arc<dyn Pack>>,
}

impl Packs {
    /// No packs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `pack` too. Two tools of the same name are a mistake, reported when the server is built.
    pub fn with<P: Pack>(mut self, pack: Arc<P>) -> Self {
        for def in P::tools() {
            self.routes.push(def.into_route(Arc::clone(&pack)));
        }
        self.packs.push(pack);
        self
    }

    /// Every tool of the packs added, with its group (`""` for none).
    pub fn tools(&self) -> impl Iterator<Item = (&Tool, &'static str)> {
        self.routes.iter().map(|r| (&r.tool, r.group))
    }

    /// Keeps only the tools named in `selection` by group or by tool name, plus every tool
    /// without a group; `"default"` stands for `defaults`. An unknown name is an error that lists
    /// the groups there are.
    pub fn select(mut self, selection: &[String], defaults: &[&str]) -> Result<Self, String> {
        let groups: std::collections::BTreeSet<&str> = self
            .routes
            .iter()
            .map(|r| r.group)
            .filter(|g| !g.is_empty())
            .collect();
        let mut wanted: Vec<&str> = Vec::new();
        for name in selection {
            match name.as_str() {
                // A default group of a pack that is not here (the browser's, without Chromium).
                "default" => wanted.extend(defaults.iter().filter(|g| groups.contains(*g))),
                "all" => wanted.extend(groups.iter().copied()),
                other => wanted.push(other),
            }
        }
        for name in &wanted {
            let known = groups.contains(name) || self.routes.iter().any(|r| r.tool.name == *name);
            if !known {
                return Err(format!(
                    "no tool group or tool {name:?}: the groups are {} (and \"default\", \"all\")",
                    groups.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        self.routes.retain(|r| {
            r.group.is_empty()
                || wanted.contains(&r.group)
                || wanted.contains(&r.tool.name.as_ref())
        });
        Ok(self)
    }

    /// The routes by tool name; an error names a tool two packs both define.
    pub(crate) fn into_served(self) -> Result<Served, String> {
        let mut tools = Vec::with_capacity(self.routes.len());
        let mut routes = HashMap::with_capacity(self.routes.len());
        for route in self.routes {
            let name = route.tool.name.to_string();
            tools.push(route.tool.clone());
            if routes.insert(name.clone(), route).is_some() {
                return Err(format!("two packs define the tool {name}"));
            }
        }
        Ok(Served {
            tools,
            routes,
            packs: self.packs,
        })
    }
}
