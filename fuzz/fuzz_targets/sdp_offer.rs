//! An SDP offer (or re-offer) as any phone may send it: negotiated against our codecs under
//! each SRTP policy, and when accepted, our answer read back as an offer must agree with what
//! was negotiated (codec, events, direction, and our SRTP key as the one the peer will use).
#![no_main]

use centralino::media::g711::Law;
use centralino::media::sdp::{self, SrtpPolicy, Terms};
use centralino::media::srtp::MasterKey;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(offer) = std::str::from_utf8(data) else { return };
    for (codecs, srtp) in [
        (&[Law::Pcmu, Law::Pcma][..], SrtpPolicy::Optional),
        (&[Law::Pcma][..], SrtpPolicy::Required),
        (&[Law::Pcmu][..], SrtpPolicy::Off),
    ] {
        let terms = Terms { codecs, srtp, key: MasterKey::from_bytes([7; 30]) };
        let Ok(n) = sdp::negotiate(offer, &terms) else { continue };
        let local = "192.0.2.7:40000".parse().unwrap();
        let answer = sdp::describe(&n, local, 1, 2);
        let back = sdp::negotiate(&answer, &terms).expect("our answer reads back");
        assert_eq!((back.law, back.payload_type, back.dtmf_payload_type), (n.law, n.payload_type, n.dtmf_payload_type));
        assert_eq!(back.direction, n.direction.answer());
        assert_eq!(back.srtp.map(|s| s.theirs), n.srtp.map(|s| s.ours));
    }
});
