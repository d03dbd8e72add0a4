//! Shared helpers for the end-to-end tests: binaries built by this workspace, throwaway
//! profiles, and reference values computed independently of the code under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory cargo writes binaries to for this build (`target/debug` or `target/release`).
pub fn target_dir() -> PathBuf {
    // The test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory")
        .to_path_buf()
}

/// Path of a workspace binary; the README's test command builds them before the tests run.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace`)",
        path.display()
    );
    path
}

/// Runs `countersign-cli` with a profile directory.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("countersign-cli runs")
}

/// Runs `countersign-cli` with `input` on standard input. Before writing it, while the CLI
/// is waiting for it, every process's argv (`/proc/*/cmdline`) is searched for `secret`;
/// the second value lists the processes whose argv contained it.
pub fn cli_with_stdin(
    data_dir: &Path,
    args: &[&str],
    input: &str,
    secret: &str,
) -> (Output, Vec<String>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("countersign-cli runs");
    // Wait until the child has exec'd (it then blocks on stdin): its argv is the CLI's.
    let own_argv = format!("/proc/{}/cmdline", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read(&own_argv)
        .is_ok_and(|argv| argv.windows(15).any(|w| w == b"countersign-cli"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the CLI did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let exposed = processes_with_argv_containing(secret.as_bytes());
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    (child.wait_with_output().expect("cli output"), exposed)
}

/// `pid: argv` of every process whose command line contains `needle`.
pub fn processes_with_argv_containing(needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s), written here independently of the core so a
/// bug there can't hide in the reference.
pub fn reference_totp(secret: &[u8], unix_time: u64) -> String {
    use hmac::{Hmac, Mac};
    let counter = unix_time / 30;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Asserts `code` is the reference code at some moment in [before, after] (a CLI run can
/// straddle a 30 s boundary).
pub fn assert_totp_between(secret: &[u8], code: &str, before: u64, after: u64) {
    let candidates: Vec<String> = [before, after]
        .iter()
        .map(|t| reference_totp(secret, *t))
        .collect();
    assert!(
        candidates.iter().any(|c| c == code),
        "code {code:?} is not the RFC 6238 code for {before}..{after} ({candidates:?})"
    );
}

/// Every regular file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    regular_files(dir)
        .into_iter()
        .filter(|path| std::fs::read(path).is_ok_and(|bytes| contains(&bytes, needle)))
        .collect()
}

/// Every regular file under `dir`, recursively (symbolic links are not followed).
pub fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The keychain entries (by `username` attribute) under a service, via `secret-tool`, which
/// talks to the Secret Service independently of our code.
pub fn keychain_users(service: &str) -> Vec<String> {
    let output = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool runs (package libsecret-tools)");
    // secret-tool prints attributes on stderr for some versions and stdout for others.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .map(str::to_string)
        .collect()
}

/// The profile's vault id, read from its metadata file.
pub fn vault_id(data_dir: &Path) -> String {
    let bytes = std::fs::read(data_dir.join("accounts.json")).expect("accounts.json exists");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    json["vault_id"].as_str().expect("vault_id").to_string()
}

/// The secret stored in one keychain entry, via `secret-tool lookup` (independent of our code);
/// `None` when there is no such entry.
pub fn keychain_secret(service: &str, user: &str) -> Option<String> {
    let output = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", user])
        .output()
        .expect("secret-tool runs (package libsecret-tools)");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// One way a secret could be written down: what to look for, and whether to look in the
/// text as it is or with all white space removed.
pub struct SecretForm {
    pub name: &'static str,
    pub needle: Vec<u8>,
    pub ignoring_whitespace: bool,
}

/// The forms in which a leaked secret would show up in a file, a log or terminal output:
/// the raw bytes; base32 in upper and lower case (searched with white space removed, which
/// also catches the "JBSW Y3DP ..." grouping apps display, and padding, which only follows);
/// hex in both cases; base64 and base64url at each of the three alignments a secret can have
/// inside a longer encoded blob; and serde's default for bytes, a list of decimal numbers.
pub fn secret_forms(secret: &[u8]) -> Vec<SecretForm> {
    use data_encoding::{BASE32_NOPAD, BASE64_NOPAD, BASE64URL_NOPAD, HEXLOWER, HEXUPPER};
    let mut forms = vec![
        SecretForm {
            name: "raw bytes",
            needle: secret.to_vec(),
            ignoring_whitespace: false,
        },
        SecretForm {
            name: "base32",
            needle: BASE32_NOPAD.encode(secret).into_bytes(),
            ignoring_whitespace: true,
        },
        SecretForm {
            name: "base32 lower case",
            needle: BASE32_NOPAD.encode(secret).to_lowercase().into_bytes(),
            ignoring_whitespace: true,
        },
        SecretForm {
            name: "hex",
            needle: HEXLOWER.encode(secret).into_bytes(),
            ignoring_whitespace: true,
        },
        SecretForm {
            name: "HEX",
            needle: HEXUPPER.encode(secret).into_bytes(),
            ignoring_whitespace: true,
        },
        SecretForm {
            name: "decimal byte list",
            needle: secret
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes(),
            ignoring_whitespace: true,
        },
    ];
    for (name, encoding) in [("base64", &BASE64_NOPAD), ("base64url", &BASE64URL_NOPAD)] {
        forms.push(SecretForm {
            name,
            needle: encoding.encode(secret).into_bytes(),
            ignoring_whitespace: true,
        });
        // Inside a longer blob the secret starts at any offset modulo 3; the whole 3-byte
        // groups after that offset encode the same way wherever the blob begins.
        for skip in 1..3 {
            let rest = &secret[skip.min(secret.len())..];
            let whole = rest.len() / 3 * 3;
            // Shorter pieces would match unrelated text by chance.
            if whole >= 6 {
                forms.push(SecretForm {
                    name,
                    needle: encoding.encode(&rest[..whole]).into_bytes(),
                    ignoring_whitespace: true,
                });
            }
        }
    }
    forms
}

/// Each secret (by index in `secrets`) and form found in `bytes`, as "secret #i as FORM".
pub fn secrets_in(bytes: &[u8], secrets: &[Vec<u8>]) -> Vec<String> {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut hits = Vec::new();
    for (index, secret) in secrets.iter().enumerate() {
        for form in secret_forms(secret) {
            let haystack = if form.ignoring_whitespace {
                &compact
            } else {
                bytes
            };
            if contains(haystack, &form.needle) {
                hits.push(format!("secret #{index} as {}", form.name));
            }
        }
    }
    hits
}

/// Every file under `dir` holding any of `secrets` in any of [`secret_forms`], as
/// "PATH: secret #i as FORM".
pub fn files_containing_secrets(dir: &Path, secrets: &[Vec<u8>]) -> Vec<String> {
    regular_files(dir)
        .into_iter()
        .flat_map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_default();
            secrets_in(&bytes, secrets)
                .into_iter()
                .map(move |hit| format!("{}: {hit}", path.display()))
        })
        .collect()
}
