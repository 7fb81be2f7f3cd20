//! The whole path of a group stanza, in both dialects: the owner's core composes, the
//! sender seals it into the real `<message/>` XML ([`kgroup::wire::seal_outgoing`]: the
//! XEP-0033 addresses in clear, everything else in one signed OpenPGP message with a PKESK
//! per recipient), the test kit's multicast service (`kgroup_testkit::multicast`) reads the addresses, strips them and fans
//! the stanza out, and each receiver parses the XML, opens the envelope, verifies the
//! signer and feeds its core with the **verified signer** as sender
//! ([`kgroup::wire::open_stanza`]). Every stanza on the wire is checked to carry no group
//! content in clear.

use std::sync::Arc;

use base64::Engine as _;
use kgroup::codec::{Jid, Message};
use kgroup::envelope::{recipients_of, EnvelopeError};
use kgroup::wire::{envelope_of, open_stanza, seal_outgoing, WireError, NS_E2E, NS_HINTS};
use kgroup::{
    Change, Command, Dialect, Ext, Intent, Outgoing, Output, Reason, Roster, Span, Stanza, Status,
};
use kgroup_testkit::wire_net::{Node, WireNet};

const DOMAIN: &str = "beta.kontalk.net";
const GROUP_ID: &str = "journey-5e1f";
const SUBJECT: &str = "Our great journey";
const SUBJECT2: &str = "Our journey continues";

fn sorted(mut v: Vec<Jid>) -> Vec<Jid> {
    v.sort();
    v
}

/// The encryption subkey's key id of node `i`, as a v3 PKESK names it.
fn pkesk_id(net: &WireNet, i: usize) -> sequoia_openpgp::KeyHandle {
    let keys = net.nodes[0]
        .ring
        .recipients(&[net.nodes[i].bare.as_str()])
        .expect("key");
    assert_eq!(keys.len(), 1);
    keys[0].key().keyid().into()
}

/// What may appear in clear: the stanza's `from`/`to`/`type`, the addresses, `<e2e/>` and
/// the empty XEP-0334 `<store/>` hint.
/// Group ids, owner attributes, bodies, subjects and the group and hardened namespaces
/// may not.
fn assert_nothing_in_clear(net: &WireNet, secrets: &[&str]) {
    assert!(!net.seen.is_empty());
    for (sender, xml) in &net.seen {
        for s in secrets.iter().copied().chain([
            GROUP_ID,
            "owner=",
            "<group",
            "kontalk.org/extensions",
            "urn:kgroup",
        ]) {
            assert!(!xml.contains(s), "`{s}` in clear on the wire:\n{xml}");
        }
        // The owner's JID appears only as the sender or an addressee, never as an owner.
        let m = Message::decode(xml.as_bytes()).expect("decode");
        assert!(m.group.is_none() && m.body.is_none() && m.hardened.is_none());
        let unknown: Vec<_> = m.unknown.iter().map(|u| (u.ns(), u.name())).collect();
        assert_eq!(
            unknown,
            vec![(Some(NS_E2E), "e2e"), (Some(NS_HINTS), "store")],
            "only <e2e/> and the <store/> hint besides the addresses"
        );
        assert_eq!(m.unknown[1].text().as_deref(), Ok(""), "an empty hint");
        assert_eq!(m.from.as_ref(), Some(&net.nodes[*sender].full));
    }
}

fn bodies(node: &Node) -> Vec<(String, String)> {
    node.delivered
        .iter()
        .map(|(f, b)| (f.to_string(), b.to_string()))
        .collect()
}

