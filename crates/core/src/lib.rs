//! Countersign's core: everything the desktop app and the CLI share, with no UI dependency.
//!
//! - [`otp`] / [`otpauth`]: one-time codes and `otpauth://` URIs.
//! - [`keychain`]: secrets in the OS keychain, never on disk.
//! - [`store`]: the non-secret account metadata file, written atomically.
//! - [`vault`]: accounts = metadata + keychain secret, kept consistent.
//! - [`profile`]: where a profile's data lives and how its keychain entries are namespaced;
//!   [`profile_copy`]: a copied profile gets entries of its own.
//! - [`verify`]: the HTTPS client for Verify-compatible servers.
//! - [`push`]: this desktop as a Verify push factor: enrollment, challenges, polling,
//!   health checks and re-enrollment.
//! - [`secret_health`] / [`health`]: accounts without their secret, secrets without their
//!   account, and the whole profile's health in one summary.
//! - [`import`] / [`export`]: accounts from other authenticators' exports, and our
//!   encrypted backup, Aegis-compatible and plain exports.

pub mod account;
mod atomic_file;
pub mod clipboard;
pub mod crash_point;
pub mod error;
pub mod export;
pub mod health;
pub mod import;
pub mod keychain;
pub mod manual_entry;
pub mod otp;
pub mod otpauth;
pub mod profile;
pub mod profile_copy;
pub mod push;
pub mod scanned;
pub mod secret;
pub mod secret_health;
pub mod settings;
pub mod store;
pub mod vault;
pub mod verify;

pub use error::{Error, Result};
