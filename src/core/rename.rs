//! Renaming identities: the state a client would be in had every identity been renamed by a
//! bijection from the start. The model checker's symmetry reduction uses it to map a state
//! to the representative of its class (members the owner's script treats alike are
//! interchangeable).
//!
//! The core is generic over the identity type and uses identities' order only in ordered
//! maps and in the recipient and member lists it keeps sorted; renaming therefore rebuilds
//! the maps, re-sorts those lists, and keeps every list kept in arrival or composition order
//! (held messages, the retransmission queue) in its order.

use std::sync::Arc;

use super::{Client, Command, Ext, Group, GroupKey, Held, Identity, Pending, Roster, Stanza};

fn sorted<I: Identity>(v: &[I], f: &impl Fn(&I) -> I) -> Vec<I> {
    let mut out: Vec<I> = v.iter().map(f).collect();
    out.sort();
    out
}

impl<I: Identity> GroupKey<I> {
    pub fn renamed(&self, f: &impl Fn(&I) -> I) -> Self {
        GroupKey {
            id: self.id.clone(),
            owner: f(&self.owner),
        }
    }
}

impl<I: Identity> Roster<I> {
    pub fn renamed(&self, f: &impl Fn(&I) -> I) -> Self {
        Roster {
            spans: self.spans.iter().map(|(m, s)| (f(m), s.clone())).collect(),
            cuts: self.cuts.iter().map(|(m, c)| (f(m), c.clone())).collect(),
        }
    }
}

impl<I> Stanza<I> {
    /// The stanza with every identity mapped by `f`, which may fail and may change the
    /// identity type; lists keep their order. The simulator maps its wire JIDs to and from
    /// small ids with it; [`Stanza::renamed`] is it plus the core's sorted-list order.
    pub fn try_map<J: Ord, E>(
        &self,
        f: &mut impl FnMut(&I) -> Result<J, E>,
    ) -> Result<Stanza<J>, E> {
        let mut list = |v: &[I]| -> Result<Vec<J>, E> { v.iter().map(&mut *f).collect() };
        let command = match &self.command {
            Command::Message => Command::Message,
            Command::Part => Command::Part,
            Command::Create { subject, members } => Command::Create {
                subject: subject.clone(),
                members: list(members)?,
            },
            Command::Set {
                subject,
                add,
                remove,
                members,
            } => Command::Set {
                subject: subject.clone(),
                add: list(add)?,
                remove: list(remove)?,
                members: list(members)?,
            },
        };
        let ext = match &self.ext {
            None => None,
            Some(Ext::Stamp { epoch, seq, to }) => Some(Ext::Stamp {
                epoch: *epoch,
                seq: *seq,
                to: list(to)?,
            }),
            Some(Ext::Head { epoch, seq, head }) => Some(Ext::Head {
                epoch: *epoch,
                seq: *seq,
                head: *head,
            }),
            Some(Ext::Ack { seq }) => Some(Ext::Ack { seq: *seq }),
            Some(Ext::Resync { epoch }) => Some(Ext::Resync { epoch: *epoch }),
            Some(Ext::Snapshot {
                epoch,
                seq,
                prev,
                subject,
                roster,
            }) => {
                let mut spans = std::collections::BTreeMap::new();
                for (m, span) in &roster.spans {
                    spans.insert(f(m)?, span.clone());
                }
                let mut cuts = std::collections::BTreeMap::new();
                for (m, cut) in &roster.cuts {
                    cuts.insert(f(m)?, cut.clone());
                }
                Some(Ext::Snapshot {
                    epoch: *epoch,
                    seq: *seq,
                    prev: *prev,
                    subject: subject.clone(),
                    roster: Roster { spans, cuts },
                })
            }
        };
        Ok(Stanza {
            group: GroupKey {
                id: self.group.id.clone(),
                owner: f(&self.group.owner)?,
            },
            command,
            body: self.body.clone(),
            ext,
        })
    }
}

