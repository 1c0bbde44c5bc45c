use centralino::media::synth;
use centralino::switchboard::{self, Paths};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PromptsArgs {
    /// Only make the WAVs that are missing or out of date (synthesised here from another text
    /// than the tree's or the configuration's now).
    #[arg(long)]
    missing: bool,
    /// Only make these prompts (names of tree prompts or words).
    #[arg(long)]
    only: Vec<String>,
    /// Also replace WAVs that were not synthesised here (recordings made by hand).
    #[arg(long)]
    force: bool,
}

pub fn run(paths: &Paths, args: PromptsArgs) -> ExitCode {
    if !synth::available() {
        eprintln!("error: espeak-ng is not installed; install it (apt-get install espeak-ng) to synthesise prompts");
        return ExitCode::FAILURE;
    }
    let (config, trees, _) = switchboard::check(paths, &[]);
    let made_here = synth::transcripts::load(&paths.sounds);
    let mut kept = 0;
    let jobs: Vec<synth::Job> = switchboard::synthesis_jobs(paths, config.as_ref(), &trees)
        .into_iter()
        .filter(|j| {
            let recorded = j.path.exists() && !made_here.contains_key(&synth::transcripts::key(&paths.sounds, &j.path));
            if recorded && !args.force {
                kept += 1;
            }
            !recorded || args.force
        })
        .filter(|j| {
            let stale =
                || made_here.get(&synth::transcripts::key(&paths.sounds, &j.path)).is_some_and(|t| *t != j.text);
            !args.missing || !j.path.exists() || stale()
        })
        .filter(|j| {
            args.only.is_empty() || j.path.file_stem().is_some_and(|s| args.only.iter().any(|o| s == o.as_str()))
        })
        .collect();
    let errors = synth::run_all(&jobs, &|j| eprintln!("synthesising {}", j.path.display()));
    let failed: std::collections::HashSet<&str> = errors.iter().map(String::as_str).collect();
    let made = jobs
        .iter()
        .filter(|j| j.path.exists() && !failed.iter().any(|e| e.contains(&*j.path.to_string_lossy())))
        .map(|j| (synth::transcripts::key(&paths.sounds, &j.path), j.text.clone()));
    if let Err(e) = synth::transcripts::record(&paths.sounds, made) {
        eprintln!("error: cannot write the transcripts in {}: {e}", paths.sounds.display());
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    println!("{} prompt(s) synthesised, {} failed", jobs.len() - errors.len(), errors.len());
    if kept > 0 {
        println!("{kept} recording(s) not made by this command were kept; --force replaces them too");
    }
    if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
