//! `POST /api/phone`: the console's phone connects (its SDP offer in, the engine's answer out);
//! `DELETE /api/phone`: it leaves. Operators only; see `browser_phone` for what follows.

use super::ApiState;
use super::auth::OperatorId;
use super::error::ApiError;
use crate::browser_phone::PhoneError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// The browser's SDP offer: audio and the data channel.
    sdp: String,
}

#[derive(Debug, Serialize)]
pub struct Answer {
    sdp: String,
}

pub async fn connect(
    State(state): State<ApiState>,
    OperatorId(op): OperatorId,
    Json(offer): Json<Offer>,
) -> Result<Json<Answer>, ApiError> {
    match state.phones.connect(&op, &offer.sdp) {
        Ok(sdp) => Ok(Json(Answer { sdp })),
        Err(e @ (PhoneError::Offer(_) | PhoneError::Refused(_))) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        }
        Err(e @ (PhoneError::NoPort(_) | PhoneError::NotReady)) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
    }
}

pub async fn disconnect(State(state): State<ApiState>, OperatorId(op): OperatorId) -> StatusCode {
    state.phones.disconnect(&op);
    StatusCode::NO_CONTENT
}
