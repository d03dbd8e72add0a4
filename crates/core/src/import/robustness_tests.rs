//! Importers against hostile input: arbitrary bytes and damaged versions of every fixture
//! must give an `Err` or a result, never a panic, and never more entries than the file has.
//! (Randomised with proptest so it runs on stable in every `cargo test`.)

use proptest::prelude::*;

use super::test_support::fixture;
use super::*;

/// Fixtures and the password that opens them.
const FIXTURES: [(&str, Option<&str>); 13] = [
    ("uri_list.txt", None),
    ("google_authenticator.txt", None),
    ("aegis_plain.json", None),
    ("aegis_encrypted.json", Some("aegis-test-password")),
    ("twofas_plain.2fas", None),
    ("twofas_encrypted.2fas", Some("2fas-test-password")),
    ("andotp_plain.json", None),
    ("andotp_encrypted.json.aes", Some("andotp-test-password")),
    ("bitwarden.json", None),
    ("freeotp_plus.json", None),
    ("ente_encrypted.json", Some("ente-test-password")),
    ("countersign_backup.json", Some("countersign-test-password")),
    ("aegis_plain.json", Some("a password where none is needed")),
];

fn check(bytes: &[u8], password: Option<&str>) {
    let _ = detect(bytes);
    if let Ok(result) = import(bytes, password) {
        // Every entry read is valid for the vault.
        for entry in &result.entries {
            assert!(entry.params.validate().is_ok(), "{entry:?}");
            assert!(!entry.account_name.is_empty() && !entry.secret.is_empty());
        }
    }
}

#[test]
fn every_fixture_is_detected_as_its_own_format() {
    let expected = [
        Format::UriList,
        Format::GoogleAuthenticator,
        Format::Aegis { encrypted: false },
        Format::Aegis { encrypted: true },
        Format::TwoFas { encrypted: false },
        Format::TwoFas { encrypted: true },
        Format::AndOtp { encrypted: false },
        Format::AndOtp { encrypted: true },
        Format::Bitwarden,
        Format::FreeOtpPlus,
        Format::Ente,
        Format::Countersign,
        Format::Aegis { encrypted: false },
    ];
    for ((name, password), format) in FIXTURES.iter().zip(expected) {
        let bytes = fixture(name);
        assert_eq!(detect(&bytes), Some(format), "{name}");
        assert_eq!(
            format.is_encrypted(),
            password.is_some() && format != Format::Aegis { encrypted: false },
            "{name}"
        );
        let result = import(&bytes, *password).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!result.entries.is_empty(), "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes, None);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(text.as_bytes(), None);
        check(format!("otpauth-migration://offline?data={text}").as_bytes(), None);
        check(format!("{{\"header\": {{}}, \"db\": {text}}}").as_bytes(), None);
        check(format!("{{\"schemaVersion\": 4, \"services\": [{text}]}}").as_bytes(), None);
        check(format!("{{\"tokens\": [{text}]}}").as_bytes(), None);
        check(format!("{{\"items\": [{{\"login\": {{\"totp\": {text}}}}}]}}").as_bytes(), None);
    }

    /// Flipped bytes and truncation of the unencrypted fixtures (the encrypted ones are
    /// covered below with fewer cases: each try runs a key derivation).
    #[test]
    fn damaged_plain_fixtures_never_panic(
        which in 0usize..FIXTURES.len(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (name, password) = FIXTURES[which];
        prop_assume!(password.is_none());
        let mut bytes = fixture(name);
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        check(&bytes, None);
        check(&bytes[..cut.index(bytes.len() + 1)], None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn damaged_encrypted_fixtures_never_panic(
        which in 0usize..FIXTURES.len(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let (name, password) = FIXTURES[which];
        prop_assume!(password.is_some());
        let mut bytes = fixture(name);
        let at = at.index(bytes.len());
        bytes[at] = value;
        check(&bytes, password);
    }
}
