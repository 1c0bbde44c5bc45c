//! `centralino simulate --json` on the shipped configuration and trees: key scripts must reach
//! every section's queue and every self-service answer, in Italian and in English, and the
//! operator key, opening hours, ticket status, wrong keys and the agency tree must behave.
//!
//! The tables are the place to add a path: one line each.

use centralino::cases::ticket_number;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// A provincial number of Latina, answered by the national tree.
const LATINA: &str = "0773 691001";
/// The agency line of Latina Centro, answered by the agency tree.
const AGENCY: &str = "+390773691002";
/// The national landline number.
const NATIONAL: &str = "803164";
/// Provincial numbers in regions where civil invalidity is not handled by INPS.
const TRENTO: &str = "+390461374100";
const AOSTA: &str = "+390165273100";

/// A Monday morning: the contact center is open.
const MONDAY: &str = "2026-11-23 10:00";
/// A Sunday morning: closed.
const SUNDAY: &str = "2026-11-22 10:00";

/// The outcome of a call that heard an answer and then stayed silent.
const DONE: &str = "portal_hangup goodbye done_after_answer";
/// The outcome of a call whose keys were never valid.
const EXHAUSTED: &str = "portal_hangup goodbye_exhausted no_valid_choice";

/// `TICKET` in a key script stands for a valid ticket number, `TICKET2` for another.
fn ticket() -> String {
    ticket_number::from_sequence(1)
}

fn ticket2() -> String {
    ticket_number::from_sequence(2)
}

fn expand(keys: &str) -> String {
    keys.replace("TICKET2", &ticket2()).replace("TICKET", &ticket())
}

/// The JSON report of a simulated call, with the outcome as one string:
/// `queued <section>`, `portal_hangup <node> <reason>` or `caller_hangup <node>`.
#[derive(Debug)]
struct Report {
    language: String,
    outcome: String,
    path: Vec<String>,
    keys: String,
    answers: Vec<String>,
    lookups: Vec<String>,
    transcript: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_string())
        .collect()
}

fn outcome(v: &Value) -> String {
    let field = |f: &str| v[f].as_str().unwrap_or("-").to_string();
    match v["kind"].as_str() {
        Some("queued") => format!("queued {}", field("section")),
        Some("portal_hangup") => format!("portal_hangup {} {}", field("node"), field("reason")),
        Some("caller_hangup") => format!("caller_hangup {}", field("node")),
        _ => format!("unexpected outcome {v}"),
    }
}

/// Run `centralino simulate --json` for a call to `number` at `at` (Italian time).
fn simulate(number: &str, at: &str, keys: &str, lookup: &str) -> Report {
    simulate_with(number, at, keys, lookup, &[])
}

/// [`simulate`] with further arguments (e.g. `--barge-in`).
fn simulate_with(number: &str, at: &str, keys: &str, lookup: &str, extra: &[&str]) -> Report {
    let keys = expand(keys);
    let mut args = vec!["simulate", "--json", "--number", number, "--at", at, "--keys", &keys];
    if !lookup.is_empty() {
        args.extend(["--lookup", lookup]);
    }
    args.extend(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .expect("the centralino binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "centralino {args:?} failed\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("centralino {args:?}: not JSON ({e}):\n{stdout}"));
    Report {
        language: v["language"].as_str().expect("language").to_string(),
        outcome: outcome(&v["outcome"]),
        path: strings(&v["path"]),
        keys: v["keys"].as_str().expect("keys").to_string(),
        answers: strings(&v["answers"]),
        lookups: strings(&v["lookups"]),
        transcript: strings(&v["transcript"]),
    }
}

/// Whether `path` passes through `nodes` in this order (other nodes may come between).
fn passes_through(path: &[String], nodes: &[&str]) -> bool {
    let mut it = path.iter();
    nodes.iter().all(|n| it.any(|p| p == n))
}

/// Collects the rows that failed, so a table reports all of them at once.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, row: &str, what: String, r: &Report) {
        if !ok {
            self.0.push(format!(
                "{row}: {what}\n    outcome: {}\n    path: {}\n    answers: {:?}  lookups: {:?}  language: {}",
                r.outcome,
                r.path.join(" -> "),
                r.answers,
                r.lookups,
                r.language
            ));
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "{} row(s) failed:\n{}", self.0.len(), self.0.join("\n"));
    }
}

// --- Every section and every answer of the national tree, in both languages ----------------------

