//! Spoken numbers, digit strings, times and opening hours, composed from recorded words.
//!
//! Each word is a WAV in `sounds/<lang>/words/<word>.wav`; [`WORDS`] holds their transcripts.
//! Numbers 0-99 are whole recordings (Italian elides and English hyphenates inside them), and
//! larger numbers up to 9999 are built from hundreds and thousands.

use super::model::Lang;
use crate::calendar::{TimeRange, WEEK, WeeklyHours};
use chrono::{Datelike, NaiveDate, Timelike, Weekday};

/// A built-in word, by name (e.g. `n21`, `mon`, `from_time`).
pub type Word = String;

const UNITS_IT: [&str; 20] = [
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciotto",
    "diciannove",
];
const TENS_IT: [&str; 10] =
    ["", "", "venti", "trenta", "quaranta", "cinquanta", "sessanta", "settanta", "ottanta", "novanta"];
const UNITS_EN: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS_EN: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const UNITS_DE: [&str; 20] = [
    "null",
    "eins",
    "zwei",
    "drei",
    "vier",
    "fünf",
    "sechs",
    "sieben",
    "acht",
    "neun",
    "zehn",
    "elf",
    "zwölf",
    "dreizehn",
    "vierzehn",
    "fünfzehn",
    "sechzehn",
    "siebzehn",
    "achtzehn",
    "neunzehn",
];
const TENS_DE: [&str; 10] =
    ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"];

/// German words for 0-99: the unit before the tens, joined by "und" (einundzwanzig).
fn de_below_100(n: u32) -> String {
    if n < 20 {
        return UNITS_DE[n as usize].to_string();
    }
    let (t, u) = (n / 10, n % 10);
    match u {
        0 => TENS_DE[t as usize].to_string(),
        1 => format!("einund{}", TENS_DE[t as usize]),
        _ => format!("{}und{}", UNITS_DE[u as usize], TENS_DE[t as usize]),
    }
}

/// German ordinals for the days of the month, as dates are read: "erster", "siebter",
/// "zwanzigster", "einundzwanzigster".
fn de_ordinal(n: u32) -> String {
    match n {
        1 => "erster".into(),
        3 => "dritter".into(),
        7 => "siebter".into(),
        8 => "achter".into(),
        2..=19 => format!("{}ter", UNITS_DE[n as usize]),
        _ => format!("{}ster", de_below_100(n)),
    }
}

/// Italian words for 0-99, with the elisions of the language (ventuno, ventotto, ventitré).
fn it_below_100(n: u32) -> String {
    if n < 20 {
        return UNITS_IT[n as usize].to_string();
    }
    let (t, u) = (n / 10, n % 10);
    let tens = TENS_IT[t as usize];
    match u {
        0 => tens.to_string(),
        1 | 8 => format!("{}{}", &tens[..tens.len() - 1], UNITS_IT[u as usize]),
        3 => format!("{tens}tré"),
        _ => format!("{tens}{}", UNITS_IT[u as usize]),
    }
}

/// English ordinals for the days of the month: "first", "twelfth", "twenty-third".
fn en_ordinal(n: u32) -> String {
    const IRREGULAR: [&str; 13] = [
        "", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
        "twelfth",
    ];
    match n {
        0..=12 => IRREGULAR[n as usize].to_string(),
        13..=19 => format!("{}th", UNITS_EN[n as usize]),
        // "twenty" -> "twentieth"
        _ if n.is_multiple_of(10) => format!("{}ieth", TENS_EN[(n / 10) as usize].trim_end_matches('y')),
        _ => format!("{}-{}", TENS_EN[(n / 10) as usize], IRREGULAR[(n % 10) as usize]),
    }
}

fn en_below_100(n: u32) -> String {
    if n < 20 {
        return UNITS_EN[n as usize].to_string();
    }
    let (t, u) = (n / 10, n % 10);
    if u == 0 { TENS_EN[t as usize].to_string() } else { format!("{}-{}", TENS_EN[t as usize], UNITS_EN[u as usize]) }
}

