//! Opening: find my PKESK among the many, decrypt, verify the sender's signature.
//!
//! A group stanza carries one PKESK per member, and each member needs exactly one of them.
//! sequoia's stock `Decryptor` re-validates the whole message grammar after every packet,
//! which makes a 1000-recipient message cost milliseconds to open. [`open`] first drops
//! the PKESKs that name none of my keys by their framing alone (the pre-scan, tens of
//! nanoseconds each), then walks what is left with a bare `PacketParser`: mine is
//! decrypted, and the grammar is checked once, at the end. The cost is linear in the
//! number of recipients with a small constant. [`open_unfiltered`] skips the pre-scan (every
//! PKESK then costs a `PacketParser` step, about a microsecond).
//!
//! Nothing is returned before the integrity check (MDC for SEIPD v1, AEAD tags for v2)
//! and the signature check have both passed, and every failure is a typed
//! [`EnvelopeError`].
//!
//! What one message may cost is bounded ([`Limits`]), because anyone holding a member's
//! certificate can send it bytes that are only authenticated at the end: the plaintext is
//! read up to a limit and refused beyond it (a decompression bomb never reaches memory),
//! at most one compression layer of ZIP or ZLIB is opened (what Kontalk's clients and
//! GnuPG write; BZip2 and nested layers are refused before any byte is inflated), inside
//! the encryption only the packets a signed message has are accepted, and only a few
//! PKESKs that may be mine are tried (each costs a Diffie-Hellman). Inside a SEIPD v1
//! container a refusal is reported as [`EnvelopeError::Integrity`], as every other failure
//! there: the MDC cannot be checked yet, and naming what the decrypted bytes held would
//! be a format oracle. SEIPD v2 (AEAD) names the bound that was hit. [`open_stock`] does the same through the stock `Decryptor`; it is
//! kept as the baseline for benchmarks and as a cross-check in tests.

use std::io::Read;
use std::time::SystemTime;

use sequoia_openpgp as openpgp;

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::crypto::SessionKey;
use openpgp::packet::signature::subpacket::CLOCK_SKEW_TOLERANCE;
use openpgp::packet::{Signature, PKESK, SKESK};
use openpgp::parse::buffered_reader::BufferedReader;
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper,
};
use openpgp::parse::{Dearmor, PacketParserBuilder, PacketParserResult, Parse};
use openpgp::policy::{HashAlgoSecurity, Policy};
use openpgp::types::{CompressionAlgorithm, RevocationStatus, SignatureType, SymmetricAlgorithm};
use openpgp::{Cert, Fingerprint, KeyHandle, Packet};

use super::error::{from_parse, one_line, EnvelopeError};
use super::keyring::Keyring;
use super::keys::POLICY;
use super::prescan::{self, Named};

/// Who signed an opened envelope: the verified signer, the only identity the core may
/// trust (the stanza's `from` is the server's word).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signer {
    /// The signer's certificate (primary key) fingerprint.
    pub fingerprint: Fingerprint,
    /// The bare JID the certificate is bound to.
    pub jid: String,
}

/// Bounds on what opening one message may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest plaintext read; a longer one is refused ([`EnvelopeError::TooLarge`])
    /// as soon as the limit is passed.
    pub max_plaintext: usize,
    /// How many PKESKs that may be mine (naming my key, or nobody) are tried; a message
    /// with more is refused ([`EnvelopeError::TooManyForMe`]).
    pub max_tries: usize,
}

impl Default for Limits {
    /// 256 KiB of plaintext (the stanza codec's default limit: a group stanza's inside is
    /// never longer) and 4 tries (one per encryption subkey a peer would reasonably use).
    fn default() -> Self {
        Limits {
            max_plaintext: 256 * 1024,
            max_tries: 4,
        }
    }
}

/// An envelope that decrypted, passed its integrity check and carries one good signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub signer: Signer,
    pub plaintext: Vec<u8>,
}

/// Whether this PKESK names one of my keys (or nobody: a wildcard recipient).
fn names_me(keyring: &Keyring, pkesk: &PKESK) -> bool {
    match pkesk.recipient() {
        None => true,
        Some(handle) => keyring.secrets.decryptors.iter().any(|(fp, kp)| {
            handle.aliases(KeyHandle::from(fp)) || kp.public().key_handle().aliases(&handle)
        }),
    }
}

