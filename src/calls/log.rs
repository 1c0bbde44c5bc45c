//! The call log: finished calls appended as JSON lines to `<data_dir>/calls.jsonl`.
//! One writer task owns the file; a crash loses at most the records not yet flushed.

use super::record::CallRecord;
use crate::jsonl::{self, JsonlWriter};
use std::path::Path;

/// File name of the call log inside the data directory.
pub const FILE: &str = "calls.jsonl";
/// The field of a record that retention goes by.
pub const ENDED: &str = "ended";

/// A handle to append records; cheap to clone.
#[derive(Clone)]
pub struct CallLog {
    writer: JsonlWriter<CallRecord>,
}

impl CallLog {
    /// Start the writer task for `<data_dir>/calls.jsonl` (the directory is created).
    pub fn start(data_dir: &Path) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        let (writer, task) = JsonlWriter::start(&data_dir.join(FILE))?;
        Ok((Self { writer }, task))
    }

    /// Append to the shared store's journal instead of a file (a center of several nodes).
    pub fn to_store(sink: std::sync::Arc<dyn crate::jsonl::Sink>) -> Self {
        Self { writer: JsonlWriter::start_to(sink) }
    }

    /// Wait until the records appended so far are on disk.
    pub async fn flush(&self) {
        self.writer.flush().await
    }

    /// Remove the records of calls ended before `before` (retention); how many.
    pub async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
        self.writer.prune(ENDED, before).await
    }

    /// Append a record (never blocks the call).
    pub fn append(&self, record: CallRecord) {
        let metrics = crate::metrics::lasting();
        metrics.call_ended(record.ending.kind());
        if let Some(m) = &record.media {
            for (leg, q) in [("caller", m.caller), ("operator", m.operator)] {
                if let Some(q) = q {
                    metrics.leg_quality(leg, q.packets, q.lost, q.mos, q.reported.and_then(|r| r.rtt_ms));
                }
            }
        }
        if !self.writer.append(record) {
            tracing::error!("call log writer has stopped; a call record is lost");
        }
    }
}

/// Read the call log; lines that do not parse are skipped and counted.
pub fn read(data_dir: &Path) -> std::io::Result<(Vec<CallRecord>, usize)> {
    jsonl::read(&data_dir.join(FILE))
}

/// The last `n` records of the call log, read from its end.
pub fn read_last(data_dir: &Path, n: usize) -> std::io::Result<(Vec<CallRecord>, usize)> {
    jsonl::read_last(&data_dir.join(FILE), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::record::Ending;
    use chrono::Utc;
    use std::io::Write;

    fn record(id: &str) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            origin: crate::vocabulary::CallOrigin {
                caller: "+393331234567".into(),
                number: "+390773691001".into(),
                province: Some("LT".into()),
                region: Some("lazio".into()),
            },
            tree: Some("centralino-unico-nazionale".into()),
            arrived: Utc::now(),
            answered: Some(Utc::now()),
            ended: Utc::now(),
            language: Some(crate::ivr::Lang::It),
            path: vec!["language_choice".into(), "main_menu".into()],
            keys: "16".into(),
            answers: vec!["office_info".into()],
            ending: Ending::Queued { section: "general".into() },
            callback_of: None,
            media: None,
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
