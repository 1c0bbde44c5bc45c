//! Media: prompt audio, G.711, RTP streams and playback, DTMF, SDP offer/answer.
//! The RTP sockets and pacing that use these pieces come with real calls.

pub mod dtmf;
pub mod g711;
pub mod playback;
pub mod prompt_store;
pub mod rtp_port;
pub mod rtp_stream;
pub mod sdp;
pub mod synth;
pub mod wav;