/// Every built-in word with its transcript in `lang`.
pub fn words(lang: Lang) -> Vec<(Word, String)> {
    let mut out = Vec::new();
    for n in 0..100 {
        let text = match lang {
            Lang::It => it_below_100(n),
            Lang::En => en_below_100(n),
            Lang::De => de_below_100(n),
        };
        out.push((format!("n{n}"), text));
    }
    for h in 1..10u32 {
        let text = match lang {
            Lang::It if h == 1 => "cento".to_string(),
            Lang::It => format!("{}cento", UNITS_IT[h as usize]),
            Lang::En => format!("{} hundred", UNITS_EN[h as usize]),
            Lang::De if h == 1 => "einhundert".to_string(),
            Lang::De => format!("{}hundert", UNITS_DE[h as usize]),
        };
        out.push((format!("n{}", h * 100), text));
        let text = match lang {
            Lang::It if h == 1 => "mille".to_string(),
            Lang::It => format!("{}mila", UNITS_IT[h as usize]),
            Lang::En => format!("{} thousand", UNITS_EN[h as usize]),
            Lang::De if h == 1 => "eintausend".to_string(),
            Lang::De => format!("{}tausend", UNITS_DE[h as usize]),
        };
        out.push((format!("n{}", h * 1000), text));
    }
    // Days of the month as dates say them: English ordinals; Italian says only the first so
    // ("primo dicembre", "2 dicembre"), so only `d1` exists in Italian.
    match lang {
        Lang::En => out.extend((1..=31).map(|d| (format!("d{d}"), en_ordinal(d)))),
        Lang::De => out.extend((1..=31).map(|d| (format!("d{d}"), de_ordinal(d)))),
        Lang::It => out.push(("d1".into(), "primo".into())),
    }
    // (word, Italian, English, German)
    let fixed: &[(&str, &str, &str, &str)] = &[
        ("mon", "lunedì", "Monday", "Montag"),
        ("tue", "martedì", "Tuesday", "Dienstag"),
        ("wed", "mercoledì", "Wednesday", "Mittwoch"),
        ("thu", "giovedì", "Thursday", "Donnerstag"),
        ("fri", "venerdì", "Friday", "Freitag"),
        ("sat", "sabato", "Saturday", "Samstag"),
        ("sun", "domenica", "Sunday", "Sonntag"),
        ("from_day", "dal", "from", "von"),
        ("to_day", "al", "to", "bis"),
        ("from_time", "dalle", "from", "von"),
        ("to_time", "alle", "to", "bis"),
        ("at_time", "alle ore", "at", "um"),
        ("and", "e", "and", "und"),
        ("oh", "zero", "oh", "null"),
        ("hours", "", "", "Uhr"),
        ("closed", "chiuso", "closed", "geschlossen"),
        ("jan", "gennaio", "January", "Januar"),
        ("feb", "febbraio", "February", "Februar"),
        ("mar", "marzo", "March", "März"),
        ("apr", "aprile", "April", "April"),
        ("may", "maggio", "May", "Mai"),
        ("jun", "giugno", "June", "Juni"),
        ("jul", "luglio", "July", "Juli"),
        ("aug", "agosto", "August", "August"),
        ("sep", "settembre", "September", "September"),
        ("oct", "ottobre", "October", "Oktober"),
        ("nov", "novembre", "November", "November"),
        ("dec", "dicembre", "December", "Dezember"),
        ("star", "asterisco", "star", "Stern"),
        (
            "hold",
            "Resti in linea, per favore: la sua chiamata riceverà risposta dal primo operatore disponibile.",
            "Please hold: your call will be answered by the first available operator.",
            "Bitte bleiben Sie in der Leitung: Ihr Anruf wird vom nächsten freien Mitarbeiter entgegengenommen.",
        ),
        ("hash", "cancelletto", "hash", "Raute"),
        (
            "queue_next",
            "Lei è il primo in attesa: sarà messo in contatto con il primo operatore disponibile.",
            "You are next in line: you will be connected to the first available operator.",
            "Sie sind als Nächster an der Reihe: Sie werden mit dem nächsten freien Mitarbeiter verbunden.",
        ),
        (
            "queue_ahead_one",
            "C'è una persona in attesa prima di lei.",
            "There is one caller ahead of you.",
            "Vor Ihnen wartet noch ein Anrufer.",
        ),
        ("queue_ahead_before", "Ci sono", "There are", "Vor Ihnen warten noch"),
        ("queue_ahead_after", "persone in attesa prima di lei.", "callers ahead of you.", "Anrufer."),
        (
            "queue_wait_before",
            "L'attesa stimata è di circa",
            "The estimated wait is about",
            "Die voraussichtliche Wartezeit beträgt etwa",
        ),
        (
            "queue_wait_short",
            "L'attesa stimata è inferiore a un minuto.",
            "The estimated wait is under one minute.",
            "Die voraussichtliche Wartezeit beträgt weniger als eine Minute.",
        ),
        ("one_minute", "un minuto.", "one minute.", "eine Minute."),
        ("minutes", "minuti.", "minutes.", "Minuten."),
        ("op_logged_in", "Accesso effettuato: è in servizio.", "You are logged in.", "Sie sind angemeldet."),
        ("op_logged_out", "Uscita effettuata.", "You are logged out.", "Sie sind abgemeldet."),
        ("op_paused", "Pausa attivata.", "You are paused.", "Pause eingeschaltet."),
        ("op_ready", "È di nuovo disponibile.", "You are available again.", "Sie sind wieder verfügbar."),
        ("op_refused", "Operazione non possibile ora.", "Not possible now.", "Jetzt nicht möglich."),
        (
            "callback_offer",
            "Se preferisce essere richiamato senza perdere il suo posto in coda, prema il tasto",
            "To be called back without losing your place in the queue, press",
            "Wenn Sie lieber zurückgerufen werden möchten, ohne Ihren Platz in der Warteschlange zu verlieren, drücken Sie die Taste",
        ),
        (
            "callback_confirm_before",
            "La richiameremo al numero",
            "We will call you back on",
            "Wir rufen Sie zurück unter der Nummer",
        ),
        (
            "callback_confirm_after",
            "Per confermare prema 1. Per indicare un altro numero prema 2.",
            "To confirm, press 1. To give another number, press 2.",
            "Zur Bestätigung drücken Sie die 1. Für eine andere Nummer drücken Sie die 2.",
        ),
        (
            "callback_type_number",
            "Digiti il numero italiano, fisso o cellulare, al quale vuole essere richiamato, seguito dal tasto cancelletto.",
            "Please key in the Italian landline or mobile number to call you back on, followed by the hash key.",
            "Bitte geben Sie die italienische Festnetz- oder Mobilnummer für den Rückruf ein, gefolgt von der Rautetaste.",
        ),
        (
            "callback_number_refused",
            "Non possiamo richiamare questo numero: si possono indicare solo numeri italiani fissi o cellulari.",
            "We cannot call this number back: only Italian landline and mobile numbers can be given.",
            "Diese Nummer können wir nicht zurückrufen: Es sind nur italienische Festnetz- und Mobilnummern möglich.",
        ),
        (
            "callback_accepted",
            "Grazie. La sua richiesta è registrata e lei mantiene il suo posto in coda.",
            "Thank you. Your request is registered and you keep your place in the queue.",
            "Vielen Dank. Ihr Wunsch ist registriert und Sie behalten Ihren Platz in der Warteschlange.",
        ),
        (
            "callback_goodbye",
            "La richiameremo quando sarà il suo turno. Ora può riagganciare. Arrivederci.",
            "We will call you back when it is your turn. You may hang up now. Goodbye.",
            "Wir rufen Sie zurück, wenn Sie an der Reihe sind. Sie können jetzt auflegen. Auf Wiederhören.",
        ),
        (
            "callback_already_pending",
            "Per questo numero c'è già una richiesta di richiamata in attesa.",
            "A callback to this number is already waiting.",
            "Für diese Nummer wartet bereits ein Rückruf.",
        ),
        (
            "callback_not_now",
            "Non possiamo accettare altre richieste di richiamata in questo momento.",
            "We cannot take more callback requests at the moment.",
            "Wir können im Moment keine weiteren Rückrufwünsche annehmen.",
        ),
        (
            "callback_too_often",
            "Da questo numero sono già arrivate troppe richieste di richiamata oggi.",
            "Too many callback requests have come from this number today.",
            "Von dieser Nummer sind heute schon zu viele Rückrufwünsche gekommen.",
        ),
        (
            "callback_stay",
            "Resti in linea: mantiene il suo posto in coda.",
            "Please stay on the line: you keep your place in the queue.",
            "Bitte bleiben Sie in der Leitung: Sie behalten Ihren Platz in der Warteschlange.",
        ),
        (
            "callback_greeting",
            "Buongiorno, la richiama l'INPS per la sua richiesta al contact center. Per parlare con un operatore, prema 1.",
            "Hello, this is INPS calling you back about your request to the contact center. To speak with an operator, press 1.",
            "Guten Tag, hier ruft Sie das INPS wegen Ihrer Anfrage an das Kontaktzentrum zurück. Um mit einem Mitarbeiter zu sprechen, drücken Sie die 1.",
        ),
        (
            "callback_connecting",
            "Grazie, la mettiamo in contatto con un operatore.",
            "Thank you, we are connecting you to an operator.",
            "Danke, wir verbinden Sie mit einem Mitarbeiter.",
        ),
    ];
    for (name, it, en, de) in fixed {
        let text = match lang {
            Lang::It => it,
            Lang::En => en,
            Lang::De => de,
        };
        // A word one language does not say ("Uhr") is not recorded in the others.
        if !text.is_empty() {
            out.push((name.to_string(), text.to_string()));
        }
    }
    out
}

