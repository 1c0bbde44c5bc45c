//! The cases store's errors, as the fitting HTTP status (503 with Retry-After when the store
//! cannot answer now).

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
        ApiError { retry_after, ..ApiError::new(status, e.to_string()).it(super::italian::store(&e)) }
    }
}

/// Seconds a client is told to wait when the store is unavailable (a database restarting
/// answers again within a few seconds).
const RETRY_AFTER: u64 = 3;
