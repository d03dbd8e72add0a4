//! Throughput of full push flows over HTTPS with keep-alive:
//! create challenge (backend) → fetch (device JWT) → approve (device JWT).
//!
//! `cargo run --release -p verify-server --example bench -- [FLOWS] [CLIENTS] [--separate]`
//!
//! By default client and server share this process (and its tokio
//! runtime). `--separate` runs the server in a child process (`bench serve`)
//! so its CPU time can be reported on its own; both still share the
//! machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use data_encoding::{BASE64, BASE64URL_NOPAD};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode};
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

// The same allocator as the `verify-server` binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// One keep-alive HTTPS connection speaking HTTP/1.1 through hyper
/// directly. The load generator shares the cores with the server, so it
/// spends its CPU only on what a device or backend must do per request
/// (TLS, HTTP, JSON, signing), not on a general-purpose client's pool,
/// redirect and retry layers.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `host:port`, for the `Host` header.
    authority: String,
}

/// A response's status, `Twilio-Verify-Signature-Fields` header and body.
struct Reply {
    status: StatusCode,
    signature_fields: Option<String>,
    body: Bytes,
}

impl Reply {
    /// The body as `T`, or an error naming the status and body.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Res<T> {
        if !self.status.is_success() {
            return Err(format!("{}: {}", self.status, String::from_utf8_lossy(&self.body)).into());
        }
        Ok(serde_json::from_slice(&self.body)?)
    }
}

impl Conn {
    async fn open(target: &Target, tls: Arc<rustls::ClientConfig>) -> Res<Conn> {
        let host = target.base.host_str().ok_or("base URL has no host")?;
        let port = target.base.port_or_known_default().ok_or("no port")?;
        let tcp = tokio::net::TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Conn {
            sender,
            authority: format!("{host}:{port}"),
        })
    }

    /// `path` is absolute (`/v2/...`); `form` pairs make it a form POST.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        authorization: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Res<Reply> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.authority.as_str())
            .header(AUTHORIZATION, authorization);
        let body = match form {
            Some(pairs) => {
                req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                let encoded = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                Full::new(Bytes::from(encoded))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await?;
        let resp = self.sender.send_request(req.body(body)?).await?;
        let status = resp.status();
        let signature_fields = resp
            .headers()
            .get("twilio-verify-signature-fields")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            signature_fields,
            body,
        })
    }

    async fn post(&mut self, path: &str, auth: &str, form: &[(&str, &str)]) -> Res<Reply> {
        self.send(Method::POST, path, auth, Some(form)).await
    }

    async fn get(&mut self, path: &str, auth: &str) -> Res<Reply> {
        self.send(Method::GET, path, auth, None).await
    }
}

/// `Authorization: Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        BASE64.encode(format!("{user}:{password}").as_bytes())
    )
}

/// The one field the bench needs from most replies.
#[derive(serde::Deserialize)]
struct Sid {
    sid: String,
}

/// A factor as created: its SID and device-key id.
#[derive(serde::Deserialize)]
struct CreatedFactor {
    sid: String,
    config: FactorConfig,
}

#[derive(serde::Deserialize)]
struct FactorConfig {
    credential_sid: String,
}

#[derive(serde::Deserialize)]
struct Status {
    status: String,
}

#[derive(serde::Deserialize)]
struct AccessToken {
    token: String,
}

/// Where the server under test listens and how to authenticate to it.
struct Target {
    base: url::Url,
    account_sid: String,
    auth_token: String,
    ca_pem: std::path::PathBuf,
}

/// `bench serve`: run a server, announce it on stdout, stop when stdin
/// closes.
async fn serve() -> Res<()> {
    let dir = std::env::temp_dir().join(format!("verify-bench-{}", std::process::id()));
    let server = verify_server::start(verify_server::Config::new(&dir)).await?;
    println!(
        "{} {} {} {}",
        server.base_url(),
        server.account_sid(),
        server.auth_token(),
        server.ca_pem_path().display()
    );
    tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)
    })
    .await??;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Start `bench serve` as a child process and read its announcement.
