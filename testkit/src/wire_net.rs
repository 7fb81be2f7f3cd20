//! Clients of the real core joined through the real wire: each composes with its core,
//! seals with [`kgroup::wire::seal_outgoing`], the [`multicast`](crate::multicast) service
//! fans the XML out, and each receiver opens it with [`kgroup::wire::open_stanza`] and
//! feeds its core the **verified signer**. Delivery is FIFO and lossless; the test drives
//! every step and can read every byte that crossed the wire.
//!
//! Test equipment: a failure of the network itself (a key that cannot be made, a stanza
//! our own encoder wrote that the service cannot parse) panics with its reason.

use std::collections::VecDeque;

use kgroup::codec::Jid;
use kgroup::envelope::{Keyring, Suite};
use kgroup::wire::{open_stanza, seal_outgoing, WireError};
use kgroup::{Client, Config, Dialect, GroupKey, Intent, Output, Reason, Text};

use crate::keys::keyrings;
use crate::multicast;

/// One client: identity, keys, core, and what it saw.
pub struct Node {
    pub bare: Jid,
    /// The session's full JID (`<name>@<domain>/phone`), as it writes `from`.
    pub full: Jid,
    pub ring: Keyring,
    pub client: Client<Jid>,
    pub delivered: Vec<(Jid, Text)>,
    pub rejected: Vec<(Jid, Reason)>,
    /// What the wire refused before the core saw it.
    pub refused: Vec<WireError>,
}

/// The clients (the first is the group's owner in the tests) and the network.
pub struct WireNet {
    pub nodes: Vec<Node>,
    /// (sender index, sealed XML as the sender wrote it), not yet served.
    pub queue: VecDeque<(usize, String)>,
    /// Every XML that crossed the wire, before and after the service, with its sender.
    pub seen: Vec<(usize, String)>,
    /// The XML delivered to each node, in order (after the service).
    pub inbox: Vec<Vec<String>>,
    /// The clock handed to the cores: one tick per transition.
    pub now: u64,
    /// The group id [`WireNet::key`] names.
    pub group_id: String,
}

impl WireNet {
    /// `<name>@<domain>` for each name, with keys that know each other.
    pub fn new(names: &[&str], domain: &str, group_id: &str, dialect: Dialect) -> WireNet {
        let bares: Vec<Jid> = names
            .iter()
            .map(|n| Jid::new(&format!("{n}@{domain}")).expect("a test name makes a JID"))
            .collect();
        let rings = keyrings(
            &bares.iter().map(Jid::as_str).collect::<Vec<_>>(),
            Suite::Cv25519,
        )
        .expect("fresh test keys");
        let nodes: Vec<Node> = bares
            .into_iter()
            .zip(rings)
            .map(|(bare, ring)| Node {
                full: Jid::new(&format!("{bare}/phone")).expect("a full JID"),
                ring,
                client: Client::new(bare.clone(), Config::new(dialect)),
                bare,
                delivered: Vec::new(),
                rejected: Vec::new(),
                refused: Vec::new(),
            })
            .collect();
        let inbox = vec![Vec::new(); nodes.len()];
        WireNet {
            nodes,
            queue: VecDeque::new(),
            seen: Vec::new(),
            inbox,
            now: 0,
            group_id: group_id.to_owned(),
        }
    }

    /// The index of the node with this bare JID.
    pub fn idx(&self, bare: &Jid) -> usize {
        self.nodes
            .iter()
            .position(|n| &n.bare == bare)
            .expect("a known node")
    }

    pub fn bare(&self, i: usize) -> Jid {
        self.nodes[i].bare.clone()
    }

    /// The group `group_id` owned by node 0.
    pub fn key(&self) -> GroupKey<Jid> {
        GroupKey::new(self.group_id.as_str(), self.bare(0))
    }

    /// Handles a transition's outputs: stanzas are sealed and queued, the rest recorded.
    pub fn outputs(&mut self, i: usize, outs: Vec<Output<Jid>>) {
        for o in outs {
            match o {
                Output::Send(send) => {
                    let n = &self.nodes[i];
                    let xml = seal_outgoing(&send, &n.full, &n.ring).expect("seal");
                    self.queue.push_back((i, xml));
                }
                Output::Deliver { from, body, .. } => self.nodes[i].delivered.push((from, body)),
                Output::Reject { from, reason, .. } => self.nodes[i].rejected.push((from, reason)),
                Output::Changed { .. } | Output::GaveUp { .. } | Output::Equivocation { .. } => {}
            }
        }
    }

    /// Node `i`'s user does `intent`.
    pub fn act(&mut self, i: usize, intent: Intent<Jid>) {
        let mut out = Vec::new();
        self.now += 1;
        self.nodes[i]
            .client
            .act(intent, self.now, &mut out)
            .expect("intent accepted");
        self.outputs(i, out);
    }

    /// The multicast service on one upload: the recipients' indices and their copy.
    pub fn serve(&mut self, sender: usize, xml: &str) -> Vec<(usize, String)> {
        self.seen.push((sender, xml.to_owned()));
        let served = multicast::serve(xml.as_bytes()).expect("the service parses the stanza");
        self.seen.push((sender, served.copy.clone()));
        served
            .recipients
            .iter()
            .map(|j| (self.idx(j), served.copy.clone()))
            .collect()
    }

    /// A receiver: parse, open, verify, decode, feed the core the verified signer.
    pub fn deliver(&mut self, to: usize, xml: &str) {
        self.inbox[to].push(xml.to_owned());
        match open_stanza(xml.as_bytes(), &self.nodes[to].ring) {
            Ok(r) => {
                let mut out = Vec::new();
                self.now += 1;
                self.nodes[to]
                    .client
                    .receive(r.sender, r.stanza, self.now, &mut out);
                self.outputs(to, out);
            }
            Err(e) => self.nodes[to].refused.push(e),
        }
    }

    /// Runs the network until nothing is in flight.
    pub fn run(&mut self) {
        while let Some((from, xml)) = self.queue.pop_front() {
            for (to, copy) in self.serve(from, &xml) {
                self.deliver(to, &copy);
            }
        }
    }

    /// The members node `i`'s view of [`WireNet::key`] lists (none without a view).
    pub fn view_members(&self, i: usize) -> Vec<Jid> {
        self.nodes[i]
            .client
            .view(&self.key())
            .map(|v| v.members)
            .unwrap_or_default()
    }
}
