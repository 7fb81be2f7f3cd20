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
//! an identity, and (de)serialises as its normalised string. A JID of up to [`INLINE`]
//! bytes (nearly all of them: Kontalk's are 57 or 58) is stored in the value itself, longer
//! ones in a shared string. A decoded stanza holds a JID per recipient, member and roster
//! entry, and an allocation for each was, after the XML itself, the largest cost of
//! decoding one.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use arrayvec::ArrayString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest JID stored inline (the value is 72 bytes either way).
pub const INLINE: usize = 64;

#[derive(Clone)]
enum Repr {
    Inline(ArrayString<INLINE>),
    Shared(Arc<str>),
}

/// A validated, normalised JID, bare (`node@domain`) or full (`node@domain/resource`).
///
/// Stored as its normalised string. Its parts are found again when asked for: in normal
/// form neither the node nor the domain holds a `/` or an `@`, so the first `/` starts the
/// resource and an `@` before it ends the node.
#[derive(Clone)]
pub struct Jid {
    s: Repr,
}

/// Why a string is not an acceptable JID.
#[derive(Debug, PartialEq, Eq)]
pub enum JidError {
    /// RFC 6122 / 7622 rejects it (the `jid` crate says why).
    Invalid(jid::Error),
    /// A bare JID was required (a group identity), but this one has a resource.
    NotBare,
    /// The domain ends in more than one dot (an empty label).
    EmptyLabel,
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JidError::Invalid(e) => write!(f, "{e}"),
            JidError::NotBare => f.write_str("a bare JID is required, this one has a resource"),
            JidError::EmptyLabel => f.write_str("the domain has an empty label"),
        }
    }
}

impl std::error::Error for JidError {}

/// Node characters that nodeprep leaves alone (the `stringprep` crate's own ASCII fast path).
const fn node_byte_ok(c: u8) -> bool {
    matches!(c, b'['..=b'~' | b'0'..=b'9' | b'('..=b'.' | b'#'..=b'%')
}

/// Byte classes for [`Jid::fast_parts`]: a node byte nodeprep leaves alone, a lowercase LDH
/// domain byte, `.`, `/`, a separator ending the node (`@` or `/`), printable ASCII.
const NODE: u8 = 1;
const LDH: u8 = 2;
const DOT: u8 = 4;
const SLASH: u8 = 8;
const SEP: u8 = 16;
const PRINTABLE: u8 = 32;

static JID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if node_byte_ok(b) {
            k |= NODE;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
            k |= LDH;
        }
        if b == b'.' {
            k |= DOT;
        }
        if b == b'/' {
            k |= SLASH | SEP;
        }
        if b == b'@' {
            k |= SEP;
        }
        if matches!(b, 0x20..=0x7e) {
            k |= PRINTABLE;
        }
        t[c] = k;
        c += 1;
    }
    t
};

