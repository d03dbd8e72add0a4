//! `countersign-cli`: the core's features for people without a display, and for scripts.
//! Output on stdout is meant to be parsed (one item per line); errors go to stderr as
//! `error[<code>]: <message>` with exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;

mod add;
mod doctor;
mod push;
mod scan;
mod stdin;
mod transfer;

use clap::{Parser, Subcommand};
use countersign_core::profile::{DATA_DIR_ENV, Profile};
use countersign_core::vault::{Vault, unix_now};
use countersign_core::{Error, Result};

#[derive(Parser)]
#[command(
    name = "countersign-cli",
    version,
    about = "Countersign authenticator on the command line"
)]
struct Cli {
    /// Profile directory (default: the platform's application data directory).
    #[arg(long, global = true, env = DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add an account: `add -` reads an otpauth:// URI from standard input; `add --issuer I
    /// --name N` reads the setup key (base32, or hex with --hex) from standard input, or
    /// asks for it on a terminal. A URI given as an argument also works, but argv is
    /// visible to every process on the machine.
    Add(add::AddArgs),
    /// List accounts: id, issuer, name (tab-separated), or JSON with --json.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the current code of an account (by id, "issuer:name", issuer or name).
    Code {
        account: String,
        /// HOTP: advance the counter and print the next code (each code is used once).
        #[arg(long)]
        next: bool,
    },
    /// Delete an account and its secret.
    Delete { account: String },
    /// This machine as a Verify push factor: enroll, list, answer challenges.
    Push(push::PushArgs),
    /// Import accounts from another authenticator's export or a Countersign backup.
    Import(transfer::ImportArgs),
    /// Export every account: an encrypted backup, an Aegis vault, or plain otpauth:// links.
    Export(transfer::ExportArgs),
    /// Print every QR code payload found in images, on screen (--screen) or on the clipboard.
    Scan(scan::ScanArgs),
    /// Check every push factor and account secret, say why any is broken and what to do.
    /// Exit status: 0 healthy, 2 needs action, 3 keychain locked or unavailable, 4 some
    /// factors could not be checked (server unreachable), 1 doctor failed.
    Doctor(doctor::DoctorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Scanning needs no profile or keychain, so it runs before they are opened.
    let cli = match cli.command {
        Command::Scan(args) => return scan::run(args),
        // Doctor reports a locked keychain instead of failing on it, so it opens the vault
        // itself.
        Command::Doctor(args) => return doctor::run(cli.data_dir, args),
        command => Cli { command, ..cli },
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error[{}]: {err}", err.code());
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let profile = Profile::resolve(cli.data_dir)?;
    let vault = Vault::open(&profile)?;
    match cli.command {
        Command::Add(args) => {
            let account = add::run(&vault, args)?;
            println!("{}\t{}", account.id, account.display_name());
        }
        Command::List { json } => {
            let accounts = vault.accounts()?;
            if json {
                let text = serde_json::to_string_pretty(&accounts).map_err(|e| Error::Io {
                    path: "stdout".into(),
                    source: std::io::Error::other(e),
                })?;
                println!("{text}");
            } else {
                for account in accounts {
                    println!("{}\t{}\t{}", account.id, account.issuer, account.name);
                }
            }
        }
        Command::Code { account, next } => {
            let account = vault.find(&account)?;
            let code = if next {
                vault.next_hotp(account.id)?
            } else {
                vault.code(account.id, unix_now())?
            };
            println!("{}", code.code);
        }
        Command::Delete { account } => {
            let account = vault.find(&account)?;
            vault.delete(account.id)?;
            println!("deleted\t{}\t{}", account.id, account.display_name());
        }
        Command::Push(args) => push::run(&profile, args)?,
        Command::Import(args) => transfer::import(&vault, args)?,
        Command::Export(args) => transfer::export(&vault, args)?,
        Command::Scan(_) | Command::Doctor(_) => {
            unreachable!("handled in main before the vault is opened")
        }
    }
    Ok(())
}
