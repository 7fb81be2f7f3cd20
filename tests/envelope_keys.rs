//! Keys are judged now as well as when they signed (issue 18, part 2).
//!
//! A signature is only as good as the key that made it: the certificate and the signing
//! key must have been valid, alive and unrevoked when the signature was made, and must
//! still be now (a key revoked as superseded or retired after the fact is withdrawn for
//! what it signed before too: the signature time is the signer's word). A replaced
//! certificate is retired with its index entries, only validly bound keys are indexed,
//! a certificate whose keys collide with another one's is refused, a low-order X25519
//! key never enters the keyring nor gets a session key wrapped for it, and only binary
//! document signatures are accepted. Every refusal is a typed error.
//!
//! The hostile messages and certificates are made with sequoia's own API.

use std::io::Write;
use std::time::{Duration, SystemTime};

use kgroup::envelope::ecdh::Recipient as DirectRecipient;
use kgroup::envelope::{self, open, EnvelopeError, Keyring, Limits, Opened, Suite};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::mpi::{self, MPI};
use openpgp::crypto::KeyPair;
use openpgp::packet::key::{Key4, Key6, PublicParts, SubordinateRole, UnspecifiedRole};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::{Key, UserID};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::types::{
    Curve, HashAlgorithm, KeyFlags, PublicKeyAlgorithm, ReasonForRevocation, SignatureType,
    SymmetricAlgorithm,
};
use openpgp::{Cert, Packet};

const ALICE: &str = "alice@beta.kontalk.net";
const BOB: &str = "bob@beta.kontalk.net";
const MALLORY: &str = "mallory@beta.kontalk.net";
const EVE: &str = "eve@beta.kontalk.net";

static P: StandardPolicy<'static> = StandardPolicy::new();

/// Opens at a chosen `now`.
fn open_at(ring: &Keyring, bytes: &[u8], now: SystemTime) -> Result<Opened, EnvelopeError> {
    envelope::open_with(ring, bytes, &Limits::default(), now)
}

/// The direct path's wrap of a padded session key block.
fn wrap(r: &DirectRecipient) -> Result<([u8; 32], [u8; 48]), EnvelopeError> {
    r.wrap(&[5u8; 40])
}

/// The secret signing subkey of `cert` valid at `t`, as a signer.
fn signer_at(cert: &Cert, t: SystemTime) -> KeyPair {
    cert.keys()
        .secret()
        .with_policy(&P, t)
        .for_signing()
        .next()
        .expect("a signing key")
        .key()
        .clone()
        .into_keypair()
        .expect("unencrypted")
}

/// The primary key of a certificate with secrets, as a signer.
fn primary_signer(cert: &Cert) -> KeyPair {
    cert.primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .expect("secret primary")
        .into_keypair()
        .expect("unencrypted")
}

/// A message to `to` signed by `signer` at `at` with a signature of type `typ`.
fn message(signer: KeyPair, to: &Keyring, at: SystemTime, typ: SignatureType) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let recipients: Vec<Recipient> = to
            .me()
            .cert
            .keys()
            .with_policy(&P, None)
            .supported()
            .for_transport_encryption()
            .map(Into::into)
            .collect();
        let message = Message::new(&mut out);
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .expect("encryptor");
        let message = Signer::with_template(message, signer, SignatureBuilder::new(typ))
            .expect("signer")
            .creation_time(at)
            .build()
            .expect("signer");
        let mut literal = LiteralWriter::new(message).build().expect("literal");
        literal.write_all(b"<hello/>").expect("write");
        literal.finalize().expect("finalize");
    }
    out
}

fn bad_signature(r: &Result<Opened, EnvelopeError>) -> bool {
    matches!(r, Err(EnvelopeError::BadSignature { .. }))
}

