//! The wire: a core stanza as the XML a client really sends, and the XML a client receives
//! as the core's input.
//!
//! [`seal_outgoing`] turns a core [`Outgoing`] into one `<message/>` for the multicast
//! service; [`open_stanza`] turns a delivered `<message/>` into the **verified signer** and
//! the core [`Stanza`], which are exactly the arguments of `Client::receive`. A driver
//! that picks its own route (a live client: the multicast service found by discovery, or
//! one copy per recipient; a replay of a captured envelope) seals once with [`seal`] and
//! puts the same envelope in each `<message/>` with [`carry`]. Every driver (the
//! simulator's encrypted mode, the live driver, the round-trip tests) goes through this
//! module and nothing else.
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
//!   <store xmlns='urn:xmpp:hints'/>
//! </message>
//! ```
//!
//! The XEP-0334 `<store/>` hint asks the server to keep the (bodiless) message for an
//! offline recipient. Sent to one recipient instead of the multicast service, the
//! `<message/>` has no `<addresses/>` and that recipient as its `to`.
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
//! `Message/CPIM` envelope (RFC 3862 `From`/`To`/`DateTime` headers, its replay defence)
//! and puts a `<message/>` inside the `<xmpp/>` element; kgroup's seed profile does not,
//! because the sender is the OpenPGP signer and replays are the core's business (the
//! `hardened` dialect's epochs and duplicate windows). [`open_stanza`] reads both shapes,
//! and an outer `<body/>` beside the envelope (Kontalk's `(encrypted)` placeholder) is
//! ignored.
//!
//! # What a receiver trusts
//!
//! Only what the signature covers. The `from` of the stanza is the server's word and is
//! returned as [`Received::claimed_from`] for logging only; the sender handed to the core
//! is the JID bound to the signer's certificate in the keyring. A stanza that carries a
//! `<group/>`, `<body/>` or hardened element in clear is refused ([`WireError::Cleartext`]):
//! its sender would be unauthenticated. A `type='error'` message is the server returning
//! one of ours ([`WireError::ServerError`], with its RFC 6120 condition).

use std::sync::Arc;

use base64::Engine as _;

use quick_xml::events::Event;

use crate::codec::cpim::Cpim;
use crate::codec::{
    Address, Addresses, DecodeError, Jid, JidError, Message, MessageType, Profile, RawElement,
};
use crate::core::{Outgoing, Stanza};
use crate::envelope::{self, EnvelopeError, Keyring, Signer};

pub use crate::codec::{E2E, NS_E2E};
/// XEP-0334's namespace: the `<store/>` hint.
pub const NS_HINTS: &str = "urn:xmpp:hints";

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
    /// The server returned a message of ours as an error (`type='error'`), with the
    /// condition it gave (`unspecified` when none).
    ServerError(String),
    /// The multicast service's address cannot be made from the sender's domain.
    Address(String),
    /// A stanza in clear has no `from`: there is nobody to attribute it to.
    Unattributed,
    /// [`read_cleartext`] was given a sealed stanza.
    Sealed,
}

impl WireError {
    /// A short, stable label for reports and counters (`server-error:<condition>` and
    /// `envelope:<kind>` say which).
    pub fn label(&self) -> String {
        match self {
            WireError::Xml(_) => "bad-stanza".into(),
            WireError::Cleartext => "cleartext".into(),
            WireError::NotEncrypted => "not-encrypted".into(),
            WireError::MultipleEnvelopes => "multiple-envelopes".into(),
            WireError::Base64(_) => "bad-base64".into(),
            WireError::Envelope(e) => format!("envelope:{}", e.kind()),
            WireError::Payload(_) => "bad-payload".into(),
            WireError::NotGroup => "not-group".into(),
            WireError::Signer(_) => "bad-signer-jid".into(),
            WireError::ServerError(c) => format!("server-error:{c}"),
            WireError::Address(_) => "bad-address".into(),
            WireError::Unattributed => "unattributed".into(),
            WireError::Sealed => "sealed".into(),
        }
    }
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
            WireError::ServerError(c) => write!(f, "the server returned our stanza: {c}"),
            WireError::Address(d) => write!(f, "multicast address: {d}"),
            WireError::Unattributed => f.write_str("a stanza in clear without `from`"),
            WireError::Sealed => {
                f.write_str("the stanza is sealed: open it, do not read it in clear")
            }
        }
    }
}

