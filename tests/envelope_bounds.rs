//! What opening one message may cost is bounded, whatever its bytes: a decompression bomb
//! is refused before its plaintext is in memory (peak RSS measured around the call), a
//! second compression layer and compression algorithms no peer uses are refused, and a
//! flood of PKESKs naming my key (or nobody) is refused after a few tries. Each refusal is
//! a typed error. The bombs need no signature and no keyring entry: anyone holding a
//! member's certificate can send one, and a live client opens every stanza it receives.
//!
//! One test binary of its own, one test: the peak-memory figures are the process's.

use std::io::Write;

use kgroup::envelope::{open, seal_to, EnvelopeError, Keyring, Suite};
use sequoia_openpgp as openpgp;

use openpgp::crypto::SessionKey;
use openpgp::packet::pkesk::PKESK3;
use openpgp::packet::PKESK;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Compressor, Encryptor, LiteralWriter, Message, Recipient};
use openpgp::serialize::Serialize;
use openpgp::types::{CompressionAlgorithm, SymmetricAlgorithm};
use openpgp::Packet;

/// Decompressed size of the bombs: far above the plaintext limit (256 KiB), and large
/// enough that reading it whole would show as hundreds of MB of peak memory.
const BOMB: usize = 400 << 20;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a memory figure")
}

/// Runs `f` and returns its result and how far the peak resident set rose above the
/// resident set before it, in MB (Linux: peak reset through /proc/self/clear_refs).
fn peak_rise_mb<T>(f: impl FnOnce() -> T) -> (T, f64) {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = status_kb("VmRSS:");
    let out = f();
    let peak = status_kb("VmHWM:");
    (out, peak.saturating_sub(before) as f64 / 1024.0)
}

/// An encrypted (unsigned) message to `to`'s encryption key whose literal data is `size`
/// zero bytes under the given compression layers, outermost first.
fn bomb(to: &Keyring, layers: &[CompressionAlgorithm], size: usize) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let mut out = Vec::new();
    {
        let recipients: Vec<Recipient> = to
            .me()
            .cert
            .keys()
            .with_policy(&policy, None)
            .supported()
            .for_transport_encryption()
            .map(Into::into)
            .collect();
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
fn padding_bomb(to: &Keyring, size: usize) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let mut out = Vec::new();
    {
        let recipients: Vec<Recipient> = to
            .me()
            .cert
            .keys()
            .with_policy(&policy, None)
            .supported()
            .for_transport_encryption()
            .map(Into::into)
            .collect();
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
fn flood(sender: &Keyring, to: &Keyring, n: usize, wildcard: bool) -> Vec<u8> {
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

#[test]
fn bombs_and_floods_are_refused_with_bounded_memory() {
    let mut sender = Keyring::generate("owner@example.org", Suite::Cv25519).expect("keys");
    let mut reader = Keyring::generate("alice@example.org", Suite::Cv25519).expect("keys");
    sender.add(reader.me().cert.clone()).expect("add");
    reader.add(sender.me().cert.clone()).expect("add");

    let cases: [(&str, &[CompressionAlgorithm], fn(&EnvelopeError) -> bool); 3] = [
        ("one ZIP layer", &[CompressionAlgorithm::Zip], |e| {
            matches!(e, EnvelopeError::TooLarge { .. })
        }),
        ("one BZip2 layer", &[CompressionAlgorithm::BZip2], |e| {
            matches!(e, EnvelopeError::Compression(_))
        }),
        (
            "two ZIP layers",
            &[CompressionAlgorithm::Zip, CompressionAlgorithm::Zip],
            |e| matches!(e, EnvelopeError::Compression(_)),
        ),
    ];
    let padded = padding_bomb(&reader, BOMB);
    let (opened, rise) = peak_rise_mb(|| open(&reader, &padded));
    eprintln!(
        "padding packet in one ZIP layer: {} bytes, {} MB inside: {opened:?}; peak RSS +{rise:.1} MB",
        padded.len(),
        BOMB >> 20
    );
    assert!(opened.is_err());
    assert!(rise < 50.0, "padding: peak RSS rose {rise:.1} MB");

    for (name, layers, expected) in cases {
        let bytes = bomb(&reader, layers, BOMB);
        assert!(bytes.len() < 1 << 20, "{name}: {} bytes", bytes.len());
        let (opened, rise) = peak_rise_mb(|| open(&reader, &bytes));
        eprintln!(
            "{name}: {} bytes, {} MB inside: {opened:?}; peak RSS +{rise:.1} MB",
            bytes.len(),
            BOMB >> 20
        );
        let err = opened.expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        assert!(rise < 50.0, "{name}: peak RSS rose {rise:.1} MB");
    }

    // A plaintext under the limit, compressed once with ZIP (what Kontalk's clients do),
    // still opens as far as the signature: this one has none.
    let small = bomb(&reader, &[CompressionAlgorithm::Zip], 128 << 10);
    assert_eq!(open(&reader, &small), Err(EnvelopeError::Unsigned));

    for wildcard in [false, true] {
        let bytes = flood(&sender, &reader, 1900, wildcard);
        let err = open(&reader, &bytes).expect_err("flood");
        assert!(
            matches!(err, EnvelopeError::TooManyForMe { .. }),
            "wildcard {wildcard}: {err:?}"
        );
        // A few are tolerated: the real PKESK after them still opens the message.
        let few = flood(&sender, &reader, 2, wildcard);
        assert_eq!(
            open(&reader, &few).expect("a few bogus PKESKs").plaintext,
            b"<hello/>"
        );
    }
}
