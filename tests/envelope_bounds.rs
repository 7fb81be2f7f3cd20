//! What opening one message may cost is bounded, whatever its bytes: a decompression bomb
//! is refused before its plaintext is in memory (peak RSS measured around the call), a
//! second compression layer and compression algorithms no peer uses are refused, and a
//! flood of PKESKs naming my key (or nobody) is refused after a few tries. Each refusal is
//! a typed error. The bombs need no signature and no keyring entry: anyone holding a
//! member's certificate can send one, and a live client opens every stanza it receives.
//!
//! One test binary of its own, one test: the peak-memory figures are the process's.

use kgroup::envelope::{open, EnvelopeError, Keyring, Suite};
use kgroup_testkit::hostile::{bomb, flood, padding_bomb};
use sequoia_openpgp::types::CompressionAlgorithm;

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
/// Also prints how long `f` took (reported, never asserted: the machines are shared).
fn peak_rise_mb<T>(f: impl FnOnce() -> T) -> (T, f64) {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = status_kb("VmRSS:");
    let start = std::time::Instant::now();
    let out = f();
    let took = start.elapsed();
    let peak = status_kb("VmHWM:");
    eprint!("[{:.2} ms] ", took.as_secs_f64() * 1e3);
    (out, peak.saturating_sub(before) as f64 / 1024.0)
}

/// What a refusal inside the encryption is reported as: the bound itself, or (SEIPD v1,
/// whose MDC cannot be checked before the bound is hit) an integrity failure.
type Expect = fn(&EnvelopeError) -> bool;

#[test]
fn bombs_and_floods_are_refused_with_bounded_memory() {
    // v4 keys: SEIPD v1 (CFB + MDC); v6 keys: SEIPD v2 (AEAD).
    for suite in [Suite::Cv25519V6, Suite::Cv25519] {
        let v1 = suite == Suite::Cv25519;
        let mut sender = Keyring::generate("owner@example.org", suite).expect("keys");
        let mut reader = Keyring::generate("alice@example.org", suite).expect("keys");
        sender.add(reader.me().cert.clone()).expect("add");
        reader.add(sender.me().cert.clone()).expect("add");
        bombs(&reader, v1);
        if v1 {
            floods(&sender, &reader);
        }
    }
}

fn bombs(reader: &Keyring, v1: bool) {
    let too_large: Expect = |e| matches!(e, EnvelopeError::TooLarge { .. });
    let compression: Expect = |e| matches!(e, EnvelopeError::Compression(_));
    let integrity: Expect = |e| *e == EnvelopeError::Integrity;
    let cases: [(&str, &[CompressionAlgorithm], Expect); 3] = [
        ("one ZIP layer", &[CompressionAlgorithm::Zip], too_large),
        (
            "one BZip2 layer",
            &[CompressionAlgorithm::BZip2],
            compression,
        ),
        (
            "two ZIP layers",
            &[CompressionAlgorithm::Zip, CompressionAlgorithm::Zip],
            compression,
        ),
    ];
    let padded = padding_bomb(reader, BOMB);
    let (opened, rise) = peak_rise_mb(|| open(reader, &padded));
    eprintln!(
        "SEIPD v{}, padding packet in one ZIP layer: {} bytes, {} MB inside: {opened:?}; peak RSS +{rise:.1} MB",
        if v1 { 1 } else { 2 },
        padded.len(),
        BOMB >> 20
    );
    assert!(opened.is_err());
    assert!(rise < 50.0, "padding: peak RSS rose {rise:.1} MB");

    for (name, layers, expected) in cases {
        let bytes = bomb(reader, layers, BOMB);
        assert!(bytes.len() < 1 << 20, "{name}: {} bytes", bytes.len());
        let (opened, rise) = peak_rise_mb(|| open(reader, &bytes));
        eprintln!(
            "SEIPD v{}, {name}: {} bytes, {} MB inside: {opened:?}; peak RSS +{rise:.1} MB",
            if v1 { 1 } else { 2 },
            bytes.len(),
            BOMB >> 20
        );
        let err = opened.expect_err(name);
        let expected = if v1 { integrity } else { expected };
        assert!(expected(&err), "{name}: {err:?}");
        assert!(rise < 50.0, "{name}: peak RSS rose {rise:.1} MB");
    }

    // A plaintext under the limit, compressed once with ZIP (what Kontalk's clients do),
    // still opens as far as the signature: this one has none.
    let small = bomb(reader, &[CompressionAlgorithm::Zip], 128 << 10);
    assert_eq!(open(reader, &small), Err(EnvelopeError::Unsigned));
}

fn floods(sender: &Keyring, reader: &Keyring) {
    for wildcard in [false, true] {
        let bytes = flood(sender, reader, 1900, wildcard);
        let err = open(reader, &bytes).expect_err("flood");
        assert!(
            matches!(err, EnvelopeError::TooManyForMe { .. }),
            "wildcard {wildcard}: {err:?}"
        );
        // A few are tolerated: the real PKESK after them still opens the message.
        let few = flood(sender, reader, 2, wildcard);
        assert_eq!(
            open(reader, &few).expect("a few bogus PKESKs").plaintext,
            b"<hello/>"
        );
    }
}
