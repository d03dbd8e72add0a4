//! Crash safety: `countersign-cli add` and `import` killed with SIGKILL at random moments
//! (run under scripts/with-keyring.sh). After every kill the profile must still open,
//! `accounts.json` must hold only whole accounts, each with its secret in the keychain, and a
//! keychain entry left without an account must be reported by `doctor`, not dropped.
//!
//! Kill moments come from a seeded generator and are spread over the command's real
//! duration, measured first on this machine, so they land in start-up, the keychain write,
//! the metadata write and the exit alike.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use countersign_core::otp::OtpParams;
use countersign_core::otpauth::OtpAuthUri;
use countersign_core::store::StoreFile;
use countersign_e2e::*;
use data_encoding::BASE32_NOPAD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TRIALS: usize = 40;
/// Accounts in the file the import trials read: enough that kills land between entries.
const IMPORT_ENTRIES: usize = 12;
const DOCTOR_NEEDS_ACTION: i32 = 2;

/// One account the test creates, and so knows the secret of.
#[derive(Clone)]
struct Entry {
    name: String,
    secret: Vec<u8>,
}

impl Entry {
    fn random(name: String, rng: &mut StdRng) -> Entry {
        let mut secret = vec![0u8; 20];
        rng.fill(&mut secret[..]);
        Entry { name, secret }
    }

    fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.secret)
    }

    fn uri(&self) -> String {
        format!(
            "otpauth://totp/Crash:{}?secret={}&issuer=Crash",
            self.name,
            self.base32()
        )
    }
}

