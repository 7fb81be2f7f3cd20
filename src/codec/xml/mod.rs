//! The event layer under every element module: one pass over the stanza, with quick-xml's
//! plain reader as the tokeniser and the rest of XML done here, each thing once.
//!
//! Element modules see only [`Ev`]: a start tag with its *resolved* namespace, text, or an
//! end tag. Namespaces are resolved for real ([`scope`]: prefixes, default namespaces,
//! rebinding, un-declaring; never string matching), attributes are read straight from the
//! tag's bytes ([`attrs`], a word at a time where it can: [`words`]) and checked as XML
//! requires (syntax, duplicates by name and by namespace, entities resolved, forbidden
//! characters refused), and the XMPP restrictions (no DTD, no processing instructions,
//! UTF-8 only) and the [`Limits`] are enforced in one place. Reading the attributes once,
//! from the tag's bytes, spares the second parse of every start tag and the allocation per
//! element that quick-xml's namespace-aware reader makes. Unknown elements are
//! re-serialised by [`capture`]; the encoders' escaping is in [`escape`].
//!
//! The long lists (addresses, group members, snapshot members and their spans) are most of
//! a stanza's elements, so their children also have fast paths, in [`skim`]
//! ([`Cursor::children_fast`]): a child is offered to its element module as a [`FastTag`],
//! without a [`Tag`] being built, and where quick-xml stands between two tags the child
//! is read straight from the input, without quick-xml tokenising it. A fast path only
//! takes what it can decode in full and leaves everything else, errors included, to the
//! ordinary way here. `Message::decode_reference` decodes with the fast paths off
//! ([`Cursor::fast`]), and the property tests and the fuzz target check that the two
//! always agree, value for value and error for error.

mod attrs;
mod capture;
mod escape;
mod scope;
mod skim;
mod words;

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::error::{DecodeError, ErrorKind};
use super::jid::{Jid, JidError};
use super::{Limits, NS_ADDRESS, NS_GROUP, NS_HARDENED};
use attrs::{first_repeat, RawAttr, Scan};
use scope::Scope;

pub(crate) use escape::{escape_text, escape_text_smack, write_attr, write_attr_smack};
pub(crate) use skim::FastTag;

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

impl Ns {
    /// The class of a namespace name (already unescaped; `""`: no namespace).
    fn classify(uri: &str) -> Ns {
        match uri {
            "" | "jabber:client" | "jabber:server" => Ns::Content,
            NS_ADDRESS => Ns::Address,
            NS_GROUP => Ns::Group,
            NS_HARDENED => Ns::Hardened,
            other => Ns::Other(other.into()),
        }
    }

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

/// How many unprefixed attributes a [`Tag`] carries itself (our elements have at most
/// four in practice); a tag with more reads them again from its bytes.
const KEPT: usize = 4;

/// An attribute without a prefix, as [`Tag::attrs`] hands it over: name and value as
/// byte ranges of the tag's `raw` (a tag is moved at every step, so it is kept small).
#[derive(Clone, Copy, Default)]
struct Plain {
    name: (u16, u16),
    value: (u16, u16),
}

/// A start tag (or an empty element) with its resolved namespace, its attributes checked.
pub(crate) struct Tag<'i> {
    pub ns: Ns,
    local: &'i str,
    /// The first [`KEPT`] unprefixed attributes other than `xmlns`.
    plain: [Plain; KEPT],
    n_plain: u8,
    /// Bit `k`: the value of `plain[k]` needs work ([`RawAttr::special`]).
    special: u8,
    /// The unprefixed attributes are not all in `plain` (more than [`KEPT`], or a tag
    /// too long for 16-bit offsets): read them from `raw`.
    more_plain: bool,
    /// Some attribute has a prefix (other than `xmlns:`).
    prefixed: bool,
    /// What follows the element name in the tag, and its offset in the input.
    raw: &'i str,
    raw_pos: u64,
    /// `<x/>`: no children and no end event follow.
    pub empty: bool,
    /// Byte offset of the `<`.
    pub pos: u64,
}

