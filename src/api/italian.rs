//! The domain's refusals in Italian, for the pages (see [`super::error`]): the same facts as
//! the errors' English `Display`, worded for the operators and officers who read them.

use crate::acd::AcdError;
use crate::cases::StoreError;
use crate::cases::agenda::AgendaError;
use crate::cases::codice_fiscale::CfError;
use crate::cases::ticket::TicketError;

/// `2026-12-07T09:30:00` as `07/12/2026 09:30`.
fn when(t: &chrono::NaiveDateTime) -> String {
    t.format("%d/%m/%Y %H:%M").to_string()
}

fn status(s: &str) -> &'static str {
    match s {
        "open" => "aperta",
        "taken" => "presa in carico",
        "answered" => "evasa",
        "returned" => "restituita",
        _ => "in uno stato diverso",
    }
}

pub fn acd(e: &AcdError) -> String {
    match e {
        AcdError::UnknownOperator(o) => format!("l'operatore {o} non è nella distribuzione"),
        AcdError::UnknownSection(s) => format!("la sezione {s} non esiste"),
        AcdError::UnknownCall(_) => "la chiamata non è più in coda".into(),
        AcdError::NotSkilled { section, .. } => format!("Lei non serve la sezione {section}"),
        AcdError::NotConnected(_) => "la chiamata non è collegata a un operatore".into(),
        AcdError::AlreadyQueued(_) => "la chiamata è già in coda".into(),
        AcdError::LoggedOut(_) => "Lei non è collegato alle Sue sezioni: prima si colleghi".into(),
        AcdError::Busy(_) => "ha già una chiamata che squilla o in corso".into(),
        AcdError::Unavailable(_) => "la distribuzione delle chiamate non risponde: riprovi tra qualche secondo".into(),
    }
}

pub fn store(e: &StoreError) -> String {
    match e {
        StoreError::NotFound(n) => format!("la pratica n. {n} non esiste"),
        StoreError::Refused(t) => ticket(t),
        StoreError::TooNew { .. } => {
            "l'archivio è di una versione più recente del centralino: avvisi un amministratore".into()
        }
        StoreError::SlotTaken { start, .. } => {
            format!("l'orario {} è già prenotato: ne scelga un altro", when(start))
        }
        StoreError::NoAppointment(id) => format!("l'appuntamento {id} non esiste"),
        StoreError::Cancelled(id) => format!("l'appuntamento {id} è stato annullato"),
        StoreError::Io(_) | StoreError::Unavailable(_) => "l'archivio non risponde: riprovi tra qualche secondo".into(),
    }
}

pub fn ticket(e: &TicketError) -> String {
    match e {
        TicketError::NotOpen { number, status: s } => {
            format!("la pratica n. {number} è {}, non aperta: non si può prendere in carico", status(s))
        }
        TicketError::NotYours { number, officer } => {
            format!("la pratica n. {number} è in carico a {officer}, non a Lei")
        }
        TicketError::NotTaken { number, status: s } => format!(
            "la pratica n. {number} è {}: si può evadere, restituire o rilasciare solo una pratica presa in carico",
            status(s)
        ),
        TicketError::Empty(what) => format!("{what}: il campo non può essere vuoto"),
        TicketError::OtherRegion { number, region } => {
            format!("la pratica n. {number} è della direzione regionale {region}")
        }
    }
}

pub fn agenda(e: &AgendaError) -> String {
    match e {
        AgendaError::Closed { date, why, .. } => format!("il {} la sede è chiusa ({why})", date.format("%d/%m/%Y")),
        AgendaError::NotASlot { start, minutes, .. } => format!(
            "{} non è un orario dell'agenda della sede (appuntamenti di {minutes} minuti): ne scelga uno tra quelli proposti",
            when(start)
        ),
        AgendaError::Past { start } => format!("l'orario {} è già passato", when(start)),
        AgendaError::BeyondHorizon { last_day, .. } => {
            format!("l'agenda della sede accetta prenotazioni fino al {}", last_day.format("%d/%m/%Y"))
        }
    }
}

pub fn codice_fiscale(e: &CfError) -> String {
    match e {
        CfError::Length(n) => format!("il codice fiscale ha 16 caratteri, questo ne ha {n}"),
        CfError::Shape { position, found, expected } => {
            format!("il carattere {position} ({found}) dovrebbe essere {}", shape(expected))
        }
        CfError::Check { .. } => "il carattere di controllo non corrisponde: un carattere è sbagliato".into(),
    }
}

/// The expected kinds of character of [`CfError::Shape`].
fn shape(expected: &str) -> &str {
    match expected {
        "a letter" => "una lettera",
        "a digit (or one of LMNPQRSTUV)" => "una cifra (o una di LMNPQRSTUV)",
        "a month letter (A B C D E H L M P R S T)" => "la lettera di un mese (A B C D E H L M P R S T)",
        other => other,
    }
}
