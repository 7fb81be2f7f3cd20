//! Checker throughput: states explored per second by stateright on the hardened model
//! (owner + 3 members + adversary, unordered network, 2 threads). The comparison against a
//! trivial model in the same run is not here yet: a grid model stopped after its initial
//! states under stateright 0.31's BFS, and that needs understanding first.
//!
//! `cargo bench -p kgroup-model --bench checker`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kgroup::Dialect;
use kgroup_model::findings::churn_adversary;
use kgroup_model::Network;
use stateright::{Checker, Model};

fn explore<M>(model: M, threads: usize) -> usize
where
    M: Model + Send + Sync + 'static,
    M::State: std::hash::Hash + Send + Sync + Clone + std::fmt::Debug + PartialEq,
    M::Action: Send + Sync + Clone + std::fmt::Debug + PartialEq,
{
    let c = model.checker().threads(threads).spawn_bfs().join();
    c.state_count()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("checker");
    g.sample_size(10);
    let hardened = || churn_adversary(Dialect::Hardened, Network::Unordered);
    let states = explore(hardened(), 2) as u64;
    g.throughput(Throughput::Elements(states));
    g.bench_function(
        "hardened owner+3 members+adversary, unordered, 2 threads",
        |b| b.iter(|| explore(hardened(), 2)),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
