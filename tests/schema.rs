//! The JSON Schema that editors use agrees with the engine: shipped trees pass it, and the
//! mistakes an editor should underline fail it.

use centralino::ivr::schema::json_schema;

fn yaml_to_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

#[test]
fn shipped_trees_satisfy_the_schema() {
    let validator = jsonschema::validator_for(&json_schema()).expect("the schema itself is valid");
    for entry in std::fs::read_dir("ivr-trees").unwrap() {
        let path = entry.unwrap().path();
        let tree = yaml_to_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> =
            validator.iter_errors(&tree).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn schema_rejects_typos_unknown_kinds_and_bad_keys() {
    let validator = jsonschema::validator_for(&json_schema()).unwrap();
    let base = "languages: [it]\nstart: a\nprompts: {p: {it: ciao}}\nnodes:\n";
    let good = format!("{base}  a: {{menu: {{prompt: p, options: {{\"1\": a}}}}}}\n");
    assert!(validator.is_valid(&yaml_to_json(&good)));
    for bad in [
        "  a: {menu: {promt: p, options: {\"1\": a}}}\n",
        "  a: {menuu: {prompt: p, options: {\"1\": a}}}\n",
        "  a: {menu: {prompt: p, options: {\"1\": a}, timeout: \"six\"}}\n",
        "  a: {menu: {prompt: p, options: {\"1\": a}}, play: {next: a}}\n",
        "  a: {queue: {section: general, pompt: p}}\n",
        "  a: {branch: {on: planet, cases: {}, default: a}}\n",
    ] {
        let tree = yaml_to_json(&format!("{base}{bad}"));
        assert!(!validator.is_valid(&tree), "schema accepted: {bad}");
    }
}
