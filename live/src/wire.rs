//! What a group stanza looks like on the XMPP wire, as the seed describes it: the
//! XEP-0033 `<addresses/>` in clear (the multicast service must read it), and everything
//! else (the `<group/>` element, the body, our hardened element) inside one OpenPGP message
//! signed by the sender and encrypted to every recipient.
//!
//! ```xml
//! <message type='chat' to='multicast.example.org' id='…'>
//!   <addresses xmlns='http://jabber.org/protocol/address'>
//!     <address type='to' jid='alice@example.org'/> …
//!   </addresses>
//!   <e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>BASE64 OpenPGP message</e2e>
//!   <store xmlns='urn:xmpp:hints'/>
//! </message>
//! ```
//!
//! The `<e2e/>` element is the one Kontalk's clients use for their OpenPGP payloads; the
//! XEP-0334 `<store/>` hint asks the server to keep the (bodiless) message for an offline
//! recipient. The plaintext is a `<message/>` with only the group's children, encoded and
//! decoded by the project's codec. Per-recipient sending (no multicast service) sends the
//! same envelope to each recipient, without `<addresses/>`.

use base64::Engine;
use kgroup::codec::{Address, Addresses, Jid, Message, MessageType, RawElement};
use kgroup::{Outgoing, Stanza};

use crate::error::LiveError;
use crate::xml::Element;

pub const NS_E2E: &str = "urn:ietf:params:xml:ns:xmpp-e2e";
pub const NS_HINTS: &str = "urn:xmpp:hints";

/// Escapes text content.
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes an attribute value (single- or double-quoted).
pub fn escape_attr(s: &str) -> String {
    escape_text(s)
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// The plaintext that is sealed: a `<message/>` with the group stanza's children only.
pub fn inner(out: &Outgoing<Jid>, sender: &Jid) -> String {
    let mut m = Message::from_outgoing(out, sender);
    m.from = None;
    m.to = None;
    m.id = None;
    m.kind = MessageType::Normal;
    m.addresses = None;
    m.encode()
}

/// The group stanza inside an opened envelope.
pub fn stanza_of(plaintext: &[u8]) -> Result<Stanza<Jid>, WireReject> {
    let m = Message::decode(plaintext).map_err(|e| WireReject::Payload(e.to_string()))?;
    let (_, stanza) = m
        .to_core()
        .map_err(|e| WireReject::Payload(e.to_string()))?;
    Ok(stanza)
}

/// The message that carries a sealed envelope: to the multicast service with the address
/// list (`addresses: Some`), or to one recipient (`None`).
pub fn outer(
    to: &Jid,
    addresses: Option<&[Jid]>,
    envelope: &[u8],
    id: &str,
) -> Result<String, LiveError> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(envelope);
    let e2e = RawElement::parse(&format!("<e2e xmlns='{NS_E2E}'>{b64}</e2e>"))?;
    let store = RawElement::parse(&format!("<store xmlns='{NS_HINTS}'/>"))?;
    let m = Message {
        to: Some(to.clone()),
        id: Some(id.into()),
        kind: MessageType::Chat,
        addresses: addresses.map(|a| Addresses(a.iter().cloned().map(Address::to).collect())),
        unknown: vec![e2e, store],
        ..Message::default()
    };
    Ok(m.encode())
}

/// Why a received message is not a group stanza this client can act on. Each is counted
/// as a rejection by the driver, beside the core's typed reasons.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireReject {
    /// The server returned one of our messages as an error (`type='error'`).
    ServerError(String),
    /// The stanza did not decode.
    Stanza(String),
    /// A message without an `<e2e/>` envelope (or with bad base64).
    NoEnvelope,
    /// The envelope did not open: tampered, not for me, unsigned, unknown signer...
    Envelope(String),
    /// The envelope opened, but its plaintext is not a group stanza.
    Payload(String),
}

