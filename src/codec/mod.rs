//! The real-stanza adapter: a quick-xml codec for the XMPP elements a Kontalk group
//! message carries, and the mapping between them and the core's typed values.
//!
//! One module per XML extension, in the manner of xmpp-parsers: a typed value per element,
//! parsing with precise, located errors ([`DecodeError`]), encoding back to XML.
//! [`jid`]: validated, normalised JIDs; [`addresses`]: XEP-0033; [`group`]: Kontalk's
//! `<group/>`; [`hardened`]: our `urn:kgroup:hardened:0` extension; [`message`]: the
//! `<message/>` stanza and the conversion to and from the core; [`cpim`]: the Message/CPIM
//! wrapper Kontalk's clients put around an encrypted stanza's inside. What the decoder
//! reads includes everything Kontalk's clients emit (`corpus/kontalk/`); what the encoder
//! writes is chosen by a [`Profile`].
//!
//! The decoder is written for untrusted input and reads a stanza in one pass: quick-xml's
//! plain reader tokenises, and `xml` resolves namespaces (prefixes, default namespaces,
//! rebinding, `xmlns=''`) and checks attributes as XML requires. DTDs and processing
//! instructions are refused, only the five predefined entities and character references
//! exist, and [`Limits`] bound the size, the nesting depth and every list. No input makes
//! it panic (property tests and a fuzz target check that).

pub mod addresses;
pub mod cpim;
pub mod error;
pub mod group;
pub mod hardened;
pub mod jid;
pub mod message;
pub mod scan;
mod xml;

use serde::{Deserialize, Serialize};

pub use crate::core::Text;
pub use addresses::{Address, AddressType, Addresses};
pub use error::{DecodeError, ErrorKind, ToCoreError};
pub use group::Group;
pub use jid::{Jid, JidError};
pub use message::{Message, MessageType};

/// Which shape the encoder writes; the decoder reads both.
///
/// - `Seed`: the protocol page as written (a part is a `<part/>` child; the encrypted
///   inside is a bare `<xmpp/>` element holding the group element and the body).
/// - `Android`: byte-compatible with Kontalk's Android client (Smack 4.3): `type='part'`,
///   members before adds and removes, a fallback body on every command, the inside an
///   `<xmpp/>` element around a `<message xmlns='jabber:client' id type='chat'>`, wrapped in
///   Message/CPIM ([`cpim`]), and the outer stanza as the client sends it to
///   `multicast@<domain>` (see `wire`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Seed,
    Android,
}

/// RFC 3923's namespace, in which Kontalk carries OpenPGP messages, and the element that
/// holds the base64 message.
pub const NS_E2E: &str = "urn:ietf:params:xml:ns:xmpp-e2e";
pub const E2E: &str = "e2e";

/// XEP-0033 Extended Stanza Addressing.
pub const NS_ADDRESS: &str = "http://jabber.org/protocol/address";
/// Kontalk's group extension.
pub const NS_GROUP: &str = "http://kontalk.org/extensions/message#group";
/// Our hardened dialect's extension.
pub const NS_HARDENED: &str = "urn:kgroup:hardened:0";

/// Bounds on what the decoder accepts, so hostile input costs bounded memory and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// The whole stanza, in bytes.
    pub max_bytes: usize,
    /// Element nesting (`<message>` is depth 1).
    pub max_depth: usize,
    /// Entries of any one list: addresses, members, adds, removes, snapshot members, spans
    /// of one member, unknown children.
    pub max_items: usize,
}

impl Default for Limits {
    /// 256 KiB, depth 16, 1024 entries: far above any group the seed has in mind (a
    /// 1000-member create is about 60 KiB), far below what would hurt.
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            max_depth: 16,
            max_items: 1024,
        }
    }
}

/// An element the codec does not know, kept to be re-emitted: its namespace (`None`: the
/// stanza's own), local name, and a canonical, self-contained serialisation.
///
/// Only the decoder makes one (or [`RawElement::parse`], which runs the decoder), so the
/// XML it holds is always one well-formed element: a value deserialised from JSON cannot
/// smuggle markup into an encoded stanza.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRepr")]
pub struct RawElement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ns: Option<Text>,
    pub(crate) name: Text,
    pub(crate) xml: Text,
}

