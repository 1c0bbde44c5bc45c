//! The offline simulator: drives a [`Session`] exactly as a real call would, with the caller's
//! keys from a script or the keyboard and the prompts printed as their transcripts.
//! It is a host of the interpreter, like the RTP media host: the decisions are the same code.

use crate::ivr::{
    Action, Event, FoundAppointment, Key, Lang, LookupAnswer, Outcome, Service, Session, Time, Trace, Utterance, speech,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One step of a caller script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Press a key (after the prompt, or during it when barging in).
    Press(Key),
    /// Stay silent until the portal's timeout passes.
    Wait,
    /// Hang up.
    Hangup,
}

/// Parse `1,2,#,w` (or `12#w`): keys, `w` for "let the timeout pass", `h` to hang up.
pub fn parse_script(s: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for c in s.chars().filter(|c| !matches!(c, ',' | ' ')) {
        out.push(match c {
            'w' | 'W' => Step::Wait,
            'h' | 'H' => Step::Hangup,
            _ => Step::Press(Key::parse(&c.to_string()).ok_or_else(|| {
                format!("`{c}` is not a key; use 0-9, *, #, w (wait for the timeout) or h (hang up)")
            })?),
        });
    }
    Ok(out)
}

/// Where the caller's next step comes from.
pub trait Caller {
    /// The next step, when the portal waits for the caller; `None` means the caller hangs up.
    fn next(&mut self, transcript_so_far: &str) -> Option<Step>;
}

impl Caller for std::vec::IntoIter<Step> {
    fn next(&mut self, _: &str) -> Option<Step> {
        Iterator::next(self)
    }
}

/// The result of a simulated call.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub number: String,
    pub tree: String,
    pub language: Lang,
    pub outcome: Option<Outcome>,
    #[serde(flatten)]
    pub trace: Trace,
    /// Lookups the portal made, with the answer the simulator gave.
    pub lookups: Vec<String>,
    /// Everything the caller heard, one line per prompt.
    pub transcript: Vec<String>,
}

/// Options of a simulated call.
pub struct Options<'a> {
    pub start: Time,
    /// Texts of the tree's prompts, by language then name.
    pub prompt_text: &'a dyn Fn(Lang, &str) -> Option<String>,
    /// Office address texts by province.
    pub office_text: &'a dyn Fn(&str) -> Option<String>,
    /// Agency name-and-address texts by agency id.
    pub agency_text: &'a dyn Fn(&str) -> Option<String>,
    /// The appointment an `appointment` lookup finds (when its answer is a mode).
    pub appointment: Option<FoundAppointment>,
    /// Enter the portal at this node (as after an operator's transfer) instead of the start.
    pub from: Option<String>,
    /// Answers for lookups by service name (e.g. `ticket_status` -> `answered`).
    pub lookups: &'a BTreeMap<String, String>,
    /// Keys are pressed while the prompt plays (type-ahead) instead of after it.
    pub barge_in: bool,
}

/// Run a call to its end. Each prompt is heard in full unless `barge_in` is set.
pub fn run(mut session: Session, caller: &mut dyn Caller, opts: &Options) -> Report {
    let mut now = opts.start;
    let mut transcript = Vec::new();
    let mut lookups = Vec::new();
    // Entered at a node (as after a transfer), or from the start.
    let mut entered = opts.from.as_ref().map(|node| session.resume_at(node, now));
    let mut events = if entered.is_some() { vec![] } else { vec![Event::Start] };
    let mut guard = 0;
    while !session.is_done() && guard < 10_000 {
        guard += 1;
        let mut playing = false;
        let mut actions = entered.take().unwrap_or_default();
        for ev in std::mem::take(&mut events) {
            actions.extend(session.handle(ev, now));
        }
        for action in actions {
            match action {
                Action::Play { lang, items } => {
                    transcript.push(render(lang, &items, opts));
                    playing = true;
                }
                Action::StopPlayback => {
                    if let Some(last) = transcript.last_mut() {
                        last.push_str(" [interrupted]");
                    }
                    playing = false;
                }
                Action::Lookup { service, input } => {
                    let name = service.name().to_string();
                    let answer = opts.lookups.get(&name).cloned().unwrap_or_else(|| "unavailable".to_string());
                    let keyed = input.map(|i| format!(" {i}")).unwrap_or_default();
                    lookups.push(format!("{name}({}) = {answer}", keyed.trim_start()));
                    transcript.push(format!("[lookup {name}{keyed}: {answer}]"));
                    let found =
                        service == Service::Appointment && !["not_found", "unavailable"].contains(&answer.as_str());
                    let appointment = opts.appointment.clone().filter(|_| found);
                    events.push(Event::LookupResult(LookupAnswer { result: answer, appointment }));
                }
                Action::Enqueue { section } => transcript.push(format!("[queued to section {section}]")),
                Action::Hangup => transcript.push("[the portal hangs up]".into()),
            }
        }
        if session.is_done() || !events.is_empty() {
            continue;
        }
        if playing && !opts.barge_in {
            events.push(Event::PlaybackDone);
            continue;
        }
        // The caller acts: during the prompt (barge-in) or once the portal waits.
        if !playing && session.deadline().is_none() {
            // Waiting for nothing but a lookup answer or playback: let playback finish.
            events.push(Event::PlaybackDone);
            continue;
        }
        match caller.next(&transcript.join("\n")) {
            Some(Step::Press(k)) => events.push(Event::Key(k)),
            Some(Step::Wait) => {
                if playing {
                    events.push(Event::PlaybackDone);
                } else if let Some(d) = session.deadline() {
                    now = d;
                    events.push(Event::Timeout);
                }
            }
            Some(Step::Hangup) | None => events.push(Event::CallerHangup),
        }
    }
    Report {
        number: session.facts().origin.number.clone(),
        tree: session.tree().name.clone(),
        language: session.language(),
        outcome: session.outcome().cloned(),
        trace: session.trace().clone(),
        lookups,
        transcript,
    }
}

fn render(lang: Lang, items: &[Utterance], opts: &Options) -> String {
    let mut line = format!("({lang})");
    for item in items {
        let text = match item {
            Utterance::Prompt(p) => (opts.prompt_text)(lang, p).unwrap_or_else(|| format!("<{p}>")),
            Utterance::Word(w) => speech::word_text(lang, w).unwrap_or_else(|| format!("<{w}>")),
            Utterance::OfficeAddress(p) => (opts.office_text)(p).unwrap_or_else(|| format!("<office {p}>")),
            Utterance::AgencyAddress(a) => (opts.agency_text)(a).unwrap_or_else(|| format!("<agency {a}>")),
        };
        let _ = write!(line, " {text}");
    }
    line
}

impl Report {
    /// A human summary: where the call went and the path it took.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "tree: {}  number: {}  language: {}", self.tree, self.number, self.language);
        for a in &self.trace.answers {
            let _ = writeln!(s, "self-service answer: {a}");
        }
        match &self.outcome {
            Some(o) => {
                let _ = writeln!(s, "outcome: {o}");
            }
            None => {
                let _ = writeln!(s, "outcome: none (the call did not end)");
            }
        }
        let _ = writeln!(s, "keys: {}", if self.trace.keys.is_empty() { "(none)" } else { &self.trace.keys });
        let _ = write!(s, "path: {}", self.trace.path.join(" -> "));
        s
    }
}
