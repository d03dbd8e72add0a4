//! `countersign-cli add` without a secret on the command line: a URI or a typed setup key
//! on standard input, checked against every process's argv while the CLI waits for it
//! (run under scripts/with-keyring.sh).

use countersign_e2e::*;
use serde_json::Value;

// RFC 6238's SHA1 seed, "12345678901234567890".
const SEED: &[u8] = b"12345678901234567890";
const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SEED_HEX: &str = "3132333435363738393031323334353637383930";

fn accounts(dir: &std::path::Path) -> Vec<Value> {
    let listed = cli(dir, &["list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    serde_json::from_str(&stdout(&listed)).expect("json")
}

fn code_is_reference(dir: &std::path::Path, account: &str) {
    let before = unix_now();
    let code = cli(dir, &["code", account]);
    let after = unix_now();
    assert!(code.status.success(), "{}", stderr(&code));
    assert_totp_between(SEED, stdout(&code).trim(), before, after);
}

#[test]
fn a_uri_on_stdin_adds_the_account_and_no_argv_shows_it() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let uri = format!("otpauth://totp/Example:alice?secret={SEED_B32}&issuer=Example\n");
    let (added, exposed) = cli_with_stdin(dir, &["add", "-"], &uri, SEED_B32);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(exposed.is_empty(), "secret in argv: {exposed:?}");
    assert!(stdout(&added).contains("Example"), "{}", stdout(&added));
    code_is_reference(dir, "alice");
    assert!(files_containing(dir, SEED_B32.as_bytes()).is_empty());
}

#[test]
fn a_typed_key_is_read_from_stdin_with_spaces_dashes_and_any_case() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let typed = "gezd gnbv-gy3t qojq GEZD-GNBV gy3t qojq\n";
    let (added, exposed) = cli_with_stdin(
        dir,
        &["add", "--issuer", "Example", "--name", "bob"],
        typed,
        "gezd gnbv",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(exposed.is_empty(), "{exposed:?}");
    code_is_reference(dir, "bob");
    let list = accounts(dir);
    assert_eq!(list[0]["issuer"], "Example");
    assert_eq!(list[0]["name"], "bob");
    assert_eq!(list[0]["otp"]["kind"], "totp");

    // Hex behind --hex.
    let (added, _) = cli_with_stdin(
        dir,
        &["add", "--issuer", "Hex", "--name", "carol", "--hex"],
        &format!("{SEED_HEX}\n"),
        SEED_HEX,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    code_is_reference(dir, "carol");
}

#[test]
fn parameters_are_taken_from_flags() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let (added, _) = cli_with_stdin(
        dir,
        &[
            "add",
            "--issuer",
            "Bank",
            "--name",
            "dave",
            "--algorithm",
            "sha256",
            "--digits",
            "8",
            "--period",
            "60",
        ],
        &format!("{SEED_B32}\n"),
        SEED_B32,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let (added, _) = cli_with_stdin(
        dir,
        &["add", "--name", "erin", "--type", "hotp", "--counter", "5"],
        &format!("{SEED_B32}\n"),
        SEED_B32,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let list = accounts(dir);
    let dave = list.iter().find(|a| a["name"] == "dave").expect("dave");
    assert_eq!(dave["otp"]["algorithm"], "SHA256");
    assert_eq!(dave["otp"]["digits"], 8);
    assert_eq!(dave["otp"]["period"], 60);
    let code = cli(dir, &["code", "dave"]);
    assert_eq!(stdout(&code).trim().len(), 8, "{}", stdout(&code));
    let erin = list.iter().find(|a| a["name"] == "erin").expect("erin");
    assert_eq!(erin["otp"]["kind"], "hotp");
    assert_eq!(erin["otp"]["counter"], 5);
    assert_eq!(erin["issuer"], "");
}

#[test]
fn a_bad_key_or_parameter_is_refused_by_field_and_adds_nothing() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["add", "--name", "x"],
            "GEZDGNBVGY3TQOJ0\n",
            "invalid secret: bad character '0' at position 16",
        ),
        (
            &["add", "--name", "x"],
            "\n",
            "invalid secret: the secret is empty",
        ),
        (
            &["add", "--name", "x", "--digits", "9"],
            "GEZDGNBV\n",
            "invalid digits",
        ),
        (
            &["add", "--name", "x", "--counter", "3"],
            "GEZDGNBV\n",
            "invalid counter",
        ),
    ];
    for (args, input, says) in cases {
        let (refused, _) = cli_with_stdin(dir, args, input, "GEZDGNBV");
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            stderr(&refused).starts_with(&format!("error[invalid_account]: {says}")),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    assert!(accounts(dir).is_empty());
    let service = format!("countersign:{}", vault_id(dir));
    assert!(keychain_users(&service).is_empty());
}
