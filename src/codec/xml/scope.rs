//! Namespaces in scope: which namespace each prefix (and the default, unprefixed one)
//! names at the current element, as XML Namespaces 1.0 defines them.
//!
//! A stanza declares very few namespaces, so the scope is a small stack of bindings, each
//! tagged with the depth of the element that declared it and dropped when that element
//! ends; a lookup walks it from the top, so the innermost declaration wins (`xmlns:g`
//! rebinding, `xmlns=''` un-declaring the default namespace). Each binding's namespace is
//! unescaped, checked and classified once, when it is declared. The `xml` prefix is bound
//! by definition; binding it elsewhere, binding `xmlns`, or binding either reserved
//! namespace to another prefix is an error, as is a prefix with no binding in scope.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::{check_chars, Ns};
use crate::codec::error::{DecodeError, ErrorKind};

pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

/// Most bindings in scope at once (quick-xml's own default): a lookup walks them all.
pub(crate) const MAX_BINDINGS: usize = 128;

struct Binding<'i> {
    /// `""` for the default namespace.
    prefix: &'i str,
    /// `""` un-declares (`xmlns=''`, or the prefix for `xmlns:p=''`).
    uri: Cow<'i, str>,
    ns: Ns,
    /// Depth of the declaring element (`<message>` is 1).
    level: usize,
}

/// A stanza declares a handful of namespaces (`<addresses>`, `<group>`, our element): they
/// fit in the scope itself, so a decode allocates nothing for them.
#[derive(Default)]
pub(crate) struct Scope<'i> {
    bindings: SmallVec<[Binding<'i>; 4]>,
}

/// The namespace name of a declaration's raw value: entities resolved (`xmlns='&#x75;rn:x'`
/// is `urn:x`), characters XML forbids refused.
fn ns_name(raw: &str, pos: u64) -> Result<Cow<'_, str>, DecodeError> {
    if !raw.contains('&') {
        check_chars(raw, pos)?;
        return Ok(Cow::Borrowed(raw));
    }
    let s = quick_xml::escape::unescape(raw)
        .map_err(|e| DecodeError::new(pos, ErrorKind::Xml(e.to_string())))?;
    check_chars(&s, pos)?;
    Ok(s)
}

/// `a == b` for short strings, without a call.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

#[cold]
fn reserved(pos: u64, what: &str) -> DecodeError {
    DecodeError::new(pos, ErrorKind::Xml(what.to_owned()))
}

impl<'i> Scope<'i> {
    /// Drops the bindings of elements deeper than `level` (they have ended).
    #[inline]
    pub fn leave(&mut self, level: usize) {
        while self.bindings.last().is_some_and(|b| b.level > level) {
            self.bindings.pop();
        }
    }

    /// Declares `prefix` (`""`: the default namespace) as `raw` (the attribute's value as
    /// written) on an element at depth `level`; `pos` locates errors.
    pub fn declare(
        &mut self,
        prefix: &'i str,
        raw: &'i str,
        level: usize,
        pos: u64,
    ) -> Result<(), DecodeError> {
        let uri = ns_name(raw, pos)?;
        match prefix {
            "xml" if uri == NS_XML => return Ok(()),
            "xml" => return Err(reserved(pos, "the `xml` prefix bound to another namespace")),
            "xmlns" => return Err(reserved(pos, "the `xmlns` prefix declared")),
            _ if uri == NS_XML || uri == NS_XMLNS => {
                return Err(reserved(
                    pos,
                    "a reserved namespace bound to another prefix",
                ))
            }
            _ => {}
        }
        if prefix.contains(':') {
            return Err(reserved(pos, "a namespace prefix with a colon"));
        }
        // The element's own declarations are the innermost bindings at its level; this is
        // the one check for a declaration repeated on a tag.
        if self
            .bindings
            .iter()
            .rev()
            .take_while(|b| b.level == level)
            .any(|b| same(b.prefix.as_bytes(), prefix.as_bytes()))
        {
            let name = match prefix {
                "" => "xmlns".to_owned(),
                p => format!("xmlns:{p}"),
            };
            return Err(super::duplicate_attribute(pos, &name));
        }
        if self.bindings.len() >= MAX_BINDINGS {
            return Err(DecodeError::new(
                pos,
                ErrorKind::TooMany {
                    what: "namespace declarations in scope",
                    limit: MAX_BINDINGS,
                },
            ));
        }
        let ns = Ns::classify(&uri);
        self.bindings.push(Binding {
            prefix,
            uri,
            ns,
            level,
        });
        Ok(())
    }