/// What a profile held after a kill, as found by the checks.
#[derive(Default)]
struct Found {
    /// Account ids in file order.
    accounts: Vec<String>,
    /// Keychain entries no account owns (each reported by `doctor`).
    orphans: BTreeSet<String>,
    /// Temporary files an interrupted write left in the data directory.
    temp_files: usize,
    /// The data directory's entries once the checks ran (`doctor` adds its own files).
    files: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
enum Ending {
    Finished,
    Killed,
}

/// Runs the CLI and sends SIGKILL after `delay` (unless it finished first).
fn run_and_kill(dir: &Path, args: &[&str], delay: Duration) -> Ending {
    let mut child = Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("countersign-cli starts");
    std::thread::sleep(delay);
    // A child that already exited is a zombie until waited for, so this can't hit another
    // process.
    let _ = child.kill();
    let status = child.wait().expect("wait for countersign-cli");
    match status.signal() {
        Some(9) => Ending::Killed,
        _ => {
            assert!(status.success(), "an unkilled run failed: {status}");
            Ending::Finished
        }
    }
}

/// The median wall-clock time of `runs` uninterrupted runs of `command`.
fn median_duration(runs: usize, mut command: impl FnMut(usize)) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let start = Instant::now();
            command(i);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// A kill moment anywhere in the command's run, and a little after it (so some runs finish).
fn kill_delay(rng: &mut StdRng, duration: Duration) -> Duration {
    let span = duration.as_micros() as u64 * 5 / 4;
    Duration::from_micros(rng.gen_range(0..=span))
}

fn succeed(dir: &Path, args: &[&str]) -> String {
    let output = cli(dir, args);
    assert!(
        output.status.success(),
        "countersign-cli {args:?} failed after a kill: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read data dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every check that must hold after a kill. `known` maps account names to what was added
/// under them; `earlier` is what the previous check found in this profile.
fn check_profile(dir: &Path, known: &BTreeMap<String, Entry>, earlier: &Found) -> Found {
    let mut found = Found::default();

    // Nothing new but the store, its lock and the temp file of a write cut short. (Checked
    // before any other command runs, so this is what the killed process left.)
    for name in file_names(dir) {
        match name.as_str() {
            "accounts.json" | "accounts.lock" => {}
            temp if temp.starts_with(".accounts.") && temp.ends_with(".tmp") => {
                found.temp_files += 1;
            }
            other if earlier.files.contains(other) => {}
            other => panic!("unexpected file {other} in the data dir after a kill"),
        }
    }

    // The next run opens the profile (creating the store if the kill came before it).
    let listed = succeed(dir, &["list"]);

    // The file is whole and every account in it is one the test added, unchanged.
    let bytes = std::fs::read(dir.join("accounts.json")).expect("accounts.json after list");
    let store: StoreFile = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("accounts.json does not parse after a kill: {e}"));
    for account in &store.accounts {
        let entry = known
            .get(&account.name)
            .unwrap_or_else(|| panic!("unknown account {:?} in the store", account.name));
        assert_eq!(account.issuer, "Crash");
        assert_eq!(account.otp, OtpParams::totp_default(), "{}", entry.name);
        found.accounts.push(account.id.to_string());
    }
    let unique: BTreeSet<&String> = found.accounts.iter().collect();
    assert_eq!(unique.len(), found.accounts.len(), "an account id twice");
    let listed_ids: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(listed_ids, found.accounts, "list disagrees with the file");

    // Every account has its keychain entry; the other entries of this profile are orphans.
    let service = format!("countersign:{}", store.vault_id);
    let entries: BTreeSet<String> = keychain_users(&service)
        .into_iter()
        .map(|user| {
            user.strip_prefix("otp:")
                .unwrap_or_else(|| panic!("unexpected keychain entry {user}"))
                .to_string()
        })
        .collect();
    for id in &found.accounts {
        assert!(entries.contains(id), "account {id} has no keychain entry");
    }
    found.orphans = entries
        .into_iter()
        .filter(|id| !unique.contains(id))
        .collect();

    // `doctor` reports exactly those orphans, and no account without its secret.
    let doctor = cli(dir, &["doctor"]);
    let report = stdout(&doctor);
    let reported: BTreeSet<String> = report
        .lines()
        .filter_map(|l| l.strip_prefix("orphan\t"))
        .filter_map(|rest| rest.split('\t').next())
        .map(str::to_string)
        .collect();
    assert_eq!(reported, found.orphans, "doctor's orphans:\n{report}");
    assert!(
        !report.lines().any(|l| l.starts_with("secret\t")),
        "doctor found an account without its secret:\n{report}"
    );
    let expected_exit = if found.orphans.is_empty() {
        0
    } else {
        DOCTOR_NEEDS_ACTION
    };
    assert_eq!(
        doctor.status.code(),
        Some(expected_exit),
        "{report}{}",
        stderr(&doctor)
    );

    // Every account's secret reads back from the keychain and is the one it was added with
    // (an export reads them all and fails if one is missing).
    let scratch = tempfile::tempdir().expect("tempdir");
    let export = scratch.path().join("plain.txt");
    let export_arg = export.to_str().expect("UTF-8 temp path");
    succeed(
        dir,
        &[
            "export",
            export_arg,
            "--format",
            "plain",
            "--i-understand-plain-is-unencrypted",
        ],
    );
    let text = std::fs::read_to_string(&export).expect("read export");
    let exported: Vec<OtpAuthUri> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| OtpAuthUri::parse(l).expect("exported URI parses"))
        .collect();
    assert_eq!(exported.len(), found.accounts.len());
    for (uri, account) in exported.iter().zip(&store.accounts) {
        assert_eq!(uri.account_name, account.name);
        assert_eq!(uri.secret.expose(), &known[&account.name].secret[..]);
    }
    found.files = file_names(dir);
    found
}

/// The code `countersign-cli code` prints for account `id` is the RFC 6238 code of `entry`.
fn assert_code(dir: &Path, id: &str, entry: &Entry) {
    let before = unix_now();
    let code = succeed(dir, &["code", id]);
    let after = unix_now();
    assert_totp_between(&entry.secret, code.trim(), before, after);
}

/// The secret a keychain entry holds, decoded from the base32 text the vault stores.
fn entry_secret(dir: &Path, id: &str) -> Vec<u8> {
    let service = format!("countersign:{}", vault_id(dir));
    let text = keychain_secret(&service, &format!("otp:{id}")).expect("orphan entry readable");
    BASE32_NOPAD
        .decode(text.as_bytes())
        .expect("keychain entry is base32")
}

#[derive(Default, Debug)]
struct Tally {
    killed_before_writing: usize,
    left_orphan: usize,
    killed_after_writing: usize,
    finished: usize,
    temp_files: usize,
}

#[test]
fn add_killed_at_random_moments_leaves_a_consistent_store() {
    let mut rng = StdRng::seed_from_u64(0x4144_4443_5241_5348);
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let mut known = BTreeMap::new();

    // How long an add takes here, measured on a profile of its own.
    let scratch = tempfile::tempdir().expect("tempdir");
    let duration = median_duration(5, |i| {
        let entry = Entry::random(format!("timing-{i}"), &mut rng);
        succeed(scratch.path(), &["add", &entry.uri()]);
    });

    let mut tally = Tally::default();
    let mut before = Found::default();
    for trial in 0..TRIALS {
        let entry = Entry::random(format!("add-{trial:02}"), &mut rng);
        known.insert(entry.name.clone(), entry.clone());
        let delay = kill_delay(&mut rng, duration);
        let ending = run_and_kill(dir, &["add", &entry.uri()], delay);

        let after = check_profile(dir, &known, &before);
        tally.temp_files += after.temp_files;
        // A write cleans up what earlier kills left, so at most this run's temp file is here.
        assert!(
            after.temp_files <= 1,
            "trial {trial}: stale temp files pile up"
        );
        // The add either happened or not; earlier accounts stay as they were.
        let added = &after.accounts[before.accounts.len().min(after.accounts.len())..];
        assert_eq!(
            after.accounts[..after.accounts.len() - added.len()],
            before.accounts[..],
            "trial {trial}: earlier accounts changed"
        );
        assert!(added.len() <= 1, "trial {trial}: more than one account");
        let new_orphans: Vec<&String> = after.orphans.difference(&before.orphans).collect();
        assert!(
            before.orphans.is_subset(&after.orphans),
            "trial {trial}: an orphan disappeared without anyone deleting it"
        );
        match (added, new_orphans.as_slice()) {
            ([id], []) => {
                assert_code(dir, id, &entry);
                if ending == Ending::Finished {
                    tally.finished += 1;
                } else {
                    tally.killed_after_writing += 1;
                }
            }
            ([], [orphan]) => {
                assert_eq!(
                    ending,
                    Ending::Killed,
                    "trial {trial}: finished, left orphan"
                );
                assert_eq!(entry_secret(dir, orphan), entry.secret, "trial {trial}");
                tally.left_orphan += 1;
            }
            ([], []) => {
                assert_eq!(
                    ending,
                    Ending::Killed,
                    "trial {trial}: finished, no account"
                );
                tally.killed_before_writing += 1;
            }
            _ => panic!("trial {trial}: an account and an orphan from one add"),
        }
        before = after;
    }
    println!(
        "add: {TRIALS} kills within 0..{:.0} ms (an add takes {:.0} ms here): {tally:?}",
        duration.as_secs_f64() * 1250.0,
        duration.as_secs_f64() * 1000.0
    );
    assert!(
        tally.killed_before_writing + tally.left_orphan + tally.killed_after_writing > 0,
        "no kill landed while the command ran"
    );

    // The profile keeps working after all that.
    let last = Entry::random("after-the-kills".into(), &mut rng);
    known.insert(last.name.clone(), last.clone());
    succeed(dir, &["add", &last.uri()]);
    let found = check_profile(dir, &known, &before);
    assert_eq!(found.accounts.len(), before.accounts.len() + 1);
    assert_eq!(found.temp_files, 0, "a completed add leaves no temp file");
}

#[test]
fn import_killed_at_random_moments_keeps_whole_accounts_in_file_order() {
    let mut rng = StdRng::seed_from_u64(0x494d_504f_5254_4b49);
    let entries: Vec<Entry> = (0..IMPORT_ENTRIES)
        .map(|i| Entry::random(format!("import-{i:02}"), &mut rng))
        .collect();
    let known: BTreeMap<String, Entry> = entries
        .iter()
        .map(|e| (e.name.clone(), e.clone()))
        .collect();
    let files = tempfile::tempdir().expect("tempdir");
    let list = files.path().join("accounts.txt");
    let text: Vec<String> = entries.iter().map(Entry::uri).collect();
    std::fs::write(&list, text.join("\n")).expect("write import file");
    let list_arg = list.to_str().expect("UTF-8 temp path");

    // Each trial imports into a new profile, so kills also land while it is being created.
    let duration = median_duration(3, |_| {
        let scratch = tempfile::tempdir().expect("tempdir");
        succeed(scratch.path(), &["import", list_arg]);
    });

    let mut tally = Tally::default();
    for trial in 0..TRIALS {
        let profile = tempfile::tempdir().expect("tempdir");
        let dir = profile.path();
        let delay = kill_delay(&mut rng, duration);
        let ending = run_and_kill(dir, &["import", list_arg], delay);

        let found = check_profile(dir, &known, &Found::default());
        tally.temp_files += found.temp_files;
        assert!(
            found.temp_files <= 1,
            "trial {trial}: more than one temp file"
        );
        // Entries are added one by one in file order: a prefix of the file made it.
        let imported = found.accounts.len();
        let store: StoreFile =
            serde_json::from_slice(&std::fs::read(dir.join("accounts.json")).expect("read"))
                .expect("parses");
        let names: Vec<&str> = store.accounts.iter().map(|a| a.name.as_str()).collect();
        let prefix: Vec<&str> = entries[..imported]
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, prefix, "trial {trial}: not a prefix of the file");
        if let Some(id) = found.accounts.last() {
            assert_code(dir, id, &entries[imported - 1]);
        }
        // At most the entry after the last whole account got into the keychain alone.
        match found.orphans.iter().collect::<Vec<_>>().as_slice() {
            [] => {}
            [orphan] => {
                assert_eq!(
                    ending,
                    Ending::Killed,
                    "trial {trial}: finished, left orphan"
                );
                let next = entries.get(imported).expect("an orphan from past the end");
                assert_eq!(entry_secret(dir, orphan), next.secret, "trial {trial}");
                tally.left_orphan += 1;
            }
            more => panic!("trial {trial}: {} orphans from one import", more.len()),
        }
        if found.temp_files > 0 {
            // The next write takes the leftover away.
            let extra = Entry::random(format!("after-{trial:02}"), &mut rng);
            succeed(dir, &["add", &extra.uri()]);
            assert!(
                !file_names(dir).iter().any(|n| n.ends_with(".tmp")),
                "trial {trial}: the next write left the stale temp file"
            );
        }
        match ending {
            Ending::Finished => {
                assert_eq!(imported, IMPORT_ENTRIES, "trial {trial}: finished early");
                tally.finished += 1;
            }
            Ending::Killed if imported == 0 && found.orphans.is_empty() => {
                tally.killed_before_writing += 1;
            }
            Ending::Killed => tally.killed_after_writing += 1,
        }
    }
    println!(
        "import of {IMPORT_ENTRIES}: {TRIALS} kills within 0..{:.0} ms (an import takes {:.0} ms \
         here): {tally:?}",
        duration.as_secs_f64() * 1250.0,
        duration.as_secs_f64() * 1000.0
    );
    assert!(
        tally.killed_after_writing + tally.left_orphan > 0,
        "no kill landed between the entries"
    );
}

