//! The `<message/>` stanza that carries a group command, and its mapping to the core.
//!
//! Typed children: the XEP-0033 `<addresses/>`, Kontalk's `<group/>`, the `<body/>`
//! (without `xml:lang`) and our hardened element. Every other child is kept as a
//! [`RawElement`] and re-emitted on encode, so a relay through this codec loses nothing;
//! unknown attributes are ignored, as RFC 6120 asks. Children are encoded in a fixed order
//! (addresses, group, body, hardened, then the unknown ones in their original order);
//! XMPP gives child order no meaning.

use serde::{Deserialize, Serialize};

use super::addresses::{Address, Addresses};
use super::error::{DecodeError, ErrorKind, ToCoreError};
use super::group::Group;
use super::jid::Jid;
use super::xml::{duplicate, escape_text, write_attr, Cursor, Ev, Ns, Tag};
use super::{hardened, Limits, RawElement, Text};
use crate::core::{Ext, GroupKey, Outgoing, Stanza};

/// The message `type` (RFC 6121 §5.2.2). Absent, or a value we do not know, means `normal`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    #[default]
    Normal,
    Chat,
    Groupchat,
    Headline,
    Error,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Normal => "normal",
            MessageType::Chat => "chat",
            MessageType::Groupchat => "groupchat",
            MessageType::Headline => "headline",
            MessageType::Error => "error",
        }
    }
}

/// A decoded `<message/>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Jid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Jid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    #[serde(rename = "type", default)]
    pub kind: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Addresses>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardened: Option<Ext<Jid>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<RawElement>,
}

const EL: &str = "message";
/// The root of an encrypted stanza's inside (Kontalk's `application/xmpp+xml` payload).
const PAYLOAD_ROOT: &str = "xmpp";

impl Message {
    /// Decodes one stanza with the default [`Limits`].
    pub fn decode(input: &[u8]) -> Result<Message, DecodeError> {
        Message::decode_with(input, Limits::default())
    }

    /// Decodes one stanza: exactly one `<message/>` element (an XML declaration, comments
    /// and surrounding whitespace allowed).
    pub fn decode_with(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
        Message::decode_rooted(input, limits, "message", true)
    }

    /// [`Message::decode_with`] without the fast paths for the long lists (addresses, group
    /// members, snapshot members and their spans), skims included: quick-xml reads every
    /// element and each goes the ordinary way. What the fast paths must agree with, value
    /// for value and error for error; the property tests and the fuzz target compare the
    /// two.
    #[doc(hidden)]
    pub fn decode_reference(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
        Message::decode_rooted(input, limits, "message", false)
    }

    /// Decodes an encrypted stanza's inside, as [`Message::encode_payload`] writes it:
    /// one `<xmpp xmlns='jabber:client'>` element whose children are decoded as a
    /// `<message/>`'s (its attributes are ignored). Same rules and limits as [`decode`].
    ///
    /// [`decode`]: Message::decode
    pub fn decode_payload(input: &[u8]) -> Result<Message, DecodeError> {
        let mut m = Message::decode_rooted(input, Limits::default(), PAYLOAD_ROOT, true)?;
        (m.from, m.to, m.id, m.kind) = (None, None, None, MessageType::Normal);
        Ok(m)
    }

    fn decode_rooted(
        input: &[u8],
        limits: Limits,
        root_name: &str,
        fast: bool,
    ) -> Result<Message, DecodeError> {
        let mut cur = Cursor::new(input, limits)?;
        cur.fast = fast;
        let root = match cur.next()? {
            Ev::Start(t) => t,
            Ev::Eof => return Err(DecodeError::new(cur.pos(), ErrorKind::Empty)),
            // Text and end tags before a root are reported by the reader itself.
            Ev::Text(_) | Ev::End => {
                return Err(DecodeError::new(
                    cur.pos(),
                    ErrorKind::Xml("content before the root element".into()),
                ))
            }
        };
        if root.ns != Ns::Content || root.local() != root_name {
            let found = match root.ns.clone() {
                Ns::Other(ns) => format!("{} xmlns='{ns}'", root.local()),
                _ => root.local().to_owned(),
            };
            return Err(DecodeError::new(root.pos, ErrorKind::NotAMessage { found }));
        }
        let msg = Message::decode_root(&mut cur, &root)?;
        match cur.next()? {
            Ev::Eof => Ok(msg),
            _ => Err(DecodeError::new(cur.pos(), ErrorKind::TrailingContent)),
        }
    }

