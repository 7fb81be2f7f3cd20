//! The primitive floor of encrypting to one more recipient.
//!
//! Whatever an OpenPGP library does, wrapping the session key for one X25519 recipient
//! costs at least: 32 random bytes from the OS, one X25519 base-point multiplication (the
//! ephemeral public key), one X25519 Diffie-Hellman, the key derivation (the RFC 6637 KDF
//! for v4 ECDH keys, HKDF-SHA256 for v6 X25519 keys) and one AES key wrap. [`Floor::wrap`]
//! does exactly that with the same pure-Rust crates sequoia's `crypto-rust` backend uses
//! (x25519-dalek, sha2/hkdf, aes), and nothing else: no packet framing, no policy. The
//! benchmarks and `kgroup fanout` divide sequoia's per-recipient cost by it, measured in
//! the same run on the same machine, so the ratio says how much the library adds.

use aes_kw::{KekAes128, KekAes192, KekAes256};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x25519_dalek::{PublicKey, StaticSecret};

use sequoia_openpgp as openpgp;

use openpgp::crypto::mpi;
use openpgp::types::{HashAlgorithm, SymmetricAlgorithm};

use super::error::EnvelopeError;
use super::keys::EncryptionKey;

#[derive(Clone, Copy, Debug)]
enum Kdf {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Debug)]
enum Scheme {
    /// v4 ECDH over Curve25519 (RFC 6637 / RFC 9580 §11.5): KDF then AES key wrap of the
    /// session key padded to 40 bytes.
    Ecdh {
        kdf: Kdf,
        kek_len: usize,
        param: Vec<u8>,
    },
    /// v6 X25519 (RFC 9580 §5.1.6): HKDF-SHA256 then AES-128 key wrap of the bare key.
    X25519,
}

/// The primitive work of one recipient key, ready to be timed.
#[derive(Clone)]
pub struct Floor {
    recipient: [u8; 32],
    scheme: Scheme,
    /// A stand-in recipient secret for the decryption floor (same cost as the real one).
    unwrap_secret: StaticSecret,
}