/// A queued caller's position, and the estimated wait if known: "Ci sono 3 persone in attesa
/// prima di lei. L'attesa stimata è di circa 4 minuti." (0 ahead: "you are next").
pub fn queue_position(ahead: usize, wait: Option<std::time::Duration>) -> Vec<Word> {
    let mut out = match ahead {
        0 => vec!["queue_next".to_string()],
        1 => vec!["queue_ahead_one".to_string()],
        n => {
            let mut w = vec!["queue_ahead_before".to_string()];
            w.extend(number(n as u32));
            w.push("queue_ahead_after".into());
            w
        }
    };
    if let Some(wait) = wait {
        // Rounded up to whole minutes: a caller told 2 minutes should not wait 3.
        match wait.as_secs().div_ceil(60) {
            0 => {}
            1 if wait.as_secs() < 60 => out.push("queue_wait_short".into()),
            1 => out.extend(["queue_wait_before".to_string(), "one_minute".into()]),
            m => {
                out.push("queue_wait_before".into());
                out.extend(number(m as u32));
                out.push("minutes".into());
            }
        }
    }
    out
}

/// The transcript of one word, for the simulator and logs.
pub fn word_text(lang: Lang, word: &str) -> Option<String> {
    words(lang).into_iter().find(|(w, _)| w == word).map(|(_, t)| t)
}

