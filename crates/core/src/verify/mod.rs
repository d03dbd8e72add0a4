//! Talking to a Verify-compatible server (Twilio Verify v2 or our own `verify-server`).
//!
//! - [`client`]: transport, credentials, clock correction and retries.
//! - [`jwt`]: the device JWT, the challenge-approval JWT and the factor-verify signature.
//! - [`device`]: the push-device endpoints (factors and challenges) on top of the client.

pub mod client;
pub mod device;
pub mod jwt;

pub use client::{
    ClientOptions, Credentials, DeviceFactor, RawResponse, Request, ServerConfig, Service,
    VerifyClient,
};
pub use device::{Challenge, ChallengeDetails, ChallengeField, CreatedFactor, FetchedChallenge};
pub use jwt::PushKey;
