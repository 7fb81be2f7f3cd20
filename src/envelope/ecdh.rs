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
    /// Nothing is allocated.
    pub fn wrap(&self, m: &[u8; 40]) -> ([u8; 32], [u8; 48]) {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut seed[..]);
        let ephemeral = StaticSecret::from(*seed);
        let ephemeral_pub = *PublicKey::from(&ephemeral).as_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(self.public));
        let (kek, len) = self.kek(&ephemeral_pub, shared.as_bytes());
        let mut out = [0u8; 48];
        key_wrap(&kek[..len], m, &mut out);
        (ephemeral_pub, out)
    }

    /// The receiving side's primitive work with `secret`: Diffie-Hellman with the
    /// ephemeral key, KEK, key unwrap. Returns the unwrapped bytes if the wrap checks out.
    pub fn unwrap(
        &self,
        secret: &StaticSecret,
        ephemeral: &[u8; 32],
        wrapped: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let shared = secret.diffie_hellman(&PublicKey::from(*ephemeral));
        let (kek, len) = self.kek(ephemeral, shared.as_bytes());
        let kek = &kek[..len];
        let mut out = Zeroizing::new(vec![0u8; wrapped.len().checked_sub(8)?]);
        let ok = match kek.len() {
            16 => <[u8; 16]>::try_from(kek)
                .is_ok_and(|k| KekAes128::from(k).unwrap(wrapped, &mut out).is_ok()),
            24 => <[u8; 24]>::try_from(kek)
                .is_ok_and(|k| KekAes192::from(k).unwrap(wrapped, &mut out).is_ok()),
            _ => <[u8; 32]>::try_from(kek)
                .is_ok_and(|k| KekAes256::from(k).unwrap(wrapped, &mut out).is_ok()),
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

/// RFC 3394 AES key wrap of 40 bytes with a KEK of 16, 24 or 32 bytes.
fn key_wrap(kek: &[u8], data: &[u8; 40], out: &mut [u8; 48]) {
    // The KEK lengths come from `for_key` and `out` has the size the wrap needs: it
    // cannot fail.
    let _ = match kek.len() {
        16 => <[u8; 16]>::try_from(kek).map(|k| KekAes128::from(k).wrap(data, out)),
        24 => <[u8; 24]>::try_from(kek).map(|k| KekAes192::from(k).wrap(data, out)),
        _ => <[u8; 32]>::try_from(kek).map(|k| KekAes256::from(k).wrap(data, out)),
    };
}
