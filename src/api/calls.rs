//! Calls: the latest records of the call log with their outcomes; the outcome the operator who
//! took a call records (during the call or in wrap-up, corrections kept); the day's outcomes
//! per section for the wallboard.

use super::ApiState;
use super::auth::{OperatorId, Principal, Role};
use super::body::JsonBody;
use super::error::ApiError;
use crate::calendar::TIME_ZONE;
use crate::calls::CallRecord;
use crate::cases::call_outcome::{CallOutcome, Outcome};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Calls are the contact center's: operators and administrators see them, officers and agency
/// staff do not.
fn contact_center_only(p: &Principal, what: &str) -> Result<(), ApiError> {
    match p.role {
        Role::Officer { .. } | Role::AgencyStaff { .. } => {
            Err(ApiError::new(StatusCode::FORBIDDEN, format!("{what} is for the contact center's operators"))
                .it("riservato agli operatori del contact center"))
        }
        Role::Operator | Role::Administrator => Ok(()),
    }
}

/// Calls listed at most.
const MAX_LAST: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    /// How many of the latest calls (default 50, at most 1000).
    last: Option<usize>,
}

/// A finished call and the outcome its operator set.
#[derive(Debug, Serialize)]
pub struct CallView {
    #[serde(flatten)]
    pub record: CallRecord,
    pub outcome: Option<CallOutcome>,
}

/// `GET /api/calls?last=50`: the latest finished calls, newest last, each with its outcome.
/// Operators and administrators.
pub async fn recent(
    State(state): State<ApiState>,
    p: Principal,
    Query(q): Query<RecentQuery>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    contact_center_only(&p, "the call log")?;
    let last = q.last.unwrap_or(50);
    if last == 0 || last > MAX_LAST {
        return Err(ApiError::unprocessable(format!("last: 1 to {MAX_LAST} calls")));
    }
    let records = call_log(&state, Some(last)).await?;
    let mut views = Vec::with_capacity(records.len());
    for record in records {
        views.push(CallView { outcome: state.store.call_outcome(&record.call_id).await?, record });
    }
    Ok(Json(views))
}

/// The call records kept (the `last` ones), oldest first; 503 while they cannot be read.
pub(super) async fn call_log(state: &ApiState, last: Option<usize>) -> Result<Vec<CallRecord>, ApiError> {
    let (records, _) = state.records.calls(last).await.map_err(|e| ApiError {
        retry_after: Some(3),
        ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the call log: {e}"))
            .it("il registro delle chiamate non risponde: riprovi tra qualche secondo")
    })?;
    Ok(records)
}

/// Longest note kept.
const MAX_NOTE: usize = 1000;

/// `POST /api/calls/{call_id}/outcome` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    outcome: Outcome,
    #[serde(default)]
    note: String,
}

/// `POST /api/calls/{call_id}/outcome`: the operator's outcome of their latest call (in
/// progress or just ended). Setting it again corrects it; the earlier one is kept.
pub async fn set(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<OutcomeBody>,
) -> Result<Json<CallOutcome>, ApiError> {
    let note = body.note.trim().to_string();
    if note.chars().count() > MAX_NOTE {
        return Err(ApiError::unprocessable(format!("note: at most {MAX_NOTE} characters"))
            .it(format!("nota: al massimo {MAX_NOTE} caratteri")));
    }
    let call = state.events.last_call_of(&op).filter(|c| c.call_id == call_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "call {call_id:?} is not your latest call: an operator sets the outcome of the call they took last"
            ),
        )
    })?;
    let outcome = CallOutcome {
        call_id,
        outcome: body.outcome,
        note,
        section: call.section,
        by: op,
        at: Utc::now(),
        earlier: vec![],
    };
    let stored = state.store.set_call_outcome(outcome).await?;
    state.outcome_log.append(stored.clone());
    tracing::info!(call = %stored.call_id, outcome = stored.outcome.name(), operator = %stored.by, "call outcome");
    Ok(Json(stored))
}

/// `GET /api/calls/{call_id}/outcome`: operators and administrators.
pub async fn get(
    State(state): State<ApiState>,
    p: Principal,
    Path(call_id): Path<String>,
) -> Result<Json<CallOutcome>, ApiError> {
    contact_center_only(&p, "a call's outcome")?;
    state.store.call_outcome(&call_id).await?.map(Json).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no outcome is set for call {call_id:?}"))
            .it("l'esito della chiamata non è ancora registrato")
    })
}

/// One section's outcomes of the day.
#[derive(Debug, Serialize)]
pub struct SectionOutcomes {
    pub section: String,
    /// Outcome name -> calls.
    pub outcomes: BTreeMap<&'static str, u32>,
}

/// `GET /api/calls/outcomes`: today's outcomes (Italian day) per section, for the wallboard.
pub async fn today(State(state): State<ApiState>, _: Principal) -> Result<Json<Vec<SectionOutcomes>>, ApiError> {
    let midnight = Utc::now().with_timezone(&TIME_ZONE).date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    let since = TIME_ZONE.from_local_datetime(&midnight).earliest().map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    let all = state.store.call_outcomes(since).await?;
    let mut by_section: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    for o in all {
        *by_section.entry(o.section).or_default().entry(o.outcome.name()).or_default() += 1;
    }
    Ok(Json(by_section.into_iter().map(|(section, outcomes)| SectionOutcomes { section, outcomes }).collect()))
}
