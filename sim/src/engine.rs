//! The discrete-event simulator: clients running the core, one XMPP server that fans out
//! multicast stanzas (XEP-0033) and stores what arrives for offline clients, and links
//! that lose, duplicate, delay and reorder.
//!
//! Time is simulated milliseconds. Events sit in one calendar queue ordered by (time,
//! insertion number), and every random draw comes from one ChaCha8 generator seeded by the
//! run's seed, in event order: the same seed replays the same run exactly, on any machine.
//!
//! A stanza in flight is an `Arc` of its payload plus a fixed-size header (recipient,
//! sender, time), so memory per in-flight copy does not grow with the group: a snapshot to
//! a thousand members is stored once.

use std::sync::Arc;

use kgroup::{
    Change, Client, Command, Config, Dialect, Ext, GroupKey, Intent, Outgoing, Output, Stanza,
    Status, Text,
};
use kgroup_model::Property;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Latency, Mode, SimConfig};
use crate::judge::{Id, Judge};
use crate::queue::Calendar;
use crate::report::{Counters, Outcome, Sample, SimReport};
use crate::wire;

/// What travels: the typed stanza, or its XML.
#[derive(Clone, Debug)]
pub enum Payload {
    Core(Arc<Stanza<Id>>),
    Xml(Arc<str>),
}

impl Payload {
    /// What `src` uploads for `out` in `mode`, with `from_attr` as the stanza's `from`:
    /// the typed stanza, its XML, or (with keyrings, `--encrypt`) its XML sealed by `src`.
    ///
    /// `android` (the message id and the time in seconds) makes an `android` client seal
    /// as the Android client does ([`wire::seal_upload_android`]).
    pub fn compose(
        mode: Mode,
        rings: Option<&[kgroup::envelope::Keyring]>,
        src: Id,
        from_attr: Id,
        out: &Outgoing<Id>,
        android: Option<(&str, u64)>,
    ) -> Result<Payload, String> {
        match (rings, mode) {
            (_, Mode::Core) => Ok(Payload::Core(out.stanza.clone())),
            (Some(rings), _) => match android {
                Some((id, secs)) => {
                    wire::seal_upload_android(out, from_attr, &rings[src as usize], id, secs)
                }
                None => wire::seal_upload(out, from_attr, &rings[src as usize]),
            }
            .map(|x| Payload::Xml(x.into())),
            (None, _) => Ok(Payload::Xml(wire::encode_upload(out, from_attr).into())),
        }
    }

    /// What recipient `to` reads from a copy signed by `src`: the signer (the verified
    /// OpenPGP signer with keyrings) and the stanza.
    pub fn read(
        &self,
        rings: Option<&[kgroup::envelope::Keyring]>,
        to: Id,
        src: Id,
    ) -> Result<(Id, Arc<Stanza<Id>>), wire::WireError> {
        match (self, rings) {
            (Payload::Core(s), _) => Ok((src, s.clone())),
            (Payload::Xml(xml), None) => wire::decode_copy(xml).map(|s| (src, Arc::new(s))),
            (Payload::Xml(xml), Some(rings)) => {
                wire::open_copy(xml, &rings[to as usize]).map(|(who, s)| (who, Arc::new(s)))
            }
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Payload::Core(_) => 0,
            Payload::Xml(x) => x.len() as u64,
        }
    }
}

/// A workload step.
#[derive(Clone, Copy, Debug)]
enum Act {
    Create(u32),
    Churn(u32),
    Message(u32),
    Part(u32),
    Forge(u32),
    Squat(u32),
    /// The owner removes the group's insider.
    Expel(u32),
    /// The insider's next move.
    Insider(u32),
}

/// An event the simulation schedules on its calendar.
#[derive(Clone, Debug)]
enum SimEvent {
    /// A client's stanza reaches the server. `src` signed it; `claimed` is the `from` the
    /// server will show (they differ only for forgeries).
    Upload {
        src: Id,
        claimed: Id,
        to: Arc<[Id]>,
        payload: Payload,
    },
    /// A copy reaches a client.
    Deliver {
        to: Id,
        src: Id,
        claimed: Id,
        payload: Payload,
    },
    Timer(Id),
    Act(Act),
    Offline(Id),
    Online(Id),
    Crash(Id),
    Restart(Id),
    PartitionOpen(usize),
    PartitionClose,
}

/// Bytes one in-flight copy occupies in the queue, whatever the group's size (its payload
/// is shared).
pub const QUEUE_ENTRY_BYTES: usize = std::mem::size_of::<SimEvent>();

struct Node {
    client: Client<Id>,
    /// Not crashed.
    up: bool,
    /// Connected to the server (the server stores what arrives while not).
    online: bool,
    /// Inside a partition: both directions silently lost.
    cut: bool,
    /// When the next timer event for this client is queued.
    timer_at: Option<u64>,
    /// Uploads composed while offline, sent on reconnection.
    outbox: Vec<(Arc<[Id]>, Payload)>,
    /// Server-side storage for this client while it is offline.
    stored: Vec<(Id, Id, Payload)>,
    /// FIFO links: the last arrival time on each direction.
    up_last: u64,
    down_last: u64,
    /// Owner stanzas this client received, with the copy as it arrived (an adversary
    /// replays them).
    heard: Vec<(Arc<Stanza<Id>>, Payload)>,
}

struct Plan {
    key: GroupKey<Id>,
    /// Clients that may join this group over the run.
    pool: Vec<Id>,
    initial: Vec<Id>,
    adversary: Option<Id>,
    /// A member removed early that turns insider, keeping its keys.
    insider: Option<Id>,
    insider_moves: u32,
    commands: u32,
    messages: u32,
    /// The owner has equivocated (`--equivocate`: once per group).
    equivocated: bool,
}

