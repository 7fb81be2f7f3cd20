//! What a simulated run does: the workload, the network's conditions and the mode, from
//! command-line flags or a TOML scenario file (flags win over the file).
//!
//! Every field has a default, so an empty scenario is a valid small run. Values are checked
//! here, once, with errors that name the field: a scenario file is untrusted input.

use std::fmt;

use kgroup::Dialect;
use serde::{Deserialize, Serialize};

/// How far a stanza goes through the real adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Typed stanzas only: the fastest, for large runs.
    #[default]
    Core,
    /// Every stanza is encoded to XML by its sender and decoded by every receiver.
    Wire,
    /// As `wire`, and the group payload travels in a signed OpenPGP envelope to every
    /// recipient; receivers act on the verified signer.
    Encrypt,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Core => "core",
            Mode::Wire => "wire",
            Mode::Encrypt => "encrypt",
        }
    }
}

/// The one-way latency of a hop (client → server or server → client), in milliseconds,
/// as the engine draws it: built by [`SimConfig::latency`] from `latency-ms` and
/// `latency-dist`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Uniform in `min..=max`.
    Uniform { min: u64, max: u64 },
    /// `min` plus an exponential tail with this mean: most stanzas fast, a few very late.
    Exponential { min: u64, mean: u64 },
}

/// How `latency-ms = "A..B"` is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyDist {
    /// Uniform in `A..=B`.
    #[default]
    Uniform,
    /// `A` plus an exponential tail of mean `B`.
    Exponential,
}

impl std::str::FromStr for LatencyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(LatencyDist::Uniform),
            "exponential" => Ok(LatencyDist::Exponential),
            _ => Err(format!("`{s}`: expected uniform or exponential")),
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "core" => Ok(Mode::Core),
            "wire" => Ok(Mode::Wire),
            "encrypt" => Ok(Mode::Encrypt),
            _ => Err(format!("`{s}`: expected core, wire or encrypt")),
        }
    }
}

/// Two numbers of milliseconds, written `A..B` (as flag and as TOML string alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span {
    pub a: u64,
    pub b: u64,
}

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("`{s}`: expected A..B"))?;
        let n = |v: &str| v.trim().parse::<u64>().map_err(|e| format!("`{v}`: {e}"));
        Ok(Span { a: n(a)?, b: n(b)? })
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        format!("{}..{}", s.a, s.b)
    }
}

/// A window in which some clients cannot reach the server and the server does not know:
/// whatever either side sends over those links is lost. Written `START..END:FRACTION` (as
/// flag and as TOML string alike).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Partition {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Fraction of all clients cut off, drawn at random when the window opens.
    pub fraction: f64,
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (range, fraction) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected START..END:FRACTION"))?;
        let Span { a, b } = range.parse()?;
        let fraction = fraction
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("`{fraction}`: {e}"))?;
        Ok(Partition {
            start_ms: a,
            end_ms: b,
            fraction,
        })
    }
}

impl TryFrom<String> for Partition {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Partition> for String {
    fn from(p: Partition) -> String {
        format!("{}..{}:{}", p.start_ms, p.end_ms, p.fraction)
    }
}

/// A complete run description. Its TOML keys are the names of `kgroup sim`'s flags
/// (`latency-ms`, `messages-per-group`, ...), and every value is written as the flag takes
/// it: `kgroup sim --print-scenario` writes one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SimConfig {
    pub dialect: Dialect,
    /// A mixed run: client `i` speaks `mix[i % mix.len()]` (owners included); empty, every
    /// client speaks `dialect`.
    pub mix: Vec<Dialect>,
    pub seed: u64,
    /// Clients in the whole run.
    pub clients: u32,
    /// Members of each group, the owner included.
    pub members: u32,
    pub groups: u32,
    /// Messages per group, from random current members.
    #[serde(rename = "messages-per-group")]
    pub messages: u32,
    /// Owner commands per group after the create: adds, removes and subject changes.
    pub churn: u32,
    /// Members per group that leave.
    pub parts: u32,
    /// The workload is spread over this window; the run then drains.
    pub duration_ms: u64,
    /// Probability that a hop loses a stanza.
    pub loss: f64,
    /// Probability that the server delivers a copy twice.
    pub dup: f64,
    /// Independent latencies per stanza; without it every link is FIFO.
    pub reorder: bool,
    /// One-way latency per hop: `A..B`, read as `latency_dist` says.
    pub latency_ms: Span,
    pub latency_dist: LatencyDist,
    /// Fraction of clients that go offline once during the workload (the server stores
    /// what arrives for them and forwards it when they come back).
    pub offline: f64,
    pub offline_ms: u64,
    /// Client crashes (random clients, random times); each restarts from its persisted
    /// state after `crash_ms`.
    pub crashes: u32,
    pub crash_ms: u64,
    pub partition: Vec<Partition>,
    /// One member per group forges owner commands and replays old owner stanzas.
    pub forger: bool,
    /// Stanzas each forger injects.
    pub forgeries: u32,
    /// One member per group is removed early, keeps its keys and turns insider: after its
    /// removal it sends backdated, reused-number, ahead-of-the-owner and unstamped
    /// messages, floods a member with stanzas of unknown groups, and re-seals what it
    /// received.
    pub insider: bool,
    /// Moves each insider makes.
    pub insider_moves: u32,
    /// Stanzas in one insider flood.
    pub flood: u32,
    /// Every group's owner is malicious: at its first change with two recipients or more,
    /// it sends one of them a different command (another subject) for the same epoch.
    pub equivocate: bool,
    /// Hardened retransmission: first timeout, and attempts before giving up (0: never).
    pub retransmit_ms: u64,
    pub max_attempts: u32,
    pub mode: Mode,
    /// After the workload, stop anyway at this much simulated time.
    pub drain_ms: u64,
    /// Points on the convergence curve (and plot).
    pub samples: u32,
}

