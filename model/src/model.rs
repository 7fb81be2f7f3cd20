//! The group model: N clients running the real core over one of the brief's networks, an
//! owner command script, member messages and parts, owner crashes, and an optional
//! adversary (a server or outsider that forges `from` and owner attributes and replays any
//! owner stanza it has seen). Properties are named predicates over the state; the ghost
//! part of the state records what the owner really issued, to judge the clients against.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kgroup::core::agreement::disagreeing;
use kgroup::{
    Change, Client, Command, Config, Dialect, Ext, GroupKey, Intent, Output, Roster, Rules, Stanza,
    Text, View,
};
use smallvec::SmallVec;
use stateright::{Model, Property};

use crate::effect::Effect;
use crate::group::{GROUP, OWNER};
use crate::ids::{Ids, Props, MAX_CLIENTS};
use crate::network::{Id, InFlight, Net, Network};
use crate::properties::Property as Prop;
use crate::script::Step;
use crate::shared::Hashed;

/// What the adversary can inject (signed with its own key, `from` as it likes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forgery {
    /// An owner command adding the adversary, `from` forged as the owner.
    AddMe,
    /// A message in a member's name, `from` forged as member 1.
    Impersonate,
    /// A create of a group with the same id, owned by the adversary.
    Squat,
}

/// What the insider (a member the script removes, keeping every key it had) composes after
/// the owner issued its removal. Each is signed by the insider and multicast to every other
/// client, with a recipient list naming them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Insider {
    /// A message stamped with an epoch at which it was a member, and a new sequence number.
    Backdated,
    /// The same, reusing a sequence number it used while a member.
    ReusedSeq,
    /// A message stamped one epoch ahead of the owner's: held by whoever is at the owner's
    /// epoch, until something releases or drops it.
    Ahead,
    /// A message with no stamp at all (what a `kontalk` client sends).
    EpochLess,
    /// A message of a group id nobody knows (each one a fresh id): held in limbo.
    Flood,
}

impl Insider {
    pub const ALL: [Insider; 5] = [
        Insider::Backdated,
        Insider::ReusedSeq,
        Insider::Ahead,
        Insider::EpochLess,
        Insider::Flood,
    ];
}

/// A step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The owner issues its next script step.
    Owner(Step),
    /// A member (or the owner) sends a message.
    Message(Id),
    /// A member leaves.
    Part(Id),
    /// Delivers a copy in flight; on the lossy network, `true` also loses the acknowledgement
    /// it causes.
    Deliver(InFlight, bool),
    Drop(InFlight),
    /// A client's retransmission timer fires.
    Timeout(Id),
    /// A client crashes and restarts from its persisted state.
    Crash(Id),
    /// The adversary sends a forged stanza to a client.
    Forge(Forgery, Id),
    /// The adversary (the server) replays a stanza it has seen, signed by `.0`, to a client:
    /// a duplicate if the client was addressed, a recipient added to the address list if
    /// it was not.
    Replay(Id, Arc<Stanza<Id>>, Id),
    /// The insider composes a stanza after its removal, to one client.
    Insider(Insider, Id),
    /// The insider re-seals a stanza it has seen, signed by `.0`, to one client.
    Reseal(Id, Arc<Stanza<Id>>, Id),
    /// The malicious owner sends this addressee of one of its commands a different one
    /// instead: the same stanza (and sequence number) with another subject.
    Equivocate(InFlight),
}

/// The subject an equivocating owner gives the member it deceives.
pub const FORGED_SUBJECT: &str = "forged";

/// A message as sent, and whom it must reach.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sent {
    pub sender: Id,
    pub body: Text,
    pub epoch: u64,
    /// Members of the sender's view that were really members (and had not left) when sent.
    pub expected: Ids,
    /// Whom its signer addressed it to.
    pub addressed: Ids,
    /// Composed after the owner issued the sender's removal (the insider's).
    pub after_removal: bool,
}

/// The most messages (the adversary's forgeries included) a model may record: deliveries
/// are bits of one word per client.
pub const MAX_MESSAGES: usize = 64;

/// What really happened, to judge the clients by. Every step that changes it copies it, so
/// it is mostly words: sets of ids and properties are bits, per-client records are arrays,
/// and what changes rarely (subjects, the message log, stray deliveries) is shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// The membership the owner issued, less members that left.
    pub truth: Ids,
    /// Everyone the owner ever made a member.
    pub added_ever: Ids,
    pub removed_ever: Ids,
    pub parted: Ids,
    /// Subjects the owner issued.
    pub subjects: Hashed<BTreeSet<Text>>,
    /// Per client: members whose (real) removal it applied and the owner did not undo.
    pub gone: [Ids; MAX_CLIENTS],
    /// Every message sent, in order.
    pub messages: Hashed<Vec<Sent>>,
    /// Per client: bit `i` is set once it delivered the sender and body of `messages[i]`,
    /// where `i` is the first message with that sender and body.
    pub delivered: [u64; MAX_CLIENTS],
    /// Deliveries whose sender and body match no message: (client, sender, body).
    pub stray: Hashed<BTreeSet<(Id, Id, Text)>>,
    /// Properties of kind `always` already violated: the first violation sticks.
    pub violated: Props,
    /// The owner has equivocated: from here on it is not honest.
    pub equivocated: bool,
}

impl Default for Ghost {
    fn default() -> Self {
        Ghost {
            truth: Ids::default(),
            added_ever: Ids::default(),
            removed_ever: Ids::default(),
            parted: Ids::default(),
            subjects: Hashed::new(BTreeSet::new()),
            gone: [Ids::default(); MAX_CLIENTS],
            messages: Hashed::new(Vec::new()),
            delivered: [0; MAX_CLIENTS],
            stray: Hashed::new(BTreeSet::new()),
            violated: Props::default(),
            equivocated: false,
        }
    }
}