/// A path through the national tree, run once in Italian and once in English.
struct Route {
    number: &'static str,
    /// Keys after the language choice (the language key is added in front).
    keys: &'static str,
    /// `service=result` answered to lookups, or "" (lookups are then `unavailable`).
    lookup: &'static str,
    /// The self-service answers heard, in order.
    answers: &'static [&'static str],
    outcome: &'static str,
}

const fn r(
    number: &'static str,
    keys: &'static str,
    lookup: &'static str,
    answers: &'static [&'static str],
    outcome: &'static str,
) -> Route {
    Route { number, keys, lookup, answers, outcome }
}

#[rustfmt::skip]
const NATIONAL_ROUTES: &[Route] = &[
    // Every section's queue: option 4 of its menu; the general section by the operator key.
    r(LATINA, "1,4", "", &[], "queued pensions"),
    r(LATINA, "2,4", "", &[], "queued income_support"),
    r(LATINA, "3,4", "", &[], "queued contributors"),
    r(LATINA, "4,4", "", &[], "queued civil_invalidity"),
    r(LATINA, "5,4", "", &[], "queued online_services"),
    r(LATINA, "0", "", &[], "queued general"),
    // Every self-service answer; silence twice after it ends the call politely.
    r(LATINA, "1,1,w,w", "", &["pension_documents"], DONE),
    r(LATINA, "1,2,w,w", "", &["pension_payment_dates"], DONE),
    r(LATINA, "1,3,w,w", "", &["pension_tax_certificate"], DONE),
    r(LATINA, "2,1,w,w", "", &["naspi_application"], DONE),
    r(LATINA, "2,2,w,w", "", &["assegno_unico_documents"], DONE),
    r(LATINA, "2,3,w,w", "", &["income_support_payments"], DONE),
    r(LATINA, "3,1,w,w", "", &["contribution_statement"], DONE),
    r(LATINA, "3,2,w,w", "", &["self_employed_contributions"], DONE),
    r(LATINA, "3,3,w,w", "", &["employer_uniemens"], DONE),
    r(LATINA, "4,1,w,w", "", &["civil_invalidity_application"], DONE),
    r(LATINA, "4,2,w,w", "", &["civil_invalidity_medical_visit"], DONE),
    r(LATINA, "4,3,w,w", "", &["civil_invalidity_status"], DONE),
    r(LATINA, "5,1,w,w", "", &["pin_replaced"], DONE),
    r(LATINA, "5,2,w,w", "", &["spid_cie_how_to"], DONE),
    r(LATINA, "5,3,w,w", "", &["digital_identity_delegation"], DONE),
    r(LATINA, "6,w,w", "", &["office_info"], DONE),
    r(NATIONAL, "6,w,w", "", &["office_info_national"], DONE),
    r(LATINA, "7,TICKET,w,w", "ticket_status=open", &["ticket_status_open"], DONE),
    r(LATINA, "7,TICKET,w,w", "ticket_status=taken", &["ticket_status_taken"], DONE),
    r(LATINA, "7,TICKET,w,w", "ticket_status=answered", &["ticket_status_answered"], DONE),
    r(LATINA, "7,TICKET,w,w", "ticket_status=returned", &["ticket_status_returned"], DONE),
    r(LATINA, "7,TICKET,w,w", "ticket_status=not_found", &["ticket_status_not_found"], DONE),
    r(LATINA, "7,TICKET,w,w", "", &["ticket_status_unavailable"], DONE),
    // After an answer: 1 repeats it, 2 is the main menu, * the section menu, 0 the section's operator.
    r(LATINA, "1,1,1,w,w", "", &["pension_documents", "pension_documents"], DONE),
    r(LATINA, "1,1,2,2,4", "", &["pension_documents"], "queued income_support"),
    r(LATINA, "1,1,*,4", "", &["pension_documents"], "queued pensions"),
    r(LATINA, "2,3,0", "", &["income_support_payments"], "queued income_support"),
    r(LATINA, "6,1,w,w", "", &["office_info", "office_info"], DONE),
    r(LATINA, "6,2,5,4", "", &["office_info"], "queued online_services"),
    // Menus: 9 repeats the main menu, * goes back to it.
    r(LATINA, "9,9,3,4", "", &[], "queued contributors"),
    r(LATINA, "1,*,5,4", "", &[], "queued online_services"),
    // Ticket status: 1 asks again, 3 checks another request, 2 is the main menu.
    r(LATINA, "7,TICKET,1,w,w", "ticket_status=taken", &["ticket_status_taken", "ticket_status_taken"], DONE),
    r(LATINA, "7,TICKET,3,TICKET2,w,w", "ticket_status=open", &["ticket_status_open", "ticket_status_open"], DONE),
    r(LATINA, "7,TICKET,2,1,4", "ticket_status=answered", &["ticket_status_answered"], "queued pensions"),
    r(LATINA, "7,TICKET,0", "ticket_status=returned", &["ticket_status_returned"], "queued general"),
];