/// One simulated run.
pub struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    queue: Calendar<SimEvent>,
    nodes: Vec<Node>,
    plans: Vec<Plan>,
    judge: Judge,
    counters: Counters,
    samples: Vec<Sample>,
    sample_every: u64,
    next_sample: u64,
    workload_end: u64,
    last_command_at: u64,
    agreed_since: Option<u64>,
    peak_queue: usize,
    /// The owner's outputs, held until the judge has recorded what it issued.
    pending: Vec<Output<Id>>,
    /// The first disagreement found at the end, in words.
    example: Option<String>,
    /// Print every transition of this client to stderr.
    pub trace: Option<Id>,
    /// `--encrypt`: every client's keyring (its key and every other client's certificate).
    keyrings: Option<Vec<kgroup::envelope::Keyring>>,
}

fn config_of(cfg: &SimConfig, id: Id) -> Config {
    let mut c = Config::new(cfg.dialect_of(id));
    c.retransmit_ms = cfg.retransmit_ms.max(1);
    c.max_attempts = (cfg.max_attempts > 0).then_some(cfg.max_attempts);
    c
}

impl Sim {
    /// Sets up the run: draws the groups and schedules the whole workload; in `--encrypt`
    /// mode, generates every client's key first.
    pub fn new(cfg: SimConfig) -> Result<Self, String> {
        let keyrings = match cfg.mode {
            Mode::Encrypt => Some(wire::keyrings(cfg.clients)?),
            _ => None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let nodes = (0..cfg.clients)
            .map(|id| Node {
                client: Client::new(id, config_of(&cfg, id)),
                up: true,
                online: true,
                cut: false,
                timer_at: None,
                outbox: Vec::new(),
                stored: Vec::new(),
                up_last: 0,
                down_last: 0,
                heard: Vec::new(),
            })
            .collect();
        let all: Vec<Id> = (0..cfg.clients).collect();
        let mut plans = Vec::new();
        for g in 0..cfg.groups {
            let mut pool = all.clone();
            pool.shuffle(&mut rng);
            // The group's possible members: its initial members plus as many candidates
            // for adds as churn may need.
            let extra = (cfg.churn as usize).min(pool.len() - cfg.members as usize);
            pool.truncate(cfg.members as usize + extra);
            let owner = pool[0];
            let initial = pool[1..cfg.members as usize].to_vec();
            let adversary = if cfg.forger {
                initial.choose(&mut rng).copied()
            } else {
                None
            };
            let insider = if cfg.insider {
                let others: Vec<Id> = initial
                    .iter()
                    .copied()
                    .filter(|m| Some(*m) != adversary)
                    .collect();
                others.choose(&mut rng).copied()
            } else {
                None
            };
            plans.push(Plan {
                key: GroupKey::new(format!("g{g}"), owner),
                pool,
                initial,
                adversary,
                insider,
                insider_moves: 0,
                equivocated: false,
                commands: 0,
                messages: 0,
            });
        }
        let samples = cfg.samples;
        let mut sim = Sim {
            judge: Judge::new(cfg.groups),
            sample_every: (cfg.duration_ms / u64::from(samples)).max(1),
            workload_end: cfg.duration_ms,
            cfg,
            rng,
            now: 0,
            queue: Calendar::default(),
            nodes,
            plans,
            counters: Counters::default(),
            samples: Vec::new(),
            next_sample: 0,
            last_command_at: 0,
            agreed_since: None,
            peak_queue: 0,
            pending: Vec::new(),
            example: None,
            trace: None,
            keyrings,
        };
        sim.schedule_workload();
        Ok(sim)
    }

    fn push(&mut self, at: u64, ev: SimEvent) {
        self.queue.push(at, ev);
    }

    fn schedule_workload(&mut self) {
        let d = self.cfg.duration_ms;
        let start = (d / 10).max(1);
        for g in 0..self.cfg.groups {
            let created = self.rng.random_range(0..start);
            self.push(created, SimEvent::Act(Act::Create(g)));
            let later = |rng: &mut ChaCha8Rng| rng.random_range(created + 1..=d.max(created + 1));
            for _ in 0..self.cfg.churn {
                let t = later(&mut self.rng);
                self.push(t, SimEvent::Act(Act::Churn(g)));
            }
            for _ in 0..self.cfg.messages {
                let t = later(&mut self.rng);
                self.push(t, SimEvent::Act(Act::Message(g)));
            }
            for _ in 0..self.cfg.parts {
                let t = later(&mut self.rng);
                self.push(t, SimEvent::Act(Act::Part(g)));
            }
            if self.plans[g as usize].insider.is_some() {
                // Removed early; its moves come after (a move before the removal is a
                // member's own business, and is skipped).
                let expel = later(&mut self.rng).min(created + 1 + start);
                self.push(expel, SimEvent::Act(Act::Expel(g)));
                for _ in 0..self.cfg.insider_moves {
                    let t = self.rng.random_range(expel + 1..=d.max(expel + 1));
                    self.push(t, SimEvent::Act(Act::Insider(g)));
                }
            }
            if self.plans[g as usize].adversary.is_some() {
                // The squat races the create: some clients see one first, some the other.
                let t = self.rng.random_range(0..start);
                self.push(t, SimEvent::Act(Act::Squat(g)));
                for _ in 0..self.cfg.forgeries {
                    let t = later(&mut self.rng);
                    self.push(t, SimEvent::Act(Act::Forge(g)));
                }
            }
        }
        for c in 0..self.cfg.clients {
            if self.cfg.offline > 0.0 && self.rng.random_bool(self.cfg.offline) {
                let t = self.rng.random_range(0..d);
                self.push(t, SimEvent::Offline(c));
                self.push(t + self.cfg.offline_ms, SimEvent::Online(c));
            }
        }
        for _ in 0..self.cfg.crashes {
            let c = self.rng.random_range(0..self.cfg.clients);
            let t = self.rng.random_range(0..d);
            self.push(t, SimEvent::Crash(c));
            self.push(t + self.cfg.crash_ms.max(1), SimEvent::Restart(c));
        }
        for i in 0..self.cfg.partition.len() {
            let p = self.cfg.partition[i];
            self.push(p.start_ms, SimEvent::PartitionOpen(i));
            self.push(p.end_ms, SimEvent::PartitionClose);
        }
    }

    /// When a copy sent now on one of `node`'s links (`last`: the link's latest arrival)
    /// arrives: after a drawn latency, and, unless the network reorders, not before the
    /// copy sent on that link before it (FIFO links).
    fn arrival(&mut self, node: Id, last: fn(&mut Node) -> &mut u64) -> u64 {
        let mut at = self.now + self.latency();
        if !self.cfg.reorder {
            let last = last(&mut self.nodes[node as usize]);
            at = at.max(*last);
            *last = at;
        }
        at
    }

    fn latency(&mut self) -> u64 {
        match self.cfg.latency() {
            Latency::Uniform { min, max } => self.rng.random_range(min..=max),
            Latency::Exponential { min, mean } => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                min + (-(mean as f64) * u.ln()).min(1e9) as u64
            }
        }
    }

