//! Push enrollment end to end with the real keychain (run under scripts/with-keyring.sh) and
//! verify-server over HTTPS: enroll, approve, deny, rename, remove, several enrollments, and
//! recovery after a crash between any two steps.

mod push_common;

use axum::http::Method;
use countersign_core::keychain::SecretKey;
use countersign_core::push::{Decision, EnrollmentState};
use countersign_core::secret::SecretBytes;
use push_common::{manager, push_keys, secrets, start_in, start_server};
use uuid::Uuid;

const ALICE: &str = "alice-0001";
const BOB: &str = "bob-000002";

#[tokio::test]
async fn enroll_approve_deny_rename_and_remove() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;

    let link = server.enroll_link(ALICE).await;
    let enrollment = push
        .enroll(&link, Some(server.ca_pem.clone()))
        .await
        .expect("enrolled");
    assert_eq!(enrollment.state, EnrollmentState::Verified);
    assert_eq!(enrollment.factor_status.as_deref(), Some("verified"));
    assert!(
        enrollment
            .public_key
            .starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
    );
    let factor_sid = enrollment.factor_sid.clone().expect("factor sid");
    assert_eq!(push_keys(profile.path()).await, vec![enrollment.id]);
    let (status, factor) = server.factor_status(ALICE, &factor_sid).await;
    assert_eq!((status, factor["status"].as_str()), (200, Some("verified")));
    assert_eq!(factor["friendly_name"], "Test desktop");
    assert_eq!(factor["config"]["notification_platform"], "none");
    assert_eq!(factor["config"]["app_id"], "dev.countersign.app");
    // The metadata file holds no secret: neither the access token nor key material.
    let file = std::fs::read_to_string(profile.path().join("enrollments.json")).expect("file");
    assert!(!file.contains(&link.access_token));
    assert!(!file.to_lowercase().contains("private"));

    let login = server
        .create_challenge(ALICE, &factor_sid, "Log in to Example?", None)
        .await;
    let list = push.pending_challenges().await.expect("pending");
    assert!(list.failures.is_empty(), "{:?}", list.failures);
    assert_eq!(list.challenges.len(), 1);
    assert_eq!(list.challenges[0].challenge.sid, login);
    assert_eq!(list.challenges[0].enrollment_name, "Test desktop");
    let approved = push
        .answer(
            enrollment.id,
            &(&list.challenges[0].challenge).into(),
            Decision::Approve,
        )
        .await
        .expect("approved");
    assert_eq!(approved.status, "approved");
    assert_eq!(server.challenge(ALICE, &login).await["status"], "approved");

    let wire = server
        .create_challenge(ALICE, &factor_sid, "Wire 100 EUR?", None)
        .await;
    push.answer(
        enrollment.id,
        &server.shown(ALICE, &wire).await,
        Decision::Deny,
    )
    .await
    .expect("denied");
    assert_eq!(server.challenge(ALICE, &wire).await["status"], "denied");
    let history = push.history().expect("history");
    let status_of = |sid: &str| {
        history
            .iter()
            .find(|h| h.challenge_sid == sid)
            .map(|h| (h.status.clone(), h.answered_here))
    };
    assert_eq!(status_of(&login), Some(("approved".into(), true)));
    assert_eq!(status_of(&wire), Some(("denied".into(), true)));

    let renamed = push
        .rename(enrollment.id, "Work laptop")
        .await
        .expect("renamed");
    assert_eq!(renamed.friendly_name, "Work laptop");
    let (_, factor) = server.factor_status(ALICE, &factor_sid).await;
    assert_eq!(factor["friendly_name"], "Work laptop");

    let removed = push.remove(enrollment.id).await.expect("removed");
    assert!(removed.server_factor_deleted);
    assert_eq!(server.factor_status(ALICE, &factor_sid).await.0, 404);
    assert!(push.enrollments().expect("list").is_empty());
    assert!(push_keys(profile.path()).await.is_empty());
    server.server.shutdown().await;
}

