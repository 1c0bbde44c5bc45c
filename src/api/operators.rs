//! Operators' own state and commands, the operators' board and the sections' figures.

use super::ApiState;
use super::auth::{OperatorId, Principal, Role};
use super::error::ApiError;
use crate::acd::host::OperatorView;
use crate::acd::{CallbackView, Event, Route, SectionStats};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

async fn view(state: &ApiState, operator: &str) -> Result<OperatorView, ApiError> {
    let (_, operators) = state.acd.stats().await;
    operators.into_iter().find(|o| o.operator == operator).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("operator {operator:?} is not in the distribution"))
            .it(format!("l'operatore {operator} non è nella distribuzione"))
    })
}

/// `GET /api/operator`: the caller's own state.
pub async fn me(State(state): State<ApiState>, OperatorId(op): OperatorId) -> Result<Json<OperatorView>, ApiError> {
    Ok(Json(view(&state, &op).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The sections to serve (default: all of the operator's).
    sections: Option<Vec<String>>,
}

/// `POST /api/operator/login` `{"sections": [...]}` (body optional).
pub async fn login(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    body: Option<Json<LoginBody>>,
) -> Result<Json<OperatorView>, ApiError> {
    let sections = body.map(|b| b.0.sections).unwrap_or_default();
    state.acd.command(Event::Login { operator: op.clone(), sections }).await?;
    Ok(Json(view(&state, &op).await?))
}

/// `POST /api/operator/logout` (refused during a call).
pub async fn logout(State(state): State<ApiState>, OperatorId(op): OperatorId) -> Result<Json<OperatorView>, ApiError> {
    state.acd.command(Event::Logout { operator: op.clone() }).await?;
    Ok(Json(view(&state, &op).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    reason: String,
}

/// `POST /api/operator/pause` `{"reason": "..."}`: during a call, the pause starts after it.
pub async fn pause(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Json(body): Json<PauseBody>,
) -> Result<Json<OperatorView>, ApiError> {
    let reason = body.reason.trim().to_string();
    if reason.is_empty() || reason.len() > 100 {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "give a reason of 1 to 100 characters")
            .it("indichi un motivo da 1 a 100 caratteri"));
    }
    state.acd.command(Event::Pause { operator: op.clone(), reason }).await?;
    Ok(Json(view(&state, &op).await?))
}

/// `POST /api/operator/ready`: available again (from a pause, or ending wrap-up early).
pub async fn ready(State(state): State<ApiState>, OperatorId(op): OperatorId) -> Result<Json<OperatorView>, ApiError> {
    state.acd.command(Event::Ready { operator: op.clone() }).await?;
    Ok(Json(view(&state, &op).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    section: Option<String>,
    node: Option<String>,
}

/// `POST /api/operator/transfer` `{"section": "pensions"}` or `{"node": "main_menu"}`: the
/// operator's connected caller goes to another queue (keeping their arrival time) or back to
/// the voice portal.
pub async fn transfer(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Json(body): Json<TransferBody>,
) -> Result<Json<OperatorView>, ApiError> {
    let to = match (body.section, body.node) {
        (Some(s), None) => Route::Section(s),
        (None, Some(n)) => Route::Node(n),
        _ => {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "give exactly one of section or node")
                .it("indichi una sezione oppure un punto del portale"));
        }
    };
    let me = view(&state, &op).await?;
    let call = match (me.state.as_str(), me.call) {
        ("on_call", Some(call)) => call,
        _ => {
            return Err(ApiError::new(StatusCode::CONFLICT, "you have no call in progress to transfer")
                .it("non ha una chiamata in corso da trasferire"));
        }
    };
    if let Route::Node(n) = &to {
        // The caller goes on in the tree of their call: the node must be one of its.
        let loaded = state.live.current();
        let tree = state.events.call_of(&op).map(|p| p.tree);
        let tree = tree.as_ref().and_then(|t| loaded.switchboard.trees.get(t));
        let known = match tree {
            Some(t) => t.def.nodes.contains_key(n.as_str()),
            None => loaded.switchboard.trees.values().any(|t| t.def.nodes.contains_key(n.as_str())),
        };
        if !known {
            let of = tree.map_or("any tree".to_string(), |t| format!("the caller's tree {}", t.name));
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{of} has no node {n:?}"))
                .it(format!("il portale non ha il punto {n}")));
        }
    }
    state.acd.command(Event::Transfer { call, to }).await?;
    Ok(Json(view(&state, &op).await?))
}

/// `GET /api/operator/call`: who is calling, for the operator's call in progress (404 without).
pub async fn call(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
) -> Result<Json<crate::vocabulary::CallPop>, ApiError> {
    state
        .events
        .call_of(&op)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no call in progress").it("nessuna chiamata in corso"))
}

/// `GET /api/operator/last-call`: the operator's latest call, in progress or ended (404 before
/// the first): a console opened in wrap-up still sets its outcome.
pub async fn last_call(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
) -> Result<Json<crate::vocabulary::CallPop>, ApiError> {
    state.events.last_call_of(&op).map(Json).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no call since the engine started")
            .it("nessuna chiamata dall'avvio del centralino")
    })
}