    fn lost(&mut self) -> bool {
        self.cfg.loss > 0.0 && self.rng.random_bool(self.cfg.loss)
    }

    /// Runs to quiescence (or the time limit) and reports.
    pub fn run(self, mut progress: impl FnMut(u64, u64)) -> SimReport {
        self.run_until(|now, events| {
            progress(now, events);
            std::ops::ControlFlow::Continue(())
        })
    }

    /// [`Sim::run`], told the simulated time and the events so far every 1,024 events; it
    /// stops where `progress` breaks (Ctrl-C), with the report of what it saw, marked
    /// interrupted.
    pub fn run_until(
        mut self,
        mut progress: impl FnMut(u64, u64) -> std::ops::ControlFlow<()>,
    ) -> SimReport {
        let started = std::time::Instant::now();
        let mut interrupted = false;
        let limit = self.workload_end.saturating_add(self.cfg.drain_ms);
        let mut events: u64 = 0;
        let mut timed_out = false;
        while let Some((at, ev)) = self.queue.pop() {
            if at > limit {
                // A timer left armed by a client that has since nothing to do changes
                // nothing: it does not keep the run from having drained.
                if let SimEvent::Timer(c) = &ev {
                    if self.nodes[*c as usize].client.poll_timeout().is_none() {
                        continue;
                    }
                }
                timed_out = true;
                break;
            }
            self.sample_until(at);
            self.now = at;
            events += 1;
            self.handle(ev);
            self.peak_queue = self.peak_queue.max(self.queue.len());
            if events % 1024 == 0 && progress(self.now, events).is_break() {
                interrupted = true;
                break;
            }
        }
        self.sample_until(self.now);
        let seconds = started.elapsed().as_secs_f64();
        self.finish(events, seconds, timed_out || interrupted, interrupted)
    }

    fn sample_until(&mut self, t: u64) {
        while self.next_sample <= t {
            let owners: Vec<Id> = self.plans.iter().map(|p| p.key.owner).collect();
            self.samples.push(Sample {
                t_ms: self.next_sample,
                agreement: self.judge.agreement(&owners),
                delivered: self.counters.delivered,
                dropped: self.counters.dropped(),
            });
            self.next_sample += self.sample_every;
            if self.samples.len() >= (64 * self.cfg.samples as usize).max(20_000) {
                // A long drain: halve the resolution rather than grow without end.
                self.samples = self.samples.iter().step_by(2).cloned().collect();
                self.sample_every *= 2;
                let last = self.samples.last().map_or(0, |s| s.t_ms);
                self.next_sample = last + self.sample_every;
            }
        }
    }

    fn handle(&mut self, ev: SimEvent) {
        match ev {
            SimEvent::Upload {
                src,
                claimed,
                to,
                payload,
            } => self.server_receive(src, claimed, to, payload),
            SimEvent::Deliver {
                to,
                src,
                claimed,
                payload,
            } => self.deliver(to, src, claimed, payload),
            SimEvent::Timer(c) => {
                let n = &mut self.nodes[c as usize];
                if n.timer_at != Some(self.now) || !n.up {
                    return;
                }
                n.timer_at = None;
                let mut out = Vec::new();
                n.client.handle_timeout(self.now, &mut out);
                self.absorb(c, None, out);
            }
            SimEvent::Act(a) => self.act(a),
            SimEvent::Offline(c) => self.nodes[c as usize].online = false,
            SimEvent::Online(c) => self.reconnect(c),
            SimEvent::Crash(c) => {
                let n = &mut self.nodes[c as usize];
                if n.up {
                    n.up = false;
                    n.online = false;
                    n.timer_at = None;
                    // What the client had not persisted is gone; it persists before it
                    // sends, so its queued uploads survive.
                    self.counters.crashes += 1;
                }
            }
            SimEvent::Restart(c) => {
                let n = &mut self.nodes[c as usize];
                if !n.up {
                    n.client = Client::restore(c, *n.client.config(), n.client.durable());
                    n.up = true;
                    self.reconnect(c);
                    self.rearm(c);
                }
            }
            SimEvent::PartitionOpen(i) => {
                let k = (self.cfg.partition[i].fraction * f64::from(self.cfg.clients)) as usize;
                let mut all: Vec<Id> = (0..self.cfg.clients).collect();
                all.shuffle(&mut self.rng);
                for c in all.into_iter().take(k) {
                    self.nodes[c as usize].cut = true;
                }
            }
            SimEvent::PartitionClose => {
                let open = self
                    .cfg
                    .partition
                    .iter()
                    .any(|p| p.start_ms <= self.now && self.now < p.end_ms);
                if !open {
                    for n in &mut self.nodes {
                        n.cut = false;
                    }
                }
            }
        }
    }

