//! The switchboard as configured: the configuration and every tree, checked together.
//! This is what `centralino check` reports on and what calls are answered from.

mod cross_checks;
mod sip_identity;

use crate::config::{self, Config};
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::ivr::{self, CallFacts, Session, Tree, speech, validate};
use crate::media::wav;
use crate::vocabulary::CallOrigin;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the switchboard's files are.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config: PathBuf,
    pub trees: PathBuf,
    pub sounds: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self { config: "config/centralino.toml".into(), trees: "ivr-trees".into(), sounds: "sounds".into() }
    }
}

/// A configuration and its trees that passed every check.
pub struct Switchboard {
    pub config: Config,
    pub trees: BTreeMap<String, Arc<Tree>>,
    pub paths: Paths,
    /// The server side of SIP over TLS (the configuration's certificate), if it is on.
    pub sip_tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// Why a call cannot enter the voice portal.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("number {0} is not a number of this switchboard")]
    UnknownNumber(String),
    #[error("tree {0} is not loaded")]
    UnknownTree(String),
}

/// The tree files in a directory (`*.yaml`, `*.yml`), sorted by name.
pub fn tree_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Check the configuration and the trees (all of `paths.trees`, or just `only`).
/// Returns the trees that parsed and every diagnostic, sorted.
pub fn check(paths: &Paths, only: &[PathBuf]) -> (Option<Config>, Vec<Arc<Tree>>, Vec<Diagnostic>) {
    let mut diags = Diagnostics::default();
    let config_text = std::fs::read_to_string(&paths.config);
    let config = match &config_text {
        Ok(text) => {
            let (config, d) = config::parse_lenient(&paths.config, text);
            diags.extend(d);
            config
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(&paths.config, Pos::new(1, 1), format!("cannot read the configuration: {e}"))
                    .hint("pass --config FILE, or run from the directory holding config/"),
            );
            None
        }
    };

    let all_files = match tree_files(&paths.trees) {
        Ok(files) => files,
        Err(e) => {
            // Not "no tree files": a directory that cannot be read now (out of descriptors,
            // permissions) must not read as an empty one.
            diags.push(
                Diagnostic::error(&paths.trees, Pos::new(1, 1), format!("cannot read the tree directory: {e}"))
                    .hint("pass --trees DIR, or run from the directory holding ivr-trees/"),
            );
            return (config, Vec::new(), diags.sorted());
        }
    };
    let files = if only.is_empty() { all_files.clone() } else { only.to_vec() };
    if files.is_empty() {
        diags.push(
            Diagnostic::error(&paths.trees, Pos::new(1, 1), "no tree files found")
                .hint("put the voice-portal trees in ivr-trees/*.yaml, or pass --trees DIR"),
        );
    }
    let made_from = crate::media::synth::transcripts::load(&paths.sounds);
    let recording = |prompt: &str, lang: ivr::Lang, text: &str| {
        let file = paths.sounds.join(lang.code()).join(format!("{prompt}.wav"));
        match wav::check(&file) {
            Err(e) => validate::Recording::Unusable(e.to_string()),
            Ok(_) => match made_from.get(&crate::media::synth::transcripts::key(&paths.sounds, &file)) {
                Some(t) if t != text => validate::Recording::MadeFromAnotherText(file.display().to_string()),
                _ => validate::Recording::Fine,
            },
        }
    };
    let ctx = validate::CheckContext { config: config.as_ref(), recording: &recording };
    let mut trees = Vec::new();
    for f in &files {
        match ivr::read_tree(f) {
            Ok(t) => {
                diags.extend(validate::check_tree(&t, &ctx));
                trees.push(t);
            }
            Err(d) => diags.push(d),
        }
    }

    if let (Some(c), Ok(text)) = (&config, &config_text) {
        let mut names: HashSet<String> =
            all_files.iter().chain(files.iter()).map(|p| ivr::load::tree_name(p)).collect();
        names.extend(trees.iter().map(|t| t.name.clone()));
        diags.extend(cross_checks::check_tree_names(&paths.config, text, c, &names));
        diags.extend(cross_checks::check_queue_routes(&paths.config, text, c, &trees));
        if let Err(d) = sip_identity::load(&paths.config, text, c) {
            diags.extend(d);
        }
    }
    // Prompts are shared through sounds/: compare with the trees not being checked too,
    // reporting clashes on the files being checked.
    let others: Vec<Arc<Tree>> = if only.is_empty() {
        Vec::new()
    } else {
        all_files.iter().filter(|f| !files.contains(f)).filter_map(|f| ivr::read_tree(f).ok()).collect()
    };
    let everyone: Vec<Arc<Tree>> = others.iter().chain(trees.iter()).cloned().collect();
    check_shared_prompts(&everyone, &mut diags);
    check_words(paths, &trees, &mut diags);
    if let Some(c) = &config {
        check_address_recordings(paths, c, &trees, &mut diags);
    }
    (config, trees, diags.sorted())
}

