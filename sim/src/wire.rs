//! `--wire`: every stanza crosses the simulated network as the real XMPP `<message/>`.
//!
//! The sender encodes its stanza with the XEP-0033 address list; the server decodes it,
//! reads the list, strips it (as the seed's server does) and re-encodes one copy for the
//! recipients; every recipient decodes its copy and maps the JIDs back to the simulator's
//! small client numbers. Client `n` is `c{n}@sim.kgroup`.

use std::sync::Arc;

use kgroup::codec::{Address, Addresses, Jid, Message};
use kgroup::envelope::{Keyring, Suite};
use kgroup::{Outgoing, Stanza};
use kgroup_testkit::{keys, multicast};

use crate::judge::Id;

pub const DOMAIN: &str = "sim.kgroup";

pub fn jid(id: Id) -> Jid {
    // Always valid: an ASCII node of letters and digits at a fixed domain.
    match Jid::new_bare(&format!("c{id}@{DOMAIN}")) {
        Ok(j) => j,
        Err(_) => unreachable!("c<number>@{DOMAIN} is a valid bare JID"),
    }
}

/// Why a stanza from the wire could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Decode(String),
    NotGroup,
    /// A JID that is no client of this run.
    Stranger(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Decode(e) => write!(f, "malformed stanza: {e}"),
            WireError::NotGroup => f.write_str("not a group stanza"),
            WireError::Stranger(j) => write!(f, "{j} is not a client of this run"),
        }
    }
}

pub fn id_of(j: &Jid) -> Result<Id, WireError> {
    let stranger = || WireError::Stranger(j.as_str().to_string());
    if j.domain() != DOMAIN || j.resource().is_some() {
        return Err(stranger());
    }
    let node = j.node().ok_or_else(stranger)?;
    let digits = node.strip_prefix('c').ok_or_else(stranger)?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return Err(stranger());
    }
    digits.parse().map_err(|_| stranger())
}

/// The sender's side: the `<message/>` with its address list, as XML.
pub fn encode_upload(out: &Outgoing<Id>, sender: Id) -> String {
    Message::from_outgoing(&to_jids(out), &jid(sender)).encode()
}

/// The server's side: the test kit's multicast service (the one the wire round-trip tests
/// use) serves what a client uploaded; returns the recipients and the copy to fan out
/// (the same stanza without its address list).
pub fn server_fanout(xml: &str) -> Result<(Vec<Id>, String), WireError> {
    let served = multicast::serve(xml.as_bytes()).map_err(|e| WireError::Decode(e.to_string()))?;
    let recipients = served
        .recipients
        .iter()
        .map(id_of)
        .collect::<Result<_, _>>()?;
    Ok((recipients, served.copy))
}

/// An adversary's side: a copy as it arrived, addressed again to `to` for the server.
pub fn readdress(xml: &str, to: &[Id]) -> Result<String, WireError> {
    let mut m = Message::decode(xml.as_bytes()).map_err(|e| WireError::Decode(e.to_string()))?;
    m.addresses = Some(Addresses(to.iter().map(|r| Address::to(jid(*r))).collect()));
    Ok(m.encode())
}

/// `--encrypt`: one key per client (Cv25519), and a keyring per client holding its key
/// and every other client's certificate.
pub fn keyrings(clients: u32) -> Result<Vec<Keyring>, String> {
    let jids: Vec<Jid> = (0..clients).map(jid).collect();
    let names: Vec<&str> = jids.iter().map(Jid::as_str).collect();
    keys::keyrings(&names, Suite::Cv25519).map_err(|e| format!("keys for the clients: {e}"))
}

/// `--encrypt`, the sender's side: the `<message/>` with its address list in clear and the
/// group stanza sealed (signed by `ring`'s key, one PKESK per recipient) inside `<e2e/>`.
pub fn seal_upload(out: &Outgoing<Id>, from_attr: Id, ring: &Keyring) -> Result<String, String> {
    kgroup::wire::seal_outgoing(&to_jids(out), &jid(from_attr), ring).map_err(|e| e.to_string())
}

