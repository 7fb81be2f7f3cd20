//! The `kgroup` command line.

// Everything printed goes through `output` (a closed pipe ends the output quietly, an
// error line is one line of bounded length): `println!` and `eprintln!` would panic on a
// closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod demo;
mod envelope;
mod export;
mod fanout;
mod input;
mod live;
mod memory;
mod output;
mod plot;
mod progress;
mod replay;
mod sim;
mod stanza;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the model checker builds and drops a state per transition and the simulator
/// a payload per stanza; the system allocator made about a sixth of `check`'s work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kgroup::envelope::Suite;
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
    /// Exhaustively model-checks a dialect against the property catalogue. Exits 0 when
    /// every property holds, 1 when one fails (with a shortest counterexample), 2 on bad
    /// usage, 3 when --max-states or --max-memory stopped the search before a verdict.
    Check(check::CheckArgs),
    /// Checks every property in both dialects on every network for three workloads, and
    /// prints the findings table (Markdown, or `--json`).
    Findings {
        /// Checker threads (1..=256).
        #[arg(long, default_value_t = 2, value_parser = check::parse_threads)]
        threads: usize,
        /// Stop with exit 3 once the process uses this much memory, e.g. 8G [default: 80%
        /// of the memory available at the start].
        #[arg(long, value_name = "SIZE", value_parser = memory::parse_size)]
        max_memory: Option<u64>,
        /// One JSON object instead of text. Here `rows` (one per workload, dialect and
        /// network) and `hardened_ok`.
        #[arg(long)]
        json: bool,
    },
    /// Replays the seed's example and the reorderings where the dialects differ, and shows
    /// every client's view. Exits 1 if `hardened` fails to converge or loses a message.
    Demo {
        /// The protocol dialect: kontalk (the protocol page as written), android
        /// (Kontalk's Android client as built) or hardened (ours). Without it, every
        /// dialect is shown.
        #[arg(long)]
        dialect: Option<Dialect>,
        /// Only this named run (default: all of them).
        #[arg(value_name = "NAME", value_parser = demo::names())]
        name: Option<String>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Times one multi-recipient OpenPGP envelope against one envelope per recipient, and
    /// opening it by the last recipient, each beside the primitive floor of the same run.
    Fanout {
        /// Number of recipients (1..=100000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        recipients: u32,
        /// Payload size in bytes (0..=16777216).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=16_777_216))]
        size: u32,
        /// The key suite. Here cv25519 (v4 keys) or cv25519-v6.
        #[arg(long, default_value = "cv25519", value_parser = parse_suite)]
        suite: Suite,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The stanza codec: XML `<message/>` on stdin to JSON on stdout (`decode`) and back
    /// (`encode`). Bad input exits 1 with a one-line error.
    Stanza {
        #[command(subcommand)]
        action: stanza::StanzaCmd,
    },
    /// Simulates many clients running the core through a lossy XMPP server, from one seed,
    /// and judges every property over the run. Exits 0 when all hold, 1 when one fails,
    /// 2 on bad usage.
    Sim(Box<sim::SimArgs>),
    /// Finds the shortest counterexample of every failing property (the flags of `check`)
    /// and replays each through the simulator's clients and judge (`--wire`, `--encrypt`);
    /// `--export DIR` writes each as a test vector for other implementations. Exits 0 when
    /// every one breaks the same property there, 1 otherwise, 2 on bad usage.
    Replay(Box<replay::ReplayArgs>),
    /// Runs a group through a running XMPP server (see `scripts/e2e`): multicast and per recipient.
    Live(live::LiveArgs),
    /// OpenPGP keys bound to XMPP identities: `new` (a secret key), `export` (its
    /// certificate), `import` (what a certificate is). Armored unless --binary.
    Key {
        #[command(subcommand)]
        action: envelope::KeyCmd,
    },
    /// Signs FILE (or stdin) with --key and encrypts it once to every --to certificate (one
    /// multi-recipient message). Writes ASCII armor unless --binary. Exits 1 with the
    /// envelope's one-line error.
    Seal(envelope::SealArgs),
    /// Decrypts and verifies a message (armored or binary) in FILE (or on stdin) with
    /// --key, signed by one of --peers (or by me). Prints JSON: the signer's fingerprint
    /// and JID, and the plaintext (a string if UTF-8, else base64); --plaintext-only
    /// writes its bytes.
    /// Exits 1 with the envelope's one-line error.
    Open(envelope::OpenArgs),
    /// Writes a shell completion script to stdout, e.g. `kgroup completions bash >
    /// /etc/bash_completion.d/kgroup` (bash, elvish, fish, powershell, zsh).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Writes the manual page (roff) to stdout, e.g. `kgroup man > kgroup.1; man ./kgroup.1`,
    /// or with --dir one page per subcommand there (kgroup.1, kgroup-check.1, ...).
    Man {
        /// Write kgroup.1 and a kgroup-SUBCOMMAND.1 for every subcommand into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// The command as parsed, completed and documented: the derived definitions, with the
/// defaults of `sim`'s flags taken from the simulator's own (see `sim::document_defaults`).
fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().mut_subcommand("sim", sim::document_defaults)
}

/// `kgroup completions`: generated by clap_complete from the same definitions as the parser.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kgroup", &mut bytes);
    output::write_stdout(&bytes);
    output::done()
}

/// `kgroup man`: the command's page on stdout, or with `--dir` one page per command and
/// subcommand (`kgroup.1`, `kgroup-check.1`, ...) written there, all by clap_mangen.
fn man(dir: Option<std::path::PathBuf>) -> ExitCode {
    let cmd = command();
    match dir {
        Some(dir) => match clap_mangen::generate_to(cmd, &dir) {
            Ok(()) => output::done(),
            Err(e) => output::failed("man", format_args!("{}: {e}", dir.display())),
        },
        None => {
            let mut bytes = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut bytes) {
                return output::failed("man", e);
            }
            output::write_stdout(&bytes);
            output::done()
        }
    }
}

