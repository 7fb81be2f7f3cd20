//! Why sealing or opening an envelope failed.
//!
//! Opening handles bytes that came from the network, so every way those bytes can be wrong
//! has its own variant: the core (and the tests) must be able to tell "not for me" from
//! "tampered" from "signed by someone we do not know", and none of them may panic.

use std::fmt;

/// A typed envelope failure. `Display` is one line, suitable for a log or a CLI error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The bytes are not a well-formed OpenPGP message (bad packet framing, wrong packet
    /// sequence, truncated input, ...). The detail is sequoia's description.
    Malformed(String),
    /// A well-formed OpenPGP message, but not an encrypted one.
    NotEncrypted,
    /// Encrypted, but none of the recipients (PKESKs) is one of my keys.
    NotForMe,
    /// The ciphertext was modified: the MDC, the AEAD tag or the session-key check failed.
    Integrity,
    /// Decrypted, but carries no signature.
    Unsigned,
    /// Carries more than one signature; a group stanza has exactly one sender.
    MultipleSignatures,
    /// Signed by a key that is in no certificate of the keyring.
    UnknownSigner { issuer: String },
    /// Signed by a known certificate, but the signature does not verify, is not a binary
    /// document signature, or the certificate or signing key was not valid, alive and
    /// unrevoked when the signature was made or is not now.
    BadSignature { signer: String, detail: String },
    /// Sealing: no recipients were given.
    NoRecipients,
    /// Sealing: this identity is not in the keyring, or has no usable encryption key.
    UnknownRecipient(String),
    /// A certificate or key could not be generated, parsed or used, or a certificate was
    /// refused by the keyring (a low-order X25519 key, a key another certificate holds).
    Key(String),
    /// Opening: the plaintext is longer than the limit ([`super::open::Limits`]); it
    /// was not read further.
    TooLarge { limit: usize },
    /// Opening: a compression layer that is refused (a second layer, or an algorithm no
    /// peer uses).
    Compression(String),
    /// Opening: more PKESKs may be mine (they name my key, or nobody) than the limit of
    /// tries; each would cost a Diffie-Hellman.
    TooManyForMe { limit: usize },
}

impl EnvelopeError {
    /// A short, stable name of the variant, for reports and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            EnvelopeError::Malformed(_) => "malformed",
            EnvelopeError::NotEncrypted => "not-encrypted",
            EnvelopeError::NotForMe => "not-for-me",
            EnvelopeError::Integrity => "integrity",
            EnvelopeError::Unsigned => "unsigned",
            EnvelopeError::MultipleSignatures => "multiple-signatures",
            EnvelopeError::UnknownSigner { .. } => "unknown-signer",
            EnvelopeError::BadSignature { .. } => "bad-signature",
            EnvelopeError::NoRecipients => "no-recipients",
            EnvelopeError::UnknownRecipient(_) => "unknown-recipient",
            EnvelopeError::Key(_) => "key",
            EnvelopeError::TooLarge { .. } => "too-large",
            EnvelopeError::Compression(_) => "compression",
            EnvelopeError::TooManyForMe { .. } => "too-many-for-me",
        }
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Malformed(d) => write!(f, "malformed OpenPGP message: {d}"),
            EnvelopeError::NotEncrypted => f.write_str("the message is not encrypted"),
            EnvelopeError::NotForMe => f.write_str("the message is not encrypted to my key"),
            EnvelopeError::Integrity => {
                f.write_str("integrity check failed: the ciphertext was tampered with")
            }
            EnvelopeError::Unsigned => f.write_str("the message carries no signature"),
            EnvelopeError::MultipleSignatures => {
                f.write_str("the message carries more than one signature")
            }
            EnvelopeError::UnknownSigner { issuer } => {
                write!(f, "signed by an unknown key {issuer}")
            }
            EnvelopeError::BadSignature { signer, detail } => {
                write!(f, "bad signature by {signer}: {detail}")
            }
            EnvelopeError::NoRecipients => f.write_str("no recipients to encrypt to"),
            EnvelopeError::UnknownRecipient(who) => {
                write!(f, "no usable encryption key for recipient {who}")
            }
            EnvelopeError::Key(d) => write!(f, "key error: {d}"),
            EnvelopeError::TooLarge { limit } => {
                write!(f, "the plaintext is longer than the limit of {limit} bytes")
            }
            EnvelopeError::Compression(d) => write!(f, "compression refused: {d}"),
            EnvelopeError::TooManyForMe { limit } => write!(
                f,
                "more than {limit} recipients may be my key: refused without trying them all"
            ),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// One line out of an `anyhow` chain from sequoia (its errors nest their causes).
pub(crate) fn one_line(e: &sequoia_openpgp::anyhow::Error) -> String {
    let mut s = String::new();
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            s.push_str(": ");
        }
        s.push_str(&cause.to_string());
    }
    s.replace('\n', " ")
}

/// Maps a sequoia error met while *parsing or decrypting* untrusted bytes.
pub(crate) fn from_parse(e: sequoia_openpgp::anyhow::Error) -> EnvelopeError {
    use sequoia_openpgp::Error as E;
    match e.downcast_ref::<E>() {
        Some(E::ManipulatedMessage) => EnvelopeError::Integrity,
        _ => {
            // An AEAD tag failure surfaces as an I/O error wrapping sequoia's error.
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if let Some(inner) = io.get_ref().and_then(|i| i.downcast_ref::<E>()) {
                    if matches!(inner, E::ManipulatedMessage) {
                        return EnvelopeError::Integrity;
                    }
                }
            }
            EnvelopeError::Malformed(one_line(&e))
        }
    }
}
