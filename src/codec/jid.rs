//! Jabber identifiers.
//!
//! Group identities (owner, members, recipients) are *bare* JIDs and the `from` of a message
//! is usually a *full* one. Two spellings of one account must compare equal, or a member
//! could be both in and out of a group; so every JID is validated and normalised once, at
//! the edge, by the `jid` crate of xmpp-rs (nodeprep, nameprep with IDNA, resourceprep;
//! each part at most 1023 bytes). Those are the stringprep profiles of RFC 6122, which RFC
//! 7622 replaced with PRECIS; the two agree on ASCII and on ordinary Unicode letters and
//! differ only on rare code points, and we prefer a maintained crate to our own tables.
//!
//! [`Jid`] is a plain value (`Clone + Eq + Ord + Hash + Debug`) so the core can use it as
//! an identity, and (de)serialises as its normalised string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A validated, normalised JID, bare (`node@domain`) or full (`node@domain/resource`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jid(jid::Jid);

/// Why a string is not an acceptable JID.
#[derive(Debug, PartialEq, Eq)]
pub enum JidError {
    /// RFC 6122 / 7622 rejects it (the `jid` crate says why).
    Invalid(jid::Error),
    /// A bare JID was required (a group identity), but this one has a resource.
    NotBare,
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JidError::Invalid(e) => write!(f, "{e}"),
            JidError::NotBare => f.write_str("a bare JID is required, this one has a resource"),
        }
    }
}

impl std::error::Error for JidError {}

impl Jid {
    /// Parses and normalises a bare or full JID.
    pub fn new(s: &str) -> Result<Jid, JidError> {
        jid::Jid::new(s).map(Jid).map_err(JidError::Invalid)
    }

    /// Parses and normalises a JID that must be bare (group identities).
    pub fn new_bare(s: &str) -> Result<Jid, JidError> {
        let j = Jid::new(s)?;
        if j.is_bare() {
            Ok(j)
        } else {
            Err(JidError::NotBare)
        }
    }

    /// The normalised form.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_bare(&self) -> bool {
        self.0.is_bare()
    }

    /// The node part (`alice` in `alice@example.org/phone`), if any.
    pub fn node(&self) -> Option<&str> {
        self.0.node().map(|n| n.as_str())
    }

    /// The domain part.
    pub fn domain(&self) -> &str {
        self.0.domain().as_str()
    }

    /// The resource part, if any.
    pub fn resource(&self) -> Option<&str> {
        self.0.resource().map(|r| r.as_str())
    }

    /// This JID without its resource.
    pub fn to_bare(&self) -> Jid {
        Jid(jid::Jid::from(self.0.to_bare()))
    }

    /// The domain alone, as a JID (the seed addresses its multicast to the server's domain).
    pub fn domain_jid(&self) -> Jid {
        Jid(jid::Jid::from_parts(None, self.0.domain(), None))
    }
}

impl fmt::Debug for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Jid, JidError> {
        Jid::new(s)
    }
}

impl Serialize for Jid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Jid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Jid, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Jid::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_of_node_and_domain_but_not_resource() {
        let j = Jid::new("Alice@Beta.Kontalk.NET/Home").unwrap();
        assert_eq!(j.as_str(), "alice@beta.kontalk.net/Home");
        assert_eq!(j.to_bare(), Jid::new("alice@beta.kontalk.net").unwrap());
        assert_eq!(j.domain_jid().as_str(), "beta.kontalk.net");
        assert_eq!(j.node(), Some("alice"));
        assert_eq!(j.resource(), Some("Home"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "@example.org",
            "a@",
            "a@b@c",
            "a@example.org/",
            "a b@example.org",
        ] {
            assert!(Jid::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Jid::new_bare("a@example.org/r"), Err(JidError::NotBare));
    }

    #[test]
    fn serde_is_the_normalised_string() {
        let j: Jid = serde_json::from_str("\"Bob@Example.ORG\"").unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"bob@example.org\"");
        assert!(serde_json::from_str::<Jid>("\"a@b@c\"").is_err());
    }
}
