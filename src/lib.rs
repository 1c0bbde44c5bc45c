//! centralino: the contact-center telephony engine of the Centralino Unico Nazionale.
//!
//! See `docs/architecture.md` for how the modules fit together.

pub mod acd;
pub mod api;
pub mod browser_phone;
pub mod calendar;
pub mod callbacks;
pub mod calls;
pub mod cases;
pub mod cluster;
pub mod config;
pub mod descriptors;
pub mod diag;
pub mod engine;
pub mod ivr;
pub mod jsonl;
pub mod live;
pub mod media;
pub mod metrics;
pub mod password_guard;
pub mod records;
pub mod simulator;
pub mod sip;
pub mod switchboard;
pub mod tls;
pub mod updates;
pub mod vocabulary;
