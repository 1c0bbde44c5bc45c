//! Semantic checks of a tree against itself, the configuration and the prompt files.
//! Every problem is collected, so the administrator sees them all at once.

use super::at::At;
use super::graph;
use super::load::Tree;
use super::model::*;
use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics, Pos, did_you_mean};
use std::collections::{BTreeSet, HashMap, HashSet};

/// What a tree is checked against.
pub struct CheckContext<'a> {
    /// The configuration, when it loaded; sections, provinces and regions are checked against it.
    pub config: Option<&'a Config>,
    /// The recording of a prompt (name) in a language, compared with the tree's text: the host
    /// looks at the files (the interpreter knows no audio).
    pub recording: &'a dyn Fn(&str, Lang, &str) -> Recording,
}

/// A prompt's recording as the host found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    Fine,
    /// Missing or not usable: why.
    Unusable(String),
    /// Synthesised from another text than the tree's (this file).
    MadeFromAnotherText(String),
}

/// Longest timeout accepted, in seconds.
const MAX_TIMEOUT: u32 = 60;

struct Checker<'a> {
    tree: &'a Tree,
    ctx: &'a CheckContext<'a>,
    out: Diagnostics,
}

impl Checker<'_> {
    fn error(&mut self, pos: Pos, message: String, hint: impl Into<String>) {
        let d = Diagnostic::error(&self.tree.path, pos, message).hint(hint);
        self.out.push(d);
    }

    fn warning(&mut self, pos: Pos, message: String, hint: impl Into<String>) {
        let d = Diagnostic::warning(&self.tree.path, pos, message).hint(hint);
        self.out.push(d);
    }

    fn node_ref(&mut self, r: &At<String>) {
        if self.tree.def.nodes.contains_key(r.value.as_str()) {
            return;
        }
        let hint = did_you_mean(&r.value, self.tree.def.nodes.keys().map(|k| k.value.as_str()))
            .unwrap_or_else(|| format!("define a node `{}` under `nodes:` or point to an existing one", r.value));
        self.error(r.pos, format!("unknown node `{}`", r.value), hint);
    }

    fn section_ref(&mut self, s: &At<String>) {
        let Some(cfg) = self.ctx.config else { return };
        if cfg.section(&s.value).is_some() {
            return;
        }
        let hint = did_you_mean(&s.value, cfg.sections.keys().map(|k| k.get_ref().as_str())).unwrap_or_else(|| {
            format!("add [sections.{}] to config/centralino.toml or use an existing section", s.value)
        });
        self.error(s.pos, format!("unknown section `{}` (not in the configuration)", s.value), hint);
    }

    fn timeout(&mut self, t: Option<&At<u32>>) {
        if let Some(t) = t
            && !(1..=MAX_TIMEOUT).contains(&t.value)
        {
            self.error(
                t.pos,
                format!("timeout {} s is out of range", t.value),
                format!("use 1 to {MAX_TIMEOUT} seconds"),
            );
        }
    }

    fn retries(&mut self, r: Option<&At<u8>>) {
        if let Some(r) = r
            && r.value > 9
        {
            self.error(r.pos, format!("{} retries is too many", r.value), "callers give up long before; use 0 to 9");
        }
    }

    /// Duplicate keys in a key map (`1` and `"1"` are the same key).
    fn duplicate_keys<K: PartialEq + std::fmt::Display, V>(&mut self, pairs: &super::pairs::Pairs<At<K>, V>) {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if let Some((first, _)) = pairs.iter().take(i).find(|(p, _)| p.value == k.value) {
                self.error(
                    k.pos,
                    format!("key `{}` is listed twice (first at line {})", k.value, first.pos.line),
                    "a key can lead to one place only; remove one of the entries",
                );
            }
        }
    }
}