/// Trees share `sounds/`: one prompt name must mean one text per language across all trees.
fn check_shared_prompts(trees: &[Arc<Tree>], diags: &mut Diagnostics) {
    let mut seen: BTreeMap<(ivr::Lang, &str), (&Tree, &str)> = BTreeMap::new();
    for t in trees {
        for (name, texts) in &t.def.prompts {
            for (lang, text) in texts {
                match seen.get(&(lang.value, name.value.as_str())) {
                    Some((other, other_text)) if *other_text != text.as_str() => diags.push(
                        Diagnostic::error(
                            &t.path,
                            name.pos,
                            format!("prompt `{}` ({}) has another text in tree {}", name.value, lang.value, other.name),
                        )
                        .hint(format!(
                            "both would play sounds/{}/{}.wav: give one of them another name, or the same text",
                            lang.value, name.value
                        )),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert((lang.value, name.value.as_str()), (t, text.as_str()));
                    }
                }
            }
        }
    }
}

/// The built-in words (numbers, days, months) must exist for every language a tree speaks.
fn check_words(paths: &Paths, trees: &[Arc<Tree>], diags: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for t in trees {
        for lang in &t.def.languages.value {
            if !seen.insert(*lang) {
                continue;
            }
            let dir = paths.sounds.join(lang.code()).join("words");
            let bad: Vec<String> = speech::words(*lang)
                .into_iter()
                .filter_map(|(w, _)| wav::check(&dir.join(format!("{w}.wav"))).err())
                .collect();
            if let Some(first) = bad.first() {
                diags.push(
                    Diagnostic::error(
                        &t.path,
                        t.def.languages.pos,
                        format!("{} of the {lang} number words are unusable, e.g. {first}", bad.len()),
                    )
                    .hint("run `centralino prompts` to synthesise them"),
                );
            }
        }
    }
}

/// A recording made from the configuration: an office's address or an agency's place.
struct Recording<'a> {
    name: &'a str,
    /// What it must say.
    text: String,
    /// Where the configuration defines it (a byte offset).
    at: usize,
}

/// Trees that say an office's address need the recording of every province's office, and
/// trees that say an appointment's place the recording of every agency; a recording made from
/// another text than the configuration's (an address edited since) is a warning.
fn check_address_recordings(paths: &Paths, config: &Config, trees: &[Arc<Tree>], diags: &mut Diagnostics) {
    let says = |item: fn(&ivr::SayItem) -> bool| {
        trees
            .iter()
            .find(|t| t.def.nodes.values().any(|n| matches!(&n.value, ivr::Node::Play(p) if p.say.iter().any(item))))
    };
    let offices = says(|s| matches!(s, ivr::SayItem::Office(ivr::OfficeFact::Address)));
    let places = says(|s| matches!(s, ivr::SayItem::Appointment(ivr::AppointmentFact::Place)));
    let office_recordings = config
        .provinces
        .iter()
        .map(|(code, p)| Recording { name: code.get_ref(), text: p.office_address.clone(), at: code.span().start })
        .collect();
    let agency_recordings = config
        .agencies
        .iter()
        .map(|a| Recording { name: a.id.get_ref(), text: agency_place(a), at: a.id.span().start })
        .collect();
    let wanted: [(_, _, _, Vec<Recording>); 2] = [
        (offices, "office address", "offices", office_recordings),
        (places, "agency address", "agencies", agency_recordings),
    ];
    let made_from = crate::media::synth::transcripts::load(&paths.sounds);
    let config_text = std::fs::read_to_string(&paths.config).unwrap_or_default();
    for (tree, what, dir, recordings) in wanted {
        let Some(tree) = tree else { continue };
        let mut bad = Vec::new();
        for r in &recordings {
            let file = paths.sounds.join(dir).join(format!("{}.wav", r.name));
            if let Err(e) = wav::check(&file) {
                bad.push(e);
            } else if made_from
                .get(&crate::media::synth::transcripts::key(&paths.sounds, &file))
                .is_some_and(|t| *t != r.text)
            {
                diags.push(
                    Diagnostic::warning(
                        &paths.config,
                        Pos::of_offset(&config_text, r.at),
                        format!("{} was made from another text than this {what}", file.display()),
                    )
                    .hint(format!(
                        "run `centralino prompts --missing` (or `--only {}`) or record it again, so callers hear the address configured",
                        r.name
                    )),
                );
            }
        }
        if let Some(first) = bad.first() {
            diags.push(
                Diagnostic::error(&tree.path, tree.def.start.pos, format!("{} {what} recording(s) are unusable, e.g. {first}", bad.len()))
                    .hint(format!("a tree says {what}es: run `centralino prompts` to synthesise them from the configuration, or record them")),
            );
        }
    }
}

