//! OpenPGP keys bound to XMPP identities.
//!
//! A group member is known by its bare JID, and its authority (for the owner: the right to
//! change the group) rests on its OpenPGP key, so a certificate carries exactly one user id
//! of the form `xmpp:<bare jid>` (the form Kontalk uses) and keys for signing and for
//! encryption. [`Suite`] picks the algorithms: Curve25519 in OpenPGP v4 keys (what GnuPG
//! 2.2 and today's deployed clients read), Curve25519 in RFC 9580 v6 keys, or the
//! post-quantum ML-KEM-768+X25519 / ML-DSA-65+Ed25519 composite suite (v6 only).

use std::time::{Duration, SystemTime};

use sequoia_openpgp as openpgp;

use openpgp::cert::Preferences;
use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::crypto::KeyPair;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::Parse;
use openpgp::policy::{Policy, StandardPolicy};
use openpgp::serialize::SerializeInto;
use openpgp::types::Features;
use openpgp::{Cert, Fingerprint, KeyHandle, Profile};

use super::error::{one_line, EnvelopeError};

/// The policy every key and signature is judged by.
pub(crate) static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// The user id prefix that binds a certificate to an XMPP identity.
pub const XMPP_UID_PREFIX: &str = "xmpp:";

/// Which algorithms a generated key uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Suite {
    /// Ed25519 signing and X25519 (ECDH) encryption in OpenPGP v4 keys; messages use
    /// SEIPD v1 (CFB + MDC). Readable by GnuPG 2.2.
    #[default]
    Cv25519,
    /// Ed25519 and X25519 in RFC 9580 v6 keys; messages use SEIPD v2 (AEAD, OCB).
    Cv25519V6,
    /// RFC 9580 v6 keys with the post-quantum composites ML-DSA-65+Ed25519 (signing) and
    /// ML-KEM-768+X25519 (encryption), as sequoia implements draft-ietf-openpgp-pqc.
    MlKem768X25519,
}

impl Suite {
    pub fn name(&self) -> &'static str {
        match self {
            Suite::Cv25519 => "cv25519",
            Suite::Cv25519V6 => "cv25519-v6",
            Suite::MlKem768X25519 => "mlkem768-x25519",
        }
    }

    pub fn all() -> [Suite; 3] {
        [Suite::Cv25519, Suite::Cv25519V6, Suite::MlKem768X25519]
    }

    fn builder_params(&self) -> (CipherSuite, Profile) {
        match self {
            Suite::Cv25519 => (CipherSuite::Cv25519, Profile::RFC4880),
            Suite::Cv25519V6 => (CipherSuite::Cv25519, Profile::RFC9580),
            Suite::MlKem768X25519 => (CipherSuite::MLDSA65_Ed25519, Profile::RFC9580),
        }
    }
}

impl std::str::FromStr for Suite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Suite::all()
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                format!("unknown key suite '{s}' (cv25519, cv25519-v6, mlkem768-x25519)")
            })
    }
}

/// The bare JID a certificate is bound to: its first valid `xmpp:` user id (one with a
/// self-signature the policy accepts now, not revoked). A user id without a valid binding
/// (anyone can append one to any certificate) names nobody.
pub fn jid_of(cert: &Cert) -> Option<String> {
    let vc = cert.with_policy(&POLICY as &dyn Policy, None).ok()?;
    vc.userids().revoked(false).find_map(|ua| {
        let value = std::str::from_utf8(ua.userid().value()).ok()?;
        let jid = value.strip_prefix(XMPP_UID_PREFIX)?;
        (!jid.is_empty()).then(|| jid.to_string())
    })
}

/// Generates a certificate (with secret keys) for `jid`: a certification-capable primary
/// key, a signing subkey and an encryption subkey.
pub fn generate(jid: &str, suite: Suite) -> Result<Cert, EnvelopeError> {
    let (cs, profile) = suite.builder_params();
    let key_err = |e: openpgp::anyhow::Error| EnvelopeError::Key(one_line(&e));
    // sequoia advertises SEIPD v2 on every key it makes, and encrypts with v6 PKESKs and
    // SEIPD v2 to keys that advertise it; GnuPG 2.2 reads neither (found by the interop
    // test). A v4 key advertises SEIPD v1 only, so what is sealed to it stays readable
    // by today's OpenPGP implementations; v6 keys keep v2.
    let features = match suite {
        Suite::Cv25519 => Features::empty().set_seipdv1(),
        Suite::Cv25519V6 | Suite::MlKem768X25519 => Features::sequoia(),
    };
    // Backdated a minute so that a peer whose clock is slightly behind (GnuPG in the
    // interop test, a phone) does not see a key from the future.
    let created = SystemTime::now() - Duration::from_secs(60);
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(cs)
        .set_profile(profile)
        .map_err(key_err)?
        .set_features(features)
        .map_err(key_err)?
        .set_creation_time(created)
        .add_userid(format!("{XMPP_UID_PREFIX}{jid}"))
        .add_signing_subkey()
        .add_transport_encryption_subkey()
        .generate()
        .map_err(key_err)?;
    Ok(cert)
}

