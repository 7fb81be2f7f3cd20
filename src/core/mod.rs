//! The protocol core: one client's groups and the pure transition function over them.
//!
//! Sans-IO, in the manner of quinn-proto and rustls: [`Client::act`] takes a local intent,
//! [`Client::receive`] a decrypted group stanza with its *authenticated* sender (the verified
//! OpenPGP signer, never the `from` the server claims), [`Client::handle_timeout`] the
//! current time; each appends [`Output`]s (stanzas with exact recipient lists, deliveries,
//! typed rejections, view changes). No clock, socket, thread or RNG lives here; the state is
//! `Clone + Eq + Hash` so a model checker can store it.
//!
//! Two dialects share the bookkeeping: `kontalk` (the seed as written: apply on arrival, no
//! versions) in `core::kontalk`, and `hardened` (epochs, full snapshots, part tombstones,
//! buffering, resync, acknowledged retransmission) in `core::hardened`.
//!
//! **Persistence.** Before a driver sends the stanzas of a transition it must store
//! [`Client::durable`]: the epoch and snapshot an owner issued, every group's roster,
//! subject and tombstones, the per-group sequence counter, the duplicate-detection windows
//! and the retransmission queue. After a crash, [`Client::restore`] resumes from it; what is
//! lost (messages held for a future epoch) was not acknowledged, so senders resend it.

pub mod agreement;
mod android;
mod hardened;
mod kontalk;
mod rename;
mod roster;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use types::*;

/// The protocol variant a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// The seed as written, bugs and all.
    Kontalk,
    /// Our wire-compatible extension that converges.
    Hardened,
    /// Kontalk's Android client as built (see `android.rs`).
    Android,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Kontalk, Dialect::Hardened, Dialect::Android];

    pub fn as_str(&self) -> &'static str {
        match self {
            Dialect::Kontalk => "kontalk",
            Dialect::Hardened => "hardened",
            Dialect::Android => "android",
        }
    }

    /// Does a client of this dialect act on the server's `from` (rather than the
    /// verified signer)? The seed's and the Android client's authority is the server's
    /// word.
    pub fn trusts_server_from(&self) -> bool {
        matches!(self, Dialect::Kontalk | Dialect::Android)
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kontalk" => Ok(Dialect::Kontalk),
            "hardened" => Ok(Dialect::Hardened),
            "android" => Ok(Dialect::Android),
            other => Err(format!(
                "unknown dialect `{other}` (expected `kontalk`, `hardened` or `android`)"
            )),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tunables of a client. Times are in the driver's milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub dialect: Dialect,
    /// Hardened: first retransmission delay; doubles per attempt up to 64×. 0 with no
    /// attempt limit is timer-less: each timeout resends all that is pending.
    pub retransmit_ms: u64,
    /// Hardened: give up on a stanza after this many retransmissions (`None`: never).
    pub max_attempts: Option<u32>,
    /// Hardened: how many messages from a future epoch (or unknown group) are held per group.
    pub max_held: usize,
    /// Hardened v2: how many sequence numbers above the contiguous floor a duplicate window
    /// keeps per sender (the oldest gap is given up beyond it), and how many digests of
    /// each member's accepted stanzas an owner keeps for a removal's cut.
    pub max_window: usize,
    /// Hardened v2: how many stanzas are held in limbo (for groups not known yet) in all,
    /// and per sender.
    pub max_limbo: usize,
    pub max_limbo_per_sender: usize,
    /// Hardened v2: a stanza stamped more than this many epochs ahead of ours is refused,
    /// not held.
    pub max_ahead: u64,
    /// The hardened rules to run: v2, or v1 (kept to show, in the checker and in tests,
    /// what v2 fixes).
    pub rules: Rules,
    /// A known liveness bug, planted so that tests can show the model checker catches what
    /// the safety properties cannot see. `None` everywhere but in those tests.
    pub planted: Option<Planted>,
}

/// Which version of the hardened dialect's receiving rules a client runs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Rules {
    /// The first version: membership judged at the sender's stamp, sequence numbers
    /// recorded before the membership check, epoch-less messages accepted, no recipient
    /// check, no limbo caps, stanzas from the future held until the owner's next snapshot.
    V1,
    /// Removal cuts, signed recipient lists, epoch-less stanzas refused in a group with
    /// epochs, bounded windows and limbo, far-ahead stamps refused, held junk dropped on
    /// the owner's word (docs/design.md#hardened-v2).
    #[default]
    V2,
}

