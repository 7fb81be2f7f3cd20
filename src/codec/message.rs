//! The `<message/>` stanza that carries a group command, and its mapping to the core.
//!
//! Typed children: the XEP-0033 `<addresses/>`, Kontalk's `<group/>`, the `<body/>`
//! (without `xml:lang`) and our hardened element. Every other child is kept as a
//! [`RawElement`] and re-emitted on encode, so a relay through this codec loses nothing;
//! unknown attributes are ignored, as RFC 6120 asks. Children are encoded in a fixed order
//! (addresses, group, body, hardened, then the unknown ones in their original order);
//! XMPP gives child order no meaning. The [`Profile::Android`] encoders write Kontalk's
//! Android client's order and quoting instead.
//!
//! An encrypted stanza's inside ([`Message::decode_payload`]) is read in both shapes: the
//! seed's bare `<xmpp/>` holding the children, and Kontalk's clients' Message/CPIM around
//! an `<xmpp/>` holding one `<message xmlns='jabber:client'>` (androidclient
//! `crypto/PGPCoder.encryptStanza`, `util/XMPPUtils.parseMessageStanza`). In the latter, a
//! command's body is the client's fallback text for clients that know no groups
//! (androidclient `service/msgcenter/group/KontalkGroupController.beforeEncryption`); the
//! Android client shows commands, never their bodies (`message/CompositeMessage`), so it is
//! kept apart as [`Message::fallback`] and is not a message.

use serde::{Deserialize, Serialize};

use super::addresses::{Address, Addresses};
use super::cpim::{self, Cpim};
use super::error::{DecodeError, ErrorKind, ToCoreError};
use super::group::Group;
use super::jid::Jid;
use super::xml::{duplicate, escape_text, write_attr, Cursor, Ev, Ns, Tag};
use super::xml::{escape_text_smack, write_attr_smack};
use super::{hardened, Limits, Profile, RawElement, Text};
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
#[serde(deny_unknown_fields)]
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
    /// A command's fallback text, in the Android shape (see the module docs): written as
    /// the body by [`Profile::Android`] when there is no body; never a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardened: Option<Ext<Jid>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<RawElement>,
}

const EL: &str = "message";

