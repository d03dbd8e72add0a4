//! Lost key state, end to end with the real keychain (run under scripts/with-keyring.sh) and
//! verify-server over HTTPS: each way a factor breaks is detected with its own cause, and
//! re-enrollment replaces it without losing anything, whatever step a crash hits.
#![cfg(target_os = "linux")]

mod push_common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use countersign_core::health::{HealthSummary, Verdict};
use countersign_core::keychain::SecretKey;
use countersign_core::otp::OtpParams;
use countersign_core::profile::Profile;
use countersign_core::push::{
    EnrollmentState, FactorHealth, FactorProblem, HealthAction, OldFactorFate, PushManager,
};
use countersign_core::secret::SecretBytes;
use countersign_core::vault::Vault;
use push_common::{Server, Stub, keychain, manager, push_keys, secrets, start_in, start_server};
use uuid::Uuid;

const ALICE: &str = "alice-0001";

/// Every test shares one keyring daemon: the test that locks it runs alone.
static KEYRING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn delete_key(dir: &Path, id: Uuid) {
    assert!(keychain(dir, move |s| s.delete(SecretKey::push(id)).expect("delete")).await);
}

fn problem(health: &FactorHealth) -> Option<FactorProblem> {
    match health {
        FactorHealth::Broken { problem } => Some(*problem),
        _ => None,
    }
}

async fn backend_delete_factor(server: &Server, factor_sid: &str) -> u16 {
    server
        .backend(
            Method::DELETE,
            &[
                "Services",
                &server.service_sid,
                "Entities",
                ALICE,
                "Factors",
                factor_sid,
            ],
            &[],
        )
        .await
        .0
}

/// The test keyring over D-Bus, independently of the code under test: gnome-keyring's
/// default collection, locked with the standard Secret Service call and unlocked with the
/// password scripts/with-keyring.sh set.
mod keyring {
    use zbus::blocking::Connection;
    use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

    const DEST: &str = "org.freedesktop.secrets";
    const SERVICE: &str = "/org/freedesktop/secrets";
    const PASSWORD: &str = "countersign-test";

    fn default_collection(conn: &Connection) -> OwnedObjectPath {
        let reply = conn
            .call_method(
                Some(DEST),
                SERVICE,
                Some("org.freedesktop.Secret.Service"),
                "ReadAlias",
                &("default",),
            )
            .expect("ReadAlias");
        reply.body().deserialize().expect("collection path")
    }

    /// Unlocks the keyring when dropped, so a failing test cannot leave it locked for the
    /// tests after it.
    pub struct Locked;

    impl Drop for Locked {
        fn drop(&mut self) {
            // A thread of its own: this may run on an async worker.
            let _ = std::thread::spawn(unlock_blocking).join();
        }
    }

    pub async fn lock() -> Locked {
        tokio::task::spawn_blocking(|| {
            let conn = Connection::session().expect("session bus");
            let collection = default_collection(&conn);
            conn.call_method(
                Some(DEST),
                SERVICE,
                Some("org.freedesktop.Secret.Service"),
                "Lock",
                &(vec![collection],),
            )
            .expect("Lock");
        })
        .await
        .expect("task");
        Locked
    }

    fn unlock_blocking() {
        let conn = Connection::session().expect("session bus");
        let collection = default_collection(&conn);
        let reply = conn
            .call_method(
                Some(DEST),
                SERVICE,
                Some("org.freedesktop.Secret.Service"),
                "OpenSession",
                &("plain", Value::from("")),
            )
            .expect("OpenSession");
        let (_, session): (OwnedValue, OwnedObjectPath) =
            reply.body().deserialize().expect("session");
        let secret = (
            session,
            Vec::<u8>::new(),
            PASSWORD.as_bytes().to_vec(),
            "text/plain",
        );
        conn.call_method(
            Some(DEST),
            SERVICE,
            Some("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"),
            "UnlockWithMasterPassword",
            &(collection, secret),
        )
        .expect("UnlockWithMasterPassword");
    }
}

