//! Every clip the switchboard plays, loaded and encoded once (both G.711 laws) and shared
//! by all calls: tree prompts, built-in words and office addresses.

use super::g711::Law;
use super::wav;
use crate::ivr::{Lang, Utterance};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Where an administrator's hold music goes, below `sounds/`.
pub const HOLD_MUSIC: &str = "music/hold.wav";

/// One clip in both laws.
#[derive(Debug, Clone)]
pub struct Clip {
    pub pcmu: Arc<[u8]>,
    pub pcma: Arc<[u8]>,
}

impl Clip {
    fn new(pcm: &[i16]) -> Self {
        Self { pcmu: Law::Pcmu.encode(pcm).into(), pcma: Law::Pcma.encode(pcm).into() }
    }

    pub fn get(&self, law: Law) -> &Arc<[u8]> {
        match law {
            Law::Pcmu => &self.pcmu,
            Law::Pcma => &self.pcma,
        }
    }

    /// Length in milliseconds (8 samples per millisecond).
    pub fn duration_ms(&self) -> u64 {
        self.pcmu.len() as u64 / 8
    }
}

/// The clips, by the path below `sounds/` they were read from (`it/welcome.wav`,
/// `en/words/n21.wav`, `offices/LT.wav`).
#[derive(Debug, Default)]
pub struct PromptStore {
    clips: HashMap<String, Clip>,
}

impl PromptStore {
    /// Load every WAV under `sounds` (recursively). Unreadable files are reported, not fatal:
    /// `centralino check` has already refused a switchboard that needs them.
    pub fn load(sounds: &Path) -> (Self, Vec<String>) {
        let mut store = Self::default();
        let mut errors = Vec::new();
        let mut dirs = vec![sounds.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "wav") {
                    match wav::load_telephone(&p) {
                        Ok(pcm) => {
                            let key = super::synth::transcripts::key(sounds, &p);
                            store.clips.insert(key, Clip::new(&pcm));
                        }
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
        store.clips.entry(HOLD_MUSIC.to_string()).or_insert_with(|| Clip::new(&super::music::hold_tune()));
        (store, errors)
    }

    /// The hold music (`sounds/music/hold.wav`, or the built-in tune).
    pub fn hold_music(&self) -> Option<&Clip> {
        self.clips.get(HOLD_MUSIC)
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// The path key of an utterance in `lang`.
    pub fn key(lang: Lang, u: &Utterance) -> String {
        match u {
            Utterance::Prompt(name) => format!("{lang}/{name}.wav"),
            Utterance::Word(w) => format!("{lang}/words/{w}.wav"),
            Utterance::OfficeAddress(p) => format!("offices/{p}.wav"),
            Utterance::AgencyAddress(a) => format!("agencies/{a}.wav"),
        }
    }

    pub fn clip(&self, lang: Lang, u: &Utterance) -> Option<&Clip> {
        self.clips.get(&Self::key(lang, u))
    }

    /// The clips of a `Play` action in one law; missing clips are skipped (and returned).
    pub fn clips_for(&self, lang: Lang, items: &[Utterance], law: Law) -> (Vec<Arc<[u8]>>, Vec<String>) {
        let mut clips = Vec::with_capacity(items.len());
        let mut missing = Vec::new();
        for u in items {
            match self.clip(lang, u) {
                Some(c) => clips.push(Arc::clone(c.get(law))),
                None => missing.push(Self::key(lang, u)),
            }
        }
        (clips, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_shipped_sounds_once_per_law() {
        let (store, errors) = PromptStore::load(Path::new("sounds"));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(store.len() > 400);
        let welcome = store.clip(Lang::It, &Utterance::Prompt("welcome".into())).unwrap();
        assert!(welcome.duration_ms() > 2000);
        assert_eq!(welcome.pcmu.len(), welcome.pcma.len());
        let items =
            [Utterance::Word("n21".into()), Utterance::OfficeAddress("LT".into()), Utterance::Prompt("nope".into())];
        let (clips, missing) = store.clips_for(Lang::En, &items, Law::Pcma);
        assert_eq!(clips.len(), 2);
        assert_eq!(missing, vec!["en/nope.wav".to_string()]);
    }
}