/// Check a parsed tree. Returns every error and warning found.
pub fn check_tree(tree: &Tree, ctx: &CheckContext) -> Diagnostics {
    let mut k = Checker { tree, ctx, out: Diagnostics::default() };
    let def = &tree.def;

    check_languages(&mut k);
    k.node_ref(&def.start);
    for e in &def.entry_points {
        k.node_ref(e);
    }
    for (node, title) in &def.titles {
        k.node_ref(node);
        if title.trim().is_empty() {
            k.error(node.pos, format!("the title of `{}` is empty", node.value), "write the title, or remove the line");
        }
    }
    if let Some(n) = &def.defaults.on_exhausted {
        k.node_ref(n);
    }
    k.timeout(def.defaults.timeout.as_ref());
    k.retries(def.defaults.retries.as_ref());
    check_operator(&mut k);
    check_schedules(&mut k);

    let vars: HashSet<&str> = def
        .nodes
        .values()
        .filter_map(|n| match &n.value {
            Node::Collect(c) => Some(c.var.value.as_str()),
            _ => None,
        })
        .collect();

    for (name, node) in &def.nodes {
        if !name.value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            k.warning(
                name.pos,
                format!("node name `{}` should be lowercase snake_case", name.value),
                "use a-z, 0-9 and _ so names read the same in logs and call records",
            );
        }
        for t in graph::targets(node) {
            k.node_ref(t);
        }
        if let Some(s) = graph::section(node) {
            k.section_ref(s);
        }
        check_node(&mut k, node, &vars);
    }

    check_appointment_items(&mut k);
    check_prompts(&mut k);
    check_reachability(&mut k);
    check_silent_loops(&mut k);
    k.out
}

fn check_languages(k: &mut Checker) {
    let langs = &k.tree.def.languages;
    if langs.value.is_empty() {
        k.error(langs.pos, "the tree speaks no language".into(), "list at least one, e.g. `languages: [it, en]`");
    }
    let unique: BTreeSet<_> = langs.value.iter().collect();
    if unique.len() != langs.value.len() {
        k.error(langs.pos, "a language is listed twice".into(), "list each language once; the first is the default");
    }
}

fn check_operator(k: &mut Checker) {
    let op = &k.tree.def.operator;
    if let Some(s) = &op.section {
        k.section_ref(s);
    }
    match (&op.schedule, &op.closed) {
        (Some(s), Some(c)) => {
            schedule_ref(k, s);
            k.node_ref(c);
        }
        (Some(s), None) => {
            schedule_ref(k, s);
            k.error(
                s.pos,
                "operator hours (`schedule`) are set without a `closed` node".into(),
                "add `closed: <node>` to `operator:`: the node callers reach when they ask for an operator outside those hours",
            )
        }
        (None, Some(c)) => k.error(
            c.pos,
            "`closed` is set but no operator `schedule`".into(),
            "add `schedule: <name>` to `operator:` or remove `closed`",
        ),
        (None, None) => {}
    }
}

fn schedule_ref(k: &mut Checker, s: &At<String>) {
    if !k.tree.def.schedules.contains_key(s.value.as_str()) {
        let hint = did_you_mean(&s.value, k.tree.def.schedules.keys().map(|k| k.value.as_str()))
            .unwrap_or_else(|| format!("define `{}` under `schedules:`", s.value));
        k.error(s.pos, format!("unknown schedule `{}`", s.value), hint);
    }
}

fn check_schedules(k: &mut Checker) {
    for (name, s) in &k.tree.def.schedules {
        for p in s.hours.value.problems() {
            k.error(s.hours.pos, format!("schedule `{}`: {p}", name.value), "fix the intervals of that day");
        }
        if s.hours.value.is_empty() {
            k.warning(
                name.pos,
                format!("schedule `{}` is never open", name.value),
                "give it opening hours, or remove it",
            );
        }
    }
}

