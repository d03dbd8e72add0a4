//! `countersign-cli push …`: this machine as a Verify push factor, from a terminal.
//! Output is one tab-separated line per item (or JSON with `--json`); the core does the work
//! on a tokio current-thread runtime owned by this module.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use countersign_core::profile::Profile;
use countersign_core::push::{Decision, EnrollLink, Enrollment, PushManager};
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
    /// Enroll this machine from a countersign://enroll link.
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
    /// Remove an enrollment (by id, factor SID or name): server factor, then key and record.
    Remove {
        enrollment: String,
        /// Only forget it here, without asking the server (for a server that is gone).
        #[arg(long)]
        local_only: bool,
    },
    /// Challenges answered or expired in the last days.
    History {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(profile: &Profile, args: PushArgs) -> Result<()> {
    // The keychain blocks on D-Bus; open it before the runtime starts.
    let manager = PushManager::open(profile)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    runtime.block_on(async {
        // Every start finishes or undoes what an interrupted run left behind.
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
        run_command(&manager, args).await
    })
}

async fn run_command(manager: &PushManager, args: PushArgs) -> Result<()> {
    match args.command {
        PushCommand::Enroll { link } => {
            let link = EnrollLink::parse(&link)?;
            let ca = match &args.ca {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|source| Error::Io {
                    path: path.display().to_string(),
                    source,
                })?),
                None => None,
            };
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
    let challenge = match enrollment {
        Some(query) => {
            let enrollment = manager.find(query)?;
            manager
                .answer(enrollment.id, challenge_sid, decision)
                .await?
        }
        None => manager.answer_any(challenge_sid, decision).await?,
    };
    println!("{}\t{}", challenge.status, challenge.sid);
    Ok(())
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