impl Ghost {
    /// The bit of the first message sent by `from` with this body.
    fn message_bit(&self, from: Id, body: &Text) -> Option<u64> {
        self.messages
            .iter()
            .position(|m| m.sender == from && m.body == *body)
            .map(|i| 1 << i)
    }

    /// Has client `c` delivered this sender and body?
    pub fn has_delivered(&self, c: usize, from: Id, body: &Text) -> bool {
        match self.message_bit(from, body) {
            Some(bit) => self.delivered[c] & bit != 0,
            None => self.stray.contains(&(c as Id, from, body.clone())),
        }
    }

    /// Records that client `c` delivered this sender and body.
    fn record_delivery(&mut self, c: usize, from: Id, body: Text) {
        match self.message_bit(from, &body) {
            Some(bit) => self.delivered[c] |= bit,
            None => {
                self.stray.update(|s| s.insert((c as Id, from, body)));
            }
        }
    }

    /// Logs a message (at most [`MAX_MESSAGES`], checked when a model starts).
    fn log(&mut self, sent: Sent) {
        self.messages.update(|m| m.push(sent));
    }
}

/// A state of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Inline: a successor copies the state without allocating for its clients.
    pub clients: SmallVec<[Hashed<Client<Id>>; MAX_CLIENTS]>,
    pub net: Net,
    pub script_pos: u8,
    pub messages_sent: [u8; MAX_CLIENTS],
    pub crashes: u8,
    pub losses: u8,
    pub adversary_moves: u8,
    pub insider_moves: u8,
    /// Nothing but the insider has acted since the owner's last step: the insider acts only
    /// then (see [`GroupModel::insider_copies`] for why that loses nothing).
    pub insider_turn: bool,
    /// Stanzas composed by the last step (with their signer), which the adversary may
    /// replay, and the insider re-seal if it was among the recipients. Replaying at once
    /// loses nothing: the replay travels on the adversary's own channel and can be
    /// delivered at any later point, so every replay timing is still explored.
    pub fresh: Vec<(Id, Arc<Stanza<Id>>, bool)>,
    pub ghost: Hashed<Ghost>,
}

/// A path: the initial state, then each action with the state it leads to.
pub type Path = (State, Vec<(Action, State)>);

/// The model's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupModel {
    pub dialect: Dialect,
    pub network: Network,
    /// Clients, the owner included (ids 0..clients).
    pub clients: u8,
    pub script: Vec<Step>,
    /// Clients that may send messages.
    pub senders: Vec<Id>,
    /// Messages each sender may send.
    pub messages: u8,
    /// Members that may leave (once each).
    pub parting: Vec<Id>,
    pub adversary: bool,
    /// How many stanzas the adversary may inject.
    pub adversary_budget: u8,
    /// How many times the owner may crash.
    pub owner_crashes: u8,
    /// How many stanzas the lossy network may drop.
    pub max_losses: u8,
    /// A liveness bug planted in the hardened core, to show the liveness analysis catches
    /// it (tests and `--plant` only).
    pub planted: Option<kgroup::Planted>,
    /// The insider: the first member the script removes acts as an adversary after the
    /// owner issues its removal ([`Insider`], re-seals), within `insider_budget` moves.
    pub insider: bool,
    pub insider_budget: u8,
    /// The hardened receiving rules (v1 only to show what v2 fixes).
    pub rules: Rules,
    /// The malicious owner: once, it sends one addressee of a command a different one
    /// ([`Action::Equivocate`]).
    pub equivocate: bool,
}

/// How far ahead of its epoch a model client holds a stanza.
pub const MODEL_MAX_AHEAD: u64 = 2;

impl GroupModel {
    /// Whether the model fits the state's fixed-size records: at most [`MAX_CLIENTS`]
    /// clients and [`MAX_MESSAGES`] messages (forgeries included).
    pub fn within_limits(&self) -> Result<(), String> {
        if self.clients as usize > MAX_CLIENTS {
            return Err(format!(
                "the model has at most {MAX_CLIENTS} clients (got {})",
                self.clients
            ));
        }
        let messages = self.senders.len() * self.messages as usize
            + if self.adversary {
                self.adversary_budget as usize
            } else {
                0
            }
            + if self.insider {
                self.insider_budget as usize
            } else {
                0
            };
        if self.insider && self.insider_id().is_none() {
            return Err("--insider needs a script that removes a member (the insider)".into());
        }
        if messages > MAX_MESSAGES {
            return Err(format!(
                "the model records at most {MAX_MESSAGES} messages: {} senders × {} messages{} is {messages}",
                self.senders.len(),
                self.messages,
                if self.adversary || self.insider { " + the adversaries' budgets" } else { "" }
            ));
        }
        Ok(())
    }

    /// The adversary's id: one past the clients.
    pub fn adversary_id(&self) -> Id {
        self.clients
    }

    /// The insider: the first member the script removes (when `insider` is on).
    pub fn insider_id(&self) -> Option<Id> {
        self.script.iter().find_map(|s| match s {
            Step::Remove(m) if self.insider => Some(*m),
            _ => None,
        })
    }

    /// The key of the group the model checks (see [`crate::group::key`]).
    pub fn key() -> GroupKey<Id> {
        crate::group::key()
    }