impl RawElement {
    /// Parses one element that this codec does not itself interpret (a `<body/>` or a
    /// `<group/>` is refused: they are typed fields of [`Message`]).
    pub fn parse(xml: &str) -> Result<RawElement, DecodeError> {
        let wrapped = format!("<message>{xml}</message>");
        let m = Message::decode_with(
            wrapped.as_bytes(),
            Limits {
                max_bytes: Limits::default().max_bytes + 19,
                ..Limits::default()
            },
        )?;
        let only_unknown = m.addresses.is_none()
            && m.group.is_none()
            && m.body.is_none()
            && m.hardened.is_none()
            && m.unknown.len() == 1;
        match m.unknown.into_iter().next() {
            Some(raw) if only_unknown => Ok(raw),
            _ => Err(DecodeError {
                offset: 0,
                kind: ErrorKind::Invalid {
                    element: "message",
                    reason: "expected exactly one element that the codec does not interpret",
                },
            }),
        }
    }

    /// The namespace (`None`: the stanza's own).
    pub fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The canonical serialisation that is re-emitted.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// A text-only element `<name xmlns='ns'>text</name>` (text escaped).
    pub fn leaf(ns: &str, name: &str, text: &str) -> RawElement {
        let mut xml = String::with_capacity(text.len() + name.len() * 2 + ns.len() + 16);
        xml.push('<');
        xml.push_str(name);
        xml::write_attr(&mut xml, "xmlns", ns);
        xml.push('>');
        xml::escape_text(&mut xml, text);
        xml.push_str("</");
        xml.push_str(name);
        xml.push('>');
        RawElement {
            ns: Some(ns.into()),
            name: name.into(),
            xml: xml.into(),
        }
    }

    /// Is this the `<e2e/>` element that carries an OpenPGP message?
    pub fn is_e2e(&self) -> bool {
        self.ns() == Some(NS_E2E) && self.name() == E2E
    }

    /// An empty element `<name xmlns='ns'/>` (a chat state, a hint).
    pub fn empty(ns: &str, name: &str) -> RawElement {
        let mut xml = String::with_capacity(name.len() + ns.len() + 12);
        xml.push('<');
        xml.push_str(name);
        xml::write_attr(&mut xml, "xmlns", ns);
        xml.push_str("/>");
        RawElement {
            ns: Some(ns.into()),
            name: name.into(),
            xml: xml.into(),
        }
    }

    /// The text content of this element; a child element is an error (its text, entities
    /// and CDATA joined, as for `<body/>`).
    pub fn text(&self) -> Result<String, DecodeError> {
        let mut cur = xml::Cursor::new(self.xml.as_bytes(), Limits::default())?;
        match cur.next()? {
            xml::Ev::Start(tag) => cur.leaf_text(&tag, "unknown element"),
            _ => Err(cur.eof()),
        }
    }
}

/// The JSON form, checked by re-parsing its `xml`; `ns` and `name`, when given, must be
/// what the `xml` says.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepr {
    #[serde(default)]
    ns: Option<String>,
    #[serde(default)]
    name: Option<String>,
    xml: String,
}

impl TryFrom<RawRepr> for RawElement {
    type Error = DecodeError;
    fn try_from(r: RawRepr) -> Result<RawElement, DecodeError> {
        let raw = RawElement::parse(&r.xml)?;
        let agrees = r.ns.as_deref().is_none_or(|ns| raw.ns() == Some(ns))
            && r.name.as_deref().is_none_or(|n| raw.name() == n);
        if !agrees {
            return Err(DecodeError::new(
                0,
                ErrorKind::Invalid {
                    element: "unknown element",
                    reason: "its `ns` or `name` is not what its `xml` says",
                },
            ));
        }
        Ok(raw)
    }
}