/// The (only) subkey of `cert` with these capabilities, validly bound now.
fn subkey(cert: &Cert, signing: bool) -> Key<PublicParts, SubordinateRole> {
    let vc = cert.with_policy(&P, None).expect("valid");
    let ka = if signing {
        vc.keys().subkeys().for_signing().next()
    } else {
        vc.keys().subkeys().for_transport_encryption().next()
    };
    ka.expect("subkey").key().clone().parts_into_public()
}

/// (a) Signed 30 s ago by alice's signing subkey, which is then revoked as superseded or
/// retired (and, once, the whole certificate retired): refused now, as if the signature
/// were made after the revocation. Judged at a `now` before the revocation was made, the
/// same message opens.
#[test]
fn a_signature_made_before_a_soft_revocation_is_refused_after_it() {
    for (reason, whole_cert) in [
        (ReasonForRevocation::KeySuperseded, false),
        (ReasonForRevocation::KeyRetired, false),
        (ReasonForRevocation::KeyRetired, true),
    ] {
        let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
        let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
        bob.add(alice.me().cert.clone()).expect("add");
        let secret = alice.my_secret_cert().clone();
        let signed_at = SystemTime::now() - Duration::from_secs(30);
        let sealed = message(
            signer_at(&secret, signed_at),
            &bob,
            signed_at,
            SignatureType::Binary,
        );
        assert_eq!(
            open(&bob, &sealed).expect("not yet revoked").signer.jid,
            ALICE
        );

        let mut primary = primary_signer(&secret);
        let revocation = if whole_cert {
            CertRevocationBuilder::new()
                .set_reason_for_revocation(reason, b"retired")
                .expect("reason")
                .build(&mut primary, &secret, None)
                .expect("revocation")
        } else {
            SubkeyRevocationBuilder::new()
                .set_reason_for_revocation(reason, b"superseded")
                .expect("reason")
                .build(&mut primary, &secret, &subkey(&secret, true), None)
                .expect("revocation")
        };
        let revoked_at = revocation.signature_creation_time().expect("time");
        let revoked = secret
            .insert_packets(revocation)
            .expect("insert")
            .0
            .strip_secret_key_material();
        bob.add(revoked)
            .expect("the revoked certificate replaces the old one");

        let what = format!("{reason:?}, whole certificate {whole_cert}");
        let r = open(&bob, &sealed);
        assert!(bad_signature(&r), "{what}: {r:?}");
        let r = open_at(&bob, &sealed, SystemTime::now() + Duration::from_secs(60));
        assert!(bad_signature(&r), "{what}: {r:?}");
        // Before the revocation was made, the signature was good.
        let before = revoked_at - Duration::from_secs(10);
        assert_eq!(
            open_at(&bob, &sealed, before)
                .expect("judged before the revocation")
                .signer
                .jid,
            ALICE,
            "{what}"
        );
    }
}

/// (b) A key with an expiry: a signature made while it was alive is refused once it has
/// expired (the certificate's expiry judged by `open` at the real time; a signing subkey's
/// expiry judged at a chosen `now` past it).
#[test]
fn a_signature_by_a_key_that_has_since_expired_is_refused() {
    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    let hour = Duration::from_secs(3600);

    // A certificate made two hours ago, valid for one, that signed 90 minutes ago.
    let created = SystemTime::now() - 2 * hour;
    let (expired, _) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(created)
        .set_validity_period(hour)
        .add_userid(format!("xmpp:{ALICE}"))
        .add_signing_subkey()
        .add_transport_encryption_subkey()
        .generate()
        .expect("certificate");
    bob.add(expired.clone()).expect("add");
    let signed_at = created + hour / 2;
    let sealed = message(
        signer_at(&expired, signed_at),
        &bob,
        signed_at,
        SignatureType::Binary,
    );
    let r = open(&bob, &sealed);
    assert!(bad_signature(&r), "expired certificate: {r:?}");
    assert_eq!(
        open_at(&bob, &sealed, signed_at + Duration::from_secs(1))
            .expect("alive then")
            .signer
            .jid,
        ALICE
    );

    // A signing subkey valid for a day, judged two days on.
    let created = SystemTime::now() - Duration::from_secs(60);
    let (carol, _) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(created)
        .add_userid("xmpp:carol@beta.kontalk.net")
        .add_subkey(KeyFlags::empty().set_signing(), 24 * hour, None)
        .add_transport_encryption_subkey()
        .generate()
        .expect("certificate");
    bob.add(carol.clone()).expect("add");
    let now = SystemTime::now();
    let sealed = message(signer_at(&carol, now), &bob, now, SignatureType::Binary);
    assert_eq!(
        open(&bob, &sealed).expect("alive").signer.jid,
        "carol@beta.kontalk.net"
    );
    let r = open_at(&bob, &sealed, now + 48 * hour);
    assert!(bad_signature(&r), "expired signing subkey: {r:?}");
}

