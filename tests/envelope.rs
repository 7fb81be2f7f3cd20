//! The OpenPGP envelope: sealing once to many, opening by one, and what the core is handed.
//!
//! The payload in these tests is a group stanza serialised with serde_json (the envelope
//! treats it as opaque bytes); what counts is that the sender the core receives is the
//! verified signer, never the claimed `from`.

use std::sync::Arc;

use kgroup::envelope::{
    self, open, open_stock, recipients_of, seal_to, EnvelopeError, Keyring, Suite,
};
use kgroup::{Client, Command, Config, Dialect, GroupKey, Intent, Output, Reason, Stanza};

const OWNER: &str = "david@beta.kontalk.net";
const ALICE: &str = "alice@beta.kontalk.net";
const BOB: &str = "bob@beta.kontalk.net";
const CHARLIE: &str = "charlie@beta.kontalk.net";

/// Keyrings for `jids`, each holding every other one's certificate.
fn keyrings(jids: &[&str], suite: Suite) -> Vec<Keyring> {
    let mut rings: Vec<Keyring> = jids
        .iter()
        .map(|j| Keyring::generate(j, suite).expect("generate"))
        .collect();
    let certs: Vec<_> = rings.iter().map(|r| r.me().cert.clone()).collect();
    for ring in &mut rings {
        for cert in &certs {
            if cert.fingerprint() != ring.me().fingerprint() {
                ring.add(cert.clone()).expect("add");
            }
        }
    }
    rings
}

/// (PKESK version, SEIPD version) of a sealed message, read with sequoia's parser.
fn layout(bytes: &[u8]) -> (u8, u8) {
    use sequoia_openpgp::parse::{PacketParserResult, Parse};
    use sequoia_openpgp::Packet;
    let mut ppr = sequoia_openpgp::parse::PacketParser::from_bytes(bytes).unwrap();
    let (mut pkesk, mut seip) = (0, 0);
    while let PacketParserResult::Some(pp) = ppr {
        match &pp.packet {
            Packet::PKESK(p) => pkesk = p.version(),
            Packet::SEIP(s) => seip = s.version(),
            _ => {}
        }
        ppr = pp.next().unwrap().1;
    }
    (pkesk, seip)
}

#[test]
fn round_trip_to_three_recipients_in_every_suite() {
    for suite in Suite::all() {
        let rings = keyrings(&[OWNER, ALICE, BOB, CHARLIE], suite);
        let sealed = seal_to(&rings[0], &[ALICE, BOB, CHARLIE], b"<group/>").expect("seal");
        assert_eq!(recipients_of(&sealed).expect("scan").len(), 3, "{suite:?}");
        for ring in &rings[1..] {
            let opened = open(ring, &sealed).expect("open");
            assert_eq!(opened.plaintext, b"<group/>");
            assert_eq!(opened.signer.jid, OWNER, "{suite:?}");
            assert_eq!(opened.signer.fingerprint, rings[0].me().fingerprint());
            // The stock decryptor agrees with the fast path.
            assert_eq!(
                open_stock(ring, &sealed).expect("stock"),
                opened,
                "{suite:?}"
            );
        }
        // v4 keys get what GnuPG 2.2 reads (v3 PKESKs, SEIPD v1); v6 keys get SEIPD v2.
        let expected = if matches!(suite, Suite::Cv25519 | Suite::Kontalk) {
            (3, 1)
        } else {
            (6, 2)
        };
        assert_eq!(layout(&sealed), expected, "{suite:?}");
        // sequoia's own encryptor path opens the same (for v4 keys `seal` wraps the
        // session keys itself; the two paths must be interchangeable).
        let keys = rings[0].recipients(&[ALICE, BOB, CHARLIE]).expect("keys");
        let via_sequoia = envelope::seal_sequoia(&rings[0], &keys, b"<group/>").expect("seal");
        assert_eq!(layout(&via_sequoia), expected, "{suite:?}");
        for ring in &rings[1..] {
            let a = open(ring, &via_sequoia).expect("open");
            assert_eq!(
                (a.plaintext.as_slice(), a.signer.jid.as_str()),
                (&b"<group/>"[..], OWNER)
            );
        }
        // Sealed as Kontalk's clients seal (AES-192, ZIP): opened the same both ways.
        let kontalk = envelope::seal_kontalk(&rings[0], &keys, b"<group/>").expect("seal");
        assert_eq!(layout(&kontalk), expected, "{suite:?}");
        for ring in &rings[1..] {
            let a = open(ring, &kontalk).expect("open");
            assert_eq!(a.plaintext, b"<group/>", "{suite:?}");
            assert_eq!(open_stock(ring, &kontalk).expect("stock"), a, "{suite:?}");
        }
        // The sender was not a recipient.
        assert_eq!(open(&rings[0], &sealed), Err(EnvelopeError::NotForMe));
    }
}

