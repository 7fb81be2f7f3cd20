//! The wire: a core stanza as the XML a client really sends, and the XML a client receives
//! as the core's input.
//!
//! [`seal_outgoing`] turns a core [`Outgoing`] into one `<message/>` for the multicast
//! service; [`open_stanza`] turns a delivered `<message/>` into the **verified signer** and
//! the core [`Stanza`], which are exactly the arguments of `Client::receive`. A driver
//! (the simulator's encrypted mode, a live XMPP client) needs nothing else.
//!
//! # Wire shape
//!
//! ```xml
//! <message type='chat' from='david@example.org/home' to='example.org'>
//!   <addresses xmlns='http://jabber.org/protocol/address'>
//!     <address type='to' jid='alice@example.org'/>
//!     <address type='to' jid='bob@example.org'/>
//!   </addresses>
//!   <e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>wcBMA…(base64)…</e2e>
//! </message>
//! ```
//!
//! The seed keeps only the XEP-0033 address list in clear (the multicast service must read
//! it) and encrypts everything else to all recipients at once. Inside `<e2e/>` is the
//! base64 (standard alphabet, padded, no line breaks) of one binary OpenPGP message made by
//! [`envelope::seal()`]: signed by the sender, encrypted once, one PKESK per recipient key.
//! Its literal data is the stanza's inside, written by [`Message::encode_payload`]:
//!
//! ```xml
//! <xmpp xmlns='jabber:client'>
//!   <group xmlns='http://kontalk.org/extensions/message#group' id='…' owner='…' type='set'>…</group>
//!   <body>…</body>
//!   <stamp xmlns='urn:kgroup:hardened:0' epoch='3' seq='7'/>
//! </xmpp>
//! ```
//!
//! Why this shape and not XEP-0373/0374 (`<openpgp xmlns='urn:xmpp:openpgp:0'>` around a
//! `<signcrypt>` element): the protocol is Kontalk's, and Kontalk's clients carry OpenPGP
//! messages in an `<e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>` element (the namespace of
//! RFC 3923) as base64 of the binary message, with the stanza's content in an
//! `<xmpp xmlns='jabber:client'>` element (media type `application/xmpp+xml`). We keep
//! that element and encoding. One difference: Kontalk wraps that content in a
//! `Message/CPIM` envelope (RFC 3862 `From`/`To`/`DateTime` headers, its replay defence);
//! kgroup does not, because the sender is the OpenPGP signer and replays are the core's
//! business (the `hardened` dialect's epochs and duplicate windows). A Kontalk client
//! would therefore find the `<xmpp/>` element without its CPIM headers.
//!
//! # What a receiver trusts
//!
//! Only what the signature covers. The `from` of the stanza is the server's word and is
//! returned as [`Received::claimed_from`] for logging only; the sender handed to the core
//! is the JID bound to the signer's certificate in the keyring. A stanza that carries a
//! `<group/>`, `<body/>` or hardened element in clear is refused ([`WireError::Cleartext`]):
//! its sender would be unauthenticated.

use std::sync::Arc;

use base64::Engine as _;

use crate::codec::{DecodeError, Jid, JidError, Message, RawElement};
use crate::core::{Outgoing, Stanza};
use crate::envelope::{self, EnvelopeError, Keyring, Signer};

