//! Sealing: sign once by the sender, encrypt once to every recipient.
//!
//! The protocol multicasts one stanza to all members through XEP-0033, so its payload must
//! be readable by each of them: one random session key encrypts the signed payload once,
//! and one PKESK packet per recipient key wraps that session key. The cost per recipient
//! is one public-key operation and a few dozen bytes, not a second copy of the message.
//!
//! The message is `PKESK* SEIPD( OnePassSig Literal Signature )`: the signature is inside
//! the encryption, so the server sees neither the payload nor who signed it.
//!
//! The signature is made over SHA-256 (sequoia's default is SHA-512): GnuPG 2.2 and every
//! RFC 4880/9580 implementation accept it with Ed25519, and with the x86 SHA extensions
//! it hashes a 64 KiB payload in a fraction of SHA-512's time.
//!
//! When every recipient is a v4 ECDH/Cv25519 key (what GnuPG 2.2 reads, our default) and
//! my signing key is a v4 key, [`seal`] writes the message itself (`seal_direct`): the
//! session key is wrapped for each recipient by [`super::ecdh`] straight on the primitives
//! and its v3 PKESK written straight into the output, and the SEIPD v1 packet (RFC 4880
//! §5.13) is written in one buffer sized up front and encrypted in place, in one pass that
//! also computes the signature's and the MDC's digests (see `seipd.rs`): sequoia's
//! streaming writers cost a few hundred microseconds for 64 KiB in buffer copies, partial
//! body framing and its collision-detecting SHA-1, which the MDC does not need (it is a
//! keyed checksum inside the encryption, and RFC 9580 §5.13.1 specifies plain SHA-1).
//! sequoia still makes the signature and the one-pass signature packet. Otherwise (v6
//! keys, post-quantum keys, mixed) sequoia's `Encryptor` does all of it. [`seal_sequoia`]
//! always takes sequoia's path: the benchmarks compare both, the tests open both with
//! sequoia's stock decryptor, with [`super::open()`] and with GnuPG.

use std::io::Write;
use std::time::SystemTime;

use rand_core::{OsRng, RngCore};
use sha1::{Digest, Sha1};

use sequoia_openpgp as openpgp;

use openpgp::packet::one_pass_sig::OnePassSig3;
use openpgp::packet::signature::SignatureBuilder;
use openpgp::serialize::stream::{
    Compressor, Encryptor, LiteralWriter, Message, Recipient, Signer,
};
use openpgp::serialize::MarshalInto;
use openpgp::types::{
    CompressionAlgorithm, DataFormat, HashAlgorithm, PublicKeyAlgorithm, SignatureType,
    SymmetricAlgorithm,
};
use openpgp::Packet;
use zeroize::Zeroizing;

use super::error::{one_line, EnvelopeError};
use super::keyring::Keyring;
use super::keys::EncryptionKey;
use super::seipd::{header_len, write_header, Cfb};

/// The digest every signature is made with.
const SIGNATURE_HASH: HashAlgorithm = HashAlgorithm::SHA256;

/// The largest payload `seal_direct` frames with definite lengths (32-bit); larger
/// ones (not a stanza) go through sequoia, which uses partial body lengths.
const DIRECT_MAX: usize = 1 << 30;

/// Signs `plaintext` with my key and encrypts it once to all `recipients`' keys (see
/// [`Keyring::recipients`]). Returns the binary OpenPGP message.
pub fn seal(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if !recipients.is_empty()
        && recipients.iter().all(|r| r.direct.is_some())
        && keyring.secrets.signer.public().version() == 4
        && plaintext.len() <= DIRECT_MAX
    {
        seal_direct(keyring, recipients, plaintext)
    } else {
        seal_sequoia(keyring, recipients, plaintext)
    }
}

fn err(e: openpgp::anyhow::Error) -> EnvelopeError {
    EnvelopeError::Key(one_line(&e))
}

/// Signs and encrypts through sequoia's `Encryptor` alone (v6 and post-quantum keys,
/// mixed recipient sets; the baseline of the benchmarks).
pub fn seal_sequoia(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    through_sequoia(keyring, recipients, plaintext, false)
}

/// Signs and encrypts as Kontalk's clients do (androidclient `crypto/PGPCoder.encryptData`,
/// desktopclient-java `crypto/Encryptor.encryptData`): AES-192 in a SEIPD v1 container
/// (with MDC), the signed message ZIP-compressed inside it, a one-pass signature over
/// SHA-256 by my signing key, binary literal data with no file name, dated now. Through
/// sequoia's `Encryptor`: one PKESK per recipient key, whatever its algorithm (RSA, ECDH
/// on P-256 or Curve25519).
pub fn seal_kontalk(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    through_sequoia(keyring, recipients, plaintext, true)
}

