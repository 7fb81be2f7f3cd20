//! Wrapping a session key for one X25519 recipient, straight on the primitives.
//!
//! Sealing a group stanza for N members is N session-key wraps, so their cost is the cost
//! of a large fan-out. sequoia's generic path adds work to the primitives per recipient
//! (boxed ciphers and digests, protected allocations, MPI round trips; the figures are in
//! docs/performance.md, from `cargo bench --bench fanout`). For the
//! common case, v4 ECDH keys on Curve25519 (RFC 9580 §5.1.5, the RFC 6637 scheme), this
//! module does the wrap with the same pure-Rust crates sequoia's backend uses
//! (x25519-dalek, sha2, aes-kw) and nothing else, on stack buffers (no allocation);
//! [`super::seal()`] writes the v3 PKESK from the result. v6 X25519 keys (RFC 9580
//! §5.1.6) are supported here for the benchmark floor; sealing to them goes through sequoia.
//!
//! Correctness is pinned by the tests: what this produces is opened by sequoia's stock
//! decryptor and by GnuPG. Secrets (ephemeral scalar, shared secret, KEK, the padded
//! session key) are zeroed when dropped.
//!
//! A low-order X25519 public key (u = 0, 1, the points of order 8, and their non-canonical
//! encodings) makes the Diffie-Hellman result all zeros whatever the other side's scalar,
//! so the KEK would be computable by anyone. [`is_low_order`] is checked when a
//! certificate enters the keyring (such a certificate is refused), and again by
//! [`Recipient::wrap`] (an error) and [`Recipient::unwrap`] (no result) on every shared
//! secret, x25519-dalek's `was_contributory`.

use aes_kw::{KekAes128, KekAes192, KekAes256};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use sequoia_openpgp as openpgp;

use openpgp::crypto::mpi;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::types::{Curve, HashAlgorithm, PublicKeyAlgorithm, SymmetricAlgorithm};

use super::error::EnvelopeError;

/// Whether the X25519 public key `u` is of small order: its Diffie-Hellman with any
/// scalar is all zeros (not contributory). One Diffie-Hellman with a fixed scalar decides
/// it: X25519 clamps every scalar to a multiple of the cofactor 8, which sends every
/// point of small order to zero and no other.
pub fn is_low_order(u: &[u8; 32]) -> bool {
    let probe = StaticSecret::from([0x55u8; 32]);
    !probe
        .diffie_hellman(&PublicKey::from(*u))
        .was_contributory()
}

/// The X25519 public key inside `key`, for every key kind that has one: v4 ECDH over
/// Curve25519 (whatever its KDF parameters), v6 X25519, and the X25519 half of
/// ML-KEM-768+X25519. None for any other key (and for a malformed Curve25519 point,
/// which no implementation encrypts to).
pub fn x25519_public(key: &Key<PublicParts, UnspecifiedRole>) -> Option<[u8; 32]> {
    match key.mpis() {
        mpi::PublicKey::ECDH { curve, q, .. } if *curve == Curve::Cv25519 => {
            let raw = q.value();
            if raw.len() != 33 || raw[0] != 0x40 {
                return None;
            }
            raw[1..33].try_into().ok()
        }
        mpi::PublicKey::X25519 { u } => Some(*u),
        mpi::PublicKey::MLKEM768_X25519 { ecdh, .. } => Some(**ecdh),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kdf {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Debug)]
pub(crate) enum Scheme {
    /// v4 ECDH over Curve25519: the RFC 6637 KDF, then AES key wrap of the algorithm
    /// octet, session key and checksum, PKCS#5-padded to 40 bytes.
    Ecdh {
        kdf: Kdf,
        kek_len: usize,
        /// The KDF parameter block (OID, algorithms, "Anonymous Sender", fingerprint).
        param: Vec<u8>,
    },
    /// v6 X25519: HKDF-SHA256, then AES-128 key wrap of the bare session key.
    X25519,
}

/// One X25519 recipient key, prepared for wrapping session keys.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub(crate) public: [u8; 32],
    /// The key id a v3 PKESK names the key by (kept here so that sealing reads one
    /// compact struct per recipient).
    pub(crate) keyid: [u8; 8],
    pub(crate) scheme: Scheme,
}

impl Recipient {
    /// None unless the key is a v4 ECDH/Cv25519 key with a SHA-2 KDF and an AES KEK, or
    /// a v6 X25519 key.
    pub fn for_key(key: &Key<PublicParts, UnspecifiedRole>) -> Option<Recipient> {
        let keyid: [u8; 8] = key.keyid().as_bytes().try_into().ok()?;
        match key.mpis() {
            mpi::PublicKey::ECDH {
                curve,
                q,
                hash,
                sym,
                ..
            } if *curve == Curve::Cv25519 => {
                // q is 0x40 || u.
                let raw = q.value();
                if raw.len() != 33 || raw[0] != 0x40 {
                    return None;
                }
                let public: [u8; 32] = raw[1..33].try_into().ok()?;
                let kdf = match hash {
                    HashAlgorithm::SHA256 => Kdf::Sha256,
                    HashAlgorithm::SHA384 => Kdf::Sha384,
                    HashAlgorithm::SHA512 => Kdf::Sha512,
                    _ => return None,
                };
                let kek_len = match sym {
                    SymmetricAlgorithm::AES128 => 16,
                    SymmetricAlgorithm::AES192 => 24,
                    SymmetricAlgorithm::AES256 => 32,
                    _ => return None,
                };
                let oid = curve.oid();
                let mut param = Vec::with_capacity(64);
                param.push(oid.len() as u8);
                param.extend_from_slice(oid);
                param.push(u8::from(PublicKeyAlgorithm::ECDH));
                param.extend_from_slice(&[3, 1, u8::from(*hash), u8::from(*sym)]);
                param.extend_from_slice(b"Anonymous Sender    ");
                param.extend_from_slice(key.fingerprint().as_bytes());
                Some(Recipient {
                    public,
                    keyid,
                    scheme: Scheme::Ecdh {
                        kdf,
                        kek_len,
                        param,
                    },
                })
            }
            mpi::PublicKey::X25519 { u } => Some(Recipient {
                public: *u,
                keyid,
                scheme: Scheme::X25519,
            }),
            _ => None,
        }
    }

