use centralino::switchboard::{self, Paths};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(paths: &Paths, files: &[PathBuf]) -> ExitCode {
    let (_, trees, diags) = switchboard::check(paths, files);
    let names: Vec<&str> = trees.iter().map(|t| t.name.as_str()).collect();
    let names = if names.is_empty() { "(none could be read)".to_string() } else { names.join(", ") };
    println!("checked {} and tree(s): {names}", paths.config.display());
    if super::report(&diags) > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