#[tokio::test]
async fn several_enrollments_side_by_side() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());
    let alice = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("alice");
    let bob = push
        .enroll(&server.enroll_link(BOB).await, ca.clone())
        .await
        .expect("bob");
    let mut keys = push_keys(profile.path()).await;
    keys.sort();
    let mut expected = vec![alice.id, bob.id];
    expected.sort();
    assert_eq!(keys, expected);

    let for_bob = server
        .create_challenge(BOB, bob.factor_sid.as_deref().expect("sid"), "Bob?", None)
        .await;
    let for_alice = server
        .create_challenge(
            ALICE,
            alice.factor_sid.as_deref().expect("sid"),
            "Alice?",
            None,
        )
        .await;
    let list = push.pending_challenges().await.expect("pending");
    let mut seen: Vec<(Uuid, String)> = list
        .challenges
        .iter()
        .map(|p| (p.enrollment_id, p.challenge.sid.clone()))
        .collect();
    seen.sort();
    let mut expected = vec![(alice.id, for_alice.clone()), (bob.id, for_bob.clone())];
    expected.sort();
    assert_eq!(seen, expected);

    // Bob's challenge through Alice's enrollment: not hers, not answered.
    let err = push
        .answer(
            alice.id,
            &server.shown(BOB, &for_bob).await,
            Decision::Approve,
        )
        .await
        .expect_err("not hers");
    assert_eq!(err.code(), "challenge_not_found");
    // By SID alone, the owner is found.
    let (owner, found) = push.find_challenge(&for_bob, None).await.expect("found");
    assert_eq!(owner, bob.id);
    let approved = push
        .answer(owner, &(&found).into(), Decision::Approve)
        .await
        .expect("bob approves");
    assert_eq!(approved.factor_sid, bob.factor_sid.clone().expect("sid"));
    assert_eq!(server.challenge(BOB, &for_bob).await["status"], "approved");
    assert_eq!(
        server.challenge(ALICE, &for_alice).await["status"],
        "pending"
    );
    assert_eq!(
        push.find("bob-000002").map(|e| e.id).ok(),
        None,
        "identity is not a name"
    );
    assert_eq!(
        push.find(bob.factor_sid.as_deref().expect("sid"))
            .expect("by sid")
            .id,
        bob.id
    );
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_crash_between_enrollment_steps_is_finished_or_undone() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());

    // Stopped after each step short of the factor: cleaned up, no key left behind.
    for steps in 0..=1 {
        let link = server.enroll_link(ALICE).await;
        let mut pending = push.start_enrollment(&link, ca.clone()).expect("start");
        for _ in 0..steps {
            pending.step().await.expect("step");
        }
        let id = pending.id();
        assert_eq!(push_keys(profile.path()).await.len(), steps);
        // Another process's resume leaves a live enrollment alone.
        let busy = push.resume_pending().await.expect("resume");
        assert_eq!(busy.busy, vec![id]);
        assert_eq!(push.enrollments().expect("list").len(), 1);
        drop(pending); // the "crash": the claim goes, the access token is lost

        let report = push.resume_pending().await.expect("resume");
        assert_eq!(report.abandoned.len(), 1, "{report:?}");
        assert_eq!(report.abandoned[0].0, id);
        assert!(push.enrollments().expect("list").is_empty());
        assert!(push_keys(profile.path()).await.is_empty());
    }

    // Stopped once the server created the factor: resume verifies it.
    let link = server.enroll_link(ALICE).await;
    let mut pending = push.start_enrollment(&link, ca.clone()).expect("start");
    assert_eq!(
        pending.step().await.expect("key"),
        EnrollmentState::KeyStored
    );
    assert_eq!(
        pending.step().await.expect("factor"),
        EnrollmentState::FactorCreated
    );
    let id = pending.id();
    drop(pending);
    let recorded = push.enrollments().expect("list");
    assert_eq!(recorded[0].state, EnrollmentState::FactorCreated);
    let factor_sid = recorded[0].factor_sid.clone().expect("sid");
    assert_eq!(
        server.factor_status(ALICE, &factor_sid).await.1["status"],
        "unverified"
    );

    let report = push.resume_pending().await.expect("resume");
    assert_eq!(report.completed, vec![id]);
    let enrollment = push.find(&id.to_string()).expect("found");
    assert_eq!(enrollment.state, EnrollmentState::Verified);
    assert_eq!(
        server.factor_status(ALICE, &factor_sid).await.1["status"],
        "verified"
    );
    let sid = server
        .create_challenge(ALICE, &factor_sid, "After the crash?", None)
        .await;
    push.answer(id, &server.shown(ALICE, &sid).await, Decision::Approve)
        .await
        .expect("approved");

    // Stopped after verification: nothing to do.
    let report = push.resume_pending().await.expect("resume");
    assert!(
        report.completed.is_empty() && report.abandoned.is_empty(),
        "{report:?}"
    );
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_refused_access_token_leaves_no_key_and_no_record() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());

    let mut forged = server.enroll_link(ALICE).await;
    forged.access_token = "not-a-token".into();
    let err = push.enroll(&forged, ca.clone()).await.expect_err("refused");
    assert_eq!(err.code(), "invalid_enroll_link");
    assert!(!err.to_string().contains("not-a-token"), "{err}");
    assert!(push.enrollments().expect("list").is_empty());
    assert!(push_keys(profile.path()).await.is_empty());

    // Access tokens are single-use on verify-server.
    let link = server.enroll_link(ALICE).await;
    push.enroll(&link, ca.clone()).await.expect("first use");
    let err = push.enroll(&link, ca).await.expect_err("second use");
    assert_eq!(err.code(), "invalid_enroll_link");
    assert_eq!(push.enrollments().expect("list").len(), 1);
    assert_eq!(push_keys(profile.path()).await.len(), 1);
    server.server.shutdown().await;
}

