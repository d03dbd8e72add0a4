//! `countersign-cli push …`: this machine as a Verify push factor, from a terminal.
//! Output is one tab-separated line per item (or JSON with `--json`); the core does the work
//! on a tokio current-thread runtime owned by this module.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use countersign_core::profile::Profile;
use countersign_core::push::{
    Decision, EnrollLink, Enrollment, OldFactorFate, PushManager, ReplacementOutcome,
    ShownChallenge,
};
use countersign_core::verify::Challenge;
use countersign_core::{Error, Result};

/// Environment variable naming the extra CA to trust (a local verify-server's `ca.pem`).
pub const CA_ENV: &str = "COUNTERSIGN_VERIFY_CA";

#[derive(Args)]
pub struct PushArgs {
    /// PEM file of an extra CA to trust for the Verify server (a local verify-server's ca.pem).
    #[arg(long, global = true, env = CA_ENV, value_name = "FILE")]
    ca: Option<PathBuf>,

    #[command(subcommand)]
    command: PushCommand,
}

#[derive(Subcommand)]
enum PushCommand {
    /// Enroll this machine from a countersign://enroll link; `-` reads it from standard
    /// input, which keeps its access token out of argv (visible to every local process).
    Enroll { link: String },
    /// List enrollments: id, state, factor SID, identity, name, server.
    List {
        #[arg(long)]
        json: bool,
    },
    /// List pending challenges: SID, enrollment id, expiry, message.
    Challenges {
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending challenge.
    Approve {
        challenge: String,
        /// The enrollment (id, factor SID or name); by default the one the challenge is for.
        #[arg(long)]
        enrollment: Option<String>,
    },
    /// Deny a pending challenge.
    Deny {
        challenge: String,
        #[arg(long)]
        enrollment: Option<String>,
    },
    /// Rename an enrollment (by id, factor SID or name), here and on the server.
    Rename { enrollment: String, name: String },
    /// Remove an enrollment (by id, factor SID or name): server factor, then key and record.
    Remove {
        enrollment: String,
        /// Only forget it here, without asking the server (for a server that is gone).
        #[arg(long)]
        local_only: bool,
    },
    /// Delete a push key no enrollment uses (as listed at start-up). A copy of this profile
    /// elsewhere may still use it: delete only keys you know are left over.
    DeleteOrphan { key: uuid::Uuid },
    /// Challenges answered or expired in the last days.
    History {
        #[arg(long)]
        json: bool,
    },
    /// Replace an enrollment (by id, factor SID or name) with a new one from LINK. Once the
    /// new factor is verified the old one is deleted on the server, or, when its key is lost,
    /// kept as `retired` with a note that the service must remove it.
    Reenroll {
        enrollment: String,
        /// A new countersign://enroll link from the same service, for the same user (`-`:
        /// read from standard input).
        #[arg(required_unless_present = "cancel")]
        link: Option<String>,
        /// Cancel the unfinished re-enrollment of ENROLLMENT instead (the old one is kept).
        #[arg(long, conflicts_with = "link")]
        cancel: bool,
    },
}

/// The CLI's single-threaded runtime for the network calls of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })
}

pub fn run(profile: &Profile, args: PushArgs) -> Result<()> {
    // The keychain blocks on D-Bus; open it before the runtime starts.
    let manager = PushManager::open(profile)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        // Every start finishes or undoes what an interrupted run left behind.
        resume(&manager).await?;
        run_command(&manager, args).await
    })
}