impl std::error::Error for WireError {}

impl From<EnvelopeError> for WireError {
    fn from(e: EnvelopeError) -> Self {
        WireError::Envelope(e)
    }
}

/// The `<message/>` XML that carries `out` from `sender` (a bare or full JID) to the
/// multicast service of `sender`'s domain: the XEP-0033 addresses of `out.to` in clear,
/// everything else signed with my key and encrypted once to the keys the keyring holds
/// for `out.to` ([`seal`], then [`carry`]).
pub fn seal_outgoing(
    out: &Outgoing<Jid>,
    sender: &Jid,
    keyring: &Keyring,
) -> Result<String, WireError> {
    let sealed = seal(out, sender, keyring)?;
    Ok(carry(
        &sealed,
        &Carrier {
            to: &sender.domain_jid(),
            from: Some(sender),
            id: None,
            addresses: Some(&out.to),
        },
    ))
}

/// The OpenPGP message for `out`: its group stanza's inside (the `<xmpp/>` payload),
/// signed with my key and encrypted once to the keys the keyring holds for `out.to`.
pub fn seal(out: &Outgoing<Jid>, sender: &Jid, keyring: &Keyring) -> Result<Vec<u8>, WireError> {
    let mut message = Message::from_outgoing(out, sender);
    let inside = Message {
        group: message.group.take(),
        body: message.body.take(),
        hardened: message.hardened.take(),
        ..Message::default()
    };
    let recipients: Vec<&str> = out.to.iter().map(Jid::as_str).collect();
    let keys = keyring.recipients(&recipients)?;
    Ok(envelope::seal(
        keyring,
        &keys,
        inside.encode_payload().as_bytes(),
    )?)
}

/// The Android client's placeholder beside the envelope (androidclient
/// `MessageCenterService.sendMessage`, `R.string.text_encrypted`, in English).
pub const ENCRYPTED_PLACEHOLDER: &str = "(encrypted)";
/// XEP-0085's namespace: the `<active/>` chat state the Android client adds.
pub const NS_CHATSTATES: &str = "http://jabber.org/protocol/chatstates";