#[test]
fn keys_export_and_import_armored_bound_to_the_jid() {
    let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("generate");
    let public = envelope::export_cert(alice.my_secret_cert()).expect("export");
    assert!(public.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let secret = envelope::export_secret(alice.my_secret_cert()).expect("export");
    assert!(secret.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));

    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("generate");
    let peer = bob.import(public.as_bytes()).expect("import");
    assert_eq!(peer.jid, ALICE);
    assert!(!peer.cert.is_tsk(), "a peer's certificate keeps no secrets");
    let fpr = alice.me().fingerprint();
    assert_eq!(
        bob.by_jid(ALICE).map(|p| p.fingerprint()),
        Some(fpr.clone())
    );
    assert_eq!(
        bob.by_fingerprint(&fpr).map(|p| p.jid.as_str()),
        Some(ALICE)
    );
    for key in alice.me().cert.keys() {
        let by_id = bob.by_key_handle(&key.key().keyid().into());
        assert_eq!(by_id.map(|p| p.jid.as_str()), Some(ALICE));
    }

    // The restored secret key opens what was sealed to the original.
    let restored =
        Keyring::new(envelope::import_cert(secret.as_bytes()).expect("tsk")).expect("keyring");
    bob.add(restored.me().cert.clone()).expect("add");
    let sealed = seal_to(&bob, &[ALICE], b"hi").expect("seal");
    let mut restored = restored;
    restored.add(bob.me().cert.clone()).expect("add bob");
    assert_eq!(open(&restored, &sealed).expect("open").signer.jid, BOB);

    // A certificate without an xmpp: identity is refused.
    assert!(matches!(bob.import(b"garbage"), Err(EnvelopeError::Key(_))));
}

fn stanza_bytes(s: &Stanza<String>) -> Vec<u8> {
    serde_json::to_vec(s).expect("json")
}

fn stanza_of(bytes: &[u8]) -> Arc<Stanza<String>> {
    Arc::new(serde_json::from_slice(bytes).expect("json"))
}

/// The owner's client creates a group with alice and bob and seals the create; returns
/// the clients of alice and bob with the group applied, and the sealed create.
fn created_group(rings: &[Keyring], dialect: Dialect) -> (Vec<Client<String>>, Vec<u8>) {
    let mut owner = Client::new(OWNER.to_string(), Config::new(dialect));
    let mut out = Vec::new();
    owner
        .act(
            Intent::Create {
                id: "g1".into(),
                members: vec![ALICE.to_string(), BOB.to_string()],
                subject: Some("trip".into()),
                body: None,
            },
            0,
            &mut out,
        )
        .expect("create");
    let Some(Output::Send(send)) = out.into_iter().find(|o| matches!(o, Output::Send(_))) else {
        panic!("no stanza sent");
    };
    let sealed = seal_to(&rings[0], &send.to, &stanza_bytes(&send.stanza)).expect("seal");
    let mut clients = Vec::new();
    for (jid, ring) in [(ALICE, &rings[1]), (BOB, &rings[2])] {
        let mut c = Client::new(jid.to_string(), Config::new(dialect));
        let opened = open(ring, &sealed).expect("open");
        let mut out = Vec::new();
        c.receive(opened.signer.jid, stanza_of(&opened.plaintext), 0, &mut out);
        assert!(c.view(&send.stanza.group).is_some(), "{jid}: {out:?}");
        clients.push(c);
    }
    (clients, sealed)
}