    fn reconnect(&mut self, c: Id) {
        let n = &mut self.nodes[c as usize];
        if !n.up {
            return;
        }
        n.online = true;
        let stored = std::mem::take(&mut n.stored);
        let outbox = std::mem::take(&mut n.outbox);
        for (src, claimed, payload) in stored {
            self.send_down(c, src, claimed, payload);
        }
        for (to, payload) in outbox {
            self.send_up(c, c, to, payload);
        }
    }

    /// Client → server.
    fn send_up(&mut self, src: Id, claimed: Id, to: Arc<[Id]>, payload: Payload) {
        self.counters.stanzas_sent += 1;
        self.counters.bytes_up += payload.bytes();
        let n = &self.nodes[src as usize];
        if !n.online || !n.up {
            self.nodes[src as usize].outbox.push((to, payload));
            return;
        }
        if n.cut || self.lost() {
            self.counters.dropped_up += 1;
            return;
        }
        let at = self.arrival(src, |n| &mut n.up_last);
        self.push(
            at,
            SimEvent::Upload {
                src,
                claimed,
                to,
                payload,
            },
        );
    }

    /// The server fans a stanza out (XEP-0033) to every recipient.
    fn server_receive(&mut self, src: Id, claimed: Id, to: Arc<[Id]>, payload: Payload) {
        let (to, payload) = match payload {
            Payload::Xml(xml) => match wire::server_fanout(&xml) {
                Ok((to, copy)) => (Arc::from(to), Payload::Xml(copy.into())),
                Err(_) => {
                    self.counters.server_refused += 1;
                    return;
                }
            },
            p => (to, p),
        };
        for &r in to.iter() {
            if r >= self.cfg.clients {
                self.counters.server_refused += 1;
                continue;
            }
            self.send_down(r, src, claimed, payload.clone());
            if self.cfg.dup > 0.0 && self.rng.random_bool(self.cfg.dup) {
                self.counters.duplicated += 1;
                self.send_down(r, src, claimed, payload.clone());
            }
        }
    }

    /// Server → client, or into the server's offline storage.
    fn send_down(&mut self, to: Id, src: Id, claimed: Id, payload: Payload) {
        let n = &self.nodes[to as usize];
        if !n.online {
            self.counters.stored += 1;
            self.nodes[to as usize].stored.push((src, claimed, payload));
            return;
        }
        if n.cut || self.lost() {
            self.counters.dropped_down += 1;
            return;
        }
        let at = self.arrival(to, |n| &mut n.down_last);
        self.counters.bytes_down += payload.bytes();
        self.push(
            at,
            SimEvent::Deliver {
                to,
                src,
                claimed,
                payload,
            },
        );
    }

