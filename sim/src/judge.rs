//! The brief's properties, judged over a whole simulated run.
//!
//! The judge knows what really happened (the owner's issued membership and subjects, who
//! left, every message and whom it must reach) and watches every client transition, the
//! same way the model checker's ghost state does, but for many groups and clients at once.
//! Safety properties are judged on every transition; convergence and no-lost-messages at
//! the end of the run, which the driver reaches only at quiescence or at its time limit;
//! `quiescence-reachable` and `progress` by whether it drained by that deadline.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::hash::{Hash, Hasher};

use kgroup::{Client, Command, Ext, GroupKey, Output, Reason, Status, Text, View};
use kgroup_model::{Property, Verdict};

pub type Id = u32;

/// A message as sent, and whom it must reach.
struct Sent {
    sender: Id,
    group: u32,
    epoch: u64,
    at: u64,
    /// Members of the sender's view that were really members (and had not left).
    expected: Vec<Id>,
    /// Whom its signer addressed it to, sorted.
    addressed: Vec<Id>,
    /// Composed after the owner issued the sender's removal (an insider's).
    after_removal: bool,
}

/// The truth about one group.
#[derive(Default)]
struct Truth {
    /// The group's id, for messages.
    name: Text,
    key: Option<GroupKey<Id>>,
    members: BTreeSet<Id>,
    added_ever: HashSet<Id>,
    removed_ever: HashSet<Id>,
    /// Members that left and were not added back since.
    parted: HashSet<Id>,
    /// Members that ever left: losing one of them is never the owner's doing to judge.
    parted_ever: HashSet<Id>,
    subjects: HashSet<Text>,
}

/// One client's last known view of one group, from its `Changed` outputs.
#[derive(Default, Clone)]
struct Local {
    members: Vec<Id>,
    fingerprint: u64,
    /// Members whose (real) removal this client applied and the owner did not undo.
    gone: BTreeSet<Id>,
}

#[derive(Default)]
struct Tally {
    violations: u64,
    first: Option<String>,
}

impl Tally {
    fn hit(&mut self, what: impl FnOnce() -> String) {
        self.violations += 1;
        if self.first.is_none() {
            self.first = Some(what());
        }
    }
}

/// Judges a run. Group `g` of the workload has id `format!("g{g}")` (or the `g`-th id
/// given to [`Judge::named`]).
#[derive(Default)]
pub struct Judge {
    truth: Vec<Truth>,
    by_id: HashMap<Text, u32>,
    local: HashMap<(Id, u32), Local>,
    /// Per group: how many clients hold each fingerprint (members + subject, as members).
    census: Vec<HashMap<u64, u32>>,
    sent: Vec<Sent>,
    by_body: HashMap<Text, u32>,
    /// Messages an adversary wrote in another member's name: body → the adversary.
    forged: HashMap<Text, Id>,
    delivered: HashSet<(u32, Id)>,
    /// Send-to-delivery times of first deliveries, in ms.
    pub latencies: Vec<u64>,
    pub rejected: BTreeMap<Reason, u64>,
    pub gave_up: u64,
    /// Groups whose participants do not all hold the owner's view.
    split: HashSet<u32>,
    authority: Tally,
    binding: Tally,
    filter: Tally,
    confidentiality: Tally,
    silence: Tally,
    addressed: Tally,
    once: Tally,
    bounded: Tally,
    epochs: Tally,
    /// Groups whose owner equivocated (the malicious owner): not honest from then on.
    equivocated: HashSet<u32>,
    /// Groups where some client raised the equivocation alarm.
    alarmed: HashSet<u32>,
    /// Per client and group: the epoch it holds and what it holds under it (the snapshot's
    /// head in a group with epochs, else its members and subject).
    held_at: HashMap<(Id, u32), (u64, u64)>,
    /// Per group and epoch: how many clients hold each state under it.
    epoch_census: HashMap<(u32, u64), HashMap<u64, u32>>,
}