#[test]
fn a_forged_owner_command_opens_with_its_real_signer_and_the_core_rejects_it() {
    let rings = keyrings(&[OWNER, ALICE, BOB], Suite::Cv25519);
    for dialect in [Dialect::Kontalk, Dialect::Hardened] {
        let (mut clients, _) = created_group(&rings, dialect);
        // alice, a member, forges "remove bob" with the owner's name on it.
        let forged = Stanza {
            group: GroupKey::new("g1", OWNER.to_string()),
            command: Command::Set {
                subject: None,
                add: vec![],
                remove: vec![BOB.to_string()],
                members: vec![],
            },
            body: None,
            ext: None,
        };
        let sealed = seal_to(&rings[1], &[BOB], &stanza_bytes(&forged)).expect("seal");
        let opened = open(&rings[2], &sealed).expect("open");
        // What counts is the signer, whatever `from` the server put on the stanza.
        assert_eq!(opened.signer.jid, ALICE);
        assert_eq!(opened.signer.fingerprint, rings[1].me().fingerprint());
        let bob = &mut clients[1];
        let group = GroupKey::new("g1", OWNER.to_string());
        let before = bob.view(&group);
        let mut out = Vec::new();
        bob.receive(opened.signer.jid, stanza_of(&opened.plaintext), 1, &mut out);
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
        assert_eq!(bob.view(&group), before);
    }
}

#[test]
fn a_replayed_stanza_opens_to_the_same_signer_and_bytes_and_the_core_drops_it() {
    let rings = keyrings(&[OWNER, ALICE, BOB], Suite::Cv25519);
    let (mut clients, sealed_create) = created_group(&rings, Dialect::Hardened);
    let first = open(&rings[1], &sealed_create).expect("open");
    let again = open(&rings[1], &sealed_create).expect("open replay");
    assert_eq!(
        first, again,
        "the envelope cannot tell a replay: same signer, same bytes"
    );
    let alice = &mut clients[0];
    let mut out = Vec::new();
    alice.receive(again.signer.jid, stanza_of(&again.plaintext), 5, &mut out);
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Reject {
                reason: Reason::Stale | Reason::Duplicate,
                ..
            }
        )),
        "the hardened core drops the replay: {out:?}"
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Changed { .. })));
}

#[test]
fn tampered_ciphertext_is_rejected_with_a_typed_error() {
    for suite in [Suite::Cv25519, Suite::Cv25519V6] {
        let rings = keyrings(&[OWNER, ALICE], suite);
        let sealed = seal_to(&rings[0], &[ALICE], &[7u8; 300]).expect("seal");
        // Flip one bit at every position of the encrypted data past the encryption
        // packet's own header fields (version, algorithms, salt: the first 40 bytes).
        // The message is one PKESK (new-format header, one-byte length) and the SEIPD.
        assert_eq!(sealed[0], 0xc1, "a PKESK with a new-format header");
        let seipd = 2 + sealed[1] as usize;
        for i in seipd + 40..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let r = open(&rings[1], &bad);
            assert_eq!(r, Err(EnvelopeError::Integrity), "{suite:?} byte {i}");
            assert!(open_stock(&rings[1], &bad).is_err(), "{suite:?} byte {i}");
        }
        // Truncated: the integrity check never completes.
        let r = open(&rings[1], &sealed[..sealed.len() - 10]);
        assert!(
            matches!(
                r,
                Err(EnvelopeError::Integrity | EnvelopeError::Malformed(_))
            ),
            "{suite:?}: {r:?}"
        );
    }
}

/// Payload sizes that put the literal packet and the encryption container of a sealed
/// message on both sides of each new-format length form (one octet up to 191, two up to
/// 8383, five beyond), and 64 KiB. The container is about 250 octets longer than the
/// payload (prefix, one-pass signature, literal header, signature, MDC).
fn length_form_sizes() -> Vec<usize> {
    // Small ones around the 64-octet steps of the encryption pass, too.
    let mut sizes = vec![
        0, 1, 18, 19, 20, 63, 64, 65, 100, 127, 128, 129, 65535, 65536,
    ];
    sizes.extend(180..=190); // literal body 186..=196
    sizes.extend(8110..=8150); // container around 8383/8384
    sizes.extend(8372..=8382); // literal body 8378..=8388
    sizes
}