    pub fn config(&self) -> Config {
        let mut c = Config::new(self.dialect);
        // Abstract time: every timer is due whenever it fires; retry forever.
        c.retransmit_ms = 0;
        c.max_attempts = None;
        c.planted = self.planted;
        c.rules = self.rules;
        // Bounds as small as the honest workload allows, with room for one stanza more, so
        // that a flood reaches them: every honest message and part could be held at once,
        // each sender's in limbo, and a window's gaps are at most one sender's stanzas.
        let honest = self.senders.len() * self.messages as usize + self.parting.len();
        c.max_held = honest + 1;
        c.max_limbo = honest + 1;
        c.max_limbo_per_sender = self.messages as usize + usize::from(!self.parting.is_empty());
        c.max_window = self.script.len() + self.messages as usize + 2;
        c.max_ahead = MODEL_MAX_AHEAD;
        c
    }

    /// bounded-state: see [`Client::bounds_exceeded`].
    pub fn within_bounds(client: &Client<Id>) -> Result<(), String> {
        client.bounds_exceeded().map_or(Ok(()), Err)
    }

    fn view(state: &State, c: Id) -> Option<View<Id>> {
        state.clients[c as usize].view(&Self::key())
    }

    /// Nothing in flight for the first time, nothing held, no retransmission pending.
    pub fn is_quiescent(state: &State) -> bool {
        state.net.is_quiet() && state.clients.iter().all(|c| c.is_idle())
    }

