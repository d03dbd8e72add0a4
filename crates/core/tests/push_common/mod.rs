//! Shared by the push tests: verify-server in-process over HTTPS (trusting only its CA), the
//! relying party's backend calls, and a tiny fault-injection stub for what the real server
//! cannot be made to do (429, 500, a challenge of another factor).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use countersign_core::keychain::{SecretKind, SecretStore};
use countersign_core::profile::Profile;
use countersign_core::push::{EnrollLink, PushManager, ShownChallenge};
use countersign_core::store::AccountStore;
use countersign_core::verify::client::Request as ApiRequest;
use countersign_core::verify::{Credentials, DeviceFactor, PushKey, ServerConfig, VerifyClient};
use serde_json::Value;
use uuid::Uuid;
use verify_server::{Config, RunningServer};

/// The push side of the profile in `dir` (keychain calls block: opened off the workers).
pub async fn manager(dir: &std::path::Path) -> PushManager {
    let profile = Profile::at(dir);
    tokio::task::spawn_blocking(move || PushManager::open(&profile))
        .await
        .expect("task")
        .expect("push manager opens (run under scripts/with-keyring.sh)")
}

/// The keychain namespace of the profile in `dir`.
pub fn secrets(dir: &std::path::Path) -> SecretStore {
    let vault_id = AccountStore::open(dir)
        .expect("store")
        .load()
        .expect("load")
        .vault_id;
    SecretStore::open(vault_id).expect("keychain")
}

/// Runs a keychain call of the profile off the async workers.
pub async fn keychain<T: Send + 'static>(
    dir: &std::path::Path,
    call: impl FnOnce(&SecretStore) -> T + Send + 'static,
) -> T {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || call(&secrets(&dir)))
        .await
        .expect("task")
}

/// Push keys of the profile in the keychain, sorted.
pub async fn push_keys(dir: &std::path::Path) -> Vec<Uuid> {
    let mut keys: Vec<Uuid> = keychain(dir, |s| s.list().expect("list"))
        .await
        .into_iter()
        .filter(|k| k.kind == SecretKind::PushKey)
        .map(|k| k.id)
        .collect();
    keys.sort();
    keys
}

pub struct Server {
    pub server: RunningServer,
    pub data_dir: std::path::PathBuf,
    pub ca_pem: String,
    pub service_sid: String,
    /// The server's clock offset (Config.clock_offset_secs).
    pub clock_offset_secs: i64,
    backend: VerifyClient,
    _dir: Option<tempfile::TempDir>,
}

pub async fn start_server(tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("server");
    let mut server = start_in(&data_dir, tweak).await;
    server._dir = Some(dir);
    server
}

/// Starts (or restarts) a server on `data_dir`, keeping its CA, credentials and database.
pub async fn start_in(data_dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::new(data_dir);
    config.demo = true;
    tweak(&mut config);
    let clock_offset_secs = config.clock_offset_secs;
    let server = verify_server::start(config).await.expect("server starts");
    let ca_pem = std::fs::read_to_string(server.ca_pem_path()).expect("ca.pem");
    let backend = VerifyClient::new(
        &ServerConfig::new(&server.base_url(), Some(ca_pem.clone())).expect("config"),
    )
    .expect("client");
    Server {
        service_sid: server.demo_service_sid().expect("demo service"),
        data_dir: data_dir.to_path_buf(),
        clock_offset_secs,
        ca_pem,
        server,
        backend,
        _dir: None,
    }
}

