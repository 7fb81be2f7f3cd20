//! Wrapping a session key for one X25519 recipient, straight on the primitives.
//!
//! Sealing a group stanza for N members is N session-key wraps, so their cost is the cost
//! of a large fan-out. sequoia's generic path adds about 10–15% to the primitives per
//! recipient (boxed ciphers and digests, protected allocations, MPI round trips). For the
//! common case, v4 ECDH keys on Curve25519 (RFC 9580 §5.1.5, the RFC 6637 scheme), this
//! module does the wrap with the same pure-Rust crates sequoia's backend uses
//! (x25519-dalek, sha2, aes-kw) and nothing else; [`super::seal()`] puts the result into a
//! sequoia `PKESK3` and lets sequoia write every packet. v6 X25519 keys (RFC 9580
//! §5.1.6) are supported here for the benchmark floor; sealing to them goes through sequoia.
//!
//! Correctness is pinned by the tests: what this produces is opened by sequoia's stock
//! decryptor and by GnuPG. Secrets (ephemeral scalar, shared secret, KEK, the padded
//! session key) are zeroed when dropped.

use aes_kw::{KekAes128, KekAes192, KekAes256};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

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
    pub(crate) scheme: Scheme,
}

impl Recipient {
    /// None unless the key is a v4 ECDH/Cv25519 key with a SHA-2 KDF and an AES KEK, or
    /// a v6 X25519 key.
    pub fn for_key(key: &Key<PublicParts, UnspecifiedRole>) -> Option<Recipient> {
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
                    scheme: Scheme::Ecdh {
                        kdf,
                        kek_len,
                        param,
                    },
                })
            }
            mpi::PublicKey::X25519 { u } => Some(Recipient {
                public: *u,
                scheme: Scheme::X25519,
            }),
            _ => None,
        }
    }

    pub(crate) fn is_v4_ecdh(&self) -> bool {
        matches!(self.scheme, Scheme::Ecdh { .. })
    }

    /// The KEK from the shared secret, for either scheme.
    fn kek(&self, ephemeral: &[u8; 32], shared: &[u8; 32]) -> Zeroizing<Vec<u8>> {
        match &self.scheme {
            Scheme::Ecdh {
                kdf,
                kek_len,
                param,
            } => {
                let digest: Zeroizing<Vec<u8>> = Zeroizing::new(match kdf {
                    Kdf::Sha256 => kdf_hash::<Sha256>(shared, param),
                    Kdf::Sha384 => kdf_hash::<Sha384>(shared, param),
                    Kdf::Sha512 => kdf_hash::<Sha512>(shared, param),
                });
                Zeroizing::new(digest[..(*kek_len).min(digest.len())].to_vec())
            }
            Scheme::X25519 => {
                let mut ikm = Zeroizing::new([0u8; 96]);
                ikm[..32].copy_from_slice(ephemeral);
                ikm[32..64].copy_from_slice(&self.public);
                ikm[64..].copy_from_slice(shared);
                let mut kek = Zeroizing::new(vec![0u8; 16]);
                // 16 output bytes never exceed HKDF-SHA256's limit.
                let _ =
                    hkdf::Hkdf::<Sha256>::new(None, &ikm[..]).expand(b"OpenPGP X25519", &mut kek);
                kek
            }
        }
    }

    /// Wraps `m` (a multiple of 8 bytes) for this recipient with a fresh ephemeral key:
    /// returns the ephemeral public key and the wrapped bytes.
    pub fn wrap(&self, m: &[u8]) -> ([u8; 32], Vec<u8>) {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut seed[..]);
        let ephemeral = StaticSecret::from(*seed);
        let ephemeral_pub = *PublicKey::from(&ephemeral).as_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(self.public));
        let kek = self.kek(&ephemeral_pub, shared.as_bytes());
        (ephemeral_pub, key_wrap(&kek, m))
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
        let kek = self.kek(ephemeral, shared.as_bytes());
        let mut out = Zeroizing::new(vec![0u8; wrapped.len().checked_sub(8)?]);
        let ok = match kek.len() {
            16 => <[u8; 16]>::try_from(&kek[..])
                .is_ok_and(|k| KekAes128::from(k).unwrap(wrapped, &mut out).is_ok()),
            24 => <[u8; 24]>::try_from(&kek[..])
                .is_ok_and(|k| KekAes192::from(k).unwrap(wrapped, &mut out).is_ok()),
            _ => <[u8; 32]>::try_from(&kek[..])
                .is_ok_and(|k| KekAes256::from(k).unwrap(wrapped, &mut out).is_ok()),
        };
        ok.then_some(out)
    }
}

fn kdf_hash<D: Digest>(shared: &[u8], param: &[u8]) -> Vec<u8> {
    let mut h = D::new();
    h.update([0, 0, 0, 1]);
    h.update(shared);
    h.update(param);
    h.finalize().to_vec()
}

/// RFC 3394 AES key wrap with a KEK of 16, 24 or 32 bytes; `data` is a multiple of 8.
fn key_wrap(kek: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; data.len() + 8];
    // The KEK lengths come from `for_key` and callers pass whole blocks: the wrap cannot
    // fail, and `out` has the size it needs.
    let _ = match kek.len() {
        16 => <[u8; 16]>::try_from(kek).map(|k| KekAes128::from(k).wrap(data, &mut out)),
        24 => <[u8; 24]>::try_from(kek).map(|k| KekAes192::from(k).wrap(data, &mut out)),
        _ => <[u8; 32]>::try_from(kek).map(|k| KekAes256::from(k).wrap(data, &mut out)),
    };
    out
}