/// A number from 0 to 9999 (larger numbers are said digit by digit).
pub fn number(n: u32) -> Vec<Word> {
    if n > 9999 {
        return digits(&n.to_string());
    }
    let mut out = Vec::new();
    let (th, h, rest) = (n / 1000, (n / 100) % 10, n % 100);
    if th > 0 {
        out.push(format!("n{}", th * 1000));
    }
    if h > 0 {
        out.push(format!("n{}", h * 100));
    }
    if rest > 0 || n == 0 {
        out.push(format!("n{rest}"));
    }
    out
}

/// A string of keys said one by one (`*` and `#` by name; anything else skipped).
pub fn digits(s: &str) -> Vec<Word> {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("n{c}")),
            '*' => Some("star".into()),
            '#' => Some("hash".into()),
            _ => None,
        })
        .collect()
}

/// A time of day: "8 e 30" in Italian, "8 30" / "8 oh 5" in English, "8 Uhr 30" in German.
pub fn time(lang: Lang, t: chrono::NaiveTime) -> Vec<Word> {
    let (h, m) = if t == crate::calendar::END_OF_DAY { (24, 0) } else { (t.hour(), t.minute()) };
    let mut out = number(h);
    if lang == Lang::De {
        out.push("hours".into());
    }
    if m > 0 {
        match lang {
            Lang::It => out.push("and".into()),
            Lang::En if m < 10 => out.push("oh".into()),
            Lang::En | Lang::De => {}
        }
        out.extend(number(m));
    }
    out
}