    fn deliver(&mut self, to: Id, src: Id, claimed: Id, payload: Payload) {
        let n = &self.nodes[to as usize];
        if !n.up || !n.online {
            // Arrived as the connection went: the server keeps it.
            self.counters.stored += 1;
            self.nodes[to as usize].stored.push((src, claimed, payload));
            return;
        }
        let (signer, stanza) = match payload.read(self.keyrings.as_deref(), to, src) {
            Ok(read) => read,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        self.counters.delivered += 1;
        // kontalk and android trust the `from` the server shows; hardened acts on the
        // signer (the verified OpenPGP signer in `--encrypt` mode).
        let from = if self.cfg.dialect_of(to).trusts_server_from() {
            claimed
        } else {
            signer
        };
        let key = stanza.group.clone();
        let insider = self
            .plans
            .iter()
            .any(|p| p.insider == Some(to) && p.key == key);
        if (src == key.owner
            && matches!(stanza.command, Command::Create { .. } | Command::Set { .. }))
            || (insider && src != to && stanza.body.is_some())
        {
            let heard = &mut self.nodes[to as usize].heard;
            if heard.len() < 64 {
                heard.push((stanza.clone(), payload.clone()));
            }
        }
        if self.trace == Some(to) {
            eprintln!(
                "{:>8} ms c{to} <- c{from} (signer c{src}): {:?}",
                self.now, stanza
            );
        }
        let mut out = Vec::new();
        self.nodes[to as usize]
            .client
            .receive(from, stanza, self.now, &mut out);
        self.absorb(to, Some((&key, src, from)), out);
    }

    /// Judges a transition's outputs and sends what it asks.
    fn absorb(&mut self, c: Id, received: Option<(&GroupKey<Id>, Id, Id)>, out: Vec<Output<Id>>) {
        if self.trace == Some(c) {
            for o in &out {
                eprintln!("{:>8} ms c{c} -> {o:?}", self.now);
            }
        }
        self.judge
            .observe(c, &self.nodes[c as usize].client, received, &out, self.now);
        let mut view_changed = false;
        for o in out {
            match o {
                Output::Send(s) => {
                    if let Some(payload) = self.payload(c, c, &s) {
                        self.send_up(c, c, s.to.into(), payload);
                    }
                }
                Output::Changed { .. } => view_changed = true,
                Output::Equivocation { .. } => self.counters.alarms += 1,
                _ => {}
            }
        }
        if view_changed {
            self.check_agreement();
        }
        self.rearm(c);
    }

    /// What `src` puts on its uplink for `s`, with `from_attr` as the stanza's `from`.
    fn payload(&mut self, src: Id, from_attr: Id, s: &Outgoing<Id>) -> Option<Payload> {
        // An android client's message id: unique in the run, from the seed alone.
        let id = format!("c{src}m{}", self.counters.stanzas_sent);
        let android = (self.cfg.dialect_of(src) == Dialect::Android)
            .then_some((id.as_str(), self.now / 1000));
        match Payload::compose(
            self.cfg.mode,
            self.keyrings.as_deref(),
            src,
            from_attr,
            s,
            android,
        ) {
            Ok(p) => Some(p),
            Err(_) => {
                self.counters.seal_failed += 1;
                None
            }
        }
    }

    fn rearm(&mut self, c: Id) {
        let n = &mut self.nodes[c as usize];
        if !n.up {
            return;
        }
        let due = n.client.poll_timeout().map(|t| t.max(self.now));
        if due.is_some() && due != n.timer_at && n.timer_at.is_none_or(|t| due < Some(t)) {
            n.timer_at = due;
            if let Some(t) = due {
                self.push(t, SimEvent::Timer(c));
            }
        }
    }

    fn check_agreement(&mut self) {
        if self.judge.all_agree() {
            self.agreed_since.get_or_insert(self.now);
        } else {
            self.agreed_since = None;
        }
    }

    // ---- the workload ---------------------------------------------------------------

    fn act(&mut self, a: Act) {
        match a {
            Act::Create(g) => {
                let p = &self.plans[g as usize];
                let (key, members) = (p.key.clone(), p.initial.clone());
                let subject: Text = format!("g{g}").into();
                let intent = Intent::Create {
                    id: key.id.clone(),
                    members: members.clone(),
                    subject: Some(subject.clone()),
                    body: None,
                };
                if self.owner_acts(g, intent) {
                    self.judge.created(g, key, &members, Some(subject));
                }
                self.flush_owner(g);
            }
            Act::Churn(g) => self.churn(g),
            Act::Message(g) => self.message(g),
            Act::Part(g) => self.part(g),
            Act::Forge(g) => self.forge(g),
            Act::Squat(g) => self.squat(g),
            Act::Expel(g) => self.expel(g),
            Act::Insider(g) => self.insider(g),
        }
    }

    /// The owner acts; its outputs are held back until the judge knows the truth.
    fn owner_acts(&mut self, g: u32, intent: Intent<Id>) -> bool {
        let owner = self.plans[g as usize].key.owner;
        let n = &mut self.nodes[owner as usize];
        if !n.up {
            self.counters.skipped += 1;
            return false;
        }
        let mut out = Vec::new();
        match n.client.act(intent, self.now, &mut out) {
            Ok(()) => {
                self.pending = out;
                self.plans[g as usize].commands += 1;
                self.last_command_at = self.now;
                true
            }
            Err(e) => {
                if e == kgroup::LocalError::WrongOwner {
                    self.judge.locked_out(g, owner, self.now);
                }
                self.counters.skipped += 1;
                false
            }
        }
    }

    fn flush_owner(&mut self, g: u32) {
        let owner = self.plans[g as usize].key.owner;
        let out = std::mem::take(&mut self.pending);
        if !out.is_empty() {
            self.absorb(owner, None, out);
        }
    }

    fn churn(&mut self, g: u32) {
        let p = &self.plans[g as usize];
        let owner = p.key.owner;
        let Some(view) = self.nodes[owner as usize].client.view(&p.key) else {
            self.counters.skipped += 1;
            return;
        };
        let outsiders: Vec<Id> = p
            .pool
            .iter()
            .copied()
            .filter(|c| !view.members.contains(c))
            .collect();
        let outsiders: Vec<Id> = outsiders
            .into_iter()
            .filter(|c| Some(*c) != p.insider)
            .collect();
        let removable: Vec<Id> = view
            .members
            .iter()
            .copied()
            .filter(|m| *m != owner && Some(*m) != p.adversary && Some(*m) != p.insider)
            .collect();
        let roll: f64 = self.rng.random();
        let mut change = Change::default();
        if roll < 0.4 && !outsiders.is_empty() {
            change
                .add
                .push(*outsiders.choose(&mut self.rng).unwrap_or(&owner));
        } else if roll < 0.75 && removable.len() > 1 {
            change
                .remove
                .push(*removable.choose(&mut self.rng).unwrap_or(&owner));
        } else {
            let n = self.plans[g as usize].commands;
            change.subject = Some(format!("g{g} subject {n}").into());
        }
        let intent = Intent::Set {
            id: self.plans[g as usize].key.id.clone(),
            change: change.clone(),
            body: None,
        };
        if self.owner_acts(g, intent) {
            self.judge
                .changed(g, &change.add, &change.remove, change.subject.clone());
            if self.cfg.equivocate && !self.plans[g as usize].equivocated {
                self.equivocate(g);
            }
        }
        self.flush_owner(g);
    }

    /// The malicious owner: of the command it just composed, one recipient gets a
    /// different one, the same but for the subject (same epoch, same sequence number).
    fn equivocate(&mut self, g: u32) {
        let Some(i) = self.pending.iter().position(|o| {
            matches!(o, Output::Send(s) if s.to.len() >= 2
                && matches!(s.stanza.command, Command::Set { .. }))
        }) else {
            return;
        };
        let Output::Send(s) = &mut self.pending[i] else {
            return;
        };
        let k = self.rng.random_range(0..s.to.len());
        let victim = s.to.remove(k);
        let forged: Text = format!("g{g} forged").into();
        let mut stanza = (*s.stanza).clone();
        kgroup_model::model::forge_subject(&mut stanza, &forged);
        self.pending.push(Output::Send(kgroup::Outgoing {
            to: vec![victim],
            stanza: Arc::new(stanza),
            resent: false,
        }));
        self.plans[g as usize].equivocated = true;
        self.counters.equivocations += 1;
        self.judge.equivocated(g, forged);
    }

    /// A random current member (by its own view) of group `g`, other than the adversary.
    fn random_member(&mut self, g: u32, owner_too: bool) -> Option<Id> {
        let p = &self.plans[g as usize];
        let view = self.nodes[p.key.owner as usize].client.view(&p.key)?;
        let candidates: Vec<Id> = view
            .members
            .iter()
            .copied()
            .filter(|m| {
                (owner_too || *m != p.key.owner) && Some(*m) != p.adversary && Some(*m) != p.insider
            })
            .collect();
        candidates.choose(&mut self.rng).copied()
    }

    fn message(&mut self, g: u32) {
        let Some(c) = self.random_member(g, true) else {
            self.counters.skipped += 1;
            return;
        };
        let key = self.plans[g as usize].key.clone();
        let n = &self.nodes[c as usize];
        let view = match n.client.view(&key) {
            Some(v) if n.up && v.status == Status::Member => v,
            _ => {
                self.counters.skipped += 1;
                return;
            }
        };
        let k = self.plans[g as usize].messages;
        self.plans[g as usize].messages += 1;
        let body: Text = format!("g{g} m{k} from c{c}").into();
        self.judge.message(g, c, &view, body.clone(), self.now);
        let mut out = Vec::new();
        let n = &mut self.nodes[c as usize];
        if n.client
            .act(Intent::Message { group: key, body }, self.now, &mut out)
            .is_err()
        {
            self.counters.skipped += 1;
        }
        self.absorb(c, None, out);
    }

    fn part(&mut self, g: u32) {
        let Some(c) = self.random_member(g, false) else {
            self.counters.skipped += 1;
            return;
        };
        let key = self.plans[g as usize].key.clone();
        let n = &mut self.nodes[c as usize];
        if !n.up {
            self.counters.skipped += 1;
            return;
        }
        let mut out = Vec::new();
        match n.client.act(
            Intent::Part {
                group: key,
                body: None,
            },
            self.now,
            &mut out,
        ) {
            Ok(()) => self.judge.parted(g, c),
            Err(_) => self.counters.skipped += 1,
        }
        self.absorb(c, None, out);
    }

    /// Recipients an adversary reaches: everyone in the group's pool but itself.
    fn audience(&self, g: u32, adversary: Id) -> Arc<[Id]> {
        self.plans[g as usize]
            .pool
            .iter()
            .copied()
            .filter(|c| *c != adversary)
            .collect()
    }

    fn inject(&mut self, g: u32, src: Id, claimed: Id, stanza: Stanza<Id>) {
        let Some(adv) = self.plans[g as usize].adversary else {
            return;
        };
        self.counters.forged += 1;
        let to = self.audience(g, adv);
        let out = Outgoing {
            to: to.to_vec(),
            stanza: Arc::new(stanza),
            resent: false,
        };
        // A forger writes the XML itself (the `from` it claims) and signs with its own key.
        if let Some(payload) = self.payload(src, claimed, &out) {
            self.send_up(src, claimed, to, payload);
        }
    }

    /// The adversary takes the group's id first, as its own group.
    fn squat(&mut self, g: u32) {
        let Some(adv) = self.plans[g as usize].adversary else {
            return;
        };
        let p = &self.plans[g as usize];
        let members: Vec<Id> = p.pool.iter().copied().filter(|c| *c != adv).collect();
        let stanza = Stanza {
            group: GroupKey::new(p.key.id.clone(), adv),
            command: Command::Create {
                subject: Some("squatted".into()),
                members,
            },
            body: None,
            ext: None,
        };
        self.inject(g, adv, adv, stanza);
    }

    /// A forged owner command, a forged message in another member's name, or a replay of
    /// an owner stanza the adversary received.
    fn forge(&mut self, g: u32) {
        let Some(adv) = self.plans[g as usize].adversary else {
            return;
        };
        let key = self.plans[g as usize].key.clone();
        let roll = self.rng.random_range(0..3u8);
        let heard = self.nodes[adv as usize].heard.clone();
        match roll {
            0 if !heard.is_empty() => {
                if let Some((_, copy)) = heard.choose(&mut self.rng) {
                    // The owner's own stanza, as it arrived (its genuine signature and
                    // all), addressed again to the whole group.
                    self.counters.replayed += 1;
                    self.counters.forged += 1;
                    let to = self.audience(g, adv);
                    let payload = match copy {
                        Payload::Core(s) => Some(Payload::Core(s.clone())),
                        Payload::Xml(xml) => wire::readdress(xml, &to)
                            .ok()
                            .map(|x| Payload::Xml(x.into())),
                    };
                    if let Some(payload) = payload {
                        self.send_up(adv, key.owner, to, payload);
                    }
                }
            }
            1 => {
                let victim = self.random_member(g, false).unwrap_or(key.owner);
                let body: Text = format!("forged by c{adv} in c{victim}'s name").into();
                self.judge.forged(body.clone(), adv);
                let stanza = Stanza {
                    group: key,
                    command: Command::Message,
                    body: Some(body),
                    ext: None,
                };
                self.inject(g, adv, victim, stanza);
            }
            _ => {
                let victim = self.random_member(g, false).unwrap_or(key.owner);
                let n = self.plans[g as usize].commands;
                let ext =
                    (self.cfg.dialect_of(key.owner) == Dialect::Hardened).then(|| Ext::Snapshot {
                        epoch: 1_000 + u64::from(n),
                        seq: 1_000 + u64::from(n),
                        prev: kgroup::Digest::ZERO,
                        subject: Some("forged".into()),
                        roster: kgroup::Roster::default(),
                    });
                let stanza = Stanza {
                    group: key.clone(),
                    command: Command::Set {
                        subject: Some("forged".into()),
                        add: vec![],
                        remove: vec![victim],
                        members: vec![],
                    },
                    body: None,
                    ext,
                };
                self.inject(g, adv, key.owner, stanza);
            }
        }
    }

    /// The owner removes the group's insider (which keeps every key it had).
    fn expel(&mut self, g: u32) {
        let Some(x) = self.plans[g as usize].insider else {
            return;
        };
        let change = Change {
            remove: vec![x],
            ..Default::default()
        };
        let intent = Intent::Set {
            id: self.plans[g as usize].key.id.clone(),
            change: change.clone(),
            body: None,
        };
        if self.owner_acts(g, intent) {
            self.judge.changed(g, &[], &change.remove, None);
        }
        self.flush_owner(g);
    }

    /// One move of a removed insider: a message stamped with an epoch of its membership and
    /// a new number, or a number it used, or stamped ahead of the owner, or unstamped; a
    /// flood of stanzas of groups nobody knows at one member; or a re-seal of a stanza it
    /// received, to everyone.
    fn insider(&mut self, g: u32) {
        let p = &self.plans[g as usize];
        let (Some(x), key) = (p.insider, p.key.clone()) else {
            return;
        };
        let owner_view = self.nodes[key.owner as usize].client.view(&key);
        if owner_view.as_ref().is_none_or(|v| v.members.contains(&x)) {
            // Not removed (yet, or the owner was down): nothing an insider does.
            self.counters.skipped += 1;
            return;
        }
        let owner_epoch = owner_view.map_or(0, |v| v.epoch);
        let k = self.plans[g as usize].insider_moves;
        self.plans[g as usize].insider_moves += 1;
        self.counters.forged += 1;
        let audience = self.audience_of(g, x);
        let hardened = self.cfg.dialect_of(x) == Dialect::Hardened;
        let stamp = |epoch: u64, seq: u64, to: &[Id]| {
            hardened.then(|| Ext::Stamp {
                epoch,
                seq,
                to: to.to_vec(),
            })
        };
        let roll = self.rng.random_range(0..6u8);
        let body: Text = format!("g{g} insider c{x} move {k}").into();
        let ext = match roll {
            0 => stamp(1, 1_000_000 + u64::from(k), &audience),
            1 => stamp(1, 1, &audience),
            2 => stamp(owner_epoch + 1, 2_000_000 + u64::from(k), &audience),
            3 => None,
            4 => {
                // A flood at one member: stanzas of fresh group ids (its own groups).
                let Some(&target) = audience.choose(&mut self.rng) else {
                    return;
                };
                for i in 0..self.cfg.flood {
                    let stanza = Stanza {
                        group: GroupKey::new(format!("x{g}.{k}.{i}"), x),
                        command: Command::Message,
                        body: Some("flood".into()),
                        ext: stamp(1, 1, &[target]),
                    };
                    self.send_as(x, x, Arc::from(vec![target]), stanza);
                }
                return;
            }
            _ => {
                let heard = &self.nodes[x as usize].heard;
                let Some((stanza, copy)) = heard.choose(&mut self.rng).cloned() else {
                    self.counters.skipped += 1;
                    return;
                };
                // Signed by whoever composed it, re-sealed to everyone but itself.
                self.counters.replayed += 1;
                let signer = self.signer_of(&stanza, &key);
                let to: Arc<[Id]> = audience.iter().copied().filter(|c| *c != signer).collect();
                let payload = match copy {
                    Payload::Core(s) => Some(Payload::Core(s)),
                    Payload::Xml(xml) => wire::readdress(&xml, &to)
                        .ok()
                        .map(|x| Payload::Xml(x.into())),
                };
                if let Some(payload) = payload {
                    self.send_up(signer, signer, to, payload);
                }
                return;
            }
        };
        self.judge
            .insider_message(g, x, &audience, body.clone(), self.now);
        let stanza = Stanza {
            group: key,
            command: Command::Message,
            body: Some(body),
            ext,
        };
        self.send_as(x, x, Arc::from(audience), stanza);
    }

    /// Everyone who ever may be in group `g`'s pool but `who`, sorted.
    fn audience_of(&self, g: u32, who: Id) -> Vec<Id> {
        let mut v: Vec<Id> = self.audience(g, who).to_vec();
        v.sort_unstable();
        v
    }

    /// Who signed a stanza an insider heard: the owner for its commands, else the sender
    /// its body names (the simulator's bodies name their sender).
    fn signer_of(&self, stanza: &Stanza<Id>, key: &GroupKey<Id>) -> Id {
        if matches!(stanza.command, Command::Create { .. } | Command::Set { .. }) {
            return key.owner;
        }
        stanza
            .body
            .as_deref()
            .and_then(|b| b.rsplit_once("from c"))
            .and_then(|(_, c)| c.parse().ok())
            .unwrap_or(key.owner)
    }

    /// `src` composes and signs `stanza` itself (`claimed` is the `from` it writes).
    fn send_as(&mut self, src: Id, claimed: Id, to: Arc<[Id]>, stanza: Stanza<Id>) {
        let out = Outgoing {
            to: to.to_vec(),
            stanza: Arc::new(stanza),
            resent: false,
        };
        if let Some(payload) = self.payload(src, claimed, &out) {
            self.send_up(src, claimed, to, payload);
        }
    }

    /// What the run was still waiting for when it stopped without draining.
    fn stall(&self, timed_out: bool) -> String {
        let (mut held, mut holding, mut unacked, mut waiting) = (0usize, 0usize, 0usize, 0usize);
        let (mut stored, mut queued_up) = (0usize, 0usize);
        let mut example = None;
        for (c, n) in self.nodes.iter().enumerate() {
            if example.is_none() {
                let group = n
                    .client
                    .groups()
                    .find_map(|(k, g)| g.held().first().map(|h| (k.clone(), h.clone())))
                    .or_else(|| {
                        n.client
                            .limbo()
                            .find_map(|(k, h)| h.first().map(|h| (k.clone(), h.clone())))
                    });
                example = group.map(|(k, h)| {
                    let epoch = match h.stanza.ext {
                        Some(Ext::Stamp { epoch, .. }) => format!(" stamped e{epoch}"),
                        _ => String::new(),
                    };
                    let mine = n
                        .client
                        .view(&k)
                        .map_or("unknown".to_string(), |v| format!("at e{}", v.epoch));
                    format!(
                        " (e.g. c{c} holds c{}'s stanza of {}{epoch}, the group {mine} there)",
                        h.from, k.id
                    )
                });
            }
            let (h, u) = (n.client.held_count(), n.client.unacknowledged_count());
            held += h;
            holding += usize::from(h > 0);
            unacked += u;
            waiting += usize::from(u > 0);
            stored += n.stored.len();
            queued_up += n.outbox.len();
        }
        let when = if timed_out {
            format!(
                "at {} ms, the deadline ({} ms after the workload)",
                self.now, self.cfg.drain_ms
            )
        } else {
            format!("at {} ms, with no event left", self.now)
        };
        format!(
            "{when}: {held} stanza(s) held for a later epoch or an unknown group at {holding} client(s){}, \
             {unacked} stanza(s) unacknowledged at {waiting} client(s), {stored} stored for offline \
             clients, {queued_up} waiting to be uploaded, {} event(s) queued",
            example.unwrap_or_default(),
            self.queue.len()
        )
    }

    fn finish(
        mut self,
        events: u64,
        seconds: f64,
        timed_out: bool,
        interrupted: bool,
    ) -> SimReport {
        let quiescent = !timed_out
            && self
                .nodes
                .iter()
                .all(|n| n.client.is_idle() && n.stored.is_empty() && n.outbox.is_empty());
        let mut disagreeing = Vec::new();
        for (g, p) in self.plans.iter().enumerate() {
            let views = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.client.view(&p.key).map(|v| (i as Id, Some(v))))
                .collect();
            let split = kgroup::core::agreement::disagreeing(&p.key.owner, &views);
            if let (Some(first), true) = (
                split.first(),
                disagreeing
                    .iter()
                    .all(|(_, d): &(u32, Vec<Id>)| d.is_empty()),
            ) {
                self.example = Some(describe_split(&p.key.owner, *first, &views));
            }
            disagreeing.push((g as u32, split));
        }
        let stall = (!quiescent).then(|| self.stall(timed_out));
        let mut verdicts = self.judge.verdicts(stall.as_deref(), &disagreeing);
        if let (Some(v), Some(e)) = (
            verdicts
                .iter_mut()
                .find(|v| v.property == Property::Convergence && !v.holds),
            self.example.take(),
        ) {
            v.first = Some(format!("{}: {e}", v.first.take().unwrap_or_default()));
        }
        let converged = verdicts
            .iter()
            .find(|v| v.property == Property::Convergence)
            .is_some_and(|v| v.holds);
        let convergence_time_ms = if converged {
            self.agreed_since
                .map(|t| t.saturating_sub(self.last_command_at))
        } else {
            None
        };
        let sizes: Vec<u64> = self
            .nodes
            .iter()
            .map(|n| n.client.persisted_bytes())
            .collect();
        let persisted = crate::report::Persisted {
            max_bytes: sizes.iter().copied().max().unwrap_or(0),
            mean_bytes: sizes.iter().sum::<u64>() / (sizes.len() as u64).max(1),
        };
        SimReport::new(
            &self.cfg,
            Outcome {
                events,
                seconds,
                end_ms: self.now,
                quiescent,
                converged,
                convergence_time_ms,
                last_command_ms: self.last_command_at,
                counters: self.counters,
                judge: &self.judge,
                verdicts,
                samples: self.samples,
                peak_queue: self.peak_queue,
                queue_entry_bytes: QUEUE_ENTRY_BYTES,
                persisted,
                interrupted,
            },
        )
    }
}

