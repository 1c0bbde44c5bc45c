//! Agencies' agendas and appointments: free slots (the agencies of the caller's province
//! first, within each agenda's booking horizon), booking (atomic: one slot, one appointment),
//! cancelling and moving. Operators book and read appointments, administrators read them;
//! back-office officers work tickets and have no need of citizens' appointments.

use super::ApiState;
use super::auth::{OperatorId, Principal, Role};
use super::body::JsonBody;
use super::error::ApiError;
use super::italian;
use crate::calendar::TIME_ZONE;
use crate::cases::agenda;
use crate::cases::appointment::{Appointment, Mode, NewAppointment};
use crate::cases::{StoreError, codice_fiscale};
use crate::config::{Agency, Config};
use crate::updates::Change;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

fn now_local() -> NaiveDateTime {
    Utc::now().with_timezone(&TIME_ZONE).naive_local()
}

fn agency<'c>(config: &'c Config, id: &str) -> Result<&'c Agency, ApiError> {
    config.agencies.iter().find(|a| a.id.get_ref() == id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no agency {id:?}")).it(format!("la sede {id} non esiste"))
    })
}

/// An agency as listed.
#[derive(Serialize)]
pub struct AgencyView {
    id: String,
    name: String,
    province: String,
    address: String,
    slot_minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgenciesQuery {
    /// The caller's province (sigla): its agencies come first.
    province: Option<String>,
}

/// `GET /api/agencies?province=LT`.
pub async fn agencies(
    State(state): State<ApiState>,
    _: Principal,
    Query(q): Query<AgenciesQuery>,
) -> Json<Vec<AgencyView>> {
    let loaded = state.live.current();
    let mut list: Vec<&Agency> = loaded.switchboard.config.agencies.iter().collect();
    list.sort_by_key(|a| (q.province.as_deref() != Some(a.province.get_ref().as_str()), a.name.clone()));
    Json(
        list.into_iter()
            .map(|a| AgencyView {
                id: a.id.get_ref().clone(),
                name: a.name.clone(),
                province: a.province.get_ref().clone(),
                address: a.address.clone(),
                slot_minutes: *a.slot_minutes.get_ref(),
            })
            .collect(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// First day (default today).
    from: Option<NaiveDate>,
    /// Days (default 7, at most 31).
    days: Option<u32>,
}

/// `GET /api/agencies/{id}/slots?from=2026-11-24&days=7`: the free slots (local times).
pub async fn free_slots(
    State(state): State<ApiState>,
    _: Principal,
    Path(id): Path<String>,
    Query(q): Query<SlotsQuery>,
) -> Result<Json<Vec<NaiveDateTime>>, ApiError> {
    let days = q.days.unwrap_or(7);
    if !(1..=31).contains(&days) {
        return Err(ApiError::unprocessable("days: 1 to 31").it("giorni: da 1 a 31"));
    }
    let loaded = state.live.current();
    let a = agency(&loaded.switchboard.config, &id)?;
    let now = now_local();
    let from = q.from.unwrap_or(now.date());
    let last_day = agenda::last_day(a, now.date());
    let mut slots = agenda::slots(a, from, days);
    slots.retain(|s| s.date() <= last_day);
    let (Some(first), Some(last)) = (slots.first().copied(), slots.last().copied()) else { return Ok(Json(vec![])) };
    let booked = state.store.booked_slots(&id, first, last + chrono::Duration::minutes(1)).await?;
    Ok(Json(slots.into_iter().filter(|s| *s >= now && !booked.contains(s)).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    agency: String,
    /// `YYYY-MM-DDTHH:MM:SS`, Europe/Rome local time.
    start: NaiveDateTime,
    codice_fiscale: String,
    phone: String,
    subject: String,
    mode: Mode,
    call_id: Option<String>,
}

/// `POST /api/appointments`: book a free slot; 201, or 409 when someone was faster.
pub async fn book(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    JsonBody(body): JsonBody<BookBody>,
) -> Result<(StatusCode, Json<Appointment>), ApiError> {
    let codice_fiscale = codice_fiscale::validate(&body.codice_fiscale)
        .map_err(|e| ApiError::unprocessable(format!("codice_fiscale: {e}")).it(italian::codice_fiscale(&e)))?;
    if body.subject.trim().is_empty() || body.subject.len() > 1000 {
        return Err(ApiError::unprocessable("subject: what the appointment is about (1 to 1000 characters)")
            .it("oggetto: di che cosa tratta l'appuntamento (da 1 a 1000 caratteri)"));
    }
    if body.phone.trim().is_empty() || body.phone.len() > 64 {
        return Err(ApiError::unprocessable("phone: the citizen's number (1 to 64 characters)")
            .it("telefono: il numero del cittadino (da 1 a 64 caratteri)"));
    }
    {
        let loaded = state.live.current();
        let a = agency(&loaded.switchboard.config, &body.agency)
            .map_err(|e| ApiError::unprocessable(format!("agency: {}", e.message)))?;
        agenda::check(a, body.start, now_local())
            .map_err(|e| ApiError::unprocessable(format!("start: {e}")).it(italian::agenda(&e)))?;
    }
    let new = NewAppointment {
        agency: body.agency,
        start: body.start,
        codice_fiscale,
        phone: body.phone.trim().into(),
        subject: body.subject.trim().into(),
        mode: body.mode,
        call_id: body.call_id,
        booked_by: op,
    };
    let a = state.store.book_appointment(new, Utc::now()).await?;
    tracing::info!(id = %a.id, agency = %a.fields.agency, start = %a.fields.start, "appointment booked");
    state.events.publish(Change::Appointment(Box::new(a.clone())));
    Ok((StatusCode::CREATED, Json(a)))
}

/// 403 for a member of another agency's staff.
fn not_your_agency() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "this is another agency's agenda").it("è l'agenda di un'altra sede")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaQuery {
    /// The day (default today, in Italy).
    date: Option<NaiveDate>,
}

/// `GET /api/agencies/{id}/agenda?date=2026-12-09`: the agency's appointments of the day, by
/// time, for its staff and administrators.
pub async fn agenda(
    State(state): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<AgendaQuery>,
) -> Result<Json<Vec<Appointment>>, ApiError> {
    match &p.role {
        Role::Administrator => {}
        Role::AgencyStaff { agency } if *agency == id => {}
        Role::AgencyStaff { .. } => return Err(not_your_agency()),
        Role::Operator | Role::Officer { .. } => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "an agency's agenda is for its staff and administrators")
                .it("l'agenda di una sede è per il suo personale e gli amministratori"));
        }
    }
    agency(&state.live.current().switchboard.config, &id)?;
    let day = q.date.unwrap_or_else(|| now_local().date());
    let from = day.and_hms_opt(0, 0, 0).expect("midnight");
    Ok(Json(state.store.agenda(&id, from, from + chrono::Days::new(1)).await?))
}

/// `GET /api/appointments/{id}` (operators, administrators, the agency's staff).
pub async fn one(
    State(state): State<ApiState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    if let Role::Officer { .. } = p.role {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "appointments are for the contact center's operators")
            .it("gli appuntamenti sono per gli operatori del contact center"));
    }
    let found = state.store.appointment(&id).await?;
    match (found, &p.role) {
        (Some(a), Role::AgencyStaff { agency }) if *agency != a.fields.agency => Err(not_your_agency()),
        (found, _) => found.map(Json).ok_or_else(|| ApiError::from(StoreError::NoAppointment(id))),
    }
}

/// `POST /api/appointments/{id}/cancel`.
pub async fn cancel(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, ApiError> {
    let a = state.store.cancel_appointment(&id, &op, Utc::now()).await?;
    state.events.publish(Change::Appointment(Box::new(a.clone())));
    Ok(Json(a))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    start: NaiveDateTime,
}

/// `POST /api/appointments/{id}/reschedule` `{"start": ...}`: to another free slot of the agency.
pub async fn reschedule(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RescheduleBody>,
) -> Result<Json<Appointment>, ApiError> {
    let current =
        state.store.appointment(&id).await?.ok_or_else(|| ApiError::from(StoreError::NoAppointment(id.clone())))?;
    {
        let loaded = state.live.current();
        let a = agency(&loaded.switchboard.config, &current.fields.agency)?;
        agenda::check(a, body.start, now_local())
            .map_err(|e| ApiError::unprocessable(format!("start: {e}")).it(italian::agenda(&e)))?;
    }
    let a = state.store.reschedule_appointment(&id, body.start, &op, Utc::now()).await?;
    state.events.publish(Change::Appointment(Box::new(a.clone())));
    Ok(Json(a))
}
