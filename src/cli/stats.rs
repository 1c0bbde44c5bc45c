use centralino::acd::report;
use centralino::config;
use centralino::switchboard::Paths;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Print JSON (`{"sections": [...], "operators": [...]}`).
    #[arg(long)]
    json: bool,
    /// Data directory (default: the configuration's `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The shared store whose journals to read, every node's (default: the configuration's
    /// `store.url`; none: the data directory's files).
    #[arg(long)]
    store: Option<String>,
}

pub fn run(paths: &Paths, args: StatsArgs) -> ExitCode {
    let config = match config::load(&paths.config) {
        Ok(c) => c,
        Err(d) => {
            super::report(&d.sorted());
            return ExitCode::FAILURE;
        }
    };
    let rules = centralino::acd::rules::section_rules(&config);
    let (runtime, records) = match super::open_records(paths, args.data_dir, args.store) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (queue, bad_q) = match runtime.block_on(records.queue()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot read the queue journal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (ops, bad_o) = runtime.block_on(records.operators()).unwrap_or_default();
    let sections = report::sections(
        &queue,
        |s| rules.get(s).map_or(std::time::Duration::from_secs(30), |r| r.service_level),
        chrono::Utc::now(),
    );
    let operators = report::operators(&ops);
    if args.json {
        let v = serde_json::json!({ "sections": sections, "operators": operators });
        println!("{}", serde_json::to_string_pretty(&v).expect("figures serialise"));
    } else {
        println!(
            "{:<18} {:>7} {:>8} {:>9} {:>8} {:>9} {:>7} {:>8} {:>9} {:>9}",
            "section",
            "entered",
            "answered",
            "abandoned",
            "timeout",
            "overflow",
            "SL %",
            "waiting",
            "longest s",
            "callbacks"
        );
        for s in &sections {
            let sl = s.service_level_pct.map_or("-".to_string(), |p| format!("{p:.1}"));
            println!(
                "{:<18} {:>7} {:>8} {:>9} {:>8} {:>9} {:>7} {:>8} {:>9} {:>9}",
                s.section,
                s.entered,
                s.answered,
                s.abandoned,
                s.timed_out,
                s.overflowed,
                sl,
                s.waiting_now,
                s.longest_wait_now_s,
                s.callbacks_pending_now
            );
        }
        if !operators.is_empty() {
            println!();
            for o in &operators {
                let extra = o.reason.as_deref().or(o.call.as_deref()).map(|x| format!(" ({x})")).unwrap_or_default();
                let since = centralino::calendar::italian_time(o.at);
                println!("{:<12} {}{} since {since}", o.operator, o.state, extra);
            }
        }
    }
    if bad_q + bad_o > 0 {
        eprintln!("warning: {} journal line(s) could not be read", bad_q + bad_o);
    }
    ExitCode::SUCCESS
}