    pub(crate) fn is_v4_ecdh(&self) -> bool {
        matches!(self.scheme, Scheme::Ecdh { .. })
    }

    /// The KEK from the shared secret, for either scheme: the first `len` bytes.
    fn kek(&self, ephemeral: &[u8; 32], shared: &[u8; 32]) -> (Zeroizing<[u8; 32]>, usize) {
        let mut kek = Zeroizing::new([0u8; 32]);
        match &self.scheme {
            Scheme::Ecdh {
                kdf,
                kek_len,
                param,
            } => {
                let len = match kdf {
                    Kdf::Sha256 => kdf_hash::<Sha256>(shared, param, &mut kek[..]),
                    Kdf::Sha384 => kdf_hash::<Sha384>(shared, param, &mut kek[..]),
                    Kdf::Sha512 => kdf_hash::<Sha512>(shared, param, &mut kek[..]),
                };
                (kek, (*kek_len).min(len))
            }
            Scheme::X25519 => {
                let mut ikm = Zeroizing::new([0u8; 96]);
                ikm[..32].copy_from_slice(ephemeral);
                ikm[32..64].copy_from_slice(&self.public);
                ikm[64..].copy_from_slice(shared);
                // 16 output bytes never exceed HKDF-SHA256's limit.
                let _ = hkdf::Hkdf::<Sha256>::new(None, &ikm[..])
                    .expand(b"OpenPGP X25519", &mut kek[..16]);
                (kek, 16)
            }
        }
    }

    /// Wraps `m` (an AES-256 session key block padded to 40 bytes) for this recipient
    /// with a fresh ephemeral key: returns the ephemeral public key and the wrapped bytes.
    /// Nothing is allocated. A low-order recipient key (a non-contributory shared
    /// secret: the KEK would be public) is an error, so is a failed key wrap.
    pub fn wrap(&self, m: &[u8; 40]) -> Result<([u8; 32], [u8; 48]), EnvelopeError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut seed[..]);
        let ephemeral = StaticSecret::from(*seed);
        let ephemeral_pub = *PublicKey::from(&ephemeral).as_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(self.public));
        if !shared.was_contributory() {
            return Err(EnvelopeError::Key(
                "low-order X25519 recipient key: the shared secret is not contributory".into(),
            ));
        }
        let (kek, len) = self.kek(&ephemeral_pub, shared.as_bytes());
        let mut out = [0u8; 48];
        key_wrap(&kek[..len], m, &mut out)?;
        Ok((ephemeral_pub, out))
    }

    /// The receiving side's primitive work with `secret`: Diffie-Hellman with the
    /// ephemeral key, KEK, key unwrap. Returns the unwrapped bytes if the wrap checks out;
    /// None also for a low-order ephemeral key (a non-contributory shared secret).
    pub fn unwrap(
        &self,
        secret: &StaticSecret,
        ephemeral: &[u8; 32],
        wrapped: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let shared = secret.diffie_hellman(&PublicKey::from(*ephemeral));
        if !shared.was_contributory() {
            return None;
        }
        let (kek, len) = self.kek(ephemeral, shared.as_bytes());
        let kek = &kek[..len];
        let mut out = Zeroizing::new(vec![0u8; wrapped.len().checked_sub(8)?]);
        let ok = match kek.len() {
            16 => KekAes128::try_from(kek).is_ok_and(|k| k.unwrap(wrapped, &mut out).is_ok()),
            24 => KekAes192::try_from(kek).is_ok_and(|k| k.unwrap(wrapped, &mut out).is_ok()),
            32 => KekAes256::try_from(kek).is_ok_and(|k| k.unwrap(wrapped, &mut out).is_ok()),
            _ => false,
        };
        ok.then_some(out)
    }
}

/// The RFC 6637 KDF (one round): writes the digest into `out`'s head, returns its length.
fn kdf_hash<D: Digest>(shared: &[u8], param: &[u8], out: &mut [u8]) -> usize {
    let mut h = D::new();
    h.update([0, 0, 0, 1]);
    h.update(shared);
    h.update(param);
    let mut digest = h.finalize();
    let len = digest.len().min(out.len());
    out[..len].copy_from_slice(&digest[..len]);
    digest.as_mut_slice().zeroize();
    len
}

/// RFC 3394 AES key wrap of 40 bytes with a KEK of 16, 24 or 32 bytes; any other KEK
/// length, or a failure of the wrap, is an error (nothing is written to `out` then).
fn key_wrap(kek: &[u8], data: &[u8; 40], out: &mut [u8; 48]) -> Result<(), EnvelopeError> {
    let wrapped = match kek.len() {
        16 => KekAes128::try_from(kek).and_then(|k| k.wrap(data, out)),
        24 => KekAes192::try_from(kek).and_then(|k| k.wrap(data, out)),
        32 => KekAes256::try_from(kek).and_then(|k| k.wrap(data, out)),
        n => {
            return Err(EnvelopeError::Key(format!(
                "AES key wrap: a KEK of {n} bytes (16, 24 or 32)"
            )))
        }
    };
    wrapped.map_err(|e| EnvelopeError::Key(format!("AES key wrap: {e}")))
}
