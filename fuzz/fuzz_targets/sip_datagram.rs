//! From a UDP datagram to the engine's handling of it: guard, parser, number, SDP, INFO.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = centralino::sip::intake::intake(data);
});
