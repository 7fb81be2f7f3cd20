//! kgroup: Kontalk's client-managed XMPP group chat protocol, written once as a pure
//! transition function ([`core`]) in two dialects, `kontalk` (the seed as written) and
//! `hardened` (our wire-compatible extension that converges).
//!
//! [`lab`] is a small deterministic driver that runs several clients over an in-memory
//! network under the test's (or the CLI's) full control of delivery order; [`scenarios`]
//! are the seed's example sequence and the reorderings where the dialects differ.
//! [`envelope`] is the OpenPGP layer: group stanzas signed by their sender and encrypted
//! once to all recipients; its verified signer is the sender the core is given. [`wire`]
//! joins the two: a core stanza to the sealed `<message/>` XML and back.

pub mod codec;
pub mod core;
pub mod envelope;
pub mod lab;
pub mod scenarios;
pub mod wire;

pub use crate::core::{
    Change, Client, Command, Config, Dialect, Durable, Ext, GroupKey, Identity, Intent, LocalError,
    Outgoing, Output, Reason, Roster, Span, Stanza, Status, Text, View,
};
