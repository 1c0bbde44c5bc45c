//! The call log: finished calls appended as JSON lines to `<data_dir>/calls.jsonl`.
//! One writer task owns the file; a crash loses at most the records not yet flushed.

use super::record::CallRecord;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// File name of the call log inside the data directory.
pub const FILE: &str = "calls.jsonl";

/// A handle to append records; cheap to clone.
#[derive(Clone)]
pub struct CallLog {
    tx: mpsc::UnboundedSender<CallRecord>,
}

impl CallLog {
    /// Start the writer task for `<data_dir>/calls.jsonl` (the directory is created).
    pub fn start(data_dir: &Path) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<CallRecord>();
        let task = tokio::task::spawn_blocking(move || {
            let mut w = std::io::BufWriter::new(file);
            while let Some(r) = rx.blocking_recv() {
                let mut line = serde_json::to_string(&r).expect("records serialise");
                line.push('\n');
                let mut ok = w.write_all(line.as_bytes()).is_ok();
                // Write what is queued, then flush once: batches under load, at once when idle.
                while let Ok(more) = rx.try_recv() {
                    let mut line = serde_json::to_string(&more).expect("records serialise");
                    line.push('\n');
                    ok &= w.write_all(line.as_bytes()).is_ok();
                }
                if !(ok && w.flush().is_ok()) {
                    tracing::error!(path = %path.display(), "cannot write the call log");
                }
            }
        });
        Ok((Self { tx }, task))
    }

    /// Append a record (never blocks the call).
    pub fn append(&self, record: CallRecord) {
        if self.tx.send(record).is_err() {
            tracing::error!("call log writer has stopped; a call record is lost");
        }
    }
}

/// Read the call log; lines that do not parse are skipped and counted.
pub fn read(data_dir: &Path) -> std::io::Result<(Vec<CallRecord>, usize)> {
    let path: PathBuf = data_dir.join(FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(r) => records.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((records, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::record::Ending;
    use chrono::Utc;

    fn record(id: &str) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            caller: "+393331234567".into(),
            number: "+390773691001".into(),
            province: Some("LT".into()),
            region: Some("lazio".into()),
            tree: Some("centralino-unico-nazionale".into()),
            arrived: Utc::now(),
            answered: Some(Utc::now()),
            ended: Utc::now(),
            language: Some(crate::ivr::Lang::It),
            path: vec!["language_choice".into(), "main_menu".into()],
            keys: "16".into(),
            answers: vec!["office_info".into()],
            ending: Ending::Queued { section: "general".into() },
        }
    }

    #[tokio::test]
    async fn records_are_appended_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (log, task) = CallLog::start(dir.path()).unwrap();
        log.append(record("a"));
        log.append(record("b"));
        drop(log);
        task.await.unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap()
            .write_all(b"{torn line\n")
            .unwrap();
        let (records, bad) = read(dir.path()).unwrap();
        assert_eq!(records.iter().map(|r| r.call_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(records[0], record("a").clone_with_times(&records[0]));
        assert_eq!(bad, 1);
    }

    impl CallRecord {
        fn clone_with_times(mut self, other: &CallRecord) -> CallRecord {
            self.arrived = other.arrived;
            self.answered = other.answered;
            self.ended = other.ended;
            self
        }
    }
}
