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
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(path);
            }
        }
    }
    hits
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
