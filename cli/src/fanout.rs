//! `kgroup fanout`: what one multi-recipient envelope costs against one envelope per
//! recipient, and what opening it costs the last recipient, each beside the primitive floor
//! (x25519 + key derivation + AES key wrap per recipient) timed in the same run.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kgroup::envelope::{open_stock, open_with, Limits, Suite};
use kgroup_testkit::fixture::Fanout;
use serde::Serialize;

use crate::output::{self, outln};

/// Median seconds per call of each of `ops`, timed in interleaved rounds (one call of each
/// per round) so that a machine whose speed drifts (other work, frequency scaling) affects
/// them alike: at least 3 rounds and about `budget` of wall time.
fn time_interleaved(budget: Duration, ops: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ops.len()];
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < 3 || (start.elapsed() < budget && rounds < 10_000) {
        for (op, s) in ops.iter_mut().zip(&mut samples) {
            let t = Instant::now();
            op();
            s.push(t.elapsed().as_secs_f64());
        }
        rounds += 1;
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

#[derive(Serialize)]
struct Report {
    recipients: usize,
    payload_bytes: usize,
    suite: &'static str,
    /// Seconds: the floor for all recipients (one wrap each).
    floor_s: f64,
    floor_per_recipient_us: f64,
    /// One message, one session key, one PKESK per recipient.
    multi_s: f64,
    multi_per_recipient_us: f64,
    multi_vs_floor: f64,
    multi_bytes: usize,
    /// The same envelope, with sequoia's `Encryptor` wrapping every session key.
    multi_sequoia_s: f64,
    multi_sequoia_per_recipient_us: f64,
    multi_sequoia_vs_floor: f64,
    multi_bytes_per_recipient: f64,
    /// One signed and encrypted message per recipient.
    each_s: f64,
    each_per_recipient_us: f64,
    each_vs_floor: f64,
    each_bytes: usize,
    each_bytes_per_recipient: f64,
    /// Opening by the last recipient: kgroup's linear scan and sequoia's stock decryptor.
    open_s: f64,
    open_stock_s: f64,
    /// The floor of opening: one X25519 + key derivation + AES key unwrap.
    unwrap_floor_s: f64,
    open_vs_unwrap_floor: f64,
    open_stock_vs_unwrap_floor: f64,
}

pub fn run(recipients: u32, size: u32, suite: Suite, json: bool) -> ExitCode {
    if suite == Suite::MlKem768X25519 {
        return output::usage(
            "fanout",
            "the primitive floor is defined for X25519 suites only (cv25519, cv25519-v6)",
        );
    }
    match measure(recipients as usize, size as usize, suite) {
        Ok(report) => output::finish("fanout", json, &report, true, || print_text(&report)),
        Err(e) => output::failed("fanout", e),
    }
}

fn measure(n: usize, size: usize, suite: Suite) -> Result<Report, kgroup::envelope::EnvelopeError> {
    let fx = Fanout::new(n, suite)?;
    let keys = fx.keys();
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let budget = Duration::from_millis(400);
    let session = [0x5au8; 32];

    // `open`'s default limit is a stanza's 256 KiB; --size goes up to 16 MiB.
    let limits = Limits {
        max_plaintext: size.max(Limits::default().max_plaintext),
        ..Limits::default()
    };
    let open = |bytes: &[u8]| open_with(&fx.last, bytes, &limits, std::time::SystemTime::now());
    let sealed = fx.seal_once(&keys, &payload)?;
    let each_bytes = fx.seal_each(&keys, &payload)?;
    // The last recipient's PKESK is the last one: the scan goes through all of them.
    let opened = open(&sealed)?;
    if opened.plaintext != payload || opened.signer.jid != "owner@example.org" {
        return Err(kgroup::envelope::EnvelopeError::Malformed(
            "the last recipient opened something else".into(),
        ));
    }
    open_stock(&fx.last, &sealed)?;
    let last_floor = &fx.floors[n - 1];
    let (eph, wrapped) = last_floor.wrap(&session);

    let t = time_interleaved(
        budget * 2,
        &mut [
            &mut || {
                std::hint::black_box(fx.floor_all(&session));
            },
            &mut || {
                std::hint::black_box(fx.seal_once(&keys, &payload).ok());
            },
            &mut || {
                std::hint::black_box(fx.seal_each(&keys, &payload).ok());
            },
            &mut || {
                std::hint::black_box(fx.seal_once_sequoia(&keys, &payload).ok());
            },
        ],
    );
    let (floor_s, multi_s, each_s, multi_sequoia_s) = (t[0], t[1], t[2], t[3]);
    let t = time_interleaved(
        budget,
        &mut [
            &mut || {
                std::hint::black_box(last_floor.unwrap(&eph, &wrapped));
            },
            &mut || {
                std::hint::black_box(open(&sealed).ok());
            },
            &mut || {
                std::hint::black_box(open_stock(&fx.last, &sealed).ok());
            },
        ],
    );
    let (unwrap_floor_s, open_s, open_stock_s) = (t[0], t[1], t[2]);

    let nf = n as f64;
    Ok(Report {
        recipients: n,
        payload_bytes: size,
        suite: suite.name(),
        floor_s,
        floor_per_recipient_us: floor_s / nf * 1e6,
        multi_s,
        multi_per_recipient_us: multi_s / nf * 1e6,
        multi_vs_floor: multi_s / floor_s,
        multi_bytes: sealed.len(),
        multi_sequoia_s,
        multi_sequoia_per_recipient_us: multi_sequoia_s / nf * 1e6,
        multi_sequoia_vs_floor: multi_sequoia_s / floor_s,
        multi_bytes_per_recipient: sealed.len() as f64 / nf,
        each_s,
        each_per_recipient_us: each_s / nf * 1e6,
        each_vs_floor: each_s / floor_s,
        each_bytes,
        each_bytes_per_recipient: each_bytes as f64 / nf,
        open_s,
        open_stock_s,
        unwrap_floor_s,
        open_vs_unwrap_floor: open_s / unwrap_floor_s,
        open_stock_vs_unwrap_floor: open_stock_s / unwrap_floor_s,
    })
}

fn ms(s: f64) -> String {
    if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn print_text(r: &Report) {
    outln!(
        "fanout: {} recipients, {}-byte payload, {} keys (median of repeated runs)",
        r.recipients,
        r.payload_bytes,
        r.suite
    );
    outln!(
        "  {:<34} {:>10} {:>14} {:>9} {:>16}",
        "",
        "total",
        "per recipient",
        "× floor",
        "bytes/recipient"
    );
    outln!(
        "  {:<34} {:>10} {:>11.1} µs {:>9.2} {:>16}",
        "floor (x25519 + KDF + key wrap)",
        ms(r.floor_s),
        r.floor_per_recipient_us,
        1.0,
        "-"
    );
    outln!(
        "  {:<34} {:>10} {:>11.1} µs {:>9.2} {:>16.1}",
        "one envelope for all (kgroup)",
        ms(r.multi_s),
        r.multi_per_recipient_us,
        r.multi_vs_floor,
        r.multi_bytes_per_recipient
    );
    outln!(
        "  {:<34} {:>10} {:>11.1} µs {:>9.2} {:>16}",
        "  same, sequoia's Encryptor",
        ms(r.multi_sequoia_s),
        r.multi_sequoia_per_recipient_us,
        r.multi_sequoia_vs_floor,
        "same"
    );
    outln!(
        "  {:<34} {:>10} {:>11.1} µs {:>9.2} {:>16.1}",
        "one envelope per recipient",
        ms(r.each_s),
        r.each_per_recipient_us,
        r.each_vs_floor,
        r.each_bytes_per_recipient
    );
    outln!(
        "  open by the last recipient: kgroup {} ({:.1}× the unwrap floor of {}), sequoia's stock decryptor {} ({:.1}×)",
        ms(r.open_s),
        r.open_vs_unwrap_floor,
        ms(r.unwrap_floor_s),
        ms(r.open_stock_s),
        r.open_stock_vs_unwrap_floor
    );
}
