//! The metrics counted where things happen, for the life of the process, in a Prometheus
//! registry (prometheus-client, the Prometheus project's Rust client). What is read when the
//! metrics are asked for (queues, operators, media counters, the lease) is added by the HTTP
//! side, `api/metrics.rs`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

/// A metric's labels, `(name, value)`.
pub type Labels = Vec<(&'static str, String)>;

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The metrics kept for the life of the process.
pub struct Lasting {
    /// Calls ended, by how (`answered`, `abandoned`, `portal_hangup`...).
    calls_ended: Family<Labels, Counter>,
    /// How long the cases store took to answer, by store.
    store_seconds: HistogramFamily,
    /// Ended calls' estimated MOS, by leg (`caller`, `operator`).
    leg_mos: HistogramFamily,
    /// RTP packets received and lost on ended calls, by leg.
    leg_packets: Family<Labels, Counter>,
    leg_lost: Family<Labels, Counter>,
    /// Ended calls' round trip to the phone (from its RTCP reports), by leg.
    leg_round_trip: HistogramFamily,
}

fn mos_buckets() -> Histogram {
    Histogram::new([1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.3, 4.4, 4.5])
}

fn round_trip_buckets() -> Histogram {
    // 1 ms to about 1 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 11))
}

fn store_buckets() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

/// The process's metrics.
pub fn lasting() -> &'static Lasting {
    static LASTING: OnceLock<Lasting> = OnceLock::new();
    LASTING.get_or_init(Lasting::new)
}

impl Lasting {
    fn new() -> Lasting {
        Lasting {
            calls_ended: Family::default(),
            store_seconds: Family::new_with_constructor(store_buckets),
            leg_mos: Family::new_with_constructor(mos_buckets),
            leg_packets: Family::default(),
            leg_lost: Family::default(),
            leg_round_trip: Family::new_with_constructor(round_trip_buckets),
        }
    }

    /// A call ended the way `how` names.
    pub fn call_ended(&self, how: &str) {
        self.calls_ended.get_or_create(&vec![("ending", how.to_string())]).inc();
    }

    /// The media of an ended call on `leg`: packets received and lost, the estimated MOS, the
    /// round trip in milliseconds if the phone reported one.
    pub fn leg_quality(&self, leg: &'static str, packets: u32, lost: i64, mos: f64, rtt_ms: Option<f64>) {
        let labels = vec![("leg", leg.to_string())];
        self.leg_mos.get_or_create(&labels).observe(mos);
        self.leg_packets.get_or_create(&labels).inc_by(packets.into());
        self.leg_lost.get_or_create(&labels).inc_by(lost.max(0) as u64);
        if let Some(rtt) = rtt_ms {
            self.leg_round_trip.get_or_create(&labels).observe(rtt / 1000.0);
        }
    }

    /// The `store` (`postgres`, `redb`) answered in `took`.
    pub fn store_answered(&self, store: &'static str, took: Duration) {
        self.store_seconds.get_or_create(&vec![("store", store.to_string())]).observe(took.as_secs_f64());
    }

    /// Add them to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("calls_ended", "Calls ended, by how they ended", self.calls_ended.clone());
        registry.register(
            "store_answer_seconds",
            "Time the cases store took to answer a call, by store",
            self.store_seconds.clone(),
        );
        registry.register(
            "call_mos",
            "Ended calls' estimated MOS (G.107 E-model) of the RTP received, by leg",
            self.leg_mos.clone(),
        );
        registry.register(
            "rtp_received_packets",
            "RTP packets received on ended calls, by leg",
            self.leg_packets.clone(),
        );
        registry.register("rtp_lost_packets", "RTP packets lost on ended calls, by leg", self.leg_lost.clone());
        registry.register(
            "call_round_trip_seconds",
            "Ended calls' round trip to the phone, from its RTCP reports, by leg",
            self.leg_round_trip.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_counted_is_encoded() {
        let l = Lasting::new();
        l.call_ended("answered");
        l.leg_quality("caller", 500, 2, 4.38, Some(3.0));
        l.call_ended("answered");
        l.store_answered("postgres", Duration::from_millis(3));
        let mut r = Registry::with_prefix("centralino");
        l.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(text.contains("centralino_calls_ended_total{ending=\"answered\"} 2"), "{text}");
        assert!(text.contains("centralino_store_answer_seconds_count{store=\"postgres\"} 1"), "{text}");
        assert!(text.contains("centralino_call_mos_bucket{le=\"4.4\",leg=\"caller\"} 1"), "{text}");
        assert!(text.contains("centralino_rtp_lost_packets_total{leg=\"caller\"} 2"), "{text}");
        assert!(text.contains("centralino_call_round_trip_seconds_bucket{le=\"0.004\",leg=\"caller\"} 1"), "{text}");
    }
}
