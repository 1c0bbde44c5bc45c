//! An RTCP packet as any peer may send it: read for the reports about our stream, and what the
//! call record would make of them (MOS) stays in range.
#![no_main]

use centralino::media::rtcp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The SSRC we send with: the first report block's, when there is one, so that reports
    // "about us" are reached as often as possible.
    let ours = data.get(8 + 24..8 + 28).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let now = rtcp::ntp(std::time::Duration::from_secs(1_800_000_000));
    let Some(heard) = rtcp::read(data, ours, now) else { return };
    if let Some(view) = heard.about_us {
        assert!((0.0..1.0).contains(&view.fraction_lost));
        assert!(view.jitter_ms >= 0.0 && view.rtt_ms.is_none_or(|r| r >= 0.0));
        let mos = rtcp::mos(view.fraction_lost, rtcp::one_way_ms(view.rtt_ms.unwrap_or(0.0), view.jitter_ms));
        assert!((1.0..=4.5).contains(&mos), "{view:?}: {mos}");
    }
});
