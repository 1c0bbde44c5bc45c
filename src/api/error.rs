//! Errors as JSON: `{"error": "what is wrong"}` with the fitting status, whoever refused the
//! request: the handlers, axum's extractors (a malformed query or path), its router (405).

use crate::acd::AcdError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
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
        }
    }

    /// 422: a well-formed request with something to fix, said in `message`.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "log in with your operator user name and password (HTTP Basic)")
    }
}

impl From<AcdError> for ApiError {
    fn from(e: AcdError) -> Self {
        if let AcdError::Unavailable(_) = e {
            // Another node is taking the distribution over: a few seconds.
            return Self { retry_after: Some(3), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()) };
        }
        let status = match e {
            AcdError::UnknownOperator(_) | AcdError::UnknownCall(_) => StatusCode::NOT_FOUND,
            AcdError::UnknownSection(_) | AcdError::NotSkilled { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AcdError::NotConnected(_) | AcdError::AlreadyQueued(_) | AcdError::LoggedOut(_) | AcdError::Busy(_) => {
                StatusCode::CONFLICT
            }
            AcdError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"centralino\""));
        }
        if let Some(seconds) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        r
    }
}

/// Rewrite any error response that is not JSON yet (axum's own rejections answer plain text
/// or nothing) into the JSON shape, keeping its status and headers.
pub async fn errors_in_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let r = next.run(req).await;
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
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed here"),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text,
    };
    let json = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}
