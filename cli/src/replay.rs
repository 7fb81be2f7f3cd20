//! `kgroup replay`: finds the shortest counterexample of every property that fails on a
//! model (the same flags as `kgroup check`) and replays each through the simulator's
//! clients and judge, in core, wire (`--wire`) or encrypted (`--encrypt`) mode.
//!
//! A `quiescence-reachable` counterexample is replayed and then drained fairly (it must
//! not drain); a `progress` lasso is replayed with its cycle twice (each round must come
//! back to the state where it began, never quiescent).
//!
//! `--export DIR` writes every counterexample as a test vector for other implementations
//! (see [`crate::export`]); it implies `--wire`.
//!
//! Exit codes: 0 when every counterexample broke the same property in the simulator (or
//! there was none), 1 when one did not, 2 on bad usage (an unusable `--export` directory
//! included).

use std::process::ExitCode;

use kgroup_model::check::{check, shortest_counterexamples};
use kgroup_model::model::{Action, GroupModel, State};
use kgroup_model::properties::Kind;
use kgroup_model::{trace, Property};
use kgroup_sim::replay::{replay, replay_and_drain, replay_lasso, Drained, Replayed};
use kgroup_sim::Mode;
use serde::Serialize;

use crate::check::CheckArgs;
use crate::export::Label;
use crate::output::{self, outln};

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    check: CheckArgs,
    /// How far each stanza goes through the real adapter: core (typed stanzas), wire
    /// (the XML codec) or encrypt (the codec and the OpenPGP envelope). With encrypt every
    /// client has its own key.
    #[arg(long, default_value = "core")]
    mode: Mode,
    /// Same as --mode wire.
    #[arg(long, conflicts_with_all = ["encrypt", "mode"])]
    wire: bool,
    /// Same as --mode encrypt.
    #[arg(long, conflicts_with = "mode")]
    encrypt: bool,
    /// Write each counterexample as a test vector into DIR (new, empty, or an earlier
    /// export, which is replaced): the stanzas' XML in delivery order, who receives each,
    /// and the expected views, deliveries and rejections after each step, with a README
    /// for runners. Implies --wire.
    #[arg(long, value_name = "DIR", conflicts_with = "encrypt")]
    export: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Case {
    property: Property,
    steps: usize,
    reproduced: bool,
    replay: Replayed,
    /// `quiescence-reachable`: the fair drain after the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    drain: Option<Drained>,
    /// `--export`: the path's steps as the traces word them (a drain's are not here).
    #[serde(skip)]
    labels: Vec<Label>,
}

/// A path's steps as labels of the `phase`.
fn labels(
    model: &GroupModel,
    start: &State,
    steps: &[(Action, State)],
    phase: &'static str,
    round: Option<usize>,
) -> Vec<Label> {
    trace::steps(model, start, steps)
        .into_iter()
        .map(|step| Label { phase, round, step })
        .collect()
}

/// The most steps the fair drain after a `quiescence-reachable` counterexample takes.
const DRAIN_BOUND: usize = 10_000;

/// Times a `progress` lasso's cycle is replayed.
const LASSO_ROUNDS: usize = 2;

