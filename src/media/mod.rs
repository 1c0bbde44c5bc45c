//! Media: prompt audio, G.711, RTP streams and playback, DTMF, SDP offer/answer.
//! [`clock`] sends every call's RTP on one shared 20 ms schedule; [`receiver`] reads every
//! call's RTP (keys, liveness) and relays bridged calls.

pub mod clock;
pub mod dtmf;
pub mod g711;
pub mod io_ring;
pub mod music;
pub mod outbound;
pub mod playback;
pub mod priority;
pub mod prompt_store;
pub mod receiver;
pub mod relay;
pub mod rtcp;
pub mod rtp_port;
pub mod rtp_stream;
pub mod sdp;
pub mod srtp;
pub mod synth;
pub mod wav;

/// Milliseconds since the media plane started, on one clock for every media thread (what a
/// relay and the clock stamp on what they send, for RTCP).
pub fn uptime_millis() -> u32 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u32
}
