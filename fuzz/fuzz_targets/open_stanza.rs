//! Fuzzes the wire's receiving side, `kgroup::wire::open_stanza`: no input may panic it.
//!
//! The first byte picks how the rest is used:
//! - even: the bytes are the `<message/>` as the server delivers it;
//! - odd: the bytes are the decrypted payload, sealed by a known member (signed, encrypted
//!   to the reader) and carried in a real `<message/>`, so that mutations reach the
//!   payload decoder behind authentication. A payload that opens must decode to a group
//!   stanza from that member.
#![no_main]

use std::sync::OnceLock;

use kgroup::codec::Jid;
use kgroup::envelope::{self, Keyring, Suite};
use kgroup::wire::{carry, open_stanza, Carrier};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    sender: Keyring,
    reader: Keyring,
    server: Jid,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut sender = Keyring::generate("owner@example.org", Suite::Cv25519).expect("keys");
        let mut reader = Keyring::generate("alice@example.org", Suite::Cv25519).expect("keys");
        reader.add(sender.me().cert.clone()).expect("add");
        sender.add(reader.me().cert.clone()).expect("add");
        Fixture {
            sender,
            reader,
            server: Jid::new("example.org").expect("jid"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    if mode % 2 == 0 {
        let _ = open_stanza(rest, &f.reader);
        return;
    }
    let Ok(keys) = f.sender.recipients(&["alice@example.org"]) else {
        return;
    };
    let Ok(sealed) = envelope::seal(&f.sender, &keys, rest) else {
        return;
    };
    let xml = carry(
        &sealed,
        &Carrier {
            to: &f.server,
            from: None,
            id: None,
            addresses: None,
        },
    );
    if let Ok(received) = open_stanza(xml.as_bytes(), &f.reader) {
        assert_eq!(received.sender.as_str(), "owner@example.org");
    }
});
