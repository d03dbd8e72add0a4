//! `countersign-cli doctor`: is every push factor and every account still usable, and if
//! not, why and what to do. Finishes interrupted enrollments and re-enrollments first, as
//! every `push` command does.
//!
//! Output (tab-separated, one item per line; `--json` prints the core's `HealthSummary`):
//!   keychain  <ok|locked|unavailable>  [reason]
//!   push      <enrollment id>  <code>  <factor SID|->  <name>  <cause>  <next step>
//!   secret    <account id>  secret_missing  <issuer>  <name>  <cause>  <next step>
//!   orphan    <keychain entry id>  orphaned_secret  <cause>  <next step>
//!   verdict   <healthy|unchecked|needs_action|keychain_blocked>
//!
//! Exit status: 0 healthy; 1 doctor itself failed (`error[<code>]` on stderr); 2 something
//! needs your action; 3 the keychain is locked or unavailable (nothing could be checked);
//! 4 some factors could not be checked (server unreachable), nothing else is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use countersign_core::health::{HealthSummary, KeychainHealth, Verdict};
use countersign_core::profile::Profile;
use countersign_core::push::PushManager;
use countersign_core::vault::Vault;
use countersign_core::{Error, Result};

pub const EXIT_NEEDS_ACTION: u8 = 2;
pub const EXIT_KEYCHAIN_BLOCKED: u8 = 3;
pub const EXIT_UNCHECKED: u8 = 4;

#[derive(Args)]
pub struct DoctorArgs {
    /// Print the whole health summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(data_dir: Option<PathBuf>, args: DoctorArgs) -> ExitCode {
    match diagnose(data_dir) {
        Ok(summary) => match print(&summary, args.json) {
            Ok(()) => exit_code(summary.verdict),
            Err(err) => fail(&err),
        },
        Err(err) => fail(&err),
    }
}

fn fail(err: &Error) -> ExitCode {
    eprintln!("error[{}]: {err}", err.code());
    ExitCode::FAILURE
}

fn exit_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Healthy => ExitCode::SUCCESS,
        Verdict::NeedsAction => ExitCode::from(EXIT_NEEDS_ACTION),
        Verdict::KeychainBlocked => ExitCode::from(EXIT_KEYCHAIN_BLOCKED),
        Verdict::Unchecked => ExitCode::from(EXIT_UNCHECKED),
    }
}

fn diagnose(data_dir: Option<PathBuf>) -> Result<HealthSummary> {
    let profile = Profile::resolve(data_dir)?;
    // A locked keychain is reported, not treated as a failure of doctor: the metadata alone
    // says which factors are waiting for it.
    let blocked = |err: Error| match HealthSummary::keychain_blocked(&profile, &err)? {
        Some(summary) => Ok(summary),
        None => Err(err),
    };
    let vault = match Vault::open(&profile) {
        Ok(vault) => vault,
        Err(err) => return blocked(err),
    };
    // Keychain calls block on D-Bus: done before the runtime starts.
    let secrets = match vault.secret_health() {
        Ok(secrets) => secrets,
        Err(err) => return blocked(err),
    };
    let manager = match PushManager::open(&profile) {
        Ok(manager) => manager,
        Err(err) => return blocked(err),
    };
    let runtime = crate::push::runtime()?;
    let factors = runtime.block_on(async {
        crate::push::resume(&manager).await?;
        manager.check_all().await
    });
    let factors = match factors {
        Ok(factors) => factors,
        Err(err) => return blocked(err),
    };
    Ok(HealthSummary::new(factors, secrets))
}

fn print(summary: &HealthSummary, json: bool) -> Result<()> {
    if json {
        let text = serde_json::to_string_pretty(summary).map_err(|e| Error::Io {
            path: "stdout".into(),
            source: std::io::Error::other(e),
        })?;
        println!("{text}");
        return Ok(());
    }
    match &summary.keychain {
        KeychainHealth::Ok => println!("keychain\tok"),
        KeychainHealth::Locked { reason } => println!("keychain\tlocked\t{}", clean(reason)),
        KeychainHealth::Unavailable { reason } => {
            println!("keychain\tunavailable\t{}", clean(reason))
        }
    }
    for r in &summary.factors {
        println!(
            "push\t{}\t{}\t{}\t{}\t{}\t{}",
            r.enrollment_id,
            r.code,
            r.factor_sid.as_deref().unwrap_or("-"),
            clean(&r.friendly_name),
            clean(&r.cause),
            clean(&r.next_step)
        );
    }
    for m in &summary.secrets.missing {
        println!(
            "secret\t{}\t{}\t{}\t{}\t{}\t{}",
            m.account_id,
            m.code,
            clean(&m.issuer),
            clean(&m.name),
            clean(&m.cause),
            m.next_step
        );
    }
    for o in &summary.secrets.orphaned {
        println!("orphan\t{}\t{}\t{}\t{}", o.id, o.code, o.cause, o.next_step);
    }
    let verdict = match summary.verdict {
        Verdict::Healthy => "healthy",
        Verdict::Unchecked => "unchecked",
        Verdict::NeedsAction => "needs_action",
        Verdict::KeychainBlocked => "keychain_blocked",
    };
    println!("verdict\t{verdict}");
    Ok(())
}

/// One field per column: no tabs or line breaks from names or server messages.
fn clean(text: &str) -> String {
    text.replace(['\t', '\n'], " ")
}
