//! `centralino check` as an administrator runs it: the real binary, the shipped configuration
//! and trees, the broken trees of `tests/broken-trees/` and broken copies of the configuration.
//! Every diagnostic is asserted with its exact `file:line:col: severity: message` line, and all
//! the diagnostics of a file must come at once.

use std::path::{Path, PathBuf};
use std::process::Command;

const BROKEN_TREES: &str = "tests/broken-trees";
const SHIPPED_CONFIG: &str = "config/centralino.toml";

/// What one run of the binary printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn context(&self) -> String {
        format!("exit code {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn centralino(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the centralino binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// One diagnostic as printed: its first line and the `    help:` line under it, if any.
#[derive(Debug)]
struct Printed<'a> {
    line: &'a str,
    help: Option<&'a str>,
}

/// The diagnostics of a `check` output, between the `checked ...` line and the summary.
fn diagnostics(run: &Run) -> Vec<Printed<'_>> {
    let mut out: Vec<Printed> = Vec::new();
    for l in run.lines() {
        if l.starts_with("    help: ") {
            let last = out.last_mut().unwrap_or_else(|| panic!("a help line before any diagnostic\n{}", run.context()));
            assert!(last.help.is_none(), "two help lines\n{}", run.context());
            last.help = Some(l);
        } else if l.contains(": error: ") || l.contains(": warning: ") {
            out.push(Printed { line: l, help: None });
        }
    }
    out
}

/// Assert that `run` printed exactly the `expected` diagnostics, in order, and nothing else.
/// `expected` holds diagnostic lines, each optionally followed by its `    help: ...` line;
/// a help line that is not listed is not checked.
fn assert_diagnostics(run: &Run, expected: &[String]) {
    let printed = diagnostics(run);
    let mut want: Vec<(&str, Option<&str>)> = Vec::new();
    for e in expected {
        if e.starts_with("    help: ") {
            let last = want.last_mut().expect("a help line follows a diagnostic");
            last.1 = Some(e);
        } else {
            want.push((e, None));
        }
    }
    let got_lines: Vec<&str> = printed.iter().map(|p| p.line).collect();
    let want_lines: Vec<&str> = want.iter().map(|w| w.0).collect();
    assert_eq!(got_lines, want_lines, "\n{}", run.context());
    for (p, (line, help)) in printed.iter().zip(&want) {
        if let Some(h) = help {
            assert_eq!(p.help, Some(*h), "help of `{line}`\n{}", run.context());
        }
    }
    let errors = want_lines.iter().filter(|l| l.contains(": error: ")).count();
    let warnings = want_lines.len() - errors;
    assert_eq!(
        run.lines().last().copied(),
        Some(format!("{errors} error(s), {warnings} warning(s)").as_str()),
        "summary line\n{}",
        run.context()
    );
    let expected_code = if errors > 0 { 1 } else { 0 };
    assert_eq!(run.code, Some(expected_code), "\n{}", run.context());
}

// --- The shipped configuration and trees --------------------------------------------------------

#[test]
fn shipped_configuration_and_trees_pass() {
    let run = centralino(&["check"]);
    assert_eq!(run.code, Some(0), "\n{}", run.context());
    let first = run.lines().first().copied().unwrap_or_default();
    assert!(
        first.starts_with("checked config/centralino.toml and tree(s): ")
            && first.contains("agenzia-latina")
            && first.contains("centralino-unico-nazionale"),
        "\n{}",
        run.context()
    );
    assert!(run.lines().last().is_some_and(|l| l.starts_with("0 error(s), ")), "\n{}", run.context());
}

#[test]
fn shipped_trees_pass_when_named_one_by_one() {
    for tree in ["ivr-trees/centralino-unico-nazionale.yaml", "ivr-trees/agenzia-latina.yaml"] {
        let run = centralino(&["check", tree]);
        assert_eq!(run.code, Some(0), "{tree}\n{}", run.context());
        assert!(run.stdout.contains("\n0 error(s), "), "{tree}\n{}", run.context());
    }
}

#[test]
fn a_missing_tree_file_is_reported() {
    let run = centralino(&["check", "tests/broken-trees/no-such-tree.yaml"]);
    assert_diagnostics(
        &run,
        &["tests/broken-trees/no-such-tree.yaml:1:1: error: cannot read the tree: No such file or directory (os error 2)".into()],
    );
}