/// (c) A new certificate for alice's JID retires the old one: what the old key signs is
/// no longer alice's, what the new one signs is.
#[test]
fn a_replaced_certificate_no_longer_verifies() {
    let old = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let new = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    bob.add(old.me().cert.clone()).expect("add");
    bob.add(new.me().cert.clone()).expect("replace");

    let now = SystemTime::now();
    let by_old = message(
        signer_at(old.my_secret_cert(), now),
        &bob,
        now,
        SignatureType::Binary,
    );
    let r = open(&bob, &by_old);
    assert!(
        matches!(
            r,
            Err(EnvelopeError::UnknownSigner { .. } | EnvelopeError::BadSignature { .. })
        ),
        "signed by the replaced key: {r:?}"
    );
    let by_new = message(
        signer_at(new.my_secret_cert(), now),
        &bob,
        now,
        SignatureType::Binary,
    );
    let opened = open(&bob, &by_new).expect("the new key");
    assert_eq!(opened.signer.jid, ALICE);
    assert_eq!(opened.signer.fingerprint, new.me().fingerprint());

    assert!(bob.by_fingerprint(&old.me().fingerprint()).is_none());
    assert_eq!(bob.peers().count(), 1);
    for ka in old.me().cert.keys() {
        assert!(bob.by_key_handle(&ka.key().key_handle()).is_none());
        assert!(bob.by_key_handle(&ka.key().keyid().into()).is_none());
    }
}

/// mallory's certificate with one of alice's subkeys bound to it by mallory's primary
/// key (no backsig from alice's subkey: mallory cannot make one).
fn poisoned(mallory: &Keyring, alice: &Keyring, signing: bool) -> Cert {
    let secret = mallory.my_secret_cert();
    let stolen = subkey(&alice.me().cert, signing);
    let flags = if signing {
        KeyFlags::empty().set_signing()
    } else {
        KeyFlags::empty()
            .set_transport_encryption()
            .set_storage_encryption()
    };
    let binding = SignatureBuilder::new(SignatureType::SubkeyBinding)
        .set_key_flags(flags)
        .expect("flags")
        .sign_subkey_binding(
            &mut primary_signer(secret),
            Some(secret.primary_key().key().parts_as_public()),
            &stolen,
        )
        .expect("binding");
    secret
        .clone()
        .strip_secret_key_material()
        .insert_packets([Packet::from(stolen), binding.into()])
        .expect("insert")
        .0
}

