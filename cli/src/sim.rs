//! `kgroup sim`: a simulated run from flags and/or a TOML scenario (flags win).
//!
//! Exit codes: 0 when every property held, 1 when one failed, 2 on bad usage (a flag, a
//! scenario file or a plot path the run cannot use), 3 when there is no verdict: Ctrl-C
//! stopped the run, or it was vacuous (the workload asked for messages and none was sent,
//! or nothing was delivered).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kgroup::Dialect;
use kgroup_sim::{LatencyDist, Mode, Partition, SimConfig, Span};

use crate::output::{self, out, outln};

/// The flags of a run. Every flag that describes the run is also a key of the scenario
/// file, under the same name and written the same way (`--latency-ms 20..150`,
/// `latency-ms = "20..150"`); the defaults `--help` shows come from [`SimConfig`]'s (see
/// [`document_defaults`]), so help, file and run cannot disagree.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// A TOML scenario file whose keys are these flags' names (see `--print-scenario` and
    /// docs/cli.md); flags given as well override it.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Write the run's scenario (the defaults, the --scenario file and the flags given) as
    /// a commented TOML file to stdout, and exit without running.
    #[arg(long)]
    print_scenario: bool,
    /// The protocol dialect: kontalk (the protocol page as written), android (Kontalk's Android
    /// client as built) or hardened (ours).
    /// Every client speaks it, unless --mix.
    #[arg(long)]
    dialect: Option<Dialect>,
    /// A mixed run: client i speaks the (i mod n)-th of these dialects, owners included
    /// (e.g. `kontalk,android,hardened`).
    #[arg(long, value_delimiter = ',')]
    mix: Vec<Dialect>,
    /// The seed of every random choice of the run.
    #[arg(long)]
    seed: Option<u64>,
    /// Clients in the run, owners included. Every group draws its members from them.
    #[arg(long)]
    clients: Option<u32>,
    /// Members per group, the owner included.
    #[arg(long)]
    members: Option<u32>,
    /// Groups in the run, each with its own owner.
    #[arg(long)]
    groups: Option<u32>,
    /// Messages per group, each from a random current member.
    #[arg(long)]
    messages_per_group: Option<u32>,
    /// Owner commands (add, remove, subject) per group after the create.
    #[arg(long)]
    churn: Option<u32>,
    /// Members per group that leave.
    #[arg(long)]
    parts: Option<u32>,
    /// The window over which the workload is spread, in milliseconds.
    #[arg(long)]
    duration_ms: Option<u64>,
    /// Probability that a hop (client→server or server→client) loses a stanza.
    #[arg(long)]
    loss: Option<f64>,
    /// Probability that the server delivers a copy twice.
    #[arg(long)]
    dup: Option<f64>,
    /// Independent latency per stanza (links are FIFO without it).
    #[arg(long)]
    reorder: bool,
    /// One-way latency per hop, `A..B` milliseconds, read as --latency-dist says.
    #[arg(long, value_name = "A..B")]
    latency_ms: Option<Span>,
    /// `uniform` over A..=B, or `exponential`: A plus a tail of mean B.
    #[arg(long)]
    latency_dist: Option<LatencyDist>,
    /// Fraction of clients that go offline once (the server stores their stanzas).
    #[arg(long)]
    offline: Option<f64>,
    /// How long an offline client stays away, in milliseconds.
    #[arg(long)]
    offline_ms: Option<u64>,
    /// Crashes of random clients (owners included); each restarts from its persisted
    /// state after --crash-ms.
    #[arg(long)]
    crashes: Option<u32>,
    /// How long a crashed client stays down, in milliseconds.
    #[arg(long)]
    crash_ms: Option<u64>,
    /// `START..END:FRACTION`: cuts that fraction of clients off, silently (repeatable).
    #[arg(long, value_name = "START..END:FRACTION")]
    partition: Vec<Partition>,
    /// One member per group is a forger: it forges owner commands and messages, replays
    /// old owner stanzas and squats the group id at the start.
    #[arg(long)]
    forger: bool,
    /// Stanzas each forger injects.
    #[arg(long)]
    forgeries: Option<u32>,
    /// A removed member keeps its keys and turns insider: it sends backdated,
    /// reused-number, ahead-of-the-owner and unstamped messages, floods a member with
    /// stanzas of unknown groups, and re-seals what it received. Here one member per group,
    /// removed early.
    #[arg(long)]
    insider: bool,
    /// Moves each insider makes.
    #[arg(long)]
    insider_moves: Option<u32>,
    /// Stanzas in one insider flood.
    #[arg(long)]
    flood: Option<u32>,
    /// The owner equivocates: once, it sends one addressee of a change a different command
    /// (another subject) for the same epoch. Here every group's owner does, at its first
    /// change with two recipients or more.
    #[arg(long)]
    equivocate: bool,
    /// Hardened retransmission: first timeout in milliseconds (doubling up to 64×).
    #[arg(long)]
    retransmit_ms: Option<u64>,
    /// Retransmission attempts before giving up (0: never).
    #[arg(long)]
    max_attempts: Option<u32>,
    /// How far each stanza goes through the real adapter: core (typed stanzas), wire
    /// (the XML codec) or encrypt (the codec and the OpenPGP envelope).
    #[arg(long)]
    mode: Option<Mode>,
    /// Same as --mode wire.
    #[arg(long, conflicts_with_all = ["encrypt", "mode"])]
    wire: bool,
    /// Same as --mode encrypt.
    #[arg(long, conflicts_with = "mode")]
    encrypt: bool,
    /// Stop this long (in milliseconds of simulated time) after the workload even if the
    /// run has not drained.
    #[arg(long)]
    drain_ms: Option<u64>,
    /// Points on the convergence curve (and the plot).
    #[arg(long)]
    samples: Option<u32>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Print every stanza this client receives and every output of its core to stderr: its
    /// number or its name in the output (`7` or `c7`).
    #[arg(long, value_parser = parse_client)]
    trace: Option<u32>,
    /// Draw agreement and delivered/dropped over time to this file: SVG or PNG, from its
    /// extension (`.svg`, `.png`).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Stop with exit 3 once the process uses this much memory, e.g. 512M or 8G [default:
    /// 80% of the memory available at the start]. A run estimated above it is refused
    /// before it starts.
    #[arg(long, value_name = "SIZE", value_parser = crate::memory::parse_size)]
    max_memory: Option<u64>,
}