#[test]
fn a_missing_configuration_is_reported() {
    let run = centralino(&["--config", "config/no-such.toml", "check"]);
    assert_diagnostics(
        &run,
        &[
            "config/no-such.toml:1:1: error: cannot read the configuration: No such file or directory (os error 2)"
                .into(),
            "    help: pass --config FILE, or run from the directory holding config/".into(),
        ],
    );
}

// --- Broken trees -------------------------------------------------------------------------------

/// Check one broken tree and compare the diagnostics. Lines not starting with `    help:`
/// are written without the `tests/broken-trees/<file>.yaml:` prefix.
fn expect_tree(file: &str, expected: &[&str]) {
    let path = format!("{BROKEN_TREES}/{file}.yaml");
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path).exists(), "{path} is missing");
    let run = centralino(&["check", &path]);
    assert!(
        run.lines().first().is_some_and(|l| l.starts_with("checked config/centralino.toml and tree(s):")),
        "\n{}",
        run.context()
    );
    let expected: Vec<String> = expected
        .iter()
        .map(|e| if e.starts_with("    help: ") { e.to_string() } else { format!("{path}:{e}") })
        .collect();
    assert_diagnostics(&run, &expected);
}

/// One test per broken tree: `name: "file-stem" => [diagnostic lines (without the file
/// prefix), optionally each followed by its help line]`.
macro_rules! broken_tree {
    ($($(#[$attr:meta])* $name:ident: $file:literal => [$($line:literal),* $(,)?];)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                expect_tree($file, &[$($line),*]);
            }
        )*
    };
}