/// Decrypts the session key from a PKESK addressed to me.
fn unwrap_session(
    keyring: &Keyring,
    pkesk: &PKESK,
) -> Option<(Option<SymmetricAlgorithm>, SessionKey)> {
    for (_, kp) in &keyring.secrets.decryptors {
        if let Some(handle) = pkesk.recipient() {
            if !kp.public().key_handle().aliases(&handle) {
                continue;
            }
        }
        let mut kp = kp.clone();
        if let Some(r) = pkesk.decrypt(&mut kp, None) {
            return Some(r);
        }
    }
    None
}

/// Whether a PKESK's raw recipient field (see [`prescan`]) may name one of my keys.
fn may_name_me(keyring: &Keyring, named: &Named<'_>) -> bool {
    match named {
        Named::Unknown => true,
        Named::KeyId(id) => {
            id.iter().all(|b| *b == 0)
                || keyring
                    .secrets
                    .decryptors
                    .iter()
                    .any(|(_, kp)| kp.public().keyid().as_bytes() == *id)
        }
        Named::Fingerprint(fp) => {
            fp.is_empty()
                || keyring
                    .secrets
                    .decryptors
                    .iter()
                    .any(|(f, _)| f.as_bytes() == *fp)
        }
    }
}

/// Decrypts and verifies `bytes` (a binary OpenPGP message) with my key and the keyring,
/// within the default [`Limits`], judging the signer's key now (the system clock).
pub fn open(keyring: &Keyring, bytes: &[u8]) -> Result<Opened, EnvelopeError> {
    open_with(keyring, bytes, &Limits::default(), SystemTime::now())
}

/// [`open`] within these limits, judging the signer's certificate and key at `now` (as
/// well as when the signature was made): the caller's clock, so that what is judged and
/// when is the caller's choice (and a test's).
pub fn open_with(
    keyring: &Keyring,
    bytes: &[u8],
    limits: &Limits,
    now: SystemTime,
) -> Result<Opened, EnvelopeError> {
    // A flood of PKESKs that may be mine is refused here, from the framing alone, before
    // any is parsed (open_parsed refuses it too, for input the pre-scan cannot read).
    let candidates = std::cell::Cell::new(0usize);
    let kept = prescan::keep_pkesks(bytes, |n| {
        let mine = may_name_me(keyring, n);
        candidates.set(candidates.get() + usize::from(mine));
        mine
    });
    if candidates.get() > limits.max_tries {
        return Err(EnvelopeError::TooManyForMe {
            limit: limits.max_tries,
        });
    }
    match kept {
        Some(mine) => open_parsed(keyring, &mine, limits, now),
        None => open_parsed(keyring, bytes, limits, now),
    }
}

/// [`open`] without the pre-scan: every packet goes through `PacketParser`.
pub fn open_unfiltered(keyring: &Keyring, bytes: &[u8]) -> Result<Opened, EnvelopeError> {
    open_parsed(keyring, bytes, &Limits::default(), SystemTime::now())
}

