//! The engine room's part of callbacks: pending requests kept in the cases store as the
//! distribution changes them, brought back at their places when the engine starts, and each
//! section's callback hours told to the distribution as they open and close.

use crate::acd::host::{AcdHandle, CallbackChange, CallbackSink};
use crate::acd::{Event, PendingCallback};
use crate::calls::OperatorLeg;
use crate::cases::{CaseStore, StoredCallback};
use crate::live::Live;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the callback hours are looked at.
const HOURS_EVERY: Duration = Duration::from_secs(20);
/// Retries of a store write that failed (the store briefly unavailable).
const WRITE_TRIES: u32 = 5;

/// Keep the distribution's pending requests in `store`, in the order it changed them.
pub fn keep_in(store: Arc<dyn CaseStore>) -> CallbackSink {
    let (tx, mut rx) = mpsc::unbounded_channel::<CallbackChange>();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            let (call, kept) = match change {
                CallbackChange::Keep(p) => (p.call.clone(), Some(stored(&p))),
                CallbackChange::Drop { call, gave_up } => {
                    if let Some(p) = gave_up {
                        info!(call = %p.call, number = %p.number, attempts = p.attempts, "callback given up");
                    }
                    (call, None)
                }
            };
            for attempt in 1..=WRITE_TRIES {
                match store.keep_callback(&call, kept.clone()).await {
                    Ok(()) => break,
                    Err(e) if attempt == WRITE_TRIES => warn!(%call, "callback request not kept in the store: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
                }
            }
        }
    });
    Box::new(move |change| {
        let _ = tx.send(change);
    })
}

fn stored(p: &PendingCallback) -> StoredCallback {
    let ago = Instant::now().saturating_duration_since(p.arrived);
    StoredCallback {
        call: p.call.clone(),
        section: p.section.clone(),
        number: p.number.clone(),
        caller: p.caller.clone(),
        arrived: Utc::now() - chrono::TimeDelta::from_std(ago).unwrap_or_default(),
        attempts: p.attempts,
        facts: (*p.facts).clone(),
    }
}

/// Bring the requests kept in `store` back to the distribution, at their places by arrival.
pub async fn restore(store: &dyn CaseStore, acd: &AcdHandle<OperatorLeg>) -> Result<usize, String> {
    let mut kept = store.callbacks().await.map_err(|e| e.to_string())?;
    kept.sort_by(|a, b| (a.arrived, &a.call).cmp(&(b.arrived, &b.call)));
    let (now, wall) = (Instant::now(), Utc::now());
    let count = kept.len();
    for s in kept {
        let ago = (wall - s.arrived).to_std().unwrap_or_default();
        let pending = PendingCallback {
            arrived: now.checked_sub(ago).unwrap_or(now),
            call: s.call,
            section: s.section,
            number: s.number,
            caller: s.caller,
            attempts: s.attempts,
            facts: Box::new(s.facts),
        };
        if let Err(e) = acd.command(Event::RestoreCallback(pending)).await {
            warn!("a kept callback request cannot come back: {e}");
        }
    }
    Ok(count)
}

/// Whether each section offering callback with `hours` is open at `now`.
fn hours_open(live: &Live, now: DateTime<Utc>) -> BTreeMap<String, bool> {
    let loaded = live.current();
    let config = &loaded.switchboard.config;
    let mut open = BTreeMap::new();
    for (id, section) in config.sections.iter().filter(|(_, s)| config.offers_callback(&s.queue)) {
        let hours = section.queue.callback.hours.as_ref().or(config.queue.callback.hours.as_ref());
        let Some(hours) = hours else { continue };
        let Some(tree) = loaded.switchboard.trees.get(section.tree.get_ref()) else { continue };
        let is_open = tree
            .def
            .schedules
            .get(hours.get_ref().as_str())
            .is_some_and(|s| crate::ivr::session::schedule_open(s, now));
        open.insert(id.get_ref().clone(), is_open);
    }
    open
}

/// Tell the distribution each section's callback hours at start and whenever they change.
pub async fn follow_hours(live: Arc<Live>, acd: AcdHandle<OperatorLeg>, stop: CancellationToken) {
    let mut told: BTreeMap<String, bool> = BTreeMap::new();
    loop {
        for (section, open) in hours_open(&live, Utc::now()) {
            if told.get(&section) != Some(&open) {
                info!(%section, open, "callback hours");
                acd.event(Event::CallbackHours { section: section.clone(), open });
                told.insert(section, open);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(HOURS_EVERY) => {}
        }
    }
}
