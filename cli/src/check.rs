//! `kgroup check`: exhaustive model checking of one dialect on one network.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kgroup::Dialect;
use kgroup_model::properties::Outcome;
use kgroup_model::{check, script, CheckReport, GroupModel, Network};

use crate::output::{self, out, outln};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The protocol dialect: kontalk (the protocol page as written), android (Kontalk's Android
    /// client as built) or hardened (ours).
    #[arg(long, default_value = "hardened")]
    pub dialect: Dialect,
    /// Clients in the run, owners included. The script adds members from them.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=8))]
    pub clients: u8,
    /// Owner script: `create:1,2;add:3;remove:1;subject:1` (members are 1..clients-1).
    #[arg(long, default_value = "create:1,2;add:3;remove:1")]
    pub script: String,
    /// ordered, unordered, duplicating or lossy.
    #[arg(long, default_value = "unordered")]
    pub network: Network,
    /// Add mallory, the server or an outsider (never a member): forges `from` and owner
    /// attributes, squats the group id and replays owner stanzas. (`sim`'s member who
    /// forges is `--forger`.)
    #[arg(long)]
    pub adversary: bool,
    /// Stanzas the adversary may inject.
    #[arg(long, default_value_t = 1)]
    pub adversary_budget: u8,
    /// Clients that may send messages, comma-separated (0 is the owner); empty for none.
    #[arg(long, default_value = "3")]
    pub senders: String,
    /// Messages each sender sends. The check explores every run in which it sends up to
    /// this many.
    #[arg(long, default_value_t = 1)]
    pub messages: u8,
    /// Members that may leave, comma-separated (e.g. `2`); empty for none.
    #[arg(long, default_value = "")]
    pub parting: String,
    /// Times the owner may crash and restart from its persisted state. (`sim`'s
    /// `--crashes` are of any client.)
    #[arg(long, default_value_t = 0)]
    pub owner_crashes: u8,
    /// Stanzas the lossy network may drop.
    #[arg(long, default_value_t = 1)]
    pub losses: u8,
    /// Checker threads (1..=256).
    #[arg(long, default_value_t = 2, value_parser = parse_threads)]
    pub threads: usize,
    /// Stop after about this many generated states, repeats included (at least 1); if no
    /// property failed by then the verdict is incomplete (exit 3).
    #[arg(long, value_parser = parse_max_states)]
    pub max_states: Option<usize>,
    /// Stop after this many seconds with the partial report; with no property failed by
    /// then the verdict is incomplete (exit 3).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub max_seconds: Option<u64>,
    /// Explore no deeper than this many steps; the liveness analysis is then not run and
    /// the verdict is incomplete (exit 3) unless a property fails within the depth.
    #[arg(long, value_name = "STEPS", value_parser = parse_depth)]
    pub max_depth: Option<usize>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop with exit 3 once the process uses this much memory, e.g. 512M or 8G [default:
    /// 80% of the memory available at the start].
    #[arg(long, value_name = "SIZE", value_parser = crate::memory::parse_size)]
    pub max_memory: Option<u64>,
    /// Explore interchangeable members once (members the script, senders, parting list and
    /// adversary never name); verdicts and counterexample lengths are the same.
    #[arg(long)]
    pub symmetry: bool,
    /// Skip the liveness analysis (the whole graph, for `quiescence-reachable` and
    /// `progress`): those two are then undecided, the at-quiescence verdicts uncounted, and
    /// the check incomplete (exit 3). For measuring what the analysis costs.
    #[arg(long)]
    pub no_liveness: bool,
    /// A removed member keeps its keys and turns insider: it sends backdated,
    /// reused-number, ahead-of-the-owner and unstamped messages, floods a member with
    /// stanzas of unknown groups, and re-seals what it received. Here it is the first member
    /// the script removes, and it acts once the owner has issued that removal.
    #[arg(long)]
    pub insider: bool,
    /// Moves each insider makes. The check explores every run with up to this many.
    #[arg(long, default_value_t = 2)]
    pub insider_moves: u8,
    /// The owner equivocates: once, it sends one addressee of a change a different command
    /// (another subject) for the same epoch. It is otherwise the real core.
    #[arg(long)]
    pub equivocate: bool,
    /// The hardened dialect's receiving rules: v2, or v1 to see what v2 fixes.
    #[arg(long, hide = true, default_value = "v2")]
    pub hardened_rules: kgroup::Rules,
    /// Plant a known liveness bug in the hardened core (resync-ping-pong or
    /// release-exact-epoch), to see the liveness analysis catch it.
    #[arg(long, hide = true)]
    pub plant: Option<kgroup::Planted>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Open stateright's Explorer on this address (e.g. 127.0.0.1:3000) instead of checking.
    #[arg(long)]
    pub serve: Option<String>,
}

/// The most checker threads: far more than any machine this runs on has cores (each thread
/// has its own queue; 100,000 of them never finished starting).
pub const MAX_THREADS: usize = 256;

/// The longest owner script: the model's script position is one byte, and every step
/// multiplies the states.
pub const MAX_SCRIPT_STEPS: usize = 64;

/// `--threads`: 1..=[`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of threads in 1..={MAX_THREADS}")),
    }
}