#[tokio::test]
async fn resume_reports_push_keys_no_enrollment_owns_and_keeps_them_until_confirmed() {
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let orphan = Uuid::new_v4();
    let dir = profile.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        secrets(&dir).put(
            SecretKey::push(orphan),
            "orphan",
            &SecretBytes::new(vec![1, 2, 3]),
        )
    })
    .await
    .expect("task")
    .expect("put");
    assert_eq!(push_keys(profile.path()).await, vec![orphan]);
    let report = push.resume_pending().await.expect("resume");
    assert_eq!(report.orphaned_keys, vec![orphan]);
    // Another copy of the profile may use it: only a confirmed delete removes it.
    assert_eq!(push_keys(profile.path()).await, vec![orphan]);
    assert!(push.delete_orphaned_key(orphan).await.expect("delete"));
    assert!(push_keys(profile.path()).await.is_empty());
    assert!(!push.delete_orphaned_key(orphan).await.expect("absent"));
}

#[tokio::test]
async fn a_removal_cut_short_by_the_network_is_finished_on_resume() {
    let server = start_server(|_| {}).await;
    let addr = server.server.addr();
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    let factor_sid = enrollment.factor_sid.clone().expect("sid");

    let data_dir = server.data_dir.clone();
    let _keep = server.stop().await;
    let err = push.remove(enrollment.id).await.expect_err("offline");
    assert_eq!(err.code(), "network_unreachable");
    assert_eq!(
        push.enrollments().expect("list")[0].state,
        EnrollmentState::Removing
    );
    assert_eq!(push_keys(profile.path()).await, vec![enrollment.id]);

    let server = start_in(&data_dir, |c| c.listen = addr).await;
    let report = push.resume_pending().await.expect("resume");
    assert_eq!(report.removed, vec![enrollment.id], "{report:?}");
    assert!(push.enrollments().expect("list").is_empty());
    assert!(push_keys(profile.path()).await.is_empty());
    assert_eq!(server.factor_status(ALICE, &factor_sid).await.0, 404);
    server.server.shutdown().await;
}

#[tokio::test]
async fn removing_a_factor_the_server_already_deleted_succeeds() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    let factor_sid = enrollment.factor_sid.clone().expect("sid");
    let (status, _) = server
        .backend(
            Method::DELETE,
            &[
                "Services",
                &server.service_sid,
                "Entities",
                ALICE,
                "Factors",
                &factor_sid,
            ],
            &[],
        )
        .await;
    assert_eq!(status, 204);
    // Its JWT is now refused (even after the clock retry): the device says so in words.
    let list = push.pending_challenges().await.expect("list");
    assert_eq!(list.failures.len(), 1);
    assert_eq!(list.failures[0].1.code(), "device_unauthorized");

    let removed = push.remove(enrollment.id).await.expect("removed");
    assert!(!removed.server_factor_deleted);
    assert!(push.enrollments().expect("list").is_empty());
    assert!(push_keys(profile.path()).await.is_empty());
    server.server.shutdown().await;
}

#[tokio::test]
async fn the_clock_offset_is_kept_with_the_enrollment() {
    let server = start_server(|c| c.clock_offset_secs = 3600).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled despite the skew");
    let saved = push.enrollments().expect("list")[0].clock_offset_secs;
    assert!((3595..=3605).contains(&saved), "saved offset {saved}");
    drop(push);

    // A new start (a new manager) begins with the saved offset and just works.
    let push = manager(profile.path()).await;
    let sid = server
        .create_challenge(
            ALICE,
            enrollment.factor_sid.as_deref().expect("sid"),
            "Log in?",
            None,
        )
        .await;
    push.answer(
        enrollment.id,
        &server.shown(ALICE, &sid).await,
        Decision::Approve,
    )
    .await
    .expect("approved");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "approved");
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_lost_or_replaced_key_is_reported_not_used() {
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    let factor_sid = enrollment.factor_sid.clone().expect("sid");
    let sid = server
        .create_challenge(ALICE, &factor_sid, "Log in?", None)
        .await;

    // Another key under the enrollment's name (a restored keychain): detected by the SPKI.
    let other = countersign_core::verify::PushKey::generate()
        .to_pkcs8_der()
        .expect("der");
    let (dir, id) = (profile.path().to_path_buf(), enrollment.id);
    tokio::task::spawn_blocking(move || secrets(&dir).put(SecretKey::push(id), "x", &other))
        .await
        .expect("task")
        .expect("put");
    let fresh = manager(profile.path()).await; // no cached key
    let err = fresh
        .answer(
            enrollment.id,
            &server.shown(ALICE, &sid).await,
            Decision::Approve,
        )
        .await
        .expect_err("mismatch");
    assert_eq!(err.code(), "push_key_mismatch");

    // No key at all (a wiped keychain).
    let dir = profile.path().to_path_buf();
    tokio::task::spawn_blocking(move || secrets(&dir).delete(SecretKey::push(id)))
        .await
        .expect("task")
        .expect("delete");
    let fresh = manager(profile.path()).await;
    let err = fresh
        .answer(
            enrollment.id,
            &server.shown(ALICE, &sid).await,
            Decision::Approve,
        )
        .await
        .expect_err("missing");
    assert_eq!(err.code(), "push_key_missing");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "pending");
    server.server.shutdown().await;
}
