//! `Vault::import` and `Vault::export_entries` against the real Secret Service (run under
//! scripts/with-keyring.sh).

use countersign_core::export::countersign::{self, KdfParams};
use countersign_core::import::{self, Importer};
use countersign_core::otpauth::OtpAuthUri;
use countersign_core::profile::Profile;
use countersign_core::vault::Vault;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/import/testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn uri(text: &str) -> OtpAuthUri {
    OtpAuthUri::parse(text).expect("uri")
}

#[test]
fn import_then_export_gives_the_same_accounts() {
    let profile = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(&Profile::at(profile.path())).expect("open");
    let read = import::import(
        &fixture("aegis_encrypted.json"),
        Some("aegis-test-password"),
    )
    .expect("import file");
    assert_eq!(read.entries.len(), 4);

    let report = vault.import(read.entries.clone(), false).expect("import");
    assert_eq!(report.added.len(), 4);
    assert!(report.failed.is_empty() && report.skipped_duplicates.is_empty());
    let names: Vec<String> = report.added.iter().map(|a| a.display_name()).collect();
    assert_eq!(
        names,
        [
            "GitHub (alice@example.com)",
            "ACME Co (bob)",
            "carol",
            "Steam (gaben)"
        ]
    );
    // The secrets went to the keychain, not the metadata file.
    let metadata = std::fs::read_to_string(profile.path().join("accounts.json")).expect("read");
    assert!(!metadata.contains("JBSWY3DPEHPK3PXP"), "{metadata}");

    // A fresh vault object reads the secrets back from the keychain.
    drop(vault);
    let vault = Vault::open(&Profile::at(profile.path())).expect("reopen");
    assert_eq!(vault.export_entries().expect("export"), read.entries);

    // Our backup of them reads back identical.
    let params = KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    let backup = countersign::encrypt(&read.entries, "pw", &params).expect("encrypt");
    let back = import::CountersignBackup
        .import(&backup, Some("pw"))
        .expect("decrypt");
    assert_eq!(back.entries, read.entries);
}

#[test]
fn duplicates_are_skipped_only_when_asked() {
    let profile = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(&Profile::at(profile.path())).expect("open");
    vault
        .add(uri(
            "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
        ))
        .expect("add");
    let entries = vec![
        // Renamed, same codes: a duplicate of the existing account.
        uri("otpauth://totp/GitHub%20work:alice2?secret=JBSWY3DPEHPK3PXP"),
        uri("otpauth://totp/New:bob?secret=MZXW6YTB&issuer=New"),
        // The same as the previous entry.
        uri("otpauth://totp/New:bob?secret=MZXW6YTB&issuer=New"),
        // Invalid for the vault: refused on its own, the rest still go in.
        OtpAuthUri {
            params: countersign_core::otp::OtpParams {
                digits: 12,
                ..countersign_core::otp::OtpParams::totp_default()
            },
            ..uri("otpauth://totp/Bad:carol?secret=NBSWY3DP&issuer=Bad")
        },
    ];
    let report = vault.import(entries.clone(), true).expect("import");
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.added[0].display_name(), "New (bob)");
    let skipped: Vec<(&str, &str)> = report
        .skipped_duplicates
        .iter()
        .map(|s| (s.label.as_str(), s.duplicate_of.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("GitHub work (alice2)", "GitHub (alice)"),
            ("New (bob)", "New (bob)")
        ]
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].label, "Bad (carol)");
    assert_eq!(report.failed[0].error.code(), "invalid_account");
    assert_eq!(vault.accounts().expect("list").len(), 2);

    // Without skipping, duplicates are added as asked.
    let report = vault.import(entries[..1].to_vec(), false).expect("import");
    assert_eq!(report.added.len(), 1);
    assert_eq!(vault.accounts().expect("list").len(), 3);
}

#[test]
fn export_refuses_when_a_secret_is_missing() {
    use countersign_core::keychain::{SecretKey, SecretStore};
    let profile = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(&Profile::at(profile.path())).expect("open");
    let kept = vault
        .add(uri("otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=A"))
        .expect("add");
    let lost = vault
        .add(uri("otpauth://totp/B:b?secret=MZXW6YTB&issuer=B"))
        .expect("add");
    let metadata = std::fs::read_to_string(profile.path().join("accounts.json")).expect("read");
    let vault_id: serde_json::Value = serde_json::from_str(&metadata).expect("json");
    let vault_id = vault_id["vault_id"]
        .as_str()
        .expect("vault id")
        .parse()
        .expect("uuid");
    SecretStore::open(vault_id)
        .expect("store")
        .delete(SecretKey::otp(lost.id))
        .expect("delete");
    drop(vault);
    let vault = Vault::open(&Profile::at(profile.path())).expect("reopen");
    let e = vault.export_entries().unwrap_err();
    assert_eq!(e.code(), "secret_missing", "{e}");
    // Duplicate detection ignores the account it cannot read instead of failing.
    let report = vault
        .import(
            vec![uri("otpauth://totp/A2:a?secret=JBSWY3DPEHPK3PXP")],
            true,
        )
        .expect("import");
    assert_eq!(report.skipped_duplicates.len(), 1);
    assert_eq!(
        report.skipped_duplicates[0].duplicate_of,
        kept.display_name()
    );
}
