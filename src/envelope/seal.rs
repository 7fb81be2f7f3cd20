//! Sealing: sign once by the sender, encrypt once to every recipient.
//!
//! The protocol multicasts one stanza to all members through XEP-0033, so its payload must
//! be readable by each of them: one random session key encrypts the signed payload once,
//! and one PKESK packet per recipient key wraps that session key. The cost per recipient
//! is one public-key operation and a few dozen bytes, not a second copy of the message.
//!
//! The message is `PKESK* SEIPD( OnePassSig Literal Signature )`: the signature is inside
//! the encryption, so the server sees neither the payload nor who signed it.

use std::io::Write;

use sequoia_openpgp as openpgp;

use openpgp::serialize::stream::{Encryptor, LiteralWriter, Message, Recipient, Signer};

use super::error::{one_line, EnvelopeError};
use super::keyring::Keyring;
use super::keys::EncryptionKey;

/// Signs `plaintext` with my key and encrypts it once to all `recipients`' keys (see
/// [`Keyring::recipients`]). Returns the binary OpenPGP message.
pub fn seal(
    keyring: &Keyring,
    recipients: &[&EncryptionKey],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    let err = |e: openpgp::anyhow::Error| EnvelopeError::Key(one_line(&e));
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
        let message = Signer::new(message, keyring.secrets.signer.clone())
            .map_err(err)?
            .build()
            .map_err(err)?;
        let mut literal = LiteralWriter::new(message).build().map_err(err)?;
        literal
            .write_all(plaintext)
            .map_err(|e| EnvelopeError::Key(e.to_string()))?;
        literal.finalize().map_err(err)?;
    }
    Ok(sink)
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
