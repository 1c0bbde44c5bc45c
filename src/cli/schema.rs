use std::process::ExitCode;

pub fn run() -> ExitCode {
    let mut schema = schemars::schema_for!(centralino::ivr::TreeFile);
    schema.insert("title".into(), "Centralino voice-portal tree".into());
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("a schema serialises")
    );
    ExitCode::SUCCESS
}
