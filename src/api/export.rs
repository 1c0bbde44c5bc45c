//! CSV exports for administrators: every ticket, and the call records with their outcomes.
//! Written for the spreadsheets of Italian offices: `;` between fields and a UTF-8 byte order
//! mark (what Excel set to Italian opens as columns, accents intact), times in UTC as in the
//! JSON API.

use super::ApiState;
use super::auth::{Principal, Role};
use super::error::ApiError;
use crate::cases::ticket::{ChangeKind, TicketStatus};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use std::collections::HashMap;

fn administrators_only(p: &Principal) -> Result<(), ApiError> {
    if p.role == Role::Administrator {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::FORBIDDEN, "exports are for administrators")
        .it("le esportazioni sono per gli amministratori"))
}

/// A cell a spreadsheet would run as a formula (`=`, `@`, or a sign not followed by a digit:
/// "+39..." stays a phone number) gets a leading apostrophe.
fn cell(text: &str) -> String {
    let mut chars = text.chars();
    let risky = match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if risky { format!("'{text}") } else { text.to_string() }
}

/// A unit enum's serde name (`income_support`), or a tagged one's `kind`.
fn word(v: impl Serialize) -> String {
    match serde_json::to_value(v).unwrap_or_default() {
        serde_json::Value::String(s) => s,
        other => other["kind"].as_str().or(other["outcome"].as_str()).unwrap_or_default().to_string(),
    }
}

/// Rows to CSV, as a download named `name`.
fn csv_file(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<impl IntoResponse + use<>, ApiError> {
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |e: csv::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the CSV: {e}"));
    w.write_record(header).map_err(fail)?;
    for row in rows {
        w.write_record(row.iter().map(|c| cell(c))).map_err(fail)?;
    }
    let body = w.into_inner().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    ))
}

/// `GET /api/export/tickets.csv`: every ticket, oldest first, with its answer or return.
pub async fn tickets(State(state): State<ApiState>, p: Principal) -> Result<impl IntoResponse, ApiError> {
    administrators_only(&p)?;
    let mut all = state.store.tickets(None, &TicketStatus::ALL).await?;
    all.sort_by(|a, b| (a.opened, &a.number).cmp(&(b.opened, &b.number)));
    let rows = all
        .into_iter()
        .map(|t| {
            let (mut done_at, mut answer, mut contact, mut reason) = Default::default();
            for h in &t.history {
                match &h.what {
                    ChangeKind::Answered { answer: a, contact: c } => {
                        (done_at, answer, contact) = (h.at.to_rfc3339(), a.clone(), word(c));
                    }
                    ChangeKind::Returned { reason: r } => (done_at, reason) = (h.at.to_rfc3339(), r.clone()),
                    _ => {}
                }
            }
            let f = t.fields;
            vec![
                t.number,
                t.opened.to_rfc3339(),
                f.region,
                word(f.section),
                t.status.name().to_string(),
                t.officer.unwrap_or_default(),
                f.ccm_section,
                f.opened_by,
                f.caller,
                f.codice_fiscale,
                f.question,
                f.call_id.unwrap_or_default(),
                done_at,
                answer,
                contact,
                reason,
            ]
        })
        .collect();
    let header = [
        "number",
        "opened",
        "region",
        "section",
        "status",
        "officer",
        "ccm_section",
        "opened_by",
        "caller",
        "codice_fiscale",
        "question",
        "call_id",
        "answered_or_returned",
        "answer",
        "contact",
        "return_reason",
    ];
    csv_file("linea-inps-tickets.csv", &header, rows)
}

/// `GET /api/export/calls.csv`: the call records kept, oldest first, with the outcome the
/// operator set.
pub async fn calls(State(state): State<ApiState>, p: Principal) -> Result<impl IntoResponse, ApiError> {
    administrators_only(&p)?;
    let records = super::calls::call_log(&state, None).await?;
    let since = records.iter().map(|r| r.arrived).min().unwrap_or_default();
    let outcomes: HashMap<String, _> =
        state.store.call_outcomes(since).await?.into_iter().map(|o| (o.call_id.clone(), o)).collect();
    let rows = records
        .into_iter()
        .map(|r| {
            let ending = serde_json::to_value(&r.ending).unwrap_or_default();
            let outcome = outcomes.get(&r.call_id);
            vec![
                r.call_id.clone(),
                r.arrived.to_rfc3339(),
                r.answered.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.ended.to_rfc3339(),
                r.origin.caller,
                r.origin.number,
                r.origin.province.unwrap_or_default(),
                r.origin.region.unwrap_or_default(),
                r.language.map(word).unwrap_or_default(),
                r.path.join(" > "),
                r.keys,
                word(&r.ending),
                ending["section"].as_str().unwrap_or_default().to_string(),
                ending["operator"].as_str().unwrap_or_default().to_string(),
                outcome.map(|o| word(o.outcome)).unwrap_or_default(),
                outcome.map(|o| o.note.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "call_id", "arrived", "answered", "ended", "caller", "number", "province", "region", "language", "path",
        "keys", "ending", "section", "operator", "outcome", "note",
    ];
    csv_file("calls.csv", &header, rows)
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_defused_and_phone_numbers_kept() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-cmd"), "'-cmd");
        assert_eq!(cell("+393331234567"), "+393331234567");
        assert_eq!(cell("-5"), "-5");
        assert_eq!(cell("Quando sarà pagata?"), "Quando sarà pagata?");
    }
}
