//! Throughput of full push flows over HTTPS with keep-alive:
//! create challenge (backend) → fetch (device JWT) → approve (device JWT).
//!
//! `cargo run --release -p verify-server --example bench -- [FLOWS] [CLIENTS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::Value;

struct Dev {
    key: SigningKey,
    account: String,
    factor: String,
    credential: String,
}

impl Dev {
    fn jws(&self, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header.as_bytes()),
            BASE64URL_NOPAD.encode(payload.as_bytes())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", BASE64URL_NOPAD.encode(&sig.to_bytes()))
    }

    fn jwt(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.jws(
            &format!(
                r#"{{"cty":"twilio-pba;v=1","kid":"{}","typ":"JWT","alg":"ES256"}}"#,
                self.credential
            ),
            &format!(
                r#"{{"sub":"{}","exp":{},"nbf":{}}}"#,
                self.account,
                now + 600,
                now
            ),
        )
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn json(r: reqwest::RequestBuilder) -> Res<(reqwest::header::HeaderMap, Value)> {
    let resp = r.send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        return Err(format!("{status}: {v}").into());
    }
    Ok((headers, v))
}

#[tokio::main]
async fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let flows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = std::env::temp_dir().join(format!("verify-bench-{}", std::process::id()));
    let server = verify_server::start(verify_server::Config::new(&dir)).await?;
    let base = server.base_url();
    let (acct, token) = (
        server.account_sid().to_string(),
        server.auth_token().to_string(),
    );

    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for c in CertificateDer::pem_file_iter(server.ca_pem_path())? {
            roots.add(c?)?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;

    let (_, svc) = json(
        http.post(format!("{base}Services"))
            .basic_auth(&acct, Some(&token))
            .form(&[("FriendlyName", "Bench")]),
    )
    .await?;
    let svc = svc["sid"].as_str().unwrap_or_default().to_string();

    // One enrolled device per client.
    let mut devs = Vec::new();
    for i in 0..clients {
        let id = format!("bench-user-{i:04}");
        let (_, at) = json(
            http.post(format!("{base}Services/{svc}/AccessTokens"))
                .basic_auth(&acct, Some(&token))
                .form(&[("Identity", id.as_str()), ("FactorType", "push")]),
        )
        .await?;
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let pk = BASE64.encode(key.verifying_key().to_public_key_der()?.as_bytes());
        let (_, f) = json(
            http.post(format!("{base}Services/{svc}/Entities/{id}/Factors"))
                .basic_auth("token", Some(at["token"].as_str().unwrap_or_default()))
                .form(&[
                    ("FriendlyName", "bench"),
                    ("FactorType", "push"),
                    ("Binding.PublicKey", pk.as_str()),
                    ("Binding.Alg", "ES256"),
                    ("Config.AppId", "bench"),
                    ("Config.NotificationPlatform", "none"),
                ]),
        )
        .await?;
        let dev = Dev {
            key,
            account: acct.clone(),
            factor: f["sid"].as_str().unwrap_or_default().to_string(),
            credential: f["config"]["credential_sid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        };
        let sig: Signature = dev.key.sign(dev.factor.as_bytes());
        json(
            http.post(format!(
                "{base}Services/{svc}/Entities/{id}/Factors/{}",
                dev.factor
            ))
            .basic_auth("token", Some(dev.jwt()))
            .form(&[("AuthPayload", BASE64.encode(sig.to_der().as_bytes()))]),
        )
        .await?;
        devs.push((id, Arc::new(dev)));
    }

    let started = Instant::now();
    let per_client = flows / clients;
    let mut tasks = Vec::new();
    for (id, dev) in devs {
        let (http, base, svc, acct, token) = (
            http.clone(),
            base.clone(),
            svc.clone(),
            acct.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let t0 = Instant::now();
                let path = format!("{base}Services/{svc}/Entities/{id}/Challenges");
                let (_, c) = json(http.post(&path).basic_auth(&acct, Some(&token)).form(&[
                    ("FactorSid", dev.factor.as_str()),
                    ("Details.Message", "Bench sign-in"),
                ]))
                .await?;
                let url = format!("{path}/{}", c["sid"].as_str().unwrap_or_default());
                let (h, body) = json(http.get(&url).basic_auth("token", Some(dev.jwt()))).await?;
                let fields = h
                    .get("twilio-verify-signature-fields")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let mut parts: Vec<String> = fields
                    .split(',')
                    .filter(|f| *f != "status")
                    .map(|f| format!("\"{f}\":{}", body[f]))
                    .collect();
                parts.push("\"status\":\"approved\"".into());
                let approval = dev.jws(
                    r#"{"typ":"JWT","alg":"ES256"}"#,
                    &format!("{{{}}}", parts.join(",")),
                );
                let (_, done) = json(
                    http.post(&url)
                        .basic_auth("token", Some(dev.jwt()))
                        .form(&[("AuthPayload", approval.as_str())]),
                )
                .await?;
                if done["status"] != "approved" {
                    return Err::<Vec<Duration>, Box<dyn std::error::Error + Send + Sync>>(
                        "not approved".into(),
                    );
                }
                latencies.push(t0.elapsed());
            }
            Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "flows: {} clients: {clients} time: {:.2}s rate: {:.0} flows/s ({:.0} req/s) p50: {:.1}ms p99: {:.1}ms",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        3.0 * all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
