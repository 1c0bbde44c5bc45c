//! The house is one-way: the top-level modules of `src/` import each other without a cycle,
//! and the bottom floor (the vocabulary and the configuration) imports nothing above it. Read
//! from the sources: every `crate::<module>` path (in `use`, in code, in doc links) and every
//! `super::` that climbs to the crate root is an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules at the bottom floor: they may import one another, nothing else of the engine.
const FLOOR: &[&str] = &["vocabulary", "config", "calendar", "diag", "jsonl", "metrics"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src/`: `sip/guard.rs` -> [sip, guard], `sip/mod.rs` -> [sip].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The top-level modules a source text names: `crate::x`, `crate::{x, y::z}`, and `super::`
/// chains that climb out of `path` (the file's module path).
fn targets(text: &str, path: &[String]) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(inner.split(',').map(|p| ident(p.trim())).filter(|p| !p.is_empty()));
        } else {
            out.insert(ident(rest));
        }
    }
    for (i, _) in text.match_indices("super::") {
        // Count the whole chain once, from its first `super::`.
        if text[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &text[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        // A file's own module is `path`; inline `mod tests` blocks add one level, which only
        // makes this conservative (a chain reaching the root names a top-level module).
        if ups >= path.len() {
            out.insert(ident(rest));
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tops: BTreeSet<String> = files.iter().map(|f| module_path(f.strip_prefix(&src).unwrap())[0].clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let path = module_path(f.strip_prefix(&src).unwrap());
        let top = path[0].clone();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let named: Vec<String> = targets(&text, &path).into_iter().filter(|t| *t != top && tops.contains(t)).collect();
        edges.entry(top).or_default().extend(named);
    }
    edges
}

/// A cycle through `start`, if any: the modules in order.
fn cycle_from(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(edges, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let edges = graph();
    assert!(edges.len() >= 15, "the graph was read: {edges:?}");
    assert!(edges["sip"].contains("calls") && edges["api"].contains("acd"), "known edges are seen: {edges:?}");
    let cycles: Vec<String> =
        edges.keys().filter_map(|m| cycle_from(&edges, m)).map(|c| format!("{} -> {}", c.join(" -> "), c[0])).collect();
    assert!(cycles.is_empty(), "module cycles:\n{}\nedges: {edges:#?}", cycles.join("\n"));
}

#[test]
fn the_bottom_floor_imports_nothing_above_it() {
    let edges = graph();
    for m in FLOOR {
        let above: Vec<&String> =
            edges.get(*m).into_iter().flatten().filter(|t| !FLOOR.contains(&t.as_str())).collect();
        assert!(above.is_empty(), "`{m}` is at the bottom floor but imports {above:?}");
    }
}

#[test]
fn the_reader_sees_groups_and_super_chains() {
    let text = "use crate::{config::Config, ivr};\nuse super::super::media::wav;\nuse super::x;";
    let named = targets(text, &["sip".to_string(), "guard".to_string()]);
    assert_eq!(named, BTreeSet::from(["config".into(), "ivr".into(), "media".into()]));
    assert_eq!(
        cycle_from(
            &BTreeMap::from([("a".into(), BTreeSet::from(["b".into()])), ("b".into(), BTreeSet::from(["a".into()]))]),
            "a"
        ),
        Some(vec!["a".into(), "b".into()])
    );
}

/// The pure machines' files: decisions only, no IO.
const PURE: &[&str] = &[
    "calls/machine.rs",
    "calls/machine/watch.rs",
    "calls/machine/callback_request.rs",
    "calls/callback_call.rs",
    "acd/machine.rs",
    "acd/schedule.rs",
    "acd/callbacks.rs",
    "vocabulary/callback_number.rs",
    "acd/reconfigure.rs",
    "ivr/session.rs",
    "password_guard.rs",
    "cases/ticket.rs",
];

/// What a pure machine never touches: the runtime, sockets, the adapters, the clock, chance.
const IMPURE: &[&str] = &[
    "tokio",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "crate::sip",
    "crate::media",
    "crate::api",
    "crate::engine",
    "Instant::now",
    "SystemTime::now",
    "Utc::now",
    "rand::",
    "std::fs",
];

#[test]
fn the_pure_machines_have_no_sockets_clocks_or_randomness() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in PURE {
        let text = std::fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Unit tests inside the file may use what they like.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let found: Vec<&&str> = IMPURE.iter().filter(|w| code.contains(**w)).collect();
        assert!(found.is_empty(), "{file} is a pure machine but uses {found:?}");
    }
}
