//! Throughput of full push flows over HTTPS with keep-alive:
//! create challenge (backend) → fetch (device JWT) → approve (device JWT).
//!
//! `cargo run --release -p verify-server --example bench -- [FLOWS] [CLIENTS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::pkcs8::EncodePublicKey;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use serde_json::Value;

/// A simulated device. Signing uses ring (as a phone's platform crypto
/// would be native): the client shares the machine's cores with the server,
/// so a slow client signer would understate the server's throughput.
struct Dev {
    /// JOSE `r‖s` signatures (JWTs).
    jws_key: EcdsaKeyPair,
    /// The same key producing DER signatures (factor verification).
    der_key: EcdsaKeyPair,
    rng: SystemRandom,
    account: String,
    factor: String,
    credential: String,
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Dev {
    fn keys(rng: &SystemRandom) -> Res<(EcdsaKeyPair, EcdsaKeyPair)> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
            .map_err(|_| "key generation failed")?;
        let jws = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng)
            .map_err(|_| "bad key")?;
        let der = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), rng)
            .map_err(|_| "bad key")?;
        Ok((jws, der))
    }

    /// Standard base64 SubjectPublicKeyInfo, as `Binding.PublicKey` wants.
    fn public_key_b64(&self) -> Res<String> {
        let point = p256::PublicKey::from_sec1_bytes(self.jws_key.public_key().as_ref())?;
        Ok(BASE64.encode(point.to_public_key_der()?.as_bytes()))
    }

    fn jws(&self, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header.as_bytes()),
            BASE64URL_NOPAD.encode(payload.as_bytes())
        );
        // Signing only fails on RNG failure; the server then rejects the
        // empty signature and the bench reports the error.
        let sig = self
            .jws_key
            .sign(&self.rng, input.as_bytes())
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default();
        format!("{input}.{}", BASE64URL_NOPAD.encode(&sig))
    }

    fn der_b64(&self, message: &[u8]) -> Res<String> {
        let sig = self
            .der_key
            .sign(&self.rng, message)
            .map_err(|_| "signing failed")?;
        Ok(BASE64.encode(sig.as_ref()))
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
        let rng = SystemRandom::new();
        let (jws_key, der_key) = Dev::keys(&rng)?;
        let mut dev = Dev {
            jws_key,
            der_key,
            rng,
            account: acct.clone(),
            factor: String::new(),
            credential: String::new(),
        };
        let pk = dev.public_key_b64()?;
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
        dev.factor = f["sid"].as_str().unwrap_or_default().to_string();
        dev.credential = f["config"]["credential_sid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let proof = dev.der_b64(dev.factor.as_bytes())?;
        json(
            http.post(format!(
                "{base}Services/{svc}/Entities/{id}/Factors/{}",
                dev.factor
            ))
            .basic_auth("token", Some(dev.jwt()))
            .form(&[("AuthPayload", proof)]),
        )
        .await?;
        devs.push((id, Arc::new(dev)));
    }

    let started = Instant::now();
    let cpu_before = process_cpu_secs();
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
            let path = format!("{base}Services/{svc}/Entities/{id}/Challenges");
            // Parsed once (per challenge below), as a real client would hold
            // its endpoint rather than re-parse a string per request.
            let collection = reqwest::Url::parse(&path)?;
            for _ in 0..per_client {
                let t0 = Instant::now();
                let (_, c) = json(
                    http.post(collection.clone())
                        .basic_auth(&acct, Some(&token))
                        .form(&[
                            ("FactorSid", dev.factor.as_str()),
                            ("Details.Message", "Bench sign-in"),
                        ]),
                )
                .await?;
                let url = reqwest::Url::parse(&format!(
                    "{path}/{}",
                    c["sid"].as_str().unwrap_or_default()
                ))?;
                let (h, body) =
                    json(http.get(url.clone()).basic_auth("token", Some(dev.jwt()))).await?;
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
                    http.post(url)
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
    let cpu = process_cpu_secs()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
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
    // Load-independent figure: flows per CPU-second of this process (client
    // and server together), and what that means for this machine's cores.
    if let Some(cpu) = cpu.filter(|c| *c > 0.0) {
        let per_cpu_sec = all.len() as f64 / cpu;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "cpu: {cpu:.2}s ({:.0}% of {cores} cores) -> {per_cpu_sec:.0} flows per CPU-second \
             (x{cores} cores = {:.0} flows/s if uncontended)",
            100.0 * cpu / elapsed.as_secs_f64() / cores as f64,
            per_cpu_sec * cores as f64
        );
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// User + system CPU time of this whole process (all threads), from
/// `/proc/self/stat` (Linux; clock ticks of 1/100 s, the kernel's fixed
/// USER_HZ). `None` elsewhere.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after it.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
