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
use kgroup_sim::{Latency, Mode, Partition, SimConfig};

use crate::output::{self, out, outln};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// A TOML scenario file: any field of the run (see the README); flags override it.
    #[arg(long)]
    scenario: Option<PathBuf>,
    #[arg(long)]
    dialect: Option<Dialect>,
    /// A mixed run: client i speaks the (i mod n)-th of these dialects, owners included
    /// (e.g. `kontalk,android,hardened`).
    #[arg(long, value_delimiter = ',')]
    mix: Vec<Dialect>,
    /// Clients in the run.
    #[arg(long)]
    clients: Option<u32>,
    /// Members per group, the owner included.
    #[arg(long)]
    members: Option<u32>,
    #[arg(long)]
    groups: Option<u32>,
    /// Messages per group.
    #[arg(long)]
    messages: Option<u32>,
    /// Owner commands (add, remove, subject) per group after the create.
    #[arg(long)]
    churn: Option<u32>,
    /// Members per group that leave.
    #[arg(long)]
    parts: Option<u32>,
    /// The window over which the workload is spread.
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
    /// One-way latency per hop, `A..B` milliseconds.
    #[arg(long, value_parser = parse_range)]
    latency_ms: Option<(u64, u64)>,
    /// `uniform` over --latency-ms, or `exponential`: A plus a tail of mean B.
    #[arg(long)]
    latency_dist: Option<String>,
    /// Fraction of clients that go offline once (the server stores their stanzas).
    #[arg(long)]
    offline: Option<f64>,
    #[arg(long)]
    offline_ms: Option<u64>,
    /// Client crashes; each restarts from its persisted state after --crash-ms.
    #[arg(long)]
    crashes: Option<u32>,
    #[arg(long)]
    crash_ms: Option<u64>,
    /// `START..END:FRACTION`: cuts that fraction of clients off, silently (repeatable).
    #[arg(long, value_parser = parse_partition)]
    partition: Vec<Partition>,
    /// One member per group forges owner commands and messages and replays old owner
    /// stanzas (and squats the group id at the start).
    #[arg(long)]
    adversary: bool,
    #[arg(long)]
    forgeries: Option<u32>,
    /// One member per group is removed early, keeps its keys and turns insider: it sends
    /// backdated, reused-number, ahead-of-the-owner and unstamped messages, floods a member
    /// with stanzas of unknown groups, and re-seals what it received.
    #[arg(long)]
    insider: bool,
    /// Moves each insider makes [default: 12].
    #[arg(long)]
    insider_moves: Option<u32>,
    /// Stanzas in one insider flood [default: 200].
    #[arg(long)]
    flood: Option<u32>,
    /// Every group's owner is malicious: at its first change with two recipients or more it
    /// sends one of them a different command (another subject) for the same epoch.
    #[arg(long)]
    equivocate: bool,
    /// Hardened retransmission: first timeout (doubling up to 64×).
    #[arg(long)]
    retransmit_ms: Option<u64>,
    /// Attempts before giving up (0: never).
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Stop this long after the workload even if the run has not drained.
    #[arg(long)]
    drain_ms: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Every stanza through the XML codec.
    #[arg(long, conflicts_with = "encrypt")]
    wire: bool,
    /// Every stanza through the codec and the OpenPGP envelope.
    #[arg(long)]
    encrypt: bool,
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
    /// Refuse a run estimated above this much memory, and stop with exit 3 one that passes
    /// it, e.g. 512M or 8G [default: 80% of the memory available at the start].
    #[arg(long, value_name = "SIZE", value_parser = crate::memory::parse_size)]
    max_memory: Option<u64>,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}`: expected A..B"))?;
    let n = |v: &str| v.trim().parse::<u64>().map_err(|e| format!("`{v}`: {e}"));
    Ok((n(a)?, n(b)?))
}

fn parse_partition(s: &str) -> Result<Partition, String> {
    let (range, fraction) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected START..END:FRACTION"))?;
    let (start_ms, end_ms) = parse_range(range)?;
    let fraction = fraction
        .parse::<f64>()
        .map_err(|e| format!("`{fraction}`: {e}"))?;
    Ok(Partition {
        start_ms,
        end_ms,
        fraction,
    })
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
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v; } )* };
        }
        set!(
            dialect,
            clients,
            members,
            groups,
            messages,
            churn,
            parts,
            duration_ms,
            loss,
            dup,
            offline,
            offline_ms,
            crashes,
            crash_ms,
            forgeries,
            insider_moves,
            flood,
            retransmit_ms,
            max_attempts,
            drain_ms,
            seed
        );
        if self.members.is_some() && self.clients.is_none() && self.scenario.is_none() {
            // `--members 1000` alone: a run big enough for that group.
            c.clients = c.clients.max(c.members);
        }
        if !self.mix.is_empty() {
            c.mix = self.mix.clone();
        }
        c.reorder |= self.reorder;
        c.adversary |= self.adversary;
        c.insider |= self.insider;
        c.equivocate |= self.equivocate;
        if !self.partition.is_empty() {
            c.partitions = self.partition.clone();
        }
        let dist = self.latency_dist.as_deref();
        match (self.latency_ms, dist) {
            (Some((min, max)), None | Some("uniform")) => c.latency = Latency::Uniform { min, max },
            (Some((min, mean)), Some("exponential")) => {
                c.latency = Latency::Exponential { min, mean }
            }
            (None, Some("uniform" | "exponential")) => {
                return Err("--latency-dist needs --latency-ms".into())
            }
            (_, Some(other)) => {
                return Err(format!(
                    "--latency-dist `{other}`: expected uniform or exponential"
                ))
            }
            (None, None) => {}
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