/// `--encrypt` for an `android` client: the stanza as the Android client sends it (CPIM
/// around `<xmpp><message>`, the fallback body on commands, AES-192 and ZIP, the outer
/// stanza to `multicast@`), written by [`kgroup::wire::seal_android`]. The multicast
/// service and every receiver read it as they read the seed's shape.
pub fn seal_upload_android(
    out: &Outgoing<Id>,
    from_attr: Id,
    ring: &Keyring,
    id: &str,
    unix_secs: u64,
) -> Result<String, String> {
    kgroup::wire::seal_android(&to_jids(out), &jid(from_attr), ring, id, unix_secs)
        .map_err(|e| e.to_string())
}

/// `--encrypt`, a recipient's side: the verified signer and the stanza.
pub fn open_copy(xml: &str, ring: &Keyring) -> Result<(Id, Stanza<Id>), WireError> {
    let r = kgroup::wire::open_stanza(xml.as_bytes(), ring)
        .map_err(|e| WireError::Decode(e.to_string()))?;
    let signer = id_of(&r.sender)?;
    Ok((signer, r.stanza.try_map(&mut |j: &Jid| id_of(j))?))
}

fn to_jids(out: &Outgoing<Id>) -> Outgoing<Jid> {
    let stanza = match out.stanza.try_map(&mut |i| Ok::<Jid, ()>(jid(*i))) {
        Ok(s) => s,
        Err(()) => unreachable!("mapping to JIDs cannot fail"),
    };
    Outgoing {
        to: out.to.iter().map(|r| jid(*r)).collect(),
        stanza: Arc::new(stanza),
        resent: out.resent,
    }
}

/// A recipient's side: the core stanza inside a copy.
pub fn decode_copy(xml: &str) -> Result<Stanza<Id>, WireError> {
    let m = Message::decode(xml.as_bytes()).map_err(|e| WireError::Decode(e.to_string()))?;
    let (_, stanza) = m.to_core().map_err(|_| WireError::NotGroup)?;
    stanza.try_map(&mut |j: &Jid| id_of(j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgroup::{Command, Ext, GroupKey, Roster, Span, Text};

    #[test]
    fn ids_round_trip_and_strangers_are_refused() {
        for id in [0, 7, 123_456] {
            assert_eq!(id_of(&jid(id)), Ok(id));
        }
        for bad in [
            "c07@sim.kgroup",
            "x1@sim.kgroup",
            "c1@other",
            "c@sim.kgroup",
        ] {
            let j = Jid::new_bare(bad).unwrap();
            assert!(matches!(id_of(&j), Err(WireError::Stranger(_))), "{bad}");
        }
    }

    #[test]
    fn a_snapshot_survives_upload_fanout_and_decode() {
        let mut roster = Roster::default();
        roster.spans.insert(
            0,
            vec![Span {
                since: 1,
                until: None,
            }],
        );
        roster.spans.insert(
            5,
            vec![Span {
                since: 1,
                until: Some(2),
            }],
        );
        let stanza = Stanza {
            group: GroupKey::new("g0", 0),
            command: Command::Set {
                subject: Some(Text::from("s")),
                add: vec![],
                remove: vec![5],
                members: vec![],
            },
            body: Some("hi & <bye>".into()),
            ext: Some(Ext::Snapshot {
                epoch: 2,
                seq: 3,
                prev: kgroup::Digest::ZERO,
                subject: Some("s".into()),
                roster,
            }),
        };
        let out = Outgoing {
            to: vec![3, 5],
            stanza: Arc::new(stanza.clone()),
            resent: false,
        };
        let xml = encode_upload(&out, 0);
        assert!(xml.contains("c3@sim.kgroup"));
        let (to, copy) = server_fanout(&xml).unwrap();
        assert_eq!(to, vec![3, 5]);
        assert!(!copy.contains("addresses"), "{copy}");
        assert_eq!(decode_copy(&copy).unwrap(), stanza);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            server_fanout("<message"),
            Err(WireError::Decode(_))
        ));
        assert!(matches!(
            decode_copy("<message xmlns='jabber:client'/>"),
            Err(WireError::NotGroup)
        ));
    }
}
