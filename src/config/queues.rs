//! Queue settings: `[queue]` (defaults for every section) and `[sections.<id>.queue]`
//! (overrides, limits and overflow routes), as written; the distribution turns them into its
//! rules (`acd::rules::section_rules`).

use super::model::Config;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Every field is optional: a section's value, else `[queue]`'s, else the built-in default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Seconds an operator's phone rings before the next operator is tried.
    pub ring_timeout_seconds: Option<u32>,
    /// Seconds after each call before the operator gets the next one.
    pub wrap_up_seconds: Option<u32>,
    /// A changed position is announced at most this often.
    pub announce_min_interval_seconds: Option<u32>,
    /// The position is announced again after this long even when unchanged.
    pub announce_every_seconds: Option<u32>,
    /// Announce the estimated wait too.
    pub announce_wait: Option<bool>,
    /// Calls answered within this many seconds count towards the service level.
    pub service_level_seconds: Option<u32>,
    /// Most callers waiting; the next goes to `when_full`.
    pub max_queue: Option<Spanned<u32>>,
    /// Longest wait in seconds; then the caller goes to `after_max_wait`.
    pub max_wait_seconds: Option<Spanned<u32>>,
    pub when_full: Option<RouteConfig>,
    pub after_max_wait: Option<RouteConfig>,
    /// Where callers go when no operator of the section is logged in with a registered phone
    /// (default: they wait).
    pub when_no_operators: Option<RouteConfig>,
    /// A key that takes a waiting caller out of the queue, to `leave_to`.
    pub leave_key: Option<Spanned<String>>,
    pub leave_to: Option<RouteConfig>,
    /// Callback instead of waiting.
    #[serde(default)]
    pub callback: super::callback::CallbackSettings,
}

/// Exactly one of: another section, a node of the section's tree, or a prompt of that tree
/// played before hanging up. Written inline: `{ section = "general" }`, `{ node = "main_menu" }`,
/// `{ message = "queue_closed" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub section: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
}

impl RouteConfig {
    /// The value to point a diagnostic at.
    pub fn first(&self) -> Option<&Spanned<String>> {
        self.section.as_ref().or(self.node.as_ref()).or(self.message.as_ref())
    }
}

impl Config {
    /// Operators and their sections in priority order, as the distribution takes them.
    pub fn operator_skills(&self) -> BTreeMap<String, Vec<String>> {
        self.operators
            .iter()
            .map(|o| (o.username.get_ref().clone(), o.sections.iter().map(|s| s.get_ref().clone()).collect()))
            .collect()
    }
}
