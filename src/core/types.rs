//! The values that cross the core's boundary: typed group stanzas (what the codec produces
//! and consumes), local intents, and the outputs a transition returns.
//!
//! A [`Stanza`] is the *inside* of a group message: what travels signed and encrypted. The
//! XEP-0033 recipient list is not part of it; it is the `to` of an [`Outgoing`], so the
//! driver (and the model checker) sees exactly whom each stanza is addressed to.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What an identity must be: small integers in the model, bare JIDs in the adapter.
pub trait Identity: Clone + Eq + Ord + Hash + Debug {}
impl<T: Clone + Eq + Ord + Hash + Debug> Identity for T {}

/// Shared, immutable text (group ids, subjects, bodies): cloning is a reference count.
pub type Text = Arc<str>;

/// A group is named by its id *and* its owner: the owner is bound at creation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupKey<I> {
    pub id: Text,
    pub owner: I,
}

impl<I> GroupKey<I> {
    pub fn new(id: impl Into<Text>, owner: I) -> Self {
        GroupKey {
            id: id.into(),
            owner,
        }
    }
}

/// The `<group/>` element's command, exactly as the seed has them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Command<I> {
    /// No `type` attribute and no `<part/>`: a plain group message.
    Message,
    /// `type='create'`: the members (owner excluded, as in the seed) and an optional subject.
    Create {
        subject: Option<Text>,
        members: Vec<I>,
    },
    /// `type='set'`: any of subject, `<add/>`, `<remove/>`, and the `<member/>` list that
    /// accompanies an add (the members before the add, owner excluded).
    Set {
        subject: Option<Text>,
        add: Vec<I>,
        remove: Vec<I>,
        members: Vec<I>,
    },
    /// `<part/>`: the sender leaves.
    Part,
}

/// One membership interval of the hardened roster: member at every epoch in `since..until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub since: u64,
    /// `None` while the membership is open.
    pub until: Option<u64>,
}

impl Span {
    pub fn covers(&self, epoch: u64) -> bool {
        self.since <= epoch && self.until.is_none_or(|u| epoch < u)
    }
}

/// The hardened roster: every identity that was ever a member, with its intervals. Current
/// members are those whose last interval is open. Keeping closed intervals lets a receiver
/// that is ahead judge a message stamped with an older epoch against the membership *at that
/// epoch*, so a member's last words before its removal are not lost.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(bound(
    serialize = "I: Serialize + Ord",
    deserialize = "I: Deserialize<'de> + Ord"
))]
#[serde(deny_unknown_fields)]
pub struct Roster<I> {
    pub spans: BTreeMap<I, Vec<Span>>,
    /// Hardened v2: for each member the owner removed, the digests of the stanzas of theirs
    /// the owner had accepted (its last [`crate::Config::max_window`]) when it removed them.
    /// A receiver that applied the removal delivers nothing else of theirs: last words sent
    /// before the removal still arrive, and nothing composed after it does, whatever epoch
    /// or sequence number it is stamped with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cuts: BTreeMap<I, Vec<Digest>>,
}

impl<I> Default for Roster<I> {
    fn default() -> Self {
        Roster {
            spans: BTreeMap::new(),
            cuts: BTreeMap::new(),
        }
    }
}

/// A stanza's fingerprint: the first 16 bytes of SHA-256 over its typed content (the
/// group, the command, the body and the extension, recipients included), every integer as
/// 64-bit little-endian whatever the platform and the identity type. The owner names a removed member's accepted
/// stanzas by it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// The head before the first snapshot.
    pub const ZERO: Digest = Digest([0; 16]);

    pub fn is_zero(&self) -> bool {
        *self == Digest::ZERO
    }

    /// The head of a snapshot: its content chained to the head before it, so two members
    /// that ever held different snapshots hold different heads from then on.
    pub fn chain<I: Hash>(
        prev: &Digest,
        epoch: u64,
        subject: &Option<Text>,
        roster: &Roster<I>,
    ) -> Digest {
        Digest::of(&(prev, epoch, subject, roster))
    }

    pub fn of<T: Hash + ?Sized>(value: &T) -> Digest {
        use sha2::Digest as _;
        struct Sha(sha2::Sha256);
        impl std::hash::Hasher for Sha {
            fn finish(&self) -> u64 {
                0
            }
            fn write(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
            // Every integer as 64 bits: a digest does not depend on the width of the
            // identity type (the model's u8 ids, the simulator's u32 ones).
            fn write_u8(&mut self, v: u8) {
                self.0.update(u64::from(v).to_le_bytes());
            }
            fn write_u16(&mut self, v: u16) {
                self.0.update(u64::from(v).to_le_bytes());
            }
            fn write_u32(&mut self, v: u32) {
                self.0.update(u64::from(v).to_le_bytes());
            }
            fn write_u64(&mut self, v: u64) {
                self.0.update(v.to_le_bytes());
            }
            fn write_usize(&mut self, v: usize) {
                self.0.update((v as u64).to_le_bytes());
            }
        }
        let mut h = Sha(sha2::Sha256::new());
        value.hash(&mut h);
        let full = h.0.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        Digest(out)
    }

    /// Lower-case hexadecimal, 32 characters.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`Digest::to_hex`]'s form; `None` unless exactly 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Digest> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Digest(out))
    }
}