fn check_node(k: &mut Checker, node: &At<Node>, vars: &HashSet<&str>) {
    let op_key = k.tree.def.operator.key.value;
    match &node.value {
        Node::Menu(m) => {
            if m.options.is_empty() {
                k.error(
                    node.pos,
                    "a menu with no options".into(),
                    "add `options:` mapping keys to nodes, or use a `play` node",
                );
            }
            k.duplicate_keys(&m.options);
            if m.operator
                && let Some((key, _)) = m.options.iter().find(|(key, _)| key.value == op_key)
            {
                k.error(
                    key.pos,
                    format!("key {op_key} is the operator key"),
                    "use another key for this option, or set `operator: false` on this menu",
                );
            }
            k.timeout(m.timeout.as_ref());
            k.retries(m.retries.as_ref());
        }
        Node::Collect(c) => {
            let (min, max) = (c.min_digits.value, c.max_digits.value);
            if min == 0 || min > max || max > 32 {
                k.error(
                    c.min_digits.pos,
                    format!("digit range {min}..{max} is not valid"),
                    "1 <= min_digits <= max_digits <= 32",
                );
            }
            if let Some(check) = &c.check
                && min <= max
                && check.value == DigitCheck::TicketNumber
                && !(min..=max).contains(&crate::cases::ticket_number::LEN)
            {
                k.error(
                    check.pos,
                    format!(
                        "ticket numbers have {} digits but this node accepts {min} to {max}",
                        crate::cases::ticket_number::LEN
                    ),
                    "set min_digits and max_digits to include 9",
                );
            }
            if let Some(t) = &c.terminator
                && t.value.is_digit()
            {
                k.error(t.pos, format!("terminator {} is a digit of the input", t.value), "use \"#\" or \"*\"");
            }
            if c.operator && op_key.is_digit() {
                k.error(
                    node.pos,
                    format!("the operator key {op_key} is also a digit callers type here"),
                    "leave `operator` off on collect nodes, or choose a non-digit operator key such as \"*\"",
                );
            }
            k.timeout(c.timeout.as_ref());
            k.timeout(c.inter_digit_timeout.as_ref());
            k.retries(c.retries.as_ref());
        }
        Node::Play(p) => {
            for item in &p.say {
                if let SayItem::Digits(v) | SayItem::Number(v) = item {
                    var_ref(k, v, vars);
                }
            }
        }
        Node::Schedule(s) => schedule_ref(k, &s.schedule),
        Node::Language(l) => {
            k.duplicate_keys(&l.options);
            let langs = &k.tree.def.languages.value;
            for (key, lang) in l.options.iter() {
                if !langs.contains(&lang.value) {
                    k.error(
                        lang.pos,
                        format!("language `{}` is not among the tree's languages", lang.value),
                        "add it to `languages:` or remove this option",
                    );
                }
                if key.value == op_key {
                    k.error(key.pos, format!("key {op_key} is the operator key"), "use another key for this language");
                }
            }
            k.timeout(l.timeout.as_ref());
        }
        Node::Branch(b) => check_branch(k, b),
        Node::Lookup(l) => {
            let service = l.service.value;
            match (&l.input, service.takes_input()) {
                (Some(v), true) => var_ref(k, v, vars),
                (None, true) => k.error(
                    node.pos,
                    format!("the `{}` lookup needs `input:`", service.name()),
                    "name the variable a `collect` node filled, e.g. `input: ticket`",
                ),
                (Some(v), false) => k.error(
                    v.pos,
                    format!("the `{}` lookup takes no `input:`", service.name()),
                    "it reads the appointment booked during this call; remove `input:`",
                ),
                (None, false) => {}
            }
            let outcomes = l.service.value.outcomes();
            for (name, _) in l.on.iter() {
                if !outcomes.contains(&name.value.as_str()) {
                    k.error(
                        name.pos,
                        format!("`{}` is not a result of this lookup", name.value),
                        format!("the results are: {}", outcomes.join(", ")),
                    );
                }
            }
            let missing: Vec<&str> = outcomes.iter().copied().filter(|o| l.on.get(*o).is_none()).collect();
            if !missing.is_empty() {
                k.error(
                    node.pos,
                    format!("lookup does not say where to go on: {}", missing.join(", ")),
                    "add each result under `on:`",
                );
            }
        }
        Node::Queue(_) | Node::Hangup(_) | Node::Goto(_) => {}
    }
}

