//! The networks of the brief, as one canonical in-flight collection.
//!
//! Copies in flight are kept sorted so that two states holding the same messages hash the same
//! (the unordered networks are multisets, the duplicating one a set). The ordered network
//! keeps send order within each (sender, recipient) pair and delivers only each pair's head.

use kgroup::Stanza;
use serde::Serialize;

use crate::shared::Hashed;

/// Identities in the model are small integers: 0 is the owner.
pub type Id = u8;

/// How the network may mistreat stanzas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Per-pair FIFO, no loss, no duplication.
    Ordered,
    /// Any order, no loss, no duplication.
    Unordered,
    /// Any order; every stanza can be delivered again, any number of times.
    Duplicating,
    /// Any order, and any stanza may be dropped (within the model's loss budget).
    Lossy,
}

impl Network {
    pub const ALL: [Network; 4] = [
        Network::Ordered,
        Network::Unordered,
        Network::Duplicating,
        Network::Lossy,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Network::Ordered => "ordered",
            Network::Unordered => "unordered",
            Network::Duplicating => "duplicating",
            Network::Lossy => "lossy",
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Network::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| {
                format!("unknown network `{s}` (expected ordered, unordered, duplicating or lossy)")
            })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One stanza on its way to one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InFlight {
    /// The channel it travels on: the sender's, or the adversary's for what it injects
    /// (the ordered network is FIFO per channel and recipient).
    pub via: Id,
    /// Who really sent it (its OpenPGP signer).
    pub src: Id,
    /// The `from` the server shows (forged by the adversary where it differs from `src`).
    pub claimed: Id,
    pub dst: Id,
    /// Hashed once when composed: every copy in flight shares it.
    pub stanza: Hashed<Stanza<Id>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Slot {
    env: InFlight,
    /// Duplicating network: delivered at least once (it stays deliverable).
    delivered: bool,
}

/// What is in flight.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Net {
    slots: Vec<Slot>,
}

/// A copy has room for a few more copies in flight: a successor state usually sends some.
impl Clone for Net {
    fn clone(&self) -> Self {
        let mut slots = Vec::with_capacity(self.slots.len() + 4);
        slots.extend_from_slice(&self.slots);
        Net { slots }
    }
}

impl Net {
    pub fn send(&mut self, kind: Network, env: InFlight) {
        // A second identical copy still in flight adds only a duplicate delivery (what the
        // duplicating network checks, where a copy stays deliverable for ever), while
        // repeated retransmissions would grow the state without end: keep one.
        if let Some(i) = self.slots.iter().position(|s| s.env == env) {
            if !self.slots[i].delivered {
                return;
            }
            if kind == Network::Duplicating {
                // Sent again after it was delivered: the network may re-deliver it anyway,
                // but this delivery is owed (a fair run makes it), so the copy is pending
                // again rather than absorbed.
                self.mark(i, false);
                return;
            }
        }
        let slot = Slot {
            env,
            delivered: false,
        };
        match kind {
            Network::Ordered => {
                // After the last copy of the same pair: FIFO within the pair.
                let key = (slot.env.via, slot.env.dst);
                let at = self
                    .slots
                    .iter()
                    .rposition(|s| (s.env.via, s.env.dst) <= key)
                    .map_or(0, |i| i + 1);
                self.slots.insert(at, slot);
            }
            _ => {
                let at = self.slots.partition_point(|s| *s <= slot);
                self.slots.insert(at, slot);
            }
        }
    }

    /// The copies that may be delivered next, each once.
    pub fn deliverable(&self, kind: Network) -> impl Iterator<Item = &InFlight> {
        let slots = &self.slots;
        slots.iter().enumerate().filter_map(move |(i, s)| {
            let prev = i.checked_sub(1).map(|p| &slots[p].env);
            let ok = match kind {
                // The head of its (channel, recipient) queue.
                Network::Ordered => prev.is_none_or(|p| (p.via, p.dst) != (s.env.via, s.env.dst)),
                // The first of identical copies.
                _ => prev != Some(&s.env),
            };
            ok.then_some(&s.env)
        })
    }

    /// Takes `env` out for delivery (the duplicating network keeps it, marked delivered).
    pub fn take(&mut self, kind: Network, env: &InFlight) -> bool {
        let Some(i) = self.slots.iter().position(|s| s.env == *env) else {
            return false;
        };
        if kind == Network::Duplicating {
            self.mark(i, true);
        } else {
            self.slots.remove(i);
        }
        true
    }

