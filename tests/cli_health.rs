//! `countersign-cli doctor` and `push reenroll` against verify-server over HTTPS and the real
//! Secret Service (run under scripts/with-keyring.sh): exit codes and output for a healthy,
//! a key-lost and a locked profile, re-enrollment end to end, and a re-enrollment killed
//! while blocked on the network, resumed by the next command.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use countersign_core::push::EnrollLink;
use countersign_core::verify::client::Request;
use countersign_core::verify::{Credentials, ServerConfig, VerifyClient};
use countersign_e2e::*;
use serde_json::Value;

const IDENTITY: &str = "doctor-user-01";

/// Every test shares one keyring daemon: the test that locks it runs alone.
static KEYRING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

struct Setup {
    server: verify_server::RunningServer,
    client: VerifyClient,
    credentials: Credentials,
    service: String,
    ca_path: PathBuf,
    _server_dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Setup {
        let server_dir = tempfile::tempdir().expect("tempdir");
        let mut config = verify_server::Config::new(server_dir.path());
        config.demo = true;
        let server = verify_server::start(config).await.expect("server");
        let ca_path = server.ca_pem_path().to_path_buf();
        let ca = std::fs::read_to_string(&ca_path).expect("ca");
        Setup {
            client: VerifyClient::new(
                &ServerConfig::new(&server.base_url(), Some(ca)).expect("config"),
            )
            .expect("client"),
            credentials: Credentials::Backend {
                account_sid: server.account_sid().to_string(),
                auth_token: server.auth_token().to_string(),
            },
            service: server.demo_service_sid().expect("demo service"),
            ca_path,
            server,
            _server_dir: server_dir,
        }
    }

    /// A backend call with Basic auth: (HTTP status, JSON body).
    async fn backend(&self, method: &str, path: &[&str], form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .client
            .send(Request {
                method: method.parse().expect("method"),
                path,
                query: &[],
                form,
                credentials: &self.credentials,
            })
            .await
            .expect("backend request");
        let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status.as_u16(), body)
    }

    /// A new enrollment link, as the relying party's backend hands it out.
    async fn link(&self, server_url: Option<&str>) -> String {
        let (status, body) = self
            .backend(
                "POST",
                &["Services", &self.service, "AccessTokens"],
                &[("Identity", IDENTITY), ("FactorType", "push")],
            )
            .await;
        assert_eq!(status, 201, "{body}");
        EnrollLink {
            server: server_url
                .map(str::to_string)
                .unwrap_or_else(|| self.server.base_url()),
            service_sid: self.service.clone(),
            identity: IDENTITY.into(),
            access_token: body["token"].as_str().expect("token").to_string(),
            friendly_name: Some("Doctor desktop".into()),
        }
        .to_link()
    }

    async fn factor(&self, sid: &str) -> (u16, Value) {
        let path = [
            "Services",
            &self.service,
            "Entities",
            IDENTITY,
            "Factors",
            sid,
        ];
        self.backend("GET", &path, &[]).await
    }

    async fn delete_factor(&self, sid: &str) -> u16 {
        let path = [
            "Services",
            &self.service,
            "Entities",
            IDENTITY,
            "Factors",
            sid,
        ];
        self.backend("DELETE", &path, &[]).await.0
    }

    async fn challenge(&self, factor_sid: &str) -> String {
        let path = [
            "Services",
            &self.service,
            "Entities",
            IDENTITY,
            "Challenges",
        ];
        let (status, body) = self
            .backend(
                "POST",
                &path,
                &[("FactorSid", factor_sid), ("Details.Message", "Log in?")],
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["sid"].as_str().expect("sid").to_string()
    }

    fn ca(&self) -> &str {
        self.ca_path.to_str().expect("utf-8 path")
    }
}

async fn run_cli(dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &args)
    })
    .await
    .expect("cli task")
}

