//! Signalling: SIP over UDP and TCP on top of rsipstack, kept behind this module so the
//! stack's API stays in one place. [`server`] answers requests; [`call_leg`] runs the
//! signalling side of one answered call.

pub mod call_leg;
pub mod dialer;
pub mod digest;
pub mod feature_codes;
pub mod guard;
pub mod intake;
pub mod operator_leg;
pub mod phone_book;
pub mod register;
pub mod registrar;
pub mod sdp_session;
pub mod server;
pub mod syntax;
pub mod tls;
pub mod trunk;
pub mod uas_checks;