#[tokio::test]
async fn a_reinstall_is_detected_and_reenrollment_leaves_the_old_factor_to_the_service() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let addr = server.server.addr();
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let old = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    let old_sid = old.factor_sid.clone().expect("sid");

    let report = push.check_health(old.id).await.expect("check");
    assert_eq!(report.health, FactorHealth::Healthy, "{report:?}");
    assert_eq!(report.action, HealthAction::None);
    let recorded = push
        .find(&old_sid)
        .expect("found")
        .last_health
        .expect("recorded");
    assert_eq!(recorded.code, "healthy");

    // "Reinstall": the key is gone while the metadata remains.
    delete_key(profile.path(), old.id).await;
    // Detected without the server: it is stopped, and the answer is still "key missing"
    // (nothing can be signed without the key), not "unreachable".
    let data_dir = server.data_dir.clone();
    let _keep = server.stop().await;
    let report = push.check_health(old.id).await.expect("check");
    assert_eq!(problem(&report.health), Some(FactorProblem::KeyMissing));
    assert_eq!(report.code, "key_missing");
    assert_eq!(report.action, HealthAction::Reenroll);
    assert!(
        report.cause.contains("no longer has the key"),
        "{}",
        report.cause
    );
    assert_eq!(
        push.find(&old_sid)
            .expect("found")
            .last_health
            .expect("h")
            .code,
        "key_missing"
    );
    // The flows that need the factor say the same.
    let server = start_in(&data_dir, |c| c.listen = addr).await;
    let list = push.pending_challenges().await.expect("list");
    assert_eq!(
        FactorProblem::from_error(&list.failures[0].1),
        Some(FactorProblem::KeyMissing)
    );

    // The relying party hands out a new link; re-enrollment replaces the factor.
    let link = server.enroll_link(ALICE).await;
    let done = push
        .reenroll(old.id, &link, Some(server.ca_pem.clone()))
        .await
        .expect("re-enrolled");
    let new_sid = done.enrollment.factor_sid.clone().expect("sid");
    assert_eq!(done.enrollment.state, EnrollmentState::Verified);
    assert_eq!(done.replaced.old_id, old.id);
    assert_eq!(done.replaced.fate, OldFactorFate::ServiceMustRemove);
    assert_eq!(
        done.replaced.old_factor_sid.as_deref(),
        Some(old_sid.as_str())
    );
    assert_eq!(
        server.factor_status(ALICE, &new_sid).await.1["status"],
        "verified"
    );
    // The old factor is marked for the service, with its SID; its key entry is gone.
    let retired = push.find(&old.id.to_string()).expect("old record kept");
    assert_eq!(retired.state, EnrollmentState::Retired);
    assert!(retired.needs_service_removal);
    assert_eq!(push_keys(profile.path()).await, vec![done.enrollment.id]);
    let reports = push.check_all().await.expect("check all");
    let old_report = reports
        .iter()
        .find(|r| r.enrollment_id == old.id)
        .expect("old");
    assert_eq!(old_report.health, FactorHealth::Retired);
    assert_eq!(old_report.action, HealthAction::AskServiceToRemove);
    assert!(
        old_report.next_step.contains(&old_sid),
        "{}",
        old_report.next_step
    );
    let new_report = reports
        .iter()
        .find(|r| r.enrollment_id == done.enrollment.id)
        .expect("new");
    assert_eq!(new_report.health, FactorHealth::Healthy);

    // The backend removes the old factor; approvals work on the new one.
    assert_eq!(server.factor_status(ALICE, &old_sid).await.0, 200);
    assert_eq!(backend_delete_factor(&server, &old_sid).await, 204);
    server
        .approve_works(ALICE, &push, done.enrollment.id, &new_sid)
        .await;
    // Dismissing the notice removes the record (no key, no server call needed).
    push.remove(old.id).await.expect("dismissed");
    assert_eq!(push.enrollments().expect("list").len(), 1);
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_replaced_key_is_a_mismatch_and_a_healthy_factor_is_deleted_on_reenrollment() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());
    let broken = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("enrolled");
    // Cached by a first use, so the check must read the keychain afresh to notice.
    assert!(
        push.check_health(broken.id)
            .await
            .expect("check")
            .health
            .is_healthy()
    );
    let other = countersign_core::verify::PushKey::generate()
        .to_pkcs8_der()
        .expect("der");
    let id = broken.id;
    keychain(profile.path(), move |s| {
        s.put(SecretKey::push(id), "x", &other).expect("put")
    })
    .await;
    let report = push.check_health(id).await.expect("check");
    assert_eq!(problem(&report.health), Some(FactorProblem::KeyMismatch));
    // Unreadable: an entry that is no key at all.
    keychain(profile.path(), move |s| {
        s.put(
            SecretKey::push(id),
            "x",
            &SecretBytes::new(b"not a key".to_vec()),
        )
        .expect("put")
    })
    .await;
    let report = push.check_health(id).await.expect("check");
    assert_eq!(problem(&report.health), Some(FactorProblem::KeyUnreadable));

    // A healthy factor replaced by choice: its key still signs, so it is deleted on the
    // server and locally.
    let healthy = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("enrolled");
    let healthy_sid = healthy.factor_sid.clone().expect("sid");
    let done = push
        .reenroll(healthy.id, &server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("re-enrolled");
    assert_eq!(done.replaced.fate, OldFactorFate::DeletedOnServer);
    assert_eq!(server.factor_status(ALICE, &healthy_sid).await.0, 404);
    assert!(push.find(&healthy.id.to_string()).is_err());
    assert!(!push_keys(profile.path()).await.contains(&healthy.id));
    server
        .approve_works(
            ALICE,
            &push,
            done.enrollment.id,
            done.enrollment.factor_sid.as_deref().expect("sid"),
        )
        .await;
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_factor_the_server_deleted_is_refused_then_replaced_as_already_gone() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());
    let old = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("enrolled");
    let old_sid = old.factor_sid.clone().expect("sid");
    assert_eq!(backend_delete_factor(&server, &old_sid).await, 204);
    // verify-server, like Twilio (PROTOCOL.md §4.3.5, §4.6), answers a deleted factor's JWT
    // with 401 even after the clock retry.
    let report = push.check_health(old.id).await.expect("check");
    assert_eq!(problem(&report.health), Some(FactorProblem::Unauthorized));
    assert!(report.cause.contains("deleted"), "{}", report.cause);

    let done = push
        .reenroll(old.id, &server.enroll_link(ALICE).await, ca)
        .await
        .expect("re-enrolled");
    assert_eq!(done.replaced.fate, OldFactorFate::AlreadyGoneOnServer);
    assert_eq!(push.enrollments().expect("list").len(), 1);
    server.server.shutdown().await;
}

