//! `kgroup replay`: finds the shortest counterexample of every property that fails on a
//! model (the same flags as `kgroup check`) and replays each through the simulator's
//! clients and judge, in core, wire (`--wire`) or encrypted (`--encrypt`) mode.
//!
//! Exit codes: 0 when every counterexample broke the same property in the simulator (or
//! there was none), 1 when one did not, 2 on bad usage.

use std::process::ExitCode;

use kgroup_model::check::{check, shortest_counterexamples};
use kgroup_model::Property;
use kgroup_sim::replay::{replay, Replayed};
use kgroup_sim::Mode;
use serde::Serialize;

use crate::check::CheckArgs;
use crate::output::{self, outln};

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    check: CheckArgs,
    /// Replay through the XML codec.
    #[arg(long, conflicts_with = "encrypt")]
    wire: bool,
    /// Replay through the codec and the OpenPGP envelope, with a key per client.
    #[arg(long)]
    encrypt: bool,
}

#[derive(Serialize)]
struct Case {
    property: Property,
    steps: usize,
    reproduced: bool,
    replay: Replayed,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let model = match args.check.model() {
        Ok(m) => m,
        Err(e) => return output::usage("replay", e),
    };
    crate::memory::watch(
        "replay",
        crate::memory::Budget::of(args.check.max_memory),
        String::new,
    );
    let mode = if args.encrypt {
        Mode::Encrypt
    } else if args.wire {
        Mode::Wire
    } else {
        Mode::Core
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
    let mut found: Vec<_> = shortest_counterexamples(&model, &failing)
        .into_iter()
        .collect();
    found.sort_by_key(|(property, _)| property.name());
    let mut cases = Vec::new();
    for (property, (_, path)) in found {
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
        });
    }
    let all = cases.iter().all(|c| c.reproduced) && cases.len() == failing.len();
    let out = serde_json::json!({
        "dialect": model.dialect,
        "network": model.network,
        "mode": mode.as_str(),
        "counterexamples": cases,
        "all_reproduced": all,
    });
    output::finish("replay", args.check.json, &out, all, || {
        outln!(
            "kgroup replay: {} dialect, {:?} network, {} mode: {} counterexample(s)",
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
            for v in c.replay.properties.iter().filter(|v| !v.holds) {
                if let Some(first) = &v.first {
                    outln!("      {}: {first}", v.property.name());
                }
            }
        }
    })
}