    /// The innermost binding of `prefix`. (Compared byte by byte: prefixes are a few
    /// bytes, and the default one is empty; a call to `memcmp` per binding per element
    /// showed up as a seventh of decoding time.)
    #[inline]
    fn find(&self, prefix: &str) -> Option<&Binding<'i>> {
        self.bindings
            .iter()
            .rev()
            .find(|b| same(b.prefix.as_bytes(), prefix.as_bytes()))
    }

    /// Whether an unprefixed element here is in `ns` (what [`Scope::element`] says for
    /// one, without copying the namespace).
    #[inline]
    pub fn default_is(&self, ns: &Ns) -> bool {
        self.find("").map_or(*ns == Ns::Content, |b| b.ns == *ns)
    }

    /// The namespace of an element named with `prefix` (`None`: unprefixed).
    #[inline]
    pub fn element(&self, prefix: Option<&str>, pos: u64) -> Result<Ns, DecodeError> {
        match prefix {
            None => Ok(self.find("").map_or(Ns::Content, |b| b.ns.clone())),
            Some("xml") => Ok(Ns::Other(NS_XML.into())),
            Some("xmlns") => Err(reserved(pos, "an element with the `xmlns` prefix")),
            Some(p) => match self.find(p) {
                Some(b) if !b.uri.is_empty() => Ok(b.ns.clone()),
                _ => Err(DecodeError::new(
                    pos,
                    ErrorKind::UnknownPrefix(p.to_owned()),
                )),
            },
        }
    }

    /// The namespace name of a prefixed attribute's `prefix`.
    pub fn attribute(&self, prefix: &str, pos: u64) -> Result<&str, DecodeError> {
        if prefix == "xml" {
            return Ok(NS_XML);
        }
        match self.find(prefix) {
            Some(b) if !b.uri.is_empty() => Ok(&b.uri),
            _ => Err(DecodeError::new(
                pos,
                ErrorKind::UnknownPrefix(prefix.to_owned()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = crate::codec::NS_ADDRESS;
    const G: &str = crate::codec::NS_GROUP;

    #[test]
    fn prefixes_and_the_default_namespace_resolve_to_the_innermost_declaration() {
        let mut s = Scope::default();
        assert_eq!(s.element(None, 0), Ok(Ns::Content));
        s.declare("", A, 1, 0).unwrap();
        s.declare("g", G, 1, 0).unwrap();
        assert_eq!(s.element(None, 0), Ok(Ns::Address));
        assert_eq!(s.element(Some("g"), 0), Ok(Ns::Group));
        // Rebinding `g` and the default one level down, then leaving that level.
        s.declare("g", "urn:other", 2, 0).unwrap();
        s.declare("", "jabber:client", 2, 0).unwrap();
        assert_eq!(s.element(Some("g"), 0), Ok(Ns::Other("urn:other".into())));
        assert_eq!(s.attribute("g", 0), Ok("urn:other"));
        assert_eq!(s.element(None, 0), Ok(Ns::Content));
        s.leave(1);
        assert_eq!(s.element(Some("g"), 0), Ok(Ns::Group));
        assert_eq!(s.element(None, 0), Ok(Ns::Address));
        s.leave(0);
        assert_eq!(s.element(None, 0), Ok(Ns::Content));
        assert_eq!(
            s.element(Some("g"), 5),
            Err(DecodeError::new(5, ErrorKind::UnknownPrefix("g".into())))
        );
    }

    #[test]
    fn an_empty_declaration_undeclares() {
        let mut s = Scope::default();
        s.declare("", G, 1, 0).unwrap();
        s.declare("p", G, 1, 0).unwrap();
        s.declare("", "", 2, 0).unwrap();
        s.declare("p", "", 2, 0).unwrap();
        assert_eq!(s.element(None, 0), Ok(Ns::Content));
        assert!(matches!(
            s.element(Some("p"), 0),
            Err(DecodeError {
                kind: ErrorKind::UnknownPrefix(_),
                ..
            })
        ));
        assert!(s.attribute("p", 0).is_err());
    }

    #[test]
    fn declarations_are_unescaped_checked_and_classified_once() {
        let mut s = Scope::default();
        s.declare("", "http://kontalk.org/extensions/message&#x23;group", 1, 0)
            .unwrap();
        assert_eq!(s.element(None, 0), Ok(Ns::Group));
        s.declare("q", "&quot;urn:q", 1, 0).unwrap();
        assert_eq!(s.attribute("q", 0), Ok("\"urn:q"));
        assert_eq!(
            s.declare("r", "urn:\0", 1, 9).unwrap_err(),
            DecodeError::new(9, ErrorKind::IllegalChar(0))
        );
        assert!(s.declare("r", "&bogus;", 1, 0).is_err());
    }

    #[test]
    fn reserved_prefixes_and_namespaces_are_kept_reserved() {
        let mut s = Scope::default();
        assert!(s.declare("xml", NS_XML, 1, 0).is_ok());
        assert_eq!(s.attribute("xml", 0), Ok(NS_XML));
        assert_eq!(s.element(Some("xml"), 0), Ok(Ns::Other(NS_XML.into())));
        for (p, uri) in [
            ("xml", "urn:x"),
            ("xmlns", NS_XMLNS),
            ("xmlns", "urn:x"),
            ("x", NS_XML),
            ("x", NS_XMLNS),
            ("", NS_XML),
        ] {
            assert!(
                matches!(s.declare(p, uri, 1, 3), Err(DecodeError { offset: 3, .. })),
                "{p}={uri}"
            );
        }
        assert!(s.element(Some("xmlns"), 0).is_err());
    }

    #[test]
    fn the_number_of_bindings_in_scope_is_bounded() {
        let names: Vec<String> = (0..=MAX_BINDINGS).map(|i| format!("p{i}")).collect();
        let mut s = Scope::default();
        for n in &names[..MAX_BINDINGS] {
            s.declare(n, "urn:x", 1, 0).unwrap();
        }
        assert!(matches!(
            s.declare(&names[MAX_BINDINGS], "urn:x", 1, 0),
            Err(DecodeError {
                kind: ErrorKind::TooMany { .. },
                ..
            })
        ));
        s.leave(0);
        assert!(s.declare(&names[MAX_BINDINGS], "urn:x", 1, 0).is_ok());
    }
}
