//! A counterexample of `kgroup check`, replayed by the simulator's clients, server path and
//! judge: every step of the model's path (an owner command, a message, a delivery of one
//! exact copy, a loss, a timeout, a crash, a forgery, a replay) is done again here, in core,
//! wire or encrypted mode, and the simulator's own judge says which property broke.
//!
//! The model abstracts time and applies acknowledgements at once; the replay does the same
//! (an acknowledgement is delivered as soon as it is sent, unless the model's step lost
//! it; in wire mode it too goes through the codec and the server), so the replay is the
//! same run, seen through the adapter the mode selects.
//!
//! Every replay also keeps a [`StepRecord`] per step: what each client was given, in
//! order (an intent, a copy with its XML, a timeout, a restart), and what each client the
//! step touched showed, refused and held as its view after it. `kgroup replay --export`
//! writes those as test vectors, so the expectations other implementations are held to
//! are what these clients did, not a second derivation of it.

use std::sync::Arc;

use kgroup::{Client, Ext, GroupKey, Intent, LocalError, Output, Stanza, Text, View};
use kgroup_model::group::{GROUP, OWNER};
use kgroup_model::model::{Action, Forgery};
use kgroup_model::network::InFlight;
use kgroup_model::properties::Kind;
use kgroup_model::script::Step;
use kgroup_model::{GroupModel, Network, Property, Verdict};
use serde::Serialize;

use crate::config::Mode;
use crate::engine::Payload;
use crate::judge::{Id, Judge};
use crate::wire;

/// One copy on its way, with the model's description of it.
#[derive(Clone)]
struct Copy {
    via: Id,
    src: Id,
    claimed: Id,
    dst: Id,
    stanza: Arc<Stanza<Id>>,
    payload: Payload,
    /// The duplicating network keeps a delivered copy, to deliver it again.
    delivered: bool,
}

/// What a replay found.
#[derive(Debug, Serialize)]
pub struct Replayed {
    pub mode: &'static str,
    pub steps: usize,
    /// Steps whose copy the replay did not have in flight (should be none).
    pub missing: usize,
    /// Copies the receiver could not decode or open.
    pub malformed: usize,
    pub quiescent: bool,
    pub properties: Vec<Verdict>,
    /// For each property that broke during the replay, the step (1-based) where it broke.
    pub broke_at: Vec<(Property, usize)>,
    /// A lasso's cycle, replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<CycleReplayed>,
    /// One record per step done: the path's, then a drain's or the cycle's rounds.
    #[serde(skip)]
    pub record: Vec<StepRecord>,
}

/// One step of a replay as another implementation would do it again: the inputs given to
/// the clients, in order, and the state of each client the step touched.
#[derive(Clone, Debug, Default)]
pub struct StepRecord {
    /// False when the step's copy was not in flight (counted in [`Replayed::missing`]).
    pub played: bool,
    pub events: Vec<Event>,
    /// The clients the step gave anything to, in the order first given.
    pub touched: Vec<Touched>,
}

/// One input to one client.
#[derive(Clone, Debug)]
pub enum Event {
    /// A local intent at time `now`; `refused` when the client refused it (a no-op, as in
    /// the model).
    Act {
        client: Id,
        intent: Intent<Id>,
        refused: Option<LocalError>,
        now: u64,
    },
    /// A copy reaches `to` at time `now`: `from` is its `from` attribute (the server's
    /// word), `signer` who signed it (the verified OpenPGP signer), `sender` the one the
    /// core was given (`from` in a dialect that trusts the server's `from`, else `signer`).
    /// `xml` is the copy as it arrived (wire and encrypted modes; sealed in the latter),
    /// `control` an acknowledgement, applied at once as in the model.
    Receive {
        to: Id,
        from: Id,
        signer: Id,
        sender: Id,
        stanza: Arc<Stanza<Id>>,
        xml: Option<Arc<str>>,
        control: bool,
        now: u64,
    },
    /// A copy `to` could not decode or open: nothing was given to its core.
    Unreadable { to: Id, xml: Option<Arc<str>> },
    /// `client`'s retransmission timer fires at time `now`.
    Timeout { client: Id, now: u64 },
    /// `client` crashes and restarts from its persisted state.
    Crash { client: Id },
}