impl<'i> Tag<'i> {
    pub fn local(&self) -> &'i str {
        self.local
    }

    /// Calls `f(name, value)` for every attribute without a prefix (the only ones our
    /// elements define), in document order; namespace declarations and attributes of other
    /// namespaces are left out, as XMPP asks. Values come normalised and entity-resolved.
    /// (Duplicates and syntax were refused when the tag was read.)
    #[inline]
    pub fn attrs(
        &self,
        mut f: impl FnMut(&str, Cow<'_, str>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if !self.more_plain {
            for (k, a) in self.plain[..usize::from(self.n_plain)].iter().enumerate() {
                let range = |(at, len): (u16, u16)| {
                    let at = usize::from(at);
                    self.raw.get(at..at + usize::from(len))
                };
                let (Some(name), Some(value)) = (range(a.name), range(a.value)) else {
                    return Err(DecodeError::new(
                        self.pos,
                        ErrorKind::Xml("attribute outside its tag".into()),
                    ));
                };
                let v = if self.special & (1 << k) != 0 {
                    self.value_of(name, value)?
                } else {
                    Cow::Borrowed(value)
                };
                f(name, v)?;
            }
            return Ok(());
        }
        let mut scan = Scan::new(self.raw, self.raw_pos);
        while let Some(a) = scan.next()? {
            if a.colon == 0 && a.name != "xmlns" {
                f(a.name, a.value(self.pos)?)?;
            }
        }
        Ok(())
    }

    #[cold]
    fn value_of(&self, name: &'i str, value: &'i str) -> Result<Cow<'i, str>, DecodeError> {
        RawAttr {
            name,
            value,
            pos: self.pos,
            special: true,
            colon: 0,
        }
        .value(self.pos)
    }

    /// The `xml:lang` attribute, if any (literal `xml` prefix: it is bound by definition,
    /// and no other prefix may name its namespace).
    pub fn xml_lang(&self) -> Result<Option<String>, DecodeError> {
        if !self.prefixed {
            return Ok(None);
        }
        let mut scan = Scan::new(self.raw, self.raw_pos);
        while let Some(a) = scan.next()? {
            if a.name == "xml:lang" {
                return Ok(Some(a.value(self.pos)?.into_owned()));
            }
        }
        Ok(None)
    }
}

/// An element's `prefix:local` name split (`None`: no prefix). A name with an empty part
/// or a second colon is not a qualified name.
#[inline]
fn split_qname(name: &str, pos: u64) -> Result<(Option<&str>, &str), DecodeError> {
    let Some(c) = name.bytes().position(|b| b == b':') else {
        return Ok((None, name));
    };
    let (prefix, local) = (&name[..c], &name[c + 1..]);
    if prefix.is_empty() || local.is_empty() || local.bytes().any(|b| b == b':') {
        return Err(DecodeError::new(
            pos,
            ErrorKind::Xml(format!("`{name}` is not a qualified name")),
        ));
    }
    Ok((Some(prefix), local))
}

/// One step of the input, as element modules see it.
// A start tag is by far the largest, and the most common: boxing it would allocate per
// element, which is what this layer avoids; an event is handed on, never stored.
#[allow(clippy::large_enum_variant)]
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

