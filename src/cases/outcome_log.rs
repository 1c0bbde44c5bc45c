//! A copy of every call outcome as it is set, appended to `<data_dir>/outcomes.jsonl`, for the
//! files-only tools (`centralino calls`) that cannot open the store while the engine holds it.
//! The store stays the record: this log is written after the store has acknowledged, and a
//! crash may lose its last lines, never the store's. A shared store is read by the tools
//! directly: with it, there is no copy ([`OutcomeLog::none`]).

use super::call_outcome::CallOutcome;
use crate::jsonl::{self, JsonlWriter};
use std::collections::HashMap;
use std::path::Path;

/// File name of the outcome log inside the data directory.
pub const FILE: &str = "outcomes.jsonl";
/// The field of an outcome that retention goes by (when it was set).
pub const AT: &str = "at";

/// A handle to append outcomes; cheap to clone.
#[derive(Clone)]
pub struct OutcomeLog {
    writer: Option<JsonlWriter<CallOutcome>>,
}

impl OutcomeLog {
    /// Start the writer task for `<data_dir>/outcomes.jsonl`.
    pub fn start(data_dir: &Path) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        let (writer, task) = JsonlWriter::start(&data_dir.join(FILE))?;
        Ok((Self { writer: Some(writer) }, task))
    }

    /// No copy: the store is shared, and read by the tools themselves.
    pub fn none() -> Self {
        Self { writer: None }
    }

    /// Wait until the outcomes appended so far are on disk.
    pub async fn flush(&self) {
        if let Some(w) = &self.writer {
            w.flush().await
        }
    }

    /// Remove the outcomes set before `before` (retention); how many.
    pub async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
        match &self.writer {
            Some(w) => w.prune(AT, before).await,
            None => Ok(0),
        }
    }

    pub fn append(&self, outcome: CallOutcome) {
        if let Some(w) = &self.writer
            && !w.append(outcome)
        {
            tracing::error!("outcome log writer has stopped; the store still has the outcome");
        }
    }
}

/// Each call's latest outcome in the log (and how many lines did not parse).
pub fn read(data_dir: &Path) -> std::io::Result<(HashMap<String, CallOutcome>, usize)> {
    let (all, bad): (Vec<CallOutcome>, usize) = jsonl::read(&data_dir.join(FILE))?;
    Ok((all.into_iter().map(|o| (o.call_id.clone(), o)).collect(), bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::call_outcome::Outcome;
    use chrono::Utc;

    #[tokio::test]
    async fn the_latest_outcome_of_each_call_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (log, task) = OutcomeLog::start(dir.path()).unwrap();
        let outcome = |call: &str, outcome| CallOutcome {
            call_id: call.into(),
            outcome,
            note: String::new(),
            section: "pensions".into(),
            by: "mrossi".into(),
            at: Utc::now(),
            earlier: vec![],
        };
        log.append(outcome("a", Outcome::NotResolved));
        log.append(outcome("b", Outcome::Resolved));
        log.append(outcome("a", Outcome::TicketOpened));
        drop(log);
        task.await.unwrap();
        let (by_call, bad) = read(dir.path()).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(by_call.len(), 2);
        assert_eq!(by_call["a"].outcome, Outcome::TicketOpened, "the correction wins");
        assert_eq!(by_call["b"].outcome, Outcome::Resolved);
    }
}