/// Enrolls through the CLI; returns (enrollment id, factor SID).
async fn enroll(setup: &Setup, dir: &Path) -> (String, String) {
    let link = setup.link(None).await;
    let out = run_cli(dir, &["push", "enroll", &link, "--ca", setup.ca()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let fields: Vec<&str> = line.trim().split('\t').collect();
    (fields[1].to_string(), fields[2].to_string())
}

/// The `push` lines of doctor's output: id → (code, factor SID, cause, next step).
fn push_lines(out: &Output) -> Vec<Vec<String>> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with("push\t"))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn exit(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Deletes a keychain entry with `secret-tool`, independently of the code under test.
fn delete_entry(dir: &Path, user: &str) {
    let service = format!("countersign:{}", vault_id(dir));
    let status = Command::new("secret-tool")
        .args(["clear", "service", &service, "username", user])
        .status()
        .expect("secret-tool runs (package libsecret-tools)");
    assert!(status.success());
    assert!(!keychain_users(&service).iter().any(|u| u == user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_a_lost_key_and_push_reenroll_repairs_it() {
    let _shared = KEYRING.read().await;
    let setup = Setup::start().await;
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let (old_id, old_sid) = enroll(&setup, dir).await;
    let added = run_cli(
        dir,
        &[
            "add",
            "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        ],
    )
    .await;
    assert!(added.status.success(), "{}", stderr(&added));

    let healthy = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&healthy), Some(0), "{}", stderr(&healthy));
    let text = stdout(&healthy);
    assert!(text.starts_with("keychain\tok\n"), "{text}");
    assert!(text.ends_with("verdict\thealthy\n"), "{text}");
    let lines = push_lines(&healthy);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0][1..4],
        [old_id.clone(), "healthy".into(), old_sid.clone()]
    );

    // A reinstall: the key is gone, the metadata is not.
    delete_entry(dir, &format!("push:{old_id}"));
    let broken = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&broken), Some(2), "{}", stderr(&broken));
    let lines = push_lines(&broken);
    assert_eq!(
        lines[0][1..4],
        [old_id.clone(), "key_missing".into(), old_sid.clone()]
    );
    assert!(lines[0][5].contains("no longer has the key"), "{lines:?}");
    assert!(lines[0][6].contains("re-enroll"), "{lines:?}");
    assert!(stdout(&broken).ends_with("verdict\tneeds_action\n"));
    let json = run_cli(dir, &["doctor", "--json"]).await;
    assert_eq!(exit(&json), Some(2));
    let summary: Value = serde_json::from_str(&stdout(&json)).expect("json");
    assert_eq!(summary["verdict"], "needs_action");
    assert_eq!(summary["factors"][0]["health"]["status"], "broken");
    assert_eq!(summary["factors"][0]["health"]["problem"], "key_missing");
    assert_eq!(summary["factors"][0]["action"], "reenroll");

    // Re-enroll by factor SID with a new link.
    let link = setup.link(None).await;
    let done = run_cli(
        dir,
        &["push", "reenroll", &old_sid, &link, "--ca", setup.ca()],
    )
    .await;
    assert!(done.status.success(), "{}", stderr(&done));
    let out = stdout(&done);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines[0][0], "reenrolled", "{out}");
    let (new_id, new_sid) = (lines[0][1].to_string(), lines[0][2].to_string());
    assert!(new_sid.starts_with("YF") && new_sid != old_sid, "{out}");
    assert_eq!(lines[1], ["old", &old_id, "service_must_remove", &old_sid]);
    assert!(
        stderr(&done).contains(&format!("the service must remove factor {old_sid}")),
        "{}",
        stderr(&done)
    );
    assert_eq!(setup.factor(&new_sid).await.1["status"], "verified");

    // Until the service removes it, doctor keeps saying so.
    let reminded = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&reminded), Some(2));
    let lines = push_lines(&reminded);
    let old_line = lines.iter().find(|l| l[1] == old_id).expect("old line");
    assert_eq!(old_line[2], "needs_service_removal");
    assert!(old_line[6].contains(&old_sid), "{old_line:?}");

    // The relying party deletes the old factor; approvals work on the new one.
    assert_eq!(setup.delete_factor(&old_sid).await, 204);
    let sid = setup.challenge(&new_sid).await;
    let approved = run_cli(dir, &["push", "approve", &sid]).await;
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert_eq!(stdout(&approved).trim(), format!("approved\t{sid}"));
    let dismissed = run_cli(dir, &["push", "remove", &old_id]).await;
    assert!(dismissed.status.success(), "{}", stderr(&dismissed));
    let healthy = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&healthy), Some(0), "{}", stdout(&healthy));
    assert_eq!(push_lines(&healthy)[0][1..3], [new_id, "healthy".into()]);

    // Nothing to cancel now: a plain refusal.
    let cancel = run_cli(dir, &["push", "reenroll", "--cancel", &new_sid]).await;
    assert_eq!(exit(&cancel), Some(1));
    assert!(
        stderr(&cancel).starts_with("error[reenrollment_refused]"),
        "{}",
        stderr(&cancel)
    );
    setup.server.shutdown().await;
}

/// The test keyring over D-Bus: locked with the standard Secret Service call, unlocked with
/// the password scripts/with-keyring.sh set (gnome-keyring's own interface).
mod keyring {
    use zbus::blocking::Connection;
    use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

    const DEST: &str = "org.freedesktop.secrets";
    const SERVICE: &str = "/org/freedesktop/secrets";
    const SECRETS: &str = "org.freedesktop.Secret.Service";

    fn default_collection(conn: &Connection) -> OwnedObjectPath {
        conn.call_method(
            Some(DEST),
            SERVICE,
            Some(SECRETS),
            "ReadAlias",
            &("default",),
        )
        .expect("ReadAlias")
        .body()
        .deserialize()
        .expect("collection path")
    }

    /// Unlocks the keyring when dropped, so a failing test cannot leave it locked.
    pub struct Locked;

    impl Drop for Locked {
        fn drop(&mut self) {
            let _ = std::thread::spawn(unlock).join();
        }
    }

    pub fn lock() -> Locked {
        let conn = Connection::session().expect("session bus");
        let collection = default_collection(&conn);
        conn.call_method(
            Some(DEST),
            SERVICE,
            Some(SECRETS),
            "Lock",
            &(vec![collection],),
        )
        .expect("Lock");
        Locked
    }

