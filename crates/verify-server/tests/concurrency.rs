//! Many devices at once, and racing answers on one challenge.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_devices_approve_at_once() {
    let t = std::sync::Arc::new(start().await);
    let svc = t.service("Concurrency").await;
    let mut setups = Vec::new();
    for i in 0..50 {
        let id = format!("user-{i:04}-conc");
        let d = t.enroll_push(&svc, &id).await;
        let c = t.push_challenge(&svc, &id, &d.factor_sid).await;
        setups.push((id, d, c.json["sid"].as_str().unwrap().to_string()));
    }
    let mut tasks = Vec::new();
    for (id, d, csid) in setups {
        let t = t.clone();
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let r = t.answer(&d, &svc, &id, &csid, "approved").await;
            (r.status, r.json["status"].clone())
        }));
    }
    for task in tasks {
        let (status, s) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(s, "approved");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_racers_exactly_one_wins() {
    let t = std::sync::Arc::new(start().await);
    let svc = t.service("Race").await;
    let id = "user-race-0001";
    let d = std::sync::Arc::new(t.enroll_push(&svc, id).await);
    for round in 0..3 {
        let c = t.push_challenge(&svc, id, &d.factor_sid).await;
        let path = format!(
            "{}/Challenges/{}",
            ent(&svc, id),
            c.json["sid"].as_str().unwrap()
        );
        let f = t.dev(&d, Method::GET, &path, &[]).await;
        let fields = f.headers["twilio-verify-signature-fields"]
            .to_str()
            .unwrap()
            .to_string();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (t, d, path, barrier) = (t.clone(), d.clone(), path.clone(), barrier.clone());
            let status = if i % 2 == 0 { "approved" } else { "denied" };
            let jwt = d.approval_jwt(&f.json, &fields, status);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                t.dev(&d, Method::POST, &path, &[("AuthPayload", &jwt)])
                    .await
            }));
        }
        let mut wins = 0;
        let mut winner_status = String::new();
        for task in tasks {
            let r = task.await.unwrap();
            if r.status == StatusCode::OK {
                wins += 1;
                winner_status = r.json["status"].as_str().unwrap().to_string();
            } else {
                assert_error(&r, 403, 60322);
            }
        }
        assert_eq!(wins, 1, "round {round}");
        let final_state = t.get(&path, &[]).await;
        assert_eq!(final_state.json["status"], winner_status.as_str());
    }
}
