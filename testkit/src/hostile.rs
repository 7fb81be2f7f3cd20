//! Hostile envelopes, made on purpose: decompression bombs and PKESK floods, for the
//! tests that they are refused within bounds, the benchmark that times the refusal and
//! the fuzz seeds. Anyone holding a member's certificate can make each of these.
//!
//! Test equipment: a failure to build one (sequoia refusing our own input) panics.

use std::io::Write;

use kgroup::envelope::{seal_to, Keyring};
use sequoia_openpgp as openpgp;

use openpgp::crypto::SessionKey;
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::PKESK;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Compressor, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::serialize::Serialize;
use openpgp::types::{CompressionAlgorithm, SymmetricAlgorithm};
use openpgp::Packet;

/// The transport encryption keys of `to`'s own certificate, as sequoia's encryptor takes them.
fn recipients<'a>(to: &'a Keyring, policy: &'a StandardPolicy<'a>) -> Vec<Recipient<'a>> {
    to.me()
        .cert
        .keys()
        .with_policy(policy, None)
        .supported()
        .for_transport_encryption()
        .map(Into::into)
        .collect()
}

/// An encrypted (unsigned) message to `to`'s encryption key whose literal data is `size`
/// zero bytes under the given compression layers, outermost first.
pub fn bomb(to: &Keyring, layers: &[CompressionAlgorithm], size: usize) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let mut out = Vec::new();
    {
        let recipients = recipients(to, &policy);
        let message = Message::new(&mut out);
        let mut message = Encryptor::for_recipients(message, recipients)
            .build()
            .expect("encryptor");
        for algo in layers {
            message = Compressor::new(message)
                .algo(*algo)
                .build()
                .expect("compressor");
        }
        let mut literal = LiteralWriter::new(message).build().expect("literal");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..size / zeros.len() {
            literal.write_all(&zeros).expect("write");
        }
        literal.finalize().expect("finalize");
    }
    out
}

/// An encrypted message to `to` whose one ZIP layer holds, instead of a literal packet, a
/// padding packet of `size` zero bytes (a packet the parser would read whole).
pub fn padding_bomb(to: &Keyring, size: usize) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let mut out = Vec::new();
    {
        let recipients = recipients(to, &policy);
        let message = Message::new(&mut out);
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .expect("encryptor");
        let mut inner = Compressor::new(message)
            .algo(CompressionAlgorithm::Zip)
            .build()
            .expect("compressor");
        // A new-format header: tag 21 (padding), five-octet length.
        let len = u32::try_from(size).expect("size fits");
        inner.write_all(&[0xc0 | 21, 0xff]).expect("header");
        inner.write_all(&len.to_be_bytes()).expect("length");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..size / zeros.len() {
            inner.write_all(&zeros).expect("write");
        }
        inner.finalize().expect("finalize");
    }
    out
}

/// `n` PKESKs that name `to`'s encryption key (or nobody, with `wildcard`) but wrap
/// garbage, in front of a real message sealed to `to`: each costs a Diffie-Hellman to
/// find out.
pub fn flood(sender: &Keyring, to: &Keyring, n: usize, wildcard: bool) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let key = to
        .me()
        .cert
        .keys()
        .with_policy(&policy, None)
        .for_transport_encryption()
        .next()
        .expect("an encryption key")
        .key()
        .clone();
    let mut pkesk = PKESK3::for_recipient(
        SymmetricAlgorithm::AES256,
        &SessionKey::new(32).expect("session key"),
        &key,
    )
    .expect("PKESK");
    if wildcard {
        pkesk.set_recipient(None);
    }
    let mut one = Vec::new();
    Packet::from(PKESK::from(pkesk))
        .serialize(&mut one)
        .expect("serialize");
    // The last byte is in the AES key wrap: the unwrap's integrity check fails.
    if let Some(last) = one.last_mut() {
        *last ^= 0x55;
    }
    let mut out = one.repeat(n);
    out.extend(seal_to(sender, &[to.me().jid.as_str()], b"<hello/>").expect("seal"));
    out
}