broken_tree! {
    yaml_bad_indentation: "yaml-bad-indentation" => [
        "14:8: error: while parsing a block mapping, did not find expected key",
        "    help: fix the YAML at this position; see docs/ivr-trees.md",
    ];
    // The message points at the line after the unclosed quote: YAML strings may span lines.
    yaml_unclosed_quote: "yaml-unclosed-quote" => [
        "24:10: error: invalid trailing content after double-quoted scalar",
    ];
    // Only the position and message: the help is the subject of
    // `unquoted_star_key_help_says_to_quote_it` below.
    unquoted_star_key: "unquoted-star-key" => [
        "21:9: error: simple key expected ':'",
    ];
    unknown_field_promt: "unknown-field-promt" => [
        "20:7: error: unknown field `promt`, expected one of prompt, reason",
        "    help: check the spelling against docs/ivr-trees.md (or `centralino schema`)",
    ];
    unknown_node_kind: "unknown-node-kind" => [
        "10:5: error: unknown variant `announce`, expected one of menu, play, collect, queue, hangup, goto, schedule, language, branch, lookup",
        "    help: each node is written as `name: { <kind>: {...} }` with kind one of menu, play, collect, queue, hangup, goto, schedule, language, branch, lookup",
    ];
    unknown_node_reference: "unknown-node-reference" => [
        "7:17: error: unknown node `goodbye_exhausted`",
        "    help: did you mean `goodbye`?",
        "13:14: error: unknown node `pension_queue`",
        "    help: did you mean `pensions_queue`?",
        "15:14: error: unknown node `income_support_queue`",
        "    help: define a node `income_support_queue` under `nodes:` or point to an existing one",
        "16:3: error: node `pensions_queue` cannot be reached from `start`",
    ];
    unknown_section: "unknown-section" => [
        "12:16: error: unknown section `helpdesk` (not in the configuration)",
        "    help: add [sections.helpdesk] to config/centralino.toml or use an existing section",
        "18:16: error: unknown section `pension` (not in the configuration)",
        "    help: did you mean `pensions`?",
    ];
    titles_of_unknown_nodes_and_empty_titles: "titles-mistakes" => [
        "6:3: error: unknown node `pension_queue`",
        "    help: did you mean `pensions_queue`?",
        "7:3: error: the title of `goodbye` is empty",
        "    help: write the title, or remove the line",
    ];
    unreachable_node: "unreachable-node" => [
        "15:3: error: node `pensions_queue` cannot be reached from `start`",
        "    help: lead to it from another node, list it under `entry_points:` if operators send calls there, or remove it",
    ];
    duplicate_option_key_number_and_string: "duplicate-option-key" => [
        "16:9: error: key `1` is listed twice (first at line 14)",
        "    help: a key can lead to one place only; remove one of the entries",
    ];
    duplicate_yaml_key: "duplicate-yaml-key" => [
        "15:9: error: duplicate mapping key: 2",
        "    help: each key may appear only once in a mapping; remove or rename one of them",
    ];
    duplicate_node_name: "duplicate-node-name" => [
        "21:3: error: duplicate mapping key: goodbye",
        "    help: each key may appear only once in a mapping; remove or rename one of them",
    ];
    invalid_key_two_digits: "invalid-key-two-digits" => [
        "14:9: error: `11` is not a telephone key; use one of 0-9, \"*\" or \"#\" (quote * and #)",
    ];
    invalid_key_letter: "invalid-key-letter" => [
        "14:9: error: `x` is not a telephone key; use one of 0-9, \"*\" or \"#\" (quote * and #)",
    ];
    menu_option_on_operator_key: "operator-key-option" => [
        "15:9: error: key 0 is the operator key",
        "    help: use another key for this option, or set `operator: false` on this menu",
    ];
    unknown_prompt: "unknown-prompt" => [
        "12:15: error: unknown prompt `main_menuu`",
        "    help: did you mean `main_menu`?",
        "13:23: error: unknown prompt `wrong_key`",
        "    help: add `wrong_key` with its text per language under `prompts:`",
        "22:15: error: unknown prompt `goodbye_exhausted`",
        "    help: add `goodbye_exhausted` with its text per language under `prompts:`",
        "24:3: warning: prompt `main_menu` is never played",
        "    help: remove it, or use it in a node",
    ];
    prompt_missing_wav: "prompt-missing-wav" => [
        "27:3: error: prompt `pensions_welcome` (it): missing file sounds/it/pensions_welcome.wav",
        "    help: record it, or run `centralino prompts` to synthesise it from the text",
        "27:3: error: prompt `pensions_welcome` (en): missing file sounds/en/pensions_welcome.wav",
        "    help: record it, or run `centralino prompts` to synthesise it from the text",
    ];
    prompt_missing_text: "prompt-missing-text" => [
        "31:3: error: prompt `goodbye` has no en text",
        "    help: add `en: \"...\"` with the transcript",
    ];
    silent_loop: "silent-loop" => [
        "17:3: error: loop that never plays a prompt or waits for a key: check_a -> check_b -> check_a",
        "    help: make one node of the loop play a prompt or wait for input, or break the loop",
    ];
    lookup_missing_outcome: "lookup-missing-outcome" => [
        "26:5: error: lookup does not say where to go on: returned, unavailable",
        "    help: add each result under `on:`",
        "34:9: error: `closed` is not a result of this lookup",
        "    help: the results are: open, taken, answered, returned, not_found, unavailable",
    ];
    lookup_input_mistakes: "lookup-input-mistakes" => [
        "17:5: error: the `ticket_status` lookup needs `input:`",
        "    help: name the variable a `collect` node filled, e.g. `input: ticket`",
        "23:14: error: the `appointment` lookup takes no `input:`",
        "    help: it reads the appointment booked during this call; remove `input:`",
    ];
    appointment_without_lookup: "appointment-without-lookup" => [
        "15:5: error: this node says an appointment, but no `appointment` lookup finds one",
        "    help: lead to it from a `lookup` node with `service: appointment`",
    ];
    collect_min_over_max: "collect-min-over-max" => [
        "20:19: error: digit range 9..8 is not valid",
        "    help: 1 <= min_digits <= max_digits <= 32",
    ];
    branch_unknown_province: "branch-unknown-province" => [
        "21:9: error: `XX` is not a possible province of a call",
        "22:9: error: `Lt` is not a possible province of a call",
        "    help: did you mean `LT`? values are case-sensitive",
    ];
    unknown_schedule: "unknown-schedule" => [
        "16:17: error: unknown schedule `contact_centre`",
        "    help: did you mean `contact_center`?",
    ];
    language_not_spoken: "language-not-spoken" => [
        "14:14: error: language `en` is not among the tree's languages",
        "    help: add it to `languages:` or remove this option",
    ];
    many_mistakes_are_reported_at_once: "many-mistakes" => [
        "6:12: error: unknown section `genral` (not in the configuration)",
        "    help: did you mean `general`?",
        "7:13: error: operator hours (`schedule`) are set without a `closed` node",
        "    help: add `closed: <node>` to `operator:`: the node callers reach when they ask for an operator outside those hours",
        "9:12: error: timeout 90 s is out of range",
        "    help: use 1 to 60 seconds",
        "10:12: error: 12 retries is too many",
        "    help: callers give up long before; use 0 to 9",
        "17:7: error: schedule `contact_center`: mon: `08:00-20:00` and `12:00-14:00` overlap or are out of order; list the intervals of a day in time order without overlaps",
        "21:15: error: unknown prompt `welcom`",
        "    help: did you mean `welcome`?",
        "31:9: error: key 0 is the operator key",
        "37:14: error: unknown node `pension_queue`",
        "    help: did you mean `pensions_queue`?",
        "42:19: error: digit range 0..11 is not valid",
        "44:19: error: terminator 5 is a digit of the input",
        "    help: use \"#\" or \"*\"",
        "49:23: error: variable `ticket` is never collected",
        "    help: a `collect` node must set it with `var:` before it is used",
        "51:3: error: node `pensions_queue` cannot be reached from `start`",
        "54:3: error: node `old_menu` cannot be reached from `start`",
        "60:3: warning: prompt `welcome` is never played",
        "72:3: error: prompt `goodbye` has no en text",
    ];
}