/// `appointment:` items say what an `appointment` lookup found: a tree without one says nothing.
fn check_appointment_items(k: &mut Checker) {
    let def = &k.tree.def;
    let looks_up = def
        .nodes
        .values()
        .any(|n| matches!(&n.value, Node::Lookup(l) if l.service.value == super::model::Service::Appointment));
    if looks_up {
        return;
    }
    let first = def.nodes.values().find_map(|n| match &n.value {
        Node::Play(p) if p.say.iter().any(|s| matches!(s, SayItem::Appointment(_))) => Some(n.pos),
        _ => None,
    });
    if let Some(pos) = first {
        k.error(
            pos,
            "this node says an appointment, but no `appointment` lookup finds one".into(),
            "lead to it from a `lookup` node with `service: appointment`",
        );
    }
}

fn var_ref(k: &mut Checker, v: &At<String>, vars: &HashSet<&str>) {
    if !vars.contains(v.value.as_str()) {
        k.error(
            v.pos,
            format!("variable `{}` is never collected", v.value),
            "a `collect` node must set it with `var:` before it is used",
        );
    }
}

fn check_branch(k: &mut Checker, b: &Branch) {
    k.duplicate_keys(&b.cases);
    let valid: Option<Vec<String>> = match (b.on.value, k.ctx.config) {
        (Fact::Language, _) => Some(k.tree.def.languages.value.iter().map(|l| l.code().to_string()).collect()),
        (Fact::Province, Some(c)) => Some(c.provinces.keys().map(|p| p.get_ref().clone()).collect()),
        (Fact::Region, Some(c)) => Some(c.regions.keys().map(|r| r.get_ref().clone()).collect()),
        (Fact::Number, Some(c)) => Some(c.numbers.iter().map(|n| n.number.get_ref().clone()).collect()),
        (_, None) => None,
    };
    let Some(valid) = valid else { return };
    for (case, _) in b.cases.iter() {
        if !valid.contains(&case.value) {
            let same_but_case = valid.iter().find(|v| v.eq_ignore_ascii_case(&case.value));
            let hint = same_but_case
                .map(|v| format!("did you mean `{v}`? values are case-sensitive"))
                .or_else(|| did_you_mean(&case.value, valid.iter().map(String::as_str)))
                .unwrap_or_else(|| {
                    let some: Vec<&str> = valid.iter().take(8).map(String::as_str).collect();
                    format!("no call can have this value; known values include {}", some.join(", "))
                });
            k.error(
                case.pos,
                format!("`{}` is not a possible {} of a call", case.value, format!("{:?}", b.on.value).to_lowercase()),
                hint,
            );
        }
    }
}

fn check_prompts(k: &mut Checker) {
    let def = &k.tree.def;
    let mut used: HashMap<&str, Pos> = HashMap::new();
    let mut refs: Vec<&At<String>> = def.nodes.values().flat_map(|n| graph::prompts(n)).collect();
    refs.extend(def.operator.prompt.as_ref());
    refs.extend(def.defaults.invalid_prompt.as_ref());
    refs.extend(def.defaults.timeout_prompt.as_ref());

    for r in refs {
        used.entry(r.value.as_str()).or_insert(r.pos);
        if !def.prompts.contains_key(r.value.as_str()) {
            let hint = did_you_mean(&r.value, def.prompts.keys().map(|k| k.value.as_str()))
                .unwrap_or_else(|| format!("add `{}` with its text per language under `prompts:`", r.value));
            k.error(r.pos, format!("unknown prompt `{}`", r.value), hint);
        }
    }

    for (name, texts) in &def.prompts {
        if !name.value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || name.value.is_empty()
        {
            k.error(
                name.pos,
                format!("prompt name `{}` is not valid", name.value),
                "use a-z, 0-9 and _ (it is also the WAV file name)",
            );
            continue;
        }
        // Prompts the configuration's queues play (`{ message = ... }` routes) are used too;
        // without a configuration that cannot be known, so nothing is said.
        let by_queue = k.ctx.config.is_none_or(|c| {
            c.sections.values().filter(|s| s.tree.get_ref() == &k.tree.name).any(|s| {
                [&s.queue.when_full, &s.queue.after_max_wait, &s.queue.when_no_operators, &s.queue.leave_to]
                    .into_iter()
                    .chain([&c.queue.when_full, &c.queue.after_max_wait, &c.queue.when_no_operators])
                    .flatten()
                    .any(|r| r.message.as_ref().is_some_and(|m| m.get_ref() == &name.value))
            })
        });
        if !used.contains_key(name.value.as_str()) && !by_queue {
            k.warning(name.pos, format!("prompt `{}` is never played", name.value), "remove it, or use it in a node");
            continue;
        }
        for lang in &def.languages.value {
            if !texts.keys().any(|l| l.value == *lang) {
                k.error(
                    name.pos,
                    format!("prompt `{}` has no {lang} text", name.value),
                    format!("add `{lang}: \"...\"` with the transcript"),
                );
                continue;
            }
            let text = texts.iter().find(|(l, _)| l.value == *lang).map(|(_, t)| t.as_str()).unwrap_or_default();
            match (k.ctx.recording)(&name.value, *lang, text) {
                Recording::Fine => {}
                Recording::Unusable(e) => k.error(
                    name.pos,
                    format!("prompt `{}` ({lang}): {e}", name.value),
                    "record it, or run `centralino prompts` to synthesise it from the text",
                ),
                Recording::MadeFromAnotherText(file) => k.warning(
                    name.pos,
                    format!("prompt `{}` ({lang}): {file} was made from another text", name.value),
                    format!(
                        "run `centralino prompts --missing` (or `--only {}`) or record it again, so callers hear what the tree says",
                        name.value
                    ),
                ),
            }
        }
        for (lang, _) in texts {
            if !def.languages.value.contains(&lang.value) {
                k.warning(
                    lang.pos,
                    format!("text in {} but the tree does not speak it", lang.value),
                    "add the language to `languages:` or remove the text",
                );
            }
        }
    }
}

