//! The primitive floor of encrypting to one more recipient.
//!
//! Whatever an OpenPGP library does, wrapping the session key for one X25519 recipient
//! costs at least: 32 random bytes from the OS, one X25519 base-point multiplication (the
//! ephemeral public key), one X25519 Diffie-Hellman, the key derivation (the RFC 6637 KDF
//! for v4 ECDH keys, HKDF-SHA256 for v6 X25519 keys) and one AES key wrap. [`Floor::wrap`]
//! is exactly that ([`kgroup::envelope::ecdh`], on x25519-dalek, sha2/hkdf and aes-kw, the crates
//! sequoia's `crypto-rust` backend builds on) and nothing else: no session-key encoding,
//! no packet, no policy. The benchmarks and `kgroup fanout` divide the per-recipient cost
//! of sealing by it, measured in the same run, so the ratio says what the envelope adds.
//! [`Floor::unwrap`] is the same for the receiving side: one Diffie-Hellman, the key
//! derivation and one key unwrap.

use rand_core::{OsRng, RngCore};
use x25519_dalek::StaticSecret;

use kgroup::envelope::ecdh::Recipient;
use kgroup::envelope::{EncryptionKey, EnvelopeError};

/// The primitive work of one recipient key, ready to be timed.
#[derive(Clone)]
pub struct Floor {
    recipient: Recipient,
    /// A stand-in recipient secret for the decryption floor (the same work as the real one).
    unwrap_secret: StaticSecret,
}

impl std::fmt::Debug for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Floor")
            .field("recipient", &self.recipient)
            .finish()
    }
}

impl Floor {
    /// The floor for this recipient key (X25519 only: v4 ECDH/Cv25519 or v6 X25519).
    pub fn for_key(key: &EncryptionKey) -> Result<Floor, EnvelopeError> {
        let recipient = Recipient::for_key(key.key()).ok_or_else(|| {
            EnvelopeError::Key(format!(
                "no primitive floor for {} keys (X25519 only)",
                key.key().pk_algo()
            ))
        })?;
        // One wrap up front: a key the direct path refuses (a low-order point) is
        // refused here, so that [`Floor::wrap`] cannot fail afterwards.
        recipient.wrap(&[5u8; 40])?;
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Ok(Floor {
            recipient,
            unwrap_secret: StaticSecret::from(seed),
        })
    }

    /// One recipient's primitive work: wraps a 40-byte block (the size of a padded
    /// AES-256 session key). Returns the ephemeral public key and the wrapped bytes.
    pub fn wrap(&self, session_key: &[u8; 32]) -> ([u8; 32], [u8; 48]) {
        let mut m = [5u8; 40];
        m[..32].copy_from_slice(session_key);
        // `for_key` wrapped once for this key: the wrap fails only for a low-order key or
        // a KEK of a bad length, and neither changes after that.
        self.recipient
            .wrap(&m)
            .expect("Floor::for_key checked that this key wraps")
    }

    /// The receiving side's primitive work on what [`Floor::wrap`] returned. Returns
    /// whether the unwrap checked out (it does not: the secret is a stand-in; the work
    /// is the same).
    pub fn unwrap(&self, ephemeral: &[u8; 32], wrapped: &[u8]) -> bool {
        self.recipient
            .unwrap(&self.unwrap_secret, ephemeral, wrapped)
            .is_some()
    }
}
