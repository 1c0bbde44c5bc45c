//! The center's records read back: call records, queue and operator journals and outcomes,
//! from the data directory's files (one node) or from the shared store (every node's), for
//! `centralino calls`, `centralino stats` and `GET /api/calls`.

use crate::acd::journal::{self, OperatorEntry, QueueEntry};
use crate::calls::CallRecord;
use crate::calls::log;
use crate::cases::call_outcome::CallOutcome;
use crate::cases::{CaseStore, PgStore, outcome_log};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the records are.
pub enum Records {
    /// The journals of one node's data directory.
    Files(PathBuf),
    Shared(Arc<PgStore>),
}

/// Values of a journal that did not parse (torn lines of a file) are skipped and counted.
pub type Read<T> = (Vec<T>, usize);

fn parsed<T: serde::de::DeserializeOwned>(values: Vec<serde_json::Value>) -> Read<T> {
    let total = values.len();
    let ok: Vec<T> = values.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect();
    let bad = total - ok.len();
    (ok, bad)
}

/// `read` the data directory `dir` on the blocking pool.
async fn from_files<T: Send + 'static>(
    dir: &Path,
    read: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || read(&dir)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

impl Records {
    /// The records of the calls (the `last` ones), in the order they ended.
    pub async fn calls(&self, last: Option<usize>) -> Result<Read<CallRecord>, String> {
        match self {
            Records::Files(dir) => {
                from_files(dir, move |d| match last {
                    Some(n) => log::read_last(d, n),
                    None => log::read(d),
                })
                .await
            }
            Records::Shared(store) => Ok(parsed(store.read_journal("calls", last).await.map_err(|e| e.to_string())?)),
        }
    }

    /// Every queue event.
    pub async fn queue(&self) -> Result<Read<QueueEntry>, String> {
        match self {
            Records::Files(dir) => from_files(dir, journal::read_queue).await,
            Records::Shared(store) => Ok(parsed(store.read_journal("queue", None).await.map_err(|e| e.to_string())?)),
        }
    }

    /// Every operator's state change.
    pub async fn operators(&self) -> Result<Read<OperatorEntry>, String> {
        match self {
            Records::Files(dir) => from_files(dir, journal::read_operators).await,
            Records::Shared(store) => {
                Ok(parsed(store.read_journal("operators", None).await.map_err(|e| e.to_string())?))
            }
        }
    }

    /// Each call's outcome, by call id.
    pub async fn outcomes(&self) -> Result<HashMap<String, CallOutcome>, String> {
        match self {
            Records::Files(dir) => Ok(from_files(dir, outcome_log::read).await?.0),
            Records::Shared(store) => {
                let all = store.call_outcomes(chrono::DateTime::UNIX_EPOCH).await.map_err(|e| e.to_string())?;
                Ok(all.into_iter().map(|o| (o.call_id.clone(), o)).collect())
            }
        }
    }

    /// The records of the configuration's data directory, or of the shared store at `url`.
    pub async fn open(data_dir: PathBuf, url: Option<&str>) -> Result<Records, String> {
        match url {
            None => Ok(Records::Files(data_dir)),
            Some(url) => Ok(Records::Shared(Arc::new(PgStore::connect(url).await.map_err(|e| e.to_string())?))),
        }
    }
}