/// `GET /api/operators`: every operator's state.
pub async fn all(State(state): State<ApiState>, _: Principal) -> Json<Vec<OperatorView>> {
    Json(state.acd.stats().await.1)
}

/// `GET /api/sections`: each section's figures now (the callback requests' numbers are not
/// among them: `GET /api/callbacks`).
pub async fn sections(State(state): State<ApiState>, _: Principal) -> Json<Vec<SectionStats>> {
    let mut sections = state.acd.stats().await.0;
    sections.iter_mut().for_each(|s| s.requests.clear());
    Json(sections)
}

/// The sections whose callback requests `who` may see and cancel: an operator's own, every
/// section for an administrator; none for the other roles.
fn callback_sections(state: &ApiState, who: &Principal) -> Result<Option<Vec<String>>, ApiError> {
    match who.role {
        Role::Administrator => Ok(None),
        Role::Operator => {
            let config = &state.live.current().switchboard.config;
            Ok(Some(config.operator_skills().remove(&who.user).unwrap_or_default()))
        }
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, "callback requests are for operators and administrators")
            .it("le richiamate sono per gli operatori e gli amministratori")),
    }
}

/// `GET /api/callbacks`: the pending callback requests of the operator's sections (every
/// section for an administrator), each section's in order.
pub async fn callbacks(State(state): State<ApiState>, who: Principal) -> Result<Json<Vec<CallbackView>>, ApiError> {
    let sections = callback_sections(&state, &who)?;
    let all = state.acd.stats().await.0;
    let mine = all.into_iter().filter(|s| sections.as_ref().is_none_or(|own| own.contains(&s.section)));
    Ok(Json(mine.flat_map(|s| s.requests).collect()))
}

/// `POST /api/callbacks/{call}/cancel`: end a pending request (the citizen is not called).
pub async fn cancel_callback(
    State(state): State<ApiState>,
    who: Principal,
    Path(call): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sections = callback_sections(&state, &who)?;
    let all = state.acd.stats().await.0;
    let found = all.iter().flat_map(|s| &s.requests).find(|r| r.call == call);
    let Some(request) = found.filter(|r| sections.as_ref().is_none_or(|own| own.contains(&r.section))) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no pending callback request {call:?}"))
            .it("nessuna richiamata in attesa con questo identificativo"));
    };
    let section = request.section.clone();
    state.acd.command(Event::CancelCallback { call: call.clone(), by: who.user.clone() }).await?;
    tracing::info!(%call, %section, by = %who.user, "callback request cancelled");
    Ok(Json(serde_json::json!({"call": call, "cancelled": true})))
}