pub fn run(args: ReplayArgs) -> ExitCode {
    let model = match args.check.model() {
        Ok(m) => m,
        Err(e) => return output::usage("replay", e),
    };
    if args.export.is_some() && args.mode == Mode::Encrypt {
        return output::usage(
            "replay",
            "--export writes the stanzas in clear (the vectors carry no keys): not with --mode encrypt",
        );
    }
    // The directory is checked before the search, which may take long.
    let target = match args
        .export
        .as_deref()
        .map(crate::export::prepare)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return output::usage("replay", format_args!("--export: {e}")),
    };
    crate::memory::watch(
        "replay",
        crate::memory::Budget::of(args.check.max_memory),
        String::new,
    );
    let mode = if args.encrypt {
        Mode::Encrypt
    } else if args.wire || args.export.is_some() {
        Mode::Wire
    } else {
        args.mode
    };
    // The exhaustive check (on every thread) says which properties fail; only those are
    // searched again for their paths.
    let report = check(&model, args.check.threads, args.check.max_states, |_| {});
    let failing: Vec<Property> = report
        .properties
        .iter()
        .filter(|v| !v.holds)
        .map(|v| v.property)
        .collect();
    // The cases are listed by property name.
    let safety: Vec<Property> = failing
        .iter()
        .copied()
        .filter(|p| p.kind() != Kind::Liveness)
        .collect();
    let mut found: Vec<_> = shortest_counterexamples(&model, &safety)
        .into_iter()
        .collect();
    found.sort_by_key(|(property, _)| property.name());
    let mut cases = Vec::new();
    for (property, (start, path)) in found {
        let actions: Vec<_> = path.iter().map(|(a, _)| a.clone()).collect();
        let replayed = match replay(&model, &actions, mode) {
            Ok(r) => r,
            Err(e) => return output::usage("replay", e),
        };
        cases.push(Case {
            property,
            steps: actions.len(),
            reproduced: replayed.fails(property) && replayed.missing == 0,
            replay: replayed,
            drain: None,
            labels: labels(&model, &start, &path, "path", None),
        });
    }
    // The liveness counterexamples come from the graph: the path to a state that cannot
    // quiesce, replayed and then drained fairly (it must not drain), and the lasso,
    // replayed with its cycle twice (each round must come back where it began, never
    // quiescent).
    let live: Vec<Property> = failing
        .iter()
        .copied()
        .filter(|p| p.kind() == Kind::Liveness)
        .collect();
    if !live.is_empty() {
        let analysis = kgroup_model::liveness::analyse(&model, args.check.max_states);
        let actions = |steps: &[(kgroup_model::model::Action, kgroup_model::model::State)]| {
            steps.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>()
        };
        if let (true, Some(path)) = (
            live.contains(&Property::QuiescenceReachable),
            &analysis.unreachable,
        ) {
            let labels = labels(&model, &path.0, &path.1, "path", None);
            let path = actions(&path.1);
            let (replayed, drained) = match replay_and_drain(&model, &path, mode, DRAIN_BOUND) {
                Ok(r) => r,
                Err(e) => return output::usage("replay", e),
            };
            cases.push(Case {
                property: Property::QuiescenceReachable,
                steps: path.len(),
                reproduced: !drained.quiescent && replayed.missing == 0,
                replay: replayed,
                drain: Some(drained),
                labels,
            });
        }
        if let (true, Some(lasso)) = (live.contains(&Property::Progress), &analysis.lasso) {
            let (prefix, cycle) = (actions(&lasso.prefix.1), actions(&lasso.cycle));
            let at = lasso.prefix.1.last().map_or(&lasso.prefix.0, |(_, s)| s);
            let mut steps = labels(&model, &lasso.prefix.0, &lasso.prefix.1, "path", None);
            for round in 1..=LASSO_ROUNDS {
                steps.extend(labels(&model, at, &lasso.cycle, "cycle", Some(round)));
            }
            let replayed = match replay_lasso(&model, &prefix, &cycle, LASSO_ROUNDS, mode) {
                Ok(r) => r,
                Err(e) => return output::usage("replay", e),
            };
            let ok = replayed
                .cycle
                .as_ref()
                .is_some_and(|c| c.never_quiescent && (c.returns || c.steps == 0));
            cases.push(Case {
                property: Property::Progress,
                steps: prefix.len() + cycle.len(),
                reproduced: ok && replayed.fails(Property::Progress) && replayed.missing == 0,
                replay: replayed,
                drain: None,
                labels: steps,
            });
        }
    }
    let all = cases.iter().all(|c| c.reproduced) && cases.len() == failing.len();
    let mut exported = None;
    if let (Some(target), Some(dir)) = (&target, &args.export) {
        let vectors: Vec<_> = cases
            .iter()
            .map(|c| crate::export::Vector {
                property: c.property,
                reproduced: c.reproduced,
                replay: &c.replay,
                drain: c.drain.as_ref(),
                labels: &c.labels,
            })
            .collect();
        let command = crate::export::command_line(
            std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned()),
        );
        match crate::export::write(target, &model, &command, &vectors) {
            Ok(stanzas) => exported = Some((dir.display().to_string(), stanzas)),
            Err(e) => return output::usage("replay", format_args!("--export: {e}")),
        }
    }
    let mut out = serde_json::json!({
        "dialect": model.dialect,
        "network": model.network,
        "mode": mode.as_str(),
        "counterexamples": cases,
        "all_reproduced": all,
    });
    if let Some((dir, stanzas)) = &exported {
        out["export"] =
            serde_json::json!({ "dir": dir, "vectors": cases.len(), "stanzas": stanzas });
    }
    output::finish("replay", args.check.json, &out, all, || {
        outln!(
            "kgroup replay: {} dialect, {} network, {} mode: {} counterexample(s)",
            model.dialect.as_str(),
            model.network,
            mode.as_str(),
            cases.len()
        );
        for c in &cases {
            let at = c
                .replay
                .broke_at
                .iter()
                .find(|(n, _)| *n == c.property)
                .map_or_else(|| "-".to_string(), |(_, s)| s.to_string());
            outln!(
                "  {:<24} {} steps: {} in the simulator (at step {at}; {} copies missing, {} unreadable)",
                c.property.name(),
                c.steps,
                if c.reproduced { "reproduced" } else { "NOT reproduced" },
                c.replay.missing,
                c.replay.malformed
            );
            if let Some(d) = &c.drain {
                outln!(
                    "      then a fair drain of {} steps: {}",
                    d.steps,
                    if d.quiescent {
                        "quiescent (NOT a counterexample)"
                    } else if d.repeated {
                        "back in a state it had passed: a livelock"
                    } else if d.stuck {
                        "nothing fair left to do, not quiescent: a deadlock"
                    } else {
                        "not quiescent by the bound"
                    }
                );
            }
            if let Some(cy) = &c.replay.cycle {
                outln!(
                    "      cycle of {} steps, {} rounds: {}, {}",
                    cy.steps,
                    cy.rounds,
                    if cy.returns {
                        "each round came back where it began"
                    } else {
                        "a round did NOT come back"
                    },
                    if cy.never_quiescent {
                        "never quiescent"
                    } else {
                        "passed a quiescent state"
                    }
                );
            }
            for v in c.replay.properties.iter().filter(|v| !v.holds) {
                if let Some(first) = &v.first {
                    // In the names the check's traces use.
                    let first = crate::check::named(&model, first);
                    outln!("      {}: {first}", v.property.name());
                }
            }
        }
        if let Some((dir, stanzas)) = &exported {
            outln!(
                "exported {} vector(s), {stanzas} stanza(s), to {dir} (see its README.md)",
                cases.len()
            );
        }
    })
}