/// A date: "ventitré novembre", "primo dicembre" / "November twenty-third" / "dreiundzwanzigster
/// November".
pub fn date(lang: Lang, d: NaiveDate) -> Vec<Word> {
    let month =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"][d.month0() as usize];
    match lang {
        Lang::En => vec![month.to_string(), format!("d{}", d.day())],
        Lang::De => vec![format!("d{}", d.day()), month.to_string()],
        Lang::It if d.day() == 1 => vec!["d1".to_string(), month.to_string()],
        Lang::It => {
            let mut out = number(d.day());
            out.push(month.to_string());
            out
        }
    }
}

/// A day with its weekday: "martedì 15 dicembre" / "Tuesday December fifteenth".
pub fn day(lang: Lang, d: NaiveDate) -> Vec<Word> {
    let mut out = vec![day_word(d.weekday())];
    out.extend(date(lang, d));
    out
}

fn range(lang: Lang, r: &TimeRange) -> Vec<Word> {
    let mut out = vec!["from_time".to_string()];
    out.extend(time(lang, r.start));
    out.push("to_time".into());
    out.extend(time(lang, r.end));
    out
}

/// Weekly opening hours, grouping consecutive days with the same hours:
/// "dal lunedì al venerdì dalle 8 e 30 alle 12 e 30, martedì ... e dalle 14 ...".
pub fn weekly_hours(lang: Lang, hours: &WeeklyHours) -> Vec<Word> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < WEEK.len() {
        let day = hours.day(WEEK[i]);
        let mut j = i;
        while j + 1 < WEEK.len() && hours.day(WEEK[j + 1]) == day {
            j += 1;
        }
        if !day.is_empty() {
            if j > i {
                out.extend(["from_day".into(), day_word(WEEK[i]), "to_day".into(), day_word(WEEK[j])]);
            } else {
                out.push(day_word(WEEK[i]));
            }
            for (k, r) in day.iter().enumerate() {
                if k > 0 {
                    out.push("and".into());
                }
                out.extend(range(lang, r));
            }
        }
        i = j + 1;
    }
    if out.is_empty() {
        out.push("closed".into());
    }
    out
}