/// `--max-seconds`: 1..=1,000,000 (about 11 days).
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("expected a number of seconds in 1..=1000000".into()),
    }
}

fn parse_depth(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err("expected a number of steps in 1..=10000".into()),
    }
}

fn parse_max_states(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a number of states, at least 1".into()),
    }
}

impl CheckArgs {
    pub fn model(&self) -> Result<GroupModel, String> {
        let script = script::parse(&self.script, self.clients)?;
        if script.len() > MAX_SCRIPT_STEPS {
            return Err(format!(
                "--script: {} steps, above the limit of {MAX_SCRIPT_STEPS}",
                script.len()
            ));
        }
        let parting = ids("--parting", &self.parting, 1, self.clients)?;
        let senders = ids("--senders", &self.senders, 0, self.clients)?;
        let model = GroupModel {
            dialect: self.dialect,
            network: self.network,
            clients: self.clients,
            script,
            senders,
            messages: self.messages,
            parting,
            adversary: self.adversary,
            adversary_budget: self.adversary_budget,
            owner_crashes: self.owner_crashes,
            max_losses: self.losses,
            planted: self.plant,
            insider: self.insider,
            insider_budget: self.insider_moves,
            rules: self.hardened_rules,
            equivocate: self.equivocate,
        };
        model.within_limits()?;
        Ok(model)
    }
}

/// A comma-separated list of client ids in `lo..clients`.
fn ids(flag: &str, text: &str, lo: u8, clients: u8) -> Result<Vec<u8>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<u8>() {
            Ok(id) if id >= lo && id < clients => Ok(id),
            _ => Err(format!(
                "{flag}: `{s}` is not a client id ({lo}..{})",
                clients - 1
            )),
        })
        .collect()
}

/// Whether `check` ended with a verdict: 0 every property holds, 1 one fails (a
/// counterexample is a verdict even when the search stopped early), 3 no verdict: the
/// search stopped at `--max-states`, the liveness analysis was skipped, or a verdict is
/// vacuous.
pub fn exit_code(r: &CheckReport) -> u8 {
    if r.any_fails() {
        1
    } else if r.complete && r.all_hold() {
        0
    } else {
        3
    }
}

