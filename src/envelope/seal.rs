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
//! When every recipient is a v4 ECDH/Cv25519 key (what GnuPG 2.2 reads, our default), the
//! session key is wrapped for each recipient by [`super::ecdh`] straight on the primitives
//! and put into sequoia `PKESK3` packets; sequoia writes everything else. Otherwise (v6
//! keys, post-quantum keys, mixed) sequoia's `Encryptor` does all of it. [`seal_sequoia`]
//! always takes sequoia's path: the benchmarks compare both, the tests open both.

use std::io::Write;

use sequoia_openpgp as openpgp;

use openpgp::crypto::mpi::{Ciphertext, MPI};
use openpgp::crypto::SessionKey;
use openpgp::packet::pkesk::PKESK3;
use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::serialize::Serialize;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SymmetricAlgorithm};
use openpgp::Packet;
use zeroize::Zeroizing;

use super::error::{one_line, EnvelopeError};
use super::keyring::Keyring;
use super::keys::EncryptionKey;

/// The digest every signature is made with.
const SIGNATURE_HASH: HashAlgorithm = HashAlgorithm::SHA256;

/// Signs `plaintext` with my key and encrypts it once to all `recipients`' keys (see
/// [`Keyring::recipients`]). Returns the binary OpenPGP message.
pub fn seal(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if !recipients.is_empty() && recipients.iter().all(|r| r.direct.is_some()) {
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
    if recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    // Packet overhead: ~100 bytes per recipient, a few hundred for the signature.
    let mut sink = Vec::with_capacity(plaintext.len() + 128 * recipients.len() + 512);
    {
        let message = Message::new(&mut sink);
        let message = Encryptor::for_recipients(
            message,
            recipients
                .iter()
                .map(|r| Recipient::new(r.features.clone(), r.handle.clone(), &r.key)),
        )
        .build()
        .map_err(err)?;
        sign_and_write(keyring, message, plaintext)?;
    }
    Ok(sink)
}

/// The direct path: v3 PKESKs with the session key wrapped by [`super::ecdh`], then a
/// SEIPD v1 packet that sequoia writes with that session key.
fn seal_direct(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let algo = SymmetricAlgorithm::AES256;
    let session_key = SessionKey::new(32).map_err(err)?;
    // The wrapped block: algorithm octet, key, 16-bit checksum, PKCS#5 padding to 40.
    let mut m = Zeroizing::new([5u8; 40]);
    m[0] = u8::from(algo);
    m[1..33].copy_from_slice(&session_key);
    let checksum = session_key
        .iter()
        .fold(0u16, |sum, b| sum.wrapping_add(u16::from(*b)));
    m[33..35].copy_from_slice(&checksum.to_be_bytes());

    let mut sink = Vec::with_capacity(plaintext.len() + 100 * recipients.len() + 512);
    let mut e = [0x40u8; 33];
    for r in recipients {
        let Some(direct) = &r.direct else {
            return Err(EnvelopeError::UnknownRecipient(r.fingerprint().to_string()));
        };
        let (ephemeral, wrapped) = direct.wrap(&m[..]);
        e[1..].copy_from_slice(&ephemeral);
        let esk = Ciphertext::ECDH {
            e: MPI::new(&e),
            key: wrapped.into_boxed_slice(),
        };
        let pkesk = PKESK3::new(Some(r.key.keyid()), PublicKeyAlgorithm::ECDH, esk).map_err(err)?;
        Packet::PKESK(pkesk.into())
            .serialize(&mut sink)
            .map_err(err)?;
    }
    {
        let message = Message::new(&mut sink);
        let message = Encryptor::with_session_key(message, algo, session_key)
            .map_err(err)?
            .build()
            .map_err(err)?;
        sign_and_write(keyring, message, plaintext)?;
    }
    Ok(sink)
}

fn sign_and_write(
    keyring: &Keyring,
    message: Message<'_>,
    plaintext: &[u8],
) -> Result<(), EnvelopeError> {
    let message = Signer::new(message, keyring.secrets.signer.clone())
        .map_err(err)?
        .hash_algo(SIGNATURE_HASH)
        .map_err(err)?
        .build()
        .map_err(err)?;
    let mut literal = LiteralWriter::new(message).build().map_err(err)?;
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