/// The fallback body the Android client puts on every group command, in English
/// (androidclient `app/src/main/res/values/strings.xml`, `text_group_command_fallback`;
/// the client sends its user's translation).
pub const FALLBACK: &str = "This is a group chat message. You're using an old version of Kontalk or your client doesn't support the group chat protocol. Please upgrade to the latest version!";
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

    /// Decodes an encrypted stanza's inside in either shape (see the module docs): a bare
    /// `<xmpp xmlns='jabber:client'>` whose children are decoded as a `<message/>`'s, or
    /// Message/CPIM around an `<xmpp/>` holding one `<message/>` (whose `id` and `type`
    /// are kept). `from` and `to` are never taken from the inside. Same rules and limits
    /// as [`decode`].
    ///
    /// [`decode`]: Message::decode
    pub fn decode_payload(input: &[u8]) -> Result<Message, DecodeError> {
        Message::decode_payload_with_headers(input).map(|(_, m)| m)
    }

    /// [`Message::decode_payload`], with the CPIM message's headers (its `body` emptied)
    /// when there was one.
    pub fn decode_payload_with_headers(
        input: &[u8],
    ) -> Result<(Option<Cpim>, Message), DecodeError> {
        let limits = Limits::default();
        if !cpim::looks_like(input) {
            return Ok((None, Message::decode_xmpp(input, limits)?));
        }
        let mut headers = Cpim::parse(input, limits)?;
        if !headers.content_type.eq_ignore_ascii_case(cpim::XMPP_XML) {
            return Err(DecodeError::new(
                0,
                ErrorKind::Cpim(format!(
                    "content type `{}`: a group stanza is {}",
                    headers.content_type,
                    cpim::XMPP_XML
                )),
            ));
        }
        let body = std::mem::take(&mut headers.body);
        let at = (input.len() - body.len()) as u64;
        let m = Message::decode_xmpp(&body, limits).map_err(|mut e| {
            e.offset += at;
            e
        })?;
        Ok((Some(headers), m))
    }

    /// The `<xmpp/>` element, bare or around one `<message/>`.
    fn decode_xmpp(input: &[u8], limits: Limits) -> Result<Message, DecodeError> {
        let mut cur = Cursor::new(input, limits)?;
        cur.fast = true;
        let root = Message::root(&mut cur, PAYLOAD_ROOT)?;
        let mut m = Message::default();
        // What the `<xmpp/>` held so far: nothing, message children, or one `<message/>`.
        let (mut children, mut wrapped) = (false, false);
        cur.children(&root, PAYLOAD_ROOT, |cur, t| {
            let is_message = t.ns == Ns::Content && t.local() == EL;
            if wrapped || (is_message && children) {
                return Err(DecodeError::new(
                    t.pos,
                    ErrorKind::UnexpectedElement {
                        element: PAYLOAD_ROOT,
                        child: t.local().to_owned(),
                    },
                ));
            }
            if is_message {
                wrapped = true;
                m = Message::decode_root(cur, &t)?;
                Ok(())
            } else {
                children = true;
                m.decode_child(cur, t)
            }
        })?;
        match cur.next()? {
            Ev::Eof => {}
            _ => return Err(DecodeError::new(cur.pos(), ErrorKind::TrailingContent)),
        }
        (m.from, m.to) = (None, None);
        if !wrapped {
            (m.id, m.kind) = (None, MessageType::Normal);
        }
        let command = m.group.as_ref().map(|g| &g.command);
        let is_command = !matches!(command, None | Some(crate::core::Command::Message));
        if wrapped && is_command {
            m.fallback = m.body.take();
        }
        Ok(m)
    }

    /// Reads the root element, which must be `root_name` in the client namespace.
    fn root<'i>(cur: &mut Cursor<'i>, root_name: &str) -> Result<Tag<'i>, DecodeError> {
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
        Ok(root)
    }

    fn decode_rooted(
        input: &[u8],
        limits: Limits,
        root_name: &str,
        fast: bool,
    ) -> Result<Message, DecodeError> {
        let mut cur = Cursor::new(input, limits)?;
        cur.fast = fast;
        let root = Message::root(&mut cur, root_name)?;
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
        cur.children(tag, EL, |cur, t| m.decode_child(cur, t))?;
        Ok(m)
    }

    /// One child of a `<message/>` (or of a bare `<xmpp/>` payload).
    fn decode_child<'i>(&mut self, cur: &mut Cursor<'i>, t: Tag<'i>) -> Result<(), DecodeError> {
        let m = self;
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
    }

    /// Encodes the stanza (single-quoted attributes, no insignificant whitespace).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256);
        self.encode_into(&mut out);
        out
    }

    /// Encodes the stanza in the given [`Profile`].
    pub fn encode_with(&self, profile: Profile) -> String {
        match profile {
            Profile::Seed => self.encode(),
            Profile::Android => {
                let mut out = String::with_capacity(256);
                self.encode_android(&mut out);
                out
            }
        }
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
        self.encode_children(out, Profile::Seed);
        out.push_str("</message>");
    }

    /// The Android client's stanza (Smack 4.3 `Message.toXML`): `xmlns`, `to`, `from`, `id`,
    /// then `type`; the group element, the body, then the address list and the other
    /// children (a chat state) after them, as `KontalkGroupController.afterEncryption` and
    /// `MessageCenterService.sendMessage` add them.
    fn encode_android(&self, out: &mut String) {
        out.push_str("<message xmlns='jabber:client'");
        if let Some(j) = &self.to {
            write_attr_smack(out, "to", j.as_str());
        }
        if let Some(j) = &self.from {
            write_attr_smack(out, "from", j.as_str());
        }
        if let Some(id) = &self.id {
            write_attr_smack(out, "id", id);
        }
        if self.kind != MessageType::Normal {
            write_attr_smack(out, "type", self.kind.as_str());
        }
        out.push('>');
        self.encode_children(out, Profile::Android);
        out.push_str("</message>");
    }

    /// The inside of an encrypted stanza in the seed's shape: `<xmpp xmlns='jabber:client'>`
    /// around this message's children except `<addresses/>` (the group element, the body,
    /// our hardened element, unknown children), in the order [`Message::encode`] writes
    /// them (media type `application/xmpp+xml`).
    pub fn encode_payload(&self) -> String {
        self.encode_payload_with(Profile::Seed)
    }

    /// The inside of an encrypted stanza in the given [`Profile`]. For `Android`, the
    /// `<xmpp/>` element around the message as the client writes it, without `to` and
    /// `from` and without the address list (androidclient `crypto/PGPCoder.encryptStanza`);
    /// the CPIM wrapping around it is the wire's ([`cpim`]), which knows the user ids.
    pub fn encode_payload_with(&self, profile: Profile) -> String {
        let mut out = String::with_capacity(256);
        out.push('<');
        out.push_str(PAYLOAD_ROOT);
        out.push_str(" xmlns='jabber:client'>");
        match profile {
            Profile::Seed => self.encode_children(&mut out, profile),
            Profile::Android => Message {
                from: None,
                to: None,
                addresses: None,
                ..self.clone()
            }
            .encode_android(&mut out),
        }
        out.push_str("</");
        out.push_str(PAYLOAD_ROOT);
        out.push('>');
        out
    }

    fn encode_children(&self, out: &mut String, profile: Profile) {
        if let Some(g) = &self.group {
            g.encode(out, profile);
        }
        match profile {
            Profile::Seed => {
                if let Some(b) = &self.body {
                    out.push_str("<body>");
                    escape_text(out, b);
                    out.push_str("</body>");
                }
            }
            Profile::Android => {
                if let Some(b) = self.body.as_ref().or(self.fallback.as_ref()) {
                    out.push_str("<body>");
                    escape_text_smack(out, b);
                    out.push_str("</body>");
                }
            }
        }
        // The Android client adds the envelope right after the body, the address list
        // after that, the chat state last.
        if profile == Profile::Android {
            for u in self.unknown.iter().filter(|u| u.is_e2e()) {
                out.push_str(&u.xml);
            }
        }
        if let Some(h) = &self.hardened {
            hardened::encode(h, out);
        }
        if profile == Profile::Android {
            if let Some(a) = &self.addresses {
                a.encode(out);
            }
        }
        for u in &self.unknown {
            if profile == Profile::Seed || !u.is_e2e() {
                out.push_str(&u.xml);
            }
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
            fallback: None,
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
