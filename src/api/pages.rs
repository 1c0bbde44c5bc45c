//! The web pages the engine serves: plain HTML and JavaScript compiled into the binary (no build
//! step, nothing to deploy beside the engine). They use only the JSON API and /api/events.

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// `GET /backoffice`: the regional back office (officers sign in on the page).
pub async fn backoffice() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        Html(include_str!("pages/backoffice.html")),
    )
}

/// `GET /console`: the operator's console (operators sign in on the page).
pub async fn console() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        Html(include_str!("pages/console.html")),
    )
}

/// `GET /agenda`: an agency's appointments of a day, printable (its staff and administrators).
pub async fn agenda() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        Html(include_str!("pages/agenda.html")),
    )
}

/// `GET /wallboard`: supervisors' view of the sections, the operators and the tickets.
pub async fn wallboard() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        Html(include_str!("pages/wallboard.html")),
    )
}

/// `GET /pages/common.js`: the helpers the pages share.
pub async fn common_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("pages/common.js"),
    )
}

/// `GET /pages/phone.js`: the console's phone in the browser.
pub async fn phone_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("pages/phone.js"),
    )
}

/// `GET /api/openapi.json`: the OpenAPI 3.1 description of the API (written by hand beside the
/// routes; `tests/openapi.rs` checks that every route is described and nothing else).
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json"))
}
