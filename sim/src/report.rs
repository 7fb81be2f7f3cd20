//! What a run reports: the CLI contract's JSON fields, and the same as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use kgroup_model::properties::Property;
use kgroup_model::Verdict;

use crate::config::{Latency, SimConfig};
use crate::judge::Judge;

/// Counts kept while the run goes.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Counters {
    /// Copies handed to a client's core.
    pub delivered: u64,
    /// Stanzas clients put on their uplink (retransmissions included).
    pub stanzas_sent: u64,
    pub dropped_up: u64,
    pub dropped_down: u64,
    pub duplicated: u64,
    /// Copies the server kept for an offline client.
    pub stored: u64,
    /// Uploads or recipients the server could not use.
    pub server_refused: u64,
    /// Copies a receiver could not decode (or, in `--encrypt` mode, open and verify).
    pub malformed: u64,
    /// `--encrypt`: stanzas the sender could not seal.
    pub seal_failed: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub crashes: u64,
    pub forged: u64,
    pub replayed: u64,
    /// Commands the malicious owner sent one member differently (`--equivocate`).
    pub equivocations: u64,
    /// Equivocation alarms clients raised (at most one per client and group).
    pub alarms: u64,
    /// Workload steps that could not happen (the actor was down or no longer a member).
    pub skipped: u64,
}

impl Counters {
    pub fn dropped(&self) -> u64 {
        self.dropped_up + self.dropped_down
    }
}

/// One point of the convergence curve.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    /// Mean over groups of the fraction of participants that hold the owner's view.
    pub agreement: f64,
    pub delivered: u64,
    pub dropped: u64,
}

/// What the run ended with; the input of [`SimReport::new`].
pub struct Outcome<'a> {
    pub events: u64,
    pub seconds: f64,
    pub end_ms: u64,
    pub quiescent: bool,
    pub converged: bool,
    pub convergence_time_ms: Option<u64>,
    pub last_command_ms: u64,
    pub counters: Counters,
    pub judge: &'a Judge,
    pub verdicts: Vec<Verdict>,
    pub samples: Vec<Sample>,
    pub peak_queue: usize,
    /// What one event takes in the queue.
    pub queue_entry_bytes: usize,
    /// Each client's persisted state at the end ([`kgroup::Client::persisted_bytes`]).
    pub persisted: Persisted,
    /// Ctrl-C stopped the run.
    pub interrupted: bool,
}

/// The size of what clients persist, over all clients.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Persisted {
    pub max_bytes: u64,
    pub mean_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Latencies {
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub max_ms: Option<u64>,
}

/// The report. `seed`, `converged`, `events`, `events_per_sec`, `delivered`, `dropped`,
/// `rejected`, `convergence_time_ms` and `properties` are the CLI contract.
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    pub seed: u64,
    pub dialect: kgroup::Dialect,
    pub mode: &'static str,
    pub converged: bool,
    pub quiescent: bool,
    pub events: u64,
    pub events_per_sec: f64,
    pub seconds: f64,
    pub delivered: u64,
    pub dropped: u64,
    /// Rejections by reason, as the core reported them.
    pub rejected: BTreeMap<&'static str, u64>,
    /// From the last owner command until every group agreed for good.
    pub convergence_time_ms: Option<u64>,
    pub last_command_ms: u64,
    pub end_ms: u64,
    pub messages_sent: usize,
    pub deliveries_expected: u64,
    pub message_latency: Latencies,
    pub gave_up: u64,
    pub counters: Counters,
    pub properties: Vec<Verdict>,
    /// Largest number of events queued at once, and what one takes in the queue.
    pub peak_queue: usize,
    pub queue_entry_bytes: usize,
    pub persisted: Persisted,
    pub config: SimConfig,
    /// Why the run says nothing about some properties, when it does not: the workload
    /// asked for messages and none was sent (the verdicts about messages are then
    /// `vacuous`), or nothing was delivered at all (every verdict is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vacuous: Option<String>,
    /// The run was stopped (Ctrl-C) before it drained; its verdicts are what it saw.
    pub interrupted: bool,
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// The properties judged on messages: with no message sent they say nothing.
const ON_MESSAGES: [Property; 5] = [
    Property::MemberFilter,
    Property::RemovedSilence,
    Property::AddressedAuthenticity,
    Property::ExactlyOnce,
    Property::NoLostMessages,
];

