use centralino::calls::log;
use centralino::config;
use centralino::switchboard::Paths;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CallsArgs {
    /// Print the records as JSON (one array).
    #[arg(long)]
    json: bool,
    /// Only the last N calls.
    #[arg(long)]
    last: Option<usize>,
    /// Data directory (default: the configuration's `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(paths: &Paths, args: CallsArgs) -> ExitCode {
    let dir = match args.data_dir {
        Some(d) => d,
        None => match config::load(&paths.config) {
            Ok(c) => PathBuf::from(c.data_dir),
            Err(d) => {
                super::report(&d.sorted());
                return ExitCode::FAILURE;
            }
        },
    };
    let (mut records, bad) = match log::read(&dir) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.join(log::FILE).display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(n) = args.last {
        let skip = records.len().saturating_sub(n);
        records.drain(..skip);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records).expect("records serialise"));
    } else {
        for r in &records {
            println!("{}", r.summary());
        }
        println!("{} call(s)", records.len());
    }
    if bad > 0 {
        eprintln!("warning: {bad} line(s) of {} could not be read", dir.join(log::FILE).display());
    }
    ExitCode::SUCCESS
}