impl SimConfig {
    /// The dialect client `id` speaks.
    pub fn dialect_of(&self, id: u32) -> Dialect {
        match self.mix.len() {
            0 => self.dialect,
            n => self.mix[id as usize % n],
        }
    }

    /// The latency the engine draws from: `latency-ms` read as `latency-dist` says.
    pub fn latency(&self) -> Latency {
        let Span { a, b } = self.latency_ms;
        match self.latency_dist {
            LatencyDist::Uniform => Latency::Uniform { min: a, max: b },
            LatencyDist::Exponential => Latency::Exponential { min: a, mean: b },
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dialect: Dialect::Hardened,
            mix: Vec::new(),
            seed: 1,
            clients: 20,
            members: 10,
            groups: 2,
            messages: 50,
            churn: 6,
            parts: 1,
            duration_ms: 10_000,
            loss: 0.0,
            dup: 0.0,
            reorder: false,
            latency_ms: Span { a: 10, b: 100 },
            latency_dist: LatencyDist::Uniform,
            offline: 0.0,
            offline_ms: 2_000,
            crashes: 0,
            crash_ms: 1_000,
            partition: Vec::new(),
            forger: false,
            forgeries: 4,
            insider: false,
            insider_moves: 12,
            flood: 200,
            equivocate: false,
            retransmit_ms: 1_000,
            max_attempts: 10,
            mode: Mode::Core,
            drain_ms: 600_000,
            samples: 200,
        }
    }
}

/// A value the run cannot use, naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn bad(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        problem: problem.into(),
    }
}

fn probability(field: &'static str, p: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(bad(field, format!("{p} is not a probability in 0..=1")))
    }
}

/// Upper bounds that keep a run within memory: well above any run the README describes.
pub const MAX_CLIENTS: u32 = 1_000_000;
pub const MAX_MEMBERS: u32 = 100_000;
pub const MAX_TIME_MS: u64 = 1_000_000_000;
pub const MAX_ENCRYPT_CLIENTS: u32 = 300;

/// Bytes per (group, member, member) entry in [`SimConfig::estimated_bytes`]: every
/// member holds a view of every member of its group (the creation alone is members² per
/// group), measured at about 105 bytes.
pub const BYTES_PER_VIEW_ENTRY: u64 = 128;
/// Bytes per copy of a message or owner command to one member (its delivery record),
/// measured at about 66 bytes.
pub const BYTES_PER_COPY: u64 = 80;

/// Bytes per certificate in a client's keyring with `encrypt` (every client holds every
/// client's certificate, parsed, with its indexes): measured at about 21 KiB (300 clients
/// took 1.8 GB).
pub const BYTES_PER_KEYRING_ENTRY: u64 = 24 << 10;

