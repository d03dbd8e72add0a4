//! `countersign-cli scan`: print every QR payload found in images, on screen or on the
//! clipboard, one per line, for piping into `add` or `import`. Needs no profile or keychain.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Image files to scan (PNG, JPEG, WebP, GIF, BMP).
    #[arg(value_name = "IMAGE", required_unless_present_any = ["screen", "clipboard"])]
    images: Vec<PathBuf>,
    /// Scan every monitor (on Wayland the desktop may ask for permission).
    #[arg(long)]
    screen: bool,
    /// Scan the image on the clipboard.
    #[arg(long)]
    clipboard: bool,
}

/// Scans every source given; a source that fails is reported on stderr and the others are
/// still scanned. Exit status 1 if any failed.
pub fn run(args: ScanArgs) -> ExitCode {
    let mut results: Vec<countersign_qr::Result<Vec<String>>> =
        args.images.iter().map(countersign_qr::scan_file).collect();
    if args.screen {
        results.push(countersign_qr::scan_screens());
    }
    if args.clipboard {
        results.push(countersign_qr::scan_clipboard());
    }

    let mut printed: Vec<String> = Vec::new();
    let mut failed = false;
    for result in results {
        match result {
            Ok(payloads) => {
                for payload in payloads {
                    if !printed.contains(&payload) {
                        println!("{payload}");
                        printed.push(payload);
                    }
                }
            }
            Err(err) => {
                eprintln!("error[{}]: {err}", err.code());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