    pub fn views(state: &State) -> BTreeMap<Id, Option<View<Id>>> {
        state
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| (i as Id, c.view(&Self::key())))
            .collect()
    }

    /// Does `state` satisfy property `p`?
    pub fn holds(p: Prop, state: &State) -> bool {
        match p {
            Prop::Convergence => !Self::is_quiescent(state) || Self::disagreeing(state).is_empty(),
            Prop::ForkDetection => {
                !Self::is_quiescent(state) || Self::undetected_fork(state).is_none()
            }
            Prop::NoLostMessages => !Self::is_quiescent(state) || Self::lost(state).is_empty(),
            // Judged on the graph, not in one state (see `crate::liveness`).
            Prop::QuiescenceReachable | Prop::Progress => true,
            always => !state.ghost.violated.contains(always),
        }
    }

    /// fork-detection: two members (not the owner) whose views differ while no client has
    /// raised the equivocation alarm. An honest owner never forks the group, so this is
    /// judged in every quiescent state, with or without the malicious owner.
    pub fn undetected_fork(state: &State) -> Option<(Id, Id)> {
        let key = Self::key();
        if state
            .clients
            .iter()
            .any(|c| c.group(&key).is_some_and(|g| g.alarm().is_some()))
        {
            return None;
        }
        let members: Vec<(Id, View<Id>)> = (1..state.clients.len() as Id)
            .filter_map(|c| Self::view(state, c).map(|v| (c, v)))
            .filter(|(_, v)| v.status == kgroup::Status::Member)
            .collect();
        let (first, v0) = members.first()?;
        members
            .iter()
            .find(|(_, v)| !v.agrees_with(v0))
            .map(|(c, _)| (*first, *c))
    }

    /// epoch-agreement, for client `c` after its step: with the owner honest so far, it
    /// holds the same owner-issued state as every client at its epoch (the snapshot's head
    /// in a group with epochs; the view itself in an epoch-less one, where every view is
    /// "epoch 0"), and raised no equivocation alarm (unless the insider, which can lie
    /// about its head, was the witness).
    fn epoch_disagrees(&self, state: &State, c: Id) -> bool {
        let key = Self::key();
        let false_alarm = state.clients.iter().any(|cl| {
            cl.group(&key)
                .and_then(|g| g.alarm())
                .is_some_and(|(_, w)| Some(*w) != self.insider_id())
        });
        if false_alarm {
            return true;
        }
        let Some(g) = state.clients[c as usize].group(&key) else {
            return false;
        };
        let mine = (!g.is_hardened()).then(|| Self::view(state, c)).flatten();
        state.clients.iter().enumerate().any(|(o, other)| {
            let Some(h) = other.group(&key).filter(|_| o != c as usize) else {
                return false;
            };
            if h.epoch() != g.epoch() {
                return false;
            }
            if g.is_hardened() && h.is_hardened() {
                h.head() != g.head()
            } else {
                let theirs = other.view(&key);
                match (&mine, &theirs) {
                    (Some(a), Some(b)) => !a.agrees_with(b),
                    _ => false,
                }
            }
        })
    }

    /// Participants that disagree at quiescence.
    pub fn disagreeing(state: &State) -> Vec<Id> {
        disagreeing(&OWNER, &Self::views(state))
    }

    /// Messages some expected recipient never delivered: (message, recipient).
    pub fn lost(state: &State) -> Vec<(Sent, Id)> {
        let g = &state.ghost;
        let mut lost = Vec::new();
        for m in g.messages.iter() {
            for r in m.expected.iter() {
                if !g.has_delivered(r as usize, m.sender, &m.body) {
                    lost.push((m.clone(), r));
                }
            }
        }
        lost
    }

    /// Runs `f` on client `c` and judges what it did against the always-properties.
    fn step_client(
        &self,
        state: &mut State,
        c: Id,
        delivered: Option<&InFlight>,
        ack_lost: bool,
        f: impl FnOnce(&mut Client<Id>, &mut Vec<Output<Id>>),
    ) {
        let effect = Effect::of(&state.clients[c as usize], f);
        self.apply(state, c, delivered, ack_lost, &effect);
    }

    /// Client `c` receives the stanza `env` carries, from `from`: the same client receiving
    /// the same stanza recurs in many states, so its effect is computed once (per thread).
    fn deliver(&self, state: &mut State, from: Id, env: &InFlight, ack_lost: bool) {
        let c = env.dst;
        let effect = Effect::received(&state.clients[c as usize], from, &env.stanza);
        self.apply(state, c, Some(env), ack_lost, &effect);
    }

    /// Installs the effect of a transition of client `c` and judges it against the
    /// always-properties.
    fn apply(
        &self,
        state: &mut State,
        c: Id,
        delivered: Option<&InFlight>,
        ack_lost: bool,
        effect: &Effect,
    ) {
        let key = Self::key();
        let ci = c as usize;
        // What epoch-agreement looks at in this client: unchanged, and no head
        // acknowledgement sent, means no new disagreement (only this client's state
        // changes in a step, and a head acknowledgement only raises its targets' alarms).
        let held = |cl: &Client<Id>| {
            cl.group(&key)
                .map(|g| (g.is_hardened(), g.epoch(), g.head(), g.alarm().is_some()))
        };
        let held_before = held(&state.clients[ci]);
        state.clients[ci] = effect.client.clone();
        // The parent state keeps the old ghost: holding it costs a count.
        let old_ghost = state.ghost.clone();
        let client = &state.clients[ci];
        let after = &effect.after;
        let ghost = &*old_ghost;
        let mut violated = Props::default();

        // owner-authority: every member and subject a view gains was issued by the owner;
        // every member it loses was removed by the owner or left.
        let gained_ok = effect
            .gained
            .iter()
            .all(|&m| m == OWNER || ghost.added_ever.contains(m));
        let lost_ok = effect
            .lost
            .iter()
            .all(|&m| ghost.removed_ever.contains(m) || ghost.parted.contains(m));
        let subject_ok = after
            .as_ref()
            .and_then(|v| v.subject.as_ref())
            .is_none_or(|s| ghost.subjects.contains(s));
        if !(gained_ok && lost_ok && subject_ok) {
            violated.insert(Prop::OwnerAuthority);
        }

        // owner-binding: a stanza naming another owner never touches the owner's group.
        if let Some(env) = delivered {
            if env.stanza.group.owner != OWNER && effect.group_changed {
                violated.insert(Prop::OwnerBinding);
            }
        }
        // The bound owner's own stanza refused: the id was taken from it.
        if effect.refused_owner && delivered.is_some_and(|e| e.src == OWNER) {
            violated.insert(Prop::OwnerBinding);
        }

        // removed-confidentiality bookkeeping: removals really issued, applied here, and
        // not undone by the owner since.
        let gone_before = ghost.gone[ci];
        let newly_gone = |m: Id| ghost.removed_ever.contains(m) && !ghost.truth.contains(m);
        let gone_changes = effect
            .lost
            .iter()
            .any(|&m| newly_gone(m) && !gone_before.contains(m))
            || gone_before.intersects(ghost.truth);
        let roster: Option<&Roster<Id>> = client.group(&key).map(|g| g.roster());
        for (i, (from, body)) in effect.delivered.iter().enumerate() {
            // member-filter: the sender is who it claims, and a member in this view.
            let record = ghost.messages.iter().find(|m| m.body == *body);
            let genuine = record.is_some_and(|m| m.sender == *from);
            let member = effect.before_members.binary_search(from).is_ok()
                || record.is_some_and(|m| roster.is_some_and(|r| r.was_member_at(from, m.epoch)));
            if !(genuine && member) {
                violated.insert(Prop::MemberFilter);
            }
            if let Some(m) = record.filter(|m| m.sender == *from) {
                // exactly-once: never the same message twice (before, or in this very step).
                if ghost.has_delivered(ci, *from, body)
                    || effect.delivered[..i].contains(&(*from, body.clone()))
                {
                    violated.insert(Prop::ExactlyOnce);
                }
                // removed-silence: nothing the sender composed after the owner issued its
                // removal, once this client applied that removal.
                if m.after_removal && gone_before.contains(m.sender) {
                    violated.insert(Prop::RemovedSilence);
                }
                // addressed-authenticity: its signer addressed it to this client.
                if !m.addressed.contains(c) {
                    violated.insert(Prop::AddressedAuthenticity);
                }
            }
        }
        if Self::within_bounds(client).is_err() {
            violated.insert(Prop::BoundedState);
        }

        for s in &effect.sends {
            let control = matches!(
                s.stanza.ext,
                Some(Ext::Ack { .. } | Ext::Head { .. } | Ext::Resync { .. })
            );
            if !s.resent && !control {
                let notice = match &s.stanza.command {
                    Command::Set { remove, .. } => remove.clone(),
                    _ => Vec::new(),
                };
                if s.to
                    .iter()
                    .any(|r| gone_before.contains(*r) && !notice.contains(r))
                {
                    violated.insert(Prop::RemovedConfidentiality);
                }
            }
            let to_insider = self
                .insider_id()
                .is_some_and(|x| s.to.contains(&x) || c == x);
            if (self.adversary || to_insider) && !control {
                state.fresh.push((c, s.stanza.arc().clone(), to_insider));
            }
            if control_ack(&s.stanza) {
                // Acknowledgements only clear the sender's retransmission queue, so they are
                // applied at once (a partial-order reduction). On the lossy network the
                // delivery that causes one may lose it instead; an ack still in flight while
                // the sender retransmits only yields a duplicate, which the duplicating
                // network covers.
                continue;
            }
            for &r in &s.to {
                state.net.send(
                    self.network,
                    InFlight {
                        via: c,
                        src: c,
                        claimed: c,
                        dst: r,
                        stanza: s.stanza.clone(),
                    },
                );
            }
        }
        if !ack_lost {
            for s in effect.sends.iter().filter(|s| control_ack(&s.stanza)) {
                for r in &s.to {
                    if let Some(target) = state.clients.get_mut(*r as usize) {
                        *target = Effect::received(target, c, &s.stanza).client.clone();
                    }
                }
            }
        }

        // After the acknowledgements: a head acknowledgement may raise a neighbour's alarm.
        let heads_sent = effect
            .sends
            .iter()
            .any(|s| matches!(s.stanza.ext, Some(Ext::Head { .. })));
        let after = held(&state.clients[ci]);
        let epoch_less = after.is_some_and(|(hardened, ..)| !hardened);
        let moved = heads_sent || epoch_less || after != held_before;
        if moved
            && !ghost.equivocated
            && !ghost.violated.contains(Prop::EpochAgreement)
            && self.epoch_disagrees(state, c)
        {
            violated.insert(Prop::EpochAgreement);
        }
        // The ghost is copied only when this step changes it.
        let new_violation = !ghost.violated.contains_all(violated);
        let new_delivery = effect
            .delivered
            .iter()
            .any(|(from, body)| !ghost.has_delivered(ci, *from, body));
        if new_violation || new_delivery || gone_changes {
            let lost = &effect.lost;
            state.ghost.update(|g| {
                g.violated.insert_all(violated);
                for (from, body) in &effect.delivered {
                    g.record_delivery(ci, *from, body.clone());
                }
                for &m in lost {
                    if g.removed_ever.contains(m) && !g.truth.contains(m) {
                        g.gone[ci].insert(m);
                    }
                }
                g.gone[ci] = g.gone[ci].without(g.truth);
            });
        }
    }

    fn owner_step(&self, state: &mut State, step: &Step) {
        let set = |change: Change<Id>| Intent::Set {
            id: GROUP.into(),
            change,
            body: None,
        };
        let mut g = (*state.ghost).clone();
        let intent = match step {
            Step::Create(members) => {
                g.truth = members.iter().copied().chain([OWNER]).collect();
                g.added_ever.extend(members.iter().copied());
                Intent::Create {
                    id: GROUP.into(),
                    members: members.clone(),
                    subject: None,
                    body: None,
                }
            }
            Step::Add(m) => {
                g.truth.insert(*m);
                g.added_ever.insert(*m);
                g.parted.remove(*m);
                set(Change {
                    add: vec![*m],
                    ..Default::default()
                })
            }
            Step::Remove(m) => {
                g.truth.remove(*m);
                g.removed_ever.insert(*m);
                // A message of m's that the owner had not accepted when it removed m raced
                // the removal: the owner's record decides, so it is owed to nobody (and
                // removed-silence still forbids what m composes from now on).
                let owner_bits = g.delivered[OWNER as usize];
                let messages: Vec<Sent> = g
                    .messages
                    .iter()
                    .enumerate()
                    .map(|(i, sent)| {
                        let mut sent = sent.clone();
                        if sent.sender == *m && i < 64 && owner_bits & (1 << i) == 0 {
                            sent.expected = Ids::default();
                        }
                        sent
                    })
                    .collect();
                g.messages = Hashed::new(messages);
                set(Change {
                    remove: vec![*m],
                    ..Default::default()
                })
            }
            Step::Subject(n) => {
                let s: Text = format!("s{n}").into();
                g.subjects.update(|subjects| subjects.insert(s.clone()));
                set(Change {
                    subject: Some(s),
                    ..Default::default()
                })
            }
        };
        state.ghost = Hashed::new(g);
        self.step_client(state, OWNER, None, false, |c, out| {
            // A refused step (e.g. removing someone who already left) is a no-op.
            let _ = c.act(intent, 0, out);
        });
    }

    /// The copy a forgery of this kind puts on the adversary's channel to `to`.
    pub fn forged(&self, kind: Forgery, to: Id) -> InFlight {
        let a = self.adversary_id();
        let (claimed, stanza) = match kind {
            Forgery::AddMe => {
                let roster = Roster::with_members(0..=a, 1);
                (
                    OWNER,
                    Stanza {
                        group: Self::key(),
                        command: Command::Set {
                            subject: None,
                            add: vec![a],
                            remove: vec![],
                            members: vec![],
                        },
                        body: None,
                        ext: Some(Ext::Snapshot {
                            epoch: 100,
                            seq: 100,
                            prev: kgroup::Digest::ZERO,
                            subject: None,
                            roster,
                        }),
                    },
                )
            }
            Forgery::Impersonate => (
                1,
                Stanza {
                    group: Self::key(),
                    command: Command::Message,
                    body: Some("forged".into()),
                    ext: Some(Ext::Stamp {
                        epoch: 1,
                        seq: 100,
                        to: vec![to],
                    }),
                },
            ),
            Forgery::Squat => (
                a,
                Stanza {
                    group: GroupKey::new(GROUP, a),
                    command: Command::Create {
                        subject: None,
                        members: vec![to],
                    },
                    body: None,
                    ext: None,
                },
            ),
        };
        InFlight {
            via: a,
            src: a,
            claimed,
            dst: to,
            stanza: Hashed::new(stanza),
        }
    }

    /// The channel the insider's stanzas travel on: its own, apart from its client's (the
    /// ordered network is FIFO per channel).
    pub fn insider_channel(&self) -> Id {
        self.clients + 1
    }

    /// The client the insider floods: the first member that is not the owner.
    pub fn flood_target(&self) -> Id {
        let x = self.insider_id();
        (1..self.clients).find(|&m| Some(m) != x).unwrap_or(OWNER)
    }

    /// What the insider's `n`-th move of this kind puts in flight to `to`, and the message
    /// it logs (none for a flood, which only fills buffers), with the owner at
    /// `owner_epoch`.
    ///
    /// **Why this insider loses no violation.** (1) It acts only right after an owner step,
    /// any number of times within its budget: what it can compose depends on the state
    /// only through the owner's epoch, which only the owner's steps change (a part's
    /// confirmation aside), and what it composes travels on its own channel, deliverable at
    /// any later point, so composing it later adds no behaviour. (2) Each stanza goes to one
    /// client of its choice: a violation is a delivery (or a bound) at one client, and a
    /// copy elsewhere changes nothing there (a client answers junk only to the insider or
    /// the owner, and the owner answers only the asker). (3) The epochs and numbers it
    /// stamps stand for their classes: epoch 1 for every epoch at which it was a member
    /// (the rules judge them alike), the owner's epoch + 1 for every epoch ahead within
    /// the hold window (beyond it v2 refuses at once, v1 holds alike), a new number and a
    /// number it used for every fresh and every reused one.
    pub fn insider_copies(
        &self,
        kind: Insider,
        to: Id,
        n: u8,
        owner_epoch: u64,
    ) -> Option<(Option<Sent>, Vec<InFlight>)> {
        let x = self.insider_id()?;
        let body: Text = format!("x{n}").into();
        let others: Vec<Id> = (0..self.clients).filter(|&m| m != x).collect();
        let stamp = |epoch: u64, seq: u64, to: &[Id]| {
            Some(Ext::Stamp {
                epoch,
                seq,
                to: to.to_vec(),
            })
        };
        let message = |group: GroupKey<Id>, ext: Option<Ext<Id>>| Stanza {
            group,
            command: Command::Message,
            body: Some(body.clone()),
            ext,
        };
        let to_all = |ext: Option<Ext<Id>>| -> Vec<(Id, Stanza<Id>)> {
            vec![(to, message(Self::key(), ext))]
        };
        let stanzas = match kind {
            Insider::Backdated => to_all(stamp(1, 50, &others)),
            Insider::ReusedSeq => to_all(stamp(1, 1, &others)),
            Insider::Ahead => to_all(stamp(owner_epoch + 1, 60, &others)),
            Insider::EpochLess => to_all(None),
            Insider::Flood => {
                // To one client: bounds are per client, so one shows any.
                let target = to;
                (0..=self.config().max_limbo_per_sender.max(1))
                    .map(|k| {
                        let id: Text = format!("f{n}.{k}").into();
                        (
                            target,
                            message(GroupKey::new(id, x), stamp(1, 1, &[target])),
                        )
                    })
                    .collect()
            }
        };
        let logged = (kind != Insider::Flood).then(|| Sent {
            sender: x,
            body: body.clone(),
            epoch: 1,
            expected: Ids::default(),
            addressed: others.iter().copied().collect(),
            after_removal: true,
        });
        let copies = stanzas
            .into_iter()
            .map(|(dst, stanza)| InFlight {
                via: self.insider_channel(),
                src: x,
                claimed: x,
                dst,
                stanza: crate::effect::intern_stanza(Hashed::new(stanza)),
            })
            .collect();
        Some((logged, copies))
    }

    /// Would a retransmission fill a gap: some unacknowledged recipient has neither the
    /// stanza nor its acknowledgement in flight?
    fn timeout_useful(&self, state: &State, c: Id) -> bool {
        let client = &state.clients[c as usize];
        let resync = |s: &Stanza<Id>| matches!(s.ext, Some(Ext::Resync { .. }));
        // A client holding stanzas of a group it does not know asks the owner again, unless
        // its request, or anything of the owner's (an answer, a snapshot), is on its way.
        let holding = client.limbo().next().is_some()
            || (client.config().rules == Rules::V2
                && c != OWNER
                && client.groups().any(|(_, g)| !g.held().is_empty()));
        let limbo = holding
            && !state.net.carries(c, OWNER, resync)
            && !state.net.carries(OWNER, c, |_| true);
        limbo
            || client.groups().any(|(_, g)| {
                g.outbox().iter().any(|p| {
                    p.unacked
                        .iter()
                        .any(|&r| !state.net.carries(c, r, |s| *s == *p.stanza))
                })
            })
    }
}