impl<I: Identity> Stanza<I> {
    /// The stanza with every identity renamed by the bijection `f`.
    pub fn renamed(&self, f: &impl Fn(&I) -> I) -> Self {
        let Ok(mut s) = self.try_map(&mut |i| Ok::<I, std::convert::Infallible>(f(i)));
        if let Command::Create { members, .. } = &mut s.command {
            members.sort();
        }
        if let Command::Set {
            add,
            remove,
            members,
            ..
        } = &mut s.command
        {
            add.sort();
            remove.sort();
            members.sort();
        }
        if let Some(Ext::Stamp { to, .. }) = &mut s.ext {
            to.sort();
        }
        s
    }
}

fn stanza<I: Identity>(s: &Arc<Stanza<I>>, f: &impl Fn(&I) -> I) -> Arc<Stanza<I>> {
    Arc::new(s.renamed(f))
}

fn held<I: Identity>(h: &[Held<I>], f: &impl Fn(&I) -> I) -> Vec<Held<I>> {
    h.iter()
        .map(|h| Held {
            from: f(&h.from),
            stanza: stanza(&h.stanza, f),
        })
        .collect()
}

impl<I: Identity> Group<I> {
    fn renamed(&self, f: &impl Fn(&I) -> I) -> Self {
        Group {
            roster: self.roster.renamed(f),
            subject: self.subject.clone(),
            epoch: self.epoch,
            hardened: self.hardened,
            status: self.status,
            tombstones: self.tombstones.iter().map(|(m, e)| (f(m), *e)).collect(),
            next_seq: self.next_seq,
            seen: self.seen.iter().map(|(m, w)| (f(m), w.clone())).collect(),
            outbox: self
                .outbox
                .iter()
                .map(|p| Pending {
                    seq: p.seq,
                    stanza: stanza(&p.stanza, f),
                    unacked: sorted(&p.unacked, f),
                    attempts: p.attempts,
                    due: p.due,
                })
                .collect(),
            notices: self
                .notices
                .iter()
                .map(|(m, s)| (f(m), stanza(s, f)))
                .collect(),
            answers: self
                .answers
                .iter()
                .map(|(m, s)| (f(m), stanza(s, f)))
                .collect(),
            recent: self.recent.iter().map(|(m, d)| (f(m), d.clone())).collect(),
            // Digests name content as signed; a renaming does not change what was signed.
            head: self.head,
            issued: self.issued.as_ref().map(|s| stanza(s, f)),
            alarm: self.alarm.as_ref().map(|(e, w)| (*e, f(w))),
            heads: self.heads.iter().map(|(w, e, h)| (f(w), *e, *h)).collect(),
            held: held(&self.held, f),
            resync_asked: self.resync_asked,
            // Digests of stanzas as received; a renaming does not change what was received.
            delivered: self.delivered.clone(),
        }
    }
}

