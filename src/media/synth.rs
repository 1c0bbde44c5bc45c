//! Prompt synthesis: turns prompt transcripts into 8 kHz mono 16-bit WAVs with espeak-ng.
//! The shipped WAVs are committed, so only administrators who change a text need espeak-ng.

use super::wav;
use crate::ivr::Lang;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One WAV to make from a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub path: PathBuf,
    /// The voice's language.
    pub lang: Lang,
    pub text: String,
}

fn voice(lang: Lang) -> &'static str {
    match lang {
        Lang::It => "it",
        Lang::En => "en-gb",
        Lang::De => "de",
    }
}

/// Whether espeak-ng can be run.
pub fn available() -> bool {
    Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Synthesise one prompt.
pub fn synthesize(job: &Job) -> Result<(), String> {
    if let Some(dir) = job.path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = job.path.with_extension("espeak.wav");
    let out = Command::new("espeak-ng")
        .args(["-v", voice(job.lang), "-s", "150", "-w"])
        .arg(&tmp)
        .arg("--")
        .arg(&job.text)
        .output()
        .map_err(|e| format!("cannot run espeak-ng: {e} (install it: apt-get install espeak-ng)"))?;
    if !out.status.success() {
        return Err(format!("espeak-ng failed for {}: {}", job.path.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let result = convert(&tmp, &job.path);
    let _ = std::fs::remove_file(&tmp);
    result
}

fn convert(from: &Path, to: &Path) -> Result<(), String> {
    let pcm = wav::load_telephone(from)?;
    wav::write_telephone(to, &pcm)
}

/// Run jobs on every core; returns the errors, if any.
pub fn run_all(jobs: &[Job], progress: &(dyn Fn(&Job) + Sync)) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    progress(job);
                    if let Err(e) = synthesize(job) {
                        errors.lock().expect("no panics while holding it").push(e);
                    }
                }
            });
        }
    });
    errors.into_inner().expect("workers finished")
}

/// The texts the WAVs under a sounds directory were made from, kept in
/// `sounds/transcripts.tsv` (`path<TAB>text`, paths relative to the directory), so that a text
/// edited without remaking its WAV can be reported.
pub mod transcripts {
    use std::collections::BTreeMap;
    use std::path::Path;

    const FILE: &str = "transcripts.tsv";

    /// Read the transcripts (empty when there are none yet).
    pub fn load(sounds: &Path) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(sounds.join(FILE)).unwrap_or_default();
        text.lines().filter_map(|l| l.split_once('\t')).map(|(p, t)| (p.to_string(), t.replace("\\n", "\n"))).collect()
    }

    /// Record the texts of freshly made WAVs, keeping the others.
    pub fn record(sounds: &Path, made: impl IntoIterator<Item = (String, String)>) -> std::io::Result<()> {
        let mut all = load(sounds);
        all.extend(made);
        let mut out = String::from("");
        for (p, t) in &all {
            out.push_str(&format!("{p}\t{}\n", t.replace('\n', "\\n").replace('\t', " ")));
        }
        std::fs::write(sounds.join(FILE), out)
    }

    /// The key of a WAV in the transcripts: its path relative to `sounds`, with `/`.
    pub fn key(sounds: &Path, wav: &Path) -> String {
        let rel = wav.strip_prefix(sounds).unwrap_or(wav);
        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
    }
}
