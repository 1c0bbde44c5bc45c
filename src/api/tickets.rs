//! Linea INPS tickets: operators open them (during or after a call) and read them; back-office
//! officers see and work only their region's (take, release, answer, return); administrators
//! read every region's.

use super::ApiState;
use super::auth::{OperatorId, Principal, Role};
use super::body::{BodyBytes, JsonBody, from_json};
use super::error::ApiError;
use super::italian;
use crate::cases::store::TicketChange;
use crate::cases::ticket::{Contact, NewTicket, TicketError};
use crate::cases::{StoreError, Ticket, TicketStatus, codice_fiscale};
use crate::config::{Config, TicketSection};
use crate::updates::Change;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

/// `POST /api/tickets` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    /// The call it comes from (SIP Call-ID), if any.
    call_id: Option<String>,
    /// The caller's number.
    caller: String,
    codice_fiscale: String,
    question: String,
    /// The contact-center section of the call.
    ccm_section: String,
    /// The number the citizen called: its province's region is the default regional centre.
    number: Option<String>,
    /// The regional centre (a region id); default: the region of `number`.
    region: Option<String>,
    /// The centre's section; default: the one `ccm_section` maps to.
    section: Option<TicketSection>,
}

/// Longest question kept.
const MAX_QUESTION: usize = 4000;

/// Check a body against the configuration and fill the defaults.
fn new_ticket(config: &Config, body: TicketBody, operator: String) -> Result<NewTicket, ApiError> {
    let codice_fiscale = codice_fiscale::validate(&body.codice_fiscale)
        .map_err(|e| ApiError::unprocessable(format!("codice_fiscale: {e}")).it(italian::codice_fiscale(&e)))?;
    let question = body.question.trim().to_string();
    if question.is_empty() || question.chars().count() > MAX_QUESTION {
        return Err(ApiError::unprocessable(format!(
            "question: write the citizen's question (1 to {MAX_QUESTION} characters)"
        )));
    }
    let caller = body.caller.trim().to_string();
    if caller.is_empty() || caller.len() > 64 {
        return Err(ApiError::unprocessable("caller: the caller's number (1 to 64 characters)")
            .it("chiamante: il numero di chi chiama (da 1 a 64 caratteri)"));
    }
    let ccm =
        config.sections.iter().find(|(id, _)| id.get_ref() == &body.ccm_section).map(|(_, s)| s).ok_or_else(|| {
            ApiError::unprocessable(format!("ccm_section: no section {:?} in the configuration", body.ccm_section))
                .it(format!("la sezione {} non esiste", body.ccm_section))
        })?;
    let region = match (body.region, body.number) {
        (Some(r), _) => r,
        (None, Some(n)) => {
            let normalised = crate::config::numbers::normalize_number(&n).unwrap_or(n.clone());
            let province = config
                .numbers
                .iter()
                .find(|c| c.number.get_ref() == &normalised)
                .map(|c| c.province.get_ref().clone())
                .ok_or_else(|| {
                    ApiError::unprocessable(format!("number: {n:?} is not a number of the switchboard; give region"))
                        .it(format!("il numero {n} non è del centralino: indichi la direzione regionale"))
                })?;
            config
                .provinces
                .iter()
                .find(|(id, _)| id.get_ref() == &province)
                .map(|(_, p)| p.region.get_ref().clone())
                .ok_or_else(|| {
                ApiError::unprocessable(format!("number: province {province} has no region"))
                    .it(format!("la provincia {province} non ha una regione"))
            })?
        }
        (None, None) => {
            return Err(ApiError::unprocessable("region: give the regional centre, or the number called")
                .it("indichi la direzione regionale, o il numero chiamato"));
        }
    };
    if !config.regional_centres.keys().any(|r| r.get_ref() == &region) {
        return Err(ApiError::unprocessable(format!("region: no regional centre {region:?} in the configuration"))
            .it(format!("la direzione regionale {region} non esiste")));
    }
    let section = body.section.or(ccm.ticket_section).ok_or_else(|| {
        ApiError::unprocessable(format!("section: {:?} has no default centre section; give one", body.ccm_section))
            .it("indichi l'area della direzione regionale (pensioni, prestazioni a sostegno del reddito, contribuenti)")
    })?;
    Ok(NewTicket {
        call_id: body.call_id,
        caller,
        codice_fiscale,
        question,
        ccm_section: body.ccm_section,
        region,
        section,
        opened_by: operator,
    })
}

/// `POST /api/tickets`: open a ticket; 201 with the ticket once it is durable.
pub async fn create(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    JsonBody(body): JsonBody<TicketBody>,
) -> Result<(StatusCode, Json<Ticket>), ApiError> {
    let new = new_ticket(&state.live.current().switchboard.config, body, op)?;
    let ticket = state.store.create_ticket(new, chrono::Utc::now()).await?;
    tracing::info!(number = %ticket.number, region = %ticket.fields.region, "ticket opened");
    state.events.publish(Change::Ticket(Box::new(ticket.clone())));
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// Tickets are the contact center's and the regional centres': not the agencies'.
fn not_agency_staff(p: &Principal) -> Result<(), ApiError> {
    match p.role {
        Role::AgencyStaff { .. } => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "tickets are for the contact center and the regional centres")
                .it("le pratiche sono per il contact center e le direzioni regionali"))
        }
        _ => Ok(()),
    }
}

