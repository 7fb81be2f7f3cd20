//! OpenPGP keys bound to XMPP identities.
//!
//! A group member is known by its bare JID, and its authority (for the owner: the right to
//! change the group) rests on its OpenPGP key, so a certificate carries a user id naming
//! the JID and keys for signing and for encryption. Two forms of user id are read: ours,
//! `xmpp:<bare jid>`, and Kontalk's clients', `Name <localpart@network>` with the bare JID
//! as the address (androidclient `crypto/PersonalKey.store`). [`Suite`] picks the
//! algorithms: Curve25519 in OpenPGP v4 keys (what GnuPG 2.2 reads), Curve25519 in RFC
//! 9580 v6 keys, the post-quantum ML-KEM-768+X25519 / ML-DSA-65+Ed25519 composite suite
//! (v6 only), or Kontalk's Android client's: an RSA-2048 primary key for certification and
//! authentication, a NIST P-256 ECDSA signing subkey and a P-256 ECDH encryption subkey
//! (androidclient `crypto/PGP.create`).

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
use openpgp::types::{Features, KeyFlags};
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
    /// Kontalk's Android client's keys: RSA-2048 primary (certify, authenticate), P-256
    /// ECDSA signing and P-256 ECDH encryption subkeys, v4, SEIPD v1; the user id
    /// `localpart <jid>`.
    Kontalk,
}

impl Suite {
    pub fn name(&self) -> &'static str {
        match self {
            Suite::Cv25519 => "cv25519",
            Suite::Cv25519V6 => "cv25519-v6",
            Suite::MlKem768X25519 => "mlkem768-x25519",
            Suite::Kontalk => "kontalk",
        }
    }

    pub fn all() -> [Suite; 4] {
        [
            Suite::Cv25519,
            Suite::Cv25519V6,
            Suite::MlKem768X25519,
            Suite::Kontalk,
        ]
    }

    fn builder_params(&self) -> (CipherSuite, Profile) {
        match self {
            Suite::Cv25519 => (CipherSuite::Cv25519, Profile::RFC4880),
            Suite::Cv25519V6 => (CipherSuite::Cv25519, Profile::RFC9580),
            Suite::MlKem768X25519 => (CipherSuite::MLDSA65_Ed25519, Profile::RFC9580),
            Suite::Kontalk => (CipherSuite::RSA2k, Profile::RFC4880),
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
                format!("unknown key suite '{s}' (cv25519, cv25519-v6, mlkem768-x25519, kontalk)")
            })
    }
}

/// The bare JID a certificate is bound to: its first valid user id that names one (one
/// with a self-signature the policy accepts now, not revoked), `xmpp:<jid>` or Kontalk's
/// `Name <jid>`. A user id without a valid binding (anyone can append one to any
/// certificate) names nobody.
pub fn jid_of(cert: &Cert) -> Option<String> {
    binding_of(cert).map(|(_, jid)| jid)
}

/// The user id that binds a certificate to its JID ([`jid_of`]), and the JID.
pub fn binding_of(cert: &Cert) -> Option<(String, String)> {
    let vc = cert.with_policy(&POLICY as &dyn Policy, None).ok()?;
    vc.userids().revoked(false).find_map(|ua| {
        let value = std::str::from_utf8(ua.userid().value()).ok()?;
        jid_in(value).map(|jid| (value.to_string(), jid.to_string()))
    })
}

/// The JID a user id names: `xmpp:<jid>`, or the address of `Name <jid>` (a `localpart@
/// domain` with no resource).
fn jid_in(uid: &str) -> Option<&str> {
    if let Some(jid) = uid.strip_prefix(XMPP_UID_PREFIX) {
        return (!jid.is_empty()).then_some(jid);
    }
    let (_, rest) = uid.rsplit_once('<')?;
    let address = rest.strip_suffix('>')?;
    let (local, domain) = address.split_once('@')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(['/', '@', '<', '>', ' ']);
    (plain(local) && plain(domain)).then_some(address)
}

/// The user id a generated key of `suite` carries for `jid`.
pub fn uid_for(jid: &str, suite: Suite) -> String {
    match suite {
        Suite::Kontalk => {
            let name = jid.split_once('@').map_or(jid, |(local, _)| local);
            format!("{name} <{jid}>")
        }
        _ => format!("{XMPP_UID_PREFIX}{jid}"),
    }
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
        Suite::Cv25519 | Suite::Kontalk => Features::empty().set_seipdv1(),
        Suite::Cv25519V6 | Suite::MlKem768X25519 => Features::sequoia(),
    };
    // Backdated a minute so that a peer whose clock is slightly behind (GnuPG in the
    // interop test, a phone) does not see a key from the future.
    let created = SystemTime::now() - Duration::from_secs(60);
    let builder = CertBuilder::new()
        .set_cipher_suite(cs)
        .set_profile(profile)
        .map_err(key_err)?
        .set_features(features)
        .map_err(key_err)?
        .set_creation_time(created)
        .add_userid(uid_for(jid, suite));
    let builder = match suite {
        Suite::Kontalk => builder
            .set_primary_key_flags(KeyFlags::empty().set_certification().set_authentication())
            .add_subkey(KeyFlags::empty().set_signing(), None, CipherSuite::P256)
            .add_subkey(
                KeyFlags::empty().set_transport_encryption(),
                None,
                CipherSuite::P256,
            ),
        _ => builder
            .add_signing_subkey()
            .add_transport_encryption_subkey(),
    };
    let (cert, _revocation) = builder.generate().map_err(key_err)?;
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

#[cfg(test)]
mod uid_tests {
    use super::*;

    #[test]
    fn a_user_id_names_a_jid_in_either_form() {
        assert_eq!(jid_in("xmpp:alice@example.org"), Some("alice@example.org"));
        assert_eq!(
            jid_in("Alice <998a759e@kontalk.net>"),
            Some("998a759e@kontalk.net")
        );
        assert_eq!(
            jid_in("Alice (phone) <a@kontalk.net>"),
            Some("a@kontalk.net")
        );
        for none in [
            "xmpp:",
            "Alice",
            "Alice <>",
            "Alice <kontalk.net>",
            "Alice <a@b/phone>",
            "Alice <a@@b>",
            "Alice <a@b",
        ] {
            assert_eq!(jid_in(none), None, "{none}");
        }
        assert_eq!(
            uid_for("a@kontalk.net", Suite::Kontalk),
            "a <a@kontalk.net>"
        );
        assert_eq!(
            uid_for("a@kontalk.net", Suite::Cv25519),
            "xmpp:a@kontalk.net"
        );
    }
}
