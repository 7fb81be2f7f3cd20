//! Untrusted bytes never panic the envelope: garbage, truncations and bit flips of a real
//! sealed stanza either open to exactly what was sealed or fail with a typed error.

use std::sync::OnceLock;

use kgroup::envelope::{open, open_stock, open_unfiltered, recipients_of, seal_to, Keyring, Suite};
use proptest::prelude::*;

struct Fixture {
    sender: Keyring,
    reader: Keyring,
    sealed: Vec<u8>,
}

/// v4 keys (SEIPD v1: CFB + MDC) and v6 keys (SEIPD v2: AEAD).
fn fixture(v6: bool) -> &'static Fixture {
    static V4: OnceLock<Fixture> = OnceLock::new();
    static V6: OnceLock<Fixture> = OnceLock::new();
    let suite = if v6 { Suite::Cv25519V6 } else { Suite::Cv25519 };
    (if v6 { &V6 } else { &V4 }).get_or_init(|| {
        let mut sender = Keyring::generate("owner@example.org", suite).unwrap();
        let mut reader = Keyring::generate("alice@example.org", suite).unwrap();
        let other = Keyring::generate("bob@example.org", suite).unwrap();
        sender.add(reader.me().cert.clone()).unwrap();
        sender.add(other.me().cert.clone()).unwrap();
        reader.add(sender.me().cert.clone()).unwrap();
        let sealed = seal_to(
            &sender,
            &["bob@example.org", "alice@example.org"],
            b"<group id='g' owner='owner@example.org'/>",
        )
        .unwrap();
        Fixture {
            sender,
            reader,
            sealed,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), v6: bool) {
        let f = fixture(v6);
        prop_assert!(open(&f.reader, &bytes).is_err());
        prop_assert!(open_unfiltered(&f.reader, &bytes).is_err());
        let _ = recipients_of(&bytes);
    }

    #[test]
    fn truncations_fail_cleanly(cut in 0usize..10_000, v6: bool) {
        let f = fixture(v6);
        let cut = cut % f.sealed.len();
        prop_assert!(open(&f.reader, &f.sealed[..cut]).is_err());
        prop_assert!(open_unfiltered(&f.reader, &f.sealed[..cut]).is_err());
        prop_assert!(open_stock(&f.reader, &f.sealed[..cut]).is_err());
    }

    #[test]
    fn bit_flips_open_to_the_original_or_fail(at in 0usize..10_000, bit in 0u8..8, v6: bool) {
        let f = fixture(v6);
        let mut bad = f.sealed.clone();
        let at = at % bad.len();
        bad[at] ^= 1 << bit;
        let opened = open(&f.reader, &bad);
        // The pre-scan drops other recipients' PKESKs unparsed, so a flip inside one of
        // them may fail the unfiltered parse and not `open`; never the other way round.
        let unfiltered = open_unfiltered(&f.reader, &bad);
        if unfiltered.is_ok() {
            prop_assert_eq!(&opened, &unfiltered);
        }
        if let Ok(opened) = opened {
            // Only a flip in what does not concern this reader (another recipient's PKESK)
            // may leave the message readable, and then it is exactly the original.
            prop_assert_eq!(opened.signer.jid.as_str(), "owner@example.org");
            prop_assert_eq!(opened.signer.fingerprint, f.sender.me().fingerprint());
            prop_assert_eq!(&opened.plaintext[..], &b"<group id='g' owner='owner@example.org'/>"[..]);
        }
    }
}

/// Every truncation of a sealed stanza, exhaustively (the proptest samples; this covers
/// each cut point once, in particular those just past the encrypted packet's header).
#[test]
fn every_truncation_fails_cleanly() {
    for v6 in [false, true] {
        let f = fixture(v6);
        for cut in 0..f.sealed.len() {
            assert!(open(&f.reader, &f.sealed[..cut]).is_err(), "cut {cut}");
            assert!(
                open_unfiltered(&f.reader, &f.sealed[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }
}