/// Run every route with `language_key` pressed at the language menu; returns the answers and
/// sections reached.
fn run_national_routes(language_key: &str, language: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut failures = Failures::default();
    let mut answers = BTreeSet::new();
    let mut sections = BTreeSet::new();
    for route in NATIONAL_ROUTES {
        let keys = format!("{language_key},{}", route.keys);
        let row = format!("{} --keys {keys} --lookup {:?}", route.number, route.lookup);
        let r = simulate(route.number, MONDAY, &keys, route.lookup);
        failures.check(r.outcome == route.outcome, &row, format!("outcome is not `{}`", route.outcome), &r);
        failures.check(r.answers == route.answers, &row, format!("answers are not {:?}", route.answers), &r);
        failures.check(r.language == language, &row, format!("language is not {language}"), &r);
        failures.check(
            r.path.iter().take(2).map(String::as_str).eq(["language_entry", "language_choice"]),
            &row,
            "does not start at the language choice".into(),
            &r,
        );
        // The language menu speaks the tree's first language; everything after it the chosen one.
        let spoken: Vec<&String> = r.transcript.iter().skip(1).filter(|l| l.starts_with('(')).collect();
        let marker = format!("({language}) ");
        failures.check(
            !spoken.is_empty() && spoken.iter().all(|l| l.starts_with(&marker)),
            &row,
            format!("prompts after the language choice are not all in {language}"),
            &r,
        );
        // Lookups are made with the number typed, and answered as asked (or `unavailable`).
        let lookups_made = r.path.iter().filter(|n| *n == "ticket_lookup").count();
        let result = route.lookup.strip_prefix("ticket_status=").unwrap_or("unavailable");
        let expected_lookups: Vec<String> = (0..lookups_made)
            .map(|i| {
                let n = if i > 0 && route.keys.contains("TICKET2") { ticket2() } else { ticket() };
                format!("ticket_status({n}) = {result}")
            })
            .collect();
        failures.check(r.lookups == expected_lookups, &row, format!("lookups are not {expected_lookups:?}"), &r);
        answers.extend(r.answers.iter().cloned());
        if let Some(s) = r.outcome.strip_prefix("queued ") {
            sections.insert(s.to_string());
        }
    }
    failures.assert_none();
    (answers, sections)
}

/// The self-service answers and queue sections of the shipped national tree, read with the library.
fn national_tree_targets() -> (BTreeSet<String>, BTreeSet<String>) {
    use centralino::ivr::Node;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-trees/centralino-unico-nazionale.yaml");
    let tree = centralino::ivr::read_tree(&path).unwrap_or_else(|d| panic!("the national tree loads: {d}"));
    let mut answers = BTreeSet::new();
    let mut sections = BTreeSet::new();
    for node in tree.def.nodes.values() {
        match &node.value {
            Node::Play(p) => answers.extend(p.answer.clone()),
            Node::Queue(q) => {
                sections.insert(q.section.value.clone());
            }
            _ => {}
        }
    }
    sections.extend(tree.def.operator.section.as_ref().map(|s| s.value.clone()));
    (answers, sections)
}

fn assert_everything_reached(language: &str, reached: (BTreeSet<String>, BTreeSet<String>)) {
    let (answers, sections) = national_tree_targets();
    assert!(answers.len() >= 20 && sections.len() >= 6, "the tree reads as {answers:?} {sections:?}");
    let missing_answers: Vec<&String> = answers.difference(&reached.0).collect();
    let missing_sections: Vec<&String> = sections.difference(&reached.1).collect();
    assert!(
        missing_answers.is_empty() && missing_sections.is_empty(),
        "in {language}, no route of NATIONAL_ROUTES reaches the answers {missing_answers:?} \
         or the queues {missing_sections:?}: add a line to the table"
    );
}

