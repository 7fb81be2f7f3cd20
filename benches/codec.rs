//! Stanza codec throughput on a generated corpus of mixed group stanzas (2–50 members):
//! decode and encode, against a bare quick-xml event loop over the same bytes (the floor
//! any quick-xml decoder pays), and against minidom parsing the same `<addresses>`.
//!
//! `cargo bench --bench codec` runs criterion on each over the first 10 000 stanzas (the
//! corpus is a uniform mix, so its prefix is representative and the run stays short), then
//! prints same-run ratios over the whole corpus (best of five full passes).
//! `KGROUP_BENCH_STANZAS` sets the corpus size (default 100 000).
//! `KGROUP_BENCH_PROFILE=decode` (or `encode`, `floor`) runs only that, 30 passes over the
//! corpus and nothing else, for a profiler (`perf record`, `valgrind --tool=callgrind`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use kgroup::codec::{Jid, Message};
use kgroup::{Command, Ext, GroupKey, Outgoing, Roster, Span, Stanza, Text};

/// A small deterministic generator (xorshift64*): the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 8] = [
    "hello", "group", "journey", "rocking", "&", "<tag>", "café", "😀",
];

fn text(r: &mut Rng, words: u64) -> Text {
    let n = 1 + r.below(words);
    let v: Vec<&str> = (0..n).map(|_| WORDS[r.below(8) as usize]).collect();
    Text::from(v.join(" "))
}

/// One stanza as the core would send it, then encoded by the codec.
fn stanza(r: &mut Rng, i: usize) -> String {
    let n = 2 + r.below(49) as usize; // 2..=50 members
    let members: Vec<Jid> = (0..n)
        .map(|k| {
            Jid::new(&format!(
                "user{}@server{}.example.org",
                (i * 7 + k * 13) % 5000,
                k % 7
            ))
            .unwrap()
        })
        .collect();
    let owner = members[0].clone();
    let others = members[1..].to_vec();
    let hardened = r.below(2) == 0;
    let epoch = r.below(1000);
    let seq = r.below(100_000);
    let kind = r.below(10);
    let (command, body) = match kind {
        0 => (
            Command::Create {
                subject: Some(text(r, 4)),
                members: others.clone(),
            },
            Some(text(r, 6)),
        ),
        1 => (
            Command::Set {
                subject: Some(text(r, 4)),
                add: vec![others[0].clone()],
                remove: vec![],
                members: others[1..].to_vec(),
            },
            Some(text(r, 6)),
        ),
        2 => (
            Command::Set {
                subject: None,
                add: vec![],
                remove: vec![others[0].clone()],
                members: vec![],
            },
            None,
        ),
        3 => (Command::Part, Some(text(r, 3))),
        _ => (Command::Message, Some(text(r, 20))),
    };
    let ext = hardened.then(|| match kind {
        0..=2 => Ext::Snapshot {
            epoch,
            seq,
            prev: kgroup::Digest::ZERO,
            subject: Some(text(r, 4)),
            roster: Roster {
                spans: members
                    .iter()
                    .map(|m| {
                        (
                            m.clone(),
                            vec![Span {
                                since: epoch.saturating_sub(3),
                                until: None,
                            }],
                        )
                    })
                    .collect(),
                ..Roster::default()
            },
        },
        _ => Ext::Stamp {
            epoch,
            seq,
            to: others.clone(),
        },
    });
    let out = Outgoing {
        to: others,
        stanza: Arc::new(Stanza {
            group: GroupKey::new(format!("group-{}", i % 997), owner.clone()),
            command,
            body,
            ext,
        }),
        resent: false,
    };
    let from = Jid::new(&format!("{owner}/phone")).unwrap();
    Message::from_outgoing(&out, &from).encode()
}

/// The same stanzas' `<addresses>` alone, in a root minidom accepts.
fn addresses_only(xml: &str) -> String {
    let start = xml.find("<addresses").unwrap();
    let end = xml.find("</addresses>").unwrap() + "</addresses>".len();
    format!(
        "<message xmlns='jabber:client'>{}</message>",
        &xml[start..end]
    )
}

/// The floor: quick-xml's plain event loop, touching every event.
fn quick_xml_loop(xml: &str) -> usize {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut n = 0;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => return n,
            Ok(e) => n += black_box(&e).len(),
            Err(_) => return n,
        }
    }
}

/// A fairer floor for a decoder: the namespace-aware loop that also reads every
/// attribute value, which any decoder of these elements must do.
fn quick_xml_ns_attrs_loop(xml: &str) -> usize {
    let mut r = quick_xml::NsReader::from_str(xml);
    let mut n = 0;
    loop {
        match r.read_resolved_event() {
            Ok((_, quick_xml::events::Event::Eof)) | Err(_) => return n,
            Ok((_, quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))) => {
                for a in e.attributes().flatten() {
                    n += a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_or(0, |v| v.len());
                }
            }
            Ok((_, e)) => n += black_box(&e).len(),
        }
    }
}

fn decode_all(corpus: &[String]) -> usize {
    corpus
        .iter()
        .map(|x| usize::from(Message::decode(x.as_bytes()).is_ok()))
        .sum()
}

fn minidom_all(corpus: &[String]) -> usize {
    corpus
        .iter()
        .map(|x| usize::from(x.parse::<minidom::Element>().is_ok()))
        .sum()
}