pub fn run(args: CheckArgs) -> ExitCode {
    let model = match args.model() {
        Ok(m) => m,
        Err(e) => return output::usage("check", e),
    };
    let budget = crate::memory::Budget::of(args.max_memory);
    if let Some(addr) = &args.serve {
        use stateright::Model;
        let addr: std::net::SocketAddr = match addr.parse() {
            Ok(a) => a,
            Err(e) => return output::usage("check", format_args!("--serve `{addr}`: {e}")),
        };
        // stateright's server unwraps its bind: bind here first, so that a busy or
        // forbidden address is one line and exit 2 before "serving" is printed. The
        // listener is closed just before stateright binds the same address.
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return output::usage("check", format_args!("--serve {addr}: {e}"));
        }
        crate::memory::watch("check", budget, String::new);
        output::note(format_args!(
            "kgroup check: serving stateright's Explorer on http://{addr}"
        ));
        model.checker().threads(args.threads).serve(addr);
        return ExitCode::SUCCESS;
    }
    // Ctrl-C from here on stops the check with its partial report.
    let flag = crate::progress::interrupt_flag("check");
    // Up front: how big the check will be, from a pilot of half a second at most.
    let estimate = kgroup_model::estimate::estimate(
        &model,
        args.threads,
        PILOT_STATES,
        Duration::from_millis(PILOT_MILLIS),
    );
    let bounded =
        args.max_states.is_some() || args.max_seconds.is_some() || args.max_depth.is_some();
    if !args.quiet && !bounded {
        if let Some(line) = large(&estimate, args.threads, budget) {
            output::note(line);
        }
    }
    let states = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = states.clone();
    crate::memory::watch("check", budget, move || {
        format!(
            " after {} states",
            seen.load(std::sync::atomic::Ordering::Relaxed)
        )
    });
    let options = check::Options {
        threads: args.threads,
        max_states: args.max_states,
        symmetry: args.symmetry,
        liveness: !args.no_liveness,
        max_depth: args.max_depth,
        stop: check::Stop {
            deadline: args
                .max_seconds
                .map(|s| Instant::now() + Duration::from_secs(s)),
            flag: Some(flag),
        },
    };
    let mut reporter = crate::progress::Reporter::new("check", args.quiet);
    let report = check::check_with(&model, &options, |p| {
        states.store(p.states, std::sync::atomic::Ordering::Relaxed);
        reporter.update(|| {
            let secs = p.elapsed.as_secs_f64().max(1e-9);
            match p.phase {
                check::Phase::Search => format!(
                    "searching: {} states ({} unique), {:.0} states/s, depth {}",
                    p.states,
                    p.unique_states,
                    p.states as f64 / secs,
                    p.max_depth
                ),
                check::Phase::Shortest => format!(
                    "{}: depth {}, {} states",
                    p.phase.as_str(),
                    p.max_depth,
                    p.states
                ),
                check::Phase::Liveness => format!("{}: {} states", p.phase.as_str(), p.states),
            }
        });
    });
    reporter.finish();
    let exit = exit_code(&report);
    let mut report = report;
    report.estimate = Some(estimate);
    explain(&model, &mut report);
    let legend = kgroup_model::trace::legend(&model);
    output::finish_with("check", args.json, &report, exit, || {
        print_text(&report, &legend)
    })
}

/// The pilot's bounds: it stops at the end of the level that passes either.
const PILOT_STATES: usize = 200_000;
const PILOT_MILLIS: u64 = 500;

/// A check is large when it is foreseen to take more than this long, or more than half
/// the memory budget.
const LARGE_SECONDS: f64 = 30.0;

/// The warning `check` prints before a large check, or None for one that is not.
fn large(
    e: &kgroup_model::estimate::Estimate,
    threads: usize,
    budget: Option<crate::memory::Budget>,
) -> Option<String> {
    let over_budget = budget.is_some_and(|b| e.bytes > b.bytes);
    let heavy = budget.is_some_and(|b| e.bytes > b.bytes / 2);
    if e.exact || !(e.seconds > LARGE_SECONDS || heavy) {
        return None;
    }
    let memory = match budget {
        Some(b) if over_budget => format!(
            ", above the memory budget of {} (the run will likely stop with exit 3)",
            crate::memory::human(b.bytes)
        ),
        _ => String::new(),
    };
    Some(format!(
        "kgroup check: a large configuration: about {} unique states ({} with repeats), {} and {} on {threads} thread(s){memory}, estimated from its first {} levels ({} states; the estimate errs low). --max-seconds S or --max-states N bound the run; --symmetry shrinks it",
        approx(e.unique_states),
        approx(e.states),
        crate::memory::human(e.bytes),
        duration(e.seconds),
        e.pilot_levels,
        e.pilot_states
    ))
}

