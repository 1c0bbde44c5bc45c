//! `GET /api/metrics` (administrators): the engine's defences in the Prometheus text format
//! (version 0.0.4): password failures, lock-outs and refusals, HTTP connections, malformed SIP.
//! Written by hand: a dozen counters kept where they are counted need no metrics registry.

use super::ApiState;
use super::auth::{Principal, Role};
use super::error::ApiError;
use crate::password_guard::{Channel, Scope};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::Ordering;

pub async fn metrics(State(state): State<ApiState>, p: Principal) -> Result<Response, ApiError> {
    if p.role != Role::Administrator {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "the metrics are for administrators"));
    }
    let mut out = String::new();
    let counts = state.guard.with(|g, _| g.counts().clone());
    family(&mut out, "auth_failures_total", "counter", "Wrong passwords or unknown user names, by channel.", |out| {
        for c in Channel::ALL {
            sample(out, "auth_failures_total", &[("channel", c.name())], counts.failures.get(&c).copied().unwrap_or(0));
        }
    });
    family(
        &mut out,
        "auth_refused_total",
        "counter",
        "Password checks refused unchecked during a lock-out, by scope.",
        |out| {
            for s in Scope::ALL {
                sample(out, "auth_refused_total", &[("scope", s.name())], counts.refused.get(&s).copied().unwrap_or(0));
            }
        },
    );
    family(&mut out, "auth_lockouts_total", "counter", "Lock-outs begun, by scope.", |out| {
        for s in Scope::ALL {
            sample(out, "auth_lockouts_total", &[("scope", s.name())], counts.locks.get(&s).copied().unwrap_or(0));
        }
    });
    let c = &state.connections;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    family(&mut out, "http_connections", "gauge", "HTTP connections open now.", |out| {
        sample(out, "http_connections", &[], c.open.load(Ordering::Relaxed) as u64)
    });
    family(&mut out, "http_connections_total", "counter", "HTTP connections by what became of them.", |out| {
        for (what, n) in [
            ("accepted", load(&c.accepted)),
            ("evicted_idle", load(&c.evicted)),
            ("refused_busy", load(&c.refused)),
            ("accept_error", load(&c.accept_errors)),
        ] {
            sample(out, "http_connections_total", &[("result", what)], n);
        }
    });
    family(&mut out, "sip_malformed_total", "counter", "Malformed SIP datagrams, answered or dropped.", |out| {
        sample(out, "sip_malformed_total", &[("result", "answered")], load(&state.sip_faults.answered));
        sample(out, "sip_malformed_total", &[("result", "dropped")], load(&state.sip_faults.dropped));
    });
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: impl FnOnce(&mut String)) {
    let _ = writeln!(out, "# HELP centralino_{name} {help}\n# TYPE centralino_{name} {kind}");
    samples(out);
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
    let _ = writeln!(out, "centralino_{name}{labels} {value}");
}