impl<I: Identity> Client<I> {
    /// The client as it would be had every identity been renamed by the bijection `f` from
    /// the start (itself included).
    pub fn renamed(&self, f: &impl Fn(&I) -> I) -> Self {
        Client {
            me: f(&self.me),
            config: self.config,
            groups: self
                .groups
                .iter()
                .map(|(k, g)| (k.renamed(f), g.renamed(f)))
                .collect(),
            limbo: self
                .limbo
                .iter()
                .map(|(k, h)| (k.renamed(f), held(h, f)))
                .collect(),
            limbo_due: self.limbo_due,
            asked: self.asked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Change, Config, Dialect, Intent, Output};

    fn swap(i: &u8) -> u8 {
        match i {
            1 => 2,
            2 => 1,
            x => *x,
        }
    }

    #[test]
    fn try_map_keeps_list_order_and_stops_at_the_first_failure_while_renamed_sorts() {
        let roster = Roster::with_members([0u8, 1, 3], 1);
        let s = Stanza {
            group: GroupKey::new("g", 0u8),
            command: Command::Set {
                subject: None,
                add: vec![3, 1],
                remove: vec![2],
                members: vec![3, 1, 0],
            },
            body: Some("hi".into()),
            ext: Some(Ext::Snapshot {
                epoch: 2,
                seq: 5,
                prev: crate::Digest::ZERO,
                subject: None,
                roster,
            }),
        };
        let shown = s
            .try_map(&mut |i| Ok::<String, ()>(format!("c{i}")))
            .expect("total");
        assert_eq!(shown.group.owner, "c0");
        let Command::Set { add, members, .. } = &shown.command else {
            panic!("a set");
        };
        assert_eq!(add, &["c3", "c1"]);
        assert_eq!(members, &["c3", "c1", "c0"]);
        let mut seen = Vec::new();
        let failed = s.try_map(&mut |i: &u8| {
            seen.push(*i);
            if *i == 1 {
                Err(*i)
            } else {
                Ok(*i)
            }
        });
        assert_eq!(failed, Err(1));
        assert_eq!(seen, vec![3, 1], "stops at the first failure");
        let r = s.renamed(&swap);
        let Command::Set {
            add,
            remove,
            members,
            ..
        } = &r.command
        else {
            panic!("a set");
        };
        assert_eq!((add.as_slice(), remove.as_slice()), (&[2, 3][..], &[1][..]));
        assert_eq!(members, &[0, 2, 3]);
        assert_eq!(
            r.renamed(&swap),
            Stanza {
                command: Command::Set {
                    subject: None,
                    add: vec![1, 3],
                    remove: vec![2],
                    members: vec![0, 1, 3]
                },
                ..s
            }
        );
    }

    /// Renaming commutes with the transition: running with renamed identities reaches the
    /// renamed state and sends the renamed stanzas. Not under hardened's v2 rules, whose
    /// snapshot heads are digests of rosters that name members (so the model's symmetry
    /// reduction is off there).
    #[test]
    fn renaming_commutes_with_the_transitions() {
        let v1 = Config {
            rules: crate::Rules::V1,
            ..Config::new(Dialect::Hardened)
        };
        for config in [Config::new(Dialect::Kontalk), v1] {
            let dialect = config.dialect;
            let run = |f: &dyn Fn(&u8) -> u8| {
                let mut owner = Client::new(0u8, config);
                let mut out = Vec::new();
                let intents = [
                    Intent::Create {
                        id: "g".into(),
                        members: vec![f(&1), 3],
                        subject: None,
                        body: None,
                    },
                    Intent::Set {
                        id: "g".into(),
                        change: Change {
                            add: vec![f(&2)],
                            ..Default::default()
                        },
                        body: None,
                    },
                ];
                for i in intents {
                    owner.act(i, 0, &mut out).expect("owner acts");
                }
                let mut member = Client::new(f(&2), config);
                for o in &out {
                    if let Output::Send(s) = o {
                        if s.to.contains(&f(&2)) {
                            member.receive(0, s.stanza.clone(), 0, &mut Vec::new());
                        }
                    }
                }
                let sent: Vec<Stanza<u8>> = out
                    .iter()
                    .filter_map(|o| match o {
                        Output::Send(s) => Some((*s.stanza).clone()),
                        _ => None,
                    })
                    .collect();
                (owner, member, sent)
            };
            let (o, m, s) = run(&|i| *i);
            let (o2, m2, s2) = run(&swap);
            assert_eq!(o.renamed(&swap), o2, "{dialect}");
            assert_eq!(m.renamed(&swap), m2, "{dialect}");
            let renamed: Vec<_> = s.iter().map(|s| s.renamed(&swap)).collect();
            assert_eq!(renamed, s2, "{dialect}");
            assert_ne!(m, m2, "{dialect}: the renaming is not the identity here");
        }
    }
}
