//! QR-code scanning for adding accounts.
