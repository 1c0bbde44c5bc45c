//! Calls into the cases store from the handlers: run off the async workers (the store blocks
//! until its commit is on disk), its errors turned into the fitting HTTP status.

use super::error::ApiError;
use crate::cases::StoreError;
use crate::cases::ticket::TicketError;
use axum::http::StatusCode;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound(_) | StoreError::NoAppointment(_) => StatusCode::NOT_FOUND,
            StoreError::Refused(TicketError::OtherRegion { .. }) => StatusCode::FORBIDDEN,
            StoreError::Refused(TicketError::Empty(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Refused(_) | StoreError::SlotTaken { .. } | StoreError::Cancelled(_) => StatusCode::CONFLICT,
            StoreError::TooNew { .. } | StoreError::Io(_) | StoreError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let retry_after = matches!(e, StoreError::Unavailable(_) | StoreError::Io(_)).then_some(RETRY_AFTER);
        ApiError { retry_after, ..ApiError::new(status, e.to_string()) }
    }
}

/// Seconds a client is told to wait when the store is unavailable (a database restarting
/// answers again within a few seconds).
const RETRY_AFTER: u64 = 3;

/// Run a blocking store call on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the store call failed"))??)
}