fn best_of(f: impl Fn() -> usize) -> Duration {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let profile = std::env::var("KGROUP_BENCH_PROFILE").ok();
    if let Some(what) = &profile {
        if !matches!(what.as_str(), "decode" | "encode" | "floor") {
            eprintln!("KGROUP_BENCH_PROFILE: `{what}` is not decode, encode or floor");
            std::process::exit(2);
        }
    }
    let n: usize = std::env::var("KGROUP_BENCH_STANZAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let corpus: Vec<String> = (0..n).map(|i| stanza(&mut r, i)).collect();
    let decoded: Vec<Message> = corpus
        .iter()
        .map(|x| Message::decode(x.as_bytes()).unwrap())
        .collect();
    let addrs: Vec<String> = corpus.iter().map(|x| addresses_only(x)).collect();
    let (corpus, addrs) = (&corpus[..], &addrs[..]);
    let bytes: u64 = corpus.iter().map(|x| x.len() as u64).sum();
    let addr_bytes: u64 = addrs.iter().map(|x| x.len() as u64).sum();
    assert_eq!(decode_all(addrs), n);
    assert_eq!(minidom_all(addrs), n, "minidom rejects the corpus");

    if let Some(what) = profile {
        for _ in 0..30 {
            black_box(match what.as_str() {
                "decode" => decode_all(corpus),
                "encode" => decoded.iter().map(|m| m.encode().len()).sum(),
                _ => corpus.iter().map(|x| quick_xml_loop(x)).sum(),
            });
        }
        return;
    }
    if std::env::var_os("KGROUP_BENCH_RATIOS_ONLY").is_some() {
        return ratios(n, corpus, &decoded, addrs, bytes, addr_bytes);
    }
    // Criterion iterates over a prefix; the ratios below use the whole corpus.
    let m = n.min(10_000);
    let (crit, crit_addrs, crit_decoded) = (&corpus[..m], &addrs[..m], &decoded[..m]);
    let crit_bytes: u64 = crit.iter().map(|x| x.len() as u64).sum();
    let crit_addr_bytes: u64 = crit_addrs.iter().map(|x| x.len() as u64).sum();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut g = c.benchmark_group(format!("codec/{m}-stanzas"));
        g.throughput(Throughput::Bytes(crit_bytes));
        g.bench_function("quick-xml event loop", |b| {
            b.iter(|| crit.iter().map(|x| quick_xml_loop(x)).sum::<usize>())
        });
        g.bench_function("quick-xml ns + attributes loop", |b| {
            b.iter(|| {
                crit.iter()
                    .map(|x| quick_xml_ns_attrs_loop(x))
                    .sum::<usize>()
            })
        });
        g.bench_function("decode", |b| b.iter(|| decode_all(crit)));
        g.bench_function("encode", |b| {
            b.iter(|| crit_decoded.iter().map(|m| m.encode().len()).sum::<usize>())
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group(format!("addresses/{m}-stanzas"));
        g.throughput(Throughput::Bytes(crit_addr_bytes));
        g.bench_function("quick-xml event loop", |b| {
            b.iter(|| crit_addrs.iter().map(|x| quick_xml_loop(x)).sum::<usize>())
        });
        g.bench_function("decode", |b| b.iter(|| decode_all(crit_addrs)));
        g.bench_function("minidom", |b| b.iter(|| minidom_all(crit_addrs)));
        g.finish();
    }
    c.final_summary();
    ratios(n, corpus, &decoded, addrs, bytes, addr_bytes);
}

/// Same-run ratios, best of five passes over the whole corpus.
fn ratios(
    n: usize,
    corpus: &[String],
    decoded: &[Message],
    addrs: &[String],
    bytes: u64,
    addr_bytes: u64,
) {
    let mb = |d: Duration, b: u64| b as f64 / d.as_secs_f64() / 1e6;
    let floor = best_of(|| corpus.iter().map(|x| quick_xml_loop(x)).sum());
    let floor2 = best_of(|| corpus.iter().map(|x| quick_xml_ns_attrs_loop(x)).sum());
    let dec = best_of(|| decode_all(corpus));
    let enc = best_of(|| decoded.iter().map(|m| m.encode().len()).sum());
    let a_floor = best_of(|| addrs.iter().map(|x| quick_xml_loop(x)).sum());
    let a_dec = best_of(|| decode_all(addrs));
    let a_dom = best_of(|| minidom_all(addrs));
    println!(
        "corpus: {n} stanzas, {:.1} MB ({} B mean); addresses alone {:.1} MB",
        bytes as f64 / 1e6,
        bytes / n as u64,
        addr_bytes as f64 / 1e6
    );
    println!(
        "quick-xml event loop  {:>8.1} MB/s  {:>7.0} ns/stanza",
        mb(floor, bytes),
        floor.as_nanos() as f64 / n as f64
    );
    println!(
        "ns + attributes loop  {:>8.1} MB/s  {:>7.0} ns/stanza",
        mb(floor2, bytes),
        floor2.as_nanos() as f64 / n as f64
    );
    println!("decode                {:>8.1} MB/s  {:>7.0} ns/stanza  {:.2}x the event loop, {:.2}x the ns + attributes loop", mb(dec, bytes), dec.as_nanos() as f64 / n as f64, dec.as_secs_f64() / floor.as_secs_f64(), dec.as_secs_f64() / floor2.as_secs_f64());
    println!(
        "encode                {:>8.1} MB/s  {:>7.0} ns/stanza  {:.2}x the event loop",
        mb(enc, bytes),
        enc.as_nanos() as f64 / n as f64,
        enc.as_secs_f64() / floor.as_secs_f64()
    );
    println!("addresses: event loop {:>8.1} MB/s, decode {:.1} MB/s ({:.2}x), minidom {:.1} MB/s ({:.2}x the event loop; decode is {:.2}x faster than minidom)",
        mb(a_floor, addr_bytes), mb(a_dec, addr_bytes), a_dec.as_secs_f64() / a_floor.as_secs_f64(),
        mb(a_dom, addr_bytes), a_dom.as_secs_f64() / a_floor.as_secs_f64(), a_dom.as_secs_f64() / a_dec.as_secs_f64());
}