    /// Marks slot `i` delivered or not, keeping the (duplicating network's) sorted order.
    fn mark(&mut self, i: usize, delivered: bool) {
        if self.slots[i].delivered != delivered {
            let mut slot = self.slots.remove(i);
            slot.delivered = delivered;
            let at = self.slots.partition_point(|s| *s <= slot);
            self.slots.insert(at, slot);
        }
    }

    /// Drops one copy of `env` (lossy network).
    pub fn drop(&mut self, env: &InFlight) -> bool {
        match self.slots.iter().position(|s| s.env == *env) {
            Some(i) => {
                self.slots.remove(i);
                true
            }
            None => false,
        }
    }

    /// Nothing left to deliver for the first time.
    pub fn is_quiet(&self) -> bool {
        self.slots.iter().all(|s| s.delivered)
    }

    /// Is a copy of `env` in flight that was never delivered? (Its delivery is owed to a
    /// fair run; a duplicating network's re-deliveries are not.)
    pub fn is_pending(&self, env: &InFlight) -> bool {
        self.slots.iter().any(|s| !s.delivered && s.env == *env)
    }

    /// Is a copy of `stanza` from `src` to `dst` in flight (not yet delivered)?
    pub fn carries(&self, src: Id, dst: Id, pred: impl Fn(&Stanza<Id>) -> bool) -> bool {
        self.slots
            .iter()
            .any(|s| !s.delivered && s.env.src == src && s.env.dst == dst && pred(&s.env.stanza))
    }

    /// The network with every identity renamed by the bijection `f` and every stanza by
    /// `stanza`, kept canonical: the ordered network keeps send order within each renamed
    /// pair, the others are sorted again.
    pub fn renamed(
        &self,
        kind: Network,
        f: impl Fn(Id) -> Id,
        mut stanza: impl FnMut(&Hashed<Stanza<Id>>) -> Hashed<Stanza<Id>>,
    ) -> Net {
        let mut slots: Vec<Slot> = self
            .slots
            .iter()
            .map(|s| Slot {
                env: InFlight {
                    via: f(s.env.via),
                    src: f(s.env.src),
                    claimed: f(s.env.claimed),
                    dst: f(s.env.dst),
                    stanza: stanza(&s.env.stanza),
                },
                delivered: s.delivered,
            })
            .collect();
        match kind {
            Network::Ordered => slots.sort_by_key(|s| (s.env.via, s.env.dst)),
            _ => slots.sort(),
        }
        Net { slots }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgroup::{Command, GroupKey};
    use std::sync::Arc;

    fn env(src: Id, dst: Id, body: &str) -> InFlight {
        InFlight {
            via: src,
            src,
            claimed: src,
            dst,
            stanza: Hashed::from_arc(Arc::new(Stanza {
                group: GroupKey::new("g", 0),
                command: Command::Message,
                body: Some(body.into()),
                ext: None,
            })),
        }
    }

    #[test]
    fn ordered_delivers_only_each_pairs_head() {
        let mut n = Net::default();
        n.send(Network::Ordered, env(1, 2, "b"));
        n.send(Network::Ordered, env(1, 2, "a"));
        n.send(Network::Ordered, env(0, 2, "z"));
        let heads: Vec<_> = n.deliverable(Network::Ordered).cloned().collect();
        assert_eq!(heads, vec![env(0, 2, "z"), env(1, 2, "b")]);
    }

    #[test]
    fn unordered_is_canonical_and_keeps_one_copy_in_flight() {
        let (mut a, mut b) = (Net::default(), Net::default());
        for e in [env(1, 2, "x"), env(0, 1, "y"), env(1, 2, "x")] {
            a.send(Network::Unordered, e);
        }
        for e in [env(1, 2, "x"), env(0, 1, "y")] {
            b.send(Network::Unordered, e);
        }
        assert_eq!(a, b);
        assert_eq!(a.deliverable(Network::Unordered).count(), 2);
        assert!(a.take(Network::Unordered, &env(1, 2, "x")));
        assert_eq!(a.len(), 1);
        a.send(Network::Unordered, env(1, 2, "x"));
        assert_eq!(a.len(), 2, "sent again once delivered");
    }

    #[test]
    fn duplicating_keeps_what_it_delivered() {
        let mut n = Net::default();
        n.send(Network::Duplicating, env(1, 2, "x"));
        n.send(Network::Duplicating, env(1, 2, "x"));
        assert_eq!(n.len(), 1);
        assert!(!n.is_quiet());
        assert!(n.take(Network::Duplicating, &env(1, 2, "x")));
        assert!(n.is_quiet());
        assert_eq!(n.deliverable(Network::Duplicating).count(), 1);
    }
}