/// `12 M`, `340 k`, `900`: a count to two significant figures.
fn approx(n: u64) -> String {
    let f = n as f64;
    let two = |x: f64| {
        if x >= 10.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    };
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{} k", two(f / 1e3)),
        1_000_000..1_000_000_000 => format!("{} M", two(f / 1e6)),
        _ => format!("{} G", two(f / 1e9)),
    }
}

/// `40 s`, `12 min`, `3.5 h`.
fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

pub fn print_text(r: &CheckReport, legend: &str) {
    outln!(
        "kgroup check: dialect {}, network {}, {} clients, script {}{}",
        r.dialect,
        r.network,
        r.clients,
        r.script,
        if r.adversary { ", adversary" } else { "" }
    );
    outln!("clients: {legend}");
    outln!(
        "{} states ({} unique), max depth {}, {:.2}s, {:.0} states/s on {} thread(s){}",
        r.states,
        r.unique_states,
        r.max_depth,
        r.seconds,
        r.states_per_sec,
        r.threads,
        match (&r.stopped_by, r.complete, r.any_fails()) {
            (_, true, _) => String::new(),
            (Some(why), _, true) => format!(" — stopped early by {why}"),
            (None, _, true) => " — stopped early".to_string(),
            (Some(why), _, false) => format!(" — INCOMPLETE: stopped by {why}, no verdict"),
            (None, _, false) => " — INCOMPLETE: no verdict".to_string(),
        }
    );
    if let Some(l) = &r.liveness {
        outln!(
            "liveness graph: {} states, {} transitions, {} quiescent, {:.2}s",
            l.states,
            l.transitions,
            l.quiescent_states,
            l.seconds
        );
    }
    for p in &r.properties {
        let name = p.property.name();
        match (&p.counterexample, p.outcome) {
            (None, Outcome::Holds) => match p.quiescent_states {
                Some(q) => outln!("  {name:<24} holds (in {q} quiescent states)"),
                None => outln!("  {name:<24} holds"),
            },
            (None, Outcome::Vacuous) => {
                outln!("  {name:<24} VACUOUS (no quiescent state reached: it says nothing)")
            }
            (None, Outcome::Undecided) => {
                let why = match p.property.kind() {
                    kgroup_model::properties::Kind::Always => "not violated in what was explored",
                    _ => "needs the whole graph, which was not built",
                };
                outln!("  {name:<24} undecided ({why})")
            }
            (None, Outcome::Fails) => outln!(
                "  {name:<24} FAILS (found before the stop; run without the limit for its shortest counterexample)"
            ),
            (Some(trace), _) => {
                let what = match &p.cycle {
                    Some(c) if c.is_empty() => {
                        format!("lasso: {} steps, then stuck there", trace.len() - 1)
                    }
                    Some(c) => format!(
                        "lasso: {} steps, then a cycle of {}",
                        trace.len() - 1,
                        c.len() - 1
                    ),
                    None => format!("counterexample of {} steps", trace.len() - 1),
                };
                outln!("  {name:<24} FAILS ({what})");
                let all = trace.iter().chain(p.cycle.iter().flatten());
                print_steps(all);
            }
        }
    }
}