/// A client after a step: its view of the model's group, and what it output during the
/// step besides stanzas to send and view changes (deliveries, rejections, alarms).
#[derive(Clone, Debug)]
pub struct Touched {
    pub client: Id,
    pub view: Option<View<Id>>,
    pub outputs: Vec<Output<Id>>,
}

impl Replayed {
    pub fn fails(&self, property: Property) -> bool {
        self.properties
            .iter()
            .any(|v| v.property == property && !v.holds)
    }
}

struct Replay<'a> {
    model: &'a GroupModel,
    mode: Mode,
    clients: Vec<Client<Id>>,
    rings: Option<Vec<kgroup::envelope::Keyring>>,
    inflight: Vec<Copy>,
    judge: Judge,
    sent_messages: Vec<u32>,
    insider_moves: u8,
    malformed: usize,
    now: u64,
    record: Vec<StepRecord>,
}

fn id(m: u8) -> Id {
    Id::from(m)
}

/// Replays `actions` (a path of `model`) in `mode`.
pub fn replay(model: &GroupModel, actions: &[Action], mode: Mode) -> Result<Replayed, String> {
    let mut r = Replay::new(model, mode)?;
    let mut missing = 0;
    let mut broke_at = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        missing += usize::from(!r.play(a));
        // The properties judged on every transition; the others only at the end.
        for v in r.judge.verdicts(None, &[]) {
            if !v.holds
                && v.property.kind() == Kind::Always
                && !broke_at.iter().any(|(p, _)| *p == v.property)
            {
                broke_at.push((v.property, i + 1));
            }
        }
    }
    r.conclude(actions.len(), missing, broke_at, None)
}

/// The replay's clients, and its copies in flight as (via, src, claimed, dst, stanza,
/// delivered).
type Snapshot = (Vec<Client<Id>>, Vec<(Id, Id, Id, Id, Stanza<Id>, bool)>);

/// What a fair drain after a replayed path showed.
#[derive(Debug, Serialize)]
pub struct Drained {
    /// Steps taken: deliveries of copies never delivered (oldest first), and timeouts when
    /// nothing is in flight.
    pub steps: usize,
    pub quiescent: bool,
    /// The drain came back to a state it had passed (a livelock), or had nothing fair left
    /// to do (a deadlock), before the bound.
    pub repeated: bool,
    pub stuck: bool,
}

/// Replays `actions`, then drains fairly for at most `bound` steps with nothing new sent:
/// a counterexample to `quiescence-reachable` must not drain.
pub fn replay_and_drain(
    model: &GroupModel,
    actions: &[Action],
    mode: Mode,
    bound: usize,
) -> Result<(Replayed, Drained), String> {
    let mut r = Replay::new(model, mode)?;
    let missing = actions.iter().filter(|a| !r.play(a)).count();
    let mut seen = std::collections::HashSet::new();
    let mut drained = Drained {
        steps: 0,
        quiescent: r.quiescent(),
        repeated: false,
        stuck: false,
    };
    while !drained.quiescent && drained.steps < bound {
        if !seen.insert(r.snapshot()) {
            drained.repeated = true;
            break;
        }
        r.now += 1;
        if let Some(i) = r.inflight.iter().position(|c| !c.delivered) {
            r.record.push(StepRecord::default());
            let copy = r.take(i);
            r.deliver(copy, false);
        } else if let Some(c) =
            (0..r.clients.len()).find(|&c| r.clients[c].poll_timeout().is_some())
        {
            r.record.push(StepRecord::default());
            r.timeout(c as Id, r.now);
        } else {
            drained.stuck = true;
            break;
        }
        r.end_step(true);
        drained.steps += 1;
        drained.quiescent = r.quiescent();
    }
    let steps = actions.len() + drained.steps;
    Ok((r.conclude(steps, missing, Vec::new(), None)?, drained))
}

/// What replaying a lasso's cycle showed.
#[derive(Debug, Serialize)]
pub struct CycleReplayed {
    /// Steps of the cycle (0: the run stays in the prefix's last state).
    pub steps: usize,
    pub rounds: usize,
    /// After each round the simulator's clients and copies in flight were exactly those
    /// where the cycle began.
    pub returns: bool,
    /// No state of the cycle was quiescent.
    pub never_quiescent: bool,
}