/// The branch errors are at the right place even while the message is mis-cased (see
/// `branch_unknown_province`).
#[test]
fn branch_unknown_province_positions() {
    let run = centralino(&["check", "tests/broken-trees/branch-unknown-province.yaml"]);
    assert_eq!(run.code, Some(1), "\n{}", run.context());
    let prefix = "tests/broken-trees/branch-unknown-province.yaml:";
    let got: Vec<&str> = diagnostics(&run)
        .iter()
        .map(|p| p.line.split(" is not a possible ").next().unwrap_or(""))
        .map(|l| l.strip_prefix(prefix).unwrap_or(l))
        .collect();
    // The message itself is asserted, case-insensitively, until the bug is fixed.
    assert_eq!(
        got.iter().map(|l| l.to_lowercase()).collect::<Vec<_>>(),
        ["21:9: error: `xx`", "22:9: error: `lt`"],
        "\n{}",
        run.context()
    );
}

#[test]
fn unquoted_star_key_help_says_to_quote_it() {
    let run = centralino(&["check", "tests/broken-trees/unquoted-star-key.yaml"]);
    let d = diagnostics(&run);
    assert_eq!(d.len(), 1, "\n{}", run.context());
    assert_eq!(
        d[0].help,
        Some("    help: quote the keys \"*\" and \"#\": unquoted, YAML reads * as an alias and # as a comment"),
        "\n{}",
        run.context()
    );
}

/// A prompt of a shipped tree given another text: alone, the tree only gets a warning (its WAV
/// says the old text); checked with the shipped tree, the clash of texts is an error.
#[test]
fn prompt_text_conflict() {
    let file = "tests/broken-trees/prompt-text-conflict.yaml";
    let stale = [
        format!("{file}:32:3: warning: prompt `goodbye` (it): sounds/it/goodbye.wav was made from another text"),
        "    help: run `centralino prompts --missing` (or `--only goodbye`) or record it again, so callers hear what the tree says"
            .to_string(),
    ];
    // Checked alone, it is still compared with the shipped trees it shares sounds/ with.
    let mut expected = stale.to_vec();
    expected.extend([
        format!("{file}:32:3: error: prompt `goodbye` (it) has another text in tree centralino-unico-nazionale"),
        "    help: both would play sounds/it/goodbye.wav: give one of them another name, or the same text".to_string(),
    ]);
    assert_diagnostics(&centralino(&["check", file]), &expected);

    let run = centralino(&["check", "ivr-trees/centralino-unico-nazionale.yaml", file]);
    let mut expected = stale.to_vec();
    expected.extend([
        format!("{file}:32:3: error: prompt `goodbye` (it) has another text in tree centralino-unico-nazionale"),
        "    help: both would play sounds/it/goodbye.wav: give one of them another name, or the same text".to_string(),
    ]);
    assert_diagnostics(&run, &expected);
}

