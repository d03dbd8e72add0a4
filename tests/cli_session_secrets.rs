//! A whole session through `countersign-cli` (run under scripts/with-keyring.sh): add by URI,
//! imports (plain and encrypted), encrypted exports, codes, a restart; then every place the
//! program could write to is searched for every secret, in every encoding a leak would take.
//! Secrets belong in the keychain only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use countersign_core::otp::OtpParams;
use countersign_core::otpauth::OtpAuthUri;
use countersign_core::secret::SecretBytes;
use countersign_e2e::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIXTURES: &str = "../crates/core/src/import/testdata";
const AEGIS_FIXTURE_PASSWORD: &str = "aegis-test-password";
const IMPORT_PASSWORD: &str = "a passphrase for the session test";
const EXPORT_PASSWORD: &str = "the session's export passphrase";

/// A throwaway home: the profile and every XDG directory the CLI could write to live under
/// `root`, so searching `root` searches them all. Files the user hands to the CLI (imports)
/// and asks it to write (exports) live elsewhere and are checked on their own terms.
struct Session {
    root: tempfile::TempDir,
    /// Everything the CLI printed, stdout and stderr, across the session.
    printed: Vec<u8>,
}

impl Session {
    fn new() -> Session {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in ["home", "data", "config", "cache", "state", "tmp"] {
            std::fs::create_dir(root.path().join(dir)).expect("create dir");
        }
        Session {
            root,
            printed: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// The profile the CLI picks by itself from XDG_DATA_HOME (no --data-dir).
    fn data_dir(&self) -> PathBuf {
        self.path("data").join("countersign")
    }

    /// Runs the CLI as a new process (each call is a restart), with `stdin` as its input,
    /// logging at the most verbose level in case anything logs.
    fn run(&mut self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(binary("countersign-cli"))
            .args(args)
            .env_remove("COUNTERSIGN_DATA_DIR")
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("TMPDIR", self.path("tmp"))
            .env("COUNTERSIGN_LOG", "trace")
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("countersign-cli starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("countersign-cli runs");
        self.printed.extend_from_slice(&output.stdout);
        self.printed.extend_from_slice(&output.stderr);
        output
    }

    fn succeed(&mut self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert!(
            output.status.success(),
            "countersign-cli {args:?}: {}",
            stderr(&output)
        );
        stdout(&output)
    }
}

fn random_entry(issuer: &str, name: &str, rng: &mut StdRng) -> OtpAuthUri {
    let mut secret = vec![0u8; 20];
    rng.fill(&mut secret[..]);
    OtpAuthUri {
        issuer: Some(issuer.into()),
        account_name: name.into(),
        params: OtpParams::totp_default(),
        secret: SecretBytes::new(secret),
    }
}

/// A verify-server for the push part of the session; dropped (stopped) with the runtime.
struct PushServer {
    _runtime: tokio::runtime::Runtime,
    _server: verify_server::RunningServer,
}

/// Enrolls the session's profile as a push factor and approves one request through the
/// CLI; returns the access token and the key the enrollment stored, as secrets to search.
fn push_session(session: &mut Session, outside: &Path) -> (Vec<Vec<u8>>, PushServer) {
    use countersign_core::verify::client::Request;
    use countersign_core::verify::{Credentials, ServerConfig, VerifyClient};
    const IDENTITY: &str = "session-user-01";
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut config = verify_server::Config::new(outside.join("verify-server"));
    config.demo = true;
    let server = runtime
        .block_on(verify_server::start(config))
        .expect("verify-server");
    let ca_path = server.ca_pem_path().to_path_buf();
    let ca = std::fs::read_to_string(&ca_path).expect("ca");
    let backend = VerifyClient::new(&ServerConfig::new(&server.base_url(), Some(ca)).expect("cfg"))
        .expect("client");
    let credentials = Credentials::Backend {
        account_sid: server.account_sid().to_string(),
        auth_token: server.auth_token().to_string(),
    };
    let service = server.demo_service_sid().expect("demo service");
    let call = |path: &[&str], form: &[(&str, &str)]| -> serde_json::Value {
        let response = runtime
            .block_on(backend.send(Request {
                method: "POST".parse().expect("method"),
                path,
                query: &[],
                form,
                credentials: &credentials,
            }))
            .expect("backend request");
        assert!(response.status.is_success(), "{response:?}");
        serde_json::from_slice(&response.body).expect("json")
    };
    let token = call(
        &["Services", &service, "AccessTokens"],
        &[("Identity", IDENTITY), ("FactorType", "push")],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();
    let link = countersign_core::push::EnrollLink {
        server: server.base_url(),
        service_sid: service.clone(),
        identity: IDENTITY.into(),
        access_token: token.clone(),
        friendly_name: Some("Session desktop".into()),
    }
    .to_link();
    let enrolled = session.succeed(
        &["push", "enroll", "-", "--ca", path_arg(&ca_path)],
        &format!("{link}\n"),
    );
    let fields: Vec<&str> = enrolled.trim().split('\t').collect();
    let (id, factor_sid) = (fields[1].to_string(), fields[2].to_string());
    let challenge = call(
        &["Services", &service, "Entities", IDENTITY, "Challenges"],
        &[
            ("FactorSid", &factor_sid),
            ("Details.Message", "Session sign-in"),
        ],
    )["sid"]
        .as_str()
        .expect("sid")
        .to_string();
    session.succeed(
        &["push", "approve", &challenge, "--ca", path_arg(&ca_path)],
        "",
    );

    let vault_id: uuid::Uuid = vault_id(&session.data_dir()).parse().expect("vault id");
    let key_id: uuid::Uuid = id.parse().expect("enrollment id");
    let der = countersign_core::keychain::SecretStore::open(vault_id)
        .expect("keychain")
        .get(countersign_core::keychain::SecretKey::push(key_id))
        .expect("read key")
        .expect("the enrollment's key is in the keychain");
    let der = der.expose().to_vec();
    (
        vec![token.into_bytes(), ec_private_scalar(&der), der],
        PushServer {
            _runtime: runtime,
            _server: server,
        },
    )
}

/// The 32-byte private scalar inside a PKCS#8 P-256 key: RFC 5915's ECPrivateKey starts
/// `02 01 01` (version 1) then `04 20` and the scalar.
fn ec_private_scalar(der: &[u8]) -> Vec<u8> {
    let start = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("an ECPrivateKey in the PKCS#8 key")
        + 5;
    der[start..start + 32].to_vec()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(name)
}

/// The secrets a file handed to the import holds, read with the core's importer.
fn secrets_of(path: &Path, password: Option<&str>) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read import file");
    countersign_core::import::import(&bytes, password)
        .expect("fixture imports")
        .entries
        .iter()
        .map(|e| e.secret.expose().to_vec())
        .collect()
}

#[test]
fn no_secret_reaches_any_file_log_or_output_during_a_session() {
    let mut rng = StdRng::seed_from_u64(0x5345_5353_494f_4e53);
    let mut session = Session::new();
    // Files the user hands over or asks for: outside the searched tree.
    let outside = tempfile::tempdir().expect("tempdir");
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // Add by URI.
    let added = random_entry("Session", "added-by-uri", &mut rng);
    secrets.push(added.secret.expose().to_vec());
    session.succeed(&["add", "-"], &format!("{}\n", added.to_uri()));

    // Import: Aegis plain, Aegis encrypted, a Countersign backup made with our own secrets
    // (so these secrets appear nowhere else), and Google Authenticator's protobuf links
    // (which include entries that fail, so their error lines are searched too).
    let aegis_plain = fixture("aegis_plain.json");
    let aegis_encrypted = fixture("aegis_encrypted.json");
    let google = fixture("google_authenticator.txt");
    secrets.extend(secrets_of(&aegis_plain, None));
    secrets.extend(secrets_of(&aegis_encrypted, Some(AEGIS_FIXTURE_PASSWORD)));
    secrets.extend(secrets_of(&google, None));
    let own: Vec<OtpAuthUri> = (0..3)
        .map(|i| random_entry("Backup", &format!("restored-{i}"), &mut rng))
        .collect();
    secrets.extend(own.iter().map(|e| e.secret.expose().to_vec()));
    let own_aegis: Vec<OtpAuthUri> = (0..3)
        .map(|i| random_entry("Vault", &format!("from-aegis-{i}"), &mut rng))
        .collect();
    secrets.extend(own_aegis.iter().map(|e| e.secret.expose().to_vec()));
    let backup = outside.path().join("countersign-backup.json");
    std::fs::write(
        &backup,
        countersign_core::export::export_countersign(&own, IMPORT_PASSWORD).expect("encrypt"),
    )
    .expect("write backup");
    let own_aegis_file = outside.path().join("aegis-vault.json");
    std::fs::write(
        &own_aegis_file,
        countersign_core::export::export_aegis(&own_aegis, IMPORT_PASSWORD).expect("encrypt"),
    )
    .expect("write aegis vault");

    let password_line = format!("{IMPORT_PASSWORD}\n");
    let fixture_password_line = format!("{AEGIS_FIXTURE_PASSWORD}\n");
    session.succeed(&["import", path_arg(&aegis_plain)], "");
    session.succeed(
        &[
            "import",
            path_arg(&aegis_encrypted),
            "--password-stdin",
            "--skip-duplicates",
        ],
        &fixture_password_line,
    );
    session.succeed(
        &["import", path_arg(&backup), "--password-stdin"],
        &password_line,
    );
    session.succeed(
        &["import", path_arg(&own_aegis_file), "--password-stdin"],
        &password_line,
    );
    session.succeed(&["import", path_arg(&google), "--skip-duplicates"], "");
    // A wrong password: refused, and the refusal is searched too.
    let wrong = session.run(
        &["import", path_arg(&backup), "--password-stdin"],
        "not the password\n",
    );
    assert!(!wrong.status.success());

    // Push: enroll from a link on stdin (its access token is a secret), answer a request,
    // and add the new P-256 key, whole and as its bare scalar, to what must not leak.
    let push_dir = tempfile::tempdir().expect("tempdir");
    let (push_secrets, _server) = push_session(&mut session, push_dir.path());

    // Encrypted exports, ours and Aegis's.
    let export_line = format!("{EXPORT_PASSWORD}\n");
    let exports = tempfile::tempdir().expect("tempdir");
    let our_export = exports.path().join("backup.countersign.json");
    let aegis_export = exports.path().join("aegis-export.json");
    session.succeed(
        &[
            "export",
            path_arg(&our_export),
            "--format",
            "countersign",
            "--password-stdin",
        ],
        &export_line,
    );
    session.succeed(
        &[
            "export",
            path_arg(&aegis_export),
            "--format",
            "aegis",
            "--password-stdin",
        ],
        &export_line,
    );

    // Every account's code (what copying hands out), each from a new process.
    let listed = session.succeed(&["list"], "");
    let ids: Vec<String> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect();
    // One added, four from Aegis plain (the encrypted fixture holds the same four, skipped),
    // three and three from our own files, and two from Google: dave, and bob, whose 30 s
    // period (Google's format has no other) gives other codes than Aegis's 60 s bob.
    assert_eq!(ids.len(), 1 + 4 + 3 + 3 + 2, "accounts:\n{listed}");
    for id in &ids {
        session.succeed(&["code", id], "");
    }
    let before = unix_now();
    let code = session.succeed(&["code", "added-by-uri"], "");
    assert_totp_between(added.secret.expose(), code.trim(), before, unix_now());

    // A restart: list, the start-up check, a code again.
    assert_eq!(session.succeed(&["list"], ""), listed);
    let doctor = session.run(&["doctor"], "");
    assert_eq!(doctor.status.code(), Some(0), "{}", stdout(&doctor));
    session.succeed(&["code", &ids[0]], "");

    // The encrypted exports open with their password and hold every account.
    for (index, export) in [&our_export, &aegis_export].into_iter().enumerate() {
        let restored = session.path(&format!("restored-{index}"));
        let output = Command::new(binary("countersign-cli"))
            .arg("--data-dir")
            .arg(&restored)
            .args(["import", path_arg(export), "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(export_line.as_bytes())?;
                child.wait_with_output()
            })
            .expect("import of the export runs");
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            stdout(&cli(&restored, &["list"])).lines().count(),
            ids.len(),
            "{} does not hold every account",
            export.display()
        );
    }

    // Which secrets the profile really holds, from a plain export outside the searched tree;
    // every secret handed in is among them.
    let plain = outside.path().join("plain.txt");
    session.succeed(
        &[
            "export",
            path_arg(&plain),
            "--format",
            "plain",
            "--i-understand-plain-is-unencrypted",
        ],
        "",
    );
    let held: Vec<Vec<u8>> = std::fs::read_to_string(&plain)
        .expect("read plain export")
        .lines()
        .map(|l| {
            OtpAuthUri::parse(l)
                .expect("exported URI")
                .secret
                .expose()
                .to_vec()
        })
        .collect();
    assert_eq!(held.len(), ids.len());
    for secret in &secrets {
        assert!(held.contains(secret), "a handed-in secret is not held");
    }
    secrets.extend(held.iter().cloned());
    secrets.sort();
    secrets.dedup();

    // The search finds what it looks for: the plain export holds every secret in base32.
    let control = files_containing_secrets(outside.path(), &secrets);
    for index in 0..secrets.len() {
        assert!(
            control
                .iter()
                .any(|hit| hit.contains(&format!("secret #{index} as base32"))),
            "the search misses secret #{index} in the plain export"
        );
    }

    // Zero hits: profile, config, cache, state, home, temp directory, and all output.
    let hits = files_containing_secrets(session.root.path(), &secrets);
    assert!(hits.is_empty(), "secrets in files:\n{}", hits.join("\n"));
    let printed = secrets_in(&session.printed, &secrets);
    assert!(
        printed.is_empty(),
        "secrets in the CLI's output: {printed:?}"
    );
    // The push secrets (#0 the access token, #1 the key's scalar, #2 the whole key) too.
    let hits = files_containing_secrets(session.root.path(), &push_secrets);
    assert!(
        hits.is_empty(),
        "push secrets in files:\n{}",
        hits.join("\n")
    );
    let printed = secrets_in(&session.printed, &push_secrets);
    assert!(
        printed.is_empty(),
        "push secrets in the CLI's output: {printed:?}"
    );
    assert!(
        session.data_dir().join("enrollments.json").exists(),
        "the push part did not use the profile searched"
    );
    assert!(
        session.data_dir().join("accounts.json").exists(),
        "the session did not use the profile searched"
    );
    // Encrypted exports hold ciphertext only.
    let in_exports = files_containing_secrets(exports.path(), &secrets);
    assert!(
        in_exports.is_empty(),
        "secrets in an encrypted export:\n{}",
        in_exports.join("\n")
    );
    let searched = regular_files(session.root.path());
    println!(
        "searched {} files, 2 encrypted exports and {} bytes of output for {} secrets in up \
         to {} forms each: {searched:?}",
        searched.len(),
        session.printed.len(),
        secrets.len(),
        secret_forms(&secrets[0]).len()
    );
}

#[test]
fn the_search_finds_a_secret_in_every_form_it_claims() {
    let secret = b"12345678901234567890".to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    let forms = [
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
        "secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "3132333435363738393031323334353637383930",
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=",
        "{\"secret\":[\n  49,\n  50, 51,52,53,54,55,56,57,48,49,50,51,52,53,54,55,56,57,48]}",
    ];
    for (i, text) in forms.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.txt")), text).expect("write");
    }
    // Inside a longer base64 blob, starting mid-group.
    let mut embedded = b"xy".to_vec();
    embedded.extend_from_slice(&secret);
    let blob = data_encoding::BASE64.encode(&embedded);
    std::fs::write(dir.path().join("blob.txt"), blob).expect("write");
    let hits = files_containing_secrets(dir.path(), std::slice::from_ref(&secret));
    for name in (0..forms.len())
        .map(|i| format!("{i}.txt"))
        .chain(["blob.txt".to_string()])
    {
        assert!(
            hits.iter().any(|h| h.contains(&format!("/{name}:"))),
            "{name} not found: {hits:?}"
        );
    }
    assert!(secrets_in(b"nothing to see here 1234567890", &[secret]).is_empty());
}