impl Rules {
    pub fn as_str(&self) -> &'static str {
        match self {
            Rules::V1 => "v1",
            Rules::V2 => "v2",
        }
    }
}

impl std::str::FromStr for Rules {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v1" => Ok(Rules::V1),
            "v2" => Ok(Rules::V2),
            other => Err(format!(
                "unknown hardened rules `{other}` (expected v1 or v2)"
            )),
        }
    }
}

/// Liveness bugs that can be planted in the hardened dialect (see [`Config::planted`]).
/// Each is a plausible slip in the code it changes; none breaks a safety property, and the
/// at-quiescence properties only see states the bug never reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Planted {
    /// Two halves, each harmless alone: a member asks for a resync whenever an owner
    /// snapshot is not newer than its epoch (stale or duplicate), and the owner answers a
    /// current member's resync even when that member is not behind. Together: a member and
    /// the owner resync each other for ever.
    ResyncPingPong,
    /// Held messages are released only when the epoch reached is exactly theirs (`==` for
    /// `<=`): a member that jumps over a held message's epoch holds it for ever.
    ReleaseExactEpoch,
}

impl Planted {
    pub const ALL: [Planted; 2] = [Planted::ResyncPingPong, Planted::ReleaseExactEpoch];

    pub fn as_str(&self) -> &'static str {
        match self {
            Planted::ResyncPingPong => "resync-ping-pong",
            Planted::ReleaseExactEpoch => "release-exact-epoch",
        }
    }
}

impl std::str::FromStr for Planted {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Planted::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown planted bug `{s}` (expected resync-ping-pong or release-exact-epoch)"
                )
            })
    }
}

impl Config {
    pub fn new(dialect: Dialect) -> Self {
        Config {
            dialect,
            retransmit_ms: 1_000,
            max_attempts: Some(10),
            max_held: 256,
            max_window: 256,
            max_limbo: 1024,
            max_limbo_per_sender: 64,
            max_ahead: 16,
            rules: Rules::V2,
            planted: None,
        }
    }

    pub(crate) fn v2(&self) -> bool {
        self.rules == Rules::V2
    }
}

/// Which stanzas of a sender have been seen: all up to `floor`, plus `above`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeqWindow {
    floor: u64,
    above: BTreeSet<u64>,
}

impl SeqWindow {
    pub fn contains(&self, seq: u64) -> bool {
        seq <= self.floor || self.above.contains(&seq)
    }

    /// Records `seq`; false if it was seen already.
    pub fn insert(&mut self, seq: u64) -> bool {
        if self.contains(seq) {
            return false;
        }
        self.above.insert(seq);
        while self.above.remove(&(self.floor + 1)) {
            self.floor += 1;
        }
        true
    }

    /// [`SeqWindow::insert`], keeping at most `cap` numbers above the floor: beyond it the
    /// floor moves up to the lowest of them, giving up the oldest gap. Gaps come only from
    /// the sender's own stanzas not arrived yet (or, for a member that joined late, sent
    /// before it joined), so a cap costs at most that sender's oldest stanza still on its
    /// way past `cap` newer ones.
    pub fn insert_capped(&mut self, seq: u64, cap: usize) -> bool {
        if !self.insert(seq) {
            return false;
        }
        while self.above.len() > cap {
            let Some(lowest) = self.above.pop_first() else {
                break;
            };
            self.floor = lowest;
            while self.above.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
        }
        true
    }

    /// Numbers kept above the floor.
    pub fn len(&self) -> usize {
        self.above.len()
    }

    pub fn is_empty(&self) -> bool {
        self.above.is_empty()
    }
}

/// A stanza this client composed and must retransmit until every recipient acknowledges.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pending<I> {
    pub seq: u64,
    pub stanza: Arc<Stanza<I>>,
    pub unacked: Vec<I>,
    pub attempts: u32,
    pub due: u64,
}

/// A received stanza held until its epoch (or its group) is known.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Held<I> {
    pub from: I,
    pub stanza: Arc<Stanza<I>>,
}