/// Points the profile's only enrollment at a scripted server (same key and SIDs).
fn redirect_to(profile: &Path, stub: &Stub) {
    let path = profile.join("enrollments.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    json["enrollments"][0]["server"] = serde_json::json!({
        "base_url": stub.base_url,
        "extra_ca_pem": stub.ca_pem,
    });
    std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("write");
}

#[tokio::test]
async fn each_server_refusal_has_its_own_cause() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let enrolled = {
        let push = manager(profile.path()).await;
        push.enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled")
    };
    // (status, body) of the factor fetch, and of the challenge list that decides when the
    // server does not let devices read factors.
    type Answer = (StatusCode, String);
    let answers: Arc<Mutex<(Answer, Answer)>> = Arc::new(Mutex::new(Default::default()));
    let script = answers.clone();
    let stub = Stub::start(move |_, path, _| {
        let (factor, list) = script.lock().expect("lock").clone();
        let (status, body) = if path.ends_with("/Challenges") {
            list
        } else {
            factor
        };
        (status, vec![], body)
    })
    .await;
    redirect_to(profile.path(), &stub);
    let push = manager(profile.path()).await;
    let api_error = |status: u16, code: u32| {
        serde_json::json!({"code": code, "message": "refused", "status": status}).to_string()
    };
    let factor = |status: &str| {
        serde_json::json!({"sid": enrolled.factor_sid, "account_sid": enrolled.account_sid,
            "status": status, "friendly_name": "Test desktop"})
        .to_string()
    };
    let empty_list = serde_json::json!({"challenges": [], "meta": {}}).to_string();
    let cases = [
        ((StatusCode::OK, factor("verified")), "healthy"),
        ((StatusCode::OK, factor("unverified")), "server_unverified"),
        (
            (StatusCode::FORBIDDEN, api_error(403, 60318)),
            "server_unverified",
        ),
        (
            (StatusCode::FORBIDDEN, api_error(403, 60383)),
            "illegal_status",
        ),
        (
            (StatusCode::NOT_FOUND, api_error(404, 60390)),
            "factor_unknown",
        ),
        (
            (StatusCode::NOT_FOUND, api_error(404, 20404)),
            "factor_unknown",
        ),
        ((StatusCode::BAD_GATEWAY, "{}".to_string()), "unreachable"),
        (
            (StatusCode::BAD_REQUEST, api_error(400, 60306)),
            "undetermined",
        ),
    ];
    for (answer, code) in cases {
        *answers.lock().expect("lock") = (answer.clone(), (StatusCode::OK, empty_list.clone()));
        let report = push.check_health(enrolled.id).await.expect("check");
        assert_eq!(report.code, code, "{answer:?}: {report:?}");
    }
    // A server that does not let devices read factors: the challenge list decides.
    let forbidden = (StatusCode::FORBIDDEN, api_error(403, 20003));
    *answers.lock().expect("lock") = (forbidden.clone(), (StatusCode::OK, empty_list));
    assert_eq!(
        push.check_health(enrolled.id).await.expect("check").code,
        "healthy"
    );
    *answers.lock().expect("lock") = (forbidden, (StatusCode::NOT_FOUND, api_error(404, 60390)));
    assert_eq!(
        push.check_health(enrolled.id).await.expect("check").code,
        "factor_unknown"
    );
    // No server at all: unknown, not lost.
    stub.stop();
    let report = push.check_health(enrolled.id).await.expect("check");
    assert_eq!(report.code, "unreachable");
    assert_eq!(report.action, HealthAction::RetryLater);
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_factor_left_unverified_past_its_lifetime_is_reported_as_expired() {
    let _shared = KEYRING.read().await;
    let server = start_server(|c| c.unverified_factor_lifetime = Duration::from_secs(2)).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let mut pending = push
        .start_enrollment(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .expect("start");
    pending.step().await.expect("key");
    pending.step().await.expect("factor");
    let id = pending.id();
    // While it runs, another check leaves it alone.
    assert_eq!(
        push.check_health(id).await.expect("check").health,
        FactorHealth::Pending
    );
    drop(pending); // the crash
    let sid = push.enrollments().expect("list")[0]
        .factor_sid
        .clone()
        .expect("sid");
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let report = push.check_health(id).await.expect("check");
    assert_eq!(
        problem(&report.health),
        Some(FactorProblem::EnrollmentExpired)
    );
    assert_eq!(report.action, HealthAction::EnrollAgain);
    assert!(report.record_removed);
    assert!(push.enrollments().expect("list").is_empty());
    assert!(push_keys(profile.path()).await.is_empty());
    // The dead factor was deleted on the server too.
    assert_eq!(server.factor_status(ALICE, &sid).await.0, 404);
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_factor_stuck_unverified_after_a_crash_is_detected_and_finished() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let mut pending = push
        .start_enrollment(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .expect("start");
    pending.step().await.expect("key");
    pending.step().await.expect("factor");
    let id = pending.id();
    drop(pending);
    let sid = push.enrollments().expect("list")[0]
        .factor_sid
        .clone()
        .expect("sid");
    assert_eq!(
        server.factor_status(ALICE, &sid).await.1["status"],
        "unverified"
    );
    let report = push.check_health(id).await.expect("check");
    assert_eq!(report.health, FactorHealth::Healthy, "{report:?}");
    assert_eq!(report.state, EnrollmentState::Verified);
    assert_eq!(
        server.factor_status(ALICE, &sid).await.1["status"],
        "verified"
    );
    server.approve_works(ALICE, &push, id, &sid).await;
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_locked_keychain_is_reported_and_never_starts_a_reenrollment() {
    let _exclusive = KEYRING.write().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());
    let old = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("enrolled");

    let locked = keyring::lock().await;
    let report = push.check_health(old.id).await.expect("check");
    assert_eq!(report.health, FactorHealth::KeychainLocked, "{report:?}");
    assert_eq!(report.action, HealthAction::UnlockKeychain);
    assert!(report.cause.contains("does not mean the key is lost"));
    // A re-enrollment cannot start: its first step needs the keychain; nothing is left.
    let mut pending = push
        .start_reenrollment(old.id, &server.enroll_link(ALICE).await, ca.clone())
        .expect("start");
    let err = pending.step().await.expect_err("locked");
    assert_eq!(err.code(), "keychain_locked");
    drop(pending);
    let records = push.enrollments().expect("list");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].replaced_by, None);
    assert_eq!(records[0].state, EnrollmentState::Verified);
    // Opening the profile now: every factor is reported as waiting for the keychain.
    let dir = profile.path().to_path_buf();
    let err = tokio::task::spawn_blocking(move || PushManager::open(&Profile::at(dir)))
        .await
        .expect("task")
        .expect_err("locked");
    assert_eq!(err.code(), "keychain_locked");
    let summary = HealthSummary::keychain_blocked(&Profile::at(profile.path()), &err)
        .expect("metadata")
        .expect("a keychain error");
    assert_eq!(summary.verdict, Verdict::KeychainBlocked);
    assert_eq!(summary.factors[0].health, FactorHealth::KeychainLocked);

    drop(locked); // unlocks
    let report = push.check_health(old.id).await.expect("check");
    assert_eq!(report.health, FactorHealth::Healthy, "{report:?}");
    server
        .approve_works(
            ALICE,
            &push,
            old.id,
            old.factor_sid.as_deref().expect("sid"),
        )
        .await;
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_reenrollment_loses_nothing() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let ca = Some(server.ca_pem.clone());
    // steps = how many steps the new enrollment made before the crash (3 = verified, with
    // the old factor not dealt with yet).
    for steps in 0..=3 {
        let push = manager(profile.path()).await;
        let old = push
            .enroll(&server.enroll_link(ALICE).await, ca.clone())
            .await
            .expect("enrolled");
        let old_sid = old.factor_sid.clone().expect("sid");
        let mut pending = push
            .start_reenrollment(old.id, &server.enroll_link(ALICE).await, ca.clone())
            .expect("start");
        for _ in 0..steps {
            pending.step().await.expect("step");
        }
        let new_id = pending.id();
        assert_eq!(
            push.find(&old.id.to_string()).expect("old").replaced_by,
            Some(new_id)
        );
        drop(pending); // the crash
        drop(push);

        // A fresh start: the old factor still works until the new one is verified.
        let push = manager(profile.path()).await;
        if steps < 3 {
            server.approve_works(ALICE, &push, old.id, &old_sid).await;
        }
        let report = push.resume_pending().await.expect("resume");
        if steps < 2 {
            // No factor yet: the new enrollment is undone, the old one kept as it was.
            assert_eq!(report.abandoned.len(), 1, "{steps}: {report:?}");
            assert_eq!(report.abandoned[0].0, new_id);
            let kept = push.find(&old.id.to_string()).expect("old kept");
            assert_eq!(kept.state, EnrollmentState::Verified);
            assert_eq!(kept.replaced_by, None);
            assert!(
                push.check_health(old.id)
                    .await
                    .expect("check")
                    .health
                    .is_healthy()
            );
            push.remove(old.id)
                .await
                .expect("clean up for the next round");
        } else {
            // Factor created (or verified): finished, and the old factor deleted for good.
            assert_eq!(report.replaced.len(), 1, "{steps}: {report:?}");
            assert_eq!(report.replaced[0].fate, OldFactorFate::DeletedOnServer);
            assert_eq!(server.factor_status(ALICE, &old_sid).await.0, 404);
            let new = push.find(&new_id.to_string()).expect("new");
            assert_eq!(new.state, EnrollmentState::Verified);
            assert_eq!(new.replaces, None);
            assert!(push.find(&old.id.to_string()).is_err());
            server
                .approve_works(
                    ALICE,
                    &push,
                    new_id,
                    new.factor_sid.as_deref().expect("sid"),
                )
                .await;
            push.remove(new_id)
                .await
                .expect("clean up for the next round");
        }
        assert!(push.enrollments().expect("list").is_empty(), "{steps}");
        assert!(push_keys(profile.path()).await.is_empty(), "{steps}");
    }
    server.server.shutdown().await;
}

