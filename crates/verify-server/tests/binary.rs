//! The `verify-server` binary's stdout protocol.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn read_lines(child: &mut std::process::Child) -> Vec<(String, String)> {
    let out = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let (k, v) = line.split_once(": ").unwrap();
        lines.push((k.to_string(), v.to_string()));
        if k == "listening" {
            break;
        }
    }
    lines
}

#[tokio::test]
async fn prints_machine_readable_lines_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_verify-server"))
            .args(["--listen", "127.0.0.1:0", "--demo"])
            .env("VERIFY_DATA_DIR", dir.path())
            .env_remove("VERIFY_ACCOUNT_SID")
            .env_remove("VERIFY_AUTH_TOKEN")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let lines = read_lines(&mut child);
    let keys: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ca",
            "account_sid",
            "auth_token",
            "service_sid",
            "demo",
            "listening"
        ]
    );
    let get = |k: &str| lines.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let listening = get("listening");
    assert!(listening.starts_with("https://127.0.0.1:"), "{listening}");
    assert_eq!(get("demo"), format!("{listening}/demo"));
    assert!(std::path::Path::new(&get("ca")).is_absolute());
    let client = common::client_for(std::path::Path::new(&get("ca")));
    let r = client
        .get(format!("{listening}/v2/Services/{}", get("service_sid")))
        .basic_auth(get("account_sid"), Some(get("auth_token")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();

    // Second start: same credentials, token not printed again, same demo service.
    let mut child = spawn();
    let lines2 = read_lines(&mut child);
    let keys: Vec<&str> = lines2.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["ca", "account_sid", "service_sid", "demo", "listening"]
    );
    assert_eq!(lines2[1].1, get("account_sid"));
    assert_eq!(lines2[2].1, get("service_sid"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Twilio's limits are on by default; the flags turn them down for tests and load runs.
#[tokio::test]
async fn limit_flags_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_verify-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--max-totp-factors",
            "1",
        ])
        .env("VERIFY_DATA_DIR", dir.path())
        .env_remove("VERIFY_ACCOUNT_SID")
        .env_remove("VERIFY_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = read_lines(&mut child);
    let get = |k: &str| lines.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let client = common::client_for(std::path::Path::new(&get("ca")));
    let url = format!(
        "{}/v2/Services/{}/Entities/limit-user-1/Factors",
        get("listening"),
        get("service_sid")
    );
    let mut codes = Vec::new();
    for name in ["first", "second"] {
        let r = client
            .post(&url)
            .basic_auth(get("account_sid"), Some(get("auth_token")))
            .form(&[("FactorType", "totp"), ("FriendlyName", name)])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        codes.push((status, body["code"].as_u64()));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(codes, [(201, None), (400, Some(60315))]);
}