/// One client's state of one group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group<I> {
    roster: Roster<I>,
    subject: Option<Text>,
    /// Highest snapshot epoch applied; 0 in an epoch-less (`kontalk`) group.
    epoch: u64,
    /// Whether this group runs the hardened rules (created by a hardened owner).
    hardened: bool,
    status: Status,
    /// Hardened: parts seen (member → the epoch it parted at), which win over snapshots
    /// that do not show the part processed or the member explicitly re-added.
    tombstones: BTreeMap<I, u64>,
    /// Hardened: the sequence number of the next stanza this client composes here.
    next_seq: u64,
    /// Hardened: duplicate detection per sender.
    seen: BTreeMap<I, SeqWindow>,
    /// Hardened: stanzas awaiting acknowledgement.
    outbox: Vec<Pending<I>>,
    /// Hardened, owner: the removal notice each removed member received, resent on resync
    /// so a removed member never gets state composed after its removal.
    notices: BTreeMap<I, Arc<Stanza<I>>>,
    /// Hardened, owner: the last snapshot composed to answer each member's resync.
    answers: BTreeMap<I, Arc<Stanza<I>>>,
    /// Hardened v2, owner: digests of the last stanzas accepted from each member, which a
    /// removal names as the member's last words ([`Roster::cuts`]).
    recent: BTreeMap<I, std::collections::VecDeque<Digest>>,
    /// Hardened: the head of the snapshot held ([`Digest::chain`]).
    head: Digest,
    /// Hardened, owner: the snapshot it issued for its epoch, which answers carry again
    /// (an answer composed from a roster changed since would be a second snapshot for
    /// the same epoch).
    issued: Option<Arc<Stanza<I>>>,
    /// Hardened v2: the equivocation alarm raised (the epoch, the witness), kept.
    alarm: Option<(u64, I)>,
    /// Volatile, v2: heads neighbours announced for epochs we have not reached (sender,
    /// epoch, head), at most [`MAX_HEADS`].
    heads: Vec<(I, u64, Digest)>,
    /// Volatile: messages from a future epoch.
    held: Vec<Held<I>>,
    /// Volatile: highest epoch a resync was asked for.
    resync_asked: u64,
    /// Android: the messages delivered (by digest, at most `max_window`), its message
    /// store's unique index.
    delivered: BTreeSet<Digest>,
}

impl<I: Identity> Group<I> {
    fn new(roster: Roster<I>, subject: Option<Text>, epoch: u64, hardened: bool) -> Self {
        Group {
            roster,
            subject,
            epoch,
            hardened,
            status: Status::Member,
            tombstones: BTreeMap::new(),
            next_seq: 1,
            seen: BTreeMap::new(),
            outbox: Vec::new(),
            notices: BTreeMap::new(),
            answers: BTreeMap::new(),
            recent: BTreeMap::new(),
            head: Digest::ZERO,
            issued: None,
            alarm: None,
            heads: Vec::new(),
            held: Vec::new(),
            resync_asked: 0,
            delivered: BTreeSet::new(),
        }
    }

    pub fn view(&self, owner: &I) -> View<I> {
        View {
            owner: owner.clone(),
            members: self.roster.current().cloned().collect(),
            subject: self.subject.clone(),
            epoch: self.epoch,
            status: self.status,
        }
    }

    pub fn roster(&self) -> &Roster<I> {
        &self.roster
    }

    pub fn is_hardened(&self) -> bool {
        self.hardened
    }

    /// Stanzas still awaiting acknowledgement.
    pub fn outbox(&self) -> &[Pending<I>] {
        &self.outbox
    }

    /// Messages held for a future epoch.
    pub fn held(&self) -> &[Held<I>] {
        &self.held
    }

    /// Duplicate-detection windows, per sender.
    pub fn windows(&self) -> impl Iterator<Item = (&I, &SeqWindow)> {
        self.seen.iter()
    }

    /// Highest snapshot epoch applied; 0 in an epoch-less group.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The head of the snapshot held (zero in an epoch-less group).
    pub fn head(&self) -> Digest {
        self.head
    }

    /// The equivocation alarm raised here, if any: the epoch and the witness.
    pub fn alarm(&self) -> Option<&(u64, I)> {
        self.alarm.as_ref()
    }

    /// Owner: digests kept per member for removal cuts.
    pub fn recent(&self) -> impl Iterator<Item = (&I, usize)> {
        self.recent.iter().map(|(m, d)| (m, d.len()))
    }

    fn current_except(&self, me: &I) -> Vec<I> {
        self.roster
            .current()
            .filter(|m| *m != me)
            .cloned()
            .collect()
    }

    fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
}

/// How many heads announced for epochs not reached yet a member keeps per group: one per
/// neighbour, with room for a neighbour's change.
pub const MAX_HEADS: usize = 4;

/// What a driver must persist before it sends a transition's stanzas (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Durable<I> {
    groups: BTreeMap<GroupKey<I>, Group<I>>,
}