/// sequoia's `Encryptor` with its defaults, or (`kontalk`) with Kontalk's choices.
fn through_sequoia(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
    kontalk: bool,
) -> Result<Vec<u8>, EnvelopeError> {
    if recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    // Packet overhead: ~100 bytes per Curve25519 recipient (~300 for RSA), a few hundred
    // for the signature.
    let per_recipient = if kontalk { 300 } else { 128 };
    let mut sink = Vec::with_capacity(plaintext.len() + per_recipient * recipients.len() + 512);
    {
        let message = Message::new(&mut sink);
        let mut encryptor = Encryptor::for_recipients(
            message,
            recipients
                .iter()
                .map(|r| Recipient::new(r.features.clone(), r.handle.clone(), &r.key)),
        );
        if kontalk {
            encryptor = encryptor.symmetric_algo(SymmetricAlgorithm::AES192);
        }
        let message = encryptor.build().map_err(err)?;
        if kontalk {
            let message = Compressor::new(message)
                .algo(CompressionAlgorithm::Zip)
                .build()
                .map_err(err)?;
            sign_and_write(keyring, message, plaintext, Some(SystemTime::now()))?;
        } else {
            sign_and_write(keyring, message, plaintext, None)?;
        }
    }
    Ok(sink)
}

/// A v3 PKESK for an ECDH/Cv25519 key and an AES-256 session key: tag and one-octet
/// length, then version 3, key id, algorithm 18, the MPI of 0x40 ‖ ephemeral key (263
/// bits), and the one-octet length of the wrapped 40-byte block.
const PKESK_BODY: usize = 1 + 8 + 1 + 2 + 33 + 1 + 48;
const PKESK_LEN: usize = 2 + PKESK_BODY;
/// The SEIPD v1 random prefix: one cipher block and its last two octets repeated.
const PREFIX: usize = 16 + 2;
/// The MDC packet: header 0xD3 0x14 and the SHA-1 digest.
const MDC: usize = 2 + 20;
/// The literal packet's fields before the data: format 'b', no file name, date 0 (what
/// sequoia's `LiteralWriter` writes by default).
const LITERAL_FIELDS: [u8; 6] = [b'b', 0, 0, 0, 0, 0];

const TAG_SEIPD: u8 = 18;
const TAG_LITERAL: u8 = 11;

/// Room for the signature packet in the output buffer (a v4 Ed25519 signature by sequoia,
/// with its salt notation, is about 190 octets; a larger one makes the buffer grow once).
const SIGNATURE_ROOM: usize = 256;