impl Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("a digest is 32 hexadecimal digits"))
    }
}

/// Our extension, in its own namespace: a `kontalk` client ignores it, and a stanza without
/// it is an epoch-less `kontalk` stanza.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[serde(bound(
    serialize = "I: Serialize + Ord",
    deserialize = "I: Deserialize<'de> + Ord"
))]
pub enum Ext<I> {
    /// On messages and parts: the sender's epoch, its per-group sequence number, and the
    /// recipients it addressed (sorted), inside the signature so that a stanza re-sealed or
    /// redirected to anyone else is refused.
    Stamp { epoch: u64, seq: u64, to: Vec<I> },
    /// On the owner's create/set: the full state at `epoch`, chained to the owner's
    /// previous snapshot by `prev`, its head ([`Digest::chain`]; zero before the first).
    Snapshot {
        epoch: u64,
        seq: u64,
        #[serde(default, skip_serializing_if = "Digest::is_zero")]
        prev: Digest,
        subject: Option<Text>,
        roster: Roster<I>,
    },
    /// Hardened v2: a member's acknowledgement of the owner's snapshot `seq`, with the
    /// epoch and head it holds now, sent to the owner and to its two neighbours in the
    /// roster (so every pair of neighbours hears each other's head). Two heads for one
    /// epoch are two different snapshots the owner signed for it: an equivocation.
    Head { epoch: u64, seq: u64, head: Digest },
    /// Acknowledges the addressee's stanza number `seq`.
    Ack { seq: u64 },
    /// Asks the owner for its latest snapshot; `epoch` is the asker's.
    Resync { epoch: u64 },
}

impl<I> Ext<I> {
    /// The sequence number of a stanza that must be acknowledged, if any.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Ext::Stamp { seq, .. } | Ext::Snapshot { seq, .. } => Some(*seq),
            Ext::Ack { .. } | Ext::Head { .. } | Ext::Resync { .. } => None,
        }
    }
}

/// A group stanza, decrypted: the group, the command, an optional body and our extension.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(bound(
    serialize = "I: Serialize + Ord",
    deserialize = "I: Deserialize<'de> + Ord"
))]
#[serde(deny_unknown_fields)]
pub struct Stanza<I> {
    pub group: GroupKey<I>,
    pub command: Command<I>,
    pub body: Option<Text>,
    pub ext: Option<Ext<I>>,
}

/// A change the owner makes with one `set`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Change<I> {
    pub add: Vec<I>,
    pub remove: Vec<I>,
    pub subject: Option<Text>,
}

impl<I> Default for Change<I> {
    fn default() -> Self {
        Change {
            add: Vec::new(),
            remove: Vec::new(),
            subject: None,
        }
    }
}

/// What the local user asks its client to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Intent<I> {
    /// Create a group owned by this client with these other members.
    Create {
        id: Text,
        members: Vec<I>,
        subject: Option<Text>,
        body: Option<Text>,
    },
    /// Owner only: add, remove, change the subject (any combination), with an optional body.
    Set {
        id: Text,
        change: Change<I>,
        body: Option<Text>,
    },
    /// Leave the group.
    Part {
        group: GroupKey<I>,
        body: Option<Text>,
    },
    /// Send a message to the group.
    Message { group: GroupKey<I>, body: Text },
}

/// A stanza to multicast: `to` is the exact XEP-0033 recipient list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Outgoing<I> {
    pub to: Vec<I>,
    pub stanza: Arc<Stanza<I>>,
    /// True when this repeats a stanza composed earlier (a retransmission or a stored notice).
    pub resent: bool,
}

/// Why a received stanza changed nothing. Every rejection is reported, never silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// create/set (or add/remove/subject) from someone other than the group's owner.
    NotOwner,
    /// The group id is known, but bound to another owner.
    WrongOwner,
    /// A message or part from someone who is not a member.
    NotMember,
    /// A message, part or set for a group this client does not know.
    UnknownGroup,
    /// A create or set for an unknown group that does not name this client.
    NotAddressed,
    /// Hardened: an owner snapshot older than (or as old as) the one already applied.
    Stale,
    /// Hardened: a stanza (sender, seq) seen before.
    Duplicate,
    /// Hardened: an epoch-less owner command for a group that has epochs.
    Downgrade,
    /// Hardened: the buffer for messages from the future is full; the sender will resend.
    BufferFull,
    /// Nothing to do: no command, no body.
    Empty,
    /// Hardened: a control stanza (ack, resync) that makes no sense here.
    BadControl,
    /// Hardened v2: a stanza whose signed recipient list does not name this client (re-sealed
    /// or redirected).
    NotRecipient,
    /// Hardened v2: a stanza stamped too far ahead of this client's epoch to be held.
    TooFarAhead,
}