impl SimConfig {
    /// About how much memory the run needs, from its workload: every member's view of its
    /// group (`groups × members²` entries), every copy of every message and command
    /// (`groups × members × (messages + churn + forgeries)`), a little per member and per
    /// client, 32 MiB for the process, and with `encrypt` every client's keyring of every
    /// certificate. Measured runs (2 groups of 250 to 4000 members; 10 and 100 members with
    /// 200,000 and 80,000 messages; `encrypt` with 150 and 300 clients) used 75 to 90% of
    /// it: it errs high.
    pub fn estimated_bytes(&self) -> u64 {
        let (groups, members, clients) = (
            u64::from(self.groups),
            u64::from(self.members),
            u64::from(self.clients),
        );
        let insider = if self.insider {
            u64::from(self.insider_moves).saturating_mul(u64::from(self.flood).max(1))
        } else {
            0
        };
        let copies = u64::from(self.messages)
            + u64::from(self.churn)
            + u64::from(self.forgeries)
            + insider / u64::from(self.members.max(1));
        let per_member = members
            .saturating_mul(BYTES_PER_VIEW_ENTRY)
            .saturating_add(copies.saturating_mul(BYTES_PER_COPY))
            .saturating_add(1024);
        let keyrings = if self.mode == Mode::Encrypt {
            clients
                .saturating_mul(clients)
                .saturating_mul(BYTES_PER_KEYRING_ENTRY)
        } else {
            0
        };
        groups
            .saturating_mul(members)
            .saturating_mul(per_member)
            .saturating_add(clients.saturating_mul(4096))
            .saturating_add(keyrings)
            .saturating_add(32 << 20)
    }

