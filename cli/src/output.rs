//! How every subcommand ends: its result as one JSON document (`--json`) or as text, and
//! the exit code of the CLI contract, the same way in each; and how anything reaches stdout
//! and stderr.
//!
//! Exit codes: 0 the run passed (every property holds, the operation succeeded), 1 it did
//! not or its input was bad, 2 bad usage, 3 incomplete (a budget stopped the run before a
//! verdict). A JSON document is always pretty-printed.
//!
//! **Closed pipes.** Everything the CLI prints goes through [`out!`] / [`outln!`] /
//! [`write_stdout`] (stdout) and [`note`] (stderr), never `println!` (the crate denies
//! `clippy::print_stdout` and `print_stderr`): `println!` panics (exit 101) when the reader
//! has gone, as in `kgroup demo | head -1`. Here a closed pipe (`BrokenPipe`) makes the
//! rest of the output be dropped quietly, and the run still ends with its own exit code.
//! That is chosen over resetting SIGPIPE to its default action, which would end the
//! process by the signal: the shell would see 141 instead of the verdict (a script with
//! `set -o pipefail` could not tell a failing property from a closed pipe), it would need
//! `libc` and `unsafe`, and `live` writes to sockets, where a stray SIGPIPE would kill
//! the run instead of giving an error. Any other failure to write stdout (a full disk) is
//! one line on stderr and exit 1.

use std::fmt::{self, Display};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::Serialize;

/// Error lines are cut to this many characters (a 50 MB TOML value must not become 150 MB
/// of error text).
pub const MAX_LINE: usize = 300;

const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const FAILED: u8 = 2;

/// What became of stdout: still open, closed by its reader, or failed otherwise.
static STDOUT: AtomicU8 = AtomicU8::new(OPEN);

fn stdout_result(r: io::Result<()>) {
    if let Err(e) = r {
        if e.kind() == io::ErrorKind::BrokenPipe {
            STDOUT.store(CLOSED, Ordering::Relaxed);
        } else if STDOUT.swap(FAILED, Ordering::Relaxed) == OPEN {
            note(format_args!("kgroup: cannot write stdout: {e}"));
        }
    }
}

/// Writes formatted text to stdout (see the module's note on closed pipes).
pub fn print(args: fmt::Arguments<'_>) {
    if STDOUT.load(Ordering::Relaxed) != OPEN {
        return;
    }
    stdout_result(io::stdout().lock().write_fmt(args));
}

/// Writes bytes to stdout and flushes them (see the module's note on closed pipes).
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut out = io::stdout().lock();
    stdout_result(out.write_all(bytes).and_then(|()| out.flush()));
}

/// `print!` through [`print`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

/// `println!` through [`print`].
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};

/// One line on stderr, cut to [`MAX_LINE`] characters; a failure to write it is ignored
/// (there is nowhere left to say so).
pub fn note(msg: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{}", one_line(msg));
}

/// `msg` as one line of at most [`MAX_LINE`] characters: control characters (newlines
/// included) become spaces, and a longer text is cut with "…".
pub fn one_line(msg: impl Display) -> String {
    let text = msg.to_string();
    let head: Vec<char> = text.chars().take(MAX_LINE + 1).collect();
    let keep = if head.len() > MAX_LINE {
        MAX_LINE - 1
    } else {
        head.len()
    };
    let mut line: String = head[..keep]
        .iter()
        .map(|&c| if c.is_control() { ' ' } else { c })
        .collect();
    if keep < head.len() {
        line.push('…');
    }
    line
}

/// The exit code after the output: a failed stdout turns success into 1.
fn code(code: u8) -> ExitCode {
    if STDOUT.load(Ordering::Relaxed) == FAILED && code == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::from(code)
    }
}

/// Prints `value` as JSON when `json`, else runs `text`; exits 0 when `passed`, else 1.
/// A value that cannot be encoded is one line on stderr and exit 1.
pub fn finish<T: Serialize + ?Sized>(
    cmd: &str,
    json: bool,
    value: &T,
    passed: bool,
    text: impl FnOnce(),
) -> ExitCode {
    finish_with(cmd, json, value, if passed { 0 } else { 1 }, text)
}

/// [`finish`] with an explicit exit code (3: incomplete).
pub fn finish_with<T: Serialize + ?Sized>(
    cmd: &str,
    json: bool,
    value: &T,
    exit: u8,
    text: impl FnOnce(),
) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => outln!("{s}"),
            Err(e) => return failed(cmd, format_args!("cannot encode the result: {e}")),
        }
    } else {
        text();
    }
    code(exit)
}

/// Bad usage (flags that cannot work together, a value out of range): one line, exit 2.
pub fn usage(cmd: &str, msg: impl Display) -> ExitCode {
    note(format_args!("kgroup {cmd}: {msg}"));
    ExitCode::from(2)
}

/// The run could not be done (bad input, a failed operation): one line, exit 1.
pub fn failed(cmd: &str, msg: impl Display) -> ExitCode {
    note(format_args!("kgroup {cmd}: {msg}"));
    ExitCode::from(1)
}

/// The run ended without output to give (raw bytes written): 0, or 1 if stdout failed.
pub fn done() -> ExitCode {
    code(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_cuts_and_flattens() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        let exact = "x".repeat(MAX_LINE);
        assert_eq!(one_line(&exact), exact);
        let long = one_line("y".repeat(10 * MAX_LINE));
        assert_eq!(long.chars().count(), MAX_LINE);
        assert!(long.ends_with('…'));
    }
}