fn spawn_server() -> Res<(std::process::Child, Target)> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let mut parts = line.split_whitespace().map(str::to_string);
    let (Some(base), Some(account_sid), Some(auth_token), Some(ca)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("unexpected server announcement: {line:?}").into());
    };
    Ok((
        child,
        Target {
            base: url::Url::parse(&base)?,
            account_sid,
            auth_token,
            ca_pem: ca.into(),
        },
    ))
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve().await;
    }
    let separate = args.iter().any(|a| a == "--separate");
    let mut numbers = args.iter().filter_map(|a| a.parse::<usize>().ok());
    let flows = numbers.next().unwrap_or(2000);
    let clients = numbers.next().unwrap_or(8).max(1);

    let dir = std::env::temp_dir().join(format!("verify-bench-{}", std::process::id()));
    let (in_process, mut child, target) = if separate {
        let (child, target) = spawn_server()?;
        (None, Some(child), target)
    } else {
        let server = verify_server::start(verify_server::Config::new(&dir)).await?;
        let target = Target {
            base: url::Url::parse(&server.base_url())?,
            account_sid: server.account_sid().to_string(),
            auth_token: server.auth_token().to_string(),
            ca_pem: server.ca_pem_path().to_path_buf(),
        };
        (Some(server), None, target)
    };
    // Absolute paths below the API root, e.g. `/v2/`.
    let base = target.base.path().to_string();
    let backend = basic(&target.account_sid, &target.auth_token);

    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for c in CertificateDer::pem_file_iter(&target.ca_pem)? {
            roots.add(c?)?;
        }
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );

    let mut setup = Conn::open(&target, tls.clone()).await?;
    let svc: Sid = setup
        .post(
            &format!("{base}Services"),
            &backend,
            &[("FriendlyName", "Bench")],
        )
        .await?
        .json()?;
    let svc = svc.sid;

    // One enrolled device per client.
    let mut devs = Vec::new();
    for i in 0..clients {
        let id = format!("bench-user-{i:04}");
        let at: AccessToken = setup
            .post(
                &format!("{base}Services/{svc}/AccessTokens"),
                &backend,
                &[("Identity", id.as_str()), ("FactorType", "push")],
            )
            .await?
            .json()?;
        let rng = SystemRandom::new();
        let (jws_key, der_key) = Dev::keys(&rng)?;
        let mut dev = Dev {
            jws_key,
            der_key,
            rng,
            account: target.account_sid.clone(),
            factor: String::new(),
            credential: String::new(),
        };
        let pk = dev.public_key_b64()?;
        let f: CreatedFactor = setup
            .post(
                &format!("{base}Services/{svc}/Entities/{id}/Factors"),
                &basic("token", &at.token),
                &[
                    ("FriendlyName", "bench"),
                    ("FactorType", "push"),
                    ("Binding.PublicKey", pk.as_str()),
                    ("Binding.Alg", "ES256"),
                    ("Config.AppId", "bench"),
                    ("Config.NotificationPlatform", "none"),
                ],
            )
            .await?
            .json()?;
        dev.factor = f.sid;
        dev.credential = f.config.credential_sid;
        let proof = dev.der_b64(dev.factor.as_bytes())?;
        let verified: Status = setup
            .post(
                &format!("{base}Services/{svc}/Entities/{id}/Factors/{}", dev.factor),
                &basic("token", &dev.jwt()),
                &[("AuthPayload", proof.as_str())],
            )
            .await?
            .json()?;
        if verified.status != "verified" {
            return Err(format!("factor not verified: {}", verified.status).into());
        }
        // A backend and a device are different clients: one connection each.
        let backend_conn = Conn::open(&target, tls.clone()).await?;
        let device_conn = Conn::open(&target, tls.clone()).await?;
        devs.push((id, Arc::new(dev), backend_conn, device_conn));
    }

    let server_pid = child.as_ref().map(std::process::Child::id);
    let started = Instant::now();
    let cpu_before = process_cpu_secs("self");
    let server_cpu_before = server_pid.and_then(|p| process_cpu_secs(&p.to_string()));
    let per_client = flows / clients;
    let mut tasks = Vec::new();
    for (id, dev, mut backend_conn, mut device_conn) in devs {
        let (base, svc, backend) = (base.clone(), svc.clone(), backend.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let collection = format!("{base}Services/{svc}/Entities/{id}/Challenges");
            for _ in 0..per_client {
                let t0 = Instant::now();
                let created: Sid = backend_conn
                    .post(
                        &collection,
                        &backend,
                        &[
                            ("FactorSid", dev.factor.as_str()),
                            ("Details.Message", "Bench sign-in"),
                        ],
                    )
                    .await?
                    .json()?;
                let path = format!("{collection}/{}", created.sid);
                let fetched = device_conn.get(&path, &basic("token", &dev.jwt())).await?;
                let body: Value = fetched.json()?;
                let fields = fetched
                    .signature_fields
                    .ok_or("no signature-fields header")?;
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
                let done: Status = device_conn
                    .post(
                        &path,
                        &basic("token", &dev.jwt()),
                        &[("AuthPayload", approval.as_str())],
                    )
                    .await?
                    .json()?;
                if done.status != "approved" {
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
    let cpu = process_cpu_secs("self")
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let server_cpu = server_pid
        .and_then(|p| process_cpu_secs(&p.to_string()))
        .zip(server_cpu_before)
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
    // Load-independent figure: flows per CPU-second of client and server
    // together, and what that means for this machine's cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let (Some(client), Some(server)) = (cpu, server_cpu) {
        println!(
            "cpu: client {client:.2}s ({:.0} us/flow), server {server:.2}s ({:.0} us/flow) \
             -> server alone: {:.0} flows per CPU-second",
            1e6 * client / all.len() as f64,
            1e6 * server / all.len() as f64,
            all.len() as f64 / server
        );
    }
    let total_cpu = cpu.map(|c| c + server_cpu.unwrap_or(0.0));
    if let Some(cpu) = total_cpu.filter(|c| *c > 0.0) {
        let per_cpu_sec = all.len() as f64 / cpu;
        println!(
            "cpu: {cpu:.2}s ({:.0}% of {cores} cores) -> {per_cpu_sec:.0} flows per CPU-second \
             (x{cores} cores = {:.0} flows/s if uncontended)",
            100.0 * cpu / elapsed.as_secs_f64() / cores as f64,
            per_cpu_sec * cores as f64
        );
    }
    // This machine's speed varies by ±15 % from minute to minute (shared
    // host); the cost of one ECDSA verification, measured now, tells runs
    // apart from machine states.
    println!(
        "machine: one P-256 ECDSA verification (ring) takes {:.1} us now",
        verify_cost_us()?
    );
    if let Some(server) = in_process {
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some(child) = child.as_mut() {
        // Closing its stdin asks the server to shut down.
        drop(child.stdin.take());
        child.wait()?;
    }
    Ok(())
}

/// Mean wall time of one P-256 signature verification, over 2,000.
fn verify_cost_us() -> Res<f64> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let rng = SystemRandom::new();
    let (key, _) = Dev::keys(&rng)?;
    let message = [0x5a_u8; 256];
    let signature = key.sign(&rng, &message).map_err(|_| "signing failed")?;
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref());
    const N: u32 = 2000;
    let started = Instant::now();
    for _ in 0..N {
        public
            .verify(&message, signature.as_ref())
            .map_err(|_| "verification failed")?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(N))
}

/// User + system CPU time of a whole process (all threads; `pid` "self" or
/// a number), from `/proc/PID/stat` (Linux; clock ticks of 1/100 s, the
/// kernel's fixed USER_HZ). `None` elsewhere.
fn process_cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after it.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
