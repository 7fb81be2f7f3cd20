//! Fan-out of the OpenPGP envelope: one multi-recipient envelope against one envelope per
//! recipient, and opening by the last recipient (kgroup's linear scan and sequoia's stock
//! decryptor), for N = 1, 10, 100, 1000 recipients and 1 KiB / 64 KiB payloads, each beside
//! the primitive floor (x25519 + key derivation + AES key wrap per recipient; x25519 + key
//! derivation + unwrap for opening) measured in the same run.
//!
//! Sealing is timed twice: `multi` is `seal` (session keys wrapped on the primitives for
//! v4 Cv25519 keys), `multi-sequoia` is `seal_sequoia` (sequoia's `Encryptor` throughout).
//!
//! `cargo bench --bench fanout` prints criterion's figures, then a table of per-recipient
//! costs and ratios to the floor read back from this run's estimates, and one of the bytes
//! each recipient costs on the wire against the 80 octets the floor produces.
//!
//! `flood` times opening a message behind 1,900 bogus PKESKs that name the reader's key
//! (and, apart, 1,900 wildcard ones), beside opening the same message without them in the
//! same run: the envelope tries a few and refuses the rest.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use kgroup::envelope::{open, open_stock, Suite};
use kgroup_testkit::fixture::Fanout;
use kgroup_testkit::hostile;

const NS: [usize; 4] = [1, 10, 100, 1000];
const SIZES: [usize; 2] = [1024, 65536];

/// Bytes one recipient adds at the least: the ephemeral X25519 key and the wrapped session
/// key (32 + 48 octets), what the floor produces.
const FLOOR_BYTES: f64 = 80.0;

/// Sizes of what was sealed: (payload, N, one envelope for all, one per recipient).
type Sizes = Vec<(usize, usize, usize, usize)>;

fn fanout(c: &mut Criterion) -> Sizes {
    let mut sizes = Sizes::new();
    let fixtures: Vec<(usize, Fanout)> = NS
        .iter()
        .map(|&n| (n, Fanout::new(n, Suite::Cv25519).expect("fixture")))
        .collect();
    let session = [0x5au8; 32];
    for size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut g = c.benchmark_group(format!("fanout-{}k", size / 1024));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for (n, fx) in &fixtures {
            let keys = fx.keys();
            let sealed = fx.seal_once(&keys, &payload).expect("seal");
            assert_eq!(open(&fx.last, &sealed).expect("open").plaintext, payload);
            let each = fx.seal_each(&keys, &payload).expect("seal each");
            sizes.push((size, *n, sealed.len(), each));
            g.bench_with_input(BenchmarkId::new("floor", n), n, |b, _| {
                b.iter(|| black_box(fx.floor_all(&session)))
            });
            g.bench_with_input(BenchmarkId::new("multi", n), n, |b, _| {
                b.iter(|| black_box(fx.seal_once(&keys, &payload)))
            });
            g.bench_with_input(BenchmarkId::new("multi-sequoia", n), n, |b, _| {
                b.iter(|| black_box(fx.seal_once_sequoia(&keys, &payload)))
            });
            g.bench_with_input(BenchmarkId::new("each", n), n, |b, _| {
                b.iter(|| black_box(fx.seal_each(&keys, &payload)))
            });
            let last = &fx.floors[n - 1];
            let (eph, wrapped) = last.wrap(&session);
            g.bench_with_input(BenchmarkId::new("unwrap-floor", n), n, |b, _| {
                b.iter(|| black_box(last.unwrap(&eph, &wrapped)))
            });
            g.bench_with_input(BenchmarkId::new("open", n), n, |b, _| {
                b.iter(|| black_box(open(&fx.last, &sealed)))
            });
            g.bench_with_input(BenchmarkId::new("open-stock", n), n, |b, _| {
                b.iter(|| black_box(open_stock(&fx.last, &sealed)))
            });
        }
        g.finish();
    }
    sizes
}

