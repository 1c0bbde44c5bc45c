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
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
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
        r
    }
}