/// The direct path: `PKESK3* SEIPD1(OnePassSig Literal Signature MDC)`, written in one
/// buffer sized up front.
///
/// The payload is copied once, after the PKESKs, and then read once: in 64-octet steps
/// aligned on the start of the encrypted data, each step feeds its octets to the MDC's
/// SHA-1 and encrypts them in place, with the signature's SHA-256 of the literal data
/// running just ahead of it (see `seipd.rs`). The signature is made when the literal data
/// is hashed, and the rest (the payload's last partial step, the signature, the MDC) is
/// finished after it.
/// The container's header is written last, into a slot of the longest form (6 octets)
/// before the body; a container under 8384 octets has a shorter header, and its body is
/// moved back by the difference.
fn seal_direct(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut signer = keyring.secrets.signer.clone();
    let mut ops = OnePassSig3::new(SignatureType::Binary);
    ops.set_pk_algo(signer.public().pk_algo());
    ops.set_hash_algo(SIGNATURE_HASH);
    ops.set_issuer(signer.public().keyid());
    ops.set_last(true);
    let ops = Packet::from(ops).to_vec().map_err(err)?;
    let mut hash = SIGNATURE_HASH.context().map_err(err)?.for_signature(4);

    let literal_len = LITERAL_FIELDS.len() + plaintext.len();
    let literal_header = header_len(literal_len);
    let before_signature = 1 + PREFIX + ops.len() + literal_header + literal_len;
    let mut out = Vec::with_capacity(
        PKESK_LEN * recipients.len() + 6 + before_signature + SIGNATURE_ROOM + MDC,
    );

    // The session key and the random prefix.
    let mut random = Zeroizing::new([0u8; 32 + 16]);
    OsRng.fill_bytes(&mut random[..]);
    let mut session_key = Zeroizing::new([0u8; 32]);
    session_key.copy_from_slice(&random[..32]);
    let prefix = &random[32..];
    // The wrapped block: algorithm octet, key, 16-bit checksum, PKCS#5 padding to 40.
    let mut m = Zeroizing::new([5u8; 40]);
    m[0] = u8::from(SymmetricAlgorithm::AES256);
    m[1..33].copy_from_slice(&session_key[..]);
    let checksum = session_key
        .iter()
        .fold(0u16, |sum, b| sum.wrapping_add(u16::from(*b)));
    m[33..35].copy_from_slice(&checksum.to_be_bytes());

    for r in recipients {
        let Some(direct) = &r.direct else {
            return Err(EnvelopeError::UnknownRecipient(r.fingerprint().to_string()));
        };
        let (ephemeral, wrapped) = direct.wrap(&m)?;
        out.extend_from_slice(&[0xc1, PKESK_BODY as u8, 3]);
        out.extend_from_slice(&direct.keyid);
        out.extend_from_slice(&[u8::from(PublicKeyAlgorithm::ECDH), 0x01, 0x07, 0x40]);
        out.extend_from_slice(&ephemeral);
        out.push(wrapped.len() as u8);
        out.extend_from_slice(&wrapped);
    }

    // The container's header slot, version 1, and the plaintext of the encrypted data up
    // to the end of the payload.
    let slot = out.len();
    out.extend_from_slice(&[0; 6]);
    out.push(1);
    let start = out.len();
    out.extend_from_slice(prefix);
    out.extend_from_slice(&prefix[14..16]);
    out.extend_from_slice(&ops);
    let at = out.len();
    out.resize(at + literal_header, 0);
    write_header(&mut out[at..], TAG_LITERAL, literal_len);
    out.extend_from_slice(&LITERAL_FIELDS);
    let data = out.len();
    out.extend_from_slice(plaintext);
    let data_end = out.len();

    // One pass over the whole steps.
    let mut mdc = Sha1::new();
    let mut cfb = Cfb::new(&session_key);
    let whole = start + (data_end - start) / 64 * 64;
    // The signature's digest runs ahead in 64-octet pieces aligned on the payload (so
    // that SHA-256 hashes them without buffering): before a step is encrypted, every
    // piece that starts in it has been hashed.
    let mut hashed = data;
    let mut at = start;
    while at < whole {
        let end = at + 64;
        while hashed < end && hashed < data_end {
            let piece = (hashed + 64).min(data_end);
            hash.update(&out[hashed..piece]);
            hashed = piece;
        }
        let step = &mut out[at..end];
        mdc.update(&step[..]);
        cfb.blocks(step);
        at = end;
    }
    // The rest of the payload, then the signature and the MDC.
    hash.update(&out[hashed..data_end]);
    let signature = SignatureBuilder::new(SignatureType::Binary)
        .set_signature_creation_time(SystemTime::now())
        .map_err(err)?
        .sign_hash(&mut signer, hash)
        .map_err(err)?;
    let signature = Packet::from(signature).to_vec().map_err(err)?;
    out.extend_from_slice(&signature);
    out.extend_from_slice(&[0xd3, 0x14]);
    mdc.update(&out[whole..]);
    let digest = mdc.finalize();
    out.extend_from_slice(&digest);
    cfb.finish(&mut out[whole..]);

    // The container's header in its shortest form, right after the PKESKs.
    let len = out.len() - (slot + 6);
    let header = header_len(len);
    if header < 6 {
        out.copy_within(slot + 6.., slot + header);
        out.truncate(out.len() - (6 - header));
    }
    write_header(&mut out[slot..slot + header], TAG_SEIPD, len);
    Ok(out)
}

fn sign_and_write(
    keyring: &Keyring,
    message: Message<'_>,
    plaintext: &[u8],
    date: Option<SystemTime>,
) -> Result<(), EnvelopeError> {
    let message = Signer::new(message, keyring.secrets.signer.clone())
        .map_err(err)?
        .hash_algo(SIGNATURE_HASH)
        .map_err(err)?
        .build()
        .map_err(err)?;
    let mut literal = LiteralWriter::new(message).format(DataFormat::Binary);
    if let Some(date) = date {
        literal = literal.date(date).map_err(err)?;
    }
    let mut literal = literal.build().map_err(err)?;
    literal
        .write_all(plaintext)
        .map_err(|e| EnvelopeError::Key(e.to_string()))?;
    literal.finalize().map_err(err)
}

/// Sealing to these JIDs' keys: [`Keyring::recipients`] then [`seal`].
pub fn seal_to<S: AsRef<str>>(
    keyring: &Keyring,
    jids: &[S],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let keys = keyring.recipients(jids)?;
    seal(keyring, &keys, plaintext)
}
