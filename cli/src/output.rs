//! How every subcommand ends: its result as one JSON document (`--json`) or as text, and
//! the exit code of the CLI contract, the same way in each.
//!
//! Exit codes: 0 the run passed (every property holds, the operation succeeded), 1 it did
//! not or its input was bad, 2 bad usage. A JSON document is always pretty-printed.

use std::fmt::Display;
use std::process::ExitCode;

use serde::Serialize;

/// Prints `value` as JSON when `json`, else runs `text`; exits 0 when `passed`, else 1.
/// A value that cannot be encoded is one line on stderr and exit 1.
pub fn finish<T: Serialize + ?Sized>(
    cmd: &str,
    json: bool,
    value: &T,
    passed: bool,
    text: impl FnOnce(),
) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => return failed(cmd, format_args!("cannot encode the result: {e}")),
        }
    } else {
        text();
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Bad usage (flags that cannot work together, a value out of range): one line, exit 2.
pub fn usage(cmd: &str, msg: impl Display) -> ExitCode {
    eprintln!("kgroup {cmd}: {msg}");
    ExitCode::from(2)
}

/// The run could not be done (bad input, a failed operation): one line, exit 1.
pub fn failed(cmd: &str, msg: impl Display) -> ExitCode {
    eprintln!("kgroup {cmd}: {msg}");
    ExitCode::from(1)
}