/// Every file in tests/broken-trees/ is checked by a test of this file.
#[test]
fn every_broken_tree_has_a_test() {
    let this_file = include_str!("check_cli.rs");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(BROKEN_TREES);
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/broken-trees exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    stems.sort();
    assert!(stems.len() >= 12, "only {} broken trees", stems.len());
    let untested: Vec<&String> = stems
        .iter()
        .filter(|s| !this_file.contains(&format!("\"{s}\" =>")) && !this_file.contains(&format!("/{s}.yaml\"")))
        .collect();
    assert!(untested.is_empty(), "broken trees without a test: {untested:?}");
}

// --- Broken configurations ------------------------------------------------------------------------

/// Marks, in the replacement text of an edit, where the diagnostic must point.
const HERE: &str = "‸";

/// One textual mistake made in a copy of the shipped configuration.
struct Edit {
    /// Text of the shipped configuration (must occur exactly once).
    old: &'static str,
    /// What replaces it, with [`HERE`] where the diagnostic must point.
    new: &'static str,
    /// The diagnostic after `file:line:col: `.
    message: &'static str,
    /// Its help line, without the leading `    help: `.
    help: &'static str,
}

fn shipped_config() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED_CONFIG))
        .expect("the shipped configuration is readable")
}

/// The shipped configuration with `edits` applied, keeping the marker of edit `keep` only.
fn edited(edits: &[Edit], keep: Option<usize>) -> String {
    let mut text = shipped_config();
    for (i, e) in edits.iter().enumerate() {
        assert_eq!(text.matches(e.old).count(), 1, "the shipped configuration should contain `{}` exactly once", e.old);
        let new = if keep == Some(i) { e.new.to_string() } else { e.new.replace(HERE, "") };
        text = text.replacen(e.old, &new, 1);
    }
    text
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Write the edited configuration to a temporary file, run `check` with it (and the trees
/// `files`, or every tree) and return the run with the file's path.
fn check_config(edits: &[Edit], files: &[&str]) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("centralino.toml");
    std::fs::write(&path, edited(edits, None)).expect("the configuration is written");
    let mut args = vec!["--config", path.to_str().expect("a UTF-8 path"), "check"];
    args.extend(files);
    let run = centralino(&args);
    (run, path, dir)
}

/// The diagnostic lines `edits` must produce in the file at `path`, in file order.
fn expected_config_lines(edits: &[Edit], path: &Path) -> Vec<String> {
    let mut at: Vec<((usize, usize), &Edit)> = edits
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let text = edited(edits, Some(i));
            let offset = text.find(HERE).unwrap_or_else(|| panic!("the edit of `{}` has no {HERE} marker", e.old));
            (line_col(&text, offset), e)
        })
        .collect();
    at.sort_by_key(|(pos, _)| *pos);
    at.iter()
        .flat_map(|((line, col), e)| {
            [format!("{}:{line}:{col}: {}", path.display(), e.message), format!("    help: {}", e.help)]
        })
        .collect()
}

fn expect_config(edits: &[Edit]) {
    let (run, path, _dir) = check_config(edits, &[]);
    assert!(
        run.lines().first().is_some_and(|l| l.starts_with(&format!("checked {} and tree(s):", path.display()))),
        "\n{}",
        run.context()
    );
    assert_diagnostics(&run, &expected_config_lines(edits, &path));
}

const OPERATOR_UNKNOWN_SECTION: Edit = Edit {
    old: "sections = [\"pensions\", \"general\"]",
    new: "sections = [\"pensions\", ‸\"genreal\"]",
    message: "error: unknown section `genreal`",
    help: "did you mean `general`?",
};

const NUMBER_NOT_E164: Edit = Edit {
    old: "number = \"+390773691001\"",
    new: "number = ‸\"0773 691001\"",
    message: "error: called number `0773 691001` is not in E.164 form",
    help: "write it in E.164 form: \"+390773691001\"",
};

const PROVINCE_UNKNOWN_REGION: Edit = Edit {
    old: "name = \"Latina\"\nregion = \"lazio\"",
    new: "name = \"Latina\"\nregion = ‸\"lazo\"",
    message: "error: unknown region `lazo`",
    help: "did you mean `lazio`?",
};

