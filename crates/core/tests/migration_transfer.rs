//! Moving accounts with Google Authenticator transfer codes, against the real Secret Service
//! (run under scripts/with-keyring.sh): export from one profile, scan the codes one at a
//! time into another, get the same accounts.

use countersign_core::export::google;
use countersign_core::otpauth::OtpAuthUri;
use countersign_core::profile::Profile;
use countersign_core::scanned::ScanBatches;
use countersign_core::vault::Vault;

#[test]
fn a_transfer_scanned_one_code_at_a_time_arrives_whole() {
    let from_dir = tempfile::tempdir().expect("tempdir");
    let from = Vault::open(&Profile::at(from_dir.path())).expect("open");
    for n in 0..23 {
        let secret = data_encoding::BASE32_NOPAD.encode(format!("seed-{n:03}-abcdefgh").as_bytes());
        from.add(
            OtpAuthUri::parse(&format!(
                "otpauth://totp/Site%20{n}:user{n}?secret={secret}&issuer=Site%20{n}"
            ))
            .expect("uri"),
        )
        .expect("add");
    }
    let entries = from.export_entries().expect("export entries");
    let transfer = google::export(&entries);
    assert_eq!(transfer.codes.len(), 3);

    let to_dir = tempfile::tempdir().expect("tempdir");
    let to = Vault::open(&Profile::at(to_dir.path())).expect("open");
    let batches = ScanBatches::default();
    let scan = |index: usize| {
        to.add_scanned_into(&[transfer.codes[index].to_string()], &batches)
            .expect("scan")
    };

    let first = scan(0);
    assert_eq!(first.added.len(), 10);
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    assert_eq!(first.batches.len(), 1);
    assert_eq!((first.batches[0].scanned, first.batches[0].total), (1, 3));
    assert_eq!(first.batches[0].missing, vec![2, 3]);

    // Out of order, and one code twice: nothing is added twice or reported missing.
    let third = scan(2);
    assert_eq!(
        (third.batches[0].scanned, third.batches[0].missing.clone()),
        (2, vec![2])
    );
    let again = scan(2);
    assert!(
        again.added.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.batches[0].scanned, 2);
    let second = scan(1);
    assert!(second.failed.is_empty(), "{:?}", second.failed);
    assert!(second.batches[0].is_complete());

    // Scanned out of order, so compared in one order.
    let sorted = |mut list: Vec<OtpAuthUri>| {
        list.sort_by(|a, b| a.account_name.cmp(&b.account_name));
        list
    };
    assert_eq!(
        sorted(to.export_entries().expect("export entries")),
        sorted(entries)
    );
    // Without a collector that outlives the scan, each scan stands alone.
    let alone = to
        .add_scanned(&[transfer.codes[0].to_string()])
        .expect("scan");
    assert_eq!(alone.batches[0].scanned, 1);
    assert_eq!(alone.skipped_duplicates.len(), 10);
}