/// criterion's point estimate (mean, ns) of one benchmark of this run, if it ran.
fn estimate(group: &str, name: &str, n: usize) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(name)
        .join(n.to_string())
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn summary(sizes: &Sizes) {
    println!("\nper recipient (µs) and × the floor of the same run:");
    println!(
        "{:>8} {:>6} {:>8} {:>8} {:>7} {:>8} {:>7} {:>8} {:>7} {:>9} {:>9} {:>10}",
        "payload",
        "N",
        "floor",
        "multi",
        "×floor",
        "sequoia",
        "×floor",
        "each",
        "×floor",
        "open µs",
        "stock µs",
        "stock/open"
    );
    for size in SIZES {
        let group = format!("fanout-{}k", size / 1024);
        for n in NS {
            let get = |name| estimate(&group, name, n);
            let (Some(floor), Some(multi), Some(sequoia), Some(each), Some(open), Some(stock)) = (
                get("floor"),
                get("multi"),
                get("multi-sequoia"),
                get("each"),
                get("open"),
                get("open-stock"),
            ) else {
                continue;
            };
            let nf = n as f64;
            println!(
                "{:>7}k {:>6} {:>8.1} {:>8.1} {:>7.2} {:>8.1} {:>7.2} {:>8.1} {:>7.2} {:>9.1} {:>9.1} {:>10.1}",
                size / 1024,
                n,
                floor / nf / 1e3,
                multi / nf / 1e3,
                multi / floor,
                sequoia / nf / 1e3,
                sequoia / floor,
                each / nf / 1e3,
                each / floor,
                open / 1e3,
                stock / 1e3,
                stock / open
            );
        }
    }
    println!(
        "\nbytes per recipient and × the floor of {FLOOR_BYTES} (ephemeral key + wrapped session key):"
    );
    println!(
        "{:>8} {:>6} {:>10} {:>7} {:>12} {:>7}",
        "payload", "N", "one for all", "×floor", "one per each", "×floor"
    );
    for &(size, n, multi, each) in sizes {
        let (m, e) = (multi as f64 / n as f64, each as f64 / n as f64);
        println!(
            "{:>7}k {:>6} {:>10.1} {:>7.2} {:>12.1} {:>7.2}",
            size / 1024,
            n,
            m,
            m / FLOOR_BYTES,
            e,
            e / FLOOR_BYTES
        );
    }
}

/// How many bogus PKESKs the flood carries: about what fits under the stanza limit.
const FLOOD: usize = 1900;

fn flood(c: &mut Criterion) {
    let fx = Fanout::new(1, Suite::Cv25519).expect("fixture");
    let plain = fx.seal_once(&fx.keys(), b"<hello/>").expect("seal");
    let named = hostile::flood(&fx.sender, &fx.last, FLOOD, false);
    let wildcard = hostile::flood(&fx.sender, &fx.last, FLOOD, true);
    assert!(open(&fx.last, &plain).is_ok());
    let mut g = c.benchmark_group("flood");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (name, bytes) in [("open", &plain), ("named", &named), ("wildcard", &wildcard)] {
        g.bench_with_input(BenchmarkId::new(name, FLOOD), &FLOOD, |b, _| {
            b.iter(|| black_box(open(&fx.last, bytes)))
        });
    }
    g.finish();
}

fn flood_summary() {
    let Some(open) = estimate("flood", "open", FLOOD) else {
        return;
    };
    println!("\nopening behind {FLOOD} bogus PKESKs (µs) and × opening without them:");
    for name in ["named", "wildcard"] {
        if let Some(t) = estimate("flood", name, FLOOD) {
            println!("{name:>9} {:>9.1} {:>7.2}", t / 1e3, t / open);
        }
    }
    println!("{:>9} {:>9.1}", "open", open / 1e3);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let sizes = fanout(&mut c);
    flood(&mut c);
    c.final_summary();
    summary(&sizes);
    flood_summary();
}
