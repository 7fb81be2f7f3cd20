//! A deterministic in-memory driver: several clients, one network whose every delivery,
//! duplicate, replay and loss the caller chooses. Tests, scenarios and the CLI's `demo` use
//! it to put the core through exact interleavings; the simulator (`sim/`) is its randomised,
//! timed big brother.

use std::collections::BTreeMap;
use std::sync::Arc;

use kgroup::core::{
    Client, Config, Dialect, GroupKey, Identity, Intent, LocalError, Output, Reason, Stanza, Text,
    View,
};

/// A stanza some client put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent<I> {
    pub from: I,
    pub to: Vec<I>,
    pub stanza: Arc<Stanza<I>>,
    pub resent: bool,
}

/// One copy of a sent stanza on its way to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flight<I> {
    /// Index into [`Lab::sent`].
    pub sent: usize,
    pub to: I,
}

/// A rejection a client reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection<I> {
    pub at: I,
    pub from: I,
    pub reason: Reason,
}

/// Clients plus a network under the caller's control.
#[derive(Clone, Debug)]
pub struct Lab<I> {
    pub clients: BTreeMap<I, Client<I>>,
    /// The driver's clock, in milliseconds.
    pub now: u64,
    /// Every stanza composed or resent, in order.
    pub sent: Vec<Sent<I>>,
    /// Copies not yet delivered, oldest first.
    pub inflight: Vec<Flight<I>>,
    /// Bodies each client delivered to its user: (sender, body).
    pub delivered: BTreeMap<I, Vec<(I, Text)>>,
    pub rejected: Vec<Rejection<I>>,
}

impl<I: Identity> Lab<I> {
    /// Clients of one dialect with default settings.
    pub fn new(dialect: Dialect, ids: impl IntoIterator<Item = I>) -> Self {
        Self::with_config(Config::new(dialect), ids)
    }

    pub fn with_config(config: Config, ids: impl IntoIterator<Item = I>) -> Self {
        Lab {
            clients: ids
                .into_iter()
                .map(|id| (id.clone(), Client::new(id, config)))
                .collect(),
            now: 0,
            sent: Vec::new(),
            inflight: Vec::new(),
            delivered: BTreeMap::new(),
            rejected: Vec::new(),
        }
    }

    /// Adds (or replaces) a client with its own settings: mixed-dialect groups.
    pub fn add_client(&mut self, id: I, config: Config) {
        self.clients.insert(id.clone(), Client::new(id, config));
    }

    /// `who` acts; returns the indices in [`Lab::sent`] of what it sent.
    pub fn act(&mut self, who: &I, intent: Intent<I>) -> Result<Vec<usize>, LocalError> {
        let mut out = Vec::new();
        let client = self.clients.get_mut(who).ok_or(LocalError::UnknownGroup)?;
        client.act(intent, self.now, &mut out)?;
        Ok(self.absorb(who, out))
    }

    /// Delivers in-flight copy number `i` (an index into [`Lab::inflight`]) and removes it.
    pub fn deliver(&mut self, i: usize) -> Vec<usize> {
        let f = self.inflight.remove(i);
        self.receive(&f.to, f.sent)
    }

    /// Delivers the in-flight copy of sent stanza `sent` addressed to `to`.
    pub fn deliver_to(&mut self, sent: usize, to: &I) -> Option<Vec<usize>> {
        let i = self
            .inflight
            .iter()
            .position(|f| f.sent == sent && f.to == *to)?;
        Some(self.deliver(i))
    }

    /// Delivers sent stanza `sent` to `to` once more, as a duplicating or replaying server
    /// (or an adversary holding the stanza) would; what was in flight stays in flight.
    pub fn replay(&mut self, sent: usize, to: &I) -> Vec<usize> {
        self.receive(to, sent)
    }

    /// Drops in-flight copy `i`.
    pub fn lose(&mut self, i: usize) {
        self.inflight.remove(i);
    }