/// Replays a `progress` lasso: the prefix, then the cycle `rounds` times, checking that
/// each round comes back to the state where the cycle began and never passes a quiescent
/// state (a cycle of no steps: the prefix must end where nothing fair is left to do).
pub fn replay_lasso(
    model: &GroupModel,
    prefix: &[Action],
    cycle: &[Action],
    rounds: usize,
    mode: Mode,
) -> Result<Replayed, String> {
    let mut r = Replay::new(model, mode)?;
    let mut missing = prefix.iter().filter(|a| !r.play(a)).count();
    let mut broke_at = Vec::new();
    let start = r.snapshot();
    let mut returns = true;
    let mut never_quiescent = !r.quiescent();
    for _ in 0..rounds {
        for a in cycle {
            missing += usize::from(!r.play(a));
            never_quiescent &= !r.quiescent();
        }
        returns &= r.snapshot() == start;
    }
    let step = prefix.len() + rounds * cycle.len();
    for v in r.judge.verdicts(None, &[]) {
        if !v.holds && v.property.kind() == Kind::Always {
            broke_at.push((v.property, step));
        }
    }
    let cycle_replayed = CycleReplayed {
        steps: cycle.len(),
        rounds,
        returns,
        never_quiescent,
    };
    r.conclude(step, missing, broke_at, Some(cycle_replayed))
}

impl Replay<'_> {
    fn new(model: &GroupModel, mode: Mode) -> Result<Replay<'_>, String> {
        // The model's configuration: abstract time, retry for ever, any planted bug.
        let config = model.config();
        let n = u32::from(model.clients);
        let rings = match mode {
            Mode::Encrypt => Some(wire::keyrings(n + 1)?),
            _ => None,
        };
        Ok(Replay {
            model,
            mode,
            clients: (0..n).map(|c| Client::new(c, config)).collect(),
            rings,
            inflight: Vec::new(),
            judge: Judge::named([Text::from(GROUP)]),
            sent_messages: vec![0; n as usize],
            insider_moves: 0,
            malformed: 0,
            now: 0,
            record: Vec::new(),
        })
    }

    fn quiescent(&self) -> bool {
        self.inflight.iter().all(|c| c.delivered) && self.clients.iter().all(|c| c.is_idle())
    }

    /// The clients and the copies in flight (by what they carry, not their bytes, which a
    /// new seal changes), sorted.
    fn snapshot(&self) -> Snapshot {
        let mut copies: Vec<_> = self
            .inflight
            .iter()
            .map(|c| {
                (
                    c.via,
                    c.src,
                    c.claimed,
                    c.dst,
                    (*c.stanza).clone(),
                    c.delivered,
                )
            })
            .collect();
        copies.sort();
        (self.clients.clone(), copies)
    }

    /// Does the next step of a path, one time unit later (the model's time is the step
    /// number); false when the step's copy was not in flight.
    fn play(&mut self, action: &Action) -> bool {
        self.now += 1;
        self.record.push(StepRecord::default());
        let played = self.step(action);
        self.end_step(played);
        played
    }

    /// Closes the step's record: the views of the clients it touched.
    fn end_step(&mut self, played: bool) {
        let key = self.key();
        if let Some(rec) = self.record.last_mut() {
            rec.played = played;
            for t in &mut rec.touched {
                t.view = self.clients[t.client as usize].view(&key);
            }
        }
    }

    /// Records an input to a client, and the client as touched by this step.
    fn note(&mut self, event: Event) {
        let c = match &event {
            Event::Act { client, .. } | Event::Timeout { client, .. } | Event::Crash { client } => {
                *client
            }
            Event::Receive { to, .. } | Event::Unreadable { to, .. } => *to,
        };
        if let Some(rec) = self.record.last_mut() {
            rec.events.push(event);
            if !rec.touched.iter().any(|t| t.client == c) {
                rec.touched.push(Touched {
                    client: c,
                    view: None,
                    outputs: Vec::new(),
                });
            }
        }
    }

    /// Records what client `c` output, but for stanzas to send and view changes.
    fn note_outputs(&mut self, c: Id, out: &[Output<Id>]) {
        let Some(t) = self
            .record
            .last_mut()
            .and_then(|r| r.touched.iter_mut().find(|t| t.client == c))
        else {
            return;
        };
        t.outputs.extend(
            out.iter()
                .filter(|o| !matches!(o, Output::Send(_) | Output::Changed { .. }))
                .cloned(),
        );
    }

    /// Takes copy `i` for delivery: the duplicating network keeps it, marked delivered.
    fn take(&mut self, i: usize) -> Copy {
        if self.model.network == Network::Duplicating {
            self.inflight[i].delivered = true;
            self.inflight[i].clone()
        } else {
            self.inflight.remove(i)
        }
    }

    /// What keeps the replay from quiescence, in a few words.
    fn stall(&self) -> String {
        let pending = self.inflight.iter().filter(|c| !c.delivered).count();
        let held: usize = self.clients.iter().map(Client::held_count).sum();
        let unacked: usize = self.clients.iter().map(Client::unacknowledged_count).sum();
        format!(
            "after the last step: {pending} copy(ies) in flight, {held} stanza(s) held, {unacked} unacknowledged"
        )
    }

    fn conclude(
        self,
        steps: usize,
        missing: usize,
        mut broke_at: Vec<(Property, usize)>,
        cycle: Option<CycleReplayed>,
    ) -> Result<Replayed, String> {
        let r = self;
        let actions_len = steps;
        let quiescent = r.quiescent();
        let stall = (!quiescent).then(|| r.stall());
        let key = GroupModel::key();
        let key = GroupKey::new(key.id.clone(), id(key.owner));
        let views = r
            .clients
            .iter()
            .enumerate()
            .map(|(c, cl)| (c as Id, cl.view(&key)))
            .collect();
        let split = kgroup::core::agreement::disagreeing(&key.owner, &views);
        let properties = r.judge.verdicts(stall.as_deref(), &[(0, split)]);
        for v in &properties {
            if !v.holds && !broke_at.iter().any(|(p, _)| *p == v.property) {
                broke_at.push((v.property, actions_len));
            }
        }
        Ok(Replayed {
            mode: r.mode.as_str(),
            steps: actions_len,
            missing,
            malformed: r.malformed,
            quiescent,
            properties,
            broke_at,
            cycle,
            record: r.record,
        })
    }
}

