//! Errors as JSON: `{"error": "what is wrong"}` with the fitting status, whoever refused the
//! request: the handlers, axum's extractors (a malformed query or path), its router (405).
//! Said in English, or in Italian to a request whose `Accept-Language` puts Italian first (the
//! pages send their language): every refusal a page can meet has its Italian text.

use super::italian;
use crate::acd::AcdError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The same in Italian, for the pages.
    pub italian: Option<String>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), italian: None, retry_after: None }
    }

    /// The same error in Italian.
    pub fn it(self, italian: impl Into<String>) -> Self {
        Self { italian: Some(italian.into()), ..self }
    }

    /// 429: password checks for this account or address are locked for `seconds`.
    pub fn locked(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many wrong passwords: sign-in is locked for {seconds} s; ask an administrator if this is not you"
                ),
            )
            .it(format!(
                "troppe password errate: l'accesso è bloccato per {seconds} s; se non è stato Lei, avvisi un amministratore"
            ))
        }
    }

    /// 422: a well-formed request with something to fix, said in `message`.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "log in with your operator user name and password (HTTP Basic)")
            .it("accesso necessario: nome utente e password")
    }
}

impl From<AcdError> for ApiError {
    fn from(e: AcdError) -> Self {
        if let AcdError::Unavailable(_) = e {
            // Another node is taking the distribution over: a few seconds.
            let error = Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).it(italian::acd(&e));
            return Self { retry_after: Some(3), ..error };
        }
        let status = match e {
            AcdError::UnknownOperator(_) | AcdError::UnknownCall(_) => StatusCode::NOT_FOUND,
            AcdError::UnknownSection(_) | AcdError::NotSkilled { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AcdError::NotConnected(_) | AcdError::AlreadyQueued(_) | AcdError::LoggedOut(_) | AcdError::Busy(_) => {
                StatusCode::CONFLICT
            }
            AcdError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string()).it(italian::acd(&e))
    }
}

/// The Italian text of an error, carried from the handler to [`errors_in_json`].
#[derive(Clone)]
struct Italian(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(italian) = self.italian {
            r.extensions_mut().insert(Italian(italian));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"centralino\""));
        }
        if let Some(seconds) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        r
    }
}

/// Whether a request's `Accept-Language` puts Italian first.
fn wants_italian(req: &axum::extract::Request) -> bool {
    let first =
        req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next());
    first.is_some_and(|tag| {
        let tag = tag.split(';').next().unwrap_or_default().trim();
        tag.eq_ignore_ascii_case("it") || tag.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("it-"))
    })
}

/// Rewrite any error response that is not JSON yet (axum's own rejections answer plain text
/// or nothing) into the JSON shape, keeping its status and headers; in Italian when the
/// request asks for it and the error has its Italian text.
pub async fn errors_in_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let italian = wants_italian(&req);
    let mut r = next.run(req).await;
    if italian && let Some(Italian(text)) = r.extensions_mut().remove::<Italian>() {
        let (mut parts, _) = r.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::from(serde_json::json!({ "error": text }).to_string()));
    }
    let status = r.status();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED if italian => format!("{method} non è consentito qui"),
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed here"),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text,
    };
    let json = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}