/// One client: its identity, its dialect and its groups.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client<I> {
    me: I,
    config: Config,
    groups: BTreeMap<GroupKey<I>, Group<I>>,
    /// Hardened: messages for groups not known yet (they may arrive before the create).
    limbo: BTreeMap<GroupKey<I>, Vec<Held<I>>>,
    /// Hardened: when to ask the owners of the groups in limbo again (a lost request, or a
    /// lost answer, would otherwise leave what is held there for ever).
    limbo_due: u64,
    /// Volatile: how many times in a row it has asked since something was first held
    /// (the asking backs off as retransmission does).
    asked: u32,
}

impl<I: Identity> Client<I> {
    pub fn new(me: I, config: Config) -> Self {
        Client {
            me,
            config,
            groups: BTreeMap::new(),
            limbo: BTreeMap::new(),
            limbo_due: 0,
            asked: 0,
        }
    }

    /// Resumes after a crash from what [`Client::durable`] returned.
    pub fn restore(me: I, config: Config, durable: Durable<I>) -> Self {
        Client {
            me,
            config,
            groups: durable.groups,
            limbo: BTreeMap::new(),
            limbo_due: 0,
            asked: 0,
        }
    }

    /// The state that must survive a crash; call it after each transition and store it
    /// before sending that transition's stanzas.
    pub fn durable(&self) -> Durable<I> {
        let mut groups = self.groups.clone();
        for g in groups.values_mut() {
            g.held.clear();
            g.heads.clear();
            g.resync_asked = 0;
        }
        Durable { groups }
    }

    pub fn me(&self) -> &I {
        &self.me
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn group(&self, key: &GroupKey<I>) -> Option<&Group<I>> {
        self.groups.get(key)
    }

    pub fn view(&self, key: &GroupKey<I>) -> Option<View<I>> {
        self.groups.get(key).map(|g| g.view(&key.owner))
    }

    pub fn groups(&self) -> impl Iterator<Item = (&GroupKey<I>, &Group<I>)> {
        self.groups.iter()
    }

    /// Messages held for groups this client does not know yet.
    pub fn limbo(&self) -> impl Iterator<Item = (&GroupKey<I>, &Vec<Held<I>>)> {
        self.limbo.iter()
    }

    /// True when nothing waits for an acknowledgement and nothing is held.
    pub fn is_idle(&self) -> bool {
        self.limbo.is_empty()
            && self
                .groups
                .values()
                .all(|g| g.outbox.is_empty() && g.held.is_empty())
    }

    /// Whether a timer asks owners again: something is in limbo, or (v2) held for a later
    /// epoch. A lost request, or a lost answer, would otherwise leave it held for ever, and
    /// the sender of a stanza stamped beyond the owner's epoch never sends it again.
    fn asks_again(&self) -> bool {
        !self.limbo.is_empty()
            || (self.config.v2()
                && self
                    .groups
                    .iter()
                    .any(|(k, g)| !g.held.is_empty() && k.owner != self.me))
    }

    /// When to ask again about what is held after asking at `now`: the retransmission
    /// delay, doubling with each unanswered round up to 64× (each request costs the owner a
    /// reply; a constant 64× left a stanza of a flood held past a 600 s drain deadline at
    /// 20% loss per hop: `kgroup sim --seed 5 --loss 0.2 --reorder --dup 0.05 --forger
    /// --crashes 3 --insider`).
    fn limbo_retry(&self, now: u64) -> u64 {
        now.saturating_add(self.config.retransmit_ms << self.asked.min(6))
    }

    /// Something is held where nothing was: ask on the first delay again.
    fn start_asking(&mut self, now: u64) {
        self.asked = 0;
        self.limbo_due = self.limbo_retry(now);
    }

    /// Stanzas held: for a later epoch, or in limbo for a group not known yet.
    pub fn held_count(&self) -> usize {
        self.groups.values().map(|g| g.held.len()).sum::<usize>()
            + self.limbo.values().map(Vec::len).sum::<usize>()
    }

    /// What of this client's state exceeds the bounds its configuration and its groups'
    /// sizes fix, in words (`None`: nothing). The bounded-state property of the model
    /// checker and the simulator: held stanzas per group, limbo in all and per sender, one
    /// duplicate window per identity a group's roster knows (or its owner), each within
    /// the window bound, and an owner's digests per member within it. Read from the state
    /// itself, whatever the rules that built it.
    pub fn bounds_exceeded(&self) -> Option<String> {
        self.limbo_bounds_exceeded().or_else(|| {
            self.groups
                .iter()
                .find_map(|(key, g)| group_bounds_exceeded(&self.config, key, g, None))
        })
    }

    /// [`Client::bounds_exceeded`] after receiving a stanza of `key` signed by `from`:
    /// limbo, that group's held buffer, and `from`'s window and digests there, which is all
    /// such a stanza can grow (other groups, and other senders' windows, are untouched). The
    /// owner's stanzas can change the roster, so for them the whole group is looked at. A
    /// judge that looks at every transition need not walk every member's window (at 1,000
    /// members that walk was a third of a simulation's time).
    pub fn bounds_exceeded_after(&self, key: &GroupKey<I>, from: &I) -> Option<String> {
        self.limbo_bounds_exceeded().or_else(|| {
            let g = self.groups.get(key)?;
            let only = (*from != key.owner).then_some(from);
            group_bounds_exceeded(&self.config, key, g, only)
        })
    }

    fn limbo_bounds_exceeded(&self) -> Option<String> {
        let c = &self.config;
        let mut limbo = 0;
        let mut per_sender = BTreeMap::<&I, usize>::new();
        for h in self.limbo.values().flatten() {
            limbo += 1;
            *per_sender.entry(&h.from).or_default() += 1;
        }
        if limbo > c.max_limbo {
            return Some(format!("{limbo} stanzas in limbo (bound {})", c.max_limbo));
        }
        per_sender
            .iter()
            .find(|(_, n)| **n > c.max_limbo_per_sender)
            .map(|(from, n)| {
                format!(
                    "{n} stanzas of {from:?} in limbo (bound {} per sender)",
                    c.max_limbo_per_sender
                )
            })
    }

    /// The size in bytes of what [`Client::durable`] returns, in a canonical encoding (the
    /// bytes its `Hash` writes, fixed-width): what a driver stores after each transition.
    pub fn persisted_bytes(&self) -> u64 {
        struct Count(u64);
        impl std::hash::Hasher for Count {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                self.0 += bytes.len() as u64;
            }
            fn write_usize(&mut self, _: usize) {
                self.0 += 8;
            }
        }
        let mut c = Count(0);
        std::hash::Hash::hash(&self.durable(), &mut c);
        c.0
    }

