//! The distribution's lease: the node that holds it runs the distribution for every node. Each
//! node tries every [`RENEW_EVERY`] to take it when it has lapsed, the holder renews it for
//! [`TTL`], and stops acting as the holder [`MARGIN`] before it could lapse without a renewal
//! (a holder cut off from the database steps down before anyone else can take over). The
//! database's clock alone decides when a lease lapses; each change of holder has a higher epoch,
//! which every message of the holder carries (the fencing token).

use crate::cases::PgStore;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The lease's name in the `leases` table.
pub const DISTRIBUTION: &str = "distribution";
/// How long a renewal holds.
pub const TTL: Duration = Duration::from_secs(3);
/// How often the holder renews and the others look.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// The holder stops this long before its last renewal could lapse.
pub const MARGIN: Duration = Duration::from_secs(1);

/// What a node knows of the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    pub address: String,
    pub secret: String,
    pub epoch: i64,
}

/// Until when this node may act as the holder, by its own clock.
#[derive(Debug, Default)]
pub struct Fence {
    held: Mutex<Option<(i64, Instant)>>,
}

impl Fence {
    /// Whether this node still holds the lease at `epoch`.
    pub fn holds(&self, epoch: i64) -> bool {
        matches!(*self.held.lock().unwrap_or_else(|e| e.into_inner()), Some((e, until)) if e == epoch && Instant::now() < until)
    }

    fn set(&self, held: Option<(i64, Instant)>) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = held;
    }
}

/// One node's side of the lease.
pub struct Lease {
    pub store: std::sync::Arc<PgStore>,
    pub node: String,
    pub address: String,
    pub fence: std::sync::Arc<Fence>,
    /// Ours now: the epoch, the secret and when the last renewal was sent.
    held: Option<(i64, String, Instant)>,
}

/// What a step of the lease did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// We hold it now, from this epoch, with this secret.
    Took(i64, String),
    /// We held it and no longer do (lost, lapsed, or given up).
    Lost,
    Unchanged,
}

impl Lease {
    pub fn new(store: std::sync::Arc<PgStore>, node: String, address: String) -> Lease {
        Lease { store, node, address, fence: Default::default(), held: None }
    }

    pub fn epoch(&self) -> Option<i64> {
        self.held.as_ref().map(|h| h.0)
    }

    /// Renew, take or lose the lease; `willing` false gives it up (a draining node).
    pub async fn step(&mut self, willing: bool) -> Step {
        let sent = Instant::now();
        if let Some((epoch, _, last)) = &self.held {
            let epoch = *epoch;
            // Past the fence (frozen, or the database too slow for too long), the distribution
            // has stopped deciding: the holding is over for good, even if a renewal would pass.
            if !willing || !self.fence.holds(epoch) {
                let _ = self.store.release_lease(DISTRIBUTION, &self.node, epoch).await;
                return self.lose();
            }
            match self.store.renew_lease(DISTRIBUTION, &self.node, epoch, TTL).await {
                Ok(true) => {
                    self.held.as_mut().expect("held").2 = sent;
                    self.fence.set(Some((epoch, sent + TTL - MARGIN)));
                    Step::Unchanged
                }
                Ok(false) => self.lose(),
                Err(e) if sent.duration_since(*last) >= TTL - MARGIN => {
                    tracing::warn!("the distribution's lease cannot be renewed ({e}): giving it up");
                    self.lose()
                }
                Err(e) => {
                    tracing::warn!("the distribution's lease was not renewed this time: {e}");
                    Step::Unchanged
                }
            }
        } else if willing {
            let secret = format!("{:032x}", rand::random::<u128>());
            match self.store.claim_lease(DISTRIBUTION, &self.node, &self.address, &secret, TTL).await {
                Ok(Some(epoch)) => {
                    self.held = Some((epoch, secret.clone(), sent));
                    self.fence.set(Some((epoch, sent + TTL - MARGIN)));
                    Step::Took(epoch, secret)
                }
                Ok(None) => Step::Unchanged,
                Err(e) => {
                    tracing::debug!("cannot look for the distribution's lease: {e}");
                    Step::Unchanged
                }
            }
        } else {
            Step::Unchanged
        }
    }

    fn lose(&mut self) -> Step {
        self.held = None;
        self.fence.set(None);
        Step::Lost
    }

    /// Who holds the lease now (`None`: nobody, or the database cannot say).
    pub async fn holder(&self) -> Option<Holder> {
        match self.store.lease_holder(DISTRIBUTION).await {
            Ok(Some(h)) if h.live => {
                Some(Holder { node: h.owner, address: h.address, secret: h.secret, epoch: h.epoch })
            }
            _ => None,
        }
    }
}
