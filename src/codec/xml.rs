//! The event layer under every element module: quick-xml's namespace-aware reader, with
//! the XMPP restrictions (no DTD, no processing instructions, UTF-8 only) and the
//! [`Limits`] enforced in one place, entities resolved, and text handed up as `str`.
//!
//! Element modules see only [`Ev`]: a start tag with its *resolved* namespace (prefixes and
//! default namespaces are quick-xml's job, never string matching), text, or an end tag.
//! It also holds the escaping used by the encoders and the canonical re-serialisation of
//! unknown elements, which must carry their namespaces with them when they leave the
//! context they were declared in.

use std::borrow::Cow;
use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use quick_xml::XmlVersion;

use super::error::{DecodeError, ErrorKind};
use super::jid::{Jid, JidError};
use super::{Limits, RawElement, Text, NS_ADDRESS, NS_GROUP, NS_HARDENED};

/// The namespace of an element, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace, `jabber:client` or `jabber:server`: the stanza's own content.
    Content,
    Address,
    Group,
    Hardened,
    Other(Box<str>),
}

const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// The namespace name of a declaration's raw value: quick-xml hands it over unresolved,
/// so `xmlns='&#x75;rn:x'` must be unescaped before it is compared or re-emitted.
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

fn classify(raw: &str, pos: u64) -> Result<Ns, DecodeError> {
    let ns = ns_name(raw, pos)?;
    Ok(match &*ns {
        "jabber:client" | "jabber:server" => Ns::Content,
        NS_ADDRESS => Ns::Address,
        NS_GROUP => Ns::Group,
        NS_HARDENED => Ns::Hardened,
        other => Ns::Other(other.into()),
    })
}

impl Ns {
    fn uri(&self) -> Option<&str> {
        match self {
            Ns::Content => None,
            Ns::Address => Some(NS_ADDRESS),
            Ns::Group => Some(NS_GROUP),
            Ns::Hardened => Some(NS_HARDENED),
            Ns::Other(s) => Some(s),
        }
    }
}

/// A start tag (or an empty element) with its resolved namespace.
pub(crate) struct Tag<'i> {
    pub ns: Ns,
    pub start: BytesStart<'i>,
    /// `<x/>`: no children and no end event follow.
    pub empty: bool,
    /// Byte offset of the `<`.
    pub pos: u64,
}

impl<'i> Tag<'i> {
    pub fn local(&self) -> &str {
        let name = self.start.name();
        let q = name.0;
        match q.bytes().position(|b| b == b':') {
            Some(i) => &q[i + 1..],
            None => q,
        }
    }

    /// Calls `f(name, value)` for every attribute without a prefix (the only ones our
    /// elements define); namespace declarations and attributes of other namespaces are
    /// ignored, as XMPP asks. Values come normalised and entity-resolved.
    ///
    /// Duplicate attribute names are refused, as XML requires. They are detected here
    /// without allocating (quick-xml's own check keeps a vector per tag); a duplicate is
    /// then reported through quick-xml's checked iterator, so the error is quick-xml's.
    pub fn attrs(
        &self,
        mut f: impl FnMut(&str, Cow<'_, str>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let mut few: [&str; 8] = [""; 8];
        let mut many: HashSet<&str> = HashSet::new();
        for (i, a) in self.start.attributes().with_checks(false).enumerate() {
            let a = a.map_err(|e| DecodeError::new(self.pos, ErrorKind::Xml(e.to_string())))?;
            let key = a.key.0;
            let seen = if i < few.len() {
                let dup = few[..i].contains(&key);
                few[i] = key;
                dup
            } else {
                if many.is_empty() {
                    many.extend(few);
                }
                !many.insert(key)
            };
            if seen {
                return Err(self.duplicate_attribute());
            }
            if key.as_bytes().contains(&b':') || key == "xmlns" {
                continue;
            }
            let v = attr_value(&a, self.pos)?;
            f(key, v)?;
        }
        Ok(())
    }

    /// The error quick-xml's checked attribute iterator gives for this tag's duplicate.
    #[cold]
    fn duplicate_attribute(&self) -> DecodeError {
        for a in self.start.attributes() {
            if let Err(e) = a {
                return DecodeError::new(self.pos, ErrorKind::Xml(e.to_string()));
            }
        }
        DecodeError::new(self.pos, ErrorKind::Xml("duplicated attribute".into()))
    }

    /// The `xml:lang` attribute, if any (literal `xml` prefix: it is bound by definition).
    pub fn xml_lang(&self) -> Result<Option<String>, DecodeError> {
        for a in self.start.attributes() {
            let a = a.map_err(|e| DecodeError::new(self.pos, ErrorKind::Xml(e.to_string())))?;
            if a.key.0 == "xml:lang" {
                return Ok(Some(attr_value(&a, self.pos)?.into_owned()));
            }
        }
        Ok(None)
    }
}

fn attr_value<'a>(
    a: &quick_xml::events::attributes::Attribute<'a>,
    pos: u64,
) -> Result<Cow<'a, str>, DecodeError> {
    // Nearly every value has no `&` (no entity to resolve), no control character (none
    // to refuse, and no tab, newline or carriage return to normalise) and no 0xEF lead
    // byte (no U+FFFE or U+FFFF): then the normalised, checked value is the raw one.
    if !a
        .value
        .bytes()
        .fold(false, |acc, c| acc | (c < 0x20) | (c == b'&') | (c == 0xEF))
    {
        return Ok(a.value.clone());
    }
    let v = a
        .normalized_value(XmlVersion::Implicit1_0)
        .map_err(|e| DecodeError::new(pos, ErrorKind::Xml(e.to_string())))?;
    check_chars(&v, pos)?;
    Ok(v)
}