/// The scenario both dialects run: create, add, a member's message, subject, remove, and
/// a message after the removal. Returns the network and the XML of the last message.
fn scenario(dialect: Dialect) -> (WireNet, String) {
    let mut net = WireNet::new(
        &["david", "alice", "bob", "charlie"],
        DOMAIN,
        GROUP_ID,
        dialect,
    );
    let (owner, alice, bob, charlie) = (0, 1, 2, 3);
    let (a, b, c) = (net.bare(alice), net.bare(bob), net.bare(charlie));
    let key = net.key();

    net.act(
        owner,
        Intent::Create {
            id: GROUP_ID.into(),
            members: vec![a.clone(), b.clone()],
            subject: Some(SUBJECT.into()),
            body: Some("Hey folks!".into()),
        },
    );
    net.run();
    let everyone = sorted(vec![net.bare(owner), a.clone(), b.clone()]);
    for i in [owner, alice, bob] {
        assert_eq!(
            sorted(net.view_members(i)),
            everyone,
            "{dialect:?} node {i}"
        );
    }
    assert!(net.nodes[charlie].client.view(&key).is_none());

    net.act(
        owner,
        Intent::Set {
            id: GROUP_ID.into(),
            change: Change {
                add: vec![c.clone()],
                ..Change::default()
            },
            body: Some("Welcome Charlie!".into()),
        },
    );
    net.run();
    let with_charlie = sorted(vec![net.bare(owner), a.clone(), b.clone(), c.clone()]);
    for i in [owner, alice, bob, charlie] {
        assert_eq!(sorted(net.view_members(i)), with_charlie, "{dialect:?} {i}");
    }

    net.act(
        alice,
        Intent::Message {
            group: key.clone(),
            body: "What is going on?".into(),
        },
    );
    net.run();

    net.act(
        owner,
        Intent::Set {
            id: GROUP_ID.into(),
            change: Change {
                subject: Some(SUBJECT2.into()),
                ..Change::default()
            },
            body: Some("Keep on rocking!".into()),
        },
    );
    net.run();
    for i in [owner, alice, bob, charlie] {
        let v = net.nodes[i].client.view(&key).expect("view");
        assert_eq!(v.subject.as_deref(), Some(SUBJECT2), "{dialect:?} {i}");
    }

    net.act(
        owner,
        Intent::Set {
            id: GROUP_ID.into(),
            change: Change {
                remove: vec![c.clone()],
                ..Change::default()
            },
            body: Some("Sorry Charlie, you're out.".into()),
        },
    );
    net.run();
    for i in [owner, alice, bob] {
        assert_eq!(sorted(net.view_members(i)), everyone, "{dialect:?} {i}");
        assert_eq!(
            net.nodes[i]
                .client
                .view(&key)
                .expect("view")
                .subject
                .as_deref(),
            Some(SUBJECT2)
        );
    }
    assert_eq!(
        net.nodes[charlie].client.view(&key).expect("view").status,
        Status::Removed,
        "{dialect:?}"
    );

    net.act(
        bob,
        Intent::Message {
            group: key.clone(),
            body: "Just us now.".into(),
        },
    );
    // The last message as bob's client wrote it, before the service saw it.
    let last = net.queue.back().expect("bob's message").1.clone();
    net.run();
    (net, last)
}

#[test]
fn a_group_round_trips_through_sealed_stanza_xml_in_both_dialects() {
    for dialect in [Dialect::Kontalk, Dialect::Hardened] {
        let (net, _) = scenario(dialect);
        let (d, a, b) = (
            net.bare(0).to_string(),
            net.bare(1).to_string(),
            net.bare(2).to_string(),
        );
        let said = |who: &str, what: &str| (who.to_string(), what.to_string());
        // Every body reached exactly who was a member when it was sent, from its signer.
        assert_eq!(
            bodies(&net.nodes[1]),
            vec![
                said(&d, "Hey folks!"),
                said(&d, "Welcome Charlie!"),
                said(&d, "Keep on rocking!"),
                said(&d, "Sorry Charlie, you're out."),
                said(&b, "Just us now."),
            ],
            "{dialect:?}: alice"
        );
        assert_eq!(
            bodies(&net.nodes[2]),
            vec![
                said(&d, "Hey folks!"),
                said(&d, "Welcome Charlie!"),
                said(&a, "What is going on?"),
                said(&d, "Keep on rocking!"),
                said(&d, "Sorry Charlie, you're out."),
            ],
            "{dialect:?}: bob"
        );
        assert_eq!(
            bodies(&net.nodes[3]),
            vec![
                said(&d, "Welcome Charlie!"),
                said(&a, "What is going on?"),
                said(&d, "Keep on rocking!"),
                said(&d, "Sorry Charlie, you're out."),
            ],
            "{dialect:?}: charlie"
        );
        assert_eq!(
            bodies(&net.nodes[0]),
            vec![said(&a, "What is going on?"), said(&b, "Just us now.")],
            "{dialect:?}: david"
        );
        // All current members hold the owner's view; nothing was refused or rejected.
        let owner_view = net.nodes[0].client.view(&net.key()).expect("owner view");
        for i in 1..3 {
            let v = net.nodes[i].client.view(&net.key()).expect("view");
            assert!(v.agrees_with(&owner_view), "{dialect:?} {i}: {v:?}");
        }
        for n in &net.nodes {
            assert!(n.refused.is_empty(), "{dialect:?}: {:?}", n.refused);
            assert!(n.rejected.is_empty(), "{dialect:?}: {:?}", n.rejected);
        }
        assert_nothing_in_clear(
            &net,
            &[
                SUBJECT,
                SUBJECT2,
                "Hey folks",
                "Welcome Charlie",
                "What is going on",
                "Keep on rocking",
                "you're out",
                "Just us now",
            ],
        );
        // The hardened dialect's acknowledgements went over the same sealed wire.
        let stanzas = net.seen.len() / 2;
        match dialect {
            Dialect::Kontalk | Dialect::Android => assert_eq!(stanzas, 6, "one stanza per intent"),
            Dialect::Hardened => assert!(stanzas > 6, "acks travel sealed too"),
        }
    }
}

