//! kgroup: Kontalk's client-managed XMPP group chat protocol, written once as a pure
//! transition function ([`core`]) in two dialects, `kontalk` (the seed as written) and
//! `hardened` (our wire-compatible extension that converges).
//!
//! [`envelope`] is the OpenPGP layer: group stanzas signed by their sender and encrypted
//! once to all recipients; its verified signer is the sender the core is given. [`wire`]
//! joins the two: a core stanza to the sealed `<message/>` XML and back.

pub mod codec;
pub mod core;
pub mod envelope;
pub mod wire;

pub use crate::core::{
    Change, Client, Command, Config, Dialect, Digest, Durable, Ext, GroupKey, Identity, Intent,
    LocalError, Outgoing, Output, Planted, Reason, Roster, Rules, Span, Stanza, Status, Text, View,
};