#[test]
fn the_direct_writer_round_trips_at_every_length_form() {
    // v4 keys: `seal` writes the SEIPD v1 packet itself (see `seal.rs`).
    let rings = keyrings(&[OWNER, ALICE, BOB, CHARLIE], Suite::Cv25519);
    for size in length_form_sizes() {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let sealed = seal_to(&rings[0], &[ALICE, BOB, CHARLIE], &payload).expect("seal");
        assert_eq!(layout(&sealed), (3, 1), "size {size}");
        assert_eq!(recipients_of(&sealed).expect("scan").len(), 3);
        for ring in &rings[1..] {
            let opened = open(ring, &sealed).unwrap_or_else(|e| panic!("size {size}: {e}"));
            assert_eq!(opened.plaintext, payload, "size {size}");
            assert_eq!(opened.signer.jid, OWNER);
            assert_eq!(
                open_stock(ring, &sealed).unwrap_or_else(|e| panic!("size {size}: {e}")),
                opened
            );
            assert_eq!(envelope::open_unfiltered(ring, &sealed), Ok(opened));
        }
    }
}

#[test]
fn the_direct_writer_frames_the_container_with_one_definite_length() {
    let rings = keyrings(&[OWNER, ALICE], Suite::Cv25519);
    let keys: Vec<_> = rings[0].recipients(&[ALICE]).expect("alice");
    // After the PKESK (one-octet length) comes tag 18 with a five-octet length that
    // runs to the end of the message.
    let sealed = envelope::seal(&rings[0], &keys, &[9u8; 65536]).expect("seal");
    let seipd = 2 + sealed[1] as usize;
    assert_eq!(&sealed[seipd..seipd + 2], &[0xd2, 0xff]);
    let len = u32::from_be_bytes(sealed[seipd + 2..seipd + 6].try_into().unwrap()) as usize;
    assert_eq!(seipd + 6 + len, sealed.len());
}

#[test]
fn tampering_anywhere_in_a_64_kib_seipd_is_an_integrity_failure() {
    let rings = keyrings(&[OWNER, ALICE], Suite::Cv25519);
    let payload: Vec<u8> = (0..65536).map(|i| (i % 251) as u8).collect();
    let sealed = seal_to(&rings[0], &[ALICE], &payload).expect("seal");
    assert_eq!(open(&rings[1], &sealed).expect("open").plaintext, payload);
    // PKESK, then the SEIPD's header (tag, five-octet length) and version octet.
    let body = 2 + sealed[1] as usize + 6 + 1;
    let end = sealed.len();
    // Every octet of the prefix, the packets' headers, the start and end of the literal
    // data, the signature and the MDC; a stride through the middle.
    let positions = (body..body + 600)
        .chain((body + 600..end - 600).step_by(97))
        .chain(end - 600..end);
    for i in positions {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            open(&rings[1], &bad),
            Err(EnvelopeError::Integrity),
            "byte {i}"
        );
        assert!(open_stock(&rings[1], &bad).is_err(), "byte {i}");
    }
}

#[test]
fn the_signature_is_made_over_sha256_on_both_sealing_paths() {
    use sequoia_openpgp::parse::{PacketParserResult, Parse};
    use sequoia_openpgp::types::HashAlgorithm;
    use sequoia_openpgp::Packet;
    let rings = keyrings(&[OWNER, ALICE], Suite::Cv25519);
    let alice_keys = rings[1].me().encryption.clone();
    let keys: Vec<_> = rings[0].recipients(&[ALICE]).expect("alice");
    for sealed in [
        envelope::seal(&rings[0], &keys, &[9u8; 65536]).expect("seal"),
        envelope::seal_sequoia(&rings[0], &keys, &[9u8; 65536]).expect("seal"),
    ] {
        // Decrypt with sequoia's bare parser and look at the packets inside.
        let mut ppr = sequoia_openpgp::parse::PacketParser::from_bytes(&sealed).unwrap();
        let mut session = None;
        let mut inside = Vec::new();
        while let PacketParserResult::Some(mut pp) = ppr {
            match &pp.packet {
                Packet::PKESK(p) => {
                    let kp = rings[1].my_secret_cert().keys().secret().find(|k| {
                        alice_keys
                            .iter()
                            .any(|a| a.fingerprint() == k.key().fingerprint())
                    });
                    let mut kp = kp.unwrap().key().clone().into_keypair().unwrap();
                    session = p.decrypt(&mut kp, None);
                }
                Packet::SEIP(_) => {
                    let (algo, key) = session.as_ref().expect("my PKESK");
                    pp.decrypt(*algo, key).expect("decrypt");
                }
                Packet::OnePassSig(ops) => inside.push(("ops", ops.hash_algo())),
                Packet::Signature(sig) => inside.push(("sig", sig.hash_algo())),
                _ => {}
            }
            ppr = pp.recurse().unwrap().1;
        }
        assert_eq!(
            inside,
            [
                ("ops", HashAlgorithm::SHA256),
                ("sig", HashAlgorithm::SHA256)
            ]
        );
    }
}