impl std::fmt::Debug for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Floor")
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl Floor {
    /// The floor for this recipient key (X25519 only: v4 ECDH/Cv25519 or v6 X25519).
    pub fn for_key(key: &EncryptionKey) -> Result<Floor, EnvelopeError> {
        let unsupported = || {
            EnvelopeError::Key(format!(
                "no primitive floor for {} keys (X25519 only)",
                key.key().pk_algo()
            ))
        };
        match key.key().mpis() {
            mpi::PublicKey::ECDH {
                curve,
                q,
                hash,
                sym,
                ..
            } if *curve == openpgp::types::Curve::Cv25519 => {
                // q is 0x40 || u.
                let raw = q.value();
                let u: [u8; 32] = raw
                    .get(1..33)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(unsupported)?;
                let kdf = match hash {
                    HashAlgorithm::SHA256 => Kdf::Sha256,
                    HashAlgorithm::SHA384 => Kdf::Sha384,
                    HashAlgorithm::SHA512 => Kdf::Sha512,
                    _ => return Err(unsupported()),
                };
                let kek_len = match sym {
                    SymmetricAlgorithm::AES128 => 16,
                    SymmetricAlgorithm::AES192 => 24,
                    SymmetricAlgorithm::AES256 => 32,
                    _ => return Err(unsupported()),
                };
                // The RFC 6637 KDF parameter block: OID, algorithm, KDF params, the
                // "Anonymous Sender" tag and the recipient's fingerprint.
                let oid = curve.oid();
                let mut param = Vec::with_capacity(64);
                param.push(oid.len() as u8);
                param.extend_from_slice(oid);
                param.push(u8::from(openpgp::types::PublicKeyAlgorithm::ECDH));
                param.extend_from_slice(&[3, 1, u8::from(*hash), u8::from(*sym)]);
                param.extend_from_slice(b"Anonymous Sender    ");
                param.extend_from_slice(key.key().fingerprint().as_bytes());
                Ok(Floor {
                    recipient: u,
                    unwrap_secret: random_secret(),
                    scheme: Scheme::Ecdh {
                        kdf,
                        kek_len,
                        param,
                    },
                })
            }
            mpi::PublicKey::X25519 { u } => Ok(Floor {
                recipient: *u,
                unwrap_secret: random_secret(),
                scheme: Scheme::X25519,
            }),
            _ => Err(unsupported()),
        }
    }

    /// One recipient's primitive work on the receiving side, the floor of opening: one
    /// X25519 Diffie-Hellman with the ephemeral key, the key derivation and one AES key
    /// unwrap of `wrapped` (as [`Floor::wrap`] returned it). Returns whether the unwrap
    /// checked out (it does not here: the secret is a stand-in, the work is the same).
    pub fn unwrap(&self, ephemeral: &[u8; 32], wrapped: &[u8]) -> bool {
        let shared = self
            .unwrap_secret
            .diffie_hellman(&PublicKey::from(*ephemeral));
        let kek: Vec<u8> = match &self.scheme {
            Scheme::Ecdh {
                kdf,
                kek_len,
                param,
            } => {
                let mut digest = [0u8; 64];
                let n = match kdf {
                    Kdf::Sha256 => copy(&mut digest, kdf_hash::<Sha256>(shared.as_bytes(), param)),
                    Kdf::Sha384 => copy(&mut digest, kdf_hash::<Sha384>(shared.as_bytes(), param)),
                    Kdf::Sha512 => copy(&mut digest, kdf_hash::<Sha512>(shared.as_bytes(), param)),
                };
                digest[..(*kek_len).min(n)].to_vec()
            }
            Scheme::X25519 => {
                let mut ikm = [0u8; 96];
                ikm[..32].copy_from_slice(ephemeral);
                ikm[32..64].copy_from_slice(&self.recipient);
                ikm[64..].copy_from_slice(shared.as_bytes());
                let mut kek = [0u8; 16];
                let _ = hkdf::Hkdf::<Sha256>::new(None, &ikm).expand(b"OpenPGP X25519", &mut kek);
                kek.to_vec()
            }
        };
        let mut out = vec![0u8; wrapped.len().saturating_sub(8)];
        let r = match kek.len() {
            16 => <[u8; 16]>::try_from(&kek[..])
                .map(|k| KekAes128::from(k).unwrap(wrapped, &mut out).is_ok()),
            24 => <[u8; 24]>::try_from(&kek[..])
                .map(|k| KekAes192::from(k).unwrap(wrapped, &mut out).is_ok()),
            _ => <[u8; 32]>::try_from(&kek[..])
                .map(|k| KekAes256::from(k).unwrap(wrapped, &mut out).is_ok()),
        };
        r.unwrap_or(false)
    }

    /// One recipient's primitive work: returns the ephemeral public key and the wrapped
    /// session key (so nothing can be optimised away).
    pub fn wrap(&self, session_key: &[u8; 32]) -> ([u8; 32], Vec<u8>) {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let ephemeral = StaticSecret::from(seed);
        let ephemeral_pub = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&PublicKey::from(self.recipient));
        let wrapped = match &self.scheme {
            Scheme::Ecdh {
                kdf,
                kek_len,
                param,
            } => {
                let mut digest = [0u8; 64];
                let n = match kdf {
                    Kdf::Sha256 => copy(&mut digest, kdf_hash::<Sha256>(shared.as_bytes(), param)),
                    Kdf::Sha384 => copy(&mut digest, kdf_hash::<Sha384>(shared.as_bytes(), param)),
                    Kdf::Sha512 => copy(&mut digest, kdf_hash::<Sha512>(shared.as_bytes(), param)),
                };
                let kek = &digest[..(*kek_len).min(n)];
                // Session key (32) + checksum (2) + algorithm octet, PKCS#5-padded to 40.
                let mut m = [5u8; 40];
                m[..32].copy_from_slice(session_key);
                wrap(kek, &m)
            }
            Scheme::X25519 => {
                let mut ikm = [0u8; 96];
                ikm[..32].copy_from_slice(ephemeral_pub.as_bytes());
                ikm[32..64].copy_from_slice(&self.recipient);
                ikm[64..].copy_from_slice(shared.as_bytes());
                let mut kek = [0u8; 16];
                // 16 output bytes never exceed HKDF-SHA256's limit.
                let _ = hkdf::Hkdf::<Sha256>::new(None, &ikm).expand(b"OpenPGP X25519", &mut kek);
                wrap(&kek, session_key)
            }
        };
        (*ephemeral_pub.as_bytes(), wrapped)
    }
}

fn random_secret() -> StaticSecret {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    StaticSecret::from(seed)
}

fn kdf_hash<D: Digest>(shared: &[u8], param: &[u8]) -> impl AsRef<[u8]> {
    let mut h = D::new();
    h.update([0, 0, 0, 1]);
    h.update(shared);
    h.update(param);
    h.finalize()
}

fn copy(dst: &mut [u8; 64], src: impl AsRef<[u8]>) -> usize {
    let src = src.as_ref();
    let n = src.len().min(64);
    dst[..n].copy_from_slice(&src[..n]);
    n
}

/// RFC 3394 AES key wrap with a KEK of 16, 24 or 32 bytes; `data` is a multiple of 8.
fn wrap(kek: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; data.len() + 8];
    // The KEK lengths and data sizes above are always valid for the key wrap.
    let _ = match kek.len() {
        16 => <[u8; 16]>::try_from(kek).map(|k| KekAes128::from(k).wrap(data, &mut out)),
        24 => <[u8; 24]>::try_from(kek).map(|k| KekAes192::from(k).wrap(data, &mut out)),
        _ => <[u8; 32]>::try_from(kek).map(|k| KekAes256::from(k).wrap(data, &mut out)),
    };
    out
}
