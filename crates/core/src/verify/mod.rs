//! Talking to a Verify-compatible server (Twilio Verify v2 or our own `verify-server`).

pub mod client;

pub use client::{Credentials, ServerConfig, Service, VerifyClient};