/// An attribute named twice on one tag.
#[cold]
pub(crate) fn duplicate_attribute(pos: u64, name: &str) -> DecodeError {
    DecodeError::new(pos, ErrorKind::Xml(format!("duplicate attribute `{name}`")))
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
    r: Reader<&'i [u8]>,
    input: &'i str,
    depth: usize,
    root_seen: bool,
    scope: Scope<'i>,
    /// The attributes of a tag checked as a whole (kept to reuse its allocation).
    scratch: Vec<RawAttr<'i>>,
    pub limits: Limits,
    // The fast paths' state (see `skim`).
    /// [`Cursor::children_fast`] takes its fast path (off: everything the ordinary way,
    /// for comparing the two).
    pub fast: bool,
    /// The last event quick-xml read was a tag (start, empty or end): it is between two
    /// pieces of markup, where [`Cursor::skim`] may take the next element itself. (After
    /// text it is at the `<` of the next tag, and must read that tag itself; in a list,
    /// text only ever comes before a child the skim declined, but this keeps the rule
    /// local.)
    after_tag: bool,
    /// The name of the child with content that [`Cursor::skim`] is taking, and how much
    /// of the input past quick-xml's position it has taken so far; quick-xml is moved
    /// past it all once its end tag is taken too.
    open: Option<&'i str>,
    ahead: usize,
    /// A skim met what only quick-xml reads ([`Cursor::stuck`]).
    stuck: bool,
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
        // Checked once, here, so that every name and value can be sliced from the input
        // as `str`.
        let input = std::str::from_utf8(input)
            .map_err(|e| DecodeError::new(e.valid_up_to() as u64, ErrorKind::NotUtf8))?;
        let mut r = Reader::from_str(input);
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
            scope: Scope::default(),
            scratch: Vec::new(),
            limits,
            fast: true,
            after_tag: false,
            open: None,
            ahead: 0,
            stuck: false,
        })
    }

    /// Parses a JID attribute value ([`Jid::new`]). No cache of the JIDs already seen in
    /// the stanza: hashing costs more than validating a repeat (docs/performance.md).
    pub fn jid(&mut self, v: &str) -> Result<Jid, JidError> {
        Jid::new(v)
    }

    /// [`Cursor::jid`] for a JID that must be bare ([`Jid::new_bare`]).
    pub fn bare_jid(&mut self, v: &str) -> Result<Jid, JidError> {
        Jid::new_bare(v)
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

    /// Whether a list of `len` entries may take one more ([`Limits::max_items`]).
    pub fn has_room(&self, len: usize) -> bool {
        len < self.limits.max_items
    }

    /// Fails with `TooMany` when a list of `len` entries may not take one more.
    pub fn room(&self, len: usize, pos: u64, what: &'static str) -> Result<(), DecodeError> {
        if !self.has_room(len) {
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
    /// which must consume that child (decode it, [`Cursor::skip`] it, ...). The child loop
    /// of every element with element children; the long lists have theirs with fast paths
    /// ([`Cursor::children_fast`]), which does the same with what they leave.
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
                Ev::Text(_) => return Err(self.unexpected_text(element)),
                Ev::Start(t) => child(self, t)?,
                Ev::Eof => return Err(self.eof()),
            }
        }
    }

    /// Where `s` starts in the input, for a slice of it (as quick-xml's events and its
    /// unread rest are); meaningless for any other, and only ever used through `get`.
    #[inline]
    fn offset(&self, s: &[u8]) -> usize {
        (s.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize)
    }

    /// The qualified name of the start tag `start` and what follows it in the tag, as
    /// slices of the input (quick-xml's event borrows them from there), and the offset of
    /// the latter in the input.
    #[inline]
    fn tag_text(&self, start: &BytesStart<'_>) -> Option<(&'i str, &'i str, u64)> {
        let content: &str = start;
        let at = self.offset(content.as_bytes());
        let end_of_name = at.wrapping_add(start.name().0.len());
        Some((
            self.input.get(at..end_of_name)?,
            self.input
                .get(end_of_name..at.wrapping_add(content.len()))?,
            end_of_name as u64,
        ))
    }

    pub fn pos(&self) -> u64 {
        self.r.buffer_position()
    }

    fn xml_err(&self, e: quick_xml::Error) -> DecodeError {
        let kind = match e {
            // Not expected: the input was checked as a whole.
            quick_xml::Error::Encoding(_) => ErrorKind::NotUtf8,
            e => ErrorKind::Xml(e.to_string()),
        };
        DecodeError::new(self.r.error_position(), kind)
    }

    /// The next event that matters: comments are skipped, whitespace outside the root too.
    pub fn next(&mut self) -> Result<Ev<'i>, DecodeError> {
        // The declarations of elements that have ended (or were empty) leave the scope.
        self.scope.leave(self.depth);
        loop {
            let (ev, pos) = self.read()?;
            if let Some(ev) = self.event(ev, pos)? {
                return Ok(ev);
            }
        }
    }

    /// quick-xml's next event, and the offset where it starts.
    #[inline]
    fn read(&mut self) -> Result<(Event<'i>, u64), DecodeError> {
        if self.open.is_some() {
            // Inside a child a skim is taking: quick-xml has not read its start tag.
            return Err(self.stuck());
        }
        let pos = self.r.buffer_position();
        match self.r.read_event() {
            Ok(ev) => {
                self.after_tag = matches!(ev, Event::Start(_) | Event::Empty(_) | Event::End(_));
                Ok((ev, pos))
            }
            Err(e) => Err(self.xml_err(e)),
        }
    }

    /// quick-xml's event `ev` (at `pos`) as an event that matters; `None`: skipped.
    fn event(&mut self, ev: Event<'i>, pos: u64) -> Result<Option<Ev<'i>>, DecodeError> {
        match ev {
            Event::Start(_) | Event::Empty(_) if self.depth == 0 && self.root_seen => {
                Err(DecodeError::new(pos, ErrorKind::TrailingContent))
            }
            Event::Start(start) => self.start(start, pos, false).map(Some),
            Event::Empty(start) => self.start(start, pos, true).map(Some),
            Event::End(_) => {
                self.depth = self.depth.saturating_sub(1);
                Ok(Some(Ev::End))
            }
            Event::Text(t) => {
                if self.depth == 0 {
                    if is_ws(&t) {
                        return Ok(None);
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
                Ok(Some(Ev::Text(s)))
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
                Ok(Some(Ev::Text(s)))
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
                        return Ok(Some(Ev::Text(Cow::Owned(s.to_owned()))));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(DecodeError::new(pos, ErrorKind::Xml(e.to_string()))),
                }
                let name: &str = &r;
                match quick_xml::escape::resolve_predefined_entity(name) {
                    Some(s) => Ok(Some(Ev::Text(Cow::Borrowed(s)))),
                    None => Err(DecodeError::new(
                        pos,
                        ErrorKind::UnknownEntity(name.to_owned()),
                    )),
                }
            }
            Event::Comment(_) => Ok(None),
            Event::Decl(_) => {
                if self.root_seen || self.depth > 0 {
                    return Err(DecodeError::new(
                        pos,
                        ErrorKind::Xml("XML declaration not at the start".into()),
                    ));
                }
                Ok(None)
            }
            Event::PI(_) => Err(DecodeError::new(pos, ErrorKind::ProcessingInstruction)),
            Event::DocType(_) => Err(DecodeError::new(pos, ErrorKind::Doctype)),
            Event::Eof => {
                if self.depth > 0 {
                    return Err(DecodeError::new(
                        pos,
                        ErrorKind::Xml("unexpected end of input inside an element".into()),
                    ));
                }
                Ok(Some(Ev::Eof))
            }
        }
    }

    /// A start tag (`empty`: of an element without content) as the next event: its
    /// namespace declarations enter the scope, its name and attributes are resolved, its
    /// attributes checked (syntax, duplicates, values that need work).
    fn start(
        &mut self,
        start: BytesStart<'_>,
        pos: u64,
        empty: bool,
    ) -> Result<Ev<'i>, DecodeError> {
        let level = self.depth + 1;
        if level > self.limits.max_depth {
            return Err(DecodeError::new(
                pos,
                ErrorKind::TooDeep {
                    limit: self.limits.max_depth,
                },
            ));
        }
        let Some((qname, raw, raw_pos)) = self.tag_text(&start) else {
            return Err(DecodeError::new(
                pos,
                ErrorKind::Xml("start tag outside the input".into()),
            ));
        };

        // Every attribute once: declarations go to the scope before anything is resolved
        // (they apply to the tag that carries them; a prefix declared twice on it is
        // refused there), and the first few unprefixed ones are kept, checked distinct as
        // they come. A tag with prefixed attributes, or more unprefixed ones than are kept,
        // has its attributes checked as a whole afterwards.
        let mut plain = [Plain::default(); KEPT];
        let (mut prefixed, mut n_plain, mut special) = (false, 0usize, 0u8);
        let fits = raw.len() <= usize::from(u16::MAX);
        let base = raw.as_ptr() as usize;
        // Offsets within `raw`, which is shorter than 64 KiB when they are taken.
        let span = |s: &str| {
            (
                (s.as_ptr() as usize).wrapping_sub(base) as u16,
                s.len() as u16,
            )
        };
        let mut scan = Scan::new(raw, raw_pos);
        while let Some(a) = scan.next()? {
            if let Some(prefix) = a.declares() {
                self.scope.declare(prefix, a.value, level, a.pos)?;
            } else if a.colon > 0 {
                prefixed = true;
                if a.special {
                    a.value(a.pos)?;
                }
            } else {
                if n_plain < KEPT && fits {
                    let name = a.name.as_bytes();
                    if plain[..n_plain].iter().any(|p| {
                        scope::same(
                            name,
                            &raw.as_bytes()[usize::from(p.name.0)..][..usize::from(p.name.1)],
                        )
                    }) {
                        return Err(duplicate_attribute(a.pos, a.name));
                    }
                    plain[n_plain] = Plain {
                        name: span(a.name),
                        value: span(a.value),
                    };
                    special |= u8::from(a.special) << n_plain;
                }
                n_plain += 1;
            }
        }
        let (prefix, local) = split_qname(qname, pos)?;
        let ns = self.scope.element(prefix, pos)?;
        let more_plain = n_plain > KEPT || !fits;
        if prefixed || more_plain {
            self.check_distinct(raw, raw_pos, prefixed)?;
        }
        let tag = Tag {
            ns,
            local,
            plain,
            n_plain: if more_plain { 0 } else { n_plain as u8 },
            special,
            more_plain,
            prefixed,
            raw,
            raw_pos,
            empty,
            pos,
        };
        if !empty {
            self.depth = level;
        }
        self.root_seen = true;
        Ok(Ev::Start(tag))
    }

    /// Refuses a tag whose attributes (`raw`, what follows its name) repeat a name, or,
    /// prefixed, a namespace and local name. (The common tag, with a few unprefixed
    /// attributes, is checked as it is read, without this; namespace declarations are
    /// left out, the scope refused a prefix declared twice when it read them.)
    #[cold]
    fn check_distinct(
        &mut self,
        raw: &'i str,
        raw_pos: u64,
        prefixed: bool,
    ) -> Result<(), DecodeError> {
        self.scratch.clear();
        let mut scan = Scan::new(raw, raw_pos);
        while let Some(a) = scan.next()? {
            if a.declares().is_none() {
                self.scratch.push(a);
            }
        }
        let attrs = &self.scratch;
        let repeat = if !prefixed {
            let names: Vec<&str> = attrs.iter().map(|a| a.name).collect();
            first_repeat(&names)
        } else {
            let mut keys = Vec::with_capacity(attrs.len());
            for a in attrs {
                keys.push(match a.prefix() {
                    Some(p) => (Some(self.scope.attribute(p, a.pos)?), a.local()),
                    None => (None, a.name),
                });
            }
            first_repeat(&keys)
        };
        match repeat {
            None => Ok(()),
            Some(i) => Err(duplicate_attribute(attrs[i].pos, attrs[i].name)),
        }
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

    /// The error for text other than whitespace among the children of `element`.
    fn unexpected_text(&self, element: &'static str) -> DecodeError {
        DecodeError::new(self.pos(), ErrorKind::UnexpectedText { element })
    }
}

/// XML's whitespace: space, tab, carriage return, line feed.
fn is_ws_byte(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn is_ws(s: &str) -> bool {
    s.bytes().all(is_ws_byte)
}