/// RFC 3923's namespace, in which Kontalk carries OpenPGP messages.
pub const NS_E2E: &str = "urn:ietf:params:xml:ns:xmpp-e2e";
/// The element that holds the base64 OpenPGP message.
pub const E2E: &str = "e2e";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a stanza could not be sealed or opened. `Display` is one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The stanza on the wire is not an acceptable `<message/>`.
    Xml(DecodeError),
    /// A group element, body or hardened element travels in clear: refused, its sender
    /// cannot be authenticated.
    Cleartext,
    /// No `<e2e/>` element.
    NotEncrypted,
    /// More than one `<e2e/>` element.
    MultipleEnvelopes,
    /// The `<e2e/>` content is not base64 (or holds a child element).
    Base64(String),
    /// Sealing or opening the OpenPGP message failed (tampered, not for me, unknown
    /// signer, unknown recipient, ...).
    Envelope(EnvelopeError),
    /// The decrypted inside is not an acceptable `<xmpp/>` payload.
    Payload(DecodeError),
    /// The decrypted inside has no `<group/>` element.
    NotGroup,
    /// The signer's certificate is bound to something that is not a bare JID.
    Signer(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Xml(e) => write!(f, "stanza: {e}"),
            WireError::Cleartext => {
                f.write_str("group content in clear: only the address list may be unencrypted")
            }
            WireError::NotEncrypted => {
                f.write_str("no <e2e/> element: the stanza is not encrypted")
            }
            WireError::MultipleEnvelopes => f.write_str("more than one <e2e/> element"),
            WireError::Base64(d) => write!(f, "<e2e/> content: {d}"),
            WireError::Envelope(e) => write!(f, "envelope: {e}"),
            WireError::Payload(e) => write!(f, "encrypted payload: {e}"),
            WireError::NotGroup => f.write_str("the encrypted payload has no <group/> element"),
            WireError::Signer(d) => write!(f, "signer: {d}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<EnvelopeError> for WireError {
    fn from(e: EnvelopeError) -> Self {
        WireError::Envelope(e)
    }
}

/// The `<message/>` XML that carries `out` from `sender` (a bare or full JID): the
/// XEP-0033 addresses of `out.to` in clear, everything else signed with my key and
/// encrypted once to the keys the keyring holds for `out.to`.
pub fn seal_outgoing(
    out: &Outgoing<Jid>,
    sender: &Jid,
    keyring: &Keyring,
) -> Result<String, WireError> {
    let mut message = Message::from_outgoing(out, sender);
    let inside = Message {
        group: message.group.take(),
        body: message.body.take(),
        hardened: message.hardened.take(),
        ..Message::default()
    };
    let recipients: Vec<&str> = out.to.iter().map(Jid::as_str).collect();
    let keys = keyring.recipients(&recipients)?;
    let sealed = envelope::seal(keyring, &keys, inside.encode_payload().as_bytes())?;
    message
        .unknown
        .push(RawElement::leaf(NS_E2E, E2E, &B64.encode(sealed)));
    Ok(message.encode())
}

/// A delivered stanza, opened: what `Client::receive` takes, and what was around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The verified signer's bare JID: the sender to give the core.
    pub sender: Jid,
    /// The verified signer (certificate fingerprint and JID).
    pub signer: Signer,
    /// The stanza's `from`, as the server set it: not authenticated, for logs only.
    pub claimed_from: Option<Jid>,
    /// The decrypted group stanza.
    pub stanza: Arc<Stanza<Jid>>,
}

/// The OpenPGP message a stanza carries (what anyone on the path can see of it).
pub fn envelope_of(xml: &[u8]) -> Result<Vec<u8>, WireError> {
    envelope_in(&Message::decode(xml).map_err(WireError::Xml)?)
}

fn envelope_in(message: &Message) -> Result<Vec<u8>, WireError> {
    if message.group.is_some() || message.body.is_some() || message.hardened.is_some() {
        return Err(WireError::Cleartext);
    }
    let mut e2e = message
        .unknown
        .iter()
        .filter(|u| u.ns() == Some(NS_E2E) && u.name() == E2E);
    let element = e2e.next().ok_or(WireError::NotEncrypted)?;
    if e2e.next().is_some() {
        return Err(WireError::MultipleEnvelopes);
    }
    let mut text = element
        .text()
        .map_err(|e| WireError::Base64(e.to_string()))?;
    // Line breaks and indentation are allowed around and inside the base64.
    text.retain(|c| !c.is_ascii_whitespace());
    B64.decode(text.as_bytes())
        .map_err(|e| WireError::Base64(e.to_string()))
}

/// Opens a delivered `<message/>` with my keyring: decrypts the `<e2e/>` envelope, checks
/// its integrity and the sender's signature, decodes the inside. Every failure is typed.
pub fn open_stanza(xml: &[u8], keyring: &Keyring) -> Result<Received, WireError> {
    let message = Message::decode(xml).map_err(WireError::Xml)?;
    let sealed = envelope_in(&message)?;
    let opened = envelope::open(keyring, &sealed)?;
    let sender = Jid::new_bare(&opened.signer.jid)
        .map_err(|e: JidError| WireError::Signer(format!("{}: {e}", opened.signer.jid)))?;
    let inside = Message::decode_payload(&opened.plaintext).map_err(WireError::Payload)?;
    let (_, stanza) = inside.to_core().map_err(|_| WireError::NotGroup)?;
    Ok(Received {
        sender,
        signer: opened.signer,
        claimed_from: message.from,
        stanza: Arc::new(stanza),
    })
}