    /// Delivers everything in flight, oldest first, including what the deliveries cause, up
    /// to `limit` deliveries; returns how many it made.
    pub fn run_fifo(&mut self, limit: usize) -> usize {
        let mut n = 0;
        while !self.inflight.is_empty() && n < limit {
            self.deliver(0);
            n += 1;
        }
        n
    }

    /// Advances the clock by `ms` and lets every client retransmit what is due.
    pub fn tick(&mut self, ms: u64) {
        self.now += ms;
        let ids: Vec<I> = self.clients.keys().cloned().collect();
        for id in ids {
            let mut out = Vec::new();
            if let Some(c) = self.clients.get_mut(&id) {
                c.handle_timeout(self.now, &mut out);
            }
            self.absorb(&id, out);
        }
    }

    /// Crashes `who` and restarts it from its durable state.
    pub fn crash(&mut self, who: &I) {
        if let Some(c) = self.clients.get_mut(who) {
            *c = Client::restore(who.clone(), *c.config(), c.durable());
        }
    }

    /// Every client's view of `key`.
    pub fn views(&self, key: &GroupKey<I>) -> BTreeMap<I, Option<View<I>>> {
        self.clients
            .iter()
            .map(|(id, c)| (id.clone(), c.view(key)))
            .collect()
    }

    /// Nothing in flight and no client waiting for an acknowledgement.
    pub fn is_quiescent(&self) -> bool {
        self.inflight.is_empty() && self.clients.values().all(|c| c.is_idle())
    }

    /// Whether the group has converged (see [`kgroup::core::agreement`]); meaningful at
    /// quiescence.
    pub fn converged(&self, key: &GroupKey<I>) -> bool {
        self.disagreeing(key).is_empty()
    }

    /// The participants whose view differs from the reference.
    pub fn disagreeing(&self, key: &GroupKey<I>) -> Vec<I> {
        kgroup::core::agreement::disagreeing(&key.owner, &self.views(key))
    }

    /// The bodies `who` delivered, in order.
    pub fn bodies(&self, who: &I) -> Vec<&str> {
        self.delivered
            .get(who)
            .map(|d| d.iter().map(|(_, b)| &**b).collect())
            .unwrap_or_default()
    }

    /// Rejections reported by `who`.
    pub fn rejections_at(&self, who: &I) -> Vec<Reason> {
        self.rejected
            .iter()
            .filter(|r| r.at == *who)
            .map(|r| r.reason)
            .collect()
    }

    fn receive(&mut self, to: &I, sent: usize) -> Vec<usize> {
        let (from, stanza) = {
            let s = &self.sent[sent];
            (s.from.clone(), s.stanza.clone())
        };
        let mut out = Vec::new();
        if let Some(c) = self.clients.get_mut(to) {
            c.receive(from, stanza, self.now, &mut out);
        }
        self.absorb(to, out)
    }

    fn absorb(&mut self, who: &I, out: Vec<Output<I>>) -> Vec<usize> {
        let mut new = Vec::new();
        for o in out {
            match o {
                Output::Send(s) => {
                    let idx = self.sent.len();
                    for to in &s.to {
                        self.inflight.push(Flight {
                            sent: idx,
                            to: to.clone(),
                        });
                    }
                    self.sent.push(Sent {
                        from: who.clone(),
                        to: s.to,
                        stanza: s.stanza,
                        resent: s.resent,
                    });
                    new.push(idx);
                }
                Output::Deliver { from, body, .. } => {
                    self.delivered
                        .entry(who.clone())
                        .or_default()
                        .push((from, body));
                }
                Output::Reject { from, reason, .. } => self.rejected.push(Rejection {
                    at: who.clone(),
                    from,
                    reason,
                }),
                Output::Changed { .. } | Output::GaveUp { .. } | Output::Equivocation { .. } => {}
            }
        }
        new
    }
}