/// Marks the verdicts a run could not exercise as vacuous (a failure stands), and says why.
fn vacuity(
    cfg: &SimConfig,
    messages_sent: usize,
    delivered: u64,
    verdicts: &mut [Verdict],
) -> Option<String> {
    let (why, which): (&str, &[Property]) = if delivered == 0 {
        ("nothing was delivered", &Property::ALL)
    } else if cfg.messages > 0 && messages_sent == 0 {
        ("no message was sent", &ON_MESSAGES)
    } else {
        return None;
    };
    for v in verdicts.iter_mut() {
        if v.holds && which.contains(&v.property) {
            *v = Verdict::unsettled(v.property, kgroup_model::properties::Outcome::Vacuous);
        }
    }
    Some(why.to_string())
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied()
}

impl SimReport {
    pub fn new(cfg: &SimConfig, o: Outcome<'_>) -> SimReport {
        let mut lat = o.judge.latencies.clone();
        lat.sort_unstable();
        let mut verdicts = o.verdicts;
        if o.interrupted {
            // Judged at the end of a run that did not end: no verdict either way. What
            // broke on a transition before the stop stands.
            let at_end = [
                Property::ForkDetection,
                Property::Convergence,
                Property::NoLostMessages,
                Property::QuiescenceReachable,
                Property::Progress,
            ];
            for v in verdicts.iter_mut() {
                if v.holds || at_end.contains(&v.property) {
                    *v = Verdict::unsettled(
                        v.property,
                        kgroup_model::properties::Outcome::Undecided,
                    );
                }
            }
        }
        let vacuous = vacuity(
            cfg,
            o.judge.messages_sent(),
            o.counters.delivered,
            &mut verdicts,
        );
        SimReport {
            seed: cfg.seed,
            dialect: cfg.dialect,
            mode: cfg.mode.as_str(),
            converged: o.converged,
            quiescent: o.quiescent,
            events: o.events,
            events_per_sec: if o.seconds > 0.0 {
                (o.events as f64 / o.seconds).round()
            } else {
                0.0
            },
            seconds: (o.seconds * 1000.0).round() / 1000.0,
            delivered: o.counters.delivered,
            dropped: o.counters.dropped(),
            rejected: o
                .judge
                .rejected
                .iter()
                .map(|(r, n)| (r.as_str(), *n))
                .collect(),
            convergence_time_ms: o.convergence_time_ms,
            last_command_ms: o.last_command_ms,
            end_ms: o.end_ms,
            messages_sent: o.judge.messages_sent(),
            deliveries_expected: o.judge.expected_deliveries(),
            message_latency: Latencies {
                p50_ms: percentile(&lat, 0.5),
                p99_ms: percentile(&lat, 0.99),
                max_ms: lat.last().copied(),
            },
            gave_up: o.judge.gave_up,
            counters: o.counters,
            properties: verdicts,
            vacuous,
            interrupted: o.interrupted,
            peak_queue: o.peak_queue,
            queue_entry_bytes: o.queue_entry_bytes,
            persisted: o.persisted,
            config: cfg.clone(),
            samples: o.samples,
        }
    }

    /// Whether every property held.
    pub fn all_hold(&self) -> bool {
        self.properties.iter().all(|v| v.holds)
    }

    /// Some property failed.
    pub fn any_fails(&self) -> bool {
        use kgroup_model::properties::Outcome;
        self.properties.iter().any(|v| v.outcome == Outcome::Fails)
    }

    /// The CLI's exit code: 0 every property held, 1 one failed, 3 no verdict (the run was
    /// interrupted, or was vacuous: nothing it was asked to exercise happened).
    pub fn exit_code(&self) -> u8 {
        if self.any_fails() {
            1
        } else if self.all_hold() {
            0
        } else {
            3
        }
    }

