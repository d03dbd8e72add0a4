//! `countersign-cli import` / `export` against the real Secret Service (run under
//! scripts/with-keyring.sh). Exports use the real (debug-build slow) key derivations.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/src/import/testdata")
        .join(name)
}

/// Runs the CLI on `data_dir`, writing `stdin` (a password line) to its standard input.
fn cli(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign-cli"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn countersign-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `issuer\tname` lines of `list`, ids dropped.
fn accounts(data_dir: &Path) -> Vec<String> {
    let listed = cli(data_dir, &["list"], "");
    assert!(listed.status.success(), "{}", stderr(&listed));
    stdout(&listed)
        .lines()
        .map(|l| {
            l.split_once('\t')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default()
        })
        .collect()
}

const FIXTURE_ACCOUNTS: [&str; 4] = [
    "GitHub\talice@example.com",
    "ACME Co\tbob",
    "\tcarol",
    "Steam\tgaben",
];

#[test]
fn import_reports_each_failed_entry_and_a_summary() {
    let profile = tempfile::tempdir().expect("tempdir");
    let file = fixture("twofas_encrypted.2fas");
    let file = file.to_str().expect("path");

    let refused = cli(profile.path(), &["import", file], "");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("error[import_password_required]"),
        "{}",
        stderr(&refused)
    );
    let wrong = cli(
        profile.path(),
        &["import", file, "--password-stdin"],
        "nope\n",
    );
    assert!(
        stderr(&wrong).contains("error[import_wrong_password]"),
        "{}",
        stderr(&wrong)
    );
    assert!(accounts(profile.path()).is_empty());

    let out = cli(
        profile.path(),
        &["import", file, "--password-stdin"],
        "2fas-test-password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("failed\tentry 5 (Broken: mallory)\talgorithm:"),
        "{text}"
    );
    for (line, name) in lines[1..5].iter().zip([
        "GitHub (alice@example.com)",
        "ACME Co (bob)",
        "carol",
        "Steam (gaben)",
    ]) {
        assert!(
            line.starts_with("added\t") && line.ends_with(name),
            "{text}"
        );
    }
    assert_eq!(
        lines[5],
        "imported 4 of 5 entries from 2FAS (encrypted): 0 skipped as duplicates, 1 failed"
    );
    assert_eq!(accounts(profile.path()), FIXTURE_ACCOUNTS);

    // Importing again with --skip-duplicates adds nothing.
    let again = cli(
        profile.path(),
        &["import", file, "--password-stdin", "--skip-duplicates"],
        "2fas-test-password\n",
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).ends_with(
            "imported 0 of 5 entries from 2FAS (encrypted): 4 skipped as duplicates, 1 failed\n"
        ),
        "{}",
        stdout(&again)
    );
    assert_eq!(accounts(profile.path()).len(), 4);
}

/// Export in `format`, import into a fresh profile, compare; returns the export's text.
fn round_trip(format: &str, extra: &[&str], password: &str) -> String {
    let source = tempfile::tempdir().expect("tempdir");
    let target = tempfile::tempdir().expect("tempdir");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let imported = cli(
        source.path(),
        &[
            "import",
            fixture("andotp_plain.json").to_str().expect("path"),
        ],
        "",
    );
    assert!(imported.status.success(), "{}", stderr(&imported));

    let file = out_dir.path().join(format!("export.{format}"));
    let file_arg = file.to_str().expect("path");
    let mut args = vec!["export", file_arg, "--format", format];
    args.extend_from_slice(extra);
    let exported = cli(source.path(), &args, password);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert_eq!(stdout(&exported), format!("exported\t4\t{file_arg}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "export readable by others: {mode:o}");
    }

    let mut args = vec!["import", file_arg];
    if !password.is_empty() {
        args.push("--password-stdin");
    }
    let back = cli(target.path(), &args, password);
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(
        stdout(&back).contains("imported 4 of 4 entries"),
        "{}",
        stdout(&back)
    );
    assert_eq!(accounts(target.path()), FIXTURE_ACCOUNTS);
    // Same codes too: a code of each side for HOTP account carol (no clock involved).
    for dir in [source.path(), target.path()] {
        let code = cli(dir, &["code", "carol"], "");
        assert!(code.status.success(), "{}", stderr(&code));
        // RFC 4226-style HOTP of "fooba" (SHA512, counter 42), computed by Python's hmac.
        assert_eq!(stdout(&code).trim(), "886246");
    }
    std::fs::read_to_string(&file).expect("read export")
}

#[test]
fn countersign_backup_round_trip() {
    let text = round_trip("countersign", &["--password-stdin"], "backup password\n");
    assert!(
        text.contains("\"format\": \"countersign-backup\""),
        "{text}"
    );
    assert!(!text.contains("JBSWY3DPEHPK3PXP"));
}

#[test]
fn aegis_round_trip() {
    let text = round_trip("aegis", &["--password-stdin"], "aegis password\n");
    assert!(text.contains("\"slots\""), "{text}");
    assert!(!text.contains("JBSWY3DPEHPK3PXP"));
}

#[test]
fn plain_export_needs_the_acknowledgement() {
    let source = tempfile::tempdir().expect("tempdir");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let file = out_dir.path().join("plain.txt");
    let imported = cli(
        source.path(),
        &[
            "import",
            fixture("andotp_plain.json").to_str().expect("path"),
        ],
        "",
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let refused = cli(
        source.path(),
        &["export", file.to_str().expect("path"), "--format", "plain"],
        "",
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("error[export_failed]"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !file.exists(),
        "nothing may be written without the acknowledgement"
    );

    let text = round_trip("plain", &["--i-understand-plain-is-unencrypted"], "");
    assert_eq!(
        text.lines().next(),
        Some(
            "otpauth://totp/GitHub:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub&algorithm=SHA1&digits=6&period=30"
        )
    );
}