/// Runs `add -` with the URI on stdin, stopped at crash point `point`; returns whether the
/// process died by abort and what the crash log says.
fn add_stopped_at(dir: &Path, entry: &Entry, point: &str) -> (bool, String) {
    use std::io::Write;
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = log_dir.path().join("crash.log");
    let mut child = Command::new(binary("countersign-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(["add", "-"])
        .env("COUNTERSIGN_CRASH_AT", point)
        .env("COUNTERSIGN_CRASH_LOG", &log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("countersign-cli starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{}\n", entry.uri()).as_bytes())
        .expect("write stdin");
    let status = child.wait().expect("wait");
    const SIGABRT: i32 = 6;
    (
        status.signal() == Some(SIGABRT),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

#[test]
fn every_crash_point_is_reached_and_leaves_a_consistent_store() {
    use countersign_core::crash_point;
    let mut rng = StdRng::seed_from_u64(0x504f_494e_5453);
    for point in crash_point::ALL {
        let profile = tempfile::tempdir().expect("tempdir");
        let dir = profile.path();
        let mut known = BTreeMap::new();
        let first = Entry::random("first".into(), &mut rng);
        known.insert(first.name.clone(), first.clone());
        succeed(dir, &["add", &first.uri()]);
        let before = check_profile(dir, &known, &Found::default());

        let crashed = Entry::random("crashed".into(), &mut rng);
        known.insert(crashed.name.clone(), crashed.clone());
        let (aborted, log) = add_stopped_at(dir, &crashed, point);
        assert!(aborted, "{point}: the add was not stopped there");
        assert_eq!(
            log.trim(),
            point,
            "{point}: the point was not reached first"
        );

        let after = check_profile(dir, &known, &before);
        let new_orphans: Vec<&String> = after.orphans.difference(&before.orphans).collect();
        if point == "after-rename" {
            // The new file is in place: the account is whole.
            assert_eq!(after.accounts.len(), 2, "{point}");
            assert!(new_orphans.is_empty(), "{point}: {new_orphans:?}");
            assert_code(dir, &after.accounts[1], &crashed);
        } else {
            // The old file stands; the secret already written is reported, not lost.
            assert_eq!(after.accounts, before.accounts, "{point}");
            assert_eq!(new_orphans.len(), 1, "{point}: {new_orphans:?}");
            assert_eq!(entry_secret(dir, new_orphans[0]), crashed.secret, "{point}");
        }
        let left_temp = matches!(point, "temp-file-written" | "before-rename");
        assert_eq!(after.temp_files, usize::from(left_temp), "{point}");

        // The next write clears what the crash left, and the first account still works.
        let next = Entry::random("next".into(), &mut rng);
        known.insert(next.name.clone(), next.clone());
        succeed(dir, &["add", &next.uri()]);
        let last = check_profile(dir, &known, &after);
        assert_eq!(last.temp_files, 0, "{point}");
        assert_code(dir, &last.accounts[0], &first);
    }
}

#[test]
fn the_app_and_the_cli_adding_at_once_lose_nothing() {
    use countersign_core::profile::Profile;
    use countersign_core::vault::Vault;
    const EACH: usize = 12;
    let mut rng = StdRng::seed_from_u64(0x5457_4f57);
    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path().to_path_buf();
    succeed(&dir, &["list"]);
    let by_cli: Vec<Entry> = (0..EACH)
        .map(|i| Entry::random(format!("cli-{i:02}"), &mut rng))
        .collect();
    let by_app: Vec<Entry> = (0..EACH)
        .map(|i| Entry::random(format!("app-{i:02}"), &mut rng))
        .collect();

    // The CLI in its own processes, one add after another...
    let cli_dir = dir.clone();
    let cli_entries = by_cli.clone();
    let cli_side = std::thread::spawn(move || {
        for entry in &cli_entries {
            succeed(&cli_dir, &["add", &entry.uri()]);
        }
    });
    // ...while the app's vault (the core, as the window uses it) adds its own.
    let vault = Vault::open(&Profile::at(&dir)).expect("vault");
    for entry in &by_app {
        vault.add_uri(&entry.uri()).expect("app add");
    }
    cli_side.join().expect("cli side");

    let known: BTreeMap<String, Entry> = by_cli
        .iter()
        .chain(&by_app)
        .map(|e| (e.name.clone(), e.clone()))
        .collect();
    let found = check_profile(&dir, &known, &Found::default());
    assert_eq!(found.accounts.len(), 2 * EACH, "an add was lost");
    assert!(found.orphans.is_empty(), "{:?}", found.orphans);
    // The app's open vault sees the CLI's accounts too.
    assert_eq!(vault.accounts().expect("accounts").len(), 2 * EACH);
}