const AGENCY_SLOT_ZERO: Edit = Edit {
    old: "address = \"Viale Le Corbusier 39, 04100 Latina\"\nslot_minutes = 20",
    new: "address = \"Viale Le Corbusier 39, 04100 Latina\"\nslot_minutes = ‸0",
    message: "error: slot_minutes 0 is out of range",
    help: "use between 5 and 240 minutes",
};

/// The hours are located at their table header, not at the day that overlaps.
const OVERLAPPING_OFFICE_HOURS: Edit = Edit {
    old: "[provinces.LT.office_hours]\nmon = [\"08:30-12:30\"]\ntue = [\"08:30-12:30\", \"14:30-16:00\"]",
    new: "‸[provinces.LT.office_hours]\nmon = [\"08:30-12:30\"]\ntue = [\"08:30-12:30\", \"12:00-16:00\"]",
    message: "error: office_hours of LT: tue: `08:30-12:30` and `12:00-16:00` overlap or are out of order; list the intervals of a day in time order without overlaps",
    help: "fix the intervals of that day",
};

const UNKNOWN_FIELD: Edit = Edit {
    old: "max_calls = 4000",
    new: "‸max_call = 4000",
    message: "error: unknown field `max_call`, expected one of `udp`, `tcp`, `realm`, `max_calls`, `ringing`, `answer_delay_ms`, `digest_algorithms`, `drain_seconds`, `udp_receive_buffer_kib`, `trusted_proxies`, `tls`, `tls_certificate`, `tls_key`, `tls_client_authorities`, `operators_require_tls`",
    help: "fix the TOML at this position; docs/configuration.md lists every field",
};

/// The error is at the end of the line, where the closing quote was expected.
const TOML_UNCLOSED_STRING: Edit = Edit {
    old: "realm = \"centralino.inps.example\"",
    new: "realm = \"centralino.inps.example‸",
    message: "error: invalid basic string, expected `\"`",
    help: "fix the TOML at this position; docs/configuration.md lists every field",
};

const TOML_UNCLOSED_TABLE: Edit = Edit {
    old: "[rtp]",
    new: "[rtp‸",
    message: "error: unclosed table, expected `]`",
    help: "fix the TOML at this position; docs/configuration.md lists every field",
};

const DEFAULT_TREE_MISSING: Edit = Edit {
    old: "default_tree = \"centralino-unico-nazionale\"",
    new: "default_tree = ‸\"portale\"",
    message: "error: unknown tree `portale`",
    help: "add ivr-trees/portale.yaml or name an existing tree",
};

const DEFAULT_TREE_TYPO: Edit = Edit {
    old: "default_tree = \"centralino-unico-nazionale\"",
    new: "default_tree = ‸\"centralino-unico-nazional\"",
    message: "error: unknown tree `centralino-unico-nazional`",
    help: "did you mean `centralino-unico-nazionale`?",
};

const QUEUE_UNKNOWN_NODE: Edit = Edit {
    old: "leave_to = { node = \"pensions_menu\" }",
    new: "leave_to = { node = ‸\"pension_menu\" }",
    message: "error: section `pensions`: unknown node `pension_menu` in tree `centralino-unico-nazionale`",
    help: "did you mean `pensions_menu`?",
};

const QUEUE_UNKNOWN_MESSAGE: Edit = Edit {
    old: "after_max_wait = { message = \"queue_timeout\" }",
    new: "after_max_wait = { message = ‸\"queue_timeot\" }",
    message: "error: [queue]: unknown prompt `queue_timeot` in tree `centralino-unico-nazionale`",
    help: "did you mean `queue_timeout`?",
};

const QUEUE_UNKNOWN_SECTION: Edit = Edit {
    old: "when_full = { section = \"general\" }",
    new: "when_full = { section = ‸\"genral\" }",
    message: "error: unknown section `genral`",
    help: "did you mean `general`?",
};

const QUEUE_LIMIT_WITHOUT_ROUTE: Edit = Edit {
    old: "max_queue = 300\nwhen_full = { section = \"general\" }",
    new: "max_queue = ‸300",
    message: "error: section `pensions`: max_queue is set but when_full is not",
    help: "say where callers go then: when_full = { section = \"...\" }, { node = \"...\" } or { message = \"...\" }",
};

const QUEUE_TWO_TARGETS: Edit = Edit {
    old: "when_no_operators = { node = \"no_operator_now\" }",
    new: "when_no_operators = { section = ‸\"general\", node = \"no_operator_now\" }",
    message: "error: [queue]: a queue route names 2 targets",
    help: "give exactly one of section, node or message",
};