/// How one participant's final view differs from the owner's, in a few words.
fn describe_split(
    owner: &Id,
    who: Id,
    views: &std::collections::BTreeMap<Id, Option<kgroup::View<Id>>>,
) -> String {
    let get = |c: &Id| views.get(c).cloned().flatten();
    let (Some(o), Some(v)) = (get(owner), get(&who)) else {
        return format!("client c{who} has no view of the group");
    };
    let extra: Vec<&Id> = v
        .members
        .iter()
        .filter(|m| !o.members.contains(m))
        .collect();
    let missing: Vec<&Id> = o
        .members
        .iter()
        .filter(|m| !v.members.contains(m))
        .collect();
    let mut parts = vec![format!("client c{who} ({:?})", v.status)];
    if !extra.is_empty() {
        parts.push(format!("lists {extra:?}, whom the owner c{owner} does not"));
    }
    if !missing.is_empty() {
        parts.push(format!("lacks {missing:?}, whom the owner lists"));
    }
    if o.subject != v.subject {
        parts.push(format!(
            "has subject {:?} where the owner has {:?}",
            v.subject.as_deref(),
            o.subject.as_deref()
        ));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fans out the create of one group of `members` and returns the queued copies.
    fn copies_of_create(members: u32) -> Vec<Payload> {
        let cfg = SimConfig {
            clients: members,
            members,
            groups: 1,
            messages: 0,
            churn: 0,
            parts: 0,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(cfg).unwrap();
        // Create, upload, fan-out: stop once the server has queued every copy.
        while let Some((at, ev)) = sim.queue.pop() {
            sim.now = at;
            let fanout = matches!(ev, SimEvent::Upload { .. });
            sim.handle(ev);
            if fanout {
                break;
            }
        }
        let mut copies = Vec::new();
        while let Some((_, ev)) = sim.queue.pop() {
            if let SimEvent::Deliver { payload, .. } = ev {
                copies.push(payload);
            }
        }
        copies
    }

    #[test]
    fn an_in_flight_copy_costs_the_same_whatever_the_group_size() {
        for members in [10, 1_000] {
            let copies = copies_of_create(members);
            assert_eq!(copies.len(), members as usize - 1);
            let Payload::Core(first) = &copies[0] else {
                panic!("core mode carries typed stanzas")
            };
            assert!(matches!(first.command, Command::Create { .. }));
            for c in &copies {
                let Payload::Core(s) = c else { panic!() };
                assert!(Arc::ptr_eq(s, first), "every copy shares one payload");
            }
            // The queue's copies plus the one shared stanza are all there is.
            assert_eq!(Arc::strong_count(first), copies.len());
        }
        const { assert!(QUEUE_ENTRY_BYTES <= 64) };
    }
}
