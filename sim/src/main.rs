//! The `kgroup` command line.

mod demo;
mod stanza_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kgroup::Dialect;

#[derive(Parser)]
#[command(
    name = "kgroup",
    version,
    about = "Kontalk group chat: model, simulator and real-stanza adapter"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replays the seed's example and the reorderings where the dialects differ, and shows
    /// every client's view. Exits 1 if `hardened` fails to converge or loses a message.
    Demo {
        /// Only this dialect (default: both).
        #[arg(long)]
        dialect: Option<Dialect>,
        /// Only this scenario (see the list in the output).
        #[arg(long)]
        scenario: Option<String>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The stanza codec: XML `<message/>` on stdin to JSON on stdout (`decode`) and back
    /// (`encode`). Bad input exits 1 with a one-line error.
    Stanza {
        #[command(subcommand)]
        action: stanza_cmd::StanzaCmd,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Cmd::Demo {
            dialect,
            scenario,
            json,
        } => demo::run(dialect, scenario.as_deref(), json),
        Cmd::Stanza { action } => stanza_cmd::run(action),
    }
}