    /// Stanzas of ours waiting for an acknowledgement.
    pub fn unacknowledged_count(&self) -> usize {
        self.groups.values().map(|g| g.outbox.len()).sum()
    }

    /// The earliest time [`Client::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        let limbo = self.asks_again().then_some(self.limbo_due);
        self.groups
            .values()
            .flat_map(|g| g.outbox.iter().map(|p| p.due))
            .chain(limbo)
            .min()
    }

    /// A local intent of this client's user.
    pub fn act(
        &mut self,
        intent: Intent<I>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) -> Result<(), LocalError> {
        match intent {
            Intent::Create {
                id,
                members,
                subject,
                body,
            } => self.create(id, members, subject, body, now, out),
            Intent::Set { id, change, body } => self.set(id, change, body, now, out),
            Intent::Part { group, body } => self.part(group, body, now, out),
            Intent::Message { group, body } => self.message(group, body, now, out),
        }
    }

    /// A group stanza received from `from`, the authenticated sender.
    pub fn receive(&mut self, from: I, stanza: Arc<Stanza<I>>, now: u64, out: &mut Vec<Output<I>>) {
        let key = &stanza.group;
        // The seed: ignore any stanza whose group id is known under another owner. A
        // hardened client keys groups by (id, owner) instead, so such a stanza can never
        // touch the known group, and a squatter who names a group id first cannot lock the
        // real owner's group out of this client.
        if self.config.dialect == Dialect::Android {
            return self.receive_android(from, &stanza, out);
        }
        if self.config.dialect == Dialect::Kontalk
            && !self.groups.contains_key(key)
            && self
                .groups
                .keys()
                .any(|k| k.id == key.id && k.owner != key.owner)
        {
            return reject(out, key, &from, Reason::WrongOwner);
        }
        let hardened_rules = match self.groups.get(key) {
            Some(g) => g.hardened,
            None => self.config.dialect == Dialect::Hardened && stanza.ext.is_some(),
        };
        if hardened_rules {
            self.receive_hardened(from, stanza, now, out)
        } else {
            self.receive_kontalk(from, &stanza, out)
        }
    }

    /// Retransmits what is due at `now`, and asks again about groups in limbo.
    pub fn handle_timeout(&mut self, now: u64, out: &mut Vec<Output<I>>) {
        let base = self.config.retransmit_ms;
        let max = self.config.max_attempts;
        if self.asks_again() && self.limbo_due <= now {
            if self.config.retransmit_ms > 0 {
                self.asked = (self.asked + 1).min(6);
            }
            self.limbo_due = self.limbo_retry(now);
            for key in self.limbo.keys() {
                hardened::ask_resync(key, 0, out);
            }
            if self.config.v2() {
                for (key, g) in &self.groups {
                    if !g.held.is_empty() && key.owner != self.me {
                        hardened::ask_resync(key, g.epoch, out);
                    }
                }
            }
        }
        for (key, g) in self.groups.iter_mut() {
            g.outbox.retain_mut(|p| {
                if p.due > now {
                    return true;
                }
                if max.is_some_and(|m| p.attempts >= m) {
                    out.push(Output::GaveUp {
                        group: key.clone(),
                        seq: p.seq,
                        unacked: p.unacked.clone(),
                    });
                    return false;
                }
                if base == 0 && max.is_none() {
                    // Timer-less mode (the model checker's abstract time): every timeout
                    // retransmits everything pending, and no retry state is kept.
                    p.due = now;
                } else {
                    // Without a limit the count saturates at the backoff cap.
                    p.attempts = if max.is_some() {
                        p.attempts + 1
                    } else {
                        (p.attempts + 1).min(6)
                    };
                    p.due = now + base * (1u64 << p.attempts.min(6));
                }
                out.push(Output::Send(Outgoing {
                    to: p.unacked.clone(),
                    stanza: p.stanza.clone(),
                    resent: true,
                }));
                true
            });
        }
    }

    /// Updates this client's status from the roster and reports the new view.
    fn changed(&mut self, key: &GroupKey<I>, out: &mut Vec<Output<I>>) {
        let me = &self.me;
        if let Some(g) = self.groups.get_mut(key) {
            if g.roster.is_current(me) {
                g.status = Status::Member;
            } else if g.status == Status::Member {
                g.status = Status::Removed;
            }
            out.push(Output::Changed {
                group: key.clone(),
                view: g.view(&key.owner),
            });
        }
    }

    fn create(
        &mut self,
        id: Text,
        members: Vec<I>,
        subject: Option<Text>,
        body: Option<Text>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) -> Result<(), LocalError> {
        // kontalk binds a group id to one owner; hardened keys groups by (id, owner).
        let kontalk = self.config.dialect == Dialect::Kontalk;
        if let Some(k) = self
            .groups
            .keys()
            .find(|k| k.id == id && (kontalk || k.owner == self.me))
        {
            return Err(if k.owner == self.me {
                LocalError::GroupExists
            } else {
                LocalError::WrongOwner
            });
        }
        let others: BTreeSet<I> = members.into_iter().filter(|m| *m != self.me).collect();
        let hardened = self.config.dialect == Dialect::Hardened;
        let epoch = u64::from(hardened);
        let roster = Roster::with_members(others.iter().cloned().chain([self.me.clone()]), epoch);
        let key = GroupKey::new(id, self.me.clone());
        let mut g = Group::new(roster, subject.clone(), epoch, hardened);
        let command = Command::Create {
            subject,
            members: others.iter().cloned().collect(),
        };
        let ext = hardened.then(|| snapshot_ext(&mut g, self.config.v2()));
        let to = g.current_except(&self.me);
        out.push(Output::Changed {
            group: key.clone(),
            view: g.view(&key.owner),
        });
        let issued = send(&mut g, &key, to, command, body, ext, now, self.config, out);
        if hardened {
            g.issued = Some(issued);
        }
        self.groups.insert(key, g);
        Ok(())
    }

    fn set(
        &mut self,
        id: Text,
        change: Change<I>,
        body: Option<Text>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) -> Result<(), LocalError> {
        let key = GroupKey::new(id, self.me.clone());
        let me = self.me.clone();
        let config = self.config;
        let Some(g) = self.groups.get_mut(&key) else {
            return Err(if self.groups.keys().any(|k| k.id == key.id) {
                LocalError::NotOwner
            } else {
                LocalError::UnknownGroup
            });
        };
        if g.status != Status::Member {
            return Err(LocalError::NotMember);
        }
        let add: Vec<I> = dedup(
            change
                .add
                .into_iter()
                .filter(|m| *m != me && !g.roster.is_current(m)),
        );
        let remove: Vec<I> = dedup(
            change
                .remove
                .into_iter()
                .filter(|m| *m != me && g.roster.is_current(m)),
        );
        let subject = change.subject.filter(|s| g.subject.as_ref() != Some(s));
        if add.is_empty() && remove.is_empty() && subject.is_none() {
            return Err(LocalError::NoChange);
        }
        // Recipients: everyone who was a member (the removed learn of their removal) plus
        // the added.
        let before = g.current_except(&me);
        let mut to = before.clone();
        to.extend(add.iter().cloned());
        to.sort();
        // The seed's add carries the member list from before the add and the subject.
        // The Android client lists every member row less the added whenever members
        // change (the removed included), with the current subject.
        let android = config.dialect == Dialect::Android;
        let lists = !add.is_empty() || (android && !remove.is_empty());
        let command = Command::Set {
            subject: if !lists {
                subject.clone()
            } else {
                subject.clone().or_else(|| g.subject.clone())
            },
            add: add.clone(),
            remove: remove.clone(),
            members: if lists { before } else { Vec::new() },
        };
        let epoch = if g.hardened {
            g.epoch.checked_add(1).ok_or(LocalError::EpochsExhausted)?
        } else {
            0
        };
        for m in &add {
            g.roster.open(m.clone(), epoch);
            g.tombstones.remove(m);
            g.roster.cuts.remove(m);
        }
        for m in &remove {
            if g.hardened {
                g.roster.close(m, epoch);
                if config.v2() {
                    // The removed member's last words: what of theirs this owner accepted.
                    let mut cut: Vec<Digest> =
                        g.recent.remove(m).map(Vec::from).unwrap_or_default();
                    cut.sort_unstable();
                    g.roster.cuts.insert(m.clone(), cut);
                }
            } else {
                g.roster.forget(m);
            }
        }
        if let Some(s) = subject {
            g.subject = Some(s);
        }
        g.epoch = epoch;
        out.push(Output::Changed {
            group: key.clone(),
            view: g.view(&key.owner),
        });
        let ext = g.hardened.then(|| snapshot_ext(g, config.v2()));
        let stanza = send(g, &key, to, command, body, ext, now, config, out);
        if g.hardened {
            g.issued = Some(stanza.clone());
            for m in remove {
                g.notices.insert(m, stanza.clone());
            }
        }
        Ok(())
    }

    fn part(
        &mut self,
        key: GroupKey<I>,
        body: Option<Text>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) -> Result<(), LocalError> {
        let me = self.me.clone();
        let config = self.config;
        let g = self.groups.get_mut(&key).ok_or(LocalError::UnknownGroup)?;
        if g.status != Status::Member {
            return Err(LocalError::NotMember);
        }
        let to = g.current_except(&me);
        let ext = g.hardened.then(|| Ext::Stamp {
            epoch: g.epoch,
            seq: g.take_seq(),
            to: to.clone(),
        });
        if g.hardened {
            g.roster.close(&me, g.epoch.saturating_add(1));
            g.tombstones.insert(me.clone(), g.epoch);
        } else {
            g.roster.forget(&me);
        }
        g.status = Status::Left;
        out.push(Output::Changed {
            group: key.clone(),
            view: g.view(&key.owner),
        });
        send(g, &key, to, Command::Part, body, ext, now, config, out);
        Ok(())
    }

    fn message(
        &mut self,
        key: GroupKey<I>,
        body: Text,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) -> Result<(), LocalError> {
        let me = self.me.clone();
        let config = self.config;
        let g = self.groups.get_mut(&key).ok_or(LocalError::UnknownGroup)?;
        if g.status != Status::Member {
            return Err(LocalError::NotMember);
        }
        let to = g.current_except(&me);
        let ext = g.hardened.then(|| Ext::Stamp {
            epoch: g.epoch,
            seq: g.take_seq(),
            to: to.clone(),
        });
        send(
            g,
            &key,
            to,
            Command::Message,
            Some(body),
            ext,
            now,
            config,
            out,
        );
        Ok(())
    }
}

