//! Running the `kgroup` binary as a user does, for the command-line tests.

use std::process::{Command, Output, Stdio};

/// Runs `kgroup` with these arguments and returns what it printed and its exit status.
#[allow(dead_code)]
pub fn kgroup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(args)
        .output()
        .expect("run kgroup")
}

/// [`kgroup`] with `input` on stdin (written from a thread, so that a large input and a
/// large output cannot block each other; kgroup may stop reading early).
#[allow(dead_code)]
pub fn kgroup_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kgroup");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        // kgroup may refuse the input before reading all of it: a closed pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("kgroup ran");
    writer.join().expect("stdin writer");
    out
}

/// Whether stderr is exactly one line (and not a panic).
#[allow(dead_code)]
pub fn one_line(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.lines().count() == 1 && text.ends_with('\n') && !text.contains("panicked")
}

/// The seed's protocol as written, three clients and a subject change: the configuration
/// whose whole bug is bob refusing the owner's set as `unknown-group` (docs/cli.md's first
/// example).
#[allow(dead_code)]
pub const KONTALK_SUBJECT: [&str; 7] = [
    "--dialect",
    "kontalk",
    "--clients",
    "3",
    "--senders=",
    "--script",
    "create:1,2;subject:1",
];

/// The equivocating owner, three clients, one sender.
#[allow(dead_code)]
pub const EQUIVOCATE: [&str; 7] = [
    "--equivocate",
    "--clients",
    "3",
    "--script",
    "create:1,2;subject:1",
    "--senders",
    "1",
];

/// The insider: one move, on an ordered network, after a removal and an add.
#[allow(dead_code)]
pub const INSIDER: [&str; 9] = [
    "--insider",
    "--insider-moves",
    "1",
    "--script",
    "create:1,2;remove:1;add:3",
    "--senders",
    "2",
    "--network",
    "ordered",
];

/// The pieces of a command line, joined.
#[allow(dead_code)]
pub fn join<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.concat()
}
