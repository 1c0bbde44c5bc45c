use centralino::calendar::TIME_ZONE;
use centralino::cases::agenda;
use centralino::ivr::{FoundAppointment, Lang, Service, Time};
use centralino::simulator::{self, Caller, Step};
use centralino::switchboard::{Paths, Switchboard};
use chrono::{NaiveDateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The number called (any usual notation: 0773 691001, +390773691001).
    #[arg(long)]
    number: String,
    /// The caller's number.
    #[arg(long, default_value = "+393331234567")]
    caller: String,
    /// The caller's keys, e.g. `1,2,#`; `w` lets a timeout pass, `h` hangs up.
    /// Without it, keys are read from the keyboard.
    #[arg(long)]
    keys: Option<String>,
    /// Italian local time of the call, `YYYY-MM-DD HH:MM` (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Answer a lookup: `ticket_status=answered`, `appointment=counter` (the simulator has no
    /// store: unanswered lookups give `unavailable`). An appointment found is a sample one: the
    /// first free slot a week after the call at the first agency of the number's province.
    #[arg(long, value_parser = parse_kv)]
    lookup: Vec<(String, String)>,
    /// Enter the portal at this node, as after an operator's transfer (e.g. `appointment_readback`).
    #[arg(long)]
    from: Option<String>,
    /// The language the caller chose earlier in the call (with `--from`): `it`, `en`, `de`.
    #[arg(long, requires = "from")]
    language: Option<String>,
    /// Press keys while prompts play (type-ahead), not after them.
    #[arg(long)]
    barge_in: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not service=result, e.g. ticket_status=answered"))
}

fn parse_at(s: &str) -> Result<Time, String> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("`{s}` is not a time; write YYYY-MM-DD HH:MM (Italian time)"))?;
    TIME_ZONE
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{s} does not exist in Italian time"))
}

/// What an `appointment` lookup finds in a simulation: the first slot a week after the call at
/// the first agency of the province (or of the configuration).
fn sample_appointment(sb: &Switchboard, province: Option<&str>, at: Time) -> Option<FoundAppointment> {
    let agencies = &sb.config.agencies;
    let agency = agencies.iter().find(|a| Some(a.province.get_ref().as_str()) == province).or(agencies.first())?;
    let from = at.with_timezone(&TIME_ZONE).date_naive() + chrono::Days::new(7);
    let start = *agenda::slots(agency, from, 14).first()?;
    Some(FoundAppointment { agency: agency.id.get_ref().clone(), start })
}

/// Keys from the keyboard, showing each new prompt before asking.
struct Keyboard {
    shown: usize,
    pending: Vec<Step>,
}

impl Caller for Keyboard {
    fn next(&mut self, transcript: &str) -> Option<Step> {
        let lines: Vec<&str> = transcript.lines().collect();
        for l in &lines[self.shown.min(lines.len())..] {
            println!("{l}");
        }
        self.shown = lines.len();
        loop {
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            print!("keys (Enter alone = stay silent, h = hang up)> ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.trim().is_empty() {
                return Some(Step::Wait);
            }
            match simulator::parse_script(line.trim()) {
                Ok(steps) => self.pending = steps,
                Err(e) => eprintln!("{e}"),
            }
        }
    }
}

pub fn run(paths: &Paths, args: SimulateArgs) -> ExitCode {
    let sb = match Switchboard::load(paths) {
        Ok((sb, _)) => sb,
        Err(diags) => {
            super::report(&diags);
            return ExitCode::FAILURE;
        }
    };
    let start = match args.at.as_deref().map(parse_at).transpose() {
        Ok(t) => t.unwrap_or_else(Utc::now),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut session = match sb.session(&args.caller, &args.number) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}; configured numbers are listed in {}", paths.config.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(code) = &args.language {
        let lang = Lang::parse(code);
        if !lang.is_some_and(|l| session.set_language(l)) {
            eprintln!("error: the tree {} does not speak `{code}`", session.tree().name);
            return ExitCode::FAILURE;
        }
    }
    let tree = session.tree().clone();
    let prompt_text = |lang: Lang, name: &str| {
        tree.def.prompts.get(name).and_then(|t| t.iter().find(|(l, _)| l.value == lang)).map(|(_, text)| text.clone())
    };
    let office_text = |p: &str| sb.config.province(p).map(|p| p.office_address.clone());
    let agency_text =
        |id: &str| sb.config.agencies.iter().find(|a| a.id.get_ref() == id).map(centralino::switchboard::agency_place);
    if let Some(node) = &args.from
        && !tree.def.nodes.contains_key(node.as_str())
    {
        eprintln!("error: the tree {} has no node `{node}`", tree.name);
        return ExitCode::FAILURE;
    }
    for (service, result) in &args.lookup {
        let Some(known) = Service::ALL.into_iter().find(|s| s.name() == service) else {
            let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
            eprintln!("error: unknown lookup service `{service}`; the services are: {}", names.join(", "));
            return ExitCode::FAILURE;
        };
        if !known.outcomes().contains(&result.as_str()) {
            eprintln!("error: `{result}` is not a result of {service}; use one of: {}", known.outcomes().join(", "));
            return ExitCode::FAILURE;
        }
    }
    let lookups: BTreeMap<String, String> = args.lookup.into_iter().collect();
    let opts = simulator::Options {
        start,
        prompt_text: &prompt_text,
        office_text: &office_text,
        agency_text: &agency_text,
        appointment: sample_appointment(&sb, session.facts().origin.province.as_deref(), start),
        from: args.from,
        lookups: &lookups,
        barge_in: args.barge_in,
    };
    let interactive = args.keys.is_none();
    let report = match args.keys {
        Some(k) => match simulator::parse_script(&k) {
            Ok(steps) => simulator::run(session, &mut steps.into_iter(), &opts),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            let mut keyboard = Keyboard { shown: 0, pending: Vec::new() };
            let report = simulator::run(session, &mut keyboard, &opts);
            // What the caller heard after their last key (goodbye, queueing, hang-up).
            for l in report.transcript.iter().skip(keyboard.shown) {
                println!("{l}");
            }
            report
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("a report serialises"));
    } else {
        if !interactive {
            for l in &report.transcript {
                println!("{l}");
            }
        }
        println!("---\n{}", report.summary());
    }
    ExitCode::SUCCESS
}