#[tokio::test]
async fn a_reenrollment_can_be_cancelled_and_refuses_the_wrong_link() {
    let _shared = KEYRING.read().await;
    let server = start_server(|_| {}).await;
    let profile = tempfile::tempdir().expect("tempdir");
    let push = manager(profile.path()).await;
    let ca = Some(server.ca_pem.clone());
    let old = push
        .enroll(&server.enroll_link(ALICE).await, ca.clone())
        .await
        .expect("enrolled");

    let other_user = server.enroll_link("bob-000002").await;
    let err = push
        .start_reenrollment(old.id, &other_user, ca.clone())
        .expect_err("another account");
    assert_eq!(err.code(), "reenrollment_refused");
    assert!(err.to_string().contains("another account"), "{err}");
    assert_eq!(push.enrollments().expect("list").len(), 1);

    let mut pending = push
        .start_reenrollment(old.id, &server.enroll_link(ALICE).await, ca.clone())
        .expect("start");
    pending.step().await.expect("key");
    pending.step().await.expect("factor");
    let new_id = pending.id();
    let err = push
        .start_reenrollment(old.id, &server.enroll_link(ALICE).await, ca.clone())
        .expect_err("one at a time");
    assert_eq!(err.code(), "reenrollment_refused");
    // Busy while its process works on it.
    let err = push.cancel_reenrollment(old.id).await.expect_err("busy");
    assert_eq!(err.code(), "reenrollment_refused");
    drop(pending);
    let new_sid = push
        .find(&new_id.to_string())
        .expect("new")
        .factor_sid
        .expect("sid");

    let kept = push.cancel_reenrollment(old.id).await.expect("cancelled");
    assert_eq!(kept.id, old.id);
    assert_eq!(kept.replaced_by, None);
    assert_eq!(server.factor_status(ALICE, &new_sid).await.0, 404);
    assert_eq!(push_keys(profile.path()).await, vec![old.id]);
    server
        .approve_works(
            ALICE,
            &push,
            old.id,
            old.factor_sid.as_deref().expect("sid"),
        )
        .await;
    server.server.shutdown().await;
}