const QUEUE_BAD_LEAVE_KEY: Edit = Edit {
    old: "leave_key = \"9\"                    # back to the section's self-service menu\nleave_to = { node = \"contributors_menu\" }",
    new: "leave_key = ‸\"x\"\nleave_to = { node = \"contributors_menu\" }",
    message: "error: section `contributors`: leave_key `x` is not a phone key",
    help: "use one of 0-9, * or #",
};

const QUEUE_ROUTES_TO_ITSELF: Edit = Edit {
    old: "leave_to = { node = \"online_services_menu\" }",
    new: "leave_to = { section = ‸\"online_services\" }",
    message: "error: section `online_services` routes its callers to itself",
    help: "name another section, a node or a message",
};

const OFFICER_UNKNOWN_REGION: Edit = Edit {
    old: "region = \"lombardia\"\nha1_md5",
    new: "region = ‸\"lombardy\"\nha1_md5",
    message: "error: unknown regional centre `lombardy`",
    help: "did you mean `lombardia`?",
};

const OFFICER_SAME_NAME_AS_OPERATOR: Edit = Edit {
    old: "username = \"pgallo\"",
    new: "username = ‸\"mrossi\"",
    message: "error: user `mrossi` is defined twice",
    help: "user names of operators, officers, administrators and agency staff must be unique",
};

/// An agency's address edited after its recording was made: callers would hear the old one.
const AGENCY_ADDRESS_EDITED: Edit = Edit {
    old: "id = \"latina-centro\"\nname = \"Agenzia INPS di Latina Centro\"\nprovince = \"LT\"\naddress = \"Viale Le Corbusier 39, 04100 Latina\"",
    new: "id = ‸\"latina-centro\"\nname = \"Agenzia INPS di Latina Centro\"\nprovince = \"LT\"\naddress = \"Viale Le Corbusier 41, 04100 Latina\"",
    message: "warning: sounds/agencies/latina-centro.wav was made from another text than this agency address",
    help: "run `centralino prompts --missing` (or `--only latina-centro`) or record it again, so callers hear the address configured",
};

const CALLBACK_WITHOUT_TRUNK: Edit = Edit {
    old: "offer = \"never\"                    # set \"long_wait\" once [trunk] is configured",
    new: "offer = ‸\"always\"",
    message: "error: [queue]: callback is offered but there is no [trunk] to call back through",
    help: "add a [trunk] section (the carrier's address, credentials, caller_id, max_calls), or set offer = \"never\"",
};

const CALLBACK_KEY_IS_LEAVE_KEY: Edit = Edit {
    old: "leave_key = \"9\"                    # back to the section's self-service menu\nleave_to = { node = \"income_support_menu\" }",
    new: "leave_key = \"9\"\nleave_to = { node = \"income_support_menu\" }\ncallback = { key = ‸\"9\" }",
    message: "error: section `income_support`: the callback key `9` is also the leave key",
    help: "give callback and leaving the queue different keys",
};

const CALLBACK_COUNTRY_NOT_A_CODE: Edit = Edit {
    old: "countries = []",
    new: "countries = [‸\"CH\"]",
    message: "error: callback country code `CH` is not one",
    help: "write a country calling code other than Italy's, e.g. \"41\" for Switzerland",
};

/// SIP over TLS with a certificate file that is not there: reported at its line.
const SIP_TLS_CERTIFICATE_MISSING: Edit = Edit {
    old: "udp_receive_buffer_kib = 4096",
    new: "udp_receive_buffer_kib = 4096\ntls_certificate = ‸\"/nonexistent/sip.pem\"\ntls_key = \"/nonexistent/sip.key\"",
    message: "error: cannot read the TLS certificate /nonexistent/sip.pem: I/O error: No such file or directory (os error 2)",
    help: "name readable PEM files: the certificate chain (ours first) and its private key",
};

const SIP_TLS_REQUIRED_BUT_OFF: Edit = Edit {
    old: "drain_seconds = 60",
    new: "drain_seconds = 60\noperators_require_tls = ‸true",
    message: "error: operators' phones cannot be required to use TLS: SIP over TLS is off",
    help: "give sip.tls_certificate and sip.tls_key, or set operators_require_tls = false",
};

