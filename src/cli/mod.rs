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
use centralino::records::Records;
use std::path::PathBuf;
use std::process::ExitCode;

/// The center's records to read: those of the shared store (`store`, else the configuration's
/// `store.url`), else the files of the data directory (`data_dir`, else the configuration's);
/// with the runtime that reads them.
pub fn open_records(
    paths: &centralino::switchboard::Paths,
    data_dir: Option<PathBuf>,
    store: Option<String>,
) -> Result<(tokio::runtime::Runtime, Records), ExitCode> {
    let (data_dir, store) = match (data_dir, store) {
        (Some(d), Some(s)) => (d, Some(s)),
        (data_dir, store) => match centralino::config::load(&paths.config) {
            Ok(c) => (
                data_dir.unwrap_or_else(|| PathBuf::from(&c.data_dir)),
                store.or_else(|| c.store.url.as_ref().map(|u| u.get_ref().clone())),
            ),
            Err(d) => {
                report(&d.sorted());
                return Err(ExitCode::FAILURE);
            }
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })?;
    let records = runtime.block_on(Records::open(data_dir, store.as_deref())).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })?;
    Ok((runtime, records))
}

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
