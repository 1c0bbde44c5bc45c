//! `GET /metrics`, for Prometheus (no sign-in: counts and states, no personal data; keep the
//! port to the monitoring network), and `GET /api/metrics`, the same for administrators: calls
//! in progress and ended, each section's waiting callers and longest wait and its operators by
//! state (on the node running the distribution, so that a sum over the nodes counts each caller
//! once), RTP sent late, lost or relayed, the store's answer times, the distribution's lease, and
//! the engine's defences (password failures, lock-outs, HTTP connections, malformed SIP). In
//! the OpenMetrics text format, through prometheus-client.

use super::ApiState;
use super::auth::{Principal, Role};
use super::error::ApiError;
use crate::cluster::lease::Holder;
use crate::password_guard::{Channel, Scope};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the metrics read besides the API's own state.
#[derive(Clone)]
pub struct Sources {
    /// Calls in progress, the media clock's and receivers' counters.
    pub sip: Arc<crate::sip::server::Shared>,
    /// In a cluster: this node's name and who runs the distribution.
    pub cluster: Option<(String, tokio::sync::watch::Receiver<Option<Holder>>)>,
}

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`.
pub async fn open(State(state): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&state).await).into_response()
}

/// `GET /api/metrics` (administrators).
pub async fn metrics(State(state): State<ApiState>, p: Principal) -> Result<Response, ApiError> {
    if p.role != Role::Administrator {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "the metrics are for administrators"));
    }
    Ok(open(State(state)).await)
}

type Labeled<M> = Family<Vec<(&'static str, String)>, M>;

fn labeled<M: Default>(r: &mut Registry, name: &str, help: &str) -> Labeled<M>
where
    Labeled<M>: prometheus_client::registry::Metric,
{
    let family = Labeled::<M>::default();
    r.register(name, help, family.clone());
    family
}

fn gauge(r: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64>::default();
    g.set(value);
    r.register(name, help, g);
}

fn counter(r: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    r.register(name, help, c);
}

fn label(name: &'static str, value: impl Into<String>) -> Vec<(&'static str, String)> {
    vec![(name, value.into())]
}

async fn render(state: &ApiState) -> String {
    let mut r = Registry::with_prefix("centralino");
    crate::metrics::lasting().register(&mut r);
    let sip = &state.metrics.sip;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    gauge(&mut r, "calls_in_progress", "Calls in progress on this node", sip.active.load(Ordering::Relaxed) as i64);

    // Media.
    let (clock, receiver) = (sip.clock.stats(), sip.receiver.stats());
    counter(&mut r, "rtp_sent", "RTP packets sent by the media clock", load(&clock.sent));
    counter(&mut r, "rtp_late_dropped", "RTP frames dropped because the media clock ran late", load(&clock.lost));
    counter(&mut r, "rtp_send_errors", "RTP packets the kernel refused to send", load(&clock.send_errors));
    counter(&mut r, "rtp_received", "RTP packets received from callers and operators", load(&receiver.received));
    counter(&mut r, "rtp_relayed", "RTP packets relayed between the legs of a bridge", load(&receiver.relayed));
    counter(&mut r, "rtp_relay_errors", "Relayed RTP packets the kernel refused", load(&receiver.send_errors));
    counter(&mut r, "rtp_foreign", "RTP packets from an unexpected address, ignored", load(&receiver.foreign));
    counter(
        &mut r,
        "rtcp_received",
        "RTCP reports read from callers' and operators' phones",
        load(&receiver.rtcp_received),
    );
    counter(&mut r, "rtcp_sent", "RTCP reports sent to callers' and operators' phones", load(&receiver.rtcp_sent));
    let srtp: Labeled<Counter> =
        labeled(&mut r, "srtp_dropped_packets", "SRTP packets dropped unread, by reason (never relayed)");
    for (reason, count) in [
        ("authentication", &receiver.srtp_unauthenticated),
        ("replay", &receiver.srtp_replayed),
        ("malformed", &receiver.srtp_malformed),
    ] {
        srtp.get_or_create(&label("reason", reason)).inc_by(load(count));
    }

    // The distribution: counted once, where it runs.
    let (runs_here, epoch) = match &state.metrics.cluster {
        None => (true, 0),
        Some((node, holder)) => {
            let h = holder.borrow();
            (h.as_ref().is_some_and(|h| &h.node == node), h.as_ref().map_or(0, |h| h.epoch))
        }
    };
    let sections = state.live.current().switchboard.config.sections.keys().cloned().collect::<Vec<_>>();
    let owned: Labeled<Gauge> =
        labeled(&mut r, "section_owned", "1 for each section whose queue this node runs (its distribution)");
    for s in &sections {
        owned.get_or_create(&label("section", s.get_ref())).set(i64::from(runs_here));
    }
    gauge(&mut r, "distribution_epoch", "The distribution's lease epoch this node last saw (0: one node)", epoch);
    if runs_here {
        let (stats, operators) = state.acd.stats().await;
        let waiting: Labeled<Gauge> = labeled(&mut r, "queue_waiting", "Callers waiting, by section");
        let longest: Labeled<Gauge> = labeled(&mut r, "queue_longest_wait_seconds", "The longest wait now, by section");
        for s in &stats {
            waiting.get_or_create(&label("section", &s.section)).set(s.waiting as i64);
            longest.get_or_create(&label("section", &s.section)).set(s.longest_wait_s as i64);
        }
        let by_state: Labeled<Gauge> = labeled(&mut r, "operators", "Operators, by state");
        for o in &operators {
            by_state.get_or_create(&label("state", o.state.as_str())).inc();
        }
    }

    // Defences.
    let counts = state.guard.with(|g, _| g.counts().clone());
    let failures: Labeled<Counter> =
        labeled(&mut r, "auth_failures", "Wrong passwords or unknown user names, by channel");
    for c in Channel::ALL {
        failures.get_or_create(&label("channel", c.name())).inc_by(counts.failures.get(&c).copied().unwrap_or(0));
    }
    let refused: Labeled<Counter> =
        labeled(&mut r, "auth_refused", "Password checks refused unchecked during a lock-out, by scope");
    let locks: Labeled<Counter> = labeled(&mut r, "auth_lockouts", "Lock-outs begun, by scope");
    for s in Scope::ALL {
        refused.get_or_create(&label("scope", s.name())).inc_by(counts.refused.get(&s).copied().unwrap_or(0));
        locks.get_or_create(&label("scope", s.name())).inc_by(counts.locks.get(&s).copied().unwrap_or(0));
    }
    let c = &state.connections;
    gauge(&mut r, "http_connections_open", "HTTP connections open now", c.open.load(Ordering::Relaxed) as i64);
    let handled: Labeled<Counter> = labeled(&mut r, "http_connections", "HTTP connections, by what became of them");
    for (what, n) in [
        ("accepted", load(&c.accepted)),
        ("evicted_idle", load(&c.evicted)),
        ("refused_busy", load(&c.refused)),
        ("accept_error", load(&c.accept_errors)),
    ] {
        handled.get_or_create(&label("result", what)).inc_by(n);
    }
    let malformed: Labeled<Counter> = labeled(&mut r, "sip_malformed", "Malformed SIP datagrams, answered or dropped");
    malformed.get_or_create(&label("result", "answered")).inc_by(load(&state.sip_faults.answered));
    malformed.get_or_create(&label("result", "dropped")).inc_by(load(&state.sip_faults.dropped));
    let tls = &state.metrics.sip.tls_handshakes;
    let handshakes: Labeled<Counter> =
        labeled(&mut r, "sip_tls_handshakes", "SIP over TLS handshakes, established or failed (refused, abandoned)");
    handshakes.get_or_create(&label("result", "established")).inc_by(load(&tls.established));
    handshakes.get_or_create(&label("result", "failed")).inc_by(load(&tls.failed));

    let mut text = String::new();
    if let Err(e) = encode(&mut text, &r) {
        tracing::warn!("the metrics cannot be written: {e}");
    }
    text
}