/// Armored certificate (public parts only): what a client publishes.
pub fn export_cert(cert: &Cert) -> Result<String, EnvelopeError> {
    let bytes = cert
        .armored()
        .to_vec()
        .map_err(|e| EnvelopeError::Key(one_line(&e)))?;
    String::from_utf8(bytes).map_err(|e| EnvelopeError::Key(e.to_string()))
}

/// Armored transferable secret key: what a client persists for itself.
pub fn export_secret(cert: &Cert) -> Result<String, EnvelopeError> {
    let bytes = cert
        .as_tsk()
        .armored()
        .to_vec()
        .map_err(|e| EnvelopeError::Key(one_line(&e)))?;
    String::from_utf8(bytes).map_err(|e| EnvelopeError::Key(e.to_string()))
}

/// Parses one certificate (armored or binary, public or secret).
pub fn import_cert(bytes: &[u8]) -> Result<Cert, EnvelopeError> {
    Cert::from_bytes(bytes).map_err(|e| EnvelopeError::Key(one_line(&e)))
}

/// One encryption-capable key of a peer, resolved once against the policy when the
/// certificate enters the keyring, so that sealing a message does no certificate work.
#[derive(Clone, Debug)]
pub struct EncryptionKey {
    pub(crate) features: Features,
    /// How the PKESK names this key: the key id for v3 PKESKs (v4 keys), the fingerprint
    /// for v6 PKESKs.
    pub(crate) handle: KeyHandle,
    pub(crate) key: Key<PublicParts, UnspecifiedRole>,
    /// Set for v4 ECDH/Cv25519 keys whose certificate reads SEIPD v1: sealing wraps the
    /// session key for them directly on the primitives (see [`super::ecdh`]).
    pub(crate) direct: Option<super::ecdh::Recipient>,
}

impl EncryptionKey {
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }

    /// The key material (for measuring the primitive floor against the same key).
    pub fn key(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.key
    }
}

/// The usable encryption keys of `cert` now. A certificate with a validly bound
/// low-order X25519 key (any of them, usable now or not: see [`super::ecdh::is_low_order`])
/// is refused.
pub(crate) fn encryption_keys(cert: &Cert) -> Result<Vec<EncryptionKey>, EnvelopeError> {
    let vc = cert
        .with_policy(&POLICY as &dyn Policy, None)
        .map_err(|e| EnvelopeError::Key(one_line(&e)))?;
    for ka in vc.keys() {
        let key = ka.key().role_as_unspecified();
        if super::ecdh::x25519_public(key).is_some_and(|u| super::ecdh::is_low_order(&u)) {
            return Err(EnvelopeError::Key(format!(
                "certificate {}: key {} is a low-order X25519 point (no contributory \
                 Diffie-Hellman)",
                cert.fingerprint(),
                key.fingerprint()
            )));
        }
    }
    let features = vc.features().unwrap_or_else(Features::empty);
    let keys = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .map(|ka| {
            let key = ka.key().clone().role_into_unspecified();
            let handle: KeyHandle = if features.supports_seipdv2() {
                key.fingerprint().into()
            } else {
                key.keyid().into()
            };
            let direct = super::ecdh::Recipient::for_key(&key)
                .filter(|r| r.is_v4_ecdh() && !features.supports_seipdv2());
            EncryptionKey {
                features: features.clone(),
                handle,
                key,
                direct,
            }
        })
        .collect();
    Ok(keys)
}

/// My own secret key material, unlocked once: the signer and the decryptors.
pub(crate) struct Secrets {
    pub(crate) signer: KeyPair,
    pub(crate) decryptors: Vec<(Fingerprint, KeyPair)>,
}

pub(crate) fn secrets(cert: &Cert) -> Result<Secrets, EnvelopeError> {
    let key_err = |e: openpgp::anyhow::Error| EnvelopeError::Key(one_line(&e));
    let vc = cert
        .with_policy(&POLICY as &dyn Policy, None)
        .map_err(key_err)?;
    let signer = vc
        .keys()
        .secret()
        .alive()
        .revoked(false)
        .for_signing()
        .next()
        .ok_or_else(|| EnvelopeError::Key("no usable secret signing key".into()))?
        .key()
        .clone()
        .into_keypair()
        .map_err(key_err)?;
    let mut decryptors = Vec::new();
    for ka in vc
        .keys()
        .secret()
        .revoked(false)
        .for_transport_encryption()
        .for_storage_encryption()
    {
        let fp = ka.key().fingerprint();
        decryptors.push((fp, ka.key().clone().into_keypair().map_err(key_err)?));
    }
    if decryptors.is_empty() {
        return Err(EnvelopeError::Key("no usable secret encryption key".into()));
    }
    Ok(Secrets { signer, decryptors })
}