fn dedup<I: Ord>(it: impl Iterator<Item = I>) -> Vec<I> {
    it.collect::<BTreeSet<I>>().into_iter().collect()
}

/// One group's part of [`Client::bounds_exceeded`]: its held buffer, and the windows and
/// digests of every sender (or of `only`).
fn group_bounds_exceeded<I: Identity>(
    c: &Config,
    key: &GroupKey<I>,
    g: &Group<I>,
    only: Option<&I>,
) -> Option<String> {
    if g.held.len() > c.max_held {
        return Some(format!(
            "{} stanzas held in {} (bound {})",
            g.held.len(),
            key.id,
            c.max_held
        ));
    }
    let windows: Box<dyn Iterator<Item = (&I, &SeqWindow)>> = match only {
        Some(from) => Box::new(g.seen.get_key_value(from).into_iter()),
        None => Box::new(g.seen.iter()),
    };
    for (from, w) in windows {
        if !g.roster.knows(from) && *from != key.owner {
            return Some(format!(
                "a duplicate window in {} for {from:?}, never a member",
                key.id
            ));
        }
        if w.len() > c.max_window {
            return Some(format!(
                "{} numbers in {from:?}'s window in {} (bound {})",
                w.len(),
                key.id,
                c.max_window
            ));
        }
    }
    if g.delivered.len() > c.max_window {
        return Some(format!(
            "{} delivered messages remembered in {} (bound {})",
            g.delivered.len(),
            key.id,
            c.max_window
        ));
    }
    let digests: Box<dyn Iterator<Item = _>> = match only {
        Some(from) => Box::new(g.recent.get_key_value(from).into_iter()),
        None => Box::new(g.recent.iter()),
    };
    for (m, d) in digests {
        if d.len() > c.max_window {
            return Some(format!(
                "{} digests kept for {m:?} in {} (bound {})",
                d.len(),
                key.id,
                c.max_window
            ));
        }
    }
    None
}