#[test]
fn a_removed_members_key_is_not_among_the_next_messages_pkesks() {
    for dialect in [Dialect::Kontalk, Dialect::Hardened] {
        let (net, last) = scenario(dialect);
        let named = recipients_of(&envelope_of(last.as_bytes()).expect("e2e")).expect("scan");
        let mut named: Vec<_> = named.into_iter().map(|h| h.expect("named")).collect();
        named.sort_by_key(|h| h.to_string());
        let mut expected = vec![pkesk_id(&net, 0), pkesk_id(&net, 1)];
        expected.sort_by_key(|h| h.to_string());
        assert_eq!(
            named, expected,
            "{dialect:?}: the owner's and alice's keys only"
        );
        assert!(!named.iter().any(|h| h.aliases(pkesk_id(&net, 3))));
        // Nor is charlie addressed, and his key cannot open it.
        let m = Message::decode(last.as_bytes()).expect("decode");
        let to: Vec<_> = m
            .addresses
            .expect("addresses")
            .recipients()
            .cloned()
            .collect();
        assert_eq!(sorted(to), sorted(vec![net.bare(0), net.bare(1)]));
        assert_eq!(
            open_stanza(last.as_bytes(), &net.nodes[3].ring),
            Err(WireError::Envelope(EnvelopeError::NotForMe))
        );
        assert!(net.inbox[3].iter().all(|x| !x.contains("Just us")));
    }
}

/// A set with the owner's name on it, composed and signed by alice; the server forges
/// `from` to be the owner's session.
fn forged_set(net: &WireNet, dialect: Dialect) -> String {
    let (b, c) = (net.bare(2), net.bare(3));
    let ext = match dialect {
        Dialect::Kontalk | Dialect::Android => None,
        // A snapshot far ahead of the owner's epoch, dropping bob.
        Dialect::Hardened => Some(Ext::Snapshot {
            epoch: 99,
            seq: 99,
            prev: kgroup::Digest::ZERO,
            subject: Some("pwned".into()),
            roster: Roster {
                spans: [(
                    net.bare(1),
                    vec![Span {
                        since: 1,
                        until: None,
                    }],
                )]
                .into_iter()
                .collect(),
                ..Roster::default()
            },
        }),
    };
    let stanza = Stanza {
        group: net.key(),
        command: Command::Set {
            subject: Some("pwned".into()),
            add: vec![],
            remove: vec![b.clone()],
            members: vec![],
        },
        body: Some("bob is out".into()),
        ext,
    };
    let out = Outgoing {
        to: vec![b, c],
        stanza: Arc::new(stanza),
        resent: false,
    };
    // Signed with alice's key; `from` is the owner's session.
    seal_outgoing(&out, &net.nodes[0].full, &net.nodes[1].ring).expect("seal")
}

