//! JSON request bodies whose mistakes are answered in JSON like every other error: 400 for
//! malformed JSON, 422 for a well-formed body with wrong or missing fields, 413 beyond
//! [`MAX_BODY`], 415 without `Content-Type: application/json`.

use super::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

/// Largest request body accepted (a ticket's question is a few hundred characters).
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::new(e.status(), reason(&e))),
        }
    }
}

fn reason(e: &JsonRejection) -> String {
    match e {
        JsonRejection::JsonDataError(d) => format!("the JSON does not fit: {}", d.body_text()),
        JsonRejection::JsonSyntaxError(d) => format!("malformed JSON: {}", d.body_text()),
        JsonRejection::MissingJsonContentType(_) => "send the body as JSON (Content-Type: application/json)".into(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the body is larger than {} KiB", MAX_BODY / 1024)
        }
        other => other.body_text(),
    }
}