fn day_word(d: Weekday) -> Word {
    crate::calendar::weekday_key(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lang: Lang, ws: &[Word]) -> String {
        ws.iter().map(|w| word_text(lang, w).unwrap()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn queue_positions_and_waits() {
        use std::time::Duration;
        assert_eq!(
            text(Lang::En, &queue_position(0, None)),
            "You are next in line: you will be connected to the first available operator."
        );
        assert_eq!(text(Lang::En, &queue_position(1, None)), "There is one caller ahead of you.");
        assert_eq!(
            text(Lang::It, &queue_position(23, Some(Duration::from_secs(181)))),
            "Ci sono ventitré persone in attesa prima di lei. L'attesa stimata è di circa quattro minuti."
        );
        assert_eq!(
            text(Lang::En, &queue_position(2, Some(Duration::from_secs(45)))),
            "There are two callers ahead of you. The estimated wait is under one minute."
        );
        assert_eq!(
            text(Lang::It, &queue_position(1, Some(Duration::from_secs(60)))),
            "C'è una persona in attesa prima di lei. L'attesa stimata è di circa un minuto."
        );
    }

    #[test]
    fn numbers_in_both_languages() {
        assert_eq!(text(Lang::It, &number(0)), "zero");
        assert_eq!(text(Lang::It, &number(21)), "ventuno");
        assert_eq!(text(Lang::It, &number(28)), "ventotto");
        assert_eq!(text(Lang::It, &number(33)), "trentatré");
        assert_eq!(text(Lang::It, &number(100)), "cento");
        assert_eq!(text(Lang::It, &number(999)), "novecento novantanove");
        assert_eq!(text(Lang::It, &number(2026)), "duemila ventisei");
        assert_eq!(text(Lang::En, &number(342)), "three hundred forty-two");
        assert_eq!(text(Lang::En, &number(1000)), "one thousand");
        assert_eq!(number(12345), digits("12345"));
    }

    #[test]
    fn german_numbers_dates_and_times() {
        assert_eq!(text(Lang::De, &number(1)), "eins");
        assert_eq!(text(Lang::De, &number(21)), "einundzwanzig");
        assert_eq!(text(Lang::De, &number(37)), "siebenunddreißig");
        assert_eq!(text(Lang::De, &number(2026)), "zweitausend sechsundzwanzig");
        assert_eq!(text(Lang::De, &number(115)), "einhundert fünfzehn");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(text(Lang::De, &day(Lang::De, d("2026-12-15"))), "Dienstag fünfzehnter Dezember");
        assert_eq!(text(Lang::De, &date(Lang::De, d("2026-12-01"))), "erster Dezember");
        assert_eq!(text(Lang::De, &date(Lang::De, d("2026-12-07"))), "siebter Dezember");
        assert_eq!(text(Lang::De, &date(Lang::De, d("2026-12-23"))), "dreiundzwanzigster Dezember");
        let t = |s: &str| chrono::NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(text(Lang::De, &time(Lang::De, t("08:30"))), "acht Uhr dreißig");
        assert_eq!(text(Lang::De, &time(Lang::De, t("14:00"))), "vierzehn Uhr");
        assert_eq!(
            text(Lang::De, &queue_position(3, Some(std::time::Duration::from_secs(200)))),
            "Vor Ihnen warten noch drei Anrufer. Die voraussichtliche Wartezeit beträgt etwa vier Minuten."
        );
    }

    #[test]
    fn every_number_to_999_is_speakable() {
        for lang in Lang::ALL {
            for n in 0..=9999 {
                for w in number(n) {
                    assert!(word_text(lang, &w).is_some(), "{lang} {n} {w}");
                }
            }
        }
    }

    #[test]
    fn hours_are_grouped() {
        let h = WeeklyHours {
            mon: vec!["08:30-12:30".parse().unwrap()],
            tue: vec!["08:30-12:30".parse().unwrap()],
            wed: vec!["08:30-12:30".parse().unwrap()],
            thu: vec!["08:30-12:30".parse().unwrap(), "14:30-16:00".parse().unwrap()],
            fri: vec!["08:30-12:30".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            text(Lang::It, &weekly_hours(Lang::It, &h)),
            "dal lunedì al mercoledì dalle otto e trenta alle dodici e trenta giovedì dalle otto e trenta alle dodici e trenta e dalle quattordici e trenta alle sedici venerdì dalle otto e trenta alle dodici e trenta"
        );
        assert_eq!(text(Lang::En, &time(Lang::En, chrono::NaiveTime::from_hms_opt(9, 5, 0).unwrap())), "nine oh five");
        assert_eq!(text(Lang::En, &weekly_hours(Lang::En, &WeeklyHours::default())), "closed");
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(text(Lang::It, &date(Lang::It, d)), "ventitré novembre");
        assert_eq!(text(Lang::En, &date(Lang::En, d)), "November twenty-third");
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(text(Lang::It, &date(Lang::It, first)), "primo dicembre");
        assert_eq!(text(Lang::En, &date(Lang::En, first)), "December first");
        let ordinals: Vec<String> = [2, 3, 11, 12, 13, 20, 21, 22, 30, 31].into_iter().map(en_ordinal).collect();
        assert_eq!(
            ordinals,
            [
                "second",
                "third",
                "eleventh",
                "twelfth",
                "thirteenth",
                "twentieth",
                "twenty-first",
                "twenty-second",
                "thirtieth",
                "thirty-first"
            ]
        );
        // Every day of every month is a word there is a transcript (and so a recording) for.
        for lang in Lang::ALL {
            for day in NaiveDate::from_ymd_opt(2028, 1, 1).unwrap().iter_days().take(366) {
                for w in date(lang, day) {
                    assert!(word_text(lang, &w).is_some(), "{lang:?} {day}: no word {w}");
                }
            }
        }
    }
}
