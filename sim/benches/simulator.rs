//! Simulator throughput: delivered stanzas per second in core-only mode, on one thread,
//! for groups of 10, 50 and 200 members, beside a floor measured in the same run: the
//! same number of events pushed through and popped from the simulator's calendar queue,
//! with no client behind them.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kgroup_sim::queue::Calendar;
use kgroup_sim::{run, SimConfig};

fn config(members: u32) -> SimConfig {
    SimConfig {
        seed: 1,
        clients: members * 4,
        members,
        groups: 4,
        messages: 20_000 / members,
        churn: 5,
        parts: 0,
        ..SimConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim-core");
    g.sample_size(10);
    for members in [10u32, 50, 200] {
        let cfg = config(members);
        let probe = run(cfg.clone()).expect("core mode needs no keys");
        assert!(
            probe.converged && probe.all_hold(),
            "the benchmarked run is sound"
        );
        g.throughput(Throughput::Elements(probe.delivered));
        g.bench_with_input(BenchmarkId::new("delivered", members), &cfg, |b, cfg| {
            b.iter(|| run(cfg.clone()).map(|r| r.delivered))
        });
        let events = probe.events;
        g.bench_with_input(
            BenchmarkId::new("queue-floor", members),
            &events,
            |b, &n| {
                b.iter(|| {
                    let mut q = Calendar::default();
                    let mut x: u64 = 88_172_645_463_325_252;
                    let mut now = 0;
                    let mut popped = 0u64;
                    for i in 0..n {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        q.push(now + 10 + x % 90, [i; 5]);
                        if i % 2 == 1 {
                            if let Some((at, v)) = q.pop() {
                                now = at;
                                popped += v[0];
                            }
                        }
                    }
                    while let Some((_, v)) = q.pop() {
                        popped += v[0];
                    }
                    popped
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
