//! Prompt synthesis with the real espeak-ng: the WAV is telephone audio of plausible length.
//! scripts/test.sh installs espeak-ng; without it this test fails and says so.

use centralino::ivr::Lang;
use centralino::media::{synth, wav};

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
    for dir in ["sounds/it", "sounds/en", "sounds/it/words", "sounds/en/words", "sounds/offices"] {
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