/// The read-back of the appointment an operator booked, entered by the operator's transfer in
/// the language the caller chose: each mode's words, then the menu after it (1 again, 2 main
/// menu). Returns the answers reached.
fn run_readback(language: &str) -> BTreeSet<String> {
    let mut answers = BTreeSet::new();
    for mode in ["counter", "phone", "video", "not_found"] {
        let lookup = format!("appointment={mode}");
        let extra = ["--from", "appointment_readback", "--language", language];
        let r = simulate_with(LATINA, MONDAY, "1,2,h", &lookup, &extra);
        assert_eq!(r.language, language);
        assert_eq!(r.lookups, [format!("appointment() = {mode}"), format!("appointment() = {mode}")], "{mode}");
        let node =
            if mode == "not_found" { "appointment_not_found".to_string() } else { format!("appointment_{mode}") };
        assert!(
            passes_through(&r.path, &["appointment_readback", &node, "appointment_after", &node, "main_menu"]),
            "{mode}: {:?}",
            r.path
        );
        let said = &r.transcript[1];
        assert!(said.starts_with(&format!("({language}) ")), "{said}");
        // The sample appointment: Latina Centro, the first slot a week after the call (a Monday).
        let (weekday, at) = if language == "it" { ("lunedì", "alle ore") } else { ("Monday", " at ") };
        let has_facts = said.contains(weekday) && said.contains(at) && said.contains("Latina");
        assert_eq!(has_facts, mode != "not_found", "{mode}: {said}");
        answers.extend(r.answers);
    }
    answers
}

#[test]
fn every_section_and_answer_of_the_national_tree_in_italian() {
    let mut reached = run_national_routes("1", "it");
    reached.0.extend(run_readback("it"));
    assert_everything_reached("it", reached);
}

#[test]
fn every_section_and_answer_of_the_national_tree_in_english() {
    let mut reached = run_national_routes("2", "en");
    reached.0.extend(run_readback("en"));
    assert_everything_reached("en", reached);
}

// --- Numbers in other regions ---------------------------------------------------------------------

/// (number, keys, nodes the call passes through in order, outcome), run in Italian and English.
#[rustfmt::skip]
const OTHER_NUMBERS: &[(&str, &str, &[&str], &str)] = &[
    (TRENTO, "4,4", &["civil_invalidity_entry", "civil_invalidity_notice_trentino", "civil_invalidity_menu"], "queued civil_invalidity"),
    (AOSTA, "4,1,w,w", &["civil_invalidity_entry", "civil_invalidity_notice_aosta", "civil_invalidity_menu"], DONE),
    (LATINA, "4,4", &["civil_invalidity_entry", "civil_invalidity_menu"], "queued civil_invalidity"),
    // The operator key at the menu after the notice.
    (TRENTO, "4,0", &["civil_invalidity_notice_trentino", "civil_invalidity_menu"], "queued civil_invalidity"),
    (NATIONAL, "6,2,1,4", &["office_info_national", "main_menu", "pensions_menu"], "queued pensions"),
    ("06 164 164", "6,w,w", &["office_info_entry", "office_info_national"], DONE),
];

#[test]
fn numbers_of_other_regions_and_the_national_numbers() {
    let mut failures = Failures::default();
    for (language_key, language) in [("1", "it"), ("2", "en")] {
        for (number, keys, via, expected) in OTHER_NUMBERS {
            let keys = format!("{language_key},{keys}");
            let row = format!("{number} --keys {keys}");
            let r = simulate(number, MONDAY, &keys, "");
            failures.check(r.outcome == *expected, &row, format!("outcome is not `{expected}`"), &r);
            failures.check(passes_through(&r.path, via), &row, format!("does not pass through {via:?}"), &r);
            failures.check(r.language == language, &row, format!("language is not {language}"), &r);
        }
    }
    failures.assert_none();
}

#[test]
fn notice_is_skipped_for_latina() {
    let r = simulate(LATINA, MONDAY, "1,4,4", "");
    assert!(!r.path.iter().any(|n| n.starts_with("civil_invalidity_notice")), "{r:?}");
}

#[test]
fn office_info_says_the_address_and_hours_of_the_province_called() {
    let r = simulate(LATINA, MONDAY, "1,6,w,w", "");
    let heard = r.transcript.join("\n");
    assert!(heard.contains("Via Carlo Alberto 12, 04100 Latina"), "{heard}");
    assert!(
        heard.contains("martedì dalle otto e trenta alle dodici e trenta e dalle quattordici e trenta alle sedici"),
        "{heard}"
    );
    let r = simulate(LATINA, MONDAY, "2,6,w,w", "");
    let heard = r.transcript.join("\n");
    assert!(
        heard.contains("(en) The INPS office for your province is at Via Carlo Alberto 12, 04100 Latina"),
        "{heard}"
    );
}