impl Reason {
    /// The reason in a few words, for a person reading a trace.
    pub fn explain(&self) -> &'static str {
        match self {
            Reason::NotOwner => "a group command from someone other than the group's owner",
            Reason::WrongOwner => "the group id is bound to another owner here",
            Reason::NotMember => "a message or part from someone who is not a member",
            Reason::UnknownGroup => "a message, part or set for a group this client does not know",
            Reason::NotAddressed => {
                "a create or set for an unknown group that does not name this client"
            }
            Reason::Stale => "an owner state older than, or as old as, the one applied",
            Reason::Duplicate => "seen before",
            Reason::Downgrade => "an owner command without an epoch for a group that has epochs",
            Reason::BufferFull => "the buffer for stanzas from the future is full",
            Reason::Empty => "nothing to do: no command and no body",
            Reason::BadControl => "a control stanza that makes no sense here",
            Reason::NotRecipient => "its signed recipient list does not name this client",
            Reason::TooFarAhead => "stamped too far ahead of this client's epoch to be held",
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::NotOwner => "not-owner",
            Reason::WrongOwner => "wrong-owner",
            Reason::NotMember => "not-member",
            Reason::UnknownGroup => "unknown-group",
            Reason::NotAddressed => "not-addressed",
            Reason::Stale => "stale",
            Reason::Duplicate => "duplicate",
            Reason::Downgrade => "downgrade",
            Reason::BufferFull => "buffer-full",
            Reason::Empty => "empty",
            Reason::BadControl => "bad-control",
            Reason::NotRecipient => "not-recipient",
            Reason::TooFarAhead => "too-far-ahead",
        }
    }
}

/// Why a local intent was refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LocalError {
    /// Only the owner may change a group.
    NotOwner,
    /// This client is not (or no longer) a member.
    NotMember,
    /// No such group here.
    UnknownGroup,
    /// A group with this id and owner exists already.
    GroupExists,
    /// The group id is bound to another owner here.
    WrongOwner,
    /// The change changes nothing (e.g. adding a current member).
    NoChange,
    /// The group's epoch counter is at its end: no further change can be numbered.
    EpochsExhausted,
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LocalError::NotOwner => "only the owner may change the group",
            LocalError::NotMember => "this client is not a member of the group",
            LocalError::UnknownGroup => "no such group",
            LocalError::GroupExists => "a group with this id and owner exists already",
            LocalError::WrongOwner => "the group id is bound to another owner",
            LocalError::NoChange => "the change changes nothing",
            LocalError::EpochsExhausted => "the group's epochs are exhausted",
        })
    }
}

impl std::error::Error for LocalError {}

/// Where this client stands in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Member,
    /// This client sent a part.
    Left,
    /// The owner removed this client.
    Removed,
}

/// A client's view of a group: what convergence compares.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct View<I> {
    pub owner: I,
    pub members: Vec<I>,
    pub subject: Option<Text>,
    /// 0 in an epoch-less (`kontalk`) group.
    pub epoch: u64,
    pub status: Status,
}

impl<I: PartialEq> View<I> {
    /// The part of the view that convergence compares: members and subject.
    pub fn agrees_with(&self, other: &View<I>) -> bool {
        self.owner == other.owner && self.members == other.members && self.subject == other.subject
    }
}

/// What a transition produced.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output<I> {
    /// Multicast this stanza to exactly these recipients.
    Send(Outgoing<I>),
    /// Show this message to the user.
    Deliver {
        group: GroupKey<I>,
        from: I,
        body: Text,
    },
    /// A received stanza was dropped, and why.
    Reject {
        group: GroupKey<I>,
        from: I,
        reason: Reason,
    },
    /// The group's view changed (created, members or subject).
    Changed { group: GroupKey<I>, view: View<I> },
    /// Hardened v2: the owner signed two different snapshots for `epoch` (or a snapshot
    /// that does not follow the one held): seen in the owner's own stanzas, or in the head
    /// `witness` announced. A lying member can raise it too; it cannot hide a fork.
    Equivocation {
        group: GroupKey<I>,
        epoch: u64,
        witness: I,
    },
    /// Hardened: retransmission of stanza `seq` stopped after the configured attempts;
    /// these recipients never acknowledged it.
    GaveUp {
        group: GroupKey<I>,
        seq: u64,
        unacked: Vec<I>,
    },
}
