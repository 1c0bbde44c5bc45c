//! The queues' journal in the data directory: every queue event (`queue.jsonl`) and every
//! change of an operator's state (`operators.jsonl`), each with its time.

use super::events::QueueEvent;
use super::operator::OperatorState;
use crate::jsonl::{self, JsonlWriter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const QUEUE_FILE: &str = "queue.jsonl";
pub const OPERATORS_FILE: &str = "operators.jsonl";
/// The field of both journals' entries that retention goes by (their instant).
pub const AT: &str = "at";

/// A queue event as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: QueueEvent,
}

/// An operator's new state as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorEntry {
    pub at: DateTime<Utc>,
    pub operator: String,
    pub state: String,
    /// The pause's reason.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The call ringing or in progress.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call: Option<String>,
}

impl OperatorEntry {
    pub fn new(at: DateTime<Utc>, operator: &str, state: &OperatorState) -> Self {
        let (reason, call) = state.detail();
        Self {
            at,
            operator: operator.to_string(),
            state: state.name().to_string(),
            reason: reason.map(String::from),
            call: call.map(String::from),
        }
    }
}

/// Handles to both files.
#[derive(Clone)]
pub struct Journal {
    queue: JsonlWriter<QueueEntry>,
    operators: JsonlWriter<OperatorEntry>,
}

impl Journal {
    pub fn start(data_dir: &Path) -> std::io::Result<Self> {
        let (queue, _) = JsonlWriter::start(&data_dir.join(QUEUE_FILE))?;
        let (operators, _) = JsonlWriter::start(&data_dir.join(OPERATORS_FILE))?;
        Ok(Self { queue, operators })
    }

    /// Append to the shared store's journals instead of files (a center of several nodes).
    pub fn to_store(
        queue: std::sync::Arc<dyn crate::jsonl::Sink>,
        operators: std::sync::Arc<dyn crate::jsonl::Sink>,
    ) -> Self {
        Self { queue: JsonlWriter::start_to(queue), operators: JsonlWriter::start_to(operators) }
    }

    /// Wait until both files have what was written so far on disk.
    pub async fn flush(&self) {
        self.queue.flush().await;
        self.operators.flush().await;
    }

    /// Remove the entries before `before` from both files (retention); how many.
    pub async fn prune(&self, before: DateTime<Utc>) -> std::io::Result<usize> {
        Ok(self.queue.prune(AT, before).await? + self.operators.prune(AT, before).await?)
    }

    pub fn queue_event(&self, event: QueueEvent) {
        if !self.queue.append(QueueEntry { at: Utc::now(), event }) {
            tracing::error!("queue journal writer has stopped");
        }
    }

    pub fn operator_state(&self, operator: &str, state: &OperatorState) {
        if !self.operators.append(OperatorEntry::new(Utc::now(), operator, state)) {
            tracing::error!("operator journal writer has stopped");
        }
    }
}

/// Every queue event written so far (torn lines skipped and counted).
pub fn read_queue(data_dir: &Path) -> std::io::Result<(Vec<QueueEntry>, usize)> {
    jsonl::read(&data_dir.join(QUEUE_FILE))
}

/// Every operator state change written so far.
pub fn read_operators(data_dir: &Path) -> std::io::Result<(Vec<OperatorEntry>, usize)> {
    jsonl::read(&data_dir.join(OPERATORS_FILE))
}