fn open_parsed(
    keyring: &Keyring,
    bytes: &[u8],
    limits: &Limits,
    now: SystemTime,
) -> Result<Opened, EnvelopeError> {
    let mut ppr = PacketParserBuilder::from_bytes(bytes)
        .map_err(from_parse)?
        .dearmor(Dearmor::Disabled)
        .build()
        .map_err(from_parse)?;

    let mut session: Option<(Option<SymmetricAlgorithm>, SessionKey)> = None;
    let mut my_pkesk_failed = false;
    // Some(version) once the encryption container was entered.
    let mut seip: Option<u8> = None;
    let mut mdc_ok = false;
    let mut plaintext: Option<Vec<u8>> = None;
    let mut signatures: Vec<Signature> = Vec::new();
    let mut tries = 0usize;
    let mut compressed = false;

    while let PacketParserResult::Some(mut pp) = ppr {
        let inside = seip.is_some();
        // A bound hit inside a SEIPD v1 container comes before the MDC can be checked: it
        // may be a bomb or a flipped ciphertext bit, and telling which from the decrypted
        // bytes would be a format oracle. So it is an integrity failure there, like any
        // other failure inside; SEIPD v2 releases only authenticated chunks, so there the
        // bound that was hit is named.
        let refuse = |e: EnvelopeError| {
            if seip == Some(1) {
                EnvelopeError::Integrity
            } else {
                e
            }
        };
        match &pp.packet {
            Packet::PKESK(pkesk)
                if !inside
                    && pp.recursion_depth() == 0
                    && session.is_none()
                    && names_me(keyring, pkesk) =>
            {
                tries += 1;
                if tries > limits.max_tries {
                    return Err(EnvelopeError::TooManyForMe {
                        limit: limits.max_tries,
                    });
                }
                match unwrap_session(keyring, pkesk) {
                    Some(s) => session = Some(s),
                    None => my_pkesk_failed |= pkesk.recipient().is_some(),
                }
            }
            Packet::SEIP(s) => {
                if inside {
                    return Err(EnvelopeError::Integrity);
                }
                if pp.recursion_depth() != 0 {
                    return Err(EnvelopeError::Malformed(
                        "nested or repeated encryption container".into(),
                    ));
                }
                let Some((algo, key)) = &session else {
                    return Err(if my_pkesk_failed {
                        EnvelopeError::Integrity
                    } else {
                        EnvelopeError::NotForMe
                    });
                };
                let version = s.version();
                if version == 1 {
                    // sequoia 2.4 panics (an unwrap in `PacketParser::decrypt`) when a
                    // SEIPD v1 body is shorter than its prefix plus the 22-byte MDC it
                    // reserves; found by the truncation proptest. Such a body cannot
                    // hold a message: refuse it before decrypting.
                    let block = algo
                        .and_then(|a| a.block_size().ok())
                        .ok_or(EnvelopeError::Integrity)?;
                    let need = block + 2 + 22;
                    if pp.data(need).map(|d| d.len()).unwrap_or(0) < need {
                        return Err(EnvelopeError::Integrity);
                    }
                }
                pp.decrypt(*algo, key)
                    .map_err(|_| EnvelopeError::Integrity)?;
                seip = Some(version);
            }
            Packet::Literal(_) => {
                if !inside {
                    return Err(EnvelopeError::NotEncrypted);
                }
                if plaintext.is_some() {
                    // Inside the container nothing is authenticated until the end: a
                    // second literal packet is what a flipped ciphertext bit can make
                    // of the next block, so it is an integrity failure like any other.
                    return Err(EnvelopeError::Integrity);
                }
                let mut body = Vec::new();
                let bound = u64::try_from(limits.max_plaintext)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                Read::by_ref(&mut pp)
                    .take(bound)
                    .read_to_end(&mut body)
                    .map_err(|_| EnvelopeError::Integrity)?;
                if body.len() > limits.max_plaintext {
                    return Err(refuse(EnvelopeError::TooLarge {
                        limit: limits.max_plaintext,
                    }));
                }
                plaintext = Some(body);
            }
            Packet::CompressedData(c) if inside => {
                if compressed {
                    return Err(refuse(EnvelopeError::Compression(
                        "more than one compression layer".into(),
                    )));
                }
                match c.algo() {
                    CompressionAlgorithm::Zip | CompressionAlgorithm::Zlib => {}
                    CompressionAlgorithm::Uncompressed => {}
                    other => {
                        return Err(refuse(EnvelopeError::Compression(format!(
                            "{other} (only ZIP and ZLIB are opened)"
                        ))))
                    }
                }
                compressed = true;
            }
            Packet::Signature(_) if inside && !signatures.is_empty() => {
                return Err(refuse(EnvelopeError::MultipleSignatures))
            }
            // What a signed message holds inside the encryption: anything else (a second
            // encryption container, a marker, a key, an unknown packet) is refused before
            // its body is read.
            Packet::OnePassSig(_) | Packet::Signature(_) | Packet::Padding(_) if inside => {}
            #[allow(deprecated)]
            Packet::MDC(_) => {}
            _ if inside => return Err(EnvelopeError::Integrity),
            _ => {}
        }
        // Once the encryption container is entered (including the step into it right
        // after decrypting), any failure is the ciphertext's fault: report it uniformly
        // as an integrity failure (no decryption oracle).
        let decrypting = seip.is_some();
        let (packet, next) = pp.recurse().map_err(|e| {
            if decrypting {
                EnvelopeError::Integrity
            } else {
                from_parse(e)
            }
        })?;
        match packet {
            Packet::Signature(sig) => {
                if !inside {
                    return Err(EnvelopeError::NotEncrypted);
                }
                signatures.push(sig);
            }
            #[allow(deprecated)]
            Packet::MDC(mdc) => {
                if !mdc.valid() {
                    return Err(EnvelopeError::Integrity);
                }
                mdc_ok = true;
            }
            _ => {}
        }
        ppr = next;
    }

    let Some(version) = seip else {
        return Err(if session.is_some() || my_pkesk_failed {
            EnvelopeError::Malformed("no encrypted data".into())
        } else {
            EnvelopeError::NotEncrypted
        });
    };
    if version == 1 && !mdc_ok {
        return Err(EnvelopeError::Integrity);
    }
    if let PacketParserResult::EOF(eof) = &ppr {
        // The decrypted grammar is only as good as the ciphertext.
        eof.is_message().map_err(|_| EnvelopeError::Integrity)?;
    }
    let plaintext =
        plaintext.ok_or_else(|| EnvelopeError::Malformed("no literal data packet".into()))?;
    let signature = match signatures.as_slice() {
        [] => return Err(EnvelopeError::Unsigned),
        [one] => one,
        _ => return Err(EnvelopeError::MultipleSignatures),
    };
    let signer = verify(keyring, signature, now)?;
    Ok(Opened { signer, plaintext })
}