    /// The report as text: one line per figure, then the verdicts.
    pub fn text(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let dialect = match c.mix.as_slice() {
            [] => format!("{} dialect", self.dialect.as_str()),
            mix => format!(
                "mixed dialects ({}, by client id)",
                mix.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            s,
            "kgroup sim: {dialect}, {} mode, seed {}",
            self.mode, self.seed
        );
        let _ = writeln!(
            s,
            "  {} clients, {} of {} members; per group {}, {}, {}{}",
            c.clients,
            count(c.groups.into(), "group"),
            c.members,
            count(c.messages.into(), "message"),
            count(c.churn.into(), "owner command"),
            count(c.parts.into(), "part"),
            match (c.forger, c.insider) {
                (true, true) => ", a forger and an insider",
                (true, false) => ", a forger",
                (false, true) => ", an insider",
                (false, false) => "",
            }
        );
        let _ = writeln!(
            s,
            "  network: loss {}, dup {}, {}, latency {}; offline {}, crashes {}, partitions {}",
            c.loss,
            c.dup,
            if c.reorder {
                "reordering"
            } else {
                "FIFO links"
            },
            match c.latency() {
                Latency::Uniform { min, max } => format!("{min}..{max} ms uniform"),
                Latency::Exponential { min, mean } => {
                    format!("{min} ms + exponential (mean {mean} ms)")
                }
            },
            c.offline,
            c.crashes,
            c.partition.len()
        );
        let _ = writeln!(
            s,
            "  {} events in {:.3} s ({:.0} events/s); simulated time {} ms",
            self.events, self.seconds, self.events_per_sec, self.end_ms
        );
        let _ = writeln!(
            s,
            "  persisted state per client: max {} bytes, mean {} bytes",
            self.persisted.max_bytes, self.persisted.mean_bytes
        );
        let k = &self.counters;
        let _ = writeln!(
            s,
            "  stanzas sent {}, delivered {}, dropped {} (uplink {}, downlink {}), duplicated {}, stored offline {}",
            k.stanzas_sent, self.delivered, self.dropped, k.dropped_up, k.dropped_down, k.duplicated, k.stored
        );
        if k.bytes_up + k.bytes_down > 0 {
            let _ = writeln!(
                s,
                "  bytes on the wire: {} up, {} down",
                k.bytes_up, k.bytes_down
            );
        }
        let rejected: Vec<String> = self
            .rejected
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let _ = writeln!(
            s,
            "  rejected: {}",
            if rejected.is_empty() {
                "none".to_string()
            } else {
                rejected.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "  messages: {} sent, {} deliveries expected; latency p50 {} ms, p99 {} ms; gave up {}",
            self.messages_sent,
            self.deliveries_expected,
            fmt_opt(self.message_latency.p50_ms),
            fmt_opt(self.message_latency.p99_ms),
            self.gave_up
        );
        let _ = writeln!(
            s,
            "  converged: {} (quiescent: {}); convergence time {} ms after the last owner command at {} ms",
            self.converged,
            self.quiescent,
            fmt_opt(self.convergence_time_ms),
            self.last_command_ms
        );
        if let Some(why) = &self.vacuous {
            let _ = writeln!(
                s,
                "  VACUOUS: {why}; the verdicts marked vacuous say nothing"
            );
        }
        if self.interrupted {
            let _ = writeln!(
                s,
                "  INTERRUPTED at {} ms simulated: the verdicts are what the run saw until then",
                self.end_ms
            );
        }
        for v in &self.properties {
            use kgroup_model::properties::Outcome;
            let _ = writeln!(
                s,
                "  {:<24} {}{}",
                v.property.name(),
                match v.outcome {
                    Outcome::Holds => "holds",
                    Outcome::Fails => "FAILS",
                    Outcome::Vacuous => "vacuous",
                    Outcome::Undecided => "undecided",
                },
                v.first
                    .as_ref()
                    .map(|f| format!(
                        " ({}; first: {f})",
                        count(v.violations.unwrap_or_default(), "violation")
                    ))
                    .unwrap_or_default()
            );
        }
        s
    }
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// `1 part`, `2 parts`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