/// The `<message/>` XML that carries `out` from `sender`, byte-compatible with Kontalk's
/// Android client ([`Profile::Android`](crate::codec::Profile)):
///
/// - the inside is the client's `<xmpp><message id type='chat'>` with the group element
///   and the body (a command's body is the client's [`FALLBACK`](crate::codec::message::FALLBACK)
///   text), wrapped in Message/CPIM whose `From` and `To` are the user ids of my
///   certificate and of the recipients' and whose `DateTime` is `unix_secs`
///   (client-common-java `CPIMMessage`; androidclient `crypto/PGPCoder.encryptStanza`);
/// - it is sealed as the client seals ([`envelope::seal_kontalk`]: AES-192, ZIP, SHA-256);
/// - the outer stanza goes to `multicast@<domain>` with `id`, the `(encrypted)` body, the
///   base64 envelope, the XEP-0033 addresses and `<active/>`, in that order
///   (`MessageCenterService.sendMessage`, `KontalkGroupController.afterEncryption`).
///
/// `id` is the message id (the client makes 30 random alphanumerics), the same inside and
/// out. Sans-IO: the caller gives the id and the time.
pub fn seal_android(
    out: &Outgoing<Jid>,
    sender: &Jid,
    keyring: &Keyring,
    id: &str,
    unix_secs: u64,
) -> Result<String, WireError> {
    let s = &out.stanza;
    let command = !matches!(s.command, crate::core::Command::Message);
    // The inside carries neither `from`, `to` nor the address list.
    let inside = Message {
        from: None,
        to: None,
        id: Some(id.into()),
        addresses: None,
        fallback: (command && s.body.is_none()).then(|| crate::codec::message::FALLBACK.into()),
        ..Message::from_outgoing(out, sender)
    };
    let recipients: Vec<&str> = out.to.iter().map(Jid::as_str).collect();
    let keys = keyring.recipients(&recipients)?;
    let mut to = Vec::with_capacity(out.to.len());
    for jid in &out.to {
        let peer = keyring
            .by_jid(jid.as_str())
            .ok_or_else(|| EnvelopeError::UnknownRecipient(jid.to_string()))?;
        to.push(peer.uid.as_str().into());
    }
    let cpim = Cpim {
        from: Some(keyring.me().uid.as_str().into()),
        to,
        date_time: Some(crate::codec::cpim::date_time(unix_secs).into()),
        content_type: crate::codec::cpim::XMPP_XML.into(),
        body: inside.encode_payload_with(Profile::Android).into_bytes(),
    };
    let sealed = envelope::seal_kontalk(keyring, &keys, &cpim.write())?;
    let multicast = Jid::new_bare(&format!("multicast@{}", sender.domain()))
        .map_err(|e| WireError::Address(e.to_string()))?;
    let outer = Message {
        to: Some(multicast),
        id: Some(id.into()),
        kind: MessageType::Chat,
        addresses: Some(Addresses(out.to.iter().cloned().map(Address::to).collect())),
        body: Some(ENCRYPTED_PLACEHOLDER.into()),
        unknown: vec![
            RawElement::leaf(NS_E2E, E2E, &B64.encode(sealed)),
            RawElement::empty(NS_CHATSTATES, "active"),
        ],
        ..Message::default()
    };
    Ok(outer.encode_with(Profile::Android))
}

/// How the `<message/>` around a sealed envelope is addressed.
#[derive(Clone, Copy, Debug)]
pub struct Carrier<'a> {
    /// The stanza's `to`: the multicast service, or the one recipient.
    pub to: &'a Jid,
    /// The sender's session as the stanza's `from` (`None`: left to the server).
    pub from: Option<&'a Jid>,
    /// The stanza's `id`.
    pub id: Option<&'a str>,
    /// The XEP-0033 recipients when sent to a multicast service; `None` to one recipient.
    pub addresses: Option<&'a [Jid]>,
}

/// The `<message/>` that carries `sealed` (an OpenPGP message from [`seal`], or a captured
/// one sent again): the addresses in clear, the base64 envelope in `<e2e/>`, the
/// `<store/>` hint.
pub fn carry(sealed: &[u8], c: &Carrier<'_>) -> String {
    let message = Message {
        from: c.from.cloned(),
        to: Some(c.to.clone()),
        id: c.id.map(Into::into),
        kind: MessageType::Chat,
        addresses: c
            .addresses
            .map(|a| Addresses(a.iter().cloned().map(Address::to).collect())),
        unknown: vec![
            RawElement::leaf(NS_E2E, E2E, &B64.encode(sealed)),
            RawElement::leaf(NS_HINTS, "store", ""),
        ],
        ..Message::default()
    };
    message.encode()
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
    /// The OpenPGP message as it arrived (what a replay sends again).
    pub sealed: Vec<u8>,
    /// The Message/CPIM headers around the inside, when the sender wrapped it so (Kontalk's
    /// clients do): signed, like everything inside, but not checked here.
    pub cpim: Option<Cpim>,
}

/// The OpenPGP message a stanza carries (what anyone on the path can see of it).
pub fn envelope_of(xml: &[u8]) -> Result<Vec<u8>, WireError> {
    envelope_in(&Message::decode(xml).map_err(WireError::Xml)?)
}