/// (d) A certificate carrying someone else's subkey: a signing subkey without its backsig
/// is not indexed (alice's messages still verify as alice's); an encryption subkey validly
/// bound by mallory collides with alice's and the certificate is refused, the keyring
/// unchanged.
#[test]
fn a_certificate_carrying_anothers_subkey_takes_nothing_from_them() {
    let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let mallory = Keyring::generate(MALLORY, Suite::Cv25519).expect("keys");
    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    bob.add(alice.me().cert.clone()).expect("add");
    let now = SystemTime::now();
    let by_alice = message(
        signer_at(alice.my_secret_cert(), now),
        &bob,
        now,
        SignatureType::Binary,
    );

    // The signing subkey, bound without backsig: mallory's certificate is added, but the
    // stolen key is not his.
    let with_signing = poisoned(&mallory, &alice, true);
    assert_eq!(
        with_signing.keys().subkeys().count(),
        mallory.me().cert.keys().subkeys().count() + 1
    );
    let mut bob2 = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    bob2.add(alice.me().cert.clone()).expect("add");
    let by_alice2 = message(
        signer_at(alice.my_secret_cert(), now),
        &bob2,
        now,
        SignatureType::Binary,
    );
    bob2.add(with_signing).expect("mallory's certificate");
    let opened = open(&bob2, &by_alice2).expect("alice's message");
    assert_eq!(opened.signer.jid, ALICE);
    assert_eq!(opened.signer.fingerprint, alice.me().fingerprint());
    let stolen = subkey(&alice.me().cert, true);
    assert_eq!(
        bob2.by_key_handle(&stolen.keyid().into())
            .map(|p| p.jid.as_str()),
        Some(ALICE)
    );

    // The encryption subkey, validly bound by mallory: a collision, refused.
    let with_encryption = poisoned(&mallory, &alice, false);
    let r = bob.add(with_encryption).map(|p| p.jid.clone());
    assert!(matches!(r, Err(EnvelopeError::Key(_))), "{r:?}");
    assert!(bob.by_jid(MALLORY).is_none());
    assert!(bob.by_fingerprint(&mallory.me().fingerprint()).is_none());
    assert_eq!(bob.peers().count(), 1);
    for ka in alice.me().cert.keys() {
        for handle in [ka.key().key_handle(), ka.key().keyid().into()] {
            assert_eq!(
                bob.by_key_handle(&handle).map(|p| p.jid.as_str()),
                Some(ALICE),
                "{handle}"
            );
        }
    }
    for ka in mallory.me().cert.keys() {
        assert!(bob.by_key_handle(&ka.key().key_handle()).is_none());
    }
    assert_eq!(open(&bob, &by_alice).expect("alice's").signer.jid, ALICE);
    let to_alice = envelope::seal_to(&bob, &[ALICE], b"x").expect("seal to alice");
    assert!(!to_alice.is_empty());
}

/// (g) A user id without a binding signature names nobody: mallory's certificate with an
/// unbound `xmpp:alice` user id is mallory's, and alice keeps her JID.
#[test]
fn an_unbound_user_id_binds_no_jid() {
    let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let mallory = Keyring::generate(MALLORY, Suite::Cv25519).expect("keys");
    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    bob.add(alice.me().cert.clone()).expect("add");
    let forged = mallory
        .me()
        .cert
        .clone()
        .insert_packets([Packet::from(UserID::from(format!("xmpp:{ALICE}")))])
        .expect("insert")
        .0;
    assert_eq!(
        envelope::jid_of(&forged).as_deref(),
        Some(MALLORY),
        "{:?}",
        forged
            .userids()
            .map(|u| u.userid().to_string())
            .collect::<Vec<_>>()
    );
    let peer = bob.add(forged).expect("mallory's certificate");
    assert_eq!(peer.jid, MALLORY);
    assert_eq!(
        bob.by_jid(ALICE).map(|p| p.fingerprint()),
        Some(alice.me().fingerprint())
    );
}

/// Curve25519 points of small order (u-coordinates, little-endian): 0, 1, the two points
/// of order 8, p - 1, and p (which reduces to 0).
fn low_order_points() -> Vec<[u8; 32]> {
    let hex = |s: &str| -> [u8; 32] {
        let v: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect();
        v.try_into().expect("32 bytes")
    };
    let mut one = [0u8; 32];
    one[0] = 1;
    vec![
        [0u8; 32],
        one,
        hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        hex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ]
}