/// Puts the violated fact in words on each counterexample's last line: the path is replayed
/// by the simulator's clients and judge (`kgroup_sim::replay`), whose first violation of
/// the property says what broke, in terms of the owner's record ("alice's view of g lost
/// charlie, whom the owner never removed"). The model's own line stays where the replay
/// does not break the property.
pub fn explain(model: &GroupModel, report: &mut CheckReport) {
    for v in &mut report.properties {
        let (Some(trace), Some(actions)) = (&mut v.counterexample, report.paths.get(&v.property))
        else {
            continue;
        };
        let Ok(replayed) = kgroup_sim::replay::replay(model, actions, kgroup_sim::Mode::Core)
        else {
            continue;
        };
        let words = replayed
            .properties
            .iter()
            .find(|r| r.property == v.property && !r.holds)
            .and_then(|r| r.first.clone());
        if let (Some(words), Some(last)) = (words, trace.last_mut()) {
            if last.kind == "violation" {
                last.action = format!("VIOLATION: {}", named(model, &words));
            }
        }
    }
}

/// The judge's words with the model's names: `client 1` becomes `alice`, and a simulated
/// time (`at 3 ms`, meaningless in the model) is dropped.
pub(crate) fn named(model: &GroupModel, words: &str) -> String {
    let mut text = words.to_string();
    if let Some(rest) = text.strip_prefix("at ") {
        if let Some((_, after)) = rest.split_once(" ms ") {
            text = after.to_string();
        }
    }
    for prefix in [
        "client c", "client ", "member ", "members ", " and ", " from ", " to ", "which ", " of ",
    ] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(prefix) {
            out.push_str(&rest[..i]);
            let after = &rest[i + prefix.len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            match after[..digits].parse::<u8>() {
                Ok(id) if digits > 0 && id < model.clients => {
                    if !prefix.starts_with("client") {
                        out.push_str(prefix);
                    }
                    out.push_str(&kgroup_model::trace::name(model, id));
                }
                _ => out.push_str(&rest[i..i + prefix.len() + digits]),
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// A counterexample's steps: each action (adversary steps marked), what the receiver
/// refused and why, what it showed, and the views the step changed.
pub fn print_steps<'a>(steps: impl Iterator<Item = &'a kgroup_model::TraceStep>) {
    for (i, step) in steps.enumerate() {
        let mark = if step.adversary { "  [adversary]" } else { "" };
        outln!("      {:>2}. {}{mark}", i + 1, step.action);
        for r in &step.rejections {
            outln!("            ✗ {r}");
        }
        for d in &step.deliveries {
            outln!("            ✓ {d}");
        }
        for v in &step.changed {
            outln!("            → {v}");
        }
    }
}

/// `kgroup findings`: the whole matrix. Exits 0 when `hardened` holds everywhere (the
/// expected result), 1 otherwise.
pub fn findings(threads: usize, max_memory: Option<u64>, json: bool) -> ExitCode {
    use kgroup_model::findings;
    crate::memory::watch(
        "findings",
        crate::memory::Budget::of(max_memory),
        String::new,
    );
    let rows = findings::run(threads, |w, r| {
        output::note(format_args!(
            "{w} {}{} {}: {} unique states, {:.1}s",
            r.dialect,
            if r.rules == kgroup::Rules::V1 {
                " (v1 rules)"
            } else {
                ""
            },
            r.network,
            r.unique_states,
            r.seconds
        ));
    });
    let hardened_ok = rows
        .iter()
        .filter(|(_, r)| r.dialect == Dialect::Hardened && r.rules == kgroup::Rules::V2)
        .all(|(_, r)| findings::as_expected(r));
    let v = serde_json::json!({
        "rows": rows
            .iter()
            .map(|(w, r)| serde_json::json!({ "workload": w, "report": r }))
            .collect::<Vec<_>>(),
        "hardened_ok": hardened_ok,
    });
    output::finish("findings", json, &v, hardened_ok, || {
        for w in findings::workloads() {
            outln!("- `{}`: {}", w.name, w.summary);
        }
        outln!();
        out!("{}", findings::markdown(&rows));
    })
}