/// Finishes or undoes interrupted enrollments, removals and re-enrollments, saying what was
/// done on stderr (stdout stays the command's own output).
pub async fn resume(manager: &PushManager) -> Result<()> {
    let report = manager.resume_pending().await?;
    for (id, reason) in &report.abandoned {
        eprintln!("warning: enrollment {id} was cleaned up: {reason}");
    }
    for (id, err) in &report.still_pending {
        eprintln!(
            "warning[{}]: enrollment {id} is still pending: {err}",
            err.code()
        );
    }
    for id in &report.orphaned_keys {
        eprintln!(
            "note: the keychain holds a push key ({id}) that no enrollment of this profile uses \
             (left by an interrupted removal, or used by a copy of this profile). It is kept; \
             `countersign-cli push delete-orphan {id}` deletes it."
        );
    }
    for replaced in &report.replaced {
        eprintln!(
            "note: an interrupted re-enrollment was finished ({} replaced {})",
            replaced.new_id, replaced.old_id
        );
        explain_old_factor(replaced);
    }
    Ok(())
}

/// Tells the user what became of a replaced factor, when there is something to know.
fn explain_old_factor(replaced: &ReplacementOutcome) {
    let sid = replaced.old_factor_sid.as_deref().unwrap_or("-");
    match replaced.fate {
        OldFactorFate::ServiceMustRemove => eprintln!(
            "note: this computer no longer has the key of the old factor {sid}, so it could not \
             delete it: the service must remove factor {sid} (identity {}, service {}). Then \
             dismiss it here with `countersign-cli push remove {}`.",
            replaced.identity, replaced.service_sid, replaced.old_id
        ),
        OldFactorFate::FinishLater => eprintln!(
            "warning: the old factor {sid} is not deleted yet ({}); the next countersign-cli \
             push or doctor command finishes it",
            replaced.detail.as_deref().unwrap_or("will retry")
        ),
        OldFactorFate::DeletedOnServer | OldFactorFate::AlreadyGoneOnServer => {}
    }
}

/// The link given, or for `-` the one on standard input.
fn read_link(argument: &str) -> Result<EnrollLink> {
    if argument == "-" {
        let text = crate::stdin::read_secret_line("Enrollment link: ")?;
        return EnrollLink::parse(&text);
    }
    EnrollLink::parse(argument)
}

fn read_ca(ca: &Option<PathBuf>) -> Result<Option<String>> {
    match ca {
        Some(path) => std::fs::read_to_string(path)
            .map(Some)
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            }),
        None => Ok(None),
    }
}

