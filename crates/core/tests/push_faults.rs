//! The poll loop (`ChallengeWatch`: the app's own) under network faults, against a real
//! verify-server over HTTPS with fault injection and the real keychain (run under
//! scripts/with-keyring.sh): 500s, 429/503 with `Retry-After`, answers slower than the
//! timeout, and the server stopped and started again. Each time the loop reports a typed
//! error, waits no less than the policy (and the server) asks, sends one request per poll,
//! and picks up new challenges once the server is back.

mod push_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use countersign_core::Error;
use countersign_core::profile::Profile;
use countersign_core::push::{
    ChallengeWatch, Decision, Enrollment, PollPolicy, PollReport, PollTrouble, PushManager,
    Visibility,
};
use countersign_core::verify::client::Request as ApiRequest;
use countersign_core::verify::{Credentials, ServerConfig, VerifyClient};
use push_common::{Server, start_in, start_server};

const ALICE: &str = "alice-0001";
/// Slack for timers and scheduling on a busy machine, never in the direction of polling
/// sooner than allowed.
const SLACK: Duration = Duration::from_millis(30);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The default policy's shape, scaled down so a test takes seconds: backoff after failure n
/// is 250 ms × 2ⁿ, capped at 2 s.
fn quick_policy() -> PollPolicy {
    PollPolicy {
        visible_interval: ms(250),
        background_interval: Duration::from_secs(5),
        max_backoff: Duration::from_secs(2),
        request_timeout: ms(600),
    }
}

fn backoff(policy: &PollPolicy, failures: u32) -> Duration {
    policy
        .visible_interval
        .saturating_mul(1 << failures)
        .min(policy.max_backoff)
}

async fn start_faulty() -> Server {
    start_server(|c| c.fault_injection = true).await
}

/// `/dev/faults` of a server, with its backend credentials.
struct Faults {
    client: VerifyClient,
    credentials: Credentials,
}

impl Faults {
    fn of(server: &Server) -> Faults {
        let config = ServerConfig::new(
            &format!("{}/dev/", server.server.origin()),
            Some(server.ca_pem.clone()),
        )
        .expect("config");
        Faults {
            client: VerifyClient::new(&config).expect("client"),
            credentials: Credentials::Backend {
                account_sid: server.server.account_sid().to_string(),
                auth_token: server.server.auth_token().to_string(),
            },
        }
    }

    async fn call(&self, method: Method, form: &[(&str, &str)]) -> serde_json::Value {
        let response = self
            .client
            .send(ApiRequest {
                method,
                path: &["faults"],
                query: &[],
                form,
                credentials: &self.credentials,
            })
            .await
            .expect("fault endpoint");
        assert!(response.status.is_success(), "{}", response.status);
        serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null)
    }

    /// Faults the device's challenge polls (GET …/Challenges), not the backend's creations.
    async fn on_polls(&self, extra: &[(&str, &str)]) {
        let mut form = vec![("PathContains", "/Challenges"), ("Method", "GET")];
        form.extend_from_slice(extra);
        self.call(Method::POST, &form).await;
    }

    async fn clear(&self) {
        self.call(Method::DELETE, &[]).await;
    }

    /// When (ms after the rule was added) each rule saw its requests.
    async fn hits(&self) -> Vec<Vec<u64>> {
        let list = self.call(Method::GET, &[]).await;
        list["faults"]
            .as_array()
            .expect("faults")
            .iter()
            .map(|rule| {
                rule["matched_after_ms"]
                    .as_array()
                    .expect("hits")
                    .iter()
                    .map(|ms| ms.as_u64().expect("ms"))
                    .collect()
            })
            .collect()
    }
}

struct Device {
    push: Arc<PushManager>,
    enrollment: Enrollment,
    _profile: tempfile::TempDir,
}

impl Device {
    fn factor_sid(&self) -> &str {
        self.enrollment.factor_sid.as_deref().expect("factor sid")
    }

    fn watch(&self, policy: PollPolicy) -> ChallengeWatch {
        let watch = ChallengeWatch::new(self.push.clone(), policy, Visibility::Visible);
        watch.retarget().expect("targets");
        watch
    }
}

async fn enroll(server: &Server) -> Device {
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path().to_path_buf();
    let push = tokio::task::spawn_blocking(move || PushManager::open(&Profile::at(&dir)))
        .await
        .expect("task")
        .expect("push manager opens (run under scripts/with-keyring.sh)");
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    Device {
        push: Arc::new(push),
        enrollment,
        _profile: profile,
    }
}