    /// The scenario as its `key = value` lines, in field order, each value as TOML writes
    /// it (every value is a scalar or an inline array, so a field is one line).
    pub fn toml_lines(&self) -> Vec<(String, String)> {
        toml::to_string(self)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Parses a TOML scenario; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<SimConfig, ConfigError> {
        let cfg: SimConfig =
            toml::from_str(text).map_err(|e| bad("scenario", toml_error(text, &e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clients < 2 || self.clients > MAX_CLIENTS {
            return Err(bad("clients", format!("must be in 2..={MAX_CLIENTS}")));
        }
        if self.members < 2 || self.members > MAX_MEMBERS {
            return Err(bad("members", format!("must be in 2..={MAX_MEMBERS}")));
        }
        if self.members > self.clients {
            return Err(bad(
                "members",
                format!(
                    "a group of {} needs at least as many clients (have {})",
                    self.members, self.clients
                ),
            ));
        }
        if self.groups == 0 {
            return Err(bad("groups", "at least one group"));
        }
        let copies = u64::from(self.groups) * u64::from(self.members);
        if copies > 10_000_000 {
            return Err(bad(
                "groups",
                format!("groups × members = {copies} is above 10,000,000"),
            ));
        }
        probability("loss", self.loss)?;
        if self.loss >= 1.0 {
            return Err(bad("loss", "1.0 loses everything; use less than 1"));
        }
        probability("dup", self.dup)?;
        probability("offline", self.offline)?;
        match self.latency() {
            Latency::Uniform { min, max } if min > max => {
                return Err(bad("latency-ms", format!("min {min} is above max {max}")))
            }
            Latency::Uniform { max, .. } if max > MAX_TIME_MS => {
                return Err(bad("latency-ms", "above 1e9 ms"))
            }
            Latency::Exponential { min, mean } if min > MAX_TIME_MS || mean > MAX_TIME_MS => {
                return Err(bad("latency-ms", "above 1e9 ms"))
            }
            _ => {}
        }
        for (field, v) in [
            ("duration-ms", self.duration_ms),
            ("offline-ms", self.offline_ms),
            ("crash-ms", self.crash_ms),
            ("drain-ms", self.drain_ms),
            ("retransmit-ms", self.retransmit_ms),
        ] {
            if v > MAX_TIME_MS {
                return Err(bad(field, format!("{v} is above {MAX_TIME_MS}")));
            }
        }
        if self.duration_ms == 0 {
            return Err(bad("duration-ms", "must be positive"));
        }
        for p in &self.partition {
            probability("partition", p.fraction)?;
            if p.start_ms >= p.end_ms || p.end_ms > MAX_TIME_MS {
                return Err(bad(
                    "partition",
                    format!("window {}..{} is empty or too late", p.start_ms, p.end_ms),
                ));
            }
        }
        for (field, v) in [
            ("messages-per-group", self.messages),
            ("churn", self.churn),
            ("crashes", self.crashes),
            ("forgeries", self.forgeries),
            ("insider-moves", self.insider_moves),
            ("flood", self.flood),
        ] {
            if v > 10_000_000 {
                return Err(bad(field, format!("{v} is above 10,000,000")));
            }
        }
        if self.parts >= self.members {
            return Err(bad("parts", "must be below members"));
        }
        if self.samples == 0 || self.samples > 100_000 {
            return Err(bad("samples", "must be in 1..=100000"));
        }
        if self.mode == Mode::Encrypt && self.clients > MAX_ENCRYPT_CLIENTS {
            return Err(bad(
                "clients",
                format!("mode encrypt gives every client a keyring of every certificate: at most {MAX_ENCRYPT_CLIENTS} clients"),
            ));
        }
        Ok(())
    }
}

/// A TOML error in one line: where, and what (an unknown key with the key meant, if one
/// is close, rather than the list of all keys).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(String::new(), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}: ")
    });
    let message = e.message().trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        let known = SimConfig::default().toml_lines();
        let near = known
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|k| k.starts_with(key) || key.starts_with(*k) || k.replace('-', "_") == key);
        return match near {
            Some(k) => format!("{at}unknown key `{key}` (did you mean `{k}`?)"),
            None => format!(
                "{at}unknown key `{key}` (the keys are the flags of kgroup sim; see --print-scenario)"
            ),
        };
    }
    format!("{at}{}", message.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SimConfig::default().validate().unwrap();
    }

    #[test]
    fn scenario_overrides_and_rejects_unknown_keys() {
        let cfg = SimConfig::from_toml(
            "dialect = 'kontalk'\nclients = 40\nloss = 0.2\n\
             latency-ms = '5..40'\nlatency-dist = 'exponential'\n\
             partition = ['100..900:0.25']\nmessages-per-group = 7\n",
        )
        .unwrap();
        assert_eq!(cfg.dialect, Dialect::Kontalk);
        assert_eq!(cfg.clients, 40);
        assert_eq!(cfg.messages, 7);
        assert_eq!(cfg.latency(), Latency::Exponential { min: 5, mean: 40 });
        assert_eq!(
            cfg.partition,
            [Partition {
                start_ms: 100,
                end_ms: 900,
                fraction: 0.25
            }]
        );
        assert_eq!(cfg.members, SimConfig::default().members);

        let e = SimConfig::from_toml("clients = 40\nlos = 0.2\n").unwrap_err();
        assert_eq!(e.field, "scenario");
        assert!(e.problem.contains("los"), "{e}");
        // The keys are the flags' names, not the fields'.
        let e = SimConfig::from_toml("duration_ms = 5").unwrap_err();
        assert_eq!(
            e.problem,
            "line 1, column 1: unknown key `duration_ms` (did you mean `duration-ms`?)"
        );
        let e = SimConfig::from_toml("seed = 2\nlatency = '20..150'").unwrap_err();
        assert_eq!(
            e.problem,
            "line 2, column 1: unknown key `latency` (did you mean `latency-ms`?)"
        );
        let e = SimConfig::from_toml("latency-ms = '20..x'").unwrap_err();
        assert_eq!(
            e.problem,
            "line 1, column 14: `x`: invalid digit found in string"
        );
    }

    #[test]
    fn every_value_is_written_as_it_is_read() {
        let cfg = SimConfig {
            latency_dist: LatencyDist::Exponential,
            partition: vec!["5..70:0.5".parse().unwrap()],
            mix: vec![Dialect::Kontalk, Dialect::Hardened],
            mode: Mode::Wire,
            ..SimConfig::default()
        };
        let text = toml::to_string(&cfg).unwrap();
        assert!(text.contains("latency-ms = \"10..100\""), "{text}");
        assert!(text.contains("partition = [\"5..70:0.5\"]"), "{text}");
        assert_eq!(SimConfig::from_toml(&text).unwrap(), cfg);
    }

    #[test]
    fn the_estimate_grows_with_the_square_of_the_group() {
        let small = SimConfig::default().estimated_bytes();
        assert!(small < 64 << 20, "{small}");
        let big = SimConfig {
            clients: 30_000,
            members: 30_000,
            ..SimConfig::default()
        };
        // 2 groups × 30,000² view entries: far beyond any machine's memory.
        assert!(
            big.estimated_bytes() > 200 << 30,
            "{}",
            big.estimated_bytes()
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases: [(&str, &str); 6] = [
            ("loss = 1.5", "loss"),
            ("members = 30\nclients = 20", "members"),
            ("latency-ms = '9..3'", "latency-ms"),
            ("parts = 10", "parts"),
            ("partition = ['9..9:0.1']", "partition"),
            ("clients = 'many'", "scenario"),
        ];
        for (text, field) in cases {
            let e = SimConfig::from_toml(text).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
        }
    }
}
