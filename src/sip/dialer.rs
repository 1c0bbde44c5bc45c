//! Rings operators' phones for the distribution: an outgoing INVITE to the operator's
//! registered Contact with our SDP offer, CANCEL when the offer is withdrawn, and on answer an
//! [`OperatorLeg`] for the caller's call task to bridge.

use super::server::Shared;
use crate::acd::CallBack;
use crate::acd::Event;
use crate::acd::host::{AcdHandle, Dialer, Offer};
use crate::calls::OperatorLeg;
use std::sync::{Arc, Weak};
use tokio_util::sync::CancellationToken;

/// The engine's dialer (holds the server weakly: the server holds the distribution).
pub struct SipDialer {
    shared: Weak<Shared>,
}

impl SipDialer {
    pub fn new(shared: &Arc<Shared>) -> SipDialer {
        SipDialer { shared: Arc::downgrade(shared) }
    }
}

impl Dialer<OperatorLeg> for SipDialer {
    fn ring(&self, offer: Offer, acd: AcdHandle<OperatorLeg>, cancel: CancellationToken) {
        let Some(shared) = self.shared.upgrade() else { return };
        tokio::spawn(async move {
            let reason = super::operator_leg::ring(&shared, &offer, &acd, cancel).await;
            if let Err(reason) = reason {
                acd.event(Event::OfferFailed { call: offer.call, operator: offer.operator, reason });
            }
        });
    }

    fn call_back(&self, attempt: CallBack, acd: AcdHandle<OperatorLeg>, cancel: CancellationToken) {
        let Some(shared) = self.shared.upgrade() else { return };
        tokio::spawn(async move {
            let call = attempt.call.clone();
            if let Err(reason) = super::trunk::call_back(&shared, attempt, acd.clone(), cancel).await {
                acd.event(Event::CallbackFailed { call, reason });
            }
        });
    }
}
