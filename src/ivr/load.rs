//! Reading tree files: YAML text to [`TreeFile`], with syntax and shape errors located.

use super::model::TreeFile;
use crate::diag::{Diagnostic, Pos};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A parsed tree with its name (the file stem) and origin.
#[derive(Debug)]
pub struct Tree {
    pub name: String,
    pub path: PathBuf,
    pub def: TreeFile,
}

impl Tree {
    /// The entry point an operator passes a caller to for the read-back of the appointment just
    /// booked: the first entry point that is an `appointment` lookup.
    pub fn appointment_readback(&self) -> Option<&str> {
        self.def.entry_points.iter().map(|e| e.value.as_str()).find(|name| {
            matches!(&self.def.nodes.get(*name).map(|n| &n.value),
                Some(super::model::Node::Lookup(l)) if l.service.value == super::model::Service::Appointment)
        })
    }
}

/// Parse tree YAML. A syntax or shape error is returned as one located diagnostic
/// (YAML parsing cannot go on past it); semantic checks are in [`super::validate`].
pub fn parse_tree(path: &Path, text: &str) -> Result<Tree, Diagnostic> {
    let def: TreeFile = serde_saphyr::from_str(text).map_err(|e| {
        let pos = e.location().map_or(Pos::new(1, 1), |l| Pos::new(l.line() as u32, l.column() as u32));
        let message = strip_location(&e.without_snippet().to_string())
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
        Diagnostic::error(path, pos, message).hint(hint_for(&e.to_string()))
    })?;
    Ok(Tree { name: tree_name(path), path: path.to_path_buf(), def })
}

/// Read and parse a tree file.
pub fn read_tree(path: &Path) -> Result<Arc<Tree>, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(path, Pos::new(1, 1), format!("cannot read the tree: {e}")))?;
    parse_tree(path, &text).map(Arc::new)
}

/// A tree is named after its file: `ivr-trees/agenzia-latina.yaml` is `agenzia-latina`.
pub fn tree_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// serde-saphyr appends " at line L column C"; the diagnostic already says where.
fn strip_location(msg: &str) -> String {
    let msg = msg.trim();
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

fn hint_for(msg: &str) -> String {
    let lower = msg.to_lowercase();
    if msg.contains("unknown field") {
        "check the spelling against docs/ivr-trees.md (or `centralino schema`)".into()
    } else if msg.contains("unknown variant") && msg.contains("menu") && msg.contains("lookup") {
        "each node is written as `name: { <kind>: {...} }` with kind one of menu, play, collect, queue, hangup, goto, schedule, language, branch, lookup".into()
    } else if msg.contains("unknown variant") {
        "use one of the values listed in the message".into()
    } else if lower.contains("duplicate") {
        "each key may appear only once in a mapping; remove or rename one of them".into()
    } else if lower.contains("alias") || lower.contains("anchor") || lower.contains("simple key") {
        "quote the keys \"*\" and \"#\": unquoted, YAML reads * as an alias and # as a comment".into()
    } else {
        "fix the YAML at this position; see docs/ivr-trees.md".into()
    }
}
