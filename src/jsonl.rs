//! Append-only JSON-lines files in the data directory (call records, queue events, operator
//! states): one writer task per file batches what is queued and flushes; readers skip torn lines.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;
use tokio::sync::mpsc;

/// Somewhere other than a file to append values to: a journal of the shared store.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Append `values`, in order, durably.
    async fn append(&self, values: Vec<serde_json::Value>) -> std::io::Result<()>;
}

/// How long a batch for a [`Sink`] is tried again while the sink fails (a database restarting),
/// once a second, before it is given up (and said so in the log).
const SINK_PATIENCE: u32 = 600;

/// A handle to append values to one file (or a [`Sink`]); cheap to clone.
pub struct JsonlWriter<T> {
    tx: mpsc::UnboundedSender<Message<T>>,
}

enum Message<T> {
    Append(T),
    /// Write and fsync what came before, then say so.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// Rewrite the file without the lines whose `field` is an instant before `before`.
    Prune {
        field: &'static str,
        before: chrono::DateTime<chrono::Utc>,
        done: tokio::sync::oneshot::Sender<std::io::Result<usize>>,
    },
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
        let mut file = std::fs::OpenOptions::new().create(true).append(true).read(true).open(path)?;
        // A line torn by a crash is ended, so that the first new value is not glued to it.
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        let path = path.to_path_buf();
        let (tx, mut rx) = mpsc::unbounded_channel::<Message<T>>();
        let task = tokio::task::spawn_blocking(move || {
            let mut w = std::io::BufWriter::new(file);
            let handle = |m: Message<T>, w: &mut std::io::BufWriter<std::fs::File>, acks: &mut Vec<_>| match m {
                Message::Prune { field, before, done } => {
                    // Here, between appends, nothing appended meanwhile can be lost.
                    let pruned = w.flush().and_then(|_| prune(&path, field, before));
                    let reopened = std::fs::OpenOptions::new().create(true).append(true).open(&path);
                    let ok = reopened.is_ok();
                    if let Ok(f) = reopened {
                        *w = std::io::BufWriter::new(f);
                    }
                    let _ = done.send(pruned);
                    ok
                }
                Message::Append(v) => {
                    let mut l = serde_json::to_string(&v).expect("values serialise");
                    l.push('\n');
                    w.write_all(l.as_bytes()).is_ok()
                }
                Message::Flush(ack) => {
                    acks.push(ack);
                    true
                }
            };
            while let Some(m) = rx.blocking_recv() {
                let mut acks = Vec::new();
                let mut ok = handle(m, &mut w, &mut acks);
                // Write what is queued, then flush once: batches under load, at once when idle.
                while let Ok(more) = rx.try_recv() {
                    ok &= handle(more, &mut w, &mut acks);
                }
                ok &= w.flush().is_ok();
                if !acks.is_empty() {
                    ok &= w.get_ref().sync_data().is_ok();
                }
                if !ok {
                    tracing::error!(path = %path.display(), "cannot write");
                }
                for ack in acks {
                    let _ = ack.send(());
                }
            }
        });
        Ok((Self { tx }, task))
    }

    /// Start the writer task for `sink`: what is queued is appended in batches; `prune` is the
    /// sink's owner's business (it answers 0 here).
    pub fn start_to(sink: std::sync::Arc<dyn Sink>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message<T>>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let (mut batch, mut acks) = (Vec::new(), Vec::new());
                let mut take = |m: Message<T>| match m {
                    Message::Append(v) => batch.push(serde_json::to_value(&v).expect("values serialise")),
                    Message::Flush(ack) => acks.push(ack),
                    Message::Prune { done, .. } => {
                        let _ = done.send(Ok(0));
                    }
                };
                take(first);
                while let Ok(more) = rx.try_recv() {
                    take(more);
                }
                let mut attempt = 0;
                while !batch.is_empty() {
                    match sink.append(batch.clone()).await {
                        Ok(()) => break,
                        Err(e) if attempt < SINK_PATIENCE => {
                            if attempt == 0 {
                                tracing::warn!(error = %e, values = batch.len(), "cannot append to the journal; trying again every second");
                            }
                            attempt += 1;
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, values = batch.len(), "journal values given up");
                            break;
                        }
                    }
                }
                for ack in acks {
                    let _ = ack.send(());
                }
            }
        });
        Self { tx }
    }

    /// Append a value (never blocks); `false` if the writer has stopped.
    pub fn append(&self, value: T) -> bool {
        self.tx.send(Message::Append(value)).is_ok()
    }

    /// Remove the values whose `field` (an RFC 3339 instant) is before `before`: the writer
    /// rewrites the file between two appends. How many were removed.
    pub async fn prune(&self, field: &'static str, before: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send(Message::Prune { field, before, done })
            .map_err(|_| std::io::Error::other("the writer has stopped"))?;
        answer.await.map_err(|_| std::io::Error::other("the writer has stopped"))?
    }

    /// Wait until what was appended before is written and on disk (fsync).
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

