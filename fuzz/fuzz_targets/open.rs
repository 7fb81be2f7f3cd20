//! Fuzzes opening an envelope: no input may panic `open`, and none may cost more than
//! its limits allow (libFuzzer's -rss_limit_mb and -timeout catch a bomb or a flood that
//! gets through).
//!
//! Structure-aware: the first byte picks how the rest is used.
//! - even: the bytes are the whole OpenPGP message, as a server could send them;
//! - odd: the bytes are cut into packets (tag, length, body) that are framed correctly
//!   and then encrypted to the reader's key, so that mutations reach what lies behind
//!   decryption (compression layers, literal data, signatures), where the bombs live.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use kgroup::envelope::{open, Keyring, Suite};
use libfuzzer_sys::fuzz_target;
use sequoia_openpgp as openpgp;

use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Encryptor, Message, Recipient};

struct Fixture {
    reader: Keyring,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let sender = Keyring::generate("owner@example.org", Suite::Cv25519).expect("keys");
        let mut reader = Keyring::generate("alice@example.org", Suite::Cv25519).expect("keys");
        reader.add(sender.me().cert.clone()).expect("add");
        Fixture { reader }
    })
}

/// Frames `data` as a sequence of packets: each is a tag byte (its low six bits), a
/// 16-bit big-endian length and that many body bytes (fewer at the end of the input).
fn packets(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [tag, hi, lo, rest @ ..] = data {
        let want = usize::from(u16::from_be_bytes([*hi, *lo]));
        let body = &rest[..want.min(rest.len())];
        out.push(0xc0 | (tag & 0x3f));
        match body.len() {
            n @ 0..=191 => out.push(n as u8),
            n => {
                out.push(0xff);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(body);
        data = &rest[body.len()..];
    }
    out
}

fn encrypted_to_reader(inner: &[u8]) -> Option<Vec<u8>> {
    let policy = StandardPolicy::new();
    let recipients: Vec<Recipient> = fixture()
        .reader
        .me()
        .cert
        .keys()
        .with_policy(&policy, None)
        .supported()
        .for_transport_encryption()
        .map(Into::into)
        .collect();
    let mut out = Vec::new();
    let message = Message::new(&mut out);
    let mut w = Encryptor::for_recipients(message, recipients).build().ok()?;
    w.write_all(inner).ok()?;
    w.finalize().ok()?;
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    if mode % 2 == 0 {
        let _ = open(&f.reader, rest);
    } else if let Some(bytes) = encrypted_to_reader(&packets(rest)) {
        // Unsigned, or signed by nobody the reader knows: nothing may open.
        assert!(open(&f.reader, &bytes).is_err());
    }
});
