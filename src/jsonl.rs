//! Append-only JSON-lines files in the data directory (call records, queue events, operator
//! states): one writer task per file batches what is queued and flushes; readers skip torn lines.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;
use tokio::sync::mpsc;

/// A handle to append values to one file; cheap to clone.
pub struct JsonlWriter<T> {
    tx: mpsc::UnboundedSender<Message<T>>,
}

enum Message<T> {
    Append(T),
    /// Write and fsync what came before, then say so.
    Flush(tokio::sync::oneshot::Sender<()>),
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
        let (tx, mut rx) = mpsc::unbounded_channel::<Message<T>>();
        let task = tokio::task::spawn_blocking(move || {
            let mut w = std::io::BufWriter::new(file);
            let handle = |m: Message<T>, w: &mut std::io::BufWriter<std::fs::File>, acks: &mut Vec<_>| match m {
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

    /// Append a value (never blocks); `false` if the writer has stopped.
    pub fn append(&self, value: T) -> bool {
        self.tx.send(Message::Append(value)).is_ok()
    }

    /// Wait until what was appended before is written and on disk (fsync).
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.await;
        }
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