fn envelope_in(message: &Message) -> Result<Vec<u8>, WireError> {
    if message.kind == MessageType::Error {
        return Err(WireError::ServerError(error_condition(message)));
    }
    if message.group.is_some() || message.hardened.is_some() {
        return Err(WireError::Cleartext);
    }
    let mut e2e = message.unknown.iter().filter(|u| u.is_e2e());
    let Some(element) = e2e.next() else {
        return Err(match message.body {
            Some(_) => WireError::Cleartext,
            None => WireError::NotEncrypted,
        });
    };
    // Beside an envelope, a body is the placeholder Kontalk's clients put there for the
    // server's offline storage and for clients that cannot decrypt (androidclient
    // `MessageCenterService.sendMessage`: `(encrypted)`, translated): never read.
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
    // The plaintext is a stanza's inside: no longer than the codec takes.
    let limits = envelope::Limits {
        max_plaintext: crate::codec::Limits::default().max_bytes,
        ..envelope::Limits::default()
    };
    let opened = envelope::open_with(keyring, &sealed, &limits, std::time::SystemTime::now())?;
    let sender = Jid::new_bare(&opened.signer.jid)
        .map_err(|e: JidError| WireError::Signer(format!("{}: {e}", opened.signer.jid)))?;
    let (cpim, inside) =
        Message::decode_payload_with_headers(&opened.plaintext).map_err(WireError::Payload)?;
    let (_, stanza) = inside.to_core().map_err(|_| WireError::NotGroup)?;
    Ok(Received {
        sender,
        signer: opened.signer,
        claimed_from: message.from,
        stanza: Arc::new(stanza),
        sealed,
        cpim,
    })
}

/// A group stanza that came in clear, read only because the user allowed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clear {
    /// The bare `from` the server set: the only, unauthenticated, word on the sender.
    pub claimed_from: Jid,
    pub stanza: Arc<Stanza<Jid>>,
}

/// Reads a group stanza sent in clear. Kontalk's Android client sends one when its user
/// has turned encryption off, and its group chat states always go in clear
/// (androidclient `MessageCenterService.sendMessage`, `sendChatState`). Nothing
/// authenticates such a stanza: its sender is the server's `from`, which a `hardened`
/// client never acts on. Call it only for a user who explicitly allowed cleartext (the
/// live driver's `--allow-cleartext`); [`open_stanza`] refuses cleartext
/// ([`WireError::Cleartext`]), and this refuses a sealed stanza ([`WireError::Sealed`]).
pub fn read_cleartext(xml: &[u8]) -> Result<Clear, WireError> {
    let message = Message::decode(xml).map_err(WireError::Xml)?;
    if message.kind == MessageType::Error {
        return Err(WireError::ServerError(error_condition(&message)));
    }
    if message.unknown.iter().any(RawElement::is_e2e) {
        return Err(WireError::Sealed);
    }
    let claimed_from = message
        .from
        .as_ref()
        .map(Jid::to_bare)
        .ok_or(WireError::Unattributed)?;
    let (_, stanza) = message.to_core().map_err(|_| WireError::NotGroup)?;
    Ok(Clear {
        claimed_from,
        stanza: Arc::new(stanza),
    })
}

/// RFC 6120 §8.3.3's defined stanza error conditions: the only names a condition label
/// takes, so that what the server writes cannot make labels without number.
const CONDITIONS: [&str; 22] = [
    "bad-request",
    "conflict",
    "feature-not-implemented",
    "forbidden",
    "gone",
    "internal-server-error",
    "item-not-found",
    "jid-malformed",
    "not-acceptable",
    "not-allowed",
    "not-authorized",
    "policy-violation",
    "recipient-unavailable",
    "redirect",
    "registration-required",
    "remote-server-not-found",
    "remote-server-timeout",
    "resource-constraint",
    "service-unavailable",
    "subscription-required",
    "undefined-condition",
    "unexpected-request",
];