/// Rewrite the file at `path` without the lines whose `field` is an instant before `before`
/// (and without lines that are not JSON: torn writes): written beside it, synced, renamed over
/// it. How many lines were removed. Only for a file no writer is appending to (the writer
/// prunes its own: [`JsonlWriter::prune`]).
pub fn prune(path: &Path, field: &str, before: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut kept = String::with_capacity(text.len());
    let mut removed = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            removed += 1;
            continue;
        };
        let at = value.get(field).and_then(|t| t.as_str()).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        // A line without the field is kept: only what is known to be old goes.
        if at.is_some_and(|at| at < before) {
            removed += 1;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if removed == 0 {
        return Ok(0);
    }
    let tmp = path.with_extension("jsonl.pruning");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(kept.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(removed)
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

/// The last `n` values of the file (and how many of its last lines did not parse), reading
/// it from the end: what the latest calls cost does not grow with the file.
pub fn read_last<T: DeserializeOwned>(path: &Path, n: usize) -> std::io::Result<(Vec<T>, usize)> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    // `tail` holds the file from `pos` to its end.
    let mut pos = file.metadata()?.len();
    let mut tail: Vec<u8> = Vec::new();
    while pos > 0 && whole_lines(&tail, pos > 0).len() < n {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        pos = start;
    }
    let lines = whole_lines(&tail, pos > 0);
    let mut values = Vec::new();
    let mut bad = 0;
    for line in &lines[lines.len().saturating_sub(n)..] {
        match serde_json::from_slice(line) {
            Ok(v) => values.push(v),
            Err(_) => bad += 1,
        }
    }
    Ok((values, bad))
}

/// The non-blank lines of `bytes`, without the first when it may be cut (`cut_first`).
fn whole_lines(bytes: &[u8], cut_first: bool) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').skip(usize::from(cut_first)).collect();
    lines.retain(|l| !l.trim_ascii().is_empty());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flush_returns_once_everything_appended_before_is_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.jsonl");
        let (writer, _task) = JsonlWriter::<u32>::start(&path).unwrap();
        for i in 0..10_000 {
            assert!(writer.append(i));
        }
        writer.flush().await;
        let (values, bad) = read::<u32>(&path).unwrap();
        assert_eq!((values.len(), bad), (10_000, 0));
        assert_eq!(values.last(), Some(&9_999));
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Entry {
        at: chrono::DateTime<chrono::Utc>,
        i: u32,
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn pruning_removes_only_the_old_lines_and_loses_nothing_appended_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let now = chrono::Utc::now();
        let old = now - chrono::Duration::days(400);
        std::fs::write(&path, "{\"torn\": ").unwrap();
        let (writer, _task) = JsonlWriter::<Entry>::start(&path).unwrap();
        for i in 0..1000 {
            writer.append(Entry { at: if i % 2 == 0 { old } else { now }, i });
        }
        // Appends from another task while the writer prunes: none is lost.
        let appender = {
            let w = writer.clone();
            tokio::spawn(async move {
                for i in 1000..3000 {
                    w.append(Entry { at: now, i });
                    if i % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        let removed = writer.prune("at", now - chrono::Duration::days(365)).await.unwrap();
        appender.await.unwrap();
        writer.flush().await;
        assert_eq!(removed, 501, "the 500 old entries and the torn line");
        let (values, bad) = read::<Entry>(&path).unwrap();
        assert_eq!(bad, 0);
        let mut kept: Vec<u32> = values.iter().map(|e| e.i).collect();
        kept.sort();
        let expected: Vec<u32> = (0..3000).filter(|i| *i >= 1000 || i % 2 == 1).collect();
        assert_eq!(kept, expected, "every recent entry, appended before or during the pruning");
        assert_eq!(prune(&path, "at", now - chrono::Duration::days(365)).unwrap(), 0, "nothing more to remove");
    }

    #[test]
    fn the_last_lines_are_read_from_the_end_as_a_whole_read_gives_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut text = String::new();
        for i in 0..5000u32 {
            // Lines of varied length, so that chunks end anywhere in a line; some blank lines.
            text.push_str(&format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "é".repeat((i % 97) as usize)));
            if i % 1000 == 0 {
                text.push('\n');
            }
        }
        text.push_str("{\"i\":5000,\"torn");
        std::fs::write(&path, &text).unwrap();
        let (all, bad): (Vec<serde_json::Value>, usize) = read(&path).unwrap();
        assert_eq!((all.len(), bad), (5000, 1));
        for n in [1, 3, 50, 1000, 4999, 5001, 10_000] {
            let (last, bad): (Vec<serde_json::Value>, usize) = read_last(&path, n).unwrap();
            // The torn last line counts as one of the n, and as unreadable.
            let want = &all[all.len().saturating_sub(n - 1)..];
            assert_eq!((last.as_slice(), bad), (want, 1), "n = {n}");
        }
        let (none, _): (Vec<serde_json::Value>, usize) = read_last(&dir.path().join("absent"), 5).unwrap();
        assert!(none.is_empty());
    }
}