/// The flags of `sim` that are not keys of a scenario: where the run comes from, how it is
/// shown, and the shorthands of `--mode`.
#[cfg(test)]
const NOT_KEYS: [&str; 10] = [
    "scenario",
    "print-scenario",
    "json",
    "trace",
    "plot",
    "quiet",
    "max-memory",
    "wire",
    "encrypt",
    "help",
];

/// The default run as TOML lines `key = value`, in [`SimConfig`]'s order.
fn default_lines() -> Vec<(String, String)> {
    SimConfig::default().toml_lines()
}

/// Appends `[default: V]` to the help of every `sim` flag whose scenario key has a default
/// that says something (not an empty list, not a switch's `false`), from
/// [`SimConfig::default`] itself.
pub fn document_defaults(cmd: clap::Command) -> clap::Command {
    let mut cmd = cmd;
    for (key, value) in default_lines() {
        if value == "[]" || value == "false" {
            continue;
        }
        let shown = value.trim_matches('"').to_string();
        let Some((id, help)) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
            .map(|a| {
                let help = a.get_help().map(ToString::to_string).unwrap_or_default();
                (a.get_id().clone(), help)
            })
        else {
            continue;
        };
        cmd = cmd.mut_arg(id, |a| a.help(format!("{help} [default: {shown}]")));
    }
    cmd
}