fn reject<I: Clone>(out: &mut Vec<Output<I>>, key: &GroupKey<I>, from: &I, reason: Reason) {
    out.push(Output::Reject {
        group: key.clone(),
        from: from.clone(),
        reason,
    });
}

/// The full-state extension the owner stamps on create/set, for its new epoch: under v2
/// (`chained`) chained to the head before it; the v1 rules had no chain (zero heads).
fn snapshot_ext<I: Identity>(g: &mut Group<I>, chained: bool) -> Ext<I> {
    let prev = if chained { g.head } else { Digest::ZERO };
    if chained {
        g.head = Digest::chain(&prev, g.epoch, &g.subject, &g.roster);
    }
    Ext::Snapshot {
        epoch: g.epoch,
        seq: g.take_seq(),
        prev,
        subject: g.subject.clone(),
        roster: g.roster.clone(),
    }
}

/// The owner's answer to a resync: the snapshot it issued for its epoch again, under a new
/// sequence number. Every epoch an owner reaches is issued at once and `issued` is durable,
/// so there is always one; composing another from a roster changed since would be a second
/// snapshot for the same epoch.
fn answer_ext<I: Identity>(g: &mut Group<I>) -> Option<Ext<I>> {
    match g.issued.as_ref().and_then(|s| s.ext.as_ref()) {
        Some(Ext::Snapshot {
            epoch,
            prev,
            subject,
            roster,
            ..
        }) if *epoch == g.epoch => {
            let (epoch, prev, subject, roster) = (*epoch, *prev, subject.clone(), roster.clone());
            Some(Ext::Snapshot {
                epoch,
                seq: g.take_seq(),
                prev,
                subject,
                roster,
            })
        }
        _ => None,
    }
}