async fn run_command(manager: &PushManager, args: PushArgs) -> Result<()> {
    match args.command {
        PushCommand::Enroll { link } => {
            let link = read_link(&link)?;
            let ca = read_ca(&args.ca)?;
            let enrollment = manager.enroll(&link, ca).await?;
            println!(
                "enrolled\t{}\t{}\t{}",
                enrollment.id,
                enrollment.factor_sid.as_deref().unwrap_or("-"),
                enrollment.friendly_name
            );
        }
        PushCommand::List { json } => {
            let enrollments = manager.enrollments()?;
            if json {
                print_json(&enrollments)?;
            } else {
                for e in enrollments {
                    print_enrollment(&e);
                }
            }
        }
        PushCommand::Challenges { json } => {
            let list = manager.pending_challenges().await?;
            for (id, err) in &list.failures {
                eprintln!("warning[{}]: enrollment {id}: {err}", err.code());
            }
            if json {
                print_json(&list.challenges)?;
            } else {
                for pending in list.challenges {
                    let c = &pending.challenge;
                    println!(
                        "{}\t{}\t{}\t{}",
                        c.sid,
                        pending.enrollment_id,
                        c.expiration_date,
                        c.details.message.replace(['\t', '\n'], " ")
                    );
                }
            }
        }
        PushCommand::Approve {
            challenge,
            enrollment,
        } => {
            answer(
                manager,
                &challenge,
                enrollment.as_deref(),
                Decision::Approve,
            )
            .await?
        }
        PushCommand::Deny {
            challenge,
            enrollment,
        } => answer(manager, &challenge, enrollment.as_deref(), Decision::Deny).await?,
        PushCommand::Rename { enrollment, name } => {
            let found = manager.find(&enrollment)?;
            let renamed = manager.rename(found.id, &name).await?;
            println!("renamed\t{}\t{}", renamed.id, renamed.friendly_name);
        }
        PushCommand::Remove {
            enrollment,
            local_only,
        } => {
            let found = manager.find(&enrollment)?;
            if local_only {
                let e = manager.forget(found.id).await?;
                println!("forgotten\t{}\t{}", e.id, e.friendly_name);
            } else {
                let removed = manager.remove(found.id).await?;
                println!(
                    "removed\t{}\t{}\t{}",
                    removed.enrollment.id,
                    removed.enrollment.friendly_name,
                    if removed.server_factor_deleted {
                        "server-deleted"
                    } else {
                        "server-already-gone"
                    }
                );
            }
        }
        PushCommand::Reenroll {
            enrollment,
            link,
            cancel,
        } => {
            let old = manager.find(&enrollment)?;
            if cancel {
                let kept = manager.cancel_reenrollment(old.id).await?;
                println!("cancelled\t{}", old.replaced_by.unwrap_or(old.id));
                println!("kept\t{}\t{}", kept.id, kept.friendly_name);
                return Ok(());
            }
            let link = read_link(link.as_deref().unwrap_or_default())?;
            let ca = read_ca(&args.ca)?;
            let done = manager.reenroll(old.id, &link, ca).await?;
            println!(
                "reenrolled\t{}\t{}\t{}",
                done.enrollment.id,
                done.enrollment.factor_sid.as_deref().unwrap_or("-"),
                done.enrollment.friendly_name
            );
            let replaced = &done.replaced;
            println!(
                "old\t{}\t{}\t{}",
                replaced.old_id,
                replaced.fate.as_str(),
                replaced.old_factor_sid.as_deref().unwrap_or("-")
            );
            explain_old_factor(replaced);
        }
        PushCommand::DeleteOrphan { key } => {
            let deleted = manager.delete_orphaned_key(key).await?;
            println!("{}\t{key}", if deleted { "deleted" } else { "absent" });
        }
        PushCommand::History { json } => {
            let history = manager.history()?;
            if json {
                print_json(&history)?;
            } else {
                for h in history {
                    println!(
                        "{}\t{}\t{}\t{}",
                        h.challenge_sid,
                        h.status,
                        h.date_created,
                        h.message.replace(['\t', '\n'], " ")
                    );
                }
            }
        }
    }
    Ok(())
}

async fn answer(
    manager: &PushManager,
    challenge_sid: &str,
    enrollment: Option<&str>,
    decision: Decision,
) -> Result<()> {
    let enrollment_id = enrollment.map(|query| manager.find(query)).transpose()?;
    let (enrollment_id, found) = manager
        .find_challenge(challenge_sid, enrollment_id.map(|e| e.id))
        .await?;
    // What is signed is what is printed here: the answer is refused if the server's copy
    // changes in between. (One that is no longer pending is refused anyway.)
    if found.is_pending() {
        eprintln!("{}", describe_challenge(&found));
    }
    let challenge = manager
        .answer(enrollment_id, &ShownChallenge::from(&found), decision)
        .await?;
    println!("{}\t{}", challenge.status, challenge.sid);
    Ok(())
}

fn describe_challenge(challenge: &Challenge) -> String {
    let mut text = format!(
        "{}: {}",
        challenge.sid,
        one_line(&challenge.details.message)
    );
    for field in &challenge.details.fields {
        text.push_str(&format!(
            "\n  {}: {}",
            one_line(&field.label),
            one_line(&field.value)
        ));
    }
    text
}

/// Server text on one line, without control characters that could rewrite the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn print_enrollment(e: &Enrollment) {
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        e.id,
        e.state.as_str(),
        e.factor_sid.as_deref().unwrap_or("-"),
        e.identity,
        e.friendly_name,
        e.server.base_url
    );
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        path: "stdout".into(),
        source: std::io::Error::other(e),
    })?;
    println!("{text}");
    Ok(())
}