impl Server {
    /// Stops the server, keeping its data directory (returned) for a restart.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.server.shutdown().await;
        self._dir
    }

    fn credentials(&self) -> Credentials {
        Credentials::Backend {
            account_sid: self.server.account_sid().to_string(),
            auth_token: self.server.auth_token().to_string(),
        }
    }

    /// A backend call; panics on a transport error, returns (status, JSON body).
    pub async fn backend(
        &self,
        method: Method,
        path: &[&str],
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let credentials = self.credentials();
        let response = self
            .backend
            .send(ApiRequest {
                method,
                path,
                query: &[],
                form,
                credentials: &credentials,
            })
            .await
            .expect("backend request");
        let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status.as_u16(), json)
    }

    /// What the relying party hands the desktop: a link with a fresh access token.
    pub async fn enroll_link(&self, identity: &str) -> EnrollLink {
        let (status, token) = self
            .backend(
                Method::POST,
                &["Services", &self.service_sid, "AccessTokens"],
                &[
                    ("Identity", identity),
                    ("FactorType", "push"),
                    ("Ttl", "300"),
                ],
            )
            .await;
        assert_eq!(status, 201, "{token}");
        EnrollLink {
            server: self.server.base_url(),
            service_sid: self.service_sid.clone(),
            identity: identity.to_string(),
            access_token: token["token"].as_str().expect("token").to_string(),
            friendly_name: Some("Test desktop".into()),
        }
    }

    /// Creates a push challenge; `expires_in` seconds from the server's now (default 5 min).
    pub async fn create_challenge(
        &self,
        identity: &str,
        factor_sid: &str,
        message: &str,
        expires_in: Option<i64>,
    ) -> String {
        let expiration = expires_in.map(|secs| {
            let at =
                time::OffsetDateTime::now_utc().unix_timestamp() + self.clock_offset_secs + secs;
            time::OffsetDateTime::from_unix_timestamp(at)
                .expect("time")
                .format(&time::format_description::well_known::Rfc3339)
                .expect("format")
        });
        let mut form = vec![
            ("FactorSid", factor_sid),
            ("Details.Message", message),
            (
                "Details.Fields",
                r#"{"label":"Location","value":"Lisbon, PT"}"#,
            ),
            ("HiddenDetails", r#"{"ip":"192.0.2.7"}"#),
        ];
        if let Some(at) = &expiration {
            form.push(("ExpirationDate", at));
        }
        let (status, body) = self
            .backend(
                Method::POST,
                &[
                    "Services",
                    &self.service_sid,
                    "Entities",
                    identity,
                    "Challenges",
                ],
                &form,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["sid"].as_str().expect("sid").to_string()
    }

    /// The challenge as the relying party's backend sees it.
    pub async fn challenge(&self, identity: &str, sid: &str) -> Value {
        let (status, body) = self
            .backend(
                Method::GET,
                &[
                    "Services",
                    &self.service_sid,
                    "Entities",
                    identity,
                    "Challenges",
                    sid,
                ],
                &[],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A challenge as the window would show it: the details the server holds for it.
    pub async fn shown(&self, identity: &str, sid: &str) -> ShownChallenge {
        let body = self.challenge(identity, sid).await;
        ShownChallenge {
            sid: sid.to_string(),
            details: serde_json::from_value(body["details"].clone()).expect("details"),
        }
    }

    /// Approves a fresh challenge for `identity` through enrollment `id` and checks the
    /// backend sees it approved.
    pub async fn approve_works(
        &self,
        identity: &str,
        push: &PushManager,
        id: Uuid,
        factor_sid: &str,
    ) {
        let sid = self
            .create_challenge(identity, factor_sid, "Log in?", None)
            .await;
        push.answer(
            id,
            &self.shown(identity, &sid).await,
            countersign_core::push::Decision::Approve,
        )
        .await
        .expect("approved");
        assert_eq!(self.challenge(identity, &sid).await["status"], "approved");
    }

    /// HTTP status of the backend's fetch of a factor (404 once deleted).
    pub async fn factor_status(&self, identity: &str, factor_sid: &str) -> (u16, Value) {
        self.backend(
            Method::GET,
            &[
                "Services",
                &self.service_sid,
                "Entities",
                identity,
                "Factors",
                factor_sid,
            ],
            &[],
        )
        .await
    }

    /// A factor created and verified without the keychain (for protocol-level tests).
    pub async fn device_factor(&self, client: &VerifyClient, identity: &str) -> DeviceFactor {
        let link = self.enroll_link(identity).await;
        let key = PushKey::generate();
        let public_key = key.public_key_spki_b64().expect("spki");
        let created = client
            .create_push_factor(
                &self.service_sid,
                identity,
                &link.access_token,
                &countersign_core::verify::device::NewPushFactor {
                    friendly_name: "Protocol test",
                    public_key: &public_key,
                    app_id: "dev.countersign.test",
                    sdk_version: "test",
                    metadata: r#"{"os":"test"}"#,
                },
            )
            .await
            .expect("factor created");
        assert_eq!(created.status, "unverified");
        let factor = DeviceFactor {
            service_sid: self.service_sid.clone(),
            identity: identity.to_string(),
            factor_sid: created.sid,
            credential_sid: created.credential_sid,
            account_sid: created.account_sid,
            key,
        };
        assert_eq!(
            client.verify_push_factor(&factor).await.expect("verified"),
            "verified"
        );
        factor
    }

    pub fn client(&self) -> VerifyClient {
        VerifyClient::new(
            &ServerConfig::new(&self.server.base_url(), Some(self.ca_pem.clone())).expect("config"),
        )
        .expect("client")
    }
}

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub body: String,
}

/// The stub's answer to the n-th (0-based) request with a given method and path.
pub type Script =
    dyn Fn(&Method, &str, usize) -> (StatusCode, Vec<(&'static str, String)>, String) + Send + Sync;

struct StubState {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
    counts: Mutex<HashMap<(Method, String), usize>>,
}

/// A scripted HTTPS server using a verify-server's certificate, for fault injection only.
pub struct Stub {
    pub base_url: String,
    pub ca_pem: String,
    state: Arc<StubState>,
    handle: axum_server::Handle<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl Stub {
    pub async fn start(
        script: impl Fn(&Method, &str, usize) -> (StatusCode, Vec<(&'static str, String)>, String)
        + Send
        + Sync
        + 'static,
    ) -> Stub {
        // Borrow a verify-server's TLS material (its certificate covers 127.0.0.1).
        let dir = tempfile::tempdir().expect("tempdir");
        let real = verify_server::start(Config::new(dir.path()))
            .await
            .expect("server");
        real.shutdown().await;
        let ca_pem = std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca");
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(
            dir.path().join("server.pem"),
            dir.path().join("server-key.pem"),
        )
        .await
        .expect("tls config");
        let state = Arc::new(StubState {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            counts: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle_stub)
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, tls)
            .expect("stub server")
            .handle(handle.clone());
        tokio::spawn(server.serve(app.into_make_service()));
        Stub {
            base_url: format!("https://{addr}/v2/"),
            ca_pem,
            state,
            handle,
            _dir: dir,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    pub fn client(&self, options: countersign_core::verify::ClientOptions) -> VerifyClient {
        VerifyClient::with_options(
            &ServerConfig::new(&self.base_url, Some(self.ca_pem.clone())).expect("config"),
            options,
        )
        .expect("client")
    }

    pub fn stop(&self) {
        self.handle.shutdown();
    }
}

async fn handle_stub(State(state): State<Arc<StubState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let n = {
        let mut counts = state.counts.lock().expect("lock");
        let n = counts.entry((method.clone(), path.clone())).or_insert(0);
        *n += 1;
        *n - 1
    };
    state.seen.lock().expect("lock").push(Seen {
        method: method.clone(),
        path: path.clone(),
        body,
    });
    let (status, headers, body) = (state.script)(&method, &path, n);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    response
}

/// A pending challenge body for `factor_sid`, as verify-server would send it.
pub fn challenge_json(sid: &str, factor_sid: &str, status: &str) -> String {
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 300;
    let expires = time::OffsetDateTime::from_unix_timestamp(expires)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    serde_json::json!({
        "sid": sid,
        "factor_sid": factor_sid,
        "status": status,
        "date_created": "2026-01-01T00:00:00Z",
        "date_updated": "2026-01-01T00:00:00Z",
        "expiration_date": expires,
        "details": {"message": "Log in?", "fields": []},
        "hidden_details": null,
    })
    .to_string()
}

/// The fields verify-server asks to sign, for stubs that mimic it.
pub const SIGNED_FIELDS: &str = "sid,factor_sid,details,expiration_date,status";

/// What the window shows of a [`challenge_json`] challenge.
pub fn stub_shown(sid: &str) -> ShownChallenge {
    let body: Value = serde_json::from_str(&challenge_json(sid, "YF", "pending")).expect("json");
    ShownChallenge {
        sid: sid.to_string(),
        details: serde_json::from_value(body["details"].clone()).expect("details"),
    }
}

/// A stub-side DeviceFactor (any key: the stub checks nothing).
pub fn stub_factor(factor_sid: &str) -> DeviceFactor {
    DeviceFactor {
        service_sid: "VA00000000000000000000000000000000".into(),
        identity: "user-0001".into(),
        factor_sid: factor_sid.into(),
        credential_sid: "CR00000000000000000000000000000000".into(),
        account_sid: "AC00000000000000000000000000000000".into(),
        key: PushKey::generate(),
    }
}