/// Whether `p` may see tickets of `region`.
fn may_see(p: &Principal, region: &str) -> Result<(), ApiError> {
    not_agency_staff(p)?;
    match &p.role {
        Role::Officer { region: own } if own != region => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this ticket belongs to the regional centre of {region}; you work {own}'s"),
        )
        .it(format!("la pratica è della direzione regionale {region}; Lei lavora per {own}"))),
        _ => Ok(()),
    }
}

/// `GET /api/tickets/{number}`.
pub async fn one(
    State(state): State<ApiState>,
    p: Principal,
    Path(number): Path<String>,
) -> Result<Json<Ticket>, ApiError> {
    let t = state.store.ticket(&number).await?.ok_or_else(|| ApiError::from(StoreError::NotFound(number)))?;
    may_see(&p, &t.fields.region)?;
    Ok(Json(t))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    region: Option<String>,
    /// One status or several, comma-separated (`open,taken`); all when absent.
    status: Option<String>,
}

/// The statuses of `?status=open,taken`.
fn statuses(list: Option<&str>) -> Result<Vec<TicketStatus>, ApiError> {
    let Some(list) = list else { return Ok(vec![]) };
    list.split(',')
        .map(|name| {
            let name = name.trim();
            TicketStatus::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| {
                let known: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.name()).collect();
                ApiError::unprocessable(format!("status: no status {name:?}; one or more of {}", known.join(", ")))
            })
        })
        .collect()
}

/// `GET /api/tickets?region=lazio&status=open,taken`: oldest first. An officer sees their region's.
pub async fn list(
    State(state): State<ApiState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Result<axum::response::Response, ApiError> {
    not_agency_staff(&p)?;
    let region = match (&p.role, q.region) {
        (Role::Officer { region }, asked) => {
            if let Some(a) = asked {
                may_see(&p, &a)?;
            }
            Some(region.clone())
        }
        (_, asked) => asked,
    };
    let statuses = statuses(q.status.as_deref())?;
    // The store's JSON as it is: a long list is not decoded and encoded again.
    let json = state.store.tickets_json(region.as_deref(), &statuses).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// `GET /api/tickets/summary`: per region, tickets by status (an officer: their region).
pub async fn summary(
    State(state): State<ApiState>,
    p: Principal,
) -> Result<Json<std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, usize>>>, ApiError> {
    not_agency_staff(&p)?;
    let region = match &p.role {
        Role::Officer { region } => Some(region.clone()),
        _ => None,
    };
    let counts = state.store.ticket_counts(region.as_deref()).await?;
    Ok(Json(
        counts
            .into_iter()
            .map(|(region, by_status)| (region, by_status.into_iter().map(|(s, n)| (s.name(), n)).collect()))
            .collect(),
    ))
}

/// `POST /api/tickets/{number}/{action}` bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkBody {
    answer: Option<String>,
    contact: Option<Contact>,
    reason: Option<String>,
}

/// `POST /api/tickets/{number}/take|release|answer|return`: an officer of the ticket's region
/// works it. `answer` needs `{"answer", "contact"}`, `return` needs `{"reason"}`.
pub async fn work(
    State(state): State<ApiState>,
    p: Principal,
    Path((number, action)): Path<(String, String)>,
    BodyBytes(body): BodyBytes,
) -> Result<Json<Ticket>, ApiError> {
    let Role::Officer { region } = &p.role else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "tickets are worked by the back-office officers of their region",
        )
        .it("le pratiche sono lavorate dagli addetti del back office della loro regione"));
    };
    // take and release need no body; answer and return take JSON.
    let body: WorkBody = if body.iter().all(u8::is_ascii_whitespace) { WorkBody::default() } else { from_json(&body)? };
    let officer = p.user.clone();
    let now = chrono::Utc::now();
    let change: TicketChange = match action.as_str() {
        "take" => Box::new(move |t| t.take(&officer, now)),
        "release" => Box::new(move |t| t.release(&officer, now)),
        "answer" => {
            let answer = body.answer.ok_or_else(|| {
                ApiError::unprocessable("answer: write the answer given to the citizen")
                    .it("risposta: scriva la risposta data al cittadino")
            })?;
            let contact = body.contact.ok_or_else(|| {
                ApiError::unprocessable("contact: how the citizen was told (phone, email, pec, letter)")
                    .it("contatto: come è stato informato il cittadino (telefono, email, PEC, lettera)")
            })?;
            Box::new(move |t| t.answer(&officer, &answer, contact, now))
        }
        "return" => {
            let reason = body.reason.ok_or_else(|| {
                ApiError::unprocessable("reason: why the ticket goes back to the contact center")
                    .it("motivo: perché la pratica torna al contact center")
            })?;
            Box::new(move |t| t.give_back(&officer, &reason, now))
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: take, release, answer or return"),
            ));
        }
    };
    // The region is checked inside the same atomic change: nothing is written if it differs.
    let own = region.clone();
    let guarded: TicketChange = Box::new(move |t| {
        if t.fields.region != own {
            return Err(TicketError::OtherRegion { number: t.number.clone(), region: t.fields.region.clone() });
        }
        change(t)
    });
    let t = state.store.update_ticket(&number, guarded).await?;
    tracing::info!(%number, %action, officer = %p.user, "ticket worked");
    state.events.publish(Change::Ticket(Box::new(t.clone())));
    Ok(Json(t))
}
