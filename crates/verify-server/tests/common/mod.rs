//! Shared helpers: start the server in-process on 127.0.0.1:0 and talk to it
//! over real HTTPS, trusting only the generated CA.
#![allow(dead_code)]

pub mod device;

use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use verify_server::{Config, RunningServer};

pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    /// Twilio error `code` of an error body.
    pub fn code(&self) -> i64 {
        self.json["code"].as_i64().unwrap_or(-1)
    }
}

pub fn client_for(ca_pem: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    f(&mut config);
    let server = verify_server::start(config).await.unwrap();
    let client = client_for(server.ca_pem_path());
    TestServer {
        server,
        dir,
        client,
    }
}

pub enum Auth<'a> {
    None,
    Backend,
    Basic(&'a str, &'a str),
    /// `token:<…>` device credential.
    Token(&'a str),
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.origin(), path)
    }

    pub fn svc(&self, service_sid: &str) -> String {
        format!("/v2/Services/{service_sid}")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        form: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method.clone(), self.url(path));
        req = match auth {
            Auth::None => req,
            Auth::Backend => {
                req.basic_auth(self.server.account_sid(), Some(self.server.auth_token()))
            }
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Token(t) => req.basic_auth("token", Some(t)),
        };
        if method == Method::GET {
            req = req.query(form);
        } else if !form.is_empty() {
            req = req.form(form);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str, q: &[(&str, &str)]) -> Resp {
        self.call(Method::GET, path, Auth::Backend, q).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.call(Method::POST, path, Auth::Backend, form).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Auth::Backend, &[]).await
    }

    /// Create a service and return its SID.
    pub async fn service(&self, name: &str) -> String {
        let r = self.post("/v2/Services", &[("FriendlyName", name)]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["sid"].as_str().unwrap().to_string()
    }
}

/// Assert `v` has exactly these keys.
pub fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = keys.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "field names of {v}");
}

/// Assert a Twilio error body with this status and code.
pub fn assert_error(r: &Resp, status: u16, code: i64) {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    assert_eq!(r.code(), code, "{}", r.json);
    assert_keys(&r.json, &["code", "message", "more_info", "status"]);
    assert_eq!(r.json["status"], status);
    assert_eq!(
        r.json["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(r.headers.contains_key("date"));
}

/// `2015-07-30T20:00:00Z` shape.
pub fn assert_ts(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert_eq!(s.len(), 20, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T', "{s}");
}

pub fn assert_sid(v: &Value, prefix: &str) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a sid: {v}"));
    assert_eq!(s.len(), 34, "{s}");
    assert!(s.starts_with(prefix), "{s}");
    assert!(s[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
}

pub fn ent(service_sid: &str, identity: &str) -> String {
    format!("/v2/Services/{service_sid}/Entities/{identity}")
}

impl TestServer {
    pub async fn access_token(&self, service_sid: &str, identity: &str) -> String {
        let r = self
            .post(
                &format!("/v2/Services/{service_sid}/AccessTokens"),
                &[("Identity", identity), ("FactorType", "push")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["token"].as_str().unwrap().to_string()
    }

    /// Create (unverified) a push factor the way the SDK does.
    pub async fn create_push(&self, service_sid: &str, identity: &str) -> (device::Device, Resp) {
        let token = self.access_token(service_sid, identity).await;
        let mut d = device::Device::random(self.server.account_sid());
        let pk = d.public_key_b64();
        let r = self
            .call(
                Method::POST,
                &format!("{}/Factors", ent(service_sid, identity)),
                Auth::Token(&token),
                &[
                    ("FriendlyName", "Test desktop"),
                    ("FactorType", "push"),
                    ("Binding.PublicKey", &pk),
                    ("Binding.Alg", "ES256"),
                    ("Config.SdkVersion", "0.1.0"),
                    ("Config.AppId", "app.countersign.desktop"),
                    ("Config.NotificationPlatform", "none"),
                    ("Metadata", r#"{"os":"Linux"}"#),
                ],
            )
            .await;
        if r.status == StatusCode::CREATED {
            d.factor_sid = r.json["sid"].as_str().unwrap().to_string();
            d.credential_sid = r.json["config"]["credential_sid"]
                .as_str()
                .unwrap()
                .to_string();
        }
        (d, r)
    }

    /// Create and verify a push factor.
    pub async fn enroll_push(&self, service_sid: &str, identity: &str) -> device::Device {
        let (d, r) = self.create_push(service_sid, identity).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        let v = self
            .dev(
                &d,
                Method::POST,
                &format!("{}/Factors/{}", ent(service_sid, identity), d.factor_sid),
                &[("AuthPayload", &d.sign_der_b64(&d.factor_sid))],
            )
            .await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.json);
        assert_eq!(v.json["status"], "verified");
        d
    }

    /// A request authenticated with a fresh device JWT.
    pub async fn dev(
        &self,
        d: &device::Device,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> Resp {
        let jwt = d.device_jwt();
        self.call(method, path, Auth::Token(&jwt), form).await
    }

    pub async fn push_challenge(
        &self,
        service_sid: &str,
        identity: &str,
        factor_sid: &str,
    ) -> Resp {
        self.post(
            &format!("{}/Challenges", ent(service_sid, identity)),
            &[
                ("FactorSid", factor_sid),
                ("Details.Message", "Sign in to Countersign Demo?"),
                ("Details.Fields", r#"{"label":"IP","value":"127.0.0.1"}"#),
                ("Details.Fields", r#"{"label":"Action","value":"Sign in"}"#),
                ("HiddenDetails", r#"{"ip":"127.0.0.1"}"#),
            ],
        )
        .await
    }

    /// Fetch as the device and answer with a signed JWT, like the SDK.
    pub async fn answer(
        &self,
        d: &device::Device,
        service_sid: &str,
        identity: &str,
        challenge_sid: &str,
        status: &str,
    ) -> Resp {
        let path = format!("{}/Challenges/{challenge_sid}", ent(service_sid, identity));
        let f = self.dev(d, Method::GET, &path, &[]).await;
        assert_eq!(f.status, StatusCode::OK, "{}", f.json);
        let fields = f.headers["twilio-verify-signature-fields"]
            .to_str()
            .unwrap()
            .to_string();
        let jwt = d.approval_jwt(&f.json, &fields, status);
        self.dev(d, Method::POST, &path, &[("AuthPayload", &jwt)])
            .await
    }
}
