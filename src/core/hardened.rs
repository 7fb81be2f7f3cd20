//! The `hardened` dialect: what makes the group converge whatever the network does.
//!
//! - The owner stamps every create/set with the next epoch and the full snapshot (roster
//!   with membership intervals, subject); receivers apply only snapshots newer than theirs,
//!   so reordered, duplicated and replayed owner stanzas are harmless.
//! - A part is a tombstone (member, epoch at part) that wins over any snapshot still showing
//!   the member in the same interval; only an explicit re-add (a newer interval) beats it.
//!   The owner answers a part with a new snapshot, so members it never reached learn of it.
//! - Messages and parts carry the sender's epoch. A receiver that is behind holds them and
//!   asks the owner for its latest snapshot; one that is ahead judges the sender's membership
//!   *at that epoch*, so nothing a member sent while a member is lost.
//! - Every stanza with a sequence number is acknowledged and retransmitted until it is;
//!   receivers drop duplicates by (sender, seq).
//! - A member that gets a stanza of a group it does not know holds it (limbo) and asks the
//!   owner. An owner that has no such group, or for which the asker was never a member,
//!   answers with its epoch (`resync`), and the asker drops what it held: nothing it holds
//!   can ever be released, and a client would otherwise hold forged junk for ever (found by
//!   `progress`, the liveness analysis of `kgroup check --adversary`).
//! - Epoch-less (`kontalk`) messages and parts are still accepted; epoch-less owner
//!   commands in a group that has epochs are refused as a downgrade.

use std::sync::Arc;

use super::{
    answer_ext, reject, send, snapshot_ext, Client, Command, Digest, Ext, Group, GroupKey, Held,
    Identity, Outgoing, Output, Planted, Reason, Stanza, Status, MAX_HEADS,
};

impl<I: Identity> Client<I> {
    pub(super) fn receive_hardened(
        &mut self,
        from: I,
        stanza: Arc<Stanza<I>>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        let key = stanza.group.clone();
        if from == self.me {
            // Our own stanza, echoed or replayed back to us.
            return reject(out, &key, &from, Reason::Duplicate);
        }
        match stanza.ext.clone() {
            Some(Ext::Ack { seq }) => self.on_ack(&key, from, seq, out),
            Some(Ext::Resync { epoch }) => self.on_resync(&key, from, epoch, now, out),
            Some(Ext::Snapshot { epoch, seq, .. }) => {
                self.on_snapshot(&key, from, epoch, seq, &stanza, now, out)
            }
            Some(Ext::Head { epoch, seq, head }) => self.on_head(&key, from, epoch, seq, head, out),
            Some(Ext::Stamp { epoch, seq, .. }) => {
                self.on_stamped(&key, from, epoch, Some(seq), stanza, now, out)
            }
            None => match stanza.command {
                Command::Create { .. } | Command::Set { .. } => {
                    let reason = if from == key.owner {
                        Reason::Downgrade
                    } else {
                        Reason::NotOwner
                    };
                    reject(out, &key, &from, reason)
                }
                Command::Message | Command::Part => {
                    if self.config.v2() {
                        // Nothing epoch-less can say whom it was addressed to, nor be told
                        // from a replay of itself: refused in a group with epochs.
                        return reject(out, &key, &from, Reason::Downgrade);
                    }
                    // v1: an epoch-less message or part from a `kontalk` member, judged at
                    // our epoch.
                    let epoch = self.groups.get(&key).map_or(0, |g| g.epoch);
                    self.on_stamped(&key, from, epoch, None, stanza, now, out)
                }
            },
        }
    }

    fn on_ack(&mut self, key: &GroupKey<I>, from: I, seq: u64, out: &mut Vec<Output<I>>) {
        let Some(g) = self.groups.get_mut(key) else {
            return reject(out, key, &from, Reason::BadControl);
        };
        let Some(p) = g.outbox.iter_mut().find(|p| p.seq == seq) else {
            return; // already fully acknowledged, or given up: nothing to do
        };
        // Recipient lists are sorted, so one ack costs a search, not a scan of the group;
        // the linear fallback keeps this right for any list.
        let at = p
            .unacked
            .binary_search(&from)
            .ok()
            .or_else(|| p.unacked.iter().position(|m| *m == from));
        if let Some(i) = at {
            p.unacked.remove(i);
        }
        if p.unacked.is_empty() {
            g.outbox.retain(|p| !p.unacked.is_empty());
        }
    }