/// One poll as the app runs it: sleep until the schedule says, then poll what is due.
async fn next_report(watch: &ChallengeWatch) -> (Instant, Instant, PollReport) {
    let due = watch.next_due().expect("something to poll");
    tokio::time::sleep_until(due.into()).await;
    let started = Instant::now();
    let mut reports = watch.poll_due().await;
    assert_eq!(reports.len(), 1, "one factor, one poll");
    (started, Instant::now(), reports.remove(0))
}

fn assert_gaps_at_least(hits: &[u64], wanted: &[Duration]) {
    for (i, pair) in hits.windows(2).enumerate() {
        let gap = ms(pair[1] - pair[0]);
        assert!(
            gap + SLACK >= wanted[i],
            "request {} came {gap:?} after the previous one; the schedule allows {:?} ({hits:?})",
            i + 1,
            wanted[i]
        );
    }
}

#[tokio::test]
async fn server_errors_back_off_exponentially_and_polling_resumes() {
    let server = start_faulty().await;
    let device = enroll(&server).await;
    let faults = Faults::of(&server);
    let policy = quick_policy();
    let watch = device.watch(policy.clone());
    let (_, _, first) = next_report(&watch).await;
    assert!(first.outcome.expect("polls").is_empty());

    faults.on_polls(&[("Status", "500")]).await;
    let mut waits = Vec::new();
    for n in 1..=4 {
        let (_, ended, report) = next_report(&watch).await;
        let err = report.outcome.as_ref().expect_err("500");
        assert!(
            matches!(
                err,
                Error::Api {
                    status: 500,
                    code: 20500,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "api_error");
        assert_eq!(report.trouble(), Some(PollTrouble::ServerError));
        assert_eq!(report.failures, n);
        let wait = report.next_poll_in.expect("still polled");
        assert!(
            wait + SLACK >= backoff(&policy, n) && wait <= backoff(&policy, n),
            "failure {n}: next poll in {wait:?}"
        );
        assert!(watch.next_due().expect("due") >= ended + wait - SLACK);
        waits.push(backoff(&policy, n));
    }
    // One request per poll (the client does not retry on its own), spaced by the backoff.
    let hits = faults.hits().await.remove(0);
    assert_eq!(hits.len(), 4, "{hits:?}");
    assert_gaps_at_least(&hits, &waits);

    faults.clear().await;
    let sid = server
        .create_challenge(ALICE, device.factor_sid(), "Back again?", None)
        .await;
    let (_, _, report) = next_report(&watch).await;
    let found = report.outcome.expect("the server answers again");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].challenge.sid, sid);
    assert_eq!(report.failures, 0);
    // Back to the normal rate (measured from the end of the poll, so at most the interval).
    assert!(report.next_poll_in.expect("next") <= policy.visible_interval);

    device
        .push
        .answer(
            device.enrollment.id,
            &(&found[0].challenge).into(),
            Decision::Approve,
        )
        .await
        .expect("approved");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "approved");
    server.server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_honoured_but_never_tighter_than_the_backoff() {
    let server = start_faulty().await;
    let device = enroll(&server).await;
    let faults = Faults::of(&server);
    let policy = quick_policy();
    let watch = device.watch(policy.clone());

    // Retry-After longer than the backoff: the server's wish wins.
    faults
        .on_polls(&[("Status", "429"), ("RetryAfter", "2"), ("Count", "2")])
        .await;
    for n in 1..=2 {
        let (_, _, report) = next_report(&watch).await;
        match report.outcome.as_ref().expect_err("429") {
            Error::RateLimited { retry_after_secs } => assert_eq!(*retry_after_secs, 2),
            other => panic!("expected rate_limited, got {other:?}"),
        }
        assert_eq!(report.trouble(), Some(PollTrouble::Busy));
        assert_eq!(report.failures, n);
        let wait = report.next_poll_in.expect("still polled");
        assert!(wait + SLACK >= Duration::from_secs(2), "{wait:?}");
    }
    let (_, _, report) = next_report(&watch).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    let hits = faults.hits().await.remove(0);
    assert_eq!(hits.len(), 2, "no retry inside a poll: {hits:?}");
    assert_gaps_at_least(&hits, &[Duration::from_secs(2)]);

    // A 503 that says when to come back is busy too; one that does not is a server error.
    faults.clear().await;
    faults
        .on_polls(&[("Status", "503"), ("RetryAfter", "1"), ("Count", "1")])
        .await;
    let (_, _, report) = next_report(&watch).await;
    assert_eq!(report.trouble(), Some(PollTrouble::Busy));
    // Retry-After 1 s is longer than the first backoff (500 ms): waited out.
    assert!(report.next_poll_in.expect("next") + SLACK >= Duration::from_secs(1));
    faults.on_polls(&[("Status", "503"), ("Count", "1")]).await;
    let (_, _, report) = next_report(&watch).await;
    assert!(
        matches!(
            report.outcome,
            Err(Error::Api {
                status: 503,
                code: 20503,
                ..
            })
        ),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.trouble(), Some(PollTrouble::ServerError));
    server.server.shutdown().await;
}