/// Checks a document signature whose digest the parser computed over the literal data.
///
/// Only a binary document signature is accepted (kgroup makes no other kind). The signer's
/// certificate and signing key are judged twice: when the signature says it was made, and
/// `now`. At both times the certificate must be valid under the policy, alive and not
/// revoked, and the issuing key validly bound as a signing key, alive and not revoked; so
/// a key revoked for any reason, or expired, since it signed no longer vouches for what
/// it signed (the creation time is the signer's own word, and backdating is free). The
/// signature itself must be alive now (not expired; not made more than sequoia's clock
/// skew tolerance in the future).
fn verify(keyring: &Keyring, sig: &Signature, now: SystemTime) -> Result<Signer, EnvelopeError> {
    let issuers = sig.get_issuers();
    let peer = issuers
        .iter()
        .find_map(|h| keyring.by_key_handle(h))
        .ok_or_else(|| EnvelopeError::UnknownSigner {
            issuer: issuers
                .first()
                .map(|h| h.to_string())
                .unwrap_or_else(|| "(no issuer)".into()),
        })?;
    let bad = |detail: String| EnvelopeError::BadSignature {
        signer: format!("{} ({})", peer.jid, peer.fingerprint()),
        detail,
    };
    if sig.typ() != SignatureType::Binary {
        return Err(bad(format!(
            "not a binary document signature ({})",
            sig.typ()
        )));
    }
    if sig.computed_digest().is_none() {
        return Err(bad("no digest was computed over the data".into()));
    }
    let policy: &dyn Policy = &POLICY;
    policy
        .signature(sig, HashAlgoSecurity::CollisionResistance)
        .map_err(|e| bad(one_line(&e)))?;
    let made = sig
        .signature_creation_time()
        .ok_or_else(|| bad("the signature has no creation time".into()))?;
    sig.signature_alive(now, CLOCK_SKEW_TOLERANCE)
        .map_err(|e| bad(one_line(&e)))?;
    let mut signing_key = None;
    for (when, t) in [("when it signed", made), ("now", now)] {
        let at = |detail: String| bad(format!("{when}: {detail}"));
        let vc = peer
            .cert
            .with_policy(policy, t)
            .map_err(|e| at(one_line(&e)))?;
        vc.alive().map_err(|e| at(one_line(&e)))?;
        if let RevocationStatus::Revoked(_) = vc.revocation_status() {
            return Err(at("the certificate is revoked".into()));
        }
        let ka = match &signing_key {
            None => vc.keys().key_handles(issuers.iter()).for_signing().next(),
            Some(fpr) => vc.keys().key_handle(fpr).for_signing().next(),
        }
        .ok_or_else(|| at("the issuing key is not a valid signing key".into()))?;
        ka.alive().map_err(|e| at(one_line(&e)))?;
        if let RevocationStatus::Revoked(_) = ka.revocation_status() {
            return Err(at("the signing key is revoked".into()));
        }
        signing_key.get_or_insert_with(|| ka.key().fingerprint());
    }
    let key = signing_key
        .and_then(|fpr| peer.cert.keys().key_handle(fpr).next())
        .ok_or_else(|| bad("the issuing key is not a valid signing key".into()))?;
    sig.verify_signature(key.key())
        .map_err(|e| bad(one_line(&e)))?;
    Ok(Signer {
        fingerprint: peer.fingerprint(),
        jid: peer.jid.clone(),
    })
}

/// Lists the recipients named by the PKESKs of a sealed message, without decrypting
/// anything (what the server, or anyone, can see).
pub fn recipients_of(bytes: &[u8]) -> Result<Vec<Option<KeyHandle>>, EnvelopeError> {
    let mut ppr = PacketParserBuilder::from_bytes(bytes)
        .map_err(from_parse)?
        .dearmor(Dearmor::Disabled)
        .build()
        .map_err(from_parse)?;
    let mut out = Vec::new();
    while let PacketParserResult::Some(pp) = ppr {
        if let Packet::PKESK(pkesk) = &pp.packet {
            out.push(pkesk.recipient());
        }
        // `next` skips containers' content: the encrypted data is not read.
        ppr = pp.next().map_err(from_parse)?.1;
    }
    Ok(out)
}

