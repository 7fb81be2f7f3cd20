//! Keys for N clients: each a fresh key of its own and every other client's certificate,
//! the out-of-band exchange a real deployment does through its key server.

use kgroup::envelope::{EnvelopeError, Keyring, Suite};

/// One keyring per JID, in order: its own fresh key, and the certificate of every other.
pub fn keyrings<S: AsRef<str>>(jids: &[S], suite: Suite) -> Result<Vec<Keyring>, EnvelopeError> {
    let mut rings = jids
        .iter()
        .map(|j| Keyring::generate(j.as_ref(), suite))
        .collect::<Result<Vec<_>, _>>()?;
    let certs: Vec<_> = rings.iter().map(|r| r.me().cert.clone()).collect();
    for (i, ring) in rings.iter_mut().enumerate() {
        for (k, cert) in certs.iter().enumerate() {
            if k != i {
                ring.add(cert.clone())?;
            }
        }
    }
    Ok(rings)
}