/// A lowercase LDH domain that IDNA and nameprep accept unchanged: labels of 1 to 63
/// bytes of `a-z0-9-`, no hyphen at either end, none in both the third and fourth place
/// (that would be an IDNA A-label, which needs real checking), 253 bytes at most.
fn domain_ok(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.as_bytes().split(|&c| c == b'.').all(|b| {
            !b.is_empty()
                && b.len() <= 63
                && b.iter()
                    .all(|&c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && !(b.len() >= 4 && b[2] == b'-' && b[3] == b'-')
        })
}

impl Jid {
    /// Parses and normalises a bare or full JID.
    pub fn new(s: &str) -> Result<Jid, JidError> {
        Jid::parse(s).map(|(j, _)| j)
    }

    /// Parses and normalises a JID that must be bare (group identities).
    pub fn new_bare(s: &str) -> Result<Jid, JidError> {
        match Jid::parse(s)? {
            (j, true) => Ok(j),
            (_, false) => Err(JidError::NotBare),
        }
    }

    /// [`Jid::new`], and whether the JID is bare (known while parsing: asking the JID
    /// afterwards would search it again).
    fn parse(s: &str) -> Result<(Jid, bool), JidError> {
        if let Some(j) = Jid::fast_parts(s) {
            return Ok(j);
        }
        // RFC 7622 §3.2 removes one trailing dot of the domain. The crate does too, but its
        // part offsets then go wrong, so the dot is removed here, before it sees the string.
        let b = s.as_bytes();
        let dom_start = b
            .iter()
            .position(|&c| c == b'@' || c == b'/')
            .filter(|&i| b[i] == b'@')
            .map_or(0, |a| a + 1);
        let dom_end = b[dom_start..]
            .iter()
            .position(|&c| c == b'/')
            .map_or(b.len(), |i| dom_start + i);
        let undotted;
        let s = if dom_end > dom_start && b[dom_end - 1] == b'.' {
            if dom_end - 1 > dom_start && b[dom_end - 2] == b'.' {
                return Err(JidError::EmptyLabel);
            }
            undotted = format!("{}{}", &s[..dom_end - 1], &s[dom_end..]);
            undotted.as_str()
        } else {
            s
        };
        let j = jid::Jid::new(s).map_err(JidError::Invalid)?;
        // Rebuilt from the normalised parts: the crate keeps a domain's trailing dot in its
        // string form, which RFC 7622 removes (`a@example.org.` is `a@example.org`).
        let node = j.node().map(|n| n.as_str());
        let domain = j.domain().as_str();
        let resource = j.resource().map(|r| r.as_str());
        let mut out = String::with_capacity(s.len());
        let at = node.map(|n| {
            out.push_str(n);
            out.push('@');
            n.len()
        });
        out.push_str(domain);
        let slash = resource.map(|r| {
            let p = out.len();
            out.push('/');
            out.push_str(r);
            p
        });
        let j = Jid::normalised(&out);
        debug_assert_eq!(j.parts(), (at, slash));
        Ok((j, slash.is_none()))
    }

    /// A JID from a string already in normal form.
    fn normalised(s: &str) -> Jid {
        Jid {
            s: match ArrayString::from(s) {
                Ok(a) => Repr::Inline(a),
                Err(_) => Repr::Shared(Arc::from(s)),
            },
        }
    }

    /// [`Jid::fast_parts`] without the bareness.
    #[cfg(test)]
    fn fast(s: &str) -> Option<Jid> {
        Jid::fast_parts(s).map(|(j, _)| j)
    }

    /// Indexes of the `@` ending the node part and of the `/` starting the resource part,
    /// where there are such parts.
    fn parts(&self) -> (Option<usize>, Option<usize>) {
        let s = self.as_str();
        let slash = s.find('/');
        (s[..slash.unwrap_or(s.len())].find('@'), slash)
    }

    /// The common case without the Unicode machinery: a JID whose every part is already
    /// in normal form (lowercase ASCII node and domain, printable ASCII resource) is its own
    /// normalisation. Anything else, valid or not, goes to the `jid` crate; a property test
    /// checks that both agree wherever this accepts. Also says whether the JID is bare.
    fn fast_parts(s: &str) -> Option<(Jid, bool)> {
        // This runs for every JID of every stanza: one table look-up per byte, and the
        // label rules checked at each dot.
        let b = s.as_bytes();
        let n = b.len();
        // The node, if the first separator is an `@`.
        let mut i = 0;
        let mut node = NODE;
        while i < n {
            let c = JID_CLASS[b[i] as usize];
            if c & SEP != 0 {
                break;
            }
            node &= c;
            i += 1;
        }
        let at = (i < n && b[i] == b'@').then_some(i);
        if let Some(a) = at {
            if a == 0 || a > 1023 || node == 0 {
                return None;
            }
        }
        // The domain, up to the first '/': labels of 1 to 63 bytes of `a-z0-9-`, no
        // hyphen at either end, none in both the third and fourth place (an IDNA A-label
        // needs real checking).
        let dom_start = at.map_or(0, |a| a + 1);
        let (mut j, mut label) = (dom_start, dom_start);
        loop {
            let c = if j < n {
                JID_CLASS[b[j] as usize]
            } else {
                SLASH
            };
            if c & LDH != 0 {
                j += 1;
                continue;
            }
            if c & (DOT | SLASH) == 0 {
                return None;
            }
            let len = j - label;
            if len == 0
                || len > 63
                || b[label] == b'-'
                || b[j - 1] == b'-'
                || (len >= 4 && b[label + 2] == b'-' && b[label + 3] == b'-')
            {
                return None;
            }
            if c & SLASH != 0 {
                break;
            }
            j += 1;
            label = j;
        }
        if j - dom_start > 253 {
            return None;
        }
        let slash = (j < n).then_some(j);
        if let Some(p) = slash {
            let r = &b[p + 1..];
            if r.is_empty()
                || r.len() > 1023
                || !r.iter().all(|&c| JID_CLASS[c as usize] & PRINTABLE != 0)
            {
                return None;
            }
        }
        debug_assert!(domain_ok(&s[dom_start..j]));
        let jid = Jid::normalised(s);
        debug_assert_eq!(jid.parts(), (at, slash));
        Some((jid, slash.is_none()))
    }

    /// [`Jid::parse`] of an attribute value as written, if `plain` says the value as
    /// written is its own value; `None` otherwise, or if the JID is invalid. `plain` is
    /// not asked about a JID the common-case check takes bare: its bytes (node, `@`,
    /// lowercase LDH labels and dots) are none of those a value needs work for (a quote,
    /// `&`, `<`, a control character, non-ASCII), which a test checks byte by byte.
    pub(crate) fn parse_written(v: &str, plain: impl FnOnce(&str) -> bool) -> Option<(Jid, bool)> {
        match Jid::fast_parts(v) {
            Some((j, true)) => Some((j, true)),
            Some(full) => plain(v).then_some(full),
            None => plain(v).then(|| Jid::parse(v).ok()).flatten(),
        }
    }

    /// The normalised form.
    pub fn as_str(&self) -> &str {
        match &self.s {
            Repr::Inline(a) => a.as_str(),
            Repr::Shared(s) => s,
        }
    }

    pub fn is_bare(&self) -> bool {
        !self.as_str().contains('/')
    }

    /// The node part (`alice` in `alice@example.org/phone`), if any.
    pub fn node(&self) -> Option<&str> {
        self.parts().0.map(|a| &self.as_str()[..a])
    }

    /// The domain part.
    pub fn domain(&self) -> &str {
        let (s, (at, slash)) = (self.as_str(), self.parts());
        &s[at.map_or(0, |a| a + 1)..slash.unwrap_or(s.len())]
    }

    /// The resource part, if any.
    pub fn resource(&self) -> Option<&str> {
        self.parts().1.map(|p| &self.as_str()[p + 1..])
    }

    /// This JID without its resource.
    pub fn to_bare(&self) -> Jid {
        match self.parts().1 {
            None => self.clone(),
            Some(p) => Jid::normalised(&self.as_str()[..p]),
        }
    }

    /// The domain alone, as a JID (the seed addresses its multicast to the server's domain).
    pub fn domain_jid(&self) -> Jid {
        Jid::normalised(self.domain())
    }
}

// Equality, order and hash are the normalised string's (the parts follow from it).
impl PartialEq for Jid {
    fn eq(&self, other: &Jid) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Jid {}

impl PartialOrd for Jid {
    fn partial_cmp(&self, other: &Jid) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Jid {
    fn cmp(&self, other: &Jid) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Jid {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
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
        // RFC 7622 §3.2: a trailing dot of the domain is removed.
        assert_eq!(
            Jid::new("a@example.org./r").unwrap().as_str(),
            "a@example.org/r"
        );
        assert_eq!(
            Jid::new("example.org.").unwrap(),
            Jid::new("example.org").unwrap()
        );
        assert_eq!(Jid::new("a@example.org../r"), Err(JidError::EmptyLabel));
    }

    #[test]
    fn long_jids_are_shared_and_behave_the_same() {
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<Jid>(), 72);
        let node = "n".repeat(70);
        let full = Jid::new(&format!("{node}@Example.org/Res")).unwrap();
        assert!(matches!(full.s, Repr::Shared(_)));
        assert_eq!(full.node(), Some(node.as_str()));
        assert_eq!(full.domain(), "example.org");
        assert_eq!(full.resource(), Some("Res"));
        let bare = full.to_bare();
        assert!(matches!(bare.s, Repr::Shared(_)));
        assert_eq!(bare, Jid::new(&format!("{node}@example.org")).unwrap());
        assert!(bare < full && bare.is_bare() && !full.is_bare());
        let short = Jid::new("a@example.org/r@s/t").unwrap();
        assert!(matches!(short.s, Repr::Inline(_)));
        assert_eq!(short.resource(), Some("r@s/t"));
        assert_eq!(short.domain_jid().as_str(), "example.org");
        assert_eq!(Jid::new("example.org/a@b").unwrap().node(), None);
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
    fn fast_path_covers_the_common_case_and_leaves_the_rest() {
        for s in [
            "alice@beta.kontalk.net",
            "beta.kontalk.net",
            "a@b/Home Phone",
            "x.y_z@127.0.0.1/r@s",
        ] {
            assert!(Jid::fast(s).is_some(), "{s}");
        }
        for s in [
            "Alice@x.org",
            "a@X.org",
            "a@xn--bcher-kva.example",
            "a@x.org.",
            "a@-x.org",
            "émile@x.org",
            "a@x.org/é",
        ] {
            assert!(Jid::fast(s).is_none(), "{s}");
        }
    }

    /// The fast path's rules written plainly, part by part (what the single pass must
    /// accept, with the same separator positions).
    fn reference(s: &str) -> Option<(Option<usize>, Option<usize>)> {
        let b = s.as_bytes();
        let first = b.iter().position(|&c| c == b'@' || c == b'/');
        let at = first.filter(|&i| b[i] == b'@');
        let dom_start = at.map_or(0, |a| a + 1);
        let slash = b[dom_start..]
            .iter()
            .position(|&c| c == b'/')
            .map(|i| dom_start + i);
        if let Some(a) = at {
            if a == 0 || a > 1023 || !b[..a].iter().all(|&c| node_byte_ok(c)) {
                return None;
            }
        }
        if !domain_ok(&s[dom_start..slash.unwrap_or(s.len())]) {
            return None;
        }
        if let Some(p) = slash {
            let r = &b[p + 1..];
            if r.is_empty() || r.len() > 1023 || !r.iter().all(|&c| (0x20..=0x7e).contains(&c)) {
                return None;
            }
        }
        Some((at, slash))
    }

    /// What [`Jid::parse_written`] relies on: a bare JID the fast path takes is made of
    /// bytes that never make an attribute value need work.
    #[test]
    fn bare_fast_jids_are_plain_as_written() {
        for c in 0..=255u8 {
            let class = JID_CLASS[c as usize];
            if class & (NODE | LDH | DOT) != 0 || c == b'@' {
                assert!(
                    (0x20..0x80).contains(&c) && !matches!(c, b'\'' | b'"' | b'&' | b'<'),
                    "{c:#x}"
                );
            }
        }
        // And through the function itself: a bare JID is never asked about, a full one
        // and one the fast path leaves are.
        assert!(Jid::parse_written("a@example.org", |_| false).is_some());
        assert!(Jid::parse_written("a@example.org/r", |_| false).is_none());
        assert!(Jid::parse_written("A@example.org", |_| false).is_none());
        assert_eq!(
            Jid::parse_written("A@example.org", |_| true).map(|(j, b)| (j.to_string(), b)),
            Some(("a@example.org".to_owned(), true))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The single-pass fast path accepts exactly what the plain rules accept.
        #[test]
        fn fast_path_is_the_reference_rules(s in "[a-dA-Dx0-9@/._ !#%'-]{0,14}|[a-z-]{0,5}@[a-z0-9-]{0,6}(\\.[a-z0-9-]{0,6}){0,3}\\.?(/[ -~]{0,4})?|[a-z0-9.-]{60,70}") {
            let fast = Jid::fast(&s).map(|j| j.parts());
            proptest::prop_assert_eq!(fast, reference(&s), "{:?}", s);
        }

        /// Wherever the fast path accepts, the `jid` crate accepts too, with the same
        /// normalised form and the same parts.
        #[test]
        fn fast_path_agrees_with_the_jid_crate(s in "[a-dA-Dx0-9@/._ !#%'-]{0,14}|[a-z]{1,4}@[a-z0-9-]{1,5}(\\.[a-z0-9-]{1,5}){0,2}(/[ -~]{0,4})?") {
            if let Some(fast) = Jid::fast(&s) {
                let slow = jid::Jid::new(&s);
                proptest::prop_assert!(slow.is_ok(), "fast path accepted {:?}, jid crate says {:?}", s, slow);
                let slow = slow.unwrap();
                proptest::prop_assert_eq!(fast.as_str(), slow.as_str());
                proptest::prop_assert_eq!(fast.node(), slow.node().map(|n| n.as_str()));
                proptest::prop_assert_eq!(fast.domain(), slow.domain().as_str());
                proptest::prop_assert_eq!(fast.resource(), slow.resource().map(|r| r.as_str()));
            }
        }

        /// Through either path, the parts put back together give the normalised form.
        #[test]
        fn parts_reassemble(s in "[a-zA-Z0-9@/.é-]{1,12}") {
            if let Ok(j) = Jid::new(&s) {
                let mut t = String::new();
                if let Some(n) = j.node() { t.push_str(n); t.push('@'); }
                t.push_str(j.domain());
                if let Some(r) = j.resource() { t.push('/'); t.push_str(r); }
                proptest::prop_assert_eq!(t, j.as_str());
                proptest::prop_assert_eq!(j.clone(), Jid::new(j.as_str()).unwrap());
                // The bareness `new_bare` goes by, known while parsing, is the JID's.
                let (parsed, bare) = Jid::parse(&s).unwrap();
                proptest::prop_assert_eq!(&parsed, &j);
                proptest::prop_assert_eq!(bare, j.is_bare());
                proptest::prop_assert_eq!(Jid::new_bare(&s).is_ok(), j.is_bare());
            }
        }
    }

    #[test]
    fn serde_is_the_normalised_string() {
        let j: Jid = serde_json::from_str("\"Bob@Example.ORG\"").unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"bob@example.org\"");
        assert!(serde_json::from_str::<Jid>("\"a@b@c\"").is_err());
    }
}
