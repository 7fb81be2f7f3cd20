//! Running the `kgroup` binary as a user does, for the command-line tests.

use std::process::{Command, Output};

/// Runs `kgroup` with these arguments and returns what it printed and its exit status.
pub fn kgroup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(args)
        .output()
        .expect("run kgroup")
}