/// eve's certificate (`suite`) with one more encryption subkey, `key`, validly bound.
fn with_encryption_subkey(eve: &Keyring, key: Key<PublicParts, SubordinateRole>) -> Cert {
    let secret = eve.my_secret_cert();
    let binding = SignatureBuilder::new(SignatureType::SubkeyBinding)
        .set_key_flags(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
        )
        .expect("flags")
        .sign_subkey_binding(
            &mut primary_signer(secret),
            Some(secret.primary_key().key().parts_as_public()),
            &key,
        )
        .expect("binding");
    secret
        .clone()
        .strip_secret_key_material()
        .insert_packets([Packet::from(key), binding.into()])
        .expect("insert")
        .0
}

/// (e) A low-order X25519 encryption key (v4 ECDH/Cv25519 and v6 X25519) makes the
/// certificate refused when added, and the direct path refuses to wrap for it.
#[test]
fn a_low_order_x25519_key_is_refused() {
    let created = SystemTime::now() - Duration::from_secs(30);
    for u in low_order_points() {
        for suite in [Suite::Cv25519, Suite::Cv25519V6] {
            let eve = Keyring::generate(EVE, suite).expect("keys");
            let key: Key<PublicParts, SubordinateRole> = if suite == Suite::Cv25519 {
                let mut q = vec![0x40];
                q.extend_from_slice(&u);
                Key4::new(
                    created,
                    PublicKeyAlgorithm::ECDH,
                    mpi::PublicKey::ECDH {
                        curve: Curve::Cv25519,
                        q: MPI::new(&q),
                        hash: HashAlgorithm::SHA256,
                        sym: SymmetricAlgorithm::AES128,
                    },
                )
                .expect("key")
                .into()
            } else {
                Key6::new(
                    created,
                    PublicKeyAlgorithm::X25519,
                    mpi::PublicKey::X25519 { u },
                )
                .expect("key")
                .into()
            };
            let what = format!("{suite:?}, u = {u:02x?}");
            let unspecified: Key<PublicParts, UnspecifiedRole> =
                key.clone().role_into_unspecified();
            let direct = DirectRecipient::for_key(&unspecified).expect("an X25519 key");
            let r = wrap(&direct);
            assert!(r.is_err(), "{what}: wrapped {r:?}");

            let cert = with_encryption_subkey(&eve, key);
            assert_eq!(
                cert.with_policy(&P, None)
                    .expect("valid")
                    .keys()
                    .for_transport_encryption()
                    .count(),
                2,
                "{what}: the low-order key is validly bound"
            );
            let mut bob = Keyring::generate(BOB, suite).expect("keys");
            let r = bob.add(cert).map(|p| p.jid.clone());
            assert!(matches!(r, Err(EnvelopeError::Key(_))), "{what}: {r:?}");
            assert!(bob.by_jid(EVE).is_none(), "{what}");
            assert_eq!(bob.peers().count(), 0, "{what}");
        }
    }
    // An honest key wraps.
    let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let key = alice.me().encryption[0].key();
    let direct = DirectRecipient::for_key(key).expect("X25519");
    assert!(wrap(&direct).is_ok());
}

/// (f) A text signature (type 0x01) is refused: kgroup makes binary ones only.
#[test]
fn a_text_signature_is_refused() {
    let alice = Keyring::generate(ALICE, Suite::Cv25519).expect("keys");
    let mut bob = Keyring::generate(BOB, Suite::Cv25519).expect("keys");
    bob.add(alice.me().cert.clone()).expect("add");
    let now = SystemTime::now();
    let signer = || signer_at(alice.my_secret_cert(), now);
    let text = message(signer(), &bob, now, SignatureType::Text);
    let r = open(&bob, &text);
    assert!(bad_signature(&r), "text signature: {r:?}");
    let binary = message(signer(), &bob, now, SignatureType::Binary);
    assert_eq!(open(&bob, &binary).expect("binary").signer.jid, ALICE);
}