/// The same as [`open`], through sequoia's stock streaming `Decryptor`: the baseline of
/// the benchmarks. The stock path has the SEIPD v1 truncation panic that [`open`] guards
/// against; here it is caught and reported as an integrity failure.
pub fn open_stock(keyring: &Keyring, bytes: &[u8]) -> Result<Opened, EnvelopeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_stock_(keyring, bytes)))
        .unwrap_or(Err(EnvelopeError::Integrity))
}

fn open_stock_(keyring: &Keyring, bytes: &[u8]) -> Result<Opened, EnvelopeError> {
    let helper = StockHelper {
        keyring,
        signer: None,
        failure: None,
    };
    let mut decryptor = DecryptorBuilder::from_bytes(bytes)
        .map_err(from_parse)?
        .with_policy(&POLICY as &dyn Policy, None, helper)
        .map_err(|e| stock_error(e, None))?;
    let mut plaintext = Vec::new();
    let read = decryptor.read_to_end(&mut plaintext);
    let helper = decryptor.into_helper();
    if let Err(e) = read {
        return Err(stock_error(e.into(), helper.failure));
    }
    match (helper.signer, helper.failure) {
        (Some(signer), None) => Ok(Opened { signer, plaintext }),
        (_, Some(f)) => Err(f),
        (None, None) => Err(EnvelopeError::Unsigned),
    }
}

fn stock_error(e: openpgp::anyhow::Error, failure: Option<EnvelopeError>) -> EnvelopeError {
    if let Some(f) = failure {
        return f;
    }
    if let Some(f) = e.downcast_ref::<EnvelopeError>() {
        return f.clone();
    }
    from_parse(e)
}

struct StockHelper<'a> {
    keyring: &'a Keyring,
    signer: Option<Signer>,
    failure: Option<EnvelopeError>,
}

impl VerificationHelper for StockHelper<'_> {
    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(ids
            .iter()
            .filter_map(|h| self.keyring.by_key_handle(h))
            .map(|p| p.cert.clone())
            .collect())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut encrypted = false;
        let mut results = Vec::new();
        for layer in structure {
            match layer {
                MessageLayer::Encryption { .. } => encrypted = true,
                MessageLayer::SignatureGroup { results: r } => results.extend(r),
                MessageLayer::Compression { .. } => {}
            }
        }
        let outcome = if !encrypted {
            Err(EnvelopeError::NotEncrypted)
        } else {
            match results.as_slice() {
                [] => Err(EnvelopeError::Unsigned),
                [Ok(good)] => {
                    let cert = good.ka.cert();
                    match self.keyring.by_fingerprint(&cert.fingerprint()) {
                        Some(peer) => Ok(Signer {
                            fingerprint: peer.fingerprint(),
                            jid: peer.jid.clone(),
                        }),
                        None => Err(EnvelopeError::UnknownSigner {
                            issuer: cert.fingerprint().to_string(),
                        }),
                    }
                }
                [Err(e)] => Err(match e {
                    VerificationError::MissingKey { sig } => EnvelopeError::UnknownSigner {
                        issuer: sig
                            .get_issuers()
                            .first()
                            .map(|h| h.to_string())
                            .unwrap_or_else(|| "(no issuer)".into()),
                    },
                    other => EnvelopeError::BadSignature {
                        signer: "?".into(),
                        detail: other.to_string().replace('\n', " "),
                    },
                }),
                _ => Err(EnvelopeError::MultipleSignatures),
            }
        };
        match outcome {
            Ok(s) => {
                self.signer = Some(s);
                Ok(())
            }
            Err(e) => {
                self.failure = Some(e.clone());
                Err(e.into())
            }
        }
    }
}

impl DecryptionHelper for StockHelper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        _sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            if !names_me(self.keyring, pkesk) {
                continue;
            }
            if let Some((algo, sk)) = unwrap_session(self.keyring, pkesk) {
                if decrypt(algo, &sk) {
                    return Ok(Some(self.keyring.me().cert.clone()));
                }
            }
        }
        self.failure = Some(EnvelopeError::NotForMe);
        Err(EnvelopeError::NotForMe.into())
    }
}