impl Switchboard {
    /// Load and check everything; any error keeps the switchboard from loading.
    /// Warnings are returned beside it.
    pub fn load(paths: &Paths) -> Result<(Switchboard, Vec<Diagnostic>), Vec<Diagnostic>> {
        let (config, trees, diags) = check(paths, &[]);
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        let config = config.expect("no errors means the configuration loaded");
        // Read again: the check above only reported on it.
        let text = std::fs::read_to_string(&paths.config).unwrap_or_default();
        let sip_tls = sip_identity::load(&paths.config, &text, &config).map_err(|d| d.sorted())?;
        let trees = trees.into_iter().map(|t| (t.name.clone(), t)).collect();
        Ok((Switchboard { config, trees, paths: paths.clone(), sip_tls }, diags))
    }

    /// The facts of a call to `dialled` from `caller`, and the tree that answers it.
    pub fn facts(&self, caller: &str, dialled: &str) -> Result<(CallFacts, Arc<Tree>), CallError> {
        let number = self.config.called_number(dialled).ok_or_else(|| CallError::UnknownNumber(dialled.to_string()))?;
        let tree_name = self.config.tree_of(number);
        let tree = self.trees.get(tree_name).cloned().ok_or_else(|| CallError::UnknownTree(tree_name.to_string()))?;
        let province = self.config.province(number.province.get_ref());
        let facts = CallFacts {
            origin: CallOrigin {
                caller: caller.to_string(),
                number: number.number.get_ref().clone(),
                province: Some(number.province.get_ref().clone()),
                region: province.map(|p| p.region.get_ref().clone()),
            },
            office_hours: province.map(|p| p.office_hours.get_ref().clone()),
        };
        Ok((facts, tree))
    }

    /// A voice-portal session for a new call.
    pub fn session(&self, caller: &str, dialled: &str) -> Result<Session, CallError> {
        let (facts, tree) = self.facts(caller, dialled)?;
        Ok(Session::new(tree, facts, self.config.general_section.get_ref().clone()))
    }
}

/// What an agency's recording says: its name and address.
pub fn agency_place(a: &config::Agency) -> String {
    format!("{}, {}", a.name, a.address)
}

/// Every WAV the switchboard plays, with the text it says: tree prompts, the built-in words of
/// each language, the office address of each province and the place of each agency.
pub fn synthesis_jobs(paths: &Paths, config: Option<&Config>, trees: &[Arc<Tree>]) -> Vec<crate::media::synth::Job> {
    use crate::media::synth::Job;
    let mut jobs: BTreeMap<PathBuf, Job> = BTreeMap::new();
    let mut langs = std::collections::BTreeSet::new();
    for t in trees {
        langs.extend(t.def.languages.value.iter().copied());
        for (name, texts) in &t.def.prompts {
            for (lang, text) in texts {
                let path = paths.sounds.join(lang.code()).join(format!("{}.wav", name.value));
                jobs.insert(path.clone(), Job { path, lang: lang.value, text: text.clone() });
            }
        }
    }
    for lang in langs {
        for (w, text) in speech::words(lang) {
            let path = paths.sounds.join(lang.code()).join("words").join(format!("{w}.wav"));
            jobs.insert(path.clone(), Job { path, lang, text });
        }
    }
    if let Some(c) = config {
        for (code, p) in &c.provinces {
            let path = paths.sounds.join("offices").join(format!("{}.wav", code.get_ref()));
            jobs.insert(path.clone(), Job { path, lang: ivr::Lang::It, text: p.office_address.clone() });
        }
        for a in &c.agencies {
            let path = paths.sounds.join("agencies").join(format!("{}.wav", a.id.get_ref()));
            jobs.insert(path.clone(), Job { path, lang: ivr::Lang::It, text: agency_place(a) });
        }
    }
    jobs.into_values().collect()
}