/// `--print-scenario`: `cfg` as a TOML file, each key after its flag's help as a comment.
fn scenario_text(cfg: &SimConfig) -> String {
    use std::fmt::Write as _;
    let cmd = <crate::Cli as clap::CommandFactory>::command();
    let sim = cmd.find_subcommand("sim");
    let mut s = String::from(
        "# A kgroup sim scenario: `kgroup sim --scenario FILE` reads it. Every key is a flag\n\
         # of `kgroup sim` with the same name and value syntax; a key left out keeps its\n\
         # default, and flags given with --scenario override the file. See docs/cli.md.\n",
    );
    for (key, value) in cfg.toml_lines() {
        let help = sim
            .and_then(|c| {
                c.get_arguments()
                    .find(|a| a.get_long() == Some(key.as_str()))
            })
            .and_then(|a| a.get_help().map(ToString::to_string))
            .unwrap_or_default();
        s.push('\n');
        for line in wrap(&help, 88) {
            let _ = writeln!(s, "# {line}");
        }
        let _ = writeln!(s, "{key} = {value}");
    }
    s
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    output::usage("sim", msg)
}

impl SimArgs {
    fn config(&self) -> Result<SimConfig, String> {
        let mut c = match &self.scenario {
            Some(path) => {
                let bytes = crate::input::read(Some(path), crate::input::SCENARIO_LIMIT)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
                SimConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => SimConfig::default(),
        };
        macro_rules! set {
            ($($f:ident => $g:ident),*) => { $( if let Some(v) = self.$f { c.$g = v; } )* };
        }
        set!(
            dialect => dialect,
            clients => clients,
            members => members,
            groups => groups,
            messages_per_group => messages,
            churn => churn,
            parts => parts,
            duration_ms => duration_ms,
            loss => loss,
            dup => dup,
            latency_ms => latency_ms,
            latency_dist => latency_dist,
            offline => offline,
            offline_ms => offline_ms,
            crashes => crashes,
            crash_ms => crash_ms,
            forgeries => forgeries,
            insider_moves => insider_moves,
            flood => flood,
            retransmit_ms => retransmit_ms,
            max_attempts => max_attempts,
            mode => mode,
            drain_ms => drain_ms,
            samples => samples,
            seed => seed
        );
        if self.members.is_some() && self.clients.is_none() && self.scenario.is_none() {
            // `--members 1000` alone: a run big enough for that group.
            c.clients = c.clients.max(c.members);
        }
        if !self.mix.is_empty() {
            c.mix = self.mix.clone();
        }
        c.reorder |= self.reorder;
        c.forger |= self.forger;
        c.insider |= self.insider;
        c.equivocate |= self.equivocate;
        if !self.partition.is_empty() {
            c.partition = self.partition.clone();
        }
        if self.wire {
            c.mode = Mode::Wire;
        }
        if self.encrypt {
            c.mode = Mode::Encrypt;
        }
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }
}

pub fn run(args: SimArgs) -> ExitCode {
    let cfg = match args.config() {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    if args.print_scenario {
        output::out!("{}", scenario_text(&cfg));
        return output::done();
    }
    if let Some(t) = args.trace {
        if t >= cfg.clients {
            return usage(format_args!(
                "--trace {t}: not a client (0..{})",
                cfg.clients - 1
            ));
        }
    }
    // The run's size is known before it starts: refuse what cannot fit, and watch the
    // rest (the estimate errs high, the watch is the backstop).
    let budget = crate::memory::Budget::of(args.max_memory);
    if let Some(b) = budget {
        let need = cfg.estimated_bytes();
        if need > b.bytes {
            return usage(format_args!(
                "the run needs about {} ({} groups of {} members: every member holds a view of its group, every message a copy per member), above the memory budget of {} ({})",
                crate::memory::human(need),
                cfg.groups,
                cfg.members,
                crate::memory::human(b.bytes),
                b.source
            ));
        }
    }
    crate::memory::watch("sim", budget, String::new);
    let plot = match args
        .plot
        .as_deref()
        .map(crate::plot::Format::of)
        .transpose()
    {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    if let Some(path) = &args.plot {
        // Fail before a long run, not after it.
        if let Err(e) = std::fs::File::create(path) {
            return usage(format!("--plot {}: {e}", path.display()));
        }
    }
    let horizon = cfg.duration_ms;
    let started = std::time::Instant::now();
    let mut sim = match kgroup_sim::Sim::new(cfg) {
        Ok(sim) => sim,
        Err(e) => return output::usage("sim", e),
    };
    sim.trace = args.trace;
    let flag = crate::progress::interrupt_flag("sim");
    let mut reporter = crate::progress::Reporter::new("sim", args.quiet);
    let report = sim.run_until(|now, events| {
        reporter.update(|| {
            let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-9);
            format!(
                "simulated {} of {horizon} ms (then draining), {events} events, {rate:.0} events/s",
                now.min(horizon)
            )
        });
        if flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
    reporter.finish();
    if let (Some(path), Some(format)) = (&args.plot, plot) {
        if let Err(e) = crate::plot::write(&report, path, format) {
            return output::failed("sim", format_args!("--plot {}: {e}", path.display()));
        }
    }
    output::finish_with("sim", args.json, &report, report.exit_code(), || {
        out!("{}", report.text());
        if let Some(path) = &args.plot {
            outln!("  plot: {}", path.display());
        }
    })
}

/// A client as the output names it (`c7`) or by its number (`7`).
fn parse_client(s: &str) -> Result<u32, String> {
    s.strip_prefix('c').unwrap_or(s).parse().map_err(|_| {
        format!("`{s}` is not a client (a number, or c<number> as the output names them)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim_command() -> clap::Command {
        let cmd = crate::command();
        cmd.find_subcommand("sim").cloned().unwrap()
    }

    #[test]
    fn every_scenario_key_is_a_flag_and_every_run_flag_a_key() {
        let keys: Vec<String> = default_lines().into_iter().map(|(k, _)| k).collect();
        let flags: Vec<String> = sim_command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(String::from))
            .collect();
        for k in &keys {
            assert!(flags.contains(k), "scenario key `{k}` has no flag --{k}");
        }
        for f in &flags {
            assert!(
                keys.contains(f) || NOT_KEYS.contains(&f.as_str()),
                "flag --{f} is not a scenario key"
            );
        }
    }

    #[test]
    fn help_shows_the_simulators_own_defaults() {
        let help = sim_command().render_long_help().to_string();
        let d = SimConfig::default();
        for shown in [
            format!("[default: {}]", d.clients),
            format!("[default: {}]", d.messages),
            format!("[default: {}..{}]", d.latency_ms.a, d.latency_ms.b),
            format!("[default: {}]", d.drain_ms),
        ] {
            assert!(help.contains(&shown), "{shown} missing from sim --help");
        }
        // Every flag that is a key with a value says its default.
        for (key, value) in default_lines() {
            if value == "[]" || value == "false" {
                continue;
            }
            let arg = sim_command()
                .get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()))
                .cloned()
                .unwrap();
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.ends_with(&format!("[default: {}]", value.trim_matches('"'))),
                "--{key}: {help}"
            );
        }
    }

    #[test]
    fn a_printed_scenario_reads_back_as_the_same_run() {
        let cfg = SimConfig {
            clients: 33,
            partition: vec!["100..900:0.25".parse().unwrap()],
            mix: vec![kgroup::Dialect::Kontalk, kgroup::Dialect::Android],
            latency_dist: LatencyDist::Exponential,
            ..SimConfig::default()
        };
        let text = scenario_text(&cfg);
        assert!(text.contains("\n# Clients in the run"), "{text}");
        assert_eq!(SimConfig::from_toml(&text).unwrap(), cfg);
    }
}