// --- The operator key and opening hours -------------------------------------------------------------

/// (time, keys, nodes the call passes through in order, outcome).
/// Outside the contact center's hours the operator key and the queue options lead to the
/// `operator_closed` announcement and back to the main menu, never to a queue.
#[rustfmt::skip]
const OPERATOR: &[(&str, &str, &[&str], &str)] = &[
    // Open: 0 queues to the section of the menu the caller is in, or to general.
    (MONDAY, "1,0", &["welcome", "main_menu"], "queued general"),
    (MONDAY, "0", &["language_choice"], "queued general"),
    (MONDAY, "1,1,0", &["pensions_menu"], "queued pensions"),
    (MONDAY, "1,2,0", &["income_support_menu"], "queued income_support"),
    (MONDAY, "1,3,0", &["contributors_menu"], "queued contributors"),
    (MONDAY, "1,4,0", &["civil_invalidity_menu"], "queued civil_invalidity"),
    (MONDAY, "1,5,0", &["online_services_menu"], "queued online_services"),
    (MONDAY, "1,1,1,0", &["pension_documents", "pension_documents_after"], "queued pensions"),
    (MONDAY, "1,5,2,0", &["spid_cie_how_to", "spid_cie_how_to_after"], "queued online_services"),
    (MONDAY, "1,1,*,0", &["pensions_menu", "main_menu"], "queued general"),
    (MONDAY, "1,6,0", &["office_info", "office_info_after"], "queued general"),
    (MONDAY, "1,4,2,*,*,0", &["civil_invalidity_menu", "main_menu"], "queued general"),
    // Closed: Sunday, a national holiday, a closed date, before 8, from 20, Saturday from 14.
    (SUNDAY, "1,0", &["closed_notice", "main_menu", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "1,1,0", &["pensions_menu", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "1,1,4", &["pensions_menu", "pensions_queue", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "1,1,1,0", &["pension_documents_after", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "1,0,1,2,w,w", &["operator_closed", "main_menu", "pension_payment_dates"], DONE),
    ("2026-12-25 10:00", "1,0", &["closed_notice", "operator_closed"], "caller_hangup main_menu"),
    ("2026-12-24 10:00", "1,0", &["closed_notice", "operator_closed"], "caller_hangup main_menu"),
    ("2026-11-23 07:59", "1,0", &["closed_notice", "operator_closed"], "caller_hangup main_menu"),
    ("2026-11-23 08:00", "1,0", &["welcome"], "queued general"),
    ("2026-11-23 19:59", "1,0", &["welcome"], "queued general"),
    ("2026-11-23 20:00", "1,0", &["closed_notice", "operator_closed"], "caller_hangup main_menu"),
    ("2026-11-28 13:59", "1,2,0", &["welcome"], "queued income_support"),
    ("2026-11-28 14:00", "1,2,4", &["closed_notice", "income_support_queue", "operator_closed"], "caller_hangup main_menu"),
];

#[test]
fn operator_key_and_opening_hours() {
    let mut failures = Failures::default();
    for (at, keys, via, expected) in OPERATOR {
        let row = format!("--at {at:?} --keys {keys}");
        let r = simulate(LATINA, at, keys, "");
        failures.check(r.outcome == *expected, &row, format!("outcome is not `{expected}`"), &r);
        failures.check(passes_through(&r.path, via), &row, format!("does not pass through {via:?}"), &r);
        let queued_lines = r.transcript.iter().filter(|l| l.starts_with("[queued")).count();
        let queued = expected.starts_with("queued ");
        failures.check(queued_lines == usize::from(queued), &row, "queued in the transcript".into(), &r);
        let closed_heard =
            r.transcript.iter().any(|l| l.contains("In questo momento gli operatori non sono disponibili."));
        failures.check(
            closed_heard == via.contains(&"operator_closed"),
            &row,
            "operator_closed heard (or not)".into(),
            &r,
        );
    }
    failures.assert_none();
}

// --- Ticket numbers, wrong keys and silence ---------------------------------------------------------

/// (keys, nodes the call passes through in order, outcome, transcript lines that must be heard).
#[rustfmt::skip]
const WRONG_INPUT: &[(&str, &[&str], &str, &[&str])] = &[
    // A ticket number with a wrong check digit, three times: back to the main menu, no lookup.
    ("1,7,000000019,000000019,000000019", &["ticket_number", "ticket_not_recognised", "main_menu"], "caller_hangup main_menu",
        &["(it) Il numero inserito non è valido. Controlli le nove cifre e riprovi.", "(it) Non è stato possibile riconoscere il numero della richiesta. La riportiamo al menu principale."]),
    // Wrong, then right: the lookup is made with the right number.
    ("1,7,000000019,TICKET,w,w", &["ticket_number", "ticket_lookup", "ticket_status_unavailable"], DONE,
        &["(it) Il numero inserito non è valido. Controlli le nove cifre e riprovi."]),
    // Too short, ended with #.
    ("1,7,1234#,w,w,w", &["ticket_number", "ticket_not_recognised"], "caller_hangup main_menu",
        &["(it) Il numero inserito non è valido. Controlli le nove cifre e riprovi.", "(it) Non abbiamo ricevuto alcuna cifra."]),
    // Eight digits, then silence: the input ends at the timeout and is not valid.
    ("1,7,00000001,w,w,w", &["ticket_number", "ticket_not_recognised"], "caller_hangup main_menu",
        &["(it) Il numero inserito non è valido. Controlli le nove cifre e riprovi."]),
    // Silence at the ticket prompt.
    ("1,7,w,w,w", &["ticket_number", "ticket_not_recognised", "main_menu"], "caller_hangup main_menu",
        &["(it) Non abbiamo ricevuto alcuna cifra."]),
    // 0 is a digit of the ticket number, not the operator key.
    ("1,7,0,w,w,w", &["ticket_number", "ticket_not_recognised"], "caller_hangup main_menu", &[]),
    // Wrong keys and silence in menus: two more chances, then the polite hang-up.
    ("1,8,8,8", &["main_menu", "goodbye_exhausted"], EXHAUSTED,
        &["(it) La scelta non è valida.", "(it) Non è stato possibile riconoscere la scelta. La invitiamo a richiamare. Arrivederci."]),
    ("1,w,w,w", &["main_menu", "goodbye_exhausted"], EXHAUSTED, &["(it) Non abbiamo ricevuto alcuna scelta."]),
    ("1,8,w,#", &["main_menu", "goodbye_exhausted"], EXHAUSTED, &["(it) La scelta non è valida.", "(it) Non abbiamo ricevuto alcuna scelta."]),
    ("1,1,5,6,7", &["pensions_menu", "goodbye_exhausted"], EXHAUSTED, &[]),
    ("2,8,8,8", &["main_menu", "goodbye_exhausted"], EXHAUSTED,
        &["(en) Sorry, that is not a valid choice.", "(en) We could not recognise your choice. Please call again. Goodbye."]),
    // A wrong key, then a right one.
    ("1,8,1,4", &["main_menu", "pensions_menu", "pensions_queue"], "queued pensions", &["(it) La scelta non è valida."]),
    // The language menu does not insist: a wrong key or silence keep the first language.
    ("3,1,4", &["language_choice", "welcome", "pensions_menu"], "queued pensions", &[]),
    ("w,1,4", &["language_choice", "welcome", "pensions_menu"], "queued pensions", &[]),
    // The caller hangs up.
    ("1,1,h", &["pensions_menu"], "caller_hangup pensions_menu", &[]),
];

#[test]
fn ticket_numbers_wrong_keys_and_silence() {
    let mut failures = Failures::default();
    for (keys, via, expected, heard) in WRONG_INPUT {
        let row = format!("--keys {keys}");
        let r = simulate(LATINA, MONDAY, keys, "");
        failures.check(r.outcome == *expected, &row, format!("outcome is not `{expected}`"), &r);
        failures.check(passes_through(&r.path, via), &row, format!("does not pass through {via:?}"), &r);
        for line in *heard {
            failures.check(r.transcript.iter().any(|l| l == line), &row, format!("`{line}` is not heard"), &r);
        }
        let typed_valid = keys.contains("TICKET");
        failures.check(
            r.lookups.is_empty() != typed_valid,
            &row,
            "a lookup without a valid number (or none with one)".into(),
            &r,
        );
        failures.check(r.keys == expand(keys).replace([',', 'w', 'h'], ""), &row, "keys are not recorded".into(), &r);
    }
    failures.assert_none();
}

#[test]
fn hash_after_a_full_ticket_number_is_not_a_wrong_key() {
    let r = simulate(LATINA, MONDAY, "1,7,TICKET#,w,w", "ticket_status=answered");
    assert_eq!(r.answers, ["ticket_status_answered"], "{r:?}");
    assert!(!r.transcript.iter().any(|l| l == "(it) La scelta non è valida."), "{:#?}", r.transcript);
}

// --- Barge-in ---------------------------------------------------------------------------------------

/// (keys, answers, nodes the call passes through in order, outcome) with `--barge-in`: keys are
/// pressed while prompts play, and `w` lets the prompt playing finish.
#[rustfmt::skip]
const BARGE_IN: &[(&str, &[&str], &[&str], &str)] = &[
    // 0 during an answer queues to the answer's section; during the welcome, to general.
    ("1,1,1,0,w", &["pension_documents"], &["pensions_menu", "pension_documents"], "queued pensions"),
    ("1,0,w", &[], &["welcome"], "queued general"),
    ("0,w", &[], &["language_choice"], "queued general"),
    // A key during an answer interrupts it and is kept for the menu after it.
    ("1,1,1,*,4,w", &["pension_documents"], &["pension_documents", "pension_documents_after", "pensions_menu", "pensions_queue"], "queued pensions"),
    // Keys typed ahead during the welcome choose in the main menu without hearing it; `w` lets
    // each prompt finish and each timeout pass.
    ("2,3,2,w,w,w,w,w,w,w,w", &["self_employed_contributions"], &["welcome", "main_menu", "contributors_menu", "self_employed_contributions", "goodbye"], DONE),
];

#[test]
fn barge_in() {
    let mut failures = Failures::default();
    for (keys, answers, via, expected) in BARGE_IN {
        let row = format!("--barge-in --keys {keys}");
        let r = simulate_with(LATINA, MONDAY, keys, "", &["--barge-in"]);
        failures.check(r.outcome == *expected, &row, format!("outcome is not `{expected}`"), &r);
        failures.check(r.answers == *answers, &row, format!("answers are not {answers:?}"), &r);
        failures.check(passes_through(&r.path, via), &row, format!("does not pass through {via:?}"), &r);
    }
    failures.assert_none();
}

// --- The agency tree --------------------------------------------------------------------------------

/// (time, keys, answers, nodes the call passes through in order, outcome) on the agency number.
type AgencyRoute = (&'static str, &'static str, &'static [&'static str], &'static [&'static str], &'static str);

#[rustfmt::skip]
const AGENCY_ROUTES: &[AgencyRoute] = &[
    (MONDAY, "1,w,w", &["agenzia_office_info"], &["welcome", "main_menu", "office_info", "office_info_after", "goodbye"], DONE),
    (MONDAY, "2,w,w", &["agenzia_appointment"], &["appointment", "appointment_after", "goodbye"], DONE),
    (MONDAY, "3", &[], &["main_menu", "operator_queue"], "queued general"),
    (MONDAY, "0", &[], &["main_menu"], "queued general"),
    (MONDAY, "1,0", &["agenzia_office_info"], &["office_info_after"], "queued general"),
    (MONDAY, "2,1,2,9,3", &["agenzia_appointment", "agenzia_appointment"], &["appointment", "appointment", "main_menu", "main_menu", "operator_queue"], "queued general"),
    (MONDAY, "8,8,8", &[], &["main_menu", "goodbye_exhausted"], EXHAUSTED),
    (SUNDAY, "3", &[], &["operator_queue", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "0", &[], &["main_menu", "operator_closed", "main_menu"], "caller_hangup main_menu"),
    (SUNDAY, "1,0", &["agenzia_office_info"], &["office_info_after", "operator_closed", "main_menu"], "caller_hangup main_menu"),
];

#[test]
fn agency_tree() {
    let mut failures = Failures::default();
    for (at, keys, answers, via, expected) in AGENCY_ROUTES {
        let row = format!("{AGENCY} --at {at:?} --keys {keys}");
        let r = simulate(AGENCY, at, keys, "");
        failures.check(r.outcome == *expected, &row, format!("outcome is not `{expected}`"), &r);
        failures.check(r.answers == *answers, &row, format!("answers are not {answers:?}"), &r);
        failures.check(passes_through(&r.path, via), &row, format!("does not pass through {via:?}"), &r);
        failures.check(r.language == "it", &row, "the agency tree has no language menu: it speaks Italian".into(), &r);
        failures.check(
            r.path.first().map(String::as_str) == Some("welcome"),
            &row,
            "does not start at welcome".into(),
            &r,
        );
    }
    failures.assert_none();
}

#[test]
fn the_agency_tree_reads_back_the_appointment_too() {
    let extra = ["--from", "appointment_readback", "--language", "en"];
    let r = simulate_with(AGENCY, MONDAY, "w,w", "appointment=phone", &extra);
    assert_eq!(r.answers, ["agenzia_appointment_readback"]);
    assert!(
        passes_through(&r.path, &["appointment_readback", "booked_phone", "booked_after", "goodbye"]),
        "{:?}",
        r.path
    );
    let said = &r.transcript[1];
    assert!(
        said.starts_with("(en) Here is your phone appointment")
            && said.contains("on Monday November thirtieth at eight thirty"),
        "{said}"
    );
}

#[test]
fn agency_office_info_says_the_latina_office() {
    let r = simulate(AGENCY, MONDAY, "1,w,w", "");
    let heard = r.transcript.join("\n");
    assert!(heard.contains("(it) La sede INPS di Latina si trova in Via Carlo Alberto 12, 04100 Latina"), "{heard}");
}

// --- Errors ---------------------------------------------------------------------------------------

#[test]
fn unknown_number_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "--json", "--number", "0773 999999", "--at", MONDAY, "--keys", "1"])
        .output()
        .expect("the centralino binary runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: number 0773 999999 is not a number of this switchboard; configured numbers are listed in config/centralino.toml"),
        "{stderr}"
    );
}

