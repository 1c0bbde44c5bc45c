//! An SDP offer (or re-offer) as any phone may send it: negotiated against our codecs, and when
//! accepted, our answer read back as an offer must agree with what was negotiated.
#![no_main]

use centralino::media::g711::Law;
use centralino::media::sdp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(offer) = std::str::from_utf8(data) else { return };
    for prefs in [&[Law::Pcmu, Law::Pcma][..], &[Law::Pcma][..]] {
        let Ok(n) = sdp::negotiate(offer, prefs) else { continue };
        let local = "192.0.2.7:40000".parse().unwrap();
        let answer = sdp::describe(&n, local, 1, 2);
        let back = sdp::negotiate(&answer, prefs).expect("our answer reads back");
        assert_eq!((back.law, back.payload_type, back.dtmf_payload_type), (n.law, n.payload_type, n.dtmf_payload_type));
        assert_eq!(back.direction, n.direction.answer());
    }
});
