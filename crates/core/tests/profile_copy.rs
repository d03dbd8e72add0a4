//! A profile copied to another folder, and both started: neither loses a secret or a push
//! key to the other, and a moved profile keeps its entries (real keychain and verify-server;
//! run under scripts/with-keyring.sh).

mod push_common;

use std::path::Path;

use countersign_core::keychain::SecretKey;
use countersign_core::profile::Profile;
use countersign_core::profile_copy::{ProfilePlace, own_vault_id};
use countersign_core::push::PushManager;
use countersign_core::store::AccountStore;
use countersign_core::vault::Vault;
use push_common::{Server, keychain, manager, push_keys, start_server};
use uuid::Uuid;

const ALICE: &str = "alice-0001";
const URI: &str =
    "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

async fn vault(dir: &Path) -> Vault {
    let profile = Profile::at(dir);
    tokio::task::spawn_blocking(move || Vault::open(&profile))
        .await
        .expect("task")
        .expect("vault opens")
}

async fn code(dir: &Path, id: Uuid) -> String {
    let vault = vault(dir).await;
    tokio::task::spawn_blocking(move || vault.code(id, 59).map(|c| c.code))
        .await
        .expect("task")
        .expect("code")
}

fn vault_id(dir: &Path) -> Uuid {
    AccountStore::open(dir)
        .expect("store")
        .load()
        .expect("load")
        .vault_id
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Approves a fresh challenge through the profile's only enrollment.
async fn approve_works(server: &Server, push: &PushManager) {
    let enrollment = push.enrollments().expect("list").remove(0);
    let factor_sid = enrollment.factor_sid.clone().expect("sid");
    server
        .approve_works(ALICE, push, enrollment.id, &factor_sid)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_profile_gets_its_own_entries_and_both_keep_working() {
    let server = start_server(|_| {}).await;
    let root = tempfile::tempdir().expect("tempdir");
    let original = root.path().join("original");
    let copy = root.path().join("copy");

    let account = {
        let vault = vault(&original).await;
        tokio::task::spawn_blocking(move || vault.add_uri(URI))
            .await
            .expect("task")
            .expect("added")
    };
    let push = manager(&original).await;
    let enrollment = push
        .enroll(
            &server.enroll_link(ALICE).await,
            Some(server.ca_pem.clone()),
        )
        .await
        .expect("enrolled");
    let expected_code = code(&original, account.id).await;
    let original_id = vault_id(&original);

    copy_dir(&original, &copy);
    // Start both; the copy first, as a restored backup would be.
    let copy_push = manager(&copy).await;
    assert_ne!(
        vault_id(&copy),
        original_id,
        "the copy got its own namespace"
    );
    assert_eq!(
        vault_id(&original),
        original_id,
        "the original is untouched"
    );
    let report = copy_push.resume_pending().await.expect("resume copy");
    assert!(report.orphaned_keys.is_empty(), "{report:?}");
    let report = push.resume_pending().await.expect("resume original");
    assert!(report.orphaned_keys.is_empty(), "{report:?}");
    assert_eq!(code(&copy, account.id).await, expected_code);
    assert_eq!(push_keys(&copy).await, vec![enrollment.id]);
    assert_eq!(push_keys(&original).await, vec![enrollment.id]);
    approve_works(&server, &copy_push).await;
    approve_works(&server, &push).await;

    // What one does to its entries no longer reaches the other.
    let copy_vault = vault(&copy).await;
    tokio::task::spawn_blocking(move || copy_vault.delete(account.id))
        .await
        .expect("task")
        .expect("deleted in the copy");
    assert_eq!(code(&original, account.id).await, expected_code);
    let (dir, id) = (copy.clone(), enrollment.id);
    assert!(
        keychain(&dir, move |s| s
            .delete(SecretKey::push(id))
            .expect("delete"))
        .await
    );
    assert_eq!(push_keys(&original).await, vec![enrollment.id]);
    let fresh = manager(&original).await;
    approve_works(&server, &fresh).await;

    // Started again, both stay as they are.
    let copy_id = vault_id(&copy);
    manager(&copy).await;
    manager(&original).await;
    assert_eq!(vault_id(&copy), copy_id);
    assert_eq!(vault_id(&original), original_id);
    server.server.shutdown().await;
}

#[test]
fn a_moved_profile_keeps_its_entries_and_the_same_folder_is_not_a_copy() {
    let root = tempfile::tempdir().expect("tempdir");
    let first = root.path().join("first");
    let moved = root.path().join("moved");
    let vault = Vault::open(&Profile::at(&first)).expect("vault");
    let account = vault.add_uri(URI).expect("added");
    let expected = vault.code(account.id, 59).expect("code").code;
    drop(vault);
    let id = vault_id(&first);

    // Through a symlink the folder is the same one.
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&first, &link).expect("symlink");
    let store = AccountStore::open(&link).expect("store");
    assert_eq!(
        own_vault_id(&Profile::at(&link), &store).expect("opened"),
        (id, ProfilePlace::Here)
    );

    std::fs::rename(&first, &moved).expect("move");
    let store = AccountStore::open(&moved).expect("store");
    let (moved_id, place) = own_vault_id(&Profile::at(&moved), &store).expect("opened");
    assert_eq!(moved_id, id);
    assert!(matches!(place, ProfilePlace::Moved { .. }), "{place:?}");
    let vault = Vault::open(&Profile::at(&moved)).expect("vault");
    assert_eq!(vault.code(account.id, 59).expect("code").code, expected);
    vault.delete(account.id).expect("clean up");
}
