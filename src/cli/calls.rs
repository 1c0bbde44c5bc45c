use centralino::acd::journal;
use centralino::acd::{QueueEvent, QueueEventKind};
use centralino::switchboard::Paths;
use std::collections::HashMap;
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
    /// The shared store whose records to read, every node's (default: the configuration's
    /// `store.url`; none: the data directory's files).
    #[arg(long)]
    store: Option<String>,
}

pub fn run(paths: &Paths, args: CallsArgs) -> ExitCode {
    let (runtime, records) = match super::open_records(paths, args.data_dir, args.store) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let read = runtime.block_on(async {
        let calls = records.calls(args.last).await?;
        Ok::<_, String>((
            calls,
            records.queue().await.unwrap_or_default().0,
            records.outcomes().await.unwrap_or_default(),
        ))
    });
    let ((records, bad), events, outcomes) = match read {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot read the call records: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut by_call: HashMap<&str, Vec<&journal::QueueEntry>> = HashMap::new();
    for e in &events {
        by_call.entry(e.event.call.as_str()).or_default().push(e);
    }
    if args.json {
        // Each record with its queue events (`queue`, in order).
        let out: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("records serialise");
                let queue = by_call.get(r.call_id.as_str()).map(|q| serde_json::to_value(q).expect("events serialise"));
                v["queue"] = queue.unwrap_or_else(|| serde_json::json!([]));
                v["outcome"] = serde_json::to_value(outcomes.get(&r.call_id)).expect("outcomes serialise");
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out).expect("records serialise"));
    } else {
        for r in &records {
            println!("{}", r.summary());
            for e in by_call.get(r.call_id.as_str()).into_iter().flatten() {
                let at = e.at.with_timezone(&centralino::calendar::TIME_ZONE);
                println!("    {} {}", at.format("%H:%M:%S"), describe(&e.event));
            }
            if let Some(o) = outcomes.get(&r.call_id) {
                let note = if o.note.is_empty() { String::new() } else { format!(": {}", o.note) };
                println!("    outcome {} by {}{note}", o.outcome.name(), o.by);
            }
        }
        println!("{} call(s)", records.len());
    }
    if bad > 0 {
        eprintln!("warning: {bad} call record(s) could not be read");
    }
    ExitCode::SUCCESS
}

/// One queue event as a line of `centralino calls`.
fn describe(e: &QueueEvent) -> String {
    let what = match &e.kind {
        QueueEventKind::Entered { ahead } => format!("entered, {ahead} ahead"),
        QueueEventKind::Announced { ahead, wait_s } => match wait_s {
            Some(w) => format!("told {ahead} ahead, about {w} s"),
            None => format!("told {ahead} ahead"),
        },
        QueueEventKind::Offered { operator } => format!("offered to {operator}"),
        QueueEventKind::NotAnswered { operator, reason } => format!("not answered by {operator} ({reason})"),
        QueueEventKind::Answered { operator, wait_ms } => format!("answered by {operator} after {} s", wait_ms / 1000),
        QueueEventKind::Abandoned { wait_ms } => format!("caller hung up after {} s", wait_ms / 1000),
        QueueEventKind::TimedOut { wait_ms, to } => format!("waited {} s, sent to {to}", wait_ms / 1000),
        QueueEventKind::Overflowed { reason, to } => format!("overflow ({reason}), sent to {to}"),
        QueueEventKind::Left { key, to } => format!("left with key {key} for {to}"),
        QueueEventKind::Transferred { operator, to } => format!("transferred by {operator} to {to}"),
        QueueEventKind::Ended { operator, talk_ms } => format!("ended, {} s with {operator}", talk_ms / 1000),
        QueueEventKind::CallbackRequested { number } => format!("callback asked on {number}, place kept"),
        QueueEventKind::CallbackDialled { operator, attempt } => {
            format!("calling back (attempt {attempt}), {operator} kept")
        }
        QueueEventKind::CallbackFailed { operator, attempt, reason } => {
            format!("callback attempt {attempt} failed ({reason}), {operator} released")
        }
        QueueEventKind::CallbackAnswered { operator } => format!("called back, ringing {operator}"),
        QueueEventKind::CallbackGaveUp { attempts } => format!("callback given up after {attempts} attempts"),
        QueueEventKind::CallbackCancelled { by } => format!("callback cancelled by {by}"),
    };
    format!("{}: {what}", e.section)
}
