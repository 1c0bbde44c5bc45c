//! The call machine fed arbitrary sequences of inputs and waits: after every one, the
//! invariants of `calls::machine::Watch` hold (one end, no operator or queue place left behind,
//! no timer for an ended call), and nothing panics.
#![no_main]

use centralino::acd::Route;
use centralino::calls::machine::{Call, Input, Now, Output, Settings, Watch};
use centralino::calls::{CallRecord, Ending};
use centralino::ivr::{CallFacts, Key, LookupAnswer, Session, Tree, parse_tree};
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The shipped national tree: the richest portal the machine runs.
fn tree() -> Arc<Tree> {
    static TREE: OnceLock<Arc<Tree>> = OnceLock::new();
    let yaml = include_str!("../../ivr-trees/centralino-unico-nazionale.yaml");
    Arc::clone(TREE.get_or_init(|| Arc::new(parse_tree(Path::new("cun.yaml"), yaml).expect("the shipped tree parses"))))
}

struct Run {
    call: Call,
    watch: Watch,
    t0: Instant,
    now: Instant,
    wall0: DateTime<Utc>,
}

impl Run {
    fn now(&self) -> Now {
        Now { at: self.now, wall: self.wall0 + (self.now - self.t0) }
    }

    fn check(&mut self, timeout: bool) {
        let out: Vec<Output> = std::iter::from_fn(|| self.call.poll_output()).collect();
        if let Err(e) = self.watch.after(&self.call, &out, self.now, timeout) {
            panic!("{e}");
        }
    }

    fn input(&mut self, input: Input) {
        self.watch.before(&input);
        self.call.handle(input, self.now());
        self.check(false);
    }

    fn wait(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.call.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.call.handle_timeout(self.now());
            self.check(true);
        }
        self.now = end;
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let flags = data.first().copied().unwrap_or(0);
    let wall0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap() + chrono::TimeDelta::minutes(i64::from(flags >> 2) * 20);
    let record = CallRecord {
        call_id: "c1".into(),
        origin: centralino::vocabulary::CallOrigin {
            caller: "+393331234567".into(),
            number: "+390773691001".into(),
            province: Some("LT".into()),
            region: Some("lazio".into()),
        },
        tree: None,
        arrived: wall0,
        answered: None,
        ended: wall0,
        language: None,
        path: vec![],
        keys: String::new(),
        answers: vec![],
        ending: Ending::Cancelled,
    };
    let facts = CallFacts { origin: record.origin.clone(), office_hours: None };
    let settings = Settings {
        answer_delay: Duration::from_millis(500),
        media_timeout: Duration::from_secs(30),
        max_hold: Duration::from_secs(120),
        distribution: flags & 1 == 0,
        late_offer: flags & 2 != 0,
    };
    let t0 = Instant::now();
    let now = Now { at: t0, wall: wall0 };
    let call = Call::new(Session::new(tree(), facts, "general"), record, settings, now);
    let mut run = Run { call, watch: Watch::new(), t0, now: t0, wall0 };
    run.check(false);
    for pair in data[1.min(data.len())..].chunks(2) {
        let (kind, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let section = if arg & 1 == 0 { "pensions" } else { "income_support" };
        let input = match kind % 16 {
            0 => Input::CallerHangup,
            1 => Input::Media { receiving: arg & 1 == 0 },
            2 | 3 => Input::Key(Key(b"0123456789*#"[usize::from(arg) % 12] as char)),
            4 => Input::PlaybackDone,
            5 => Input::Heard(run.now),
            6 => {
                let result = ["open", "not_found", "counter", "unavailable", "bogus"][usize::from(arg) % 5];
                Input::LookupResult(LookupAnswer::from(result))
            }
            7 => Input::Queued { section: section.into() },
            8 => Input::Announce { ahead: usize::from(arg % 8), wait: Some(Duration::from_secs(u64::from(arg) * 10)) },
            9 => Input::StopAnnouncement,
            10 => Input::Route(match arg % 3 {
                0 => Route::Node("main_menu".into()),
                1 => Route::Message("queue_full".into()),
                _ => Route::Section(section.into()),
            }),
            11 => Input::OperatorAnswered { operator: "mrossi".into() },
            12 => Input::OperatorHangup,
            _ => {
                run.wait(Duration::from_millis(u64::from(arg) * 250));
                continue;
            }
        };
        // The distribution speaks only of calls it holds (and now and then, late).
        if (7..=12).contains(&(kind % 16)) && !run.watch.in_distribution() && arg & 0x80 == 0 {
            continue;
        }
        run.input(input);
    }
    run.input(Input::CallerHangup);
    run.wait(Duration::from_secs(3600));
    assert!(run.call.is_ended(), "a call the caller hung up on has ended");
});
