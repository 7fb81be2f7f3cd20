//! The group model: N clients running the real core over one of the brief's networks, an
//! owner command script, member messages and parts, owner crashes, and an optional
//! adversary (a server or outsider that forges `from` and owner attributes and replays any
//! owner stanza it has seen). Properties are named predicates over the state; the ghost
//! part of the state records what the owner really issued, to judge the clients against.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kgroup::core::agreement::disagreeing;
use kgroup::{
    Change, Client, Command, Config, Dialect, Ext, GroupKey, Intent, Output, Roster, Stanza, Text,
    View,
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
    /// The adversary replays an owner stanza it has seen to a client.
    Replay(Arc<Stanza<Id>>, Id),
}

/// A message as sent, and whom it must reach.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sent {
    pub sender: Id,
    pub body: Text,
    pub epoch: u64,
    /// Members of the sender's view that were really members (and had not left) when sent.
    pub expected: Ids,
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
    /// Owner commands composed by the last step, which the adversary may replay. Replaying
    /// at once loses nothing: the replay travels on the adversary's own channel and can be
    /// delivered at any later point, so every replay timing is still explored.
    pub fresh: Vec<Arc<Stanza<Id>>>,
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
}

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
            };
        if messages > MAX_MESSAGES {
            return Err(format!(
                "the model records at most {MAX_MESSAGES} messages: {} senders × {} messages{} is {messages}",
                self.senders.len(),
                self.messages,
                if self.adversary { " + the adversary's budget" } else { "" }
            ));
        }
        Ok(())
    }

    /// The adversary's id: one past the clients.
    pub fn adversary_id(&self) -> Id {
        self.clients
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
        c
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
            Prop::NoLostMessages => !Self::is_quiescent(state) || Self::lost(state).is_empty(),
            // Judged on the graph, not in one state (see `crate::liveness`).
            Prop::QuiescenceReachable | Prop::Progress => true,
            always => !state.ghost.violated.contains(always),
        }
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
        for (from, body) in &effect.delivered {
            // member-filter: the sender is who it claims, and a member in this view.
            let record = ghost.messages.iter().find(|m| m.body == *body);
            let genuine = record.is_some_and(|m| m.sender == *from);
            let member = effect.before_members.binary_search(from).is_ok()
                || record.is_some_and(|m| roster.is_some_and(|r| r.was_member_at(from, m.epoch)));
            if !(genuine && member) {
                violated.insert(Prop::MemberFilter);
            }
        }
        for s in &effect.sends {
            let control = matches!(s.stanza.ext, Some(Ext::Ack { .. } | Ext::Resync { .. }));
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
            if self.adversary
                && s.stanza.group.owner == OWNER
                && c == OWNER
                && matches!(
                    s.stanza.command,
                    Command::Create { .. } | Command::Set { .. }
                )
            {
                state.fresh.push(s.stanza.arc().clone());
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
                    ext: Some(Ext::Stamp { epoch: 1, seq: 100 }),
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

    /// Would a retransmission fill a gap: some unacknowledged recipient has neither the
    /// stanza nor its acknowledgement in flight?
    fn timeout_useful(&self, state: &State, c: Id) -> bool {
        let client = &state.clients[c as usize];
        let resync = |s: &Stanza<Id>| matches!(s.ext, Some(Ext::Resync { .. }));
        // A client holding stanzas of a group it does not know asks the owner again, unless
        // its request, or anything of the owner's (an answer, a snapshot), is on its way.
        let limbo = client.limbo().next().is_some()
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

fn control_ack(s: &Stanza<Id>) -> bool {
    matches!(s.ext, Some(Ext::Ack { .. }))
}

impl Model for GroupModel {
    type State = State;
    type Action = Action;

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
        if self.network == Network::Lossy || state.crashes > 0 {
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
            for s in &state.fresh {
                for to in 1..self.clients {
                    actions.push(Action::Replay(s.clone(), to));
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        state.fresh.clear();
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
                let expected = view
                    .members
                    .iter()
                    .copied()
                    .filter(|&m| m != c && g.truth.contains(m) && !g.parted.contains(m))
                    .collect();
                state.ghost.update(|g| {
                    g.log(Sent {
                        sender: c,
                        body: body.clone(),
                        epoch: view.epoch,
                        expected,
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
                // kontalk trusts the `from` the server shows; hardened the signer.
                let from = match self.dialect {
                    Dialect::Kontalk => env.claimed,
                    Dialect::Hardened => env.src,
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
                        })
                    });
                }
                state.net.send(self.network, env);
            }
            Action::Replay(stanza, to) => {
                state.adversary_moves += 1;
                state.net.send(
                    self.network,
                    InFlight {
                        via: self.adversary_id(),
                        src: OWNER,
                        claimed: OWNER,
                        dst: to,
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
        Property::always(Prop::Convergence.name(), |_, s: &State| {
            GroupModel::holds(Prop::Convergence, s)
        }),
        Property::always(Prop::NoLostMessages.name(), |_, s: &State| {
            GroupModel::holds(Prop::NoLostMessages, s)
        }),
    ]
}