fn check_reachability(k: &mut Checker) {
    let def = &k.tree.def;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = vec![def.start.value.as_str()];
    stack.extend(def.entry_points.iter().map(|e| e.value.as_str()));
    stack.extend(def.defaults.on_exhausted.iter().map(|e| e.value.as_str()));
    stack.extend(def.operator.closed.iter().map(|e| e.value.as_str()));
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        if let Some(node) = def.nodes.get(n) {
            stack.extend(graph::targets(node).into_iter().map(|t| t.value.as_str()));
        }
    }
    for name in def.nodes.keys() {
        if !seen.contains(name.value.as_str()) {
            k.error(
                name.pos,
                format!("node `{}` cannot be reached from `start`", name.value),
                "lead to it from another node, list it under `entry_points:` if operators send calls there, or remove it",
            );
        }
    }
}

/// A cycle of silent nodes (goto, branch, schedule, lookup, empty play) would spin forever.
fn check_silent_loops(k: &mut Checker) {
    let def = &k.tree.def;
    let mut reported: HashSet<&str> = HashSet::new();
    for (start, node) in &def.nodes {
        if !graph::is_silent(node) || reported.contains(start.value.as_str()) {
            continue;
        }
        // Depth-first search over silent nodes, looking for a way back to `start`.
        let mut path: Vec<&str> = vec![start.value.as_str()];
        let mut visited: HashSet<&str> = HashSet::new();
        if silent_path_back(def, start.value.as_str(), start.value.as_str(), &mut path, &mut visited) {
            reported.extend(path.iter().copied());
            k.error(
                start.pos,
                format!("loop that never plays a prompt or waits for a key: {}", path.join(" -> ")),
                "make one node of the loop play a prompt or wait for input, or break the loop",
            );
        }
    }
}

fn silent_path_back<'a>(
    def: &'a TreeFile,
    goal: &str,
    at: &'a str,
    path: &mut Vec<&'a str>,
    visited: &mut HashSet<&'a str>,
) -> bool {
    let Some(node) = def.nodes.get(at) else {
        return false;
    };
    for t in graph::targets(node) {
        let t = t.value.as_str();
        if t == goal {
            path.push(t);
            return true;
        }
        let Some(next) = def.nodes.get(t) else {
            continue;
        };
        if graph::is_silent(next) && visited.insert(t) {
            path.push(t);
            if silent_path_back(def, goal, t, path, visited) {
                return true;
            }
            path.pop();
        }
    }
    false
}
