//! The one [`PasswordGuard`] of the engine, shared by the SIP registrar and the HTTP API: a lock
//! around it, the wall clock, and its notices written to the log.

use super::{Notice, PasswordGuard, Policy};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tracing::warn;

pub struct SharedGuard(Mutex<PasswordGuard>);

impl Default for SharedGuard {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

impl SharedGuard {
    pub fn new(policy: Policy) -> Self {
        Self(Mutex::new(PasswordGuard::new(policy)))
    }

    /// Run `f` on the guard at the current time, then log what it noticed.
    pub fn with<R>(&self, f: impl FnOnce(&mut PasswordGuard, SystemTime) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let r = f(&mut guard, SystemTime::now());
        while let Some(notice) = guard.poll_notice() {
            log(&notice);
        }
        r
    }

    /// Forget what has faded and log the failures of windows that ended (every few seconds).
    pub fn spawn_pruner(self: &std::sync::Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        let guard = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => guard.with(|g, now| g.prune(now)),
                }
            }
        });
    }
}

fn log(notice: &Notice) {
    match notice {
        Notice::Failures { account: Some(account), source, channel, count } => {
            warn!(%account, %source, channel = channel.name(), count, "wrong passwords (logged once a minute per account)")
        }
        Notice::Failures { account: None, source, channel, count } => {
            warn!(%source, channel = channel.name(), count, "unknown user names (logged once a minute per address)")
        }
        Notice::Locked { scope, account, source, duration } => warn!(
            scope = scope.name(),
            account = account.as_deref().unwrap_or("-"),
            %source,
            seconds = duration.as_secs(),
            "password checks locked after wrong passwords"
        ),
    }
}