#[tokio::test]
async fn totp_secrets_missing_or_orphaned_are_found_and_orphans_adopted_or_deleted() {
    let _shared = KEYRING.read().await;
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let vault = Vault::open(&Profile::at(&dir)).expect("vault");
        let kept = vault
            .add_uri("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example")
            .expect("add");
        let lost = vault
            .add_uri("otpauth://totp/Lost:bob?secret=GEZDGNBVGY3TQOJQ&issuer=Lost")
            .expect("add");
        assert!(vault.secret_health().expect("health").is_healthy());

        // A wiped entry (account without secret) and a leftover entry (secret without
        // account), as a crash or a restored keychain leaves them.
        let store = secrets(&dir);
        assert!(store.delete(SecretKey::otp(lost.id)).expect("delete"));
        let orphan = Uuid::new_v4();
        store
            .put(
                SecretKey::otp(orphan),
                "leftover",
                &SecretBytes::new(b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_vec()),
            )
            .expect("put");
        let junk = Uuid::new_v4();
        store
            .put(
                SecretKey::otp(junk),
                "junk",
                &SecretBytes::new(b"!".to_vec()),
            )
            .expect("put");

        let health = vault.secret_health().expect("health");
        assert_eq!(health.missing.len(), 1);
        assert_eq!(health.missing[0].account_id, lost.id);
        assert_eq!(health.missing[0].issuer, "Lost");
        assert!(health.missing[0].next_step.contains("Scan"));
        let mut orphans: Vec<Uuid> = health.orphaned.iter().map(|o| o.id).collect();
        orphans.sort();
        let mut expected = vec![orphan, junk];
        expected.sort();
        assert_eq!(orphans, expected);
        let summary = HealthSummary::new(vec![], health);
        assert_eq!(summary.verdict, Verdict::NeedsAction);

        // An entry an account owns is never deleted as an orphan.
        assert!(vault.delete_orphan(kept.id).is_err());
        // Junk cannot become an account.
        assert!(
            vault
                .adopt_orphan(junk, "X", "junk", OtpParams::totp_default())
                .is_err()
        );
        assert!(vault.delete_orphan(junk).expect("deleted"));
        let adopted = vault
            .adopt_orphan(orphan, "Recovered", "carol", OtpParams::totp_default())
            .expect("adopted");
        assert_eq!(adopted.id, orphan);
        // RFC 6238's test seed at T = 59 s: the adopted account shows real codes.
        assert_eq!(vault.code(orphan, 59).expect("code").code, "287082");
        vault.delete(lost.id).expect("delete the lost account");
        assert!(vault.secret_health().expect("health").is_healthy());
    })
    .await
    .expect("task");
}