/// One test per broken configuration: `name => [edits]`.
macro_rules! broken_config {
    ($($name:ident => [$($edit:expr),+ $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                expect_config(&[$($edit),+]);
            }
        )*
    };
}

broken_config! {
    config_operator_unknown_section => [OPERATOR_UNKNOWN_SECTION];
    config_number_not_e164 => [NUMBER_NOT_E164];
    config_province_unknown_region => [PROVINCE_UNKNOWN_REGION];
    config_agency_slot_minutes_zero => [AGENCY_SLOT_ZERO];
    config_overlapping_office_hours => [OVERLAPPING_OFFICE_HOURS];
    config_unknown_field => [UNKNOWN_FIELD];
    config_toml_unclosed_string => [TOML_UNCLOSED_STRING];
    config_toml_unclosed_table => [TOML_UNCLOSED_TABLE];
    config_default_tree_missing => [DEFAULT_TREE_MISSING];
    config_default_tree_typo => [DEFAULT_TREE_TYPO];
    config_queue_unknown_node => [QUEUE_UNKNOWN_NODE];
    config_queue_unknown_section => [QUEUE_UNKNOWN_SECTION];
    config_queue_limit_without_route => [QUEUE_LIMIT_WITHOUT_ROUTE];
    config_queue_two_targets => [QUEUE_TWO_TARGETS];
    config_queue_bad_leave_key => [QUEUE_BAD_LEAVE_KEY];
    config_queue_routes_to_itself => [QUEUE_ROUTES_TO_ITSELF];
    config_officer_unknown_region => [OFFICER_UNKNOWN_REGION];
    config_officer_same_name_as_operator => [OFFICER_SAME_NAME_AS_OPERATOR];
    config_agency_address_edited_since_its_recording => [AGENCY_ADDRESS_EDITED];
    config_callback_without_trunk => [CALLBACK_WITHOUT_TRUNK];
    config_callback_key_is_the_leave_key => [CALLBACK_KEY_IS_LEAVE_KEY];
    config_callback_country_not_a_code => [CALLBACK_COUNTRY_NOT_A_CODE];
    config_sip_tls_certificate_missing => [SIP_TLS_CERTIFICATE_MISSING];
    config_sip_tls_required_but_off => [SIP_TLS_REQUIRED_BUT_OFF];
    config_many_mistakes_are_reported_at_once => [
        OPERATOR_UNKNOWN_SECTION,
        NUMBER_NOT_E164,
        PROVINCE_UNKNOWN_REGION,
        AGENCY_SLOT_ZERO,
        OVERLAPPING_OFFICE_HOURS,
    ];
}

/// The misspelt message also leaves the real prompt unplayed: the tree check says so.
#[test]
fn config_queue_unknown_message() {
    let edits = [QUEUE_UNKNOWN_MESSAGE];
    let (run, path, _dir) = check_config(&edits, &[]);
    let mut expected = expected_config_lines(&edits, &path);
    let tree = "ivr-trees/centralino-unico-nazionale.yaml";
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(tree)).unwrap();
    let line = text.lines().position(|l| l == "  queue_timeout:").expect("the prompt is in the tree") + 1;
    expected.push(format!("{tree}:{line}:3: warning: prompt `queue_timeout` is never played"));
    assert_diagnostics(&run, &expected);
}

#[test]
fn the_edits_leave_the_shipped_configuration_valid_without_them() {
    let (run, _, _dir) = check_config(&[], &[]);
    assert_eq!(run.code, Some(0), "\n{}", run.context());
}

#[test]
fn a_configuration_error_does_not_hide_the_tree_errors() {
    let edits = [OPERATOR_UNKNOWN_SECTION];
    let (run, path, _dir) = check_config(&edits, &["tests/broken-trees/unknown-section.yaml"]);
    let mut expected = expected_config_lines(&edits, &path);
    expected.extend(
        [
            "tests/broken-trees/unknown-section.yaml:12:16: error: unknown section `helpdesk` (not in the configuration)",
            "tests/broken-trees/unknown-section.yaml:18:16: error: unknown section `pension` (not in the configuration)",
        ]
        .map(String::from),
    );
    // Diagnostics are sorted by file: the temporary directory sorts before `tests/`.
    assert_diagnostics(&run, &expected);
}