#[test]
fn signer_errors_are_typed() {
    let rings = keyrings(&[OWNER, ALICE], Suite::Cv25519);
    // alice does not know mallory.
    let mut mallory = Keyring::generate("mallory@beta.kontalk.net", Suite::Cv25519).unwrap();
    mallory.add(rings[1].me().cert.clone()).unwrap();
    let sealed = seal_to(&mallory, &[ALICE], b"x").expect("seal");
    let r = open(&rings[1], &sealed);
    assert!(
        matches!(r, Err(EnvelopeError::UnknownSigner { .. })),
        "{r:?}"
    );
    assert!(matches!(
        open_stock(&rings[1], &sealed),
        Err(EnvelopeError::UnknownSigner { .. })
    ));
    // Not an encrypted message at all.
    let public = envelope::export_cert(rings[0].my_secret_cert()).unwrap();
    let r = open(&rings[1], public.as_bytes());
    assert!(r.is_err(), "{r:?}");
    // Unknown recipient when sealing.
    assert_eq!(
        seal_to(&rings[0], &["nobody@x"], b"x"),
        Err(EnvelopeError::UnknownRecipient("nobody@x".into()))
    );
    assert_eq!(
        envelope::seal(&rings[0], &[], b"x"),
        Err(EnvelopeError::NoRecipients)
    );
    // Every error has a one-line Display.
    for e in [
        EnvelopeError::Integrity,
        EnvelopeError::NotForMe,
        EnvelopeError::Unsigned,
        EnvelopeError::Malformed("x".into()),
    ] {
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn a_removed_members_key_is_not_among_the_next_messages_pkesks() {
    let rings = keyrings(&[OWNER, ALICE, BOB, CHARLIE], Suite::Cv25519);
    let owner = &rings[0];
    let mut owner_client = Client::new(OWNER.to_string(), Config::new(Dialect::Hardened));
    let mut out = Vec::new();
    owner_client
        .act(
            Intent::Create {
                id: "g1".into(),
                members: vec![ALICE.into(), BOB.into(), CHARLIE.into()],
                subject: None,
                body: None,
            },
            0,
            &mut out,
        )
        .unwrap();
    let create = out
        .iter()
        .find_map(|o| match o {
            Output::Send(s) => Some(s.clone()),
            _ => None,
        })
        .expect("create sent");
    let sealed_create = seal_to(owner, &create.to, &stanza_bytes(&create.stanza)).unwrap();
    out.clear();
    owner_client
        .act(
            Intent::Set {
                id: "g1".into(),
                change: kgroup::Change {
                    remove: vec![CHARLIE.into()],
                    ..Default::default()
                },
                body: None,
            },
            1,
            &mut out,
        )
        .unwrap();
    out.clear();
    let group = GroupKey::new("g1", OWNER.to_string());
    owner_client
        .act(
            Intent::Message {
                group,
                body: "after the removal".into(),
            },
            2,
            &mut out,
        )
        .unwrap();
    let send = out
        .iter()
        .find_map(|o| match o {
            Output::Send(s) => Some(s.clone()),
            _ => None,
        })
        .expect("message sent");
    let sealed = seal_to(owner, &send.to, &stanza_bytes(&send.stanza)).expect("seal");
    let named = recipients_of(&sealed).expect("scan");
    let charlie_keys: Vec<_> = rings[3]
        .me()
        .encryption
        .iter()
        .map(|k| k.fingerprint())
        .collect();
    let names_charlie = |named: &[Option<sequoia_openpgp::KeyHandle>]| {
        named.iter().flatten().any(|h| {
            charlie_keys
                .iter()
                .any(|fp| h.aliases(sequoia_openpgp::KeyHandle::from(fp)))
        })
    };
    // Before the removal charlie was a recipient; after it, not.
    assert!(names_charlie(&recipients_of(&sealed_create).unwrap()));
    assert_eq!(named.len(), 2, "alice and bob only: {named:?}");
    assert!(!names_charlie(&named));
    assert_eq!(open(&rings[3], &sealed), Err(EnvelopeError::NotForMe));
    assert!(open(&rings[1], &sealed).is_ok());
    assert!(open(&rings[2], &sealed).is_ok());
}
