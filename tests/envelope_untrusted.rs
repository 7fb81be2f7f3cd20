//! Untrusted bytes never panic the envelope: garbage, truncations and bit flips of a real
//! sealed stanza either open to exactly what was sealed or fail with a typed error.

use std::sync::OnceLock;

use kgroup::envelope::{open, recipients_of, seal_to, Keyring, Suite};
use proptest::prelude::*;

struct Fixture {
    sender: Keyring,
    reader: Keyring,
    sealed: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut sender = Keyring::generate("owner@example.org", Suite::Cv25519).unwrap();
        let mut reader = Keyring::generate("alice@example.org", Suite::Cv25519).unwrap();
        let other = Keyring::generate("bob@example.org", Suite::Cv25519).unwrap();
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
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = fixture();
        prop_assert!(open(&f.reader, &bytes).is_err());
        let _ = recipients_of(&bytes);
    }

    #[test]
    fn truncations_fail_cleanly(cut in 0usize..10_000) {
        let f = fixture();
        let cut = cut % f.sealed.len();
        prop_assert!(open(&f.reader, &f.sealed[..cut]).is_err());
    }

    #[test]
    fn bit_flips_open_to_the_original_or_fail(at in 0usize..10_000, bit in 0u8..8) {
        let f = fixture();
        let mut bad = f.sealed.clone();
        let at = at % bad.len();
        bad[at] ^= 1 << bit;
        if let Ok(opened) = open(&f.reader, &bad) {
            // Only a flip in what does not concern this reader (another recipient's PKESK)
            // may leave the message readable, and then it is exactly the original.
            prop_assert_eq!(opened.signer.jid.as_str(), "owner@example.org");
            prop_assert_eq!(opened.signer.fingerprint, f.sender.me().fingerprint());
            prop_assert_eq!(&opened.plaintext[..], &b"<group id='g' owner='owner@example.org'/>"[..]);
        }
    }
}
