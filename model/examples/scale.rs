//! How far the group size goes: checks the `scale` workload (owner + N members, the default
//! workload of `kgroup check` grown with the group; see `findings::scale`) on the hardened
//! dialect and the unordered network, with or without symmetry reduction, and prints one
//! JSON line. Run it under `/usr/bin/time -v` for the peak memory.
//!
//! `cargo run --release -p kgroup-model --example scale -- MEMBERS [--symmetry] [--dialect D]
//! [--network N] [--threads T] [--max-states N]` (with `--max-states` the search stops after
//! that many unique states and says `"complete": false`).

use kgroup::Dialect;
use kgroup_model::check::{check_with, Options};
use kgroup_model::findings::scale;
use kgroup_model::Network;

/// The allocator of `kgroup check`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let members: u8 = args
        .first()
        .and_then(|a| a.parse().ok())
        .expect("usage: scale MEMBERS [--symmetry] [--dialect D] [--network N] [--threads T] [--max-states N]");
    let symmetry = args.iter().any(|a| a == "--symmetry");
    let dialect: Dialect = value("--dialect").map_or(Dialect::Hardened, |d| d.parse().unwrap());
    let network: Network = value("--network").map_or(Network::Unordered, |n| n.parse().unwrap());
    let threads: usize = value("--threads").map_or(2, |t| t.parse().unwrap());
    let max_states: Option<usize> = value("--max-states").map(|n| n.parse().unwrap());
    let model = scale(dialect, network, members);
    // The safety search only: the liveness graph is the full model's, which symmetry does
    // not reduce (`--liveness` adds it).
    let options = Options {
        threads,
        max_states,
        symmetry,
        liveness: args.iter().any(|a| a == "--liveness"),
        ..Options::default()
    };
    let r = check_with(&model, &options, |_| {});
    let verdicts: Vec<String> = r
        .properties
        .iter()
        .map(|p| match &p.counterexample {
            None => format!("\"{}\": {}", p.property.name(), p.holds),
            Some(t) => format!("\"{}\": {}", p.property.name(), t.len() - 1),
        })
        .collect();
    println!(
        "{{\"members\": {members}, \"dialect\": \"{}\", \"network\": \"{}\", \"symmetry\": {symmetry}, \"states\": {}, \"unique_states\": {}, \"max_depth\": {}, \"seconds\": {:.2}, \"complete\": {}, \"properties\": {{{}}}}}",
        r.dialect,
        r.network,
        r.states,
        r.unique_states,
        r.max_depth,
        r.seconds,
        r.complete,
        verdicts.join(", ")
    );
}
