//! The signalling of a call to an operator's phone.

use super::server::Shared;
use crate::acd::host::AcdHandle;
use crate::calls::OperatorLeg;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Ring `operator` for `call`; on answer the leg goes to `acd`. `Err(reason)` when the phone
/// did not answer.
pub async fn ring(
    shared: &Arc<Shared>,
    call: &str,
    operator: &str,
    acd: &AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let _ = (shared, call, operator, acd, cancel);
    Err("calling operators is not implemented yet".into())
}
