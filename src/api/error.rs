//! Errors as JSON: `{"error": "what is wrong"}` with the fitting status.

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
        let status = match e {
            AcdError::UnknownOperator(_) | AcdError::UnknownCall(_) => StatusCode::NOT_FOUND,
            AcdError::UnknownSection(_) | AcdError::NotSkilled { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AcdError::NotConnected(_) | AcdError::AlreadyQueued(_) | AcdError::LoggedOut(_) | AcdError::Busy(_) => {
                StatusCode::CONFLICT
            }
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
