use centralino::switchboard::{self, Paths};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(paths: &Paths, files: &[PathBuf]) -> ExitCode {
    let (_, trees, diags) = switchboard::check(paths, files);
    let names: Vec<&str> = trees.iter().map(|t| t.name.as_str()).collect();
    println!("checked {} and tree(s): {}", paths.config.display(), names.join(", "));
    if super::report(&diags) > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
