//! Secrets and links come in on standard input, never as arguments: argv is readable by
//! every process of the machine (`/proc/PID/cmdline`) and lands in shell history.

use std::io::{BufRead, IsTerminal, Read};

use countersign_core::{Error, Result};
use zeroize::Zeroizing;

/// Longest line read: far more than any key, link or password, small enough that a
/// mistaken `< big-file` fails fast instead of filling memory.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// The first line of standard input without its line ending. On a terminal, `prompt` is
/// shown on standard error and the typing is not echoed.
pub fn read_secret_line(prompt: &str) -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(stdin_error);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(MAX_LINE_BYTES)
        .read_line(&mut line)
        .map_err(stdin_error)?;
    if line.len() as u64 >= MAX_LINE_BYTES && !line.ends_with('\n') {
        return Err(stdin_error(std::io::Error::other(format!(
            "the first line is longer than {MAX_LINE_BYTES} bytes"
        ))));
    }
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    Ok(line)
}

fn stdin_error(source: std::io::Error) -> Error {
    Error::Io {
        path: "standard input".into(),
        source,
    }
}