    fn on_resync(
        &mut self,
        key: &GroupKey<I>,
        from: I,
        their_epoch: u64,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        let config = self.config;
        let me = self.me.clone();
        if key.owner != me {
            if from == key.owner {
                // The owner's "I have nothing for you": what we hold for a group we do not
                // know can never be released, so it goes (a sender that really was a member
                // still has it unacknowledged, and sends it again).
                if self.limbo.remove(key).is_some() {
                    reject(out, key, &from, Reason::NotMember);
                }
                // v2: nothing is stamped beyond the owner's epoch, so what we hold above it
                // is junk (or, if the owner has moved on since, unacknowledged and sent
                // again).
                if let Some(g) = self.groups.get_mut(key).filter(|_| config.v2()) {
                    let before = g.held.len();
                    let member = g.status == Status::Member;
                    g.held.retain(|h| {
                        member && stamp_epoch(&h.stanza).is_none_or(|e| e <= their_epoch)
                    });
                    if g.held.len() < before {
                        reject(out, key, &from, Reason::Stale);
                    }
                }
                return;
            }
            return reject(out, key, &from, Reason::BadControl);
        }
        let Some(g) = self.groups.get_mut(key) else {
            // No such group here, so no stanza of it was ever sent: anything the asker holds
            // for it is junk (an owner keeps its groups across crashes).
            control(out, key, from.clone(), Ext::Resync { epoch: 0 });
            return reject(out, key, &from, Reason::BadControl);
        };
        if g.roster.is_current(&from) {
            let answered = g
                .answers
                .get(&from)
                .filter(|a| snapshot_epoch(a) == Some(g.epoch));
            // Planted bug: answer a member that is not behind as well.
            let behind = g.epoch > their_epoch
                || (config.planted == Some(Planted::ResyncPingPong) && g.epoch >= their_epoch);
            if let Some(answer) = answered.filter(|_| behind) {
                // Asked again at the same epoch: the same stanza again, so a replayed or
                // duplicated request can never make the owner compose without end.
                resend(out, from, answer.clone());
            } else if behind {
                let Some(ext) = answer_ext(g) else {
                    return;
                };
                let command = Command::Set {
                    subject: g.subject.clone(),
                    add: Vec::new(),
                    remove: Vec::new(),
                    members: g.current_except(&me),
                };
                let answer = send(
                    g,
                    key,
                    vec![from.clone()],
                    command,
                    None,
                    Some(ext),
                    now,
                    config,
                    out,
                );
                g.answers.insert(from, answer);
            } else if config.v2() {
                // Not behind: whatever made it ask is stamped beyond the owner's epoch.
                control(out, key, from.clone(), Ext::Resync { epoch: g.epoch });
            }
        } else if let Some(notice) = g.notices.get(&from) {
            // A removed member gets its removal notice again, nothing newer.
            resend(out, from, notice.clone());
        } else {
            // Never a member (or one that left, which knows the group and holds nothing in
            // limbo): no stanza of this group is owed to it, so what it holds for the
            // group is junk; tell it so (see above).
            control(out, key, from.clone(), Ext::Resync { epoch: g.epoch });
            reject(out, key, &from, Reason::NotMember);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_snapshot(
        &mut self,
        key: &GroupKey<I>,
        from: I,
        epoch: u64,
        seq: u64,
        stanza: &Arc<Stanza<I>>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        if from != key.owner {
            return reject(out, key, &from, Reason::NotOwner);
        }
        let Some(Ext::Snapshot {
            subject,
            roster,
            prev,
            ..
        }) = &stanza.ext
        else {
            return;
        };
        let v2 = self.config.v2();
        let head = if v2 {
            Digest::chain(prev, epoch, subject, roster)
        } else {
            Digest::ZERO
        };
        if let Some(g) = self.groups.get_mut(key).filter(|_| v2) {
            // Two snapshots the owner signed for one epoch, or one that does not follow
            // the one held: checked before the duplicate filter, since an equivocating
            // owner may reuse the sequence number.
            let forked = (epoch == g.epoch && head != g.head)
                || (Some(epoch) == g.epoch.checked_add(1) && *prev != g.head);
            if forked {
                raise(g, key, epoch, &from, out);
            }
        }
        let mut applied = true;
        if !self.groups.contains_key(key) {
            if !roster.knows(&self.me) {
                self.ack(key, &from, seq, out);
                return reject(out, key, &from, Reason::NotAddressed);
            }
            let mut g = Group::new(roster.clone(), subject.clone(), epoch, true);
            g.head = head;
            g.status = if roster.is_current(&self.me) {
                Status::Member
            } else {
                Status::Removed
            };
            if let Some(held) = self.limbo.remove(key) {
                g.held = held;
            }
            g.seen.entry(from.clone()).or_default().insert(seq);
            self.groups.insert(key.clone(), g);
            self.changed(key, out);
        } else {
            let Some(g) = self.groups.get_mut(key) else {
                return;
            };
            // Planted bug: a snapshot that is not newer makes the member ask again.
            let ping_pong = self.config.planted == Some(Planted::ResyncPingPong);
            let my_epoch = g.epoch;
            if !g.seen.entry(from.clone()).or_default().insert(seq) {
                self.ack_snapshot(key, &from, seq, out);
                if ping_pong {
                    ask_resync(key, my_epoch, out);
                }
                return reject(out, key, &from, Reason::Duplicate);
            }
            if epoch <= g.epoch {
                if ping_pong {
                    ask_resync(key, my_epoch, out);
                }
                applied = false;
                reject(out, key, &from, Reason::Stale);
            } else {
                g.roster = roster.clone();
                g.subject = subject.clone();
                g.epoch = epoch;
                g.head = head;
                // Parts the owner had not processed when it took this snapshot still hold.
                let mut tombstones = std::mem::take(&mut g.tombstones);
                tombstones.retain(|m, parted_at| match g.roster.open_since(m) {
                    Some(since) if since <= *parted_at => {
                        g.roster.close(m, *parted_at + 1);
                        true
                    }
                    _ => false,
                });
                g.tombstones = tombstones;
                // `changed` makes us a member again if the owner explicitly re-added us.
                self.changed(key, out);
            }
        }
        if applied {
            if let Some(g) = self.groups.get_mut(key).filter(|_| v2) {
                // Heads neighbours announced for the epoch we just reached (or passed).
                let epoch = g.epoch;
                let (due, ahead) = std::mem::take(&mut g.heads)
                    .into_iter()
                    .partition(|(_, e, _)| *e <= epoch);
                g.heads = ahead;
                for (witness, e, head) in due {
                    compare_head(g, key, &witness, e, head, out);
                }
            }
        }
        self.ack_snapshot(key, &from, seq, out);
        if let Some(body) = &stanza.body {
            self.deliver_at(key, &from, epoch, body, out);
        }
        self.release_held(key, now, out);
        // v2: what is still held is stamped beyond this snapshot: ask again, so that the
        // owner either sends what is newer or says there is nothing (and it is dropped).
        // Without this a stanza stamped ahead of the owner was held for ever (found by
        // `progress` with the insider: kgroup check --insider --insider-moves 1
        // --script 'create:1,2;remove:1;add:3' --senders 2).
        if let Some(g) = self.groups.get(key).filter(|_| self.config.v2()) {
            if !g.held.is_empty() && self.me != key.owner {
                ask_resync(key, g.epoch, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_stamped(
        &mut self,
        key: &GroupKey<I>,
        from: I,
        epoch: u64,
        seq: Option<u64>,
        stanza: Arc<Stanza<I>>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        let config = self.config;
        let v2 = config.v2();
        if v2 && !addressed_to(&stanza, &self.me) {
            // Signed for other recipients: re-sealed or redirected on the way.
            return reject(out, key, &from, Reason::NotRecipient);
        }
        let Some(g) = self.groups.get_mut(key) else {
            return self.hold_in_limbo(key, from, stanza, now, out);
        };
        if let Some(seq) = seq {
            if g.seen.get(&from).is_some_and(|w| w.contains(seq)) {
                self.ack(key, &from, seq, out);
                return reject(out, key, &from, Reason::Duplicate);
            }
        }
        if epoch > g.epoch {
            if self.me == key.owner {
                // Nobody can be ahead of the owner: a forged stamp.
                if let Some(seq) = seq.filter(|_| !v2) {
                    g.seen.entry(from.clone()).or_default().insert(seq);
                    self.ack(key, &from, seq, out);
                }
                return reject(out, key, &from, Reason::Stale);
            }
            if v2 && epoch - g.epoch > config.max_ahead {
                return reject(out, key, &from, Reason::TooFarAhead);
            }
            if v2 && g.status != Status::Member {
                // Left or removed: no snapshot will come to release it (a re-added member
                // gets it again from its sender, who is still waiting for the ack).
                return reject(out, key, &from, Reason::NotMember);
            }
            if g.held.len() >= config.max_held {
                return reject(out, key, &from, Reason::BufferFull);
            }
            let first = g.held.is_empty();
            if !g.held.iter().any(|h| h.from == from && h.stanza == stanza) {
                g.held.push(Held { from, stanza });
            }
            let my_epoch = g.epoch;
            if g.resync_asked < epoch {
                g.resync_asked = epoch;
            }
            if first && v2 && self.limbo.is_empty() {
                self.start_asking(now);
            }
            // Asked again on every (re)arrival, and (v2) on a timer while anything is held.
            return ask_resync(key, my_epoch, out);
        }
        if v2 {
            // The membership check comes first: nothing of a non-member is recorded.
            let digest = Digest::of(&*stanza);
            if !admitted(g, &from, epoch, &digest) {
                return reject(out, key, &from, Reason::NotMember);
            }
            if let Some(seq) = seq {
                g.seen
                    .entry(from.clone())
                    .or_default()
                    .insert_capped(seq, config.max_window);
            }
            if self.me == key.owner {
                let recent = g.recent.entry(from.clone()).or_default();
                recent.push_back(digest);
                while recent.len() > config.max_window {
                    recent.pop_front();
                }
            }
        } else if let Some(seq) = seq {
            g.seen.entry(from.clone()).or_default().insert(seq);
        }
        match stanza.command {
            Command::Part => {
                if !v2 && !g.roster.was_member_at(&from, epoch) {
                    reject(out, key, &from, Reason::NotMember);
                } else {
                    if let Some(body) = &stanza.body {
                        out.push(Output::Deliver {
                            group: key.clone(),
                            from: from.clone(),
                            body: body.clone(),
                        });
                    }
                    let open_since = g.roster.open_since(&from);
                    if open_since.is_some_and(|since| since <= epoch) {
                        g.roster.close(&from, epoch.saturating_add(1));
                        let t = g.tombstones.entry(from.clone()).or_insert(epoch);
                        *t = (*t).max(epoch);
                        self.changed(key, out);
                        self.owner_confirms_part(key, &from, now, out);
                    }
                }
            }
            _ => match &stanza.body {
                None => reject(out, key, &from, Reason::Empty),
                Some(body) if v2 => out.push(Output::Deliver {
                    group: key.clone(),
                    from: from.clone(),
                    body: body.clone(),
                }),
                Some(body) => self.deliver_at(key, &from, epoch, body, out),
            },
        }
        if let Some(seq) = seq {
            self.ack(key, &from, seq, out);
        }
    }

    /// Holds a stanza of a group not known yet (its create may still be on its way) and
    /// asks the owner. v2 bounds what limbo holds in all and per sender.
    fn hold_in_limbo(
        &mut self,
        key: &GroupKey<I>,
        from: I,
        stanza: Arc<Stanza<I>>,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        let config = self.config;
        if config.v2() {
            let (mut total, mut theirs) = (0, 0);
            for h in self.limbo.values().flatten() {
                total += 1;
                theirs += usize::from(h.from == from);
            }
            if total >= config.max_limbo || theirs >= config.max_limbo_per_sender {
                return reject(out, key, &from, Reason::BufferFull);
            }
        }
        let held = self.limbo.entry(key.clone()).or_default();
        if held.len() >= config.max_held {
            return reject(out, key, &from, Reason::BufferFull);
        }
        let first = held.is_empty();
        if !held.iter().any(|h| h.from == from && h.stanza == stanza) {
            held.push(Held { from, stanza });
        }
        if first {
            if self.limbo.len() == 1 {
                self.start_asking(now);
            }
            ask_resync(key, 0, out);
        }
    }

    /// The owner turns a processed part into a new epoch, so every member (including those
    /// the parting member never addressed, having joined after its view) learns of it. The
    /// owner does so even after leaving itself: it stays the group's only sequencer, and a
    /// member that knows the owner left is at the owner's last epoch, so addresses everyone.
    fn owner_confirms_part(
        &mut self,
        key: &GroupKey<I>,
        parted: &I,
        now: u64,
        out: &mut Vec<Output<I>>,
    ) {
        let me = self.me.clone();
        let config = self.config;
        if key.owner != me {
            return;
        }
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        let Some(next) = g.epoch.checked_add(1) else {
            return; // the epochs are exhausted: the part stands, unconfirmed
        };
        g.epoch = next;
        g.tombstones.remove(parted);
        let to = g.current_except(&me);
        let command = Command::Set {
            subject: None,
            add: Vec::new(),
            remove: vec![parted.clone()],
            members: Vec::new(),
        };
        let ext = snapshot_ext(g, config.v2());
        out.push(Output::Changed {
            group: key.clone(),
            view: g.view(&key.owner),
        });
        let issued = send(g, key, to, command, None, Some(ext), now, config, out);
        g.issued = Some(issued);
    }

    fn deliver_at(
        &mut self,
        key: &GroupKey<I>,
        from: &I,
        epoch: u64,
        body: &super::Text,
        out: &mut Vec<Output<I>>,
    ) {
        let Some(g) = self.groups.get(key) else {
            return;
        };
        if g.roster.was_member_at(from, epoch) {
            out.push(Output::Deliver {
                group: key.clone(),
                from: from.clone(),
                body: body.clone(),
            });
        } else {
            reject(out, key, from, Reason::NotMember);
        }
    }

    /// Re-processes held messages whose epoch has now been reached.
    fn release_held(&mut self, key: &GroupKey<I>, now: u64, out: &mut Vec<Output<I>>) {
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        let epoch = g.epoch;
        // Planted bug: `==` for `<=`.
        let exact = self.config.planted == Some(Planted::ReleaseExactEpoch);
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut g.held).into_iter().partition(|h| {
                stamp_epoch(&h.stanza).is_none_or(|e| if exact { e == epoch } else { e <= epoch })
            });
        // v2: a client no longer a member will get no snapshot that releases the rest.
        g.held = if self.config.v2() && g.status != Status::Member {
            Vec::new()
        } else {
            waiting
        };
        for h in ready {
            self.receive_hardened(h.from, h.stanza, now, out);
        }
    }

    /// Acknowledges the owner's snapshot `seq`. v2, as a member: with the epoch and head
    /// we hold, to the owner and to our two neighbours in the roster (owner aside), so that
    /// an owner that sent two members different snapshots for one epoch, and nothing
    /// after, is found out (`fork-detection`). Neighbours are mutual: of two neighbours
    /// with different heads, whichever reaches the epoch last compares.
    fn ack_snapshot(&self, key: &GroupKey<I>, owner: &I, seq: u64, out: &mut Vec<Output<I>>) {
        let me = &self.me;
        let Some(g) = self
            .groups
            .get(key)
            .filter(|g| self.config.v2() && g.status == Status::Member && *me != key.owner)
        else {
            return self.ack(key, owner, seq, out);
        };
        let others: Vec<&I> = g
            .roster
            .current()
            .filter(|m| *m != me && **m != key.owner)
            .collect();
        let mut to = vec![owner.clone()];
        if !others.is_empty() {
            let at = others.partition_point(|m| *m < me);
            let next = others[at % others.len()];
            let prev = others[(at + others.len() - 1) % others.len()];
            to.push(next.clone());
            if prev != next {
                to.push(prev.clone());
            }
        }
        let ext = Ext::Head {
            epoch: g.epoch,
            seq,
            head: g.head,
        };
        control_to(out, key, to, ext);
    }

    /// v2: a member's head acknowledgement. The owner takes it as the acknowledgement it
    /// is; a member compares it with its own head at that epoch, or keeps it (a few, per
    /// sender) until it reaches that epoch.
    fn on_head(
        &mut self,
        key: &GroupKey<I>,
        from: I,
        epoch: u64,
        seq: u64,
        head: Digest,
        out: &mut Vec<Output<I>>,
    ) {
        if self.me == key.owner {
            return self.on_ack(key, from, seq, out);
        }
        if !self.config.v2() {
            return;
        }
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        if g.status != Status::Member || !g.roster.is_current(&from) {
            return;
        }
        if epoch <= g.epoch {
            compare_head(g, key, &from, epoch, head, out);
        } else if epoch > g.epoch && epoch - g.epoch <= self.config.max_ahead {
            g.heads.retain(|(w, _, _)| *w != from);
            if g.heads.len() >= MAX_HEADS {
                g.heads.remove(0);
            }
            g.heads.push((from, epoch, head));
        }
    }

    fn ack(&self, key: &GroupKey<I>, to: &I, seq: u64, out: &mut Vec<Output<I>>) {
        control(out, key, to.clone(), Ext::Ack { seq });
    }
}

/// v2: may a stanza of `from` stamped `epoch`, with this digest, be delivered? A current
/// member's if it was a member at that epoch; a removed member's only if the owner's
/// removal named it among the last words; a parted member's if stamped while a member.
fn admitted<I: Identity>(g: &Group<I>, from: &I, epoch: u64, digest: &Digest) -> bool {
    if !g.roster.is_current(from) {
        if let Some(cut) = g.roster.cuts.get(from) {
            return cut.binary_search(digest).is_ok();
        }
    }
    g.roster.was_member_at(from, epoch)
}

/// Does the stanza's signed recipient list name `me`? (Only stamps carry one.)
fn addressed_to<I: Identity>(s: &Stanza<I>, me: &I) -> bool {
    match &s.ext {
        Some(Ext::Stamp { to, .. }) => to.binary_search(me).is_ok() || to.contains(me),
        _ => true,
    }
}

/// Asks the owner of `key` for its latest snapshot, saying we are at `epoch`.
pub(super) fn ask_resync<I: Identity>(key: &GroupKey<I>, epoch: u64, out: &mut Vec<Output<I>>) {
    control(out, key, key.owner.clone(), Ext::Resync { epoch });
}

/// Raises the equivocation alarm, once per group: the owner signed two snapshots for
/// `epoch` (the witness is the owner itself, or the member whose head differs).
/// v2: a head `witness` computed for our epoch that is not ours means the owner signed two
/// snapshots for it. Heads of other epochs say nothing (older ones were checked then).
fn compare_head<I: Identity>(
    g: &mut Group<I>,
    key: &GroupKey<I>,
    witness: &I,
    epoch: u64,
    head: Digest,
    out: &mut Vec<Output<I>>,
) {
    if epoch == g.epoch && head != g.head {
        raise(g, key, epoch, witness, out);
    }
}

fn raise<I: Identity>(
    g: &mut Group<I>,
    key: &GroupKey<I>,
    epoch: u64,
    witness: &I,
    out: &mut Vec<Output<I>>,
) {
    if g.alarm.is_none() {
        g.alarm = Some((epoch, witness.clone()));
        out.push(Output::Equivocation {
            group: key.clone(),
            epoch,
            witness: witness.clone(),
        });
    }
}

/// Sends a control stanza (ack, resync request): no command, no body, not retransmitted.
fn control<I: Identity>(out: &mut Vec<Output<I>>, key: &GroupKey<I>, to: I, ext: Ext<I>) {
    control_to(out, key, vec![to], ext)
}

/// [`control`], to several recipients (a head acknowledgement).
fn control_to<I: Identity>(out: &mut Vec<Output<I>>, key: &GroupKey<I>, to: Vec<I>, ext: Ext<I>) {
    out.push(Output::Send(Outgoing {
        to,
        stanza: Arc::new(Stanza {
            group: key.clone(),
            command: Command::Message,
            body: None,
            ext: Some(ext),
        }),
        resent: false,
    }));
}

/// Sends one recipient, again, a stanza composed earlier.
fn resend<I>(out: &mut Vec<Output<I>>, to: I, stanza: Arc<Stanza<I>>) {
    out.push(Output::Send(super::Outgoing {
        to: vec![to],
        stanza,
        resent: true,
    }));
}

fn snapshot_epoch<I>(s: &Stanza<I>) -> Option<u64> {
    match s.ext {
        Some(Ext::Snapshot { epoch, .. }) => Some(epoch),
        _ => None,
    }
}

fn stamp_epoch<I>(s: &Stanza<I>) -> Option<u64> {
    match s.ext {
        Some(Ext::Stamp { epoch, .. }) => Some(epoch),
        _ => None,
    }
}
