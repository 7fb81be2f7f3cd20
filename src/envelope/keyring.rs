//! A client's keyring: its own key and its peers' certificates.
//!
//! Opening a group stanza needs my decryption key and the sender's certificate; sealing one
//! needs every recipient's encryption key. Both are looked up here, by certificate
//! fingerprint, by the fingerprint or key id of any (sub)key (what signatures and PKESKs
//! name), or by bare JID (what the core and the XEP-0033 address list name). Encryption
//! keys are resolved against the policy once, when a certificate is added.
//!
//! Adding a certificate is the trust decision: its `xmpp:` user id is self-asserted, and
//! the JID it names is the identity [`crate::envelope::open()`] reports for its signatures.
//! A client adds only certificates it obtained and checked out of band (Kontalk: from its
//! key server, verified by fingerprint).
//!
//! What a certificate brings into the indexes is only what it validly binds now: its
//! primary key and the subkeys with a binding signature the policy accepts (for a signing
//! subkey, with the subkey's own back signature), revoked and expired ones included (so a
//! signature by them is reported as a bad signature by their owner, not as unknown). A
//! certificate whose keys are already another certificate's is refused: one key, one
//! owner. A new certificate for a JID retires the one it replaces with all its entries.

use std::collections::{BTreeMap, HashMap};

use sequoia_openpgp as openpgp;

use openpgp::policy::Policy;
use openpgp::{Cert, Fingerprint, KeyHandle, KeyID};

use super::error::{one_line, EnvelopeError};
use super::keys::{self, EncryptionKey, Secrets, POLICY};

/// A certificate in the keyring, with what sealing and verifying need from it.
#[derive(Clone, Debug)]
pub struct Peer {
    pub cert: Cert,
    pub jid: String,
    /// The user id that binds the certificate to `jid` (what Kontalk's CPIM headers name).
    pub uid: String,
    pub encryption: Vec<EncryptionKey>,
}

impl Peer {
    fn new(cert: Cert) -> Result<Peer, EnvelopeError> {
        let (uid, jid) = keys::binding_of(&cert).ok_or_else(|| {
            EnvelopeError::Key(format!(
                "certificate {} has no user id naming a JID ('{}<jid>' or 'Name <jid>')",
                cert.fingerprint(),
                keys::XMPP_UID_PREFIX
            ))
        })?;
        let encryption = keys::encryption_keys(&cert)?;
        Ok(Peer {
            cert: cert.strip_secret_key_material(),
            jid,
            uid,
            encryption,
        })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.cert.fingerprint()
    }
}

/// The key id and fingerprint of every key of `cert` with a valid binding now: the
/// primary key and the subkeys whose binding signature the policy accepts, with the
/// primary key binding (back signature) a signing-capable subkey needs. Revoked and
/// expired keys stay in: their signatures are judged (and refused) as their owner's.
fn bound_keys(cert: &Cert) -> Result<Vec<(KeyID, Fingerprint)>, EnvelopeError> {
    let vc = cert
        .with_policy(&POLICY as &dyn Policy, None)
        .map_err(|e| EnvelopeError::Key(one_line(&e)))?;
    Ok(vc
        .keys()
        .map(|ka| (ka.key().keyid(), ka.key().fingerprint()))
        .collect())
}

