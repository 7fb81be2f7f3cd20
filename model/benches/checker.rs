//! Checker throughput: states explored per second by stateright's breadth-first search on
//! 2 threads, for the hardened model (owner + 3 members + adversary, unordered network)
//! and, in the same run, for a trivial model (a grid walk) that measures what the checker
//! itself costs per state. Their ratio is the price of our model's transitions. Then the
//! default `kgroup check` with and without the liveness graph, in the same run.
//!
//! `cargo bench -p kgroup-model --bench checker`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kgroup::Dialect;
use kgroup_model::check::{check, check_with, Options};
use kgroup_model::findings::{churn_adversary, scale};
use kgroup_model::Network;
use stateright::{Checker, Model, Property};

/// The allocator `kgroup check` runs with: the checker builds and drops a state per
/// transition (and stateright copies a path per state), so the allocator is part of its
/// throughput. Both models below run on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A walk on a `side` × `side` grid: each step moves right or up. Its one property always
/// holds, which matters: stateright stops expanding states once every property has been
/// decided, so a model without properties stops after its initial states.
#[derive(Clone)]
struct Grid {
    side: u16,
}

impl Model for Grid {
    type State = (u16, u16);
    type Action = bool;

    fn init_states(&self) -> Vec<(u16, u16)> {
        vec![(0, 0)]
    }

    fn actions(&self, s: &(u16, u16), actions: &mut Vec<bool>) {
        if s.0 + 1 < self.side {
            actions.push(true);
        }
        if s.1 + 1 < self.side {
            actions.push(false);
        }
    }

    fn next_state(&self, s: &(u16, u16), right: bool) -> Option<(u16, u16)> {
        Some(if right {
            (s.0 + 1, s.1)
        } else {
            (s.0, s.1 + 1)
        })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(
            "on the grid",
            |m: &Grid, s: &(u16, u16)| s.0 < m.side && s.1 < m.side,
        )]
    }
}

fn explore<M>(model: M, threads: usize) -> (usize, usize)
where
    M: Model + Send + Sync + 'static,
    M::State: std::hash::Hash + Send + Sync + Clone + std::fmt::Debug + PartialEq,
    M::Action: Send + Sync + Clone + std::fmt::Debug + PartialEq,
{
    let c = model.checker().threads(threads).spawn_bfs().join();
    assert!(c.discoveries().is_empty(), "every property holds");
    (c.state_count(), c.unique_state_count())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("checker");
    g.sample_size(10);
    let hardened = || churn_adversary(Dialect::Hardened, Network::Unordered);
    let (states, unique) = explore(hardened(), 2);
    eprintln!("hardened: {states} states ({unique} unique)");
    g.throughput(Throughput::Elements(states as u64));
    g.bench_function(
        "hardened owner+3 members+adversary, unordered, 2 threads",
        |b| b.iter(|| explore(hardened(), 2)),
    );
    // About as many states as the hardened model generates.
    let grid = Grid { side: 270 };
    let (states, unique) = explore(grid.clone(), 2);
    eprintln!("grid: {states} states ({unique} unique)");
    g.throughput(Throughput::Elements(states as u64));
    g.bench_function("trivial grid walk, 2 threads", |b| {
        b.iter(|| explore(grid.clone(), 2))
    });
    // What the liveness analysis costs: `kgroup check`'s default model, checked in full
    // (the safety search, then the graph for quiescence-reachable and progress) and
    // without the graph, in the same run.
    let default = || scale(Dialect::Hardened, Network::Unordered, 3);
    let states = check(&default(), 2, None, |_| {}).states;
    g.throughput(Throughput::Elements(states as u64));
    for liveness in [false, true] {
        let options = Options {
            liveness,
            ..Options::default()
        };
        let name = if liveness {
            "kgroup check default, with the liveness graph"
        } else {
            "kgroup check default, safety search only"
        };
        g.bench_function(name, |b| {
            b.iter(|| check_with(&default(), &options, |_| {}))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
