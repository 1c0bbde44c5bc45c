//! The HTTP API (axum, JSON): operators log in and out of their sections, pause, go ready,
//! transfer their caller, open Linea INPS tickets, book appointments and set their calls'
//! outcomes; officers work their region's tickets; everyone authenticated sees the sections'
//! figures, the operators' states and the tickets their role allows. Authentication is HTTP Basic with the operators' credentials from the configuration
//! (checked against the stored digest hash, so no password is stored).

mod appointments;
mod auth;
mod body;
mod calls;
pub mod connections;
mod error;
pub mod events;
mod export;
mod italian;
pub mod metrics;
mod names;
mod operators;
mod pages;
mod phone;
pub mod session;
mod store_errors;
mod tickets;
pub mod tls;

use crate::acd::host::AcdHandle;
use crate::calls::OperatorLeg;
use crate::cases::CaseStore;
use crate::live::Live;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub live: Arc<Live>,
    pub acd: AcdHandle<OperatorLeg>,
    pub store: Arc<dyn CaseStore>,
    pub sessions: Arc<session::Sessions>,
    /// Live updates for the pages.
    pub events: Arc<crate::updates::Updates>,
    /// The call records (`GET /api/calls`): the data directory's, or every node's.
    pub records: Arc<crate::records::Records>,
    /// The copy of the outcomes for `centralino calls`.
    pub outcome_log: crate::cases::outcome_log::OutcomeLog,
    /// Limits on password guessing, shared with SIP.
    pub guard: Arc<crate::password_guard::host::SharedGuard>,
    /// For the metrics: the HTTP connections and the malformed SIP seen.
    pub connections: Arc<connections::ConnectionCounts>,
    pub sip_faults: Arc<crate::sip::guard::FaultCounts>,
    /// Told when an administrator asks the engine to drain and stop.
    pub drain: Arc<tokio::sync::Notify>,
    /// Set once the engine drains: it takes no new calls (`/readyz` says so).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// What `/metrics` reads besides the above.
    pub metrics: metrics::Sources,
    /// HTTPS (none: plain HTTP on loopback); the session cookie is `Secure` with it.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The consoles' phones (`/api/phone`).
    pub phones: Arc<crate::browser_phone::BrowserPhones>,
}

/// The routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/session", post(session::sign_in).get(session::whoami).delete(session::sign_out))
        .route("/api/operator", get(operators::me))
        .route("/api/operator/login", post(operators::login))
        .route("/api/operator/logout", post(operators::logout))
        .route("/api/operator/pause", post(operators::pause))
        .route("/api/operator/ready", post(operators::ready))
        .route("/api/operator/transfer", post(operators::transfer))
        .route("/api/operator/call", get(operators::call))
        .route("/api/operator/last-call", get(operators::last_call))
        .route("/api/phone", post(phone::connect).delete(phone::disconnect))
        .route("/api/operators", get(operators::all))
        .route("/api/sections", get(operators::sections))
        .route("/api/callbacks", get(operators::callbacks))
        .route("/api/callbacks/{call}/cancel", post(operators::cancel_callback))
        .route("/api/names", get(names::names))
        .route("/api/tickets", post(tickets::create).get(tickets::list))
        .route("/api/tickets/summary", get(tickets::summary))
        .route("/api/tickets/{number}", get(tickets::one))
        .route("/api/tickets/{number}/{action}", post(tickets::work))
        .route("/api/calls", get(calls::recent))
        .route("/api/calls/outcomes", get(calls::today))
        .route("/api/calls/{call_id}/outcome", post(calls::set).get(calls::get))
        .route("/api/events", get(events::stream))
        .route("/backoffice", get(pages::backoffice))
        .route("/console", get(pages::console))
        .route("/wallboard", get(pages::wallboard))
        .route("/pages/common.js", get(pages::common_js))
        .route("/pages/phone.js", get(pages::phone_js))
        .route("/api/openapi.json", get(pages::openapi))
        .route("/api/metrics", get(metrics::metrics))
        .route("/metrics", get(metrics::open))
        .route("/api/drain", post(drain))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/agencies", get(appointments::agencies))
        .route("/api/agencies/{id}/slots", get(appointments::free_slots))
        .route("/api/agencies/{id}/agenda", get(appointments::agenda))
        .route("/agenda", get(pages::agenda))
        .route("/api/export/tickets.csv", get(export::tickets))
        .route("/api/export/calls.csv", get(export::calls))
        .route("/api/appointments", post(appointments::book))
        .route("/api/appointments/{id}", get(appointments::one))
        .route("/api/appointments/{id}/cancel", post(appointments::cancel))
        .route("/api/appointments/{id}/reschedule", post(appointments::reschedule))
        .fallback(no_such_path)
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY))
        .layer(axum::middleware::from_fn(no_basic_prompt_for_pages))
        .layer(axum::middleware::from_fn(error::errors_in_json))
        .with_state(state)
}

/// `GET /healthz`: the engine is up and its HTTP side answers (for a supervisor or a load
/// balancer; no sign-in, nothing but the status).
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 while the engine takes new calls, 503 once it drains (no sign-in).
async fn readyz(axum::extract::State(state): axum::extract::State<ApiState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        let body = serde_json::json!({ "ready": false, "why": "draining: no new calls" });
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    } else {
        axum::Json(serde_json::json!({ "ready": true })).into_response()
    }
}

/// `POST /api/drain` (administrators): stop taking calls, let those in progress finish (at most
/// `sip.drain_seconds`), then stop, as on SIGTERM. 202: the drain has begun.
async fn drain(
    axum::extract::State(state): axum::extract::State<ApiState>,
    p: auth::Principal,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), error::ApiError> {
    if p.role != auth::Role::Administrator {
        return Err(error::ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "draining the switchboard is for administrators",
        ));
    }
    tracing::warn!(by = %p.user, "drain asked: new calls are refused, the engine stops when the calls in progress end");
    state.drain.notify_one();
    Ok((axum::http::StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "draining": true }))))
}

async fn no_such_path(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(axum::http::StatusCode::NOT_FOUND, format!("no such path: {}", uri.path()))
}

/// The pages mark their requests with `X-Requested-With`: their 401s carry no Basic challenge,
/// which would make the browser pop up its own password dialog over the page's sign-in form.
/// The pages' event streams cannot set headers; they are known by their `Accept`.
async fn no_basic_prompt_for_pages(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let accept = req.headers().get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let from_page = req.headers().contains_key("x-requested-with") || accept.contains("text/event-stream");
    let mut r = next.run(req).await;
    if from_page {
        r.headers_mut().remove(axum::http::header::WWW_AUTHENTICATE);
    }
    r
}

/// Serve the API on `listener` under `limits` until `cancel`.
pub fn spawn(
    listener: TcpListener,
    state: ApiState,
    limits: connections::Limits,
    cancel: tokio_util::sync::CancellationToken,
) {
    let counts = Arc::clone(&state.connections);
    let tls = state.tls.clone();
    tokio::spawn(connections::serve(listener, router(state), limits, tls, counts, cancel));
}