pub fn parse_suite(s: &str) -> Result<Suite, String> {
    s.parse()
}

fn main() -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version: to stdout, through `output` (a closed pipe is quiet).
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    output::out!("{}", e.render().ansi());
                } else {
                    output::out!("{}", e.render());
                }
                return output::done();
            }
            // One line, as every usage error: clap's lines (the error, its tips, the usage)
            // joined, without the pointer to --help, and cut to a readable length (clap's
            // message quotes the bad value, which may be long).
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let mut line = String::from("kgroup:");
            for (i, l) in lines.iter().enumerate() {
                let after_colon = i > 0 && lines[i - 1].ends_with(':');
                line.push_str(if i == 0 || after_colon { " " } else { "; " });
                line.push_str(l);
            }
            output::note(line);
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Cmd::Check(args) => check::run(args),
        Cmd::Findings {
            threads,
            max_memory,
            json,
        } => check::findings(threads, max_memory, json),
        Cmd::Demo {
            dialect,
            name,
            json,
        } => demo::run(dialect, name.as_deref(), json),
        Cmd::Fanout {
            recipients,
            size,
            suite,
            json,
        } => fanout::run(recipients, size, suite, json),
        Cmd::Stanza { action } => stanza::run(action),
        Cmd::Sim(args) => sim::run(*args),
        Cmd::Replay(args) => replay::run(*args),
        Cmd::Live(args) => live::run(args),
        Cmd::Key { action } => envelope::key(action),
        Cmd::Seal(args) => envelope::seal_cmd(args),
        Cmd::Open(args) => envelope::open_cmd(args),
        Cmd::Completions { shell } => completions(shell),
        Cmd::Man { dir } => man(dir),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// What a flag means: its help up to the end of the first sentence (the rest may add
    /// what a subcommand does with it), without the `[default: ...]` clap or we append.
    fn meaning(help: &str) -> String {
        let help = help.split(" [default:").next().unwrap_or(help);
        let first = help.split(". ").next().unwrap_or(help);
        first.trim_end_matches('.').replace('\n', " ")
    }

    fn walk(cmd: &clap::Command, path: String, seen: &mut BTreeMap<String, Vec<(String, String)>>) {
        for a in cmd.get_arguments() {
            let (Some(long), Some(help)) = (a.get_long(), a.get_help()) else {
                continue;
            };
            seen.entry(long.to_string())
                .or_default()
                .push((path.clone(), meaning(&help.to_string())));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), seen);
        }
    }

    /// One flag, one meaning: a flag that several subcommands take begins its help with
    /// the same sentence in all of them.
    #[test]
    fn a_flag_means_the_same_in_every_subcommand() {
        let mut seen = BTreeMap::new();
        walk(&super::command(), "kgroup".into(), &mut seen);
        let mut clashes = Vec::new();
        for (long, uses) in &seen {
            let first = &uses[0].1;
            for (path, m) in &uses[1..] {
                if m != first {
                    clashes.push(format!(
                        "--{long}: `{}` in {} but `{m}` in {path}",
                        first, uses[0].0
                    ));
                }
            }
        }
        assert!(clashes.is_empty(), "{}", clashes.join("\n"));
        // The flags that used to mean two things now have one name each.
        for (long, only) in [
            ("owner-crashes", &["kgroup check", "kgroup replay"][..]),
            ("adversary", &["kgroup check", "kgroup replay"]),
            ("forger", &["kgroup sim"]),
            ("crashes", &["kgroup sim"]),
            ("messages-per-group", &["kgroup sim"]),
            ("scenario", &["kgroup sim"]),
        ] {
            let paths: Vec<&str> = seen[long].iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(paths, only, "--{long}");
        }
    }
}
