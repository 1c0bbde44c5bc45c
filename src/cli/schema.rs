use std::process::ExitCode;

pub fn run() -> ExitCode {
    let schema = centralino::ivr::schema::json_schema();
    println!("{}", serde_json::to_string_pretty(&schema).expect("a schema serialises"));
    ExitCode::SUCCESS
}