fn fingerprint(v: &View<Id>) -> u64 {
    if v.status != Status::Member {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.members.hash(&mut h);
    v.subject.hash(&mut h);
    h.finish() | 1
}

impl Judge {
    pub fn new(groups: u32) -> Self {
        Self::named((0..groups).map(|g| Text::from(format!("g{g}"))))
    }

    /// A judge of groups with these ids (group `g` is the `g`-th).
    pub fn named(ids: impl IntoIterator<Item = Text>) -> Self {
        let mut j = Judge::default();
        for (g, id) in ids.into_iter().enumerate() {
            j.truth.push(Truth {
                name: id.clone(),
                ..Truth::default()
            });
            j.census.push(HashMap::default());
            j.by_id.insert(id, g as u32);
        }
        j
    }

    /// The workload's group number of a key, if the key names the real owner.
    fn group_of(&self, key: &GroupKey<Id>) -> Option<u32> {
        let g = *self.by_id.get(&key.id)?;
        (self.truth[g as usize].key.as_ref() == Some(key)).then_some(g)
    }

    // ---- what really happened -------------------------------------------------------

    pub fn created(&mut self, g: u32, key: GroupKey<Id>, members: &[Id], subject: Option<Text>) {
        let t = &mut self.truth[g as usize];
        t.members = members.iter().copied().chain([key.owner]).collect();
        t.added_ever.extend(members.iter().copied());
        t.subjects.extend(subject);
        t.key = Some(key);
    }

    pub fn changed(&mut self, g: u32, add: &[Id], remove: &[Id], subject: Option<Text>) {
        let t = &mut self.truth[g as usize];
        for a in add {
            t.members.insert(*a);
            t.added_ever.insert(*a);
            t.parted.remove(a);
        }
        for r in remove {
            t.members.remove(r);
            t.removed_ever.insert(*r);
        }
        t.subjects.extend(subject);
        // A message of a removed member's that the owner had not accepted when it removed
        // them raced the removal: the owner's record decides, so it is owed to nobody.
        if let Some(owner) = t.key.as_ref().map(|k| k.owner) {
            for (i, m) in self.sent.iter_mut().enumerate() {
                if m.group == g
                    && remove.contains(&m.sender)
                    && !self.delivered.contains(&(i as u32, owner))
                {
                    m.expected.clear();
                }
            }
        }
    }

    pub fn parted(&mut self, g: u32, who: Id) {
        let t = &mut self.truth[g as usize];
        t.members.remove(&who);
        t.parted.insert(who);
        t.parted_ever.insert(who);
    }

    /// A member composes a message with this (unique) body; call before the client acts.
    pub fn message(&mut self, g: u32, sender: Id, view: &View<Id>, body: Text, now: u64) {
        let t = &self.truth[g as usize];
        // Composed after the owner removed its sender (who may not know yet): owed to
        // nobody, and never to be delivered where the removal was applied.
        let removed = t.removed_ever.contains(&sender) && !t.members.contains(&sender);
        let expected = view
            .members
            .iter()
            .copied()
            .filter(|m| !removed && *m != sender && t.members.contains(m) && !t.parted.contains(m))
            .collect();
        let mut addressed: Vec<Id> = view
            .members
            .iter()
            .copied()
            .filter(|m| *m != sender)
            .collect();
        addressed.sort_unstable();
        let idx = self.sent.len() as u32;
        self.sent.push(Sent {
            sender,
            group: g,
            epoch: view.epoch,
            at: now,
            expected,
            addressed,
            after_removal: removed,
        });
        self.by_body.insert(body, idx);
    }

    /// A removed member (the insider, keeping its keys) composes a message with this
    /// (unique) body after the owner issued its removal, addressed to `addressed`: owed to
    /// nobody, and never to be delivered by a client that applied the removal.
    pub fn insider_message(&mut self, g: u32, sender: Id, addressed: &[Id], body: Text, now: u64) {
        let mut addressed = addressed.to_vec();
        addressed.sort_unstable();
        let idx = self.sent.len() as u32;
        self.sent.push(Sent {
            sender,
            group: g,
            epoch: 0,
            at: now,
            expected: Vec::new(),
            addressed,
            after_removal: true,
        });
        self.by_body.insert(body, idx);
    }

    /// The owner of group `g` sent one member a different command, with this subject.
    pub fn equivocated(&mut self, g: u32, subject: Text) {
        self.truth[g as usize].subjects.insert(subject);
        self.equivocated.insert(g);
    }

    /// An adversary `src` sends a message in someone else's name.
    pub fn forged(&mut self, body: Text, src: Id) {
        self.forged.insert(body, src);
    }

    /// The owner could not create its group: its id was bound to another owner first.
    pub fn locked_out(&mut self, g: u32, owner: Id, now: u64) {
        let name = self.truth[g as usize].name.clone();
        self.binding.hit(|| {
            format!("at {now} ms owner c{owner} could not create {name}: a squatter's create had bound the id to another owner")
        });
    }

    pub fn messages_sent(&self) -> usize {
        self.sent.len()
    }

    // ---- what clients did -----------------------------------------------------------

    /// Judges the outputs of one transition of `client`. `received` is the stanza it
    /// received, if any: its group key, its real sender, and the sender the client acted
    /// on (the signer, or for `kontalk` the `from` the server showed).
    pub fn observe(
        &mut self,
        c: Id,
        client: &Client<Id>,
        received: Option<(&GroupKey<Id>, Id, Id)>,
        out: &[Output<Id>],
        now: u64,
    ) {
        // Deliveries and sends are judged against the view before this transition.
        for o in out {
            match o {
                Output::Deliver { group, from, body } => {
                    self.judge_delivery(c, client, group, *from, body, now)
                }
                Output::Send(s) => {
                    let Some(g) = self.group_of(&s.stanza.group) else {
                        continue;
                    };
                    let control = matches!(
                        s.stanza.ext,
                        Some(Ext::Ack { .. } | Ext::Head { .. } | Ext::Resync { .. })
                    );
                    if s.resent || control {
                        continue;
                    }
                    let Some(local) = self.local.get(&(c, g)) else {
                        continue;
                    };
                    // The removal notice goes to the removed, and a re-add to the re-added.
                    let (notice, readd): (&[Id], &[Id]) = match &s.stanza.command {
                        Command::Set { remove, add, .. } => (remove, add),
                        _ => (&[], &[]),
                    };
                    if let Some(x) = s.to.iter().find(|r| {
                        local.gone.contains(r) && !notice.contains(r) && !readd.contains(r)
                    }) {
                        let name = self.truth[g as usize].name.clone();
                        self.confidentiality.hit(|| {
                            format!(
                                "at {now} ms client {c} sent a new {} stanza of group {name} to {x}, whose removal it had applied",
                                command_name(&s.stanza.command)
                            )
                        });
                    }
                }
                Output::Reject {
                    group,
                    from,
                    reason,
                } => {
                    *self.rejected.entry(*reason).or_default() += 1;
                    if *reason == Reason::WrongOwner {
                        // The real owner's own stanza refused: its group id was taken.
                        if let (Some(_), Some((key, src, _))) = (self.group_of(group), received) {
                            if src == key.owner && *from == key.owner {
                                self.binding.hit(|| {
                                    format!("at {now} ms client {c} refused the real owner's stanza of {}: the id was bound to another owner", group.id)
                                });
                            }
                        }
                    }
                }
                Output::GaveUp { .. } => self.gave_up += 1,
                Output::Changed { .. } => {}
                Output::Equivocation { group, witness, .. } => {
                    let Some(g) = self.group_of(group) else {
                        continue;
                    };
                    self.alarmed.insert(g);
                    let t = &self.truth[g as usize];
                    // A removed member keeps its keys and may lie about its head.
                    let insider = t.removed_ever.contains(witness) && !t.members.contains(witness);
                    if !self.equivocated.contains(&g) && !insider {
                        let name = t.name.clone();
                        self.epochs.hit(|| {
                            format!("at {now} ms client {c} raised an equivocation alarm in {name}, whose owner is honest (witness {witness})")
                        });
                    }
                }
            }
        }
        for o in out {
            if let Output::Changed { group, view } = o {
                self.judge_change(c, group, view, now);
                self.judge_epoch(c, client, group, view, now);
            }
        }
        // Only what the received stanza can grow is looked at; an intent or a timer adds
        // to no window, held buffer or limbo.
        let exceeded = received.and_then(|(key, _, from)| client.bounds_exceeded_after(key, &from));
        if let Some(what) = exceeded {
            self.bounded
                .hit(|| format!("at {now} ms client {c} holds more than its bounds: {what}"));
        }
    }

    fn judge_delivery(
        &mut self,
        c: Id,
        client: &Client<Id>,
        group: &GroupKey<Id>,
        from: Id,
        body: &Text,
        now: u64,
    ) {
        let record = self.by_body.get(body).copied();
        // A forged message is genuine only when attributed to its real sender, the signer.
        let genuine = record.is_some_and(|i| self.sent[i as usize].sender == from)
            || self.forged.get(body) == Some(&from);
        let g = self.group_of(group);
        let before = g.and_then(|g| self.local.get(&(c, g)));
        let member = before.is_some_and(|l| l.members.binary_search(&from).is_ok())
            || record.is_some_and(|i| {
                client.group(group).is_some_and(|gr| {
                    gr.roster()
                        .was_member_at(&from, self.sent[i as usize].epoch)
                })
            });
        if !(genuine && member && g.is_some()) {
            self.filter.hit(|| {
                format!(
                    "at {now} ms client {c} delivered {body:?} from {from}, {}",
                    if genuine {
                        "not a member in its view"
                    } else {
                        "who never sent it"
                    }
                )
            });
        }
        if let Some(i) = record.filter(|i| self.sent[*i as usize].sender == from) {
            let m = &self.sent[i as usize];
            if m.after_removal && before.is_some_and(|l| l.gone.contains(&from)) {
                self.silence.hit(|| {
                    format!("at {now} ms client {c} delivered {body:?}, which {from} composed after the owner removed it, a removal it had applied")
                });
            }
            if m.addressed.binary_search(&c).is_err() {
                self.addressed.hit(|| {
                    format!("at {now} ms client {c} delivered {body:?}, which {from} had not addressed to it")
                });
            }
        }
        if let Some(i) = record {
            if self.delivered.insert((i, c)) {
                self.latencies
                    .push(now.saturating_sub(self.sent[i as usize].at));
            } else if self.sent[i as usize].sender == from {
                self.once
                    .hit(|| format!("at {now} ms client {c} delivered {body:?} again"));
            }
        }
    }

    fn judge_change(&mut self, c: Id, key: &GroupKey<Id>, view: &View<Id>, now: u64) {
        let Some(g) = self.by_id.get(&key.id).copied() else {
            return;
        };
        let t = &self.truth[g as usize];
        if t.key.as_ref() != Some(key) {
            // Another owner's group under the same id: a separate group, which may only
            // hurt the real one by locking it out (judged on rejections and on the owner).
            return;
        }
        let local = self.local.entry((c, g)).or_default();
        let before: &[Id] = &local.members;
        let mut after = view.members.clone();
        after.sort_unstable();
        let gained = after
            .iter()
            .filter(|m| before.binary_search(m).is_err())
            .find(|m| **m != key.owner && !t.added_ever.contains(m));
        let lost: Vec<Id> = before
            .iter()
            .filter(|m| after.binary_search(m).is_err())
            .copied()
            .collect();
        let wrongly_lost = lost
            .iter()
            .find(|m| !t.removed_ever.contains(m) && !t.parted_ever.contains(m));
        let bad_subject = view.subject.as_ref().filter(|s| !t.subjects.contains(*s));
        if gained.is_some() || wrongly_lost.is_some() || bad_subject.is_some() {
            let what = match (gained, wrongly_lost, bad_subject) {
                (Some(m), _, _) => format!("gained member {m}, whom the owner never added"),
                (_, Some(m), _) => format!("lost member {m}, whom the owner never removed"),
                (_, _, Some(s)) => format!("shows subject {s:?}, which the owner never set"),
                _ => String::new(),
            };
            self.authority
                .hit(|| format!("at {now} ms client {c}'s view of {} {what}", t.name));
        }
        for m in &lost {
            if t.removed_ever.contains(m) && !t.members.contains(m) {
                local.gone.insert(*m);
            }
        }
        local.gone.retain(|m| !t.members.contains(m));
        local.members = after;
        let fp = fingerprint(view);
        let census = &mut self.census[g as usize];
        if local.fingerprint != 0 {
            if let Some(n) = census.get_mut(&local.fingerprint) {
                *n -= 1;
            }
        }
        if fp != 0 {
            *census.entry(fp).or_default() += 1;
        }
        local.fingerprint = fp;
        if self.agrees(g) {
            self.split.remove(&g);
        } else {
            self.split.insert(g);
        }
    }

    /// epoch-agreement: with an honest owner, no two clients hold different states under
    /// one (group, epoch) at once.
    fn judge_epoch(
        &mut self,
        c: Id,
        client: &Client<Id>,
        key: &GroupKey<Id>,
        view: &View<Id>,
        now: u64,
    ) {
        let (Some(g), Some(group)) = (self.group_of(key), client.group(key)) else {
            return;
        };
        let state = if group.is_hardened() {
            let head = group.head().0;
            u64::from_le_bytes([
                head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
            ])
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            view.members.hash(&mut h);
            view.subject.hash(&mut h);
            h.finish()
        };
        let now_held = (group.epoch(), state);
        let before = self.held_at.insert((c, g), now_held);
        if before == Some(now_held) {
            return;
        }
        if let Some((e, s)) = before {
            if let Some(census) = self.epoch_census.get_mut(&(g, e)) {
                if let Some(n) = census.get_mut(&s) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        census.remove(&s);
                    }
                }
                if census.is_empty() {
                    self.epoch_census.remove(&(g, e));
                }
            }
        }
        let census = self.epoch_census.entry((g, now_held.0)).or_default();
        *census.entry(state).or_default() += 1;
        if census.len() > 1 && !self.equivocated.contains(&g) {
            let name = self.truth[g as usize].name.clone();
            let epoch = now_held.0;
            self.epochs.hit(|| {
                format!("at {now} ms client {c} holds a state of {name} at epoch {epoch} that another client holds differently")
            });
        }
    }

    /// fork-detection, at the end: groups whose members (the owner aside) hold different
    /// views while nobody raised the alarm, with two such members.
    pub fn undetected_forks(&self) -> Vec<(u32, Id, Id)> {
        let mut first: HashMap<u32, (Id, u64)> = HashMap::default();
        let mut forks: BTreeMap<u32, (Id, Id)> = BTreeMap::new();
        let mut keys: Vec<&(Id, u32)> = self.local.keys().collect();
        keys.sort_unstable();
        for &(c, g) in keys {
            let fp = self.local[&(c, g)].fingerprint;
            let owner = self.truth[g as usize].key.as_ref().map(|k| k.owner);
            if fp == 0 || owner == Some(c) || self.alarmed.contains(&g) {
                continue;
            }
            match first.get(&g) {
                None => {
                    first.insert(g, (c, fp));
                }
                Some(&(a, f)) if f != fp => {
                    forks.entry(g).or_insert((a, c));
                }
                Some(_) => {}
            }
        }
        forks.into_iter().map(|(g, (a, b))| (g, a, b)).collect()
    }

    /// Whether every participant of group `g` holds the owner's members and subject.
    fn agrees(&self, g: u32) -> bool {
        let Some(key) = &self.truth[g as usize].key else {
            return true;
        };
        let Some(owner) = self.local.get(&(key.owner, g)) else {
            return true;
        };
        owner.fingerprint != 0
            && self.census[g as usize].get(&owner.fingerprint).copied()
                == Some(owner.members.len() as u32)
    }

    /// Whether every group agrees (kept up to date on every view change).
    pub fn all_agree(&self) -> bool {
        self.split.is_empty()
    }

    /// Fraction of each group's participants (the owner and its current members) whose
    /// view agrees with the owner's, averaged over groups that exist.
    pub fn agreement(&self, owners: &[Id]) -> f64 {
        let mut sum = 0.0;
        let mut n = 0;
        for (g, t) in self.truth.iter().enumerate() {
            let Some(owner) = owners.get(g) else { continue };
            let Some(local) = self.local.get(&(*owner, g as u32)) else {
                continue;
            };
            if local.fingerprint == 0 {
                continue;
            }
            let agree = self.census[g].get(&local.fingerprint).copied().unwrap_or(0);
            let participants = local.members.len().max(1);
            let _ = t;
            sum += f64::from(agree).min(participants as f64) / participants as f64;
            n += 1;
        }
        if n == 0 {
            1.0
        } else {
            sum / f64::from(n)
        }
    }

    /// How many deliveries the run still owes: (message index, recipient) pairs.
    pub fn lost(&self) -> Vec<(u32, Id)> {
        let mut lost = Vec::new();
        for (i, m) in self.sent.iter().enumerate() {
            for r in &m.expected {
                if !self.delivered.contains(&(i as u32, *r)) {
                    lost.push((i as u32, *r));
                }
            }
        }
        lost
    }

    pub fn expected_deliveries(&self) -> u64 {
        self.sent.iter().map(|m| m.expected.len() as u64).sum()
    }

    /// The fourteen verdicts, in the catalogue's order. `disagreeing` lists, per group, the participants whose final
    /// view differs; `stall` is `None` when the run drained by its deadline, or says what
    /// was still pending there.
    ///
    /// One run cannot tell `quiescence-reachable` from `progress` (the checker can, on the
    /// whole graph): both are judged by the drain deadline, a run that drained witnessing
    /// both and one that did not failing both, with what it was waiting for.
    pub fn verdicts(&self, stall: Option<&str>, disagreeing: &[(u32, Vec<Id>)]) -> Vec<Verdict> {
        let quiescent = stall.is_none();
        let tally =
            |p, t: &Tally| Verdict::judged(p, t.violations == 0, t.violations, t.first.clone());
        let mut v = vec![
            tally(Property::OwnerAuthority, &self.authority),
            tally(Property::OwnerBinding, &self.binding),
            tally(Property::MemberFilter, &self.filter),
            tally(Property::RemovedConfidentiality, &self.confidentiality),
            tally(Property::RemovedSilence, &self.silence),
            tally(Property::EpochAgreement, &self.epochs),
            tally(Property::AddressedAuthenticity, &self.addressed),
            tally(Property::ExactlyOnce, &self.once),
            tally(Property::BoundedState, &self.bounded),
        ];
        let split: Vec<&(u32, Vec<Id>)> =
            disagreeing.iter().filter(|(_, d)| !d.is_empty()).collect();
        let not_quiet = (!quiescent).then(|| {
            "the run ended with stanzas in flight or unacknowledged (not quiescent)".to_string()
        });
        v.push(Verdict::judged(
            Property::Convergence,
            quiescent && split.is_empty(),
            split.iter().map(|(_, d)| d.len() as u64).sum(),
            not_quiet.clone().or_else(|| {
                split.first().map(|(g, d)| {
                    format!(
                        "group {}: {} disagree{} with the owner, e.g. client {}",
                        self.truth.get(*g as usize).map_or("?", |t| &*t.name),
                        if d.len() == 1 {
                            "1 participant".to_string()
                        } else {
                            format!("{} participants", d.len())
                        },
                        if d.len() == 1 { "s" } else { "" },
                        d[0]
                    )
                })
            }),
        ));
        let forks = self.undetected_forks();
        v.push(Verdict::judged(
            Property::ForkDetection,
            quiescent && forks.is_empty(),
            forks.len() as u64,
            not_quiet.clone().or_else(|| {
                forks.first().map(|(g, a, b)| {
                    format!(
                        "group {}: members {a} and {b} hold different views and nobody raised the alarm",
                        self.truth.get(*g as usize).map_or("?", |t| &*t.name)
                    )
                })
            }),
        ));
        let lost = self.lost();
        v.push(Verdict::judged(
            Property::NoLostMessages,
            quiescent && lost.is_empty(),
            lost.len() as u64,
            lost.first()
                .map(|(i, r)| {
                    let m = &self.sent[*i as usize];
                    format!(
                        "client {r} never delivered the message client {} sent to {} at {} ms",
                        m.sender, self.truth[m.group as usize].name, m.at
                    )
                })
                .or(not_quiet),
        ));
        for p in [Property::QuiescenceReachable, Property::Progress] {
            v.push(Verdict::judged(
                p,
                quiescent,
                u64::from(!quiescent),
                stall.map(|s| format!("did not drain by the deadline: {s}")),
            ));
        }
        v.sort_by_key(|v| Property::ALL.iter().position(|p| *p == v.property));
        v
    }
}

fn command_name<I>(c: &Command<I>) -> &'static str {
    match c {
        Command::Message => "message",
        Command::Create { .. } => "create",
        Command::Set { .. } => "set",
        Command::Part => "part",
    }
}
