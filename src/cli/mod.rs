//! One file per subcommand.

pub mod calls;
pub mod check;
pub mod migrate;
pub mod passwd;
pub mod prompts;
pub mod purge;
pub mod schema;
pub mod serve;
pub mod simulate;
pub mod stats;

use centralino::diag::Diagnostic;

/// Print diagnostics and a one-line count; returns the number of errors.
pub fn report(diags: &[Diagnostic]) -> usize {
    for d in diags {
        println!("{d}");
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    println!("{errors} error(s), {warnings} warning(s)");
    errors
}
