//! Media: prompt audio now; RTP sessions, G.711, DTMF and the bridge relay come with real calls.

pub mod dtmf;
pub mod g711;
pub mod sdp;
pub mod synth;
pub mod wav;