/// One step of the input, as element modules see it.
pub(crate) enum Ev<'i> {
    Start(Tag<'i>),
    End,
    Text(Cow<'i, str>),
    Eof,
}

/// Rejects the characters XML 1.0 forbids (controls, U+FFFE, U+FFFF) even when they arrive
/// as character references, so that whatever we decode we can encode again.
pub(crate) fn check_chars(s: &str, pos: u64) -> Result<(), DecodeError> {
    let b = s.as_bytes();
    // Nearly all text passes this branch-free scan.
    if !b
        .iter()
        .fold(false, |acc, &c| acc | (c < 0x20) | (c == 0xEF))
    {
        return Ok(());
    }
    for (i, &c) in b.iter().enumerate() {
        let bad = (c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r')
            || (c == 0xEF
                && b.get(i + 1) == Some(&0xBF)
                && matches!(b.get(i + 2), Some(0xBE | 0xBF)));
        if bad {
            let ch = s[i..].chars().next().map_or(u32::from(c), u32::from);
            return Err(DecodeError::new(pos, ErrorKind::IllegalChar(ch)));
        }
    }
    Ok(())
}

/// The error for a child element where none is allowed.
fn unexpected_child(t: &Tag<'_>, element: &'static str) -> DecodeError {
    DecodeError::new(
        t.pos,
        ErrorKind::UnexpectedElement {
            element,
            child: t.local().to_owned(),
        },
    )
}

/// `<child>` twice in `element`.
pub(crate) fn duplicate(pos: u64, element: &'static str, child: &'static str) -> DecodeError {
    DecodeError::new(pos, ErrorKind::Duplicate { element, child })
}

/// The reader: one stanza, with depth and size limits.
pub(crate) struct Cursor<'i> {
    r: NsReader<&'i [u8]>,
    input: &'i [u8],
    depth: usize,
    root_seen: bool,
    pub limits: Limits,
}

impl<'i> Cursor<'i> {
    pub fn new(input: &'i [u8], limits: Limits) -> Result<Self, DecodeError> {
        if input.len() > limits.max_bytes {
            return Err(DecodeError::new(
                limits.max_bytes as u64,
                ErrorKind::TooLarge {
                    limit: limits.max_bytes,
                },
            ));
        }
        // quick-xml checks UTF-8 event by event (an error is `Error::Encoding`), so the
        // input is not validated twice.
        let mut r = NsReader::from_reader(input);
        let c = r.config_mut();
        c.check_end_names = true;
        c.check_comments = true;
        c.expand_empty_elements = false;
        c.trim_text_start = false;
        c.trim_text_end = false;
        Ok(Cursor {
            r,
            input,
            depth: 0,
            root_seen: false,
            limits,
        })
    }

    /// Parses a JID attribute value ([`Jid::new`]). (Remembering the JIDs already seen in
    /// the stanza, to skip validating and allocating repeats, was measured: the hashing
    /// cost more than it saved.)
    pub fn jid(&mut self, v: &str) -> Result<Jid, JidError> {
        Jid::new(v)
    }

    /// [`Cursor::jid`] for a JID that must be bare ([`Jid::new_bare`]).
    pub fn bare_jid(&mut self, v: &str) -> Result<Jid, JidError> {
        let j = self.jid(v)?;
        if j.is_bare() {
            Ok(j)
        } else {
            Err(JidError::NotBare)
        }
    }

    /// The required bare `jid` attribute of `tag` (`<member/>`, `<add/>`, `<remove/>`).
    pub fn jid_attr(&mut self, tag: &Tag<'i>, element: &'static str) -> Result<Jid, DecodeError> {
        let mut jid = None;
        tag.attrs(|k, v| {
            if k == "jid" {
                jid = Some(self.bare_jid(&v).map_err(|e| {
                    DecodeError::new(
                        tag.pos,
                        ErrorKind::BadAttribute {
                            element,
                            attribute: "jid",
                            value: v.to_string(),
                            reason: e.to_string(),
                        },
                    )
                })?);
            }
            Ok(())
        })?;
        jid.ok_or(DecodeError::new(
            tag.pos,
            ErrorKind::MissingAttribute {
                element,
                attribute: "jid",
            },
        ))
    }

    /// Fails with `TooMany` when a list of `len` entries may not take one more.
    pub fn room(&self, len: usize, pos: u64, what: &'static str) -> Result<(), DecodeError> {
        if len >= self.limits.max_items {
            return Err(DecodeError::new(
                pos,
                ErrorKind::TooMany {
                    what,
                    limit: self.limits.max_items,
                },
            ));
        }
        Ok(())
    }

    /// Walks the children of the element `tag` opened, up to its end tag: whitespace is
    /// skipped, any other text is an error, and each child's start tag goes to `child`,
    /// which must consume that child (decode it, [`Cursor::skip`] it, ...). The one child
    /// loop of every element with element children.
    pub fn children(
        &mut self,
        tag: &Tag<'i>,
        element: &'static str,
        mut child: impl FnMut(&mut Self, Tag<'i>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if tag.empty {
            return Ok(());
        }
        loop {
            match self.next()? {
                Ev::End => return Ok(()),
                Ev::Text(t) if is_ws(&t) => {}
                Ev::Text(_) => {
                    return Err(DecodeError::new(
                        self.pos(),
                        ErrorKind::UnexpectedText { element },
                    ))
                }
                Ev::Start(t) => child(self, t)?,
                Ev::Eof => return Err(self.eof()),
            }
        }
    }

    pub fn pos(&self) -> u64 {
        self.r.buffer_position()
    }

    fn xml_err(&self, e: quick_xml::Error) -> DecodeError {
        let kind = match e {
            quick_xml::Error::Encoding(_) => {
                // The error path only: find the exact offset of the bad byte.
                let at = std::str::from_utf8(self.input)
                    .err()
                    .map_or(0, |u| u.valid_up_to());
                return DecodeError::new(at as u64, ErrorKind::NotUtf8);
            }
            e => ErrorKind::Xml(e.to_string()),
        };
        DecodeError::new(self.r.error_position(), kind)
    }

    /// The next event that matters: comments are skipped, whitespace outside the root too.
    pub fn next(&mut self) -> Result<Ev<'i>, DecodeError> {
        loop {
            let pos = self.r.buffer_position();
            let (ns, ev) = match self.r.read_resolved_event() {
                Ok((res, ev)) => {
                    let ns = match (&ev, res) {
                        (Event::Start(_) | Event::Empty(_), ResolveResult::Unbound) => {
                            Some(Ns::Content)
                        }
                        (Event::Start(_) | Event::Empty(_), ResolveResult::Bound(n)) => {
                            Some(classify(n.0, pos)?)
                        }
                        (Event::Start(e) | Event::Empty(e), ResolveResult::Unknown(p)) => {
                            let _ = e;
                            return Err(DecodeError::new(pos, ErrorKind::UnknownPrefix(p)));
                        }
                        _ => None,
                    };
                    (ns, ev)
                }
                Err(e) => return Err(self.xml_err(e)),
            };
            match ev {
                Event::Start(start) | Event::Empty(start) if self.depth == 0 && self.root_seen => {
                    let _ = start;
                    return Err(DecodeError::new(pos, ErrorKind::TrailingContent));
                }
                Event::Start(start) => return self.start(start, ns, pos, false),
                Event::Empty(start) => return self.start(start, ns, pos, true),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Ev::End);
                }
                Event::Text(t) => {
                    if self.depth == 0 {
                        if t.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
                            continue;
                        }
                        return Err(DecodeError::new(
                            pos,
                            if self.root_seen {
                                ErrorKind::TrailingContent
                            } else {
                                ErrorKind::Xml("text before the root element".into())
                            },
                        ));
                    }
                    let s = t.xml10_content();
                    check_chars(&s, pos)?;
                    return Ok(Ev::Text(s));
                }
                Event::CData(t) => {
                    if self.depth == 0 {
                        return Err(DecodeError::new(
                            pos,
                            ErrorKind::Xml("CDATA outside the root element".into()),
                        ));
                    }
                    let s = t.xml10_content();
                    check_chars(&s, pos)?;
                    return Ok(Ev::Text(s));
                }
                Event::GeneralRef(r) => {
                    if self.depth == 0 {
                        return Err(DecodeError::new(
                            pos,
                            ErrorKind::Xml("entity reference outside the root element".into()),
                        ));
                    }
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => {
                            let mut buf = [0u8; 4];
                            let s: &str = c.encode_utf8(&mut buf);
                            check_chars(s, pos)?;
                            return Ok(Ev::Text(Cow::Owned(s.to_owned())));
                        }
                        Ok(None) => {}
                        Err(e) => return Err(DecodeError::new(pos, ErrorKind::Xml(e.to_string()))),
                    }
                    let name: &str = &r;
                    match quick_xml::escape::resolve_predefined_entity(name) {
                        Some(s) => return Ok(Ev::Text(Cow::Borrowed(s))),
                        None => {
                            return Err(DecodeError::new(
                                pos,
                                ErrorKind::UnknownEntity(name.to_owned()),
                            ))
                        }
                    }
                }
                Event::Comment(_) => continue,
                Event::Decl(_) => {
                    if self.root_seen || self.depth > 0 {
                        return Err(DecodeError::new(
                            pos,
                            ErrorKind::Xml("XML declaration not at the start".into()),
                        ));
                    }
                    continue;
                }
                Event::PI(_) => {
                    return Err(DecodeError::new(pos, ErrorKind::ProcessingInstruction))
                }
                Event::DocType(_) => return Err(DecodeError::new(pos, ErrorKind::Doctype)),
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(DecodeError::new(
                            pos,
                            ErrorKind::Xml("unexpected end of input inside an element".into()),
                        ));
                    }
                    return Ok(Ev::Eof);
                }
            }
        }
    }

    /// A start tag (`empty`: of an element without content) as the next event.
    fn start(
        &mut self,
        start: BytesStart<'i>,
        ns: Option<Ns>,
        pos: u64,
        empty: bool,
    ) -> Result<Ev<'i>, DecodeError> {
        if self.depth + 1 > self.limits.max_depth {
            return Err(DecodeError::new(
                pos,
                ErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
            ));
        }
        if !empty {
            self.depth += 1;
        }
        self.root_seen = true;
        Ok(Ev::Start(Tag {
            ns: ns.unwrap_or(Ns::Content),
            start,
            empty,
            pos,
        }))
    }

    /// The text content of a leaf element (`<body>`, `<subject>`): text, entities and CDATA
    /// joined; a child element is an error.
    pub fn leaf_text(
        &mut self,
        tag: &Tag<'i>,
        element: &'static str,
    ) -> Result<String, DecodeError> {
        let mut out = String::new();
        if tag.empty {
            return Ok(out);
        }
        loop {
            match self.next()? {
                Ev::Text(t) => out.push_str(&t),
                Ev::End => return Ok(out),
                Ev::Start(t) => return Err(unexpected_child(&t, element)),
                Ev::Eof => return Err(self.eof()),
            }
        }
    }

    /// Consumes an element whose children are not wanted (unknown children of known
    /// elements are ignored, as XMPP asks).
    pub fn skip(&mut self, tag: &Tag<'i>) -> Result<(), DecodeError> {
        if tag.empty {
            return Ok(());
        }
        let mut open = 1usize;
        while open > 0 {
            match self.next()? {
                Ev::Start(t) if !t.empty => open += 1,
                Ev::End => open -= 1,
                Ev::Eof => return Err(self.eof()),
                _ => {}
            }
        }
        Ok(())
    }

    /// A childless element: anything inside it but whitespace is an error.
    pub fn expect_empty(
        &mut self,
        tag: &Tag<'i>,
        element: &'static str,
    ) -> Result<(), DecodeError> {
        self.children(tag, element, |_, t| Err(unexpected_child(&t, element)))
    }

    pub fn eof(&self) -> DecodeError {
        DecodeError::new(self.pos(), ErrorKind::Xml("unexpected end of input".into()))
    }

    /// Re-serialises an unknown element and its subtree in a canonical, self-contained
    /// form: every namespace it uses is declared on it (its context will be different
    /// when it is re-emitted), comments are dropped, text is re-escaped, `<x></x>` becomes
    /// `<x/>`. Capturing the output again gives the same string.
    pub fn capture(&mut self, tag: Tag<'i>) -> Result<RawElement, DecodeError> {
        let mut out = String::new();
        let name: Text = tag.local().into();
        let ns = tag.ns.clone();
        self.write_start(&mut out, &tag, &Ns::Content)?;
        if tag.empty {
            out.push_str("/>");
        } else {
            // Open elements: namespace and local name; `open` is true while the last start
            // tag still lacks its '>' (so an element without content can close as `/>`).
            let mut stack: Vec<(Ns, String)> = vec![(tag.ns.clone(), tag.local().to_owned())];
            let mut open = true;
            while let Some((top, _)) = stack.last() {
                let top = top.clone();
                match self.next()? {
                    Ev::Start(t) => {
                        if open {
                            out.push('>');
                        }
                        self.write_start(&mut out, &t, &top)?;
                        if t.empty {
                            out.push_str("/>");
                            open = false;
                        } else {
                            stack.push((t.ns.clone(), t.local().to_owned()));
                            open = true;
                        }
                    }
                    Ev::Text(s) => {
                        if open {
                            out.push('>');
                            open = false;
                        }
                        escape_text(&mut out, &s);
                    }
                    Ev::End => {
                        if let Some((_, n)) = stack.pop() {
                            if open {
                                out.push_str("/>");
                            } else {
                                out.push_str("</");
                                out.push_str(&n);
                                out.push('>');
                            }
                        }
                        open = false;
                    }
                    Ev::Eof => return Err(self.eof()),
                }
            }
        }
        Ok(RawElement {
            ns: ns.uri().map(Into::into),
            name,
            xml: out.into(),
        })
    }

    /// `<name` with an `xmlns` when the namespace differs from the parent's, and the
    /// attributes with their namespaces declared under generated prefixes.
    fn write_start(&self, out: &mut String, tag: &Tag<'i>, parent: &Ns) -> Result<(), DecodeError> {
        check_name(tag.local(), tag.pos)?;
        out.push('<');
        out.push_str(tag.local());
        if tag.ns != *parent {
            write_attr(out, "xmlns", tag.ns.uri().unwrap_or(""));
        }
        let mut n = 0usize;
        for a in tag.start.attributes() {
            let a = a.map_err(|e| DecodeError::new(tag.pos, ErrorKind::Xml(e.to_string())))?;
            let key = a.key.0;
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let v = attr_value(&a, tag.pos)?;
            let (res, local) = self.r.resolver().resolve_attribute(a.key);
            let local: &str = local.as_ref();
            check_name(local, tag.pos)?;
            match res {
                ResolveResult::Unbound => write_attr(out, local, &v),
                ResolveResult::Bound(b) if b.0 == NS_XML => {
                    write_attr(out, &format!("xml:{local}"), &v)
                }
                ResolveResult::Bound(b) => {
                    let p = format!("a{n}");
                    n += 1;
                    write_attr(out, &format!("xmlns:{p}"), &ns_name(b.0, tag.pos)?);
                    write_attr(out, &format!("{p}:{local}"), &v);
                }
                ResolveResult::Unknown(p) => {
                    return Err(DecodeError::new(tag.pos, ErrorKind::UnknownPrefix(p)))
                }
            }
        }
        Ok(())
    }
}

/// The names we re-emit from unknown elements must read back as the same names: no
/// characters XML forbids, no markup delimiters, no whitespace.
fn check_name(name: &str, pos: u64) -> Result<(), DecodeError> {
    check_chars(name, pos)?;
    let bad = name.is_empty()
        || name.bytes().any(|b| {
            matches!(
                b,
                b'<' | b'>'
                    | b'&'
                    | b'\''
                    | b'"'
                    | b'='
                    | b'/'
                    | b'!'
                    | b'?'
                    | b' '
                    | b'\t'
                    | b'\r'
                    | b'\n'
            )
        });
    if bad {
        return Err(DecodeError::new(
            pos,
            ErrorKind::Xml(format!("invalid name `{name}`")),
        ));
    }
    Ok(())
}

pub(crate) fn is_ws(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Escapes text content; `\r` too, or the reader's end-of-line normalisation would eat it.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Escapes an attribute value for single quotes; tabs and newlines too, or attribute-value
/// normalisation would turn them into spaces.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\'' => "&apos;",
            b'"' => "&quot;",
            b'\r' => "&#xD;",
            b'\n' => "&#xA;",
            b'\t' => "&#x9;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// ` name='value'`
pub(crate) fn write_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_attr(out, value);
    out.push('\'');
}
