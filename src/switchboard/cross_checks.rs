//! The configuration checked against the trees: every tree it names exists, and the queues'
//! node and message routes name nodes and prompts of their section's tree.

use crate::config::{Checker, Config, RouteConfig, Section};
use crate::diag::{Diagnostics, did_you_mean};
use crate::ivr::Tree;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Check that every tree the configuration names exists among `trees`.
pub fn check_tree_names(path: &Path, text: &str, c: &Config, trees: &HashSet<String>) -> Diagnostics {
    let mut k = Checker::new(path, text);
    let mut refs = vec![&c.default_tree];
    refs.extend(c.numbers.iter().filter_map(|n| n.tree.as_ref()));
    refs.extend(c.sections.values().map(|s| &s.tree));
    for r in refs {
        if !trees.contains(r.get_ref()) {
            let hint = did_you_mean(r.get_ref(), trees.iter().map(String::as_str))
                .unwrap_or_else(|| format!("add ivr-trees/{}.yaml or name an existing tree", r.get_ref()));
            k.error(r, format!("unknown tree `{}`", r.get_ref()), hint);
        }
    }
    k.out
}

/// Node and message routes of the queues: nodes of the section's tree, prompts of that tree.
/// `[queue]`'s routes are checked once against each tree of a section.
pub fn check_queue_routes(path: &Path, text: &str, c: &Config, trees: &[Arc<Tree>]) -> Diagnostics {
    let mut k = Checker::new(path, text);
    let tree_of = |section: &Section| trees.iter().find(|t| &t.name == section.tree.get_ref());
    for (id, section) in &c.sections {
        let Some(tree) = tree_of(section) else { continue };
        let q = &section.queue;
        let own = [&q.when_full, &q.after_max_wait, &q.when_no_operators, &q.leave_to];
        route_targets(&mut k, &format!("section `{}`", id.get_ref()), own.into_iter().flatten(), tree);
        // Callback hours of a section offering callback: a schedule of its tree (its own
        // setting, else [queue]'s).
        if c.offers_callback(&section.queue)
            && let Some(hours) = q.callback.hours.as_ref().or(c.queue.callback.hours.as_ref())
            && !tree.def.schedules.contains_key(hours.get_ref().as_str())
        {
            let hint = did_you_mean(hours.get_ref(), tree.def.schedules.keys().map(|k| k.value.as_str()))
                .unwrap_or_else(|| format!("name a schedule of ivr-trees/{}.yaml (under schedules:)", tree.name));
            let message = format!(
                "section `{}`: callback hours `{}` is not a schedule of tree `{}`",
                id.get_ref(),
                hours.get_ref(),
                tree.name
            );
            k.error(hours, message, hint);
        }
    }
    let mut seen = HashSet::new();
    for tree in c.sections.values().filter_map(tree_of) {
        if seen.insert(&tree.name) {
            let d = &c.queue;
            route_targets(
                &mut k,
                "[queue]",
                [&d.when_full, &d.after_max_wait, &d.when_no_operators].into_iter().flatten(),
                tree,
            );
        }
    }
    k.out
}

/// Report the node and message routes among `routes` that `tree` does not have.
fn route_targets<'r>(k: &mut Checker, what: &str, routes: impl Iterator<Item = &'r RouteConfig>, tree: &Tree) {
    for r in routes {
        if let Some(node) = &r.node
            && !tree.def.nodes.contains_key(node.get_ref().as_str())
        {
            let hint = did_you_mean(node.get_ref(), tree.def.nodes.keys().map(|k| k.as_str())).unwrap_or_else(|| {
                format!("name a node of ivr-trees/{}.yaml (and list it under entry_points)", tree.name)
            });
            k.error(node, format!("{what}: unknown node `{}` in tree `{}`", node.get_ref(), tree.name), hint);
        }
        if let Some(prompt) = &r.message
            && !tree.def.prompts.contains_key(prompt.get_ref().as_str())
        {
            let hint = did_you_mean(prompt.get_ref(), tree.def.prompts.keys().map(|k| k.as_str()))
                .unwrap_or_else(|| format!("define it under prompts: in ivr-trees/{}.yaml", tree.name));
            k.error(prompt, format!("{what}: unknown prompt `{}` in tree `{}`", prompt.get_ref(), tree.name), hint);
        }
    }
}
