//! Prompt synthesis with the real espeak-ng: the WAV is telephone audio of plausible length.
//! scripts/test.sh installs espeak-ng; without it this test fails and says so.

mod common;

use centralino::ivr::Lang;
use centralino::media::{synth, wav};
use common::{BIN, ROOT, edited_config};
use std::path::Path;
use std::process::Command;

#[test]
fn synthesises_8khz_mono_prompts_in_both_languages() {
    assert!(synth::available(), "espeak-ng is not installed: run scripts/test.sh, which installs it");
    let dir = tempfile::tempdir().unwrap();
    let jobs = [
        synth::Job {
            path: dir.path().join("it/benvenuto.wav"),
            lang: Lang::It,
            text: "Benvenuto nel Contact Center INPS.".into(),
        },
        synth::Job {
            path: dir.path().join("en/welcome.wav"),
            lang: Lang::En,
            text: "Welcome to the INPS contact center.".into(),
        },
    ];
    let errors = synth::run_all(&jobs, &|_| {});
    assert!(errors.is_empty(), "{errors:?}");
    for job in &jobs {
        let info = wav::check(&job.path).unwrap();
        assert_eq!((info.sample_rate, info.channels, info.bits), (8000, 1, 16));
        assert!((1000..6000).contains(&info.duration_ms()), "{} ms", info.duration_ms());
        let pcm = wav::load_telephone(&job.path).unwrap();
        let peak = pcm.iter().map(|s| i32::from(*s).abs()).max().unwrap();
        assert!(peak > 3000, "speech should not be near silence (peak {peak})");
        // The synthesis step must not leave its intermediate file behind.
        assert!(!job.path.with_extension("espeak.wav").exists());
    }
}

#[test]
fn shipped_prompts_are_telephone_audio() {
    // Every committed WAV is already 8 kHz mono 16-bit: no conversion at load time.
    let mut count = 0;
    for dir in ["sounds/it", "sounds/en", "sounds/it/words", "sounds/en/words", "sounds/offices", "sounds/agencies"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "wav") {
                let info = wav::check(&p).unwrap();
                assert_eq!((info.sample_rate, info.channels, info.bits), (8000, 1, 16), "{}", p.display());
                count += 1;
            }
        }
    }
    assert!(count > 400, "only {count} prompts found");
}

/// An administrator edits an agency's address: `check` warns that its recording says the old
/// one, and `prompts --missing` remakes that recording (and nothing else), after which `check`
/// is clean.
#[test]
fn prompts_missing_remakes_a_recording_made_from_an_old_address() {
    assert!(synth::available(), "espeak-ng is not installed: run scripts/test.sh, which installs it");
    let sounds = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(ROOT).join("sounds"), sounds.path());
    let (_dir, config) = edited_config(&[(
        "address = \"Viale Le Corbusier 39, 04100 Latina\"",
        "address = \"Viale Le Corbusier 41, 04100 Latina\"",
    )]);
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(ROOT)
            .args(["--config", config.to_str().unwrap(), "--sounds", sounds.path().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let before = std::fs::read(sounds.path().join("agencies/latina-centro.wav")).unwrap();
    assert!(run(&["check"]).contains("latina-centro.wav was made from another text"), "{}", run(&["check"]));
    let made = run(&["prompts", "--missing"]);
    let synthesised: Vec<&str> = made.lines().filter(|l| l.starts_with("synthesising ")).collect();
    assert_eq!(synthesised.len(), 1, "{made}");
    assert!(synthesised[0].ends_with("agencies/latina-centro.wav"), "{made}");
    assert_ne!(std::fs::read(sounds.path().join("agencies/latina-centro.wav")).unwrap(), before);
    let transcripts = std::fs::read_to_string(sounds.path().join("transcripts.tsv")).unwrap();
    assert!(transcripts.contains("agencies/latina-centro.wav\tAgenzia INPS di Latina Centro, Viale Le Corbusier 41"));
    let check = run(&["check"]);
    assert!(check.contains("0 error(s), 0 warning(s)"), "{check}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() { copy_dir(&path, &target) } else { std::fs::copy(&path, &target).map(|_| ()).unwrap() }
    }
}