impl WireReject {
    /// A short, stable label for reports.
    pub fn label(&self) -> String {
        match self {
            WireReject::ServerError(c) => format!("server-error:{c}"),
            WireReject::Stanza(_) => "bad-stanza".into(),
            WireReject::NoEnvelope => "no-envelope".into(),
            WireReject::Envelope(kind) => format!("envelope:{kind}"),
            WireReject::Payload(_) => "bad-payload".into(),
        }
    }
}

/// A received message's envelope bytes, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// What the server claims as sender (never trusted; reports only).
    pub from: Option<Jid>,
    pub envelope: Vec<u8>,
}

/// Reads a `<message/>` from the server down to its envelope bytes.
pub fn unwrap(bytes: &[u8]) -> Result<Received, WireReject> {
    let m = Message::decode(bytes).map_err(|e| WireReject::Stanza(e.to_string()))?;
    if m.kind == MessageType::Error {
        let cond = m
            .unknown
            .iter()
            .find(|u| u.name() == "error")
            .and_then(|u| Element::parse(u.xml().as_bytes()).ok())
            .and_then(|e| e.children.first().map(|c| c.name.clone()))
            .unwrap_or_else(|| "unspecified".into());
        return Err(WireReject::ServerError(cond));
    }
    let raw = m
        .unknown
        .iter()
        .find(|u| u.ns() == Some(NS_E2E) && u.name() == "e2e")
        .ok_or(WireReject::NoEnvelope)?;
    let el = Element::parse(raw.xml().as_bytes()).map_err(|_| WireReject::NoEnvelope)?;
    let text: String = el.text.chars().filter(|c| !c.is_whitespace()).collect();
    let envelope = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| WireReject::NoEnvelope)?;
    Ok(Received {
        from: m.from,
        envelope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgroup::{Command, GroupKey};
    use std::sync::Arc;

    fn jid(s: &str) -> Jid {
        Jid::new(s).expect("valid test JID")
    }

    #[test]
    fn outer_carries_addresses_and_envelope_only() {
        let xml = outer(
            &jid("multicast.example.org"),
            Some(&[jid("alice@example.org"), jid("bob@example.org")]),
            b"\x85\x01secret",
            "m-1",
        )
        .expect("encodes");
        assert!(xml.contains("<address type='to' jid='alice@example.org'/>"));
        assert!(!xml.contains("group"), "{xml}");
        let got = unwrap(xml.as_bytes()).expect("unwraps");
        assert_eq!(got.envelope, b"\x85\x01secret");
    }

    #[test]
    fn inner_round_trips_through_the_codec() {
        let david = jid("david@example.org");
        let out = Outgoing {
            to: vec![jid("alice@example.org")],
            stanza: Arc::new(Stanza {
                group: GroupKey::new("g1", david.clone()),
                command: Command::Message,
                body: Some("hi <there> & 'you'".into()),
                ext: None,
            }),
            resent: false,
        };
        let plain = inner(&out, &david);
        assert!(!plain.contains("addresses"));
        assert_eq!(stanza_of(plain.as_bytes()), Ok((*out.stanza).clone()));
    }

    #[test]
    fn server_errors_and_junk_are_typed() {
        let err = "<message type='error' from='multicast.example.org'><error type='cancel'>\
                   <not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>";
        assert_eq!(
            unwrap(err.as_bytes()),
            Err(WireReject::ServerError("not-acceptable".into()))
        );
        assert_eq!(
            unwrap(b"<message><body>plain</body></message>"),
            Err(WireReject::NoEnvelope)
        );
        assert_eq!(
            unwrap(
                format!("<message><e2e xmlns='{NS_E2E}'>!!notbase64</e2e></message>").as_bytes()
            ),
            Err(WireReject::NoEnvelope)
        );
        assert!(matches!(unwrap(b"<iq/>"), Err(WireReject::Stanza(_))));
        assert!(matches!(
            stanza_of(b"<message/>"),
            Err(WireReject::Payload(_))
        ));
    }
}
