//! The OpenPGP envelope of group stanzas.
//!
//! The protocol's last rule: every group stanza is encrypted with one multi-recipient
//! OpenPGP message; only the XEP-0033 address list stays in clear for the server. The
//! threat model adds that the server may forge `from`, drop and replay, so the only
//! authority a client may act on is the **OpenPGP signature**: a stanza is signed by its
//! sender inside the encryption, and [`open()`] returns the verified signer, which is what
//! the core's `receive(sender, ..)` must be given. Replays open to the same signer and
//! plaintext; rejecting them is the core's job (epochs and duplicate windows).
//!
//! - [`keys`]: key generation (Cv25519 v4, Cv25519 v6, ML-KEM-768+X25519 v6, Kontalk's
//!   RSA-2048 with P-256 subkeys), armored import and export, the binding to a JID
//!   (`xmpp:<bare jid>` or Kontalk's `Name <bare jid>`);
//! - [`keyring`]: my key and my peers' certificates, looked up by fingerprint, key id or JID;
//! - [`seal()`]: sign once, encrypt once to all recipients (one PKESK each);
//!   [`seal_kontalk`] as Kontalk's clients do (AES-192, ZIP);
//! - [`open()`]: find my PKESK in one linear pass, decrypt, check integrity, verify;
//! - [`ecdh`]: the X25519 key wrap of the direct sealing path (its primitive cost is the
//!   benchmarks' yardstick, in the test kit);
//! - [`error`]: the typed failures.
//!
//! The payload is opaque bytes here: the codec decides what the stanza's inside is.

pub mod ecdh;
pub mod error;
pub mod keyring;
pub mod keys;
pub mod open;
mod prescan;
pub mod seal;
mod seipd;

pub use error::EnvelopeError;
pub use keyring::{Keyring, Peer};
pub use keys::{
    export_cert, export_secret, generate, import_cert, jid_of, uid_for, EncryptionKey, Suite,
};
pub use open::{
    open, open_stock, open_unfiltered, open_with, recipients_of, Limits, Opened, Signer,
};
pub use seal::{seal, seal_kontalk, seal_sequoia, seal_to};
