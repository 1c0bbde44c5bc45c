//! The OpenAPI description the engine serves matches its routes: every API route of the router
//! (read from src/api/mod.rs) is described with each of its methods, and nothing described is
//! missing from the router.

mod common;

use common::*;
use std::collections::BTreeSet;

/// (path, method) of every `/api/` route the router declares.
fn routes() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(std::path::Path::new(ROOT).join("src/api/mod.rs")).unwrap();
    let mut out = BTreeSet::new();
    for part in src.split(".route(\"").skip(1) {
        let (path, rest) = part.split_once('"').unwrap();
        let call = &rest[..rest.find(")\n").unwrap_or(rest.len())];
        for method in ["get", "post", "delete", "put", "patch"] {
            if call.contains(&format!(" {method}(")) || call.contains(&format!(".{method}(")) {
                out.insert((path.to_string(), method.to_string()));
            }
        }
    }
    out.into_iter().filter(|(p, _)| p.starts_with("/api/")).collect()
}

#[test]
fn every_route_is_described_and_the_description_is_served() {
    let engine = Engine::start();
    let (status, doc) = http(&engine, "GET", "/api/openapi.json", None, None);
    assert_eq!(status, 200, "served without signing in");
    assert_eq!(doc["openapi"], "3.1.0");
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (p.clone(), m.clone())))
        .collect();
    let routed = routes();
    assert!(routed.len() > 20, "the router's routes were read: {routed:?}");
    let undocumented: Vec<_> = routed.difference(&described).collect();
    assert!(undocumented.is_empty(), "routes missing from the OpenAPI description: {undocumented:?}");
    let phantom: Vec<_> = described.difference(&routed).collect();
    assert!(phantom.is_empty(), "described but not routed: {phantom:?}");
    // Every operation says who may call it and what it answers.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["description"].as_str().is_some_and(|d| d.contains("Who may")), "{method} {path}");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        }
    }
}