/// The equivocating owner's other command: the same, with another subject everywhere it
/// is named (the seed's `set`, and our snapshot).
pub fn forge_subject<I>(s: &mut Stanza<I>, forged: &Text) {
    match &mut s.command {
        Command::Create { subject, .. } | Command::Set { subject, .. } => {
            *subject = Some(forged.clone())
        }
        Command::Message | Command::Part => {}
    }
    if let Some(Ext::Snapshot { subject, .. }) = &mut s.ext {
        *subject = Some(forged.clone());
    }
}

fn control_ack(s: &Stanza<Id>) -> bool {
    matches!(s.ext, Some(Ext::Ack { .. } | Ext::Head { .. }))
}

impl Model for GroupModel {
    type State = State;
    type Action = Action;

    /// The Explorer (`kgroup check --serve`) names actions as traces do.
    fn format_action(&self, action: &Action) -> String {
        crate::trace::describe_action(self, action)
    }

    /// The Explorer shows, after a step, what the receiver refused and showed, and every
    /// client's view, with the traces' names (not the state's Debug form).
    fn format_step(&self, last_state: &State, action: Action) -> Option<String> {
        let next = self.next_state(last_state, action.clone())?;
        let step = crate::trace::steps(self, last_state, &[(action, next.clone())]);
        let mut lines = vec![crate::trace::legend(self)];
        for s in step {
            lines.extend(s.rejections);
            lines.extend(s.deliveries);
        }
        lines.extend(crate::trace::views(self, &next));
        lines.push(crate::trace::pending(self, &next));
        Some(lines.join("\n"))
    }

