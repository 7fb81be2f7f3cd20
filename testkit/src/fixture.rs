//! A sender and N recipients with fresh keys: what `kgroup fanout` and the fan-out
//! benchmark measure on, so that both measure the same thing.

use kgroup::envelope::{self, keys, EncryptionKey, EnvelopeError, Keyring, Suite};

use crate::floor::Floor;

/// The owner of a group of `n` recipients. The last recipient has a full keyring (it is the
/// one that opens); the others exist only as certificates in the sender's keyring.
pub struct Fanout {
    pub sender: Keyring,
    pub last: Keyring,
    /// The recipients' JIDs, `member-0@example.org` ..; the last one is `last`'s.
    pub jids: Vec<String>,
    /// One primitive floor per recipient key, in recipient order.
    pub floors: Vec<Floor>,
}

impl Fanout {
    pub fn new(n: usize, suite: Suite) -> Result<Fanout, EnvelopeError> {
        if n == 0 {
            return Err(EnvelopeError::NoRecipients);
        }
        let mut sender = Keyring::generate("owner@example.org", suite)?;
        let jids: Vec<String> = (0..n).map(|i| format!("member-{i}@example.org")).collect();
        for jid in &jids[..n - 1] {
            sender.add(keys::generate(jid, suite)?)?;
        }
        let mut last = Keyring::generate(&jids[n - 1], suite)?;
        last.add(sender.me().cert.clone())?;
        sender.add(last.me().cert.clone())?;
        let floors = sender
            .recipients(&jids)?
            .into_iter()
            .map(Floor::for_key)
            .collect::<Result<_, _>>()?;
        Ok(Fanout {
            sender,
            last,
            jids,
            floors,
        })
    }

    /// The recipients' encryption keys, resolved once.
    pub fn keys(&self) -> Vec<&EncryptionKey> {
        // Every JID was added above, so the lookup cannot fail; an empty list makes any
        // misuse visible as a NoRecipients error from `seal`.
        self.sender.recipients(&self.jids).unwrap_or_default()
    }

    /// The multi-recipient seal: one message for all.
    pub fn seal_once(
        &self,
        keys: &[&EncryptionKey],
        payload: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        envelope::seal(&self.sender, keys, payload)
    }

    /// The multi-recipient seal through sequoia's `Encryptor` alone.
    pub fn seal_once_sequoia(
        &self,
        keys: &[&EncryptionKey],
        payload: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        envelope::seal_sequoia(&self.sender, keys, payload)
    }

    /// The per-recipient alternative: one signed message per recipient. Returns the total
    /// number of bytes.
    pub fn seal_each(
        &self,
        keys: &[&EncryptionKey],
        payload: &[u8],
    ) -> Result<usize, EnvelopeError> {
        let mut total = 0;
        for key in keys {
            total += envelope::seal(&self.sender, &[*key], payload)?.len();
        }
        Ok(total)
    }

    /// The primitive floor of wrapping one session key for every recipient.
    pub fn floor_all(&self, session_key: &[u8; 32]) -> usize {
        self.floors
            .iter()
            .map(|f| f.wrap(session_key).1.len())
            .sum()
    }
}