impl Replay<'_> {
    fn key(&self) -> GroupKey<Id> {
        GroupKey::new(GROUP, id(OWNER))
    }

    /// Does one step; false when the step's copy was not in flight.
    fn step(&mut self, action: &Action) -> bool {
        match action {
            Action::Owner(step) => self.owner(step),
            Action::Message(c) => {
                let c = id(*c);
                let k = self.sent_messages[c as usize];
                self.sent_messages[c as usize] += 1;
                let body: Text = format!("m{c}.{k}").into();
                if let Some(view) = self.clients[c as usize].view(&self.key()) {
                    self.judge.message(0, c, &view, body.clone(), self.now);
                }
                let intent = Intent::Message {
                    group: self.key(),
                    body,
                };
                self.act(c, intent);
            }
            Action::Part(c) => {
                let c = id(*c);
                self.judge.parted(0, c);
                let intent = Intent::Part {
                    group: self.key(),
                    body: None,
                };
                self.act(c, intent);
            }
            Action::Deliver(env, ack_lost) => {
                let Some(i) = self.find(env) else {
                    return false;
                };
                let copy = self.take(i);
                self.deliver(copy, *ack_lost);
            }
            Action::Drop(env) => {
                let Some(i) = self.find(env) else {
                    return false;
                };
                self.inflight.remove(i);
            }
            Action::Timeout(c) => self.timeout(id(*c), 0),
            Action::Crash(c) => {
                let c = id(*c);
                self.note(Event::Crash { client: c });
                let cl = &self.clients[c as usize];
                let restored = Client::restore(c, *cl.config(), cl.durable());
                self.clients[c as usize] = restored;
            }
            Action::Forge(kind, to) => {
                let env = self.model.forged(*kind, *to);
                let adversary = id(self.model.adversary_id());
                if *kind == Forgery::Impersonate {
                    if let Some(body) = &env.stanza.body {
                        self.judge.forged(body.clone(), adversary);
                    }
                }
                let stanza = to_ids(&env.stanza);
                self.put(adversary, adversary, id(env.claimed), id(env.dst), stanza);
            }
            Action::Replay(src, stanza, to) => {
                // A genuine stanza, on the adversary's channel.
                let adversary = id(self.model.adversary_id());
                self.put(adversary, id(*src), id(*src), id(*to), to_ids(stanza));
            }
            Action::Insider(kind, to) => {
                self.insider_moves += 1;
                let owner_epoch = self.clients[OWNER as usize]
                    .view(&self.key())
                    .map_or(0, |v| v.epoch);
                let Some((logged, copies)) =
                    self.model
                        .insider_copies(*kind, *to, self.insider_moves, owner_epoch)
                else {
                    return false;
                };
                if let Some(sent) = logged {
                    let addressed: Vec<Id> = sent.addressed.iter().map(id).collect();
                    self.judge
                        .insider_message(0, id(sent.sender), &addressed, sent.body, self.now);
                }
                for env in copies {
                    let stanza = to_ids(&env.stanza);
                    self.put(
                        id(env.via),
                        id(env.src),
                        id(env.claimed),
                        id(env.dst),
                        stanza,
                    );
                }
            }
            Action::Equivocate(env) => {
                let Some(i) = self.find(env) else {
                    return false;
                };
                let copy = self.take(i);
                let forged: Text = kgroup_model::model::FORGED_SUBJECT.into();
                self.judge.equivocated(0, forged.clone());
                let mut stanza = (*copy.stanza).clone();
                kgroup_model::model::forge_subject(&mut stanza, &forged);
                self.put(copy.via, copy.src, copy.claimed, copy.dst, stanza);
            }
            Action::Reseal(src, stanza, to) => {
                self.insider_moves += 1;
                let via = id(self.model.insider_channel());
                self.put(via, id(*src), id(*src), id(*to), to_ids(stanza));
            }
        }
        true
    }

    fn owner(&mut self, step: &Step) {
        let key = self.key();
        let set = |change: kgroup::Change<Id>| Intent::Set {
            id: GROUP.into(),
            change,
            body: None,
        };
        let intent = match step {
            Step::Create(members) => {
                let members: Vec<Id> = members.iter().map(|m| id(*m)).collect();
                self.judge.created(0, key, &members, None);
                Intent::Create {
                    id: GROUP.into(),
                    members,
                    subject: None,
                    body: None,
                }
            }
            Step::Add(m) => {
                self.judge.changed(0, &[id(*m)], &[], None);
                set(kgroup::Change {
                    add: vec![id(*m)],
                    ..Default::default()
                })
            }
            Step::Remove(m) => {
                self.judge.changed(0, &[], &[id(*m)], None);
                set(kgroup::Change {
                    remove: vec![id(*m)],
                    ..Default::default()
                })
            }
            Step::Subject(n) => {
                let s: Text = format!("s{n}").into();
                self.judge.changed(0, &[], &[], Some(s.clone()));
                set(kgroup::Change {
                    subject: Some(s),
                    ..Default::default()
                })
            }
        };
        self.act(id(OWNER), intent);
    }

    fn act(&mut self, c: Id, intent: Intent<Id>) {
        let mut out = Vec::new();
        // A refused intent (e.g. removing someone who left) is a no-op, as in the model.
        let refused = self.clients[c as usize]
            .act(intent.clone(), 0, &mut out)
            .err();
        self.note(Event::Act {
            client: c,
            intent,
            refused,
            now: 0,
        });
        self.absorb(c, None, out, false);
    }

    fn timeout(&mut self, c: Id, now: u64) {
        self.note(Event::Timeout { client: c, now });
        let mut out = Vec::new();
        self.clients[c as usize].handle_timeout(now, &mut out);
        self.absorb(c, None, out, false);
    }

    fn find(&self, env: &InFlight) -> Option<usize> {
        let stanza = to_ids(&env.stanza);
        self.inflight.iter().position(|c| {
            c.via == id(env.via)
                && c.src == id(env.src)
                && c.claimed == id(env.claimed)
                && c.dst == id(env.dst)
                && *c.stanza == stanza
        })
    }

    /// Puts a copy in flight, encoded (and sealed by `src`) as the mode asks.
    fn put(&mut self, via: Id, src: Id, claimed: Id, dst: Id, stanza: Stanza<Id>) {
        let stanza = Arc::new(stanza);
        let out = kgroup::Outgoing {
            to: vec![dst],
            stanza: stanza.clone(),
            resent: false,
        };
        // Composed by its signer, then stripped of its address list as the server does.
        let payload =
            match Payload::compose(self.mode, self.rings.as_deref(), src, claimed, &out, None) {
                Ok(Payload::Xml(xml)) => match wire::server_fanout(&xml) {
                    Ok((_, copy)) => Payload::Xml(copy.into()),
                    Err(_) => {
                        self.malformed += 1;
                        return;
                    }
                },
                Ok(core) => core,
                Err(_) => {
                    self.malformed += 1;
                    return;
                }
            };
        // As in the model, one identical copy in flight stands for any number, and on the
        // duplicating network a copy sent again after its delivery is owed again.
        let duplicating = self.model.network == Network::Duplicating;
        if let Some(c) = self.inflight.iter_mut().find(|c| {
            (c.via, c.src, c.claimed, c.dst) == (via, src, claimed, dst)
                && c.stanza == stanza
                && (!c.delivered || duplicating)
        }) {
            c.delivered = false;
            return;
        }
        self.inflight.push(Copy {
            via,
            src,
            claimed,
            dst,
            stanza,
            payload,
            delivered: false,
        });
    }

    fn deliver(&mut self, copy: Copy, ack_lost: bool) {
        let xml = match &copy.payload {
            Payload::Xml(xml) => Some(xml.clone()),
            Payload::Core(_) => None,
        };
        let (signer, stanza) = match copy.payload.read(self.rings.as_deref(), copy.dst, copy.src) {
            Ok(read) => read,
            Err(_) => {
                self.malformed += 1;
                self.note(Event::Unreadable { to: copy.dst, xml });
                return;
            }
        };
        let from = if self.model.dialect.trusts_server_from() {
            copy.claimed
        } else {
            signer
        };
        self.note(Event::Receive {
            to: copy.dst,
            from: copy.claimed,
            signer,
            sender: from,
            stanza: stanza.clone(),
            xml,
            control: false,
            now: 0,
        });
        let key = stanza.group.clone();
        let mut out = Vec::new();
        self.clients[copy.dst as usize].receive(from, stanza, 0, &mut out);
        self.absorb(copy.dst, Some((&key, copy.src, from)), out, ack_lost);
    }

    /// An acknowledgement from `c` to `r`, applied at once: through the codec and the
    /// server in wire mode (as every other copy), typed otherwise.
    fn acknowledge(&mut self, c: Id, r: Id, stanza: &Arc<Stanza<Id>>) {
        if r as usize >= self.clients.len() {
            return;
        }
        let (xml, stanza) = if self.mode == Mode::Wire {
            let out = kgroup::Outgoing {
                to: vec![r],
                stanza: stanza.clone(),
                resent: false,
            };
            let read = wire::server_fanout(&wire::encode_upload(&out, c))
                .and_then(|(_, xml)| wire::decode_copy(&xml).map(|s| (xml, s)));
            match read {
                Ok((xml, s)) => (Some(Arc::from(xml)), Arc::new(s)),
                Err(_) => {
                    self.malformed += 1;
                    self.note(Event::Unreadable { to: r, xml: None });
                    return;
                }
            }
        } else {
            (None, stanza.clone())
        };
        self.note(Event::Receive {
            to: r,
            from: c,
            signer: c,
            sender: c,
            stanza: stanza.clone(),
            xml,
            control: true,
            now: 0,
        });
        let mut out = Vec::new();
        self.clients[r as usize].receive(c, stanza, 0, &mut out);
        self.note_outputs(r, &out);
    }

    fn absorb(
        &mut self,
        c: Id,
        received: Option<(&GroupKey<Id>, Id, Id)>,
        out: Vec<Output<Id>>,
        ack_lost: bool,
    ) {
        self.judge
            .observe(c, &self.clients[c as usize], received, &out, self.now);
        self.note_outputs(c, &out);
        for o in out {
            let Output::Send(s) = o else { continue };
            if matches!(s.stanza.ext, Some(Ext::Ack { .. } | Ext::Head { .. })) {
                // Applied at once, as in the model, unless this step lost it; what the
                // receiver outputs in turn is not sent (nor judged).
                if ack_lost {
                    continue;
                }
                for r in &s.to {
                    self.acknowledge(c, *r, &s.stanza);
                }
                continue;
            }
            for r in &s.to {
                self.put(c, c, c, *r, (*s.stanza).clone());
            }
        }
    }
}

fn to_ids(s: &Stanza<u8>) -> Stanza<Id> {
    match s.try_map(&mut |m| Ok::<Id, ()>(id(*m))) {
        Ok(s) => s,
        Err(()) => unreachable!("widening ids cannot fail"),
    }
}