#[tokio::test]
async fn with_the_default_policy_a_short_retry_after_does_not_shorten_the_backoff() {
    let server = start_faulty().await;
    let device = enroll(&server).await;
    let faults = Faults::of(&server);
    let policy = PollPolicy::default();
    let watch = device.watch(policy.clone());
    // Only counts, so the gaps between all polls can be read from one rule.
    faults.on_polls(&[]).await;
    faults
        .on_polls(&[("Status", "429"), ("RetryAfter", "1"), ("Count", "1")])
        .await;
    let (_, _, report) = next_report(&watch).await;
    assert_eq!(report.trouble(), Some(PollTrouble::Busy));
    // 2 s × 2¹ beats the server's 1 s.
    let wait = report.next_poll_in.expect("next");
    assert!(
        wait + SLACK >= Duration::from_secs(4) && wait <= Duration::from_secs(4),
        "{wait:?}"
    );
    faults
        .on_polls(&[("Status", "429"), ("RetryAfter", "30"), ("Count", "1")])
        .await;
    // The user looking again asks at once (within the 2 s floor), whatever the backoff.
    watch.poll_now();
    let (_, _, report) = next_report(&watch).await;
    assert_eq!(report.failures, 2);
    let wait = report.next_poll_in.expect("next");
    assert!(
        wait + SLACK >= Duration::from_secs(30) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let hits = faults.hits().await.remove(0);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_gaps_at_least(&hits, &[policy.visible_interval]);
    server.server.shutdown().await;
}

#[tokio::test]
async fn answers_slower_than_the_timeout_are_given_up_and_retried() {
    let server = start_faulty().await;
    let device = enroll(&server).await;
    let faults = Faults::of(&server);
    let policy = quick_policy();
    let watch = device.watch(policy.clone());
    let sid = server
        .create_challenge(ALICE, device.factor_sid(), "Slow?", None)
        .await;

    faults
        .on_polls(&[("DelayMs", "3000"), ("Count", "1")])
        .await;
    let (started, ended, report) = next_report(&watch).await;
    let err = report.outcome.as_ref().expect_err("timed out");
    assert_eq!(err.code(), "network_timeout", "{err:?}");
    assert_eq!(report.trouble(), Some(PollTrouble::Unreachable));
    let took = ended - started;
    assert!(
        took >= policy.request_timeout && took < ms(2500),
        "gave up after {took:?}"
    );

    let (_, _, report) = next_report(&watch).await;
    let found = report.outcome.expect("answers in time again");
    assert_eq!(found[0].challenge.sid, sid);
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_stopped_server_is_reported_and_polling_resumes_when_it_is_back() {
    let server = start_faulty().await;
    let addr = server.server.addr();
    let data_dir = server.data_dir.clone();
    let device = enroll(&server).await;
    let policy = quick_policy();
    let watch = device.watch(policy.clone());
    let (_, _, report) = next_report(&watch).await;
    assert!(report.outcome.is_ok());

    let kept = server.stop().await;
    let mut last_failures = 0;
    for _ in 0..3 {
        let (_, _, report) = next_report(&watch).await;
        let err = report.outcome.as_ref().expect_err("nobody listens");
        assert!(
            matches!(
                err,
                Error::NetworkUnreachable { .. } | Error::Network { .. }
            ),
            "{err:?}"
        );
        assert_eq!(report.trouble(), Some(PollTrouble::Unreachable));
        assert_eq!(report.failures, last_failures + 1);
        last_failures = report.failures;
        let wait = report.next_poll_in.expect("still polled");
        assert!(
            wait + SLACK >= backoff(&policy, report.failures),
            "{wait:?}"
        );
    }

    let server = start_in(&data_dir, |c| {
        c.listen = addr;
        c.fault_injection = true;
    })
    .await;
    let sid = server
        .create_challenge(ALICE, device.factor_sid(), "After the outage", None)
        .await;
    let (_, _, report) = next_report(&watch).await;
    let found = report.outcome.expect("the restarted server answers");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].challenge.sid, sid);
    assert_eq!(report.failures, 0);
    device
        .push
        .answer(
            device.enrollment.id,
            &(&found[0].challenge).into(),
            Decision::Deny,
        )
        .await
        .expect("denied");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "denied");
    server.server.shutdown().await;
    drop(kept);
}
