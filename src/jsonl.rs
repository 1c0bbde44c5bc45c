//! Append-only JSON-lines files in the data directory (call records, queue events, operator
//! states): one writer task per file batches what is queued and flushes; readers skip torn lines.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, Write};
use std::path::Path;
use tokio::sync::mpsc;

/// A handle to append values to one file; cheap to clone.
pub struct JsonlWriter<T> {
    tx: mpsc::UnboundedSender<T>,
}

impl<T> Clone for JsonlWriter<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<T: Serialize + Send + 'static> JsonlWriter<T> {
    /// Start the writer task for `path` (its directory is created); it ends when every handle
    /// is dropped, after writing what was queued.
    pub fn start(path: &Path) -> std::io::Result<(Self, tokio::task::JoinHandle<()>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let path = path.to_path_buf();
        let (tx, mut rx) = mpsc::unbounded_channel::<T>();
        let task = tokio::task::spawn_blocking(move || {
            let mut w = std::io::BufWriter::new(file);
            let line = |v: &T| {
                let mut l = serde_json::to_string(v).expect("values serialise");
                l.push('\n');
                l
            };
            while let Some(v) = rx.blocking_recv() {
                let mut ok = w.write_all(line(&v).as_bytes()).is_ok();
                // Write what is queued, then flush once: batches under load, at once when idle.
                while let Ok(more) = rx.try_recv() {
                    ok &= w.write_all(line(&more).as_bytes()).is_ok();
                }
                if !(ok && w.flush().is_ok()) {
                    tracing::error!(path = %path.display(), "cannot write");
                }
            }
        });
        Ok((Self { tx }, task))
    }

    /// Append a value (never blocks); `false` if the writer has stopped.
    pub fn append(&self, value: T) -> bool {
        self.tx.send(value).is_ok()
    }
}

/// Read a JSON-lines file (missing: empty); lines that do not parse are skipped and counted.
pub fn read<T: DeserializeOwned>(path: &Path) -> std::io::Result<(Vec<T>, usize)> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut values = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(v) => values.push(v),
            Err(_) => bad += 1,
        }
    }
    Ok((values, bad))
}