#[test]
fn bad_keys_and_times_are_errors() {
    for (args, message) in [
        (
            ["--keys", "1,x", "--at", MONDAY],
            "error: `x` is not a key; use 0-9, *, #, w (wait for the timeout) or h (hang up)",
        ),
        (
            ["--keys", "1", "--at", "23/11/2026 10:00"],
            "error: `23/11/2026 10:00` is not a time; write YYYY-MM-DD HH:MM (Italian time)",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["simulate", "--json", "--number", LATINA])
            .args(args)
            .output()
            .expect("the centralino binary runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// The province of Bolzano/Bozen is bilingual by law: its callers choose Italian, German or
/// English, and in German they hear German prompts, numbers, hours and dates; callers elsewhere
/// are offered Italian and English only.
#[test]
fn callers_of_bolzano_can_choose_german() {
    const BOLZANO: &str = "0471 452300";
    let r = simulate(BOLZANO, MONDAY, "2,6,w,w", "");
    assert_eq!(r.language, "de", "{r:#?}");
    assert_eq!(r.path[..2], ["language_entry", "language_choice_bolzano"], "{r:#?}");
    let said = r.transcript.join("\n");
    assert!(r.transcript[0].contains("Für Deutsch drücken Sie 2"), "{said}");
    for german in [
        "Willkommen beim Multikanal-Contact-Center",
        "Renten, drücken Sie 1.",
        "Der Sitz des NISF in Ihrer Provinz befindet sich in",
        "von Montag bis Freitag von acht Uhr bis dreizehn Uhr",
    ] {
        assert!(said.contains(german), "{german:?} in\n{said}");
    }
    // Italian and English as before, with their keys in this menu.
    assert_eq!(simulate(BOLZANO, MONDAY, "1,w", "").language, "it");
    assert_eq!(simulate(BOLZANO, MONDAY, "3,w", "").language, "en");
    // Elsewhere the choice is Italian or English: 2 is English, and no German is heard.
    let latina = simulate(LATINA, MONDAY, "2,w", "");
    assert_eq!((latina.language.as_str(), &latina.path[1]), ("en", &"language_choice".to_string()), "{latina:#?}");
    // The appointment read back in German: weekday, ordinal date, time with "Uhr".
    let r = simulate_with(
        BOLZANO,
        MONDAY,
        "h",
        "appointment=counter",
        &["--from", "appointment_readback", "--language", "de"],
    );
    let said = r.transcript.join("\n");
    assert!(
        said.contains(
            "Wir erinnern Sie an Ihren Termin am Schalter, vereinbart für Montag dreißigster November um acht Uhr"
        ),
        "{said}"
    );
}
