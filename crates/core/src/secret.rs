//! Secret material in memory: zeroized on drop, redacted in `Debug`, never serialisable.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Raw secret bytes (an OTP seed, a private key). Deliberately has no `Serialize`,
/// `Display` or `Clone`-by-accident: copying it is an explicit `expose().to_vec()`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<redacted {} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let secret = SecretBytes::new(b"12345678901234567890".to_vec());
        let shown = format!("{secret:?}");
        assert!(!shown.contains("1234"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
