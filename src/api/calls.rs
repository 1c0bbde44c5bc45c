//! Calls' outcomes: the operator who took a call records how it ended (during the call or in
//! wrap-up, corrections kept); the day's outcomes per section for the wallboard.

use super::ApiState;
use super::auth::{OperatorId, Principal, Role};
use super::body::JsonBody;
use super::error::ApiError;
use super::store_call::blocking;
use crate::calendar::TIME_ZONE;
use crate::cases::call_outcome::{CallOutcome, Outcome};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
        return Err(ApiError::unprocessable(format!("note: at most {MAX_NOTE} characters")));
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
    let store = state.store.clone();
    let stored = blocking(move || store.set_call_outcome(outcome)).await?;
    tracing::info!(call = %stored.call_id, outcome = stored.outcome.name(), operator = %stored.by, "call outcome");
    Ok(Json(stored))
}

/// `GET /api/calls/{call_id}/outcome`: operators and administrators.
pub async fn get(
    State(state): State<ApiState>,
    p: Principal,
    Path(call_id): Path<String>,
) -> Result<Json<CallOutcome>, ApiError> {
    if matches!(p.role, Role::Officer { .. }) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "calls' outcomes are for the contact center's operators"));
    }
    let store = state.store.clone();
    let id = call_id.clone();
    blocking(move || store.call_outcome(&id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no outcome is set for call {call_id:?}")))
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
    let store = state.store.clone();
    let all = blocking(move || store.call_outcomes(since)).await?;
    let mut by_section: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    for o in all {
        *by_section.entry(o.section).or_default().entry(o.outcome.name()).or_default() += 1;
    }
    Ok(Json(by_section.into_iter().map(|(section, outcomes)| SectionOutcomes { section, outcomes }).collect()))
}