    fn decode_root<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Message, DecodeError> {
        let mut m = Message::default();
        tag.attrs(|k, v| {
            let mut jid = |attribute| {
                cur.jid(&v).map_err(|e| {
                    DecodeError::new(
                        tag.pos,
                        ErrorKind::BadAttribute {
                            element: EL,
                            attribute,
                            value: v.to_string(),
                            reason: e.to_string(),
                        },
                    )
                })
            };
            match k {
                "from" => m.from = Some(jid("from")?),
                "to" => m.to = Some(jid("to")?),
                "id" => m.id = Some(Text::from(v.as_ref())),
                "type" => {
                    m.kind = match v.as_ref() {
                        "chat" => MessageType::Chat,
                        "groupchat" => MessageType::Groupchat,
                        "headline" => MessageType::Headline,
                        "error" => MessageType::Error,
                        _ => MessageType::Normal,
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        cur.children(tag, EL, |cur, t| {
            match (&t.ns, t.local()) {
                (Ns::Address, "addresses") => {
                    if m.addresses.is_some() {
                        return Err(duplicate(t.pos, EL, "addresses"));
                    }
                    m.addresses = Some(Addresses::decode(cur, &t)?);
                }
                (Ns::Group, "group") => {
                    if m.group.is_some() {
                        return Err(duplicate(t.pos, EL, "group"));
                    }
                    m.group = Some(Group::decode(cur, &t)?);
                }
                (Ns::Content, "body") if t.xml_lang()?.is_none() => {
                    if m.body.is_some() {
                        return Err(duplicate(t.pos, EL, "body"));
                    }
                    m.body = Some(Text::from(cur.leaf_text(&t, "body")?));
                }
                (Ns::Hardened, local) if hardened::is_known(local) => {
                    if m.hardened.is_some() {
                        return Err(duplicate(t.pos, EL, "hardened element"));
                    }
                    m.hardened = Some(hardened::decode(cur, &t)?);
                }
                _ => {
                    cur.room(m.unknown.len(), t.pos, "unknown children")?;
                    let raw = cur.capture(t)?;
                    m.unknown.push(raw);
                }
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// Encodes the stanza (single-quoted attributes, no insignificant whitespace).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded stanza to `out`.
    pub fn encode_into(&self, out: &mut String) {
        out.push_str("<message");
        if self.kind != MessageType::Normal {
            write_attr(out, "type", self.kind.as_str());
        }
        if let Some(j) = &self.from {
            write_attr(out, "from", j.as_str());
        }
        if let Some(j) = &self.to {
            write_attr(out, "to", j.as_str());
        }
        if let Some(id) = &self.id {
            write_attr(out, "id", id);
        }
        out.push('>');
        if let Some(a) = &self.addresses {
            a.encode(out);
        }
        self.encode_children(out);
        out.push_str("</message>");
    }

    /// The inside of an encrypted stanza: `<xmpp xmlns='jabber:client'>` around this
    /// message's children except `<addresses/>` (the group element, the body, our hardened
    /// element, unknown children), in the order [`Message::encode`] writes them. Kontalk
    /// encrypts stanza content in this element (media type `application/xmpp+xml`).
    pub fn encode_payload(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push('<');
        out.push_str(PAYLOAD_ROOT);
        out.push_str(" xmlns='jabber:client'>");
        self.encode_children(&mut out);
        out.push_str("</");
        out.push_str(PAYLOAD_ROOT);
        out.push('>');
        out
    }

    fn encode_children(&self, out: &mut String) {
        if let Some(g) = &self.group {
            g.encode(out);
        }
        if let Some(b) = &self.body {
            out.push_str("<body>");
            escape_text(out, b);
            out.push_str("</body>");
        }
        if let Some(h) = &self.hardened {
            hardened::encode(h, out);
        }
        for u in &self.unknown {
            out.push_str(&u.xml);
        }
    }

    /// The core's view: the XEP-0033 recipients (`to`, `cc`, `bcc`; bare) and the group
    /// stanza. The sender is not taken from `from`: the core wants the *authenticated*
    /// sender, which the OpenPGP layer provides.
    pub fn to_core(&self) -> Result<(Vec<Jid>, Stanza<Jid>), ToCoreError> {
        let g = self.group.as_ref().ok_or(ToCoreError::NotGroup)?;
        let recipients = self
            .addresses
            .iter()
            .flat_map(|a| a.recipients())
            .map(Jid::to_bare)
            .collect();
        let stanza = Stanza {
            group: GroupKey::new(g.id.clone(), g.owner.clone()),
            command: g.command.clone(),
            body: self.body.clone(),
            ext: self.hardened.clone(),
        };
        Ok((recipients, stanza))
    }

    /// The message that carries a core [`Outgoing`] from `sender`: addressed, as in the
    /// seed, to the sender's server (its multicast service), with one `to` address per
    /// recipient.
    pub fn from_outgoing(out: &Outgoing<Jid>, sender: &Jid) -> Message {
        let s = &out.stanza;
        Message {
            from: Some(sender.clone()),
            to: Some(sender.domain_jid()),
            id: None,
            kind: MessageType::Chat,
            addresses: Some(Addresses(out.to.iter().cloned().map(Address::to).collect())),
            group: Some(Group {
                id: s.group.id.clone(),
                owner: s.group.owner.clone(),
                command: s.command.clone(),
            }),
            body: s.body.clone(),
            hardened: s.ext.clone(),
            unknown: Vec::new(),
        }
    }
}

impl TryFrom<&[u8]> for Message {
    type Error = DecodeError;
    fn try_from(input: &[u8]) -> Result<Message, DecodeError> {
        Message::decode(input)
    }
}

impl std::str::FromStr for Message {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Message, DecodeError> {
        Message::decode(s.as_bytes())
    }
}