/// My key (with secrets) and my peers' certificates.
pub struct Keyring {
    /// My own certificate, public parts, as a peer (so I can verify what I sent).
    me: Peer,
    pub(crate) secrets: Secrets,
    my_secret_cert: Cert,
    peers: BTreeMap<Fingerprint, Peer>,
    /// Any (sub)key id → certificate fingerprint.
    by_keyid: HashMap<KeyID, Fingerprint>,
    /// Any (sub)key fingerprint → certificate fingerprint.
    by_key_fpr: HashMap<Fingerprint, Fingerprint>,
    by_jid: BTreeMap<String, Fingerprint>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("me", &self.me.jid)
            .field("peers", &self.by_jid.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring around my certificate, which must carry its (unencrypted) secret keys.
    pub fn new(my_secret_cert: Cert) -> Result<Keyring, EnvelopeError> {
        let secrets = keys::secrets(&my_secret_cert)?;
        let me = Peer::new(my_secret_cert.clone())?;
        let mut ring = Keyring {
            me,
            secrets,
            my_secret_cert,
            peers: BTreeMap::new(),
            by_keyid: HashMap::new(),
            by_key_fpr: HashMap::new(),
            by_jid: BTreeMap::new(),
        };
        let keys = bound_keys(&ring.me.cert)?;
        let (jid, fpr) = (ring.me.jid.clone(), ring.me.fingerprint());
        ring.index(&keys, jid, &fpr);
        Ok(ring)
    }

    /// Generates a key for `jid` and wraps it in a keyring.
    pub fn generate(jid: &str, suite: keys::Suite) -> Result<Keyring, EnvelopeError> {
        Keyring::new(keys::generate(jid, suite)?)
    }

    /// Indexes `keys` (from [`bound_keys`]) and `jid` as the certificate `fpr`'s.
    fn index(&mut self, keys: &[(KeyID, Fingerprint)], jid: String, fpr: &Fingerprint) {
        for (id, key_fpr) in keys {
            self.by_keyid.insert(id.clone(), fpr.clone());
            self.by_key_fpr.insert(key_fpr.clone(), fpr.clone());
        }
        self.by_jid.insert(jid, fpr.clone());
    }

    /// Removes the peer `fpr` and every index entry that points at it.
    fn retire(&mut self, fpr: &Fingerprint) {
        self.peers.remove(fpr);
        self.by_keyid.retain(|_, owner| owner != fpr);
        self.by_key_fpr.retain(|_, owner| owner != fpr);
        self.by_jid.retain(|_, owner| owner != fpr);
    }

    /// Adds (or replaces) a peer's certificate; it must be bound to an `xmpp:` identity.
    ///
    /// A certificate for a JID already bound to another certificate replaces it: the old
    /// one is retired with all its index entries, and what its keys sign no longer
    /// verifies. A new version of a certificate already here (the same fingerprint, say
    /// with a revocation) replaces the old version the same way. Refused, with the
    /// keyring unchanged ([`EnvelopeError::Key`]): a certificate without an `xmpp:` user
    /// id or with a low-order X25519 key, one that claims my own JID, and one whose
    /// validly bound keys (by key id or fingerprint) belong to another certificate than
    /// the one it replaces. My own certificate is not replaced through `add` (it is the
    /// one the keyring was made with, secrets included): adding it changes nothing.
    pub fn add(&mut self, cert: Cert) -> Result<&Peer, EnvelopeError> {
        let peer = Peer::new(cert)?;
        let fpr = peer.fingerprint();
        if fpr == self.me.fingerprint() {
            return Ok(&self.me);
        }
        if peer.jid == self.me.jid {
            return Err(EnvelopeError::Key(format!(
                "certificate {fpr} claims my own JID {}",
                peer.jid
            )));
        }
        let keys = bound_keys(&peer.cert)?;
        // The certificate this one replaces, if another one holds its JID.
        let replaced = self.by_jid.get(&peer.jid).filter(|f| **f != fpr).cloned();
        for (id, key_fpr) in &keys {
            let owners = [self.by_keyid.get(id), self.by_key_fpr.get(key_fpr)];
            for owner in owners.into_iter().flatten() {
                if *owner == fpr || Some(owner) == replaced.as_ref() {
                    continue;
                }
                let who = self.by_fingerprint(owner).map_or("?", |p| p.jid.as_str());
                return Err(EnvelopeError::Key(format!(
                    "certificate {fpr} ({}) carries key {key_fpr}, which is {who}'s \
                     (certificate {owner})",
                    peer.jid
                )));
            }
        }
        if let Some(old) = &replaced {
            self.retire(old);
        }
        if self.peers.contains_key(&fpr) {
            self.retire(&fpr);
        }
        self.index(&keys, peer.jid.clone(), &fpr);
        self.peers.insert(fpr.clone(), peer);
        Ok(&self.peers[&fpr])
    }

    /// Adds an armored (or binary) certificate.
    pub fn import(&mut self, bytes: &[u8]) -> Result<&Peer, EnvelopeError> {
        self.add(keys::import_cert(bytes)?)
    }

    /// Me, as my peers see me.
    pub fn me(&self) -> &Peer {
        &self.me
    }

    /// My certificate with its secret keys (to persist with [`keys::export_secret`]).
    pub fn my_secret_cert(&self) -> &Cert {
        &self.my_secret_cert
    }

    /// A certificate by its primary fingerprint (mine included).
    pub fn by_fingerprint(&self, fpr: &Fingerprint) -> Option<&Peer> {
        if *fpr == self.me.fingerprint() {
            return Some(&self.me);
        }
        self.peers.get(fpr)
    }

    /// The certificate holding the (sub)key named by `handle` (a key id or fingerprint).
    pub fn by_key_handle(&self, handle: &KeyHandle) -> Option<&Peer> {
        let cert_fpr = match handle {
            KeyHandle::KeyID(id) => self.by_keyid.get(id)?,
            KeyHandle::Fingerprint(fp) => self.by_key_fpr.get(fp)?,
        };
        self.by_fingerprint(cert_fpr)
    }

    /// The certificate bound to a bare JID.
    pub fn by_jid(&self, jid: &str) -> Option<&Peer> {
        self.by_fingerprint(self.by_jid.get(jid)?)
    }

    /// The peers' certificates (mine excluded).
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    /// The encryption keys of these JIDs, in order: what [`crate::envelope::seal()`] takes.
    pub fn recipients<S: AsRef<str>>(
        &self,
        jids: &[S],
    ) -> Result<Vec<&EncryptionKey>, EnvelopeError> {
        let mut keys = Vec::with_capacity(jids.len());
        for jid in jids {
            let jid = jid.as_ref();
            let peer = self
                .by_jid(jid)
                .ok_or_else(|| EnvelopeError::UnknownRecipient(jid.to_string()))?;
            if peer.encryption.is_empty() {
                return Err(EnvelopeError::UnknownRecipient(jid.to_string()));
            }
            keys.extend(peer.encryption.iter());
        }
        Ok(keys)
    }
}
