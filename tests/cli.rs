//! `countersign-cli` against the real Secret Service (run under scripts/with-keyring.sh).

use countersign_e2e::*;
use std::process::Command;

// RFC 6238's SHA1 seed, "12345678901234567890".
const SEED: &[u8] = b"12345678901234567890";
const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn uri(issuer: &str, account: &str) -> String {
    format!("otpauth://totp/{issuer}:{account}?secret={SEED_B32}&issuer={issuer}")
}

#[test]
fn add_list_code_delete_round_trip() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();

    let added = cli(dir, &["add", &uri("Example", "alice@example.com")]);
    assert!(added.status.success(), "add failed: {}", stderr(&added));
    let id = stdout(&added)
        .split('\t')
        .next()
        .expect("id")
        .trim()
        .to_string();

    let listed = cli(dir, &["list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(
        stdout(&listed).trim(),
        format!("{id}\tExample\talice@example.com")
    );

    let before = unix_now();
    let code = cli(dir, &["code", "alice@example.com"]);
    let after = unix_now();
    assert!(code.status.success(), "{}", stderr(&code));
    assert_totp_between(SEED, stdout(&code).trim(), before, after);

    // The secret is in the keychain under this profile's namespace, and in no file.
    let service = format!("countersign:{}", vault_id(dir));
    assert_eq!(keychain_users(&service), vec![format!("otp:{id}")]);
    assert!(files_containing(dir, SEED_B32.as_bytes()).is_empty());
    assert!(files_containing(dir, SEED).is_empty());

    let deleted = cli(dir, &["delete", "Example:alice@example.com"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(stdout(&cli(dir, &["list"])).trim(), "");
    assert!(
        keychain_users(&service).is_empty(),
        "keychain entry left behind"
    );
}

#[test]
fn profiles_do_not_see_each_other() {
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    assert!(
        cli(first.path(), &["add", &uri("One", "a")])
            .status
            .success()
    );
    assert!(
        cli(second.path(), &["add", &uri("Two", "b")])
            .status
            .success()
    );

    let listed = stdout(&cli(second.path(), &["list"]));
    assert!(
        listed.contains("Two") && !listed.contains("One"),
        "{listed}"
    );
    let first_service = format!("countersign:{}", vault_id(first.path()));
    let second_service = format!("countersign:{}", vault_id(second.path()));
    assert_ne!(first_service, second_service);
    assert_eq!(keychain_users(&first_service).len(), 1);
    assert_eq!(keychain_users(&second_service).len(), 1);

    // Deleting in one profile leaves the other's secret alone.
    assert!(cli(second.path(), &["delete", "Two"]).status.success());
    assert_eq!(keychain_users(&first_service).len(), 1);
}

#[test]
fn a_bad_uri_is_refused_with_the_field_named_and_nothing_stored() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let output = cli(
        dir,
        &["add", "otpauth://totp/Example:bob?secret=not*base32"],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.starts_with("error[invalid_"), "{err}");
    assert!(err.contains("secret"), "the refusal names the field: {err}");
    assert_eq!(stdout(&cli(dir, &["list"])).trim(), "");
    let service = format!("countersign:{}", vault_id(dir));
    assert!(keychain_users(&service).is_empty());
}

#[test]
fn environment_variable_selects_the_profile() {
    let profile = tempfile::tempdir().expect("tempdir");
    let output = Command::new(binary("countersign-cli"))
        .env("COUNTERSIGN_DATA_DIR", profile.path())
        .args(["add", &uri("Env", "carol")])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(profile.path().join("accounts.json").exists());
}

#[test]
fn no_session_bus_gives_a_clear_error_and_writes_no_secret() {
    let profile = tempfile::tempdir().expect("tempdir");
    let empty_runtime = tempfile::tempdir().expect("tempdir");
    let output = Command::new(binary("countersign-cli"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", empty_runtime.path())
        .arg("--data-dir")
        .arg(profile.path())
        .args(["add", &uri("Nobus", "dave")])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.starts_with("error[keychain_unavailable]"), "{err}");
    assert!(err.contains("D-Bus"), "names the cause: {err}");
    assert!(files_containing(profile.path(), SEED_B32.as_bytes()).is_empty());
}

#[test]
fn a_session_without_secret_service_is_explained() {
    // A private bus with no keyring daemon on it and no service directories, so nothing can
    // be activated to own the Secret Service name.
    let profile = tempfile::tempdir().expect("tempdir");
    let config = profile.path().join("bus.conf");
    std::fs::write(
        &config,
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>"#,
    )
    .expect("write bus config");
    let output = Command::new("dbus-run-session")
        .arg("--config-file")
        .arg(&config)
        .arg("--")
        .arg(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(profile.path())
        .args(["add", &uri("Nodaemon", "erin")])
        .output()
        .expect("dbus-run-session runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // dbus-daemon may print its own warnings first; ours is the `error[...]` line.
    let all = stderr(&output);
    let err = all
        .lines()
        .find(|l| l.starts_with("error["))
        .unwrap_or_else(|| panic!("no error line in {all}"));
    assert!(err.starts_with("error[keychain_unavailable]"), "{err}");
    assert!(err.contains("Secret Service"), "names the cause: {err}");
}

#[test]
fn hotp_codes_advance_only_with_next_and_the_counter_survives_a_restart() {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let hotp = format!("otpauth://hotp/Counter:hank?secret={SEED_B32}&issuer=Counter&counter=0");
    let added = Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(["add", hotp.as_str()])
        .output()
        .expect("runs");
    assert!(added.status.success(), "{}", stderr(&added));
    let code = |args: &[&str]| {
        let output = cli(dir, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output).trim().to_string()
    };
    // RFC 4226 Appendix D: counts 0, 1 and 2.
    assert_eq!(code(&["code", "hank"]), "755224");
    assert_eq!(
        code(&["code", "hank"]),
        "755224",
        "showing does not advance"
    );
    assert_eq!(code(&["code", "hank", "--next"]), "287082");
    assert_eq!(code(&["code", "hank"]), "287082");
    assert_eq!(code(&["code", "hank", "--next"]), "359152");
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&cli(dir, &["list", "--json"]))).expect("json");
    assert_eq!(listed[0]["otp"]["counter"], 2);

    // A time-based account has no counter to advance.
    assert!(cli(dir, &["add", &uri("Time", "tina")]).status.success());
    let refused = cli(dir, &["code", "tina", "--next"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).starts_with("error[invalid_account]"),
        "{}",
        stderr(&refused)
    );
}
