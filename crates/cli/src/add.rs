//! `countersign-cli add`: an account from a URI or a typed setup key, with the secret read
//! from standard input (see `stdin.rs`).

use clap::{Args, ValueEnum};
use countersign_core::account::Account;
use countersign_core::manual_entry::ManualEntry;
use countersign_core::otp::{Algorithm, OtpKind, OtpParams};
use countersign_core::otpauth::OtpAuthUri;
use countersign_core::vault::Vault;
use countersign_core::{Error, Result};

use crate::stdin::read_secret_line;

#[derive(Args)]
pub struct AddArgs {
    /// `-` to read an otpauth:// URI from standard input (or a URI, which puts the secret
    /// in argv). Leave out and give --name to type a setup key instead.
    #[arg(required_unless_present = "name", conflicts_with = "name")]
    uri: Option<String>,
    /// The service, e.g. "GitHub".
    #[arg(long)]
    issuer: Option<String>,
    /// The account at the service, e.g. "alice@example.com". The key is read from
    /// standard input.
    #[arg(long)]
    name: Option<String>,
    /// The key is hexadecimal, not base32.
    #[arg(long, requires = "name")]
    hex: bool,
    #[arg(long = "type", value_enum, default_value_t = KindArg::Totp, requires = "name")]
    kind: KindArg,
    #[arg(long, value_enum, requires = "name")]
    algorithm: Option<AlgorithmArg>,
    /// Code length (TOTP/HOTP: 6 to 8).
    #[arg(long, requires = "name")]
    digits: Option<u8>,
    /// Seconds per code (TOTP).
    #[arg(long, requires = "name")]
    period: Option<u32>,
    /// Counter of the next code (HOTP).
    #[arg(long, requires = "name")]
    counter: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Totp,
    Hotp,
    Steam,
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgorithmArg {
    Sha1,
    Sha256,
    Sha512,
}

pub fn run(vault: &Vault, args: AddArgs) -> Result<Account> {
    match (&args.uri, &args.name) {
        (Some(uri), _) if uri == "-" => {
            let uri = read_secret_line("otpauth:// URI: ")?;
            vault.add_uri(&uri)
        }
        (Some(uri), _) => vault.add_uri(uri),
        (None, Some(name)) => vault.add(typed_account(&args, name)?),
        (None, None) => Err(Error::InvalidAccount {
            field: "name",
            reason: "give a URI, or --name and the key on standard input".into(),
        }),
    }
}

fn typed_account(args: &AddArgs, name: &str) -> Result<OtpAuthUri> {
    let mut params = match args.kind {
        KindArg::Totp => OtpParams::totp_default(),
        KindArg::Hotp => OtpParams::hotp(0),
        KindArg::Steam => OtpParams::steam(),
    };
    if let Some(algorithm) = args.algorithm {
        params.algorithm = match algorithm {
            AlgorithmArg::Sha1 => Algorithm::Sha1,
            AlgorithmArg::Sha256 => Algorithm::Sha256,
            AlgorithmArg::Sha512 => Algorithm::Sha512,
        };
    }
    params.digits = args.digits.unwrap_or(params.digits);
    params.period = args.period.unwrap_or(params.period);
    if let Some(counter) = args.counter {
        if params.kind != OtpKind::Hotp {
            return Err(Error::InvalidAccount {
                field: "counter",
                reason: "a counter is only used by --type hotp".into(),
            });
        }
        params.counter = counter;
    }
    // Checked before the key is asked for, so a typo costs no retyping.
    params.validate()?;
    let entry = ManualEntry {
        issuer: args.issuer.clone().unwrap_or_default(),
        name: name.to_string(),
        secret: read_secret_line("Setup key: ")?.to_string(),
        hex: args.hex,
        params,
    };
    // The first problem, as `error[invalid_account]: invalid FIELD: reason`.
    entry.to_uri()
}