/// Emits a composed stanza and, when it carries a sequence number, queues it for
/// retransmission until every recipient acknowledges.
#[allow(clippy::too_many_arguments)]
fn send<I: Identity>(
    g: &mut Group<I>,
    key: &GroupKey<I>,
    to: Vec<I>,
    command: Command<I>,
    body: Option<Text>,
    ext: Option<Ext<I>>,
    now: u64,
    config: Config,
    out: &mut Vec<Output<I>>,
) -> Arc<Stanza<I>> {
    let stanza = Arc::new(Stanza {
        group: key.clone(),
        command,
        body,
        ext,
    });
    if to.is_empty() {
        return stanza;
    }
    if let Some(seq) = stanza.ext.as_ref().and_then(Ext::seq) {
        if matches!(stanza.ext, Some(Ext::Snapshot { .. })) {
            // A newer snapshot supersedes older bodiless ones for its recipients.
            for p in g.outbox.iter_mut() {
                if p.stanza.body.is_none() && matches!(p.stanza.ext, Some(Ext::Snapshot { .. })) {
                    p.unacked.retain(|m| !to.contains(m));
                }
            }
            g.outbox.retain(|p| !p.unacked.is_empty());
        }
        g.outbox.push(Pending {
            seq,
            stanza: stanza.clone(),
            unacked: to.clone(),
            attempts: 0,
            due: now + config.retransmit_ms,
        });
    }
    out.push(Output::Send(Outgoing {
        to,
        stanza: stanza.clone(),
        resent: false,
    }));
    stanza
}