#[test]
fn a_set_signed_by_a_member_with_a_forged_from_is_rejected_as_not_owner() {
    for dialect in [Dialect::Kontalk, Dialect::Hardened] {
        let (mut net, _) = scenario(dialect);
        let xml = forged_set(&net, dialect);
        let bob = 2;
        let before = net.nodes[bob].client.view(&net.key());
        let r = open_stanza(xml.as_bytes(), &net.nodes[bob].ring).expect("opens");
        assert_eq!(r.claimed_from.as_ref(), Some(&net.nodes[0].full));
        assert_eq!(r.sender, net.bare(1), "the verified signer is alice");
        assert_eq!(r.signer.fingerprint, net.nodes[1].ring.me().fingerprint());
        let mut out = Vec::new();
        net.nodes[bob]
            .client
            .receive(r.sender, r.stanza, 1000, &mut out);
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Reject {
                    reason: Reason::NotOwner,
                    ..
                }
            )),
            "{dialect:?}: {out:?}"
        );
        assert!(!out.iter().any(|o| matches!(o, Output::Changed { .. })));
        assert_eq!(
            net.nodes[bob].client.view(&net.key()),
            before,
            "{dialect:?}"
        );
    }
}

#[test]
fn a_replayed_owner_set_is_rejected_by_hardened_and_applied_by_kontalk() {
    for dialect in [Dialect::Kontalk, Dialect::Hardened] {
        let (mut net, _) = scenario(dialect);
        let alice = 1;
        // The "add charlie" alice received (the owner's second stanza to her; members'
        // head acknowledgements come between), replayed by the server after charlie's
        // removal.
        let r = net.inbox[alice]
            .iter()
            .filter_map(|xml| open_stanza(xml.as_bytes(), &net.nodes[alice].ring).ok())
            .filter(|r| r.sender == net.bare(0))
            .nth(1)
            .expect("the owner's second stanza opens");
        assert!(matches!(&r.stanza.command, Command::Set { add, .. } if add == &vec![net.bare(3)]));
        let mut out = Vec::new();
        net.nodes[alice]
            .client
            .receive(r.sender, r.stanza, 1000, &mut out);
        let members = sorted(net.view_members(alice));
        match dialect {
            Dialect::Hardened => {
                assert!(
                    out.iter().any(|o| matches!(
                        o,
                        Output::Reject {
                            reason: Reason::Stale | Reason::Duplicate,
                            ..
                        }
                    )),
                    "{out:?}"
                );
                assert!(!members.contains(&net.bare(3)), "charlie stays out");
            }
            // The seed's protocol has no versions: the replay re-adds charlie.
            Dialect::Kontalk | Dialect::Android => assert!(members.contains(&net.bare(3))),
        }
    }
}

#[test]
fn tampered_ciphertext_on_the_wire_is_a_typed_envelope_error() {
    let (net, last) = scenario(Dialect::Hardened);
    let alice = &net.nodes[1].ring;
    assert!(open_stanza(last.as_bytes(), alice).is_ok());
    let b64 = base64::engine::general_purpose::STANDARD;
    let sealed = envelope_of(last.as_bytes()).expect("e2e");
    let text = b64.encode(&sealed);
    assert!(last.contains(&text));
    // Flip a bit in each of the last 200 bytes: the encrypted payload, its signature and
    // the MDC.
    for i in sealed.len() - 200..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x10;
        let xml = last.replace(&text, &b64.encode(&bad));
        assert_eq!(
            open_stanza(xml.as_bytes(), alice),
            Err(WireError::Envelope(EnvelopeError::Integrity)),
            "byte {i}"
        );
    }
    // Not base64, no envelope, two envelopes, group content in clear: typed errors too.
    let broken = last.replace(&text, "not*base64");
    assert!(matches!(
        open_stanza(broken.as_bytes(), alice),
        Err(WireError::Base64(_))
    ));
    let e2e = format!("<e2e xmlns='{NS_E2E}'>{text}</e2e>");
    assert!(last.contains(&e2e));
    let none = last.replace(&e2e, "");
    assert_eq!(
        open_stanza(none.as_bytes(), alice),
        Err(WireError::NotEncrypted)
    );
    let two = last.replace(&e2e, &format!("{e2e}{e2e}"));
    assert_eq!(
        open_stanza(two.as_bytes(), alice),
        Err(WireError::MultipleEnvelopes)
    );
    let seed = std::fs::read("tests/data/seed/2-message.xml").expect("seed stanza");
    assert_eq!(open_stanza(&seed, alice), Err(WireError::Cleartext));
    assert!(matches!(
        open_stanza(b"<message", alice),
        Err(WireError::Xml(_))
    ));
}
