//! The JSON Schema of the tree format, derived from the model so it never drifts from it.

/// The schema as JSON, with a title editors show.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(super::model::TreeFile);
    schema.insert("title".into(), "Centralino voice-portal tree".into());
    schema.to_value()
}