/// The defined condition of an error message (RFC 6120 §8.3: a child of `<error/>`
/// named by [`CONDITIONS`]); `unspecified` when it has none.
fn error_condition(message: &Message) -> String {
    let condition = message
        .unknown
        .iter()
        .find(|u| u.name() == "error")
        .and_then(|error| {
            let mut reader = quick_xml::Reader::from_str(error.xml());
            let mut depth = 0u32;
            loop {
                let (tag, empty) = match reader.read_event() {
                    Ok(Event::Start(t)) => (t, false),
                    Ok(Event::Empty(t)) => (t, true),
                    Ok(Event::End(_)) => {
                        depth = depth.saturating_sub(1);
                        continue;
                    }
                    Ok(Event::Eof) | Err(_) => return None,
                    Ok(_) => continue,
                };
                if depth == 1 {
                    let name = tag.local_name().into_inner();
                    if let Some(c) = CONDITIONS.iter().find(|c| **c == name) {
                        return Some(*c);
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
        });
    condition.unwrap_or("unspecified").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(xml: &str) -> Result<Received, WireError> {
        let ring =
            Keyring::generate("alice@example.org", envelope::Suite::Cv25519).expect("a fresh key");
        open_stanza(xml.as_bytes(), &ring)
    }

    #[test]
    fn a_returned_stanza_is_a_server_error_with_its_defined_condition() {
        let error = |inside: &str| {
            format!(
                "<message type='error' from='multicast.example.org'><error type='cancel'>\
                 {inside}</error></message>"
            )
        };
        let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
        for (inside, condition) in [
            (
                format!("<not-acceptable xmlns='{stanzas}'/>"),
                "not-acceptable",
            ),
            (
                format!("<text xmlns='{stanzas}'>no</text><forbidden xmlns='{stanzas}'/>"),
                "forbidden",
            ),
            // A name RFC 6120 does not define, however long, makes no label of its own.
            (
                format!("<{} xmlns='{stanzas}'/>", "x".repeat(5000)),
                "unspecified",
            ),
            (String::new(), "unspecified"),
        ] {
            assert_eq!(
                opened(&error(&inside)).map(|r| r.stanza),
                Err(WireError::ServerError(condition.into())),
                "{inside}"
            );
        }
        assert_eq!(
            opened("<message type='error'/>").map(|r| r.stanza),
            Err(WireError::ServerError("unspecified".into()))
        );
        assert_eq!(
            WireError::ServerError("forbidden".into()).label(),
            "server-error:forbidden"
        );
    }

    #[test]
    fn cleartext_is_read_only_on_request_and_only_with_a_sender() {
        let clear = "<message from='alice@kontalk.net/phone' type='chat'>\
            <group xmlns='http://kontalk.org/extensions/message#group' id='g' \
            owner='alice@kontalk.net' type='part'/></message>";
        assert_eq!(opened(clear).map(|r| r.stanza), Err(WireError::Cleartext));
        let c = read_cleartext(clear.as_bytes()).expect("read");
        assert_eq!(c.claimed_from.as_str(), "alice@kontalk.net");
        assert_eq!(c.stanza.command, crate::core::Command::Part);
        let anonymous = clear.replace(" from='alice@kontalk.net/phone'", "");
        assert_eq!(
            read_cleartext(anonymous.as_bytes()),
            Err(WireError::Unattributed)
        );
        let sealed = format!("<message from='a@b'><e2e xmlns='{NS_E2E}'>AAAA</e2e></message>");
        assert_eq!(read_cleartext(sealed.as_bytes()), Err(WireError::Sealed));
    }

    #[test]
    fn junk_and_cleartext_are_typed() {
        assert_eq!(
            opened("<message><body>plain</body></message>").map(|r| r.stanza),
            Err(WireError::Cleartext)
        );
        assert_eq!(
            opened("<message/>").map(|r| r.stanza),
            Err(WireError::NotEncrypted)
        );
        // Kontalk's placeholder beside an envelope is not content: the envelope is read
        // (and here found not to be for this keyring).
        assert!(matches!(
            opened(&format!(
                "<message><body>(encrypted)</body><e2e xmlns='{NS_E2E}'>AAAA</e2e></message>"
            )),
            Err(WireError::Envelope(_))
        ));
        assert!(matches!(
            opened(&format!(
                "<message><e2e xmlns='{NS_E2E}'>!!notbase64</e2e></message>"
            )),
            Err(WireError::Base64(_))
        ));
        assert!(matches!(opened("<iq/>"), Err(WireError::Xml(_))));
    }
}
