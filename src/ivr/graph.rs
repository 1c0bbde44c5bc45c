//! The edges of a tree: which nodes a node can lead to, and which prompts it plays.
//! Shared by validation (references, reachability, silent loops) and documentation tools.

use super::at::At;
use super::model::*;

/// Every node name `node` refers to, with the position of the reference.
pub fn targets(node: &Node) -> Vec<&At<String>> {
    let mut out: Vec<&At<String>> = Vec::new();
    match node {
        Node::Menu(m) => {
            out.extend(m.options.values());
            out.extend(m.on_exhausted.as_ref());
        }
        Node::Play(p) => out.push(&p.next),
        Node::Collect(c) => {
            out.push(&c.next);
            out.extend(c.on_exhausted.as_ref());
        }
        Node::Queue(_) | Node::Hangup(_) => {}
        Node::Goto(t) => out.push(t),
        Node::Schedule(s) => out.extend([&s.open, &s.closed]),
        Node::Language(l) => out.push(&l.next),
        Node::Branch(b) => {
            out.extend(b.cases.values());
            out.push(&b.default);
        }
        Node::Lookup(l) => out.extend(l.on.values()),
    }
    out
}

/// Every prompt name `node` plays.
pub fn prompts(node: &Node) -> Vec<&At<String>> {
    let mut out: Vec<&At<String>> = Vec::new();
    match node {
        Node::Menu(m) => {
            out.push(&m.prompt);
            out.extend(m.invalid_prompt.as_ref());
            out.extend(m.timeout_prompt.as_ref());
        }
        Node::Play(p) => {
            out.extend(p.prompt.as_ref());
            out.extend(p.say.iter().filter_map(|s| match s {
                SayItem::Prompt(p) => Some(p),
                _ => None,
            }));
        }
        Node::Collect(c) => {
            out.push(&c.prompt);
            out.extend(c.invalid_prompt.as_ref());
            out.extend(c.timeout_prompt.as_ref());
        }
        Node::Queue(q) => out.extend(q.prompt.as_ref()),
        Node::Hangup(h) => out.extend(h.prompt.as_ref()),
        Node::Language(l) => out.push(&l.prompt),
        Node::Goto(_) | Node::Schedule(_) | Node::Branch(_) | Node::Lookup(_) => {}
    }
    out
}

/// Whether passing through `node` neither plays anything nor waits for the caller.
/// A cycle made only of such nodes would spin forever.
pub fn is_silent(node: &Node) -> bool {
    match node {
        Node::Goto(_) | Node::Schedule(_) | Node::Branch(_) | Node::Lookup(_) => true,
        Node::Play(p) => p.prompt.is_none() && p.say.is_empty(),
        _ => false,
    }
}

/// The section a node declares, if any.
pub fn section(node: &Node) -> Option<&At<String>> {
    match node {
        Node::Menu(m) => m.section.as_ref(),
        Node::Play(p) => p.section.as_ref(),
        Node::Queue(q) => Some(&q.section),
        _ => None,
    }
}