    fn unlock() {
        let conn = Connection::session().expect("session bus");
        let collection = default_collection(&conn);
        let (_, session): (OwnedValue, OwnedObjectPath) = conn
            .call_method(
                Some(DEST),
                SERVICE,
                Some(SECRETS),
                "OpenSession",
                &("plain", Value::from("")),
            )
            .expect("OpenSession")
            .body()
            .deserialize()
            .expect("session");
        let secret = (
            session,
            Vec::<u8>::new(),
            b"countersign-test".to_vec(),
            "text/plain",
        );
        conn.call_method(
            Some(DEST),
            SERVICE,
            Some("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"),
            "UnlockWithMasterPassword",
            &(collection, secret),
        )
        .expect("UnlockWithMasterPassword");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_locked_keychain_with_its_own_exit_code() {
    let _exclusive = KEYRING.write().await;
    let setup = Setup::start().await;
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let (id, sid) = enroll(&setup, dir).await;

    let locked = tokio::task::spawn_blocking(keyring::lock)
        .await
        .expect("task");
    let out = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&out), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("keychain\tlocked\t"), "{text}");
    assert_eq!(
        push_lines(&out)[0][1..4],
        [id.clone(), "keychain_locked".into(), sid.clone()]
    );
    assert!(text.ends_with("verdict\tkeychain_blocked\n"), "{text}");
    // No re-enrollment starts on a locked keychain, and nothing is left behind.
    let link = setup.link(None).await;
    let refused = run_cli(dir, &["push", "reenroll", &id, &link, "--ca", setup.ca()]).await;
    assert_eq!(exit(&refused), Some(1));
    assert!(
        stderr(&refused).starts_with("error[keychain_locked]"),
        "{}",
        stderr(&refused)
    );
    let records: Value = serde_json::from_slice(
        &std::fs::read(dir.join("enrollments.json")).expect("enrollments.json"),
    )
    .expect("json");
    assert_eq!(records["enrollments"].as_array().map(Vec::len), Some(1));

    tokio::task::spawn_blocking(move || drop(locked))
        .await
        .expect("task");
    let out = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(push_lines(&out)[0][2], "healthy");
    setup.server.shutdown().await;
}

/// A loopback listener that accepts connections and never answers, so a client using it
/// blocks on the network. Stops by itself after a minute, or when dropped.
struct BlackHole {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("https://{}/v2/", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        held.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        BlackHole {
            url,
            accepted,
            stop,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits until `ready` holds, for at most `limit`.
async fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ready()
}

fn enrollments(dir: &Path) -> Vec<Value> {
    std::fs::read(dir.join("enrollments.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|json| json["enrollments"].as_array().cloned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reenroll_killed_while_blocked_on_the_network_is_resumed_by_doctor() {
    let _shared = KEYRING.read().await;
    let setup = Setup::start().await;
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let (old_id, old_sid) = enroll(&setup, dir).await;

    // The new link points at a server that accepts and never answers.
    let hole = BlackHole::start();
    let link = setup.link(Some(&hole.url)).await;
    let mut child = Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(["push", "reenroll", &old_id, &link, "--ca", setup.ca()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("countersign-cli starts");
    let blocked = wait_until(Duration::from_secs(20), || {
        hole.accepted.load(Ordering::Relaxed) > 0
            && enrollments(dir)
                .iter()
                .any(|e| e["replaces"] == old_id.as_str() && e["state"] == "key_stored")
    })
    .await;
    assert!(blocked, "the re-enrollment never reached the network");
    assert!(child.try_wait().expect("status").is_none(), "still running");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let mut output = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut output).expect("stdout");
    }
    assert_eq!(output, "", "nothing was reported as done");
    let records = enrollments(dir);
    assert_eq!(records.len(), 2);
    let new_id = records
        .iter()
        .find(|e| e["replaces"] == old_id.as_str())
        .and_then(|e| e["id"].as_str())
        .expect("new record")
        .to_string();

    // The next command resumes: the unfinished new enrollment is undone (its one-time link
    // is spent), the old factor is untouched and still works.
    let out = run_cli(dir, &["doctor"]).await;
    assert_eq!(exit(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains(&format!("enrollment {new_id} was cleaned up")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        push_lines(&out)[0][1..4],
        [old_id.clone(), "healthy".into(), old_sid.clone()]
    );
    let records = enrollments(dir);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["replaced_by"], Value::Null);
    let service = format!("countersign:{}", vault_id(dir));
    assert_eq!(keychain_users(&service), vec![format!("push:{old_id}")]);
    drop(hole);

    // A new attempt with a working link finishes; the old key still signs, so the old
    // factor is deleted on the server by this device.
    let link = setup.link(None).await;
    let done = run_cli(
        dir,
        &["push", "reenroll", &old_id, &link, "--ca", setup.ca()],
    )
    .await;
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        stdout(&done).contains(&format!("old\t{old_id}\tdeleted_on_server\t{old_sid}")),
        "{}",
        stdout(&done)
    );
    assert_eq!(setup.factor(&old_sid).await.0, 404);
    setup.server.shutdown().await;
}
