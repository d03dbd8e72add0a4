//! Approve latency on loopback against verify-server (ignored by default; a measurement,
//! not a check). Run: cargo test -p countersign-core --release --test push_bench -- --ignored --nocapture

mod push_common;

use std::time::{Duration, Instant};

use countersign_core::push::Decision;
use countersign_core::push::challenges::{answer_challenge, check_answerable};
use push_common::start_server;

const ROUNDS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn approve_latency_on_loopback() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let factor = server.device_factor(&client, "bench-user-01").await;
    let mut full = Vec::with_capacity(ROUNDS);
    let mut sign_post_refetch = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS * 2 {
        let sid = server
            .create_challenge("bench-user-01", &factor.factor_sid, "Bench?", None)
            .await;
        if round % 2 == 0 {
            // fetch + checks + sign + POST + re-fetch: what the user waits for after a click.
            let shown = server.shown("bench-user-01", &sid).await;
            let started = Instant::now();
            let done = answer_challenge(&client, &factor, &shown, Decision::Approve)
                .await
                .expect("approved");
            full.push(started.elapsed());
            assert_eq!(done.status, "approved");
        } else {
            // The challenge already fetched (as when it is on screen): sign + POST + re-fetch.
            let fetched = client.fetch_challenge(&factor, &sid).await.expect("fetch");
            let started = Instant::now();
            let shown = (&fetched.challenge).into();
            check_answerable(&fetched, &shown, &factor.factor_sid, client.server_now())
                .expect("ok");
            let jwt = factor
                .key
                .approval_jwt(
                    &fetched.body,
                    fetched.signature_fields.as_deref().expect("fields"),
                    "approved",
                )
                .expect("jwt");
            client
                .update_challenge(&factor, &sid, &jwt)
                .await
                .expect("posted");
            let after = client
                .fetch_challenge(&factor, &sid)
                .await
                .expect("refetch");
            sign_post_refetch.push(started.elapsed());
            assert_eq!(after.challenge.status, "approved");
        }
    }
    report("answer (fetch+sign+POST+re-fetch)", full);
    report("sign+POST+re-fetch", sign_post_refetch);
    server.server.shutdown().await;
}