    fn init_states(&self) -> Vec<State> {
        if let Err(e) = self.within_limits() {
            // The CLI checks the limits first; a model built in code must respect them too.
            panic!("{e}");
        }
        vec![State {
            clients: (0..self.clients)
                .map(|i| Hashed::new(Client::new(i, self.config())))
                .collect(),
            net: Net::default(),
            script_pos: 0,
            messages_sent: [0; MAX_CLIENTS],
            crashes: 0,
            losses: 0,
            adversary_moves: 0,
            insider_moves: 0,
            insider_turn: false,
            fresh: Vec::new(),
            ghost: Hashed::new(Ghost::default()),
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        if let Some(step) = self.script.get(state.script_pos as usize) {
            actions.push(Action::Owner(step.clone()));
        }
        let created = state.script_pos > 0;
        for c in 0..self.clients {
            let (sends, parts) = (self.senders.contains(&c), self.parting.contains(&c));
            if !(sends || parts) {
                continue;
            }
            let member = Self::view(state, c).is_some_and(|v| v.status == kgroup::Status::Member);
            if created && member && sends && state.messages_sent[c as usize] < self.messages {
                actions.push(Action::Message(c));
            }
            if member && parts {
                actions.push(Action::Part(c));
            }
        }
        let lossy = self.network == Network::Lossy && state.losses < self.max_losses;
        for env in state.net.deliverable(self.network) {
            actions.push(Action::Deliver(env.clone(), false));
            if lossy && env.stanza.ext.as_ref().and_then(Ext::seq).is_some() {
                actions.push(Action::Deliver(env.clone(), true));
            }
        }
        if self.network == Network::Lossy && state.losses < self.max_losses {
            for env in state.net.deliverable(Network::Unordered) {
                actions.push(Action::Drop(env.clone()));
            }
        }
        // Retransmission only fills gaps a loss, a crash or (with the insider) a held
        // stanza dropped on the owner's word leaves; elsewhere everything is in flight.
        if self.network == Network::Lossy || state.crashes > 0 || self.insider {
            for c in 0..self.clients {
                if self.timeout_useful(state, c) {
                    actions.push(Action::Timeout(c));
                }
            }
        }
        if created && state.crashes < self.owner_crashes {
            actions.push(Action::Crash(OWNER));
        }
        if self.adversary && state.adversary_moves < self.adversary_budget {
            // Forgeries do not depend on the state and travel on the adversary's own
            // channel: injecting them before anything happens covers every delivery time.
            if !created {
                for to in 1..self.clients {
                    for kind in [Forgery::AddMe, Forgery::Impersonate, Forgery::Squat] {
                        actions.push(Action::Forge(kind, to));
                    }
                }
            }
            for (src, s, _) in &state.fresh {
                for to in (0..self.clients).filter(|to| to != src) {
                    actions.push(Action::Replay(*src, s.clone(), to));
                }
            }
        }
        if self.equivocate && !state.ghost.equivocated {
            for env in state.net.deliverable(self.network) {
                let command = matches!(
                    env.stanza.command,
                    Command::Create { .. } | Command::Set { .. }
                );
                if env.src == OWNER && env.via == OWNER && env.dst != OWNER && command {
                    actions.push(Action::Equivocate(env.clone()));
                }
            }
        }
        if let Some(x) = self.insider_id() {
            if state.insider_moves < self.insider_budget {
                let g = &state.ghost;
                if state.insider_turn && g.removed_ever.contains(x) && !g.truth.contains(x) {
                    for kind in Insider::ALL {
                        if kind == Insider::Flood {
                            actions.push(Action::Insider(kind, self.flood_target()));
                            continue;
                        }
                        for to in (0..self.clients).filter(|&m| m != x) {
                            actions.push(Action::Insider(kind, to));
                        }
                    }
                }
                for (src, s, seen) in &state.fresh {
                    if *seen && *src != x {
                        for to in (0..self.clients).filter(|&m| m != x && m != *src) {
                            actions.push(Action::Reseal(*src, s.clone(), to));
                        }
                    }
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        state.fresh.clear();
        state.insider_turn = match action {
            Action::Owner(_) => true,
            Action::Insider(..) => last.insider_turn,
            _ => false,
        };
        match action {
            Action::Owner(step) => {
                state.script_pos += 1;
                self.owner_step(&mut state, &step);
            }
            Action::Message(c) => {
                let n = state.messages_sent[c as usize];
                state.messages_sent[c as usize] += 1;
                let body: Text = format!("m{c}.{n}").into();
                let view = Self::view(&state, c)?;
                let g = &state.ghost;
                // The insider's own messages are owed to nobody: an adversary may spoil them.
                // Nor is what a member composes after the owner removed it (it may not know
                // yet): removed-silence forbids it wherever the removal was applied.
                let removed = g.removed_ever.contains(c) && !g.truth.contains(c);
                let owed = self.insider_id() != Some(c) && !removed;
                let expected = view
                    .members
                    .iter()
                    .copied()
                    .filter(|&m| owed && m != c && g.truth.contains(m) && !g.parted.contains(m))
                    .collect();
                let addressed = view.members.iter().copied().filter(|&m| m != c).collect();
                state.ghost.update(|g| {
                    g.log(Sent {
                        sender: c,
                        body: body.clone(),
                        epoch: view.epoch,
                        expected,
                        addressed,
                        after_removal: removed,
                    })
                });
                self.step_client(&mut state, c, None, false, |cl, out| {
                    let _ = cl.act(
                        Intent::Message {
                            group: Self::key(),
                            body,
                        },
                        0,
                        out,
                    );
                });
            }
            Action::Part(c) => {
                state.ghost.update(|g| {
                    g.parted.insert(c);
                    g.truth.remove(c);
                });
                self.step_client(&mut state, c, None, false, |cl, out| {
                    let _ = cl.act(
                        Intent::Part {
                            group: Self::key(),
                            body: None,
                        },
                        0,
                        out,
                    );
                });
            }
            Action::Deliver(env, ack_lost) => {
                if !state.net.take(self.network, &env) {
                    return None;
                }
                if ack_lost {
                    state.losses += 1;
                }
                // kontalk and android trust the `from` the server shows; hardened the signer.
                let from = if self.dialect.trusts_server_from() {
                    env.claimed
                } else {
                    env.src
                };
                if (env.dst as usize) < state.clients.len() {
                    self.deliver(&mut state, from, &env, ack_lost);
                }
            }
            Action::Drop(env) => {
                if !state.net.drop(&env) {
                    return None;
                }
                state.losses += 1;
            }
            Action::Timeout(c) => {
                self.step_client(&mut state, c, None, false, |cl, out| {
                    cl.handle_timeout(0, out)
                });
            }
            Action::Crash(c) => {
                state.crashes += 1;
                let config = self.config();
                self.step_client(&mut state, c, None, false, |cl, _| {
                    *cl = Client::restore(c, config, cl.durable());
                });
            }
            Action::Forge(kind, to) => {
                state.adversary_moves += 1;
                let env = self.forged(kind, to);
                if kind == Forgery::Impersonate {
                    // Recorded as the adversary's, so a delivery in member 1's name is caught.
                    state.ghost.update(|g| {
                        g.log(Sent {
                            sender: self.adversary_id(),
                            body: "forged".into(),
                            epoch: 1,
                            expected: Ids::default(),
                            addressed: [to].into_iter().collect(),
                            after_removal: false,
                        })
                    });
                }
                state.net.send(self.network, env);
            }
            Action::Replay(src, stanza, to) => {
                state.adversary_moves += 1;
                state.net.send(
                    self.network,
                    InFlight {
                        via: self.adversary_id(),
                        src,
                        claimed: src,
                        dst: to,
                        stanza: Hashed::from_arc(stanza),
                    },
                );
            }
            Action::Insider(kind, to) => {
                state.insider_moves += 1;
                let owner_epoch = state.clients[OWNER as usize]
                    .view(&Self::key())
                    .map_or(0, |v| v.epoch);
                let (logged, copies) =
                    self.insider_copies(kind, to, state.insider_moves, owner_epoch)?;
                if let Some(sent) = logged {
                    state.ghost.update(|g| g.log(sent));
                }
                for env in copies {
                    state.net.send(self.network, env);
                }
            }
            Action::Equivocate(env) => {
                if !state.net.take(self.network, &env) {
                    return None;
                }
                let forged: Text = FORGED_SUBJECT.into();
                state.ghost.update(|g| {
                    g.equivocated = true;
                    // The owner did issue it: owner-authority still holds.
                    g.subjects.update(|s| s.insert(forged.clone()));
                });
                let mut stanza = (*env.stanza).clone();
                forge_subject(&mut stanza, &forged);
                state.net.send(
                    self.network,
                    InFlight {
                        stanza: crate::effect::intern_stanza(Hashed::new(stanza)),
                        ..env
                    },
                );
            }
            Action::Reseal(src, stanza, dst) => {
                state.insider_moves += 1;
                state.net.send(
                    self.network,
                    InFlight {
                        via: self.insider_channel(),
                        src,
                        claimed: src,
                        dst,
                        stanza: Hashed::from_arc(stanza),
                    },
                );
            }
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        catalogue()
    }
}

/// The brief's catalogue as stateright properties, named by [`Prop::name`] (map a name back
/// with [`Prop::from_name`]), of any model over these states (this one and its
/// symmetry-reduced form).
pub(crate) fn catalogue<M: Model<State = State>>() -> Vec<Property<M>> {
    vec![
        Property::always(Prop::OwnerAuthority.name(), |_, s: &State| {
            GroupModel::holds(Prop::OwnerAuthority, s)
        }),
        Property::always(Prop::OwnerBinding.name(), |_, s: &State| {
            GroupModel::holds(Prop::OwnerBinding, s)
        }),
        Property::always(Prop::MemberFilter.name(), |_, s: &State| {
            GroupModel::holds(Prop::MemberFilter, s)
        }),
        Property::always(Prop::RemovedConfidentiality.name(), |_, s: &State| {
            GroupModel::holds(Prop::RemovedConfidentiality, s)
        }),
        Property::always(Prop::RemovedSilence.name(), |_, s: &State| {
            GroupModel::holds(Prop::RemovedSilence, s)
        }),
        Property::always(Prop::EpochAgreement.name(), |_, s: &State| {
            GroupModel::holds(Prop::EpochAgreement, s)
        }),
        Property::always(Prop::ForkDetection.name(), |_, s: &State| {
            GroupModel::holds(Prop::ForkDetection, s)
        }),
        Property::always(Prop::AddressedAuthenticity.name(), |_, s: &State| {
            GroupModel::holds(Prop::AddressedAuthenticity, s)
        }),
        Property::always(Prop::ExactlyOnce.name(), |_, s: &State| {
            GroupModel::holds(Prop::ExactlyOnce, s)
        }),
        Property::always(Prop::BoundedState.name(), |_, s: &State| {
            GroupModel::holds(Prop::BoundedState, s)
        }),
        Property::always(Prop::Convergence.name(), |_, s: &State| {
            GroupModel::holds(Prop::Convergence, s)
        }),
        Property::always(Prop::NoLostMessages.name(), |_, s: &State| {
            GroupModel::holds(Prop::NoLostMessages, s)
        }),
    ]
}
