//! The fast paths of the long lists (addresses, group members, snapshot members and
//! their spans): most of a stanza's elements are their children, so these are offered to
//! the element module as a [`FastTag`] instead of going the ordinary way
//! ([`Cursor::children_fast`]).
//!
//! A [`FastTag`] is a child's start tag with an unprefixed name, read from quick-xml's
//! event, or, between two tags, straight from the input before quick-xml tokenises it
//! ([`Cursor::skim`]); its attributes are read only if asked for, and only if all are
//! plain. Building a [`Tag`] and tokenising such children cost more than decoding them.
//!
//! A fast path only takes what it can decode in full, and leaves everything else, errors
//! included, to the ordinary way ([`Cursor::children`]), which says what is wrong.

use quick_xml::events::{BytesStart, Event};

use super::attrs::Scan;
use super::scope;
use super::words::plain;
use super::{is_ws, is_ws_byte, Cursor, Ev, Ns, Tag, KEPT};
use crate::codec::error::{DecodeError, ErrorKind};
use crate::codec::jid::Jid;

/// A child element offered to a fast path ([`Cursor::children_fast`]): an unprefixed name
/// and what follows it in the tag, whose attributes are read only when asked for, and only
/// if they are all plain (see [`FastTag::attrs`]).
pub(crate) struct FastTag<'i> {
    pub local: &'i str,
    /// What follows the name in the tag.
    raw: &'i str,
    attrs: [(&'i str, &'i str); KEPT],
    /// How many of `attrs` are read; `None`: not yet.
    n: Option<usize>,
    /// Byte offset of the `<`.
    pub pos: u64,
    /// `<x/>`: no content follows.
    pub empty: bool,
}

impl<'i> FastTag<'i> {
    /// The attributes in document order, if they are all plain (no prefix, no namespace
    /// declaration, no value that needs work), distinct, well-formed and at most [`KEPT`];
    /// `None` otherwise (the ordinary way then reads the element and says what is wrong).
    pub fn attrs(&mut self) -> Option<&[(&'i str, &'i str)]> {
        let n = match self.n {
            Some(n) => n,
            None => {
                let n = self.read_attrs();
                self.n = Some(n.unwrap_or(usize::MAX));
                n?
            }
        };
        self.attrs.get(..n)
    }

    fn read_attrs(&mut self) -> Option<usize> {
        let mut n = 0;
        let mut scan = Scan::new(self.raw, 0);
        while let Some(a) = scan.next().ok()? {
            if a.colon != 0 || a.special || a.name == "xmlns" || n == KEPT {
                return None;
            }
            let name = a.name.as_bytes();
            if self.attrs[..n]
                .iter()
                .any(|(k, _)| scope::same(k.as_bytes(), name))
            {
                return None;
            }
            self.attrs[n] = (a.name, a.value);
            n += 1;
        }
        Some(n)
    }

    /// The value `v` when the tag's attributes are written exactly `{before}{v}'`, `v`
    /// plain (as in [`FastTag::attrs`]): `only(" type='to' jid='")` for the commonest
    /// address. Two word compares instead of reading every attribute.
    pub fn only(&self, before: &str) -> Option<&'i str> {
        let v = self.raw.strip_prefix(before)?.strip_suffix('\'')?;
        plain(v, b'\'').then_some(v)
    }

    /// [`FastTag::only`] for a JID value: the valid JID and whether it is bare. A JID the
    /// common-case check takes bare cannot hold what makes a value need work, so only
    /// the others are checked plain ([`Jid::parse_written`]).
    #[inline]
    pub fn only_jid(&self, before: &str) -> Option<(Jid, bool)> {
        let v = self.raw.strip_prefix(before)?.strip_suffix('\'')?;
        Jid::parse_written(v, |v| plain(v, b'\''))
    }

    /// Makes this the element named `local` (at `pos`; `raw`: what follows the name in
    /// its tag; `empty`: without content), if the name has no prefix: the fast paths
    /// take no other.
    #[inline]
    fn set(&mut self, local: &'i str, raw: &'i str, pos: u64, empty: bool) -> bool {
        if local.bytes().any(|c| c == b':') {
            return false;
        }
        (self.local, self.raw, self.pos, self.empty, self.n) = (local, raw, pos, empty, None);
        true
    }

    /// What [`Cursor::jid_attr`] makes of this element's `jid` (a bare JID), when it is
    /// valid: `None` otherwise, for the ordinary way to say why.
    pub fn bare_jid(&mut self) -> Option<Jid> {
        if let Some((j, bare)) = self.only_jid(" jid='") {
            return bare.then_some(j);
        }
        let v = self.attrs()?.iter().find(|(k, _)| *k == "jid")?.1;
        Jid::new_bare(v).ok()
    }
}

impl<'i> Cursor<'i> {
    /// [`Cursor::children`] for the long lists (addresses, group members, snapshot members
    /// and their spans) of an element (`empty`: it has no content), with a fast path for
    /// their children that are unprefixed and in the default namespace `ns`. `fast` gets
    /// such a child as a [`FastTag`], without a [`Tag`] being built, reads its attributes
    /// only as far as it needs them (and only plain ones: [`FastTag::only`],
    /// [`FastTag::attrs`]), and says whether it took it: it may decline only before
    /// reading anything past the start tag, and must consume the content of a child that
    /// is not empty once it takes it. Whatever it declines goes the ordinary way, to
    /// `child`, which decodes it or says what is wrong with it. Both share `state` (the
    /// list being built). With [`Cursor::fast`] off, every child goes to `child`.
    pub fn children_fast<S>(
        &mut self,
        empty: bool,
        element: &'static str,
        ns: Ns,
        state: &mut S,
        mut fast: impl FnMut(&mut Self, &mut S, &mut FastTag<'i>) -> Result<bool, DecodeError>,
        mut child: impl FnMut(&mut Self, &mut S, Tag<'i>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if empty {
            return Ok(());
        }
        // The default namespace of the children stays the same throughout: a child's own
        // declarations leave the scope when it ends, and a child on a fast path has none.
        let fast_ok = self.fast && self.depth < self.limits.max_depth && self.scope.default_is(&ns);
        // Filled in place for each child (a `FastTag` is too large to return cheaply).
        let mut ft = FastTag {
            local: "",
            raw: "",
            attrs: [("", ""); KEPT],
            n: None,
            pos: 0,
            empty: true,
        };
        loop {
            self.scope.leave(self.depth);
            if fast_ok && self.after_tag && self.skim(state, &mut fast, &mut ft)? {
                continue;
            }
            if let Some(name) = self.open {
                return self.skim_end(name);
            }
            let (ev, pos) = self.read()?;
            if fast_ok {
                if let Event::Empty(start) | Event::Start(start) = &ev {
                    let empty = matches!(ev, Event::Empty(_));
                    if self.fast_tag(start, pos, empty, &mut ft) {
                        // Inside the child, as the ordinary way's start tag would be.
                        self.depth += usize::from(!empty);
                        if fast(self, state, &mut ft)? {
                            continue;
                        }
                        self.depth -= usize::from(!empty);
                    }
                }
            }
            match self.event(ev, pos)? {
                None => {}
                Some(Ev::End) => return Ok(()),
                Some(Ev::Text(t)) if is_ws(&t) => {}
                Some(Ev::Text(_)) => return Err(self.unexpected_text(element)),
                Some(Ev::Start(t)) => child(self, state, t)?,
                Some(Ev::Eof) => return Err(self.eof()),
            }
        }
    }

    /// Offers the next child of a long list to `fast` straight from the input, before
    /// quick-xml reads it, when it is an element (after whitespace, if any) whose name has
    /// no prefix: most children are, and tokenising them would cost more than decoding
    /// them. If `fast` takes it, the reader is moved past it through quick-xml's
    /// [`quick_xml::Reader::stream`], which keeps its offsets right; quick-xml is then
    /// just after a tag, as it would be after reading this one. Otherwise nothing is
    /// consumed and quick-xml reads the child as usual.
    ///
    /// A child with content (a snapshot's `<member>`) is taken only whole: quick-xml
    /// checks each end tag against the start tags it read, so its content must be taken
    /// the same way, up to its end tag ([`Cursor::skim_end`]). Until then what was taken
    /// is only counted ([`Cursor::ahead`]); anything else inside it (text, another kind of
    /// child, a read) leaves the child to the ordinary way, with nothing consumed.
    ///
    /// A tag ends at the first `>`: `fast` takes only attributes it reads in full (a fixed
    /// shape with a plain value, or a well-formed list), whose quotes are closed, so that
    /// `>` is outside them and is the end quick-xml would find too.
    #[inline]
    fn skim<S>(
        &mut self,
        state: &mut S,
        fast: &mut impl FnMut(&mut Self, &mut S, &mut FastTag<'i>) -> Result<bool, DecodeError>,
        ft: &mut FastTag<'i>,
    ) -> Result<bool, DecodeError> {
        let Some(rest) = self.unread() else {
            return Ok(false);
        };
        let lead = rest.len() - skip_ws(rest).len();
        let tag = &rest.as_bytes()[lead..];
        if tag.first() != Some(&b'<') || !tag.get(1).is_some_and(u8::is_ascii_alphabetic) {
            return Ok(false);
        }
        let Some(gt) = memchr::memchr(b'>', tag) else {
            return Ok(false);
        };
        let empty = tag[gt - 1] == b'/';
        if !empty && self.open.is_some() {
            return Ok(false);
        }
        // `<` name raw `/>` or `<` name raw `>`, as quick-xml splits a tag.
        let Some(content) = rest.get(lead + 1..lead + gt - usize::from(empty)) else {
            return Ok(false);
        };
        let name_len = content
            .bytes()
            .position(is_ws_byte)
            .unwrap_or(content.len());
        let (local, raw) = content.split_at(name_len);
        let pos = self.r.buffer_position() + (self.ahead + lead) as u64;
        if !ft.set(local, raw, pos, empty) {
            return Ok(false);
        }
        let taken = lead + gt + 1;
        if empty {
            if !fast(self, state, ft)? {
                return Ok(false);
            }
            if self.open.is_some() {
                self.ahead += taken;
            } else {
                std::io::BufRead::consume(&mut self.r.stream(), taken);
            }
            return Ok(true);
        }
        // Inside the child, as the ordinary way's start tag would be, until its end tag.
        let depth = self.depth;
        (self.ahead, self.open, self.depth) = (taken, Some(local), depth + 1);
        let took = fast(self, state, ft);
        let (ahead, open) = (std::mem::take(&mut self.ahead), self.open.take());
        let stuck = std::mem::take(&mut self.stuck);
        match took {
            Ok(true) if open.is_none() && !stuck => {
                std::io::BufRead::consume(&mut self.r.stream(), ahead);
                Ok(true)
            }
            Err(e) if !stuck => Err(e),
            // Declined, before reading anything or on finding what only the ordinary way
            // reads (or taken without its content read, or past such a finding, which
            // `fast` must not do).
            _ => {
                self.depth = depth;
                Ok(false)
            }
        }
    }

    /// The input after what quick-xml has read and what a skim has taken since.
    #[inline]
    fn unread(&self) -> Option<&'i str> {
        let rest: &'i [u8] = self.r.get_ref();
        self.input.get(self.offset(rest).wrapping_add(self.ahead)..)
    }

    /// The end tag of the child [`Cursor::skim`] is taking (`name`), after whitespace if
    /// any, where its content has nothing more that a skim takes: taken, as the ordinary
    /// way's end event would be. Anything else leaves the whole child to the ordinary
    /// way ([`Cursor::stuck`]).
    fn skim_end(&mut self, name: &str) -> Result<(), DecodeError> {
        let end = self.unread().and_then(|rest| {
            let after = skip_ws(rest).strip_prefix("</")?.strip_prefix(name)?;
            let close = skip_ws(after);
            close.starts_with('>').then(|| rest.len() - close.len() + 1)
        });
        let Some(len) = end else {
            return Err(self.stuck());
        };
        self.ahead += len;
        self.open = None;
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// Ends a skim that met what only quick-xml reads: the error only carries the news
    /// up to [`Cursor::skim`], which declines the child instead.
    #[cold]
    pub(super) fn stuck(&mut self) -> DecodeError {
        self.stuck = true;
        DecodeError::new(self.r.buffer_position(), ErrorKind::Xml(String::new()))
    }

    /// Sets `ft` to the element `start` (at `pos`; `empty`: without content) if its name
    /// has no prefix (see [`Cursor::children_fast`]).
    #[inline]
    fn fast_tag(
        &self,
        start: &BytesStart<'_>,
        pos: u64,
        empty: bool,
        ft: &mut FastTag<'i>,
    ) -> bool {
        let Some((local, raw, _)) = self.tag_text(start) else {
            return false;
        };
        ft.set(local, raw, pos, empty)
    }
}

/// `s` after its leading whitespace.
fn skip_ws(s: &str) -> &str {
    let i = s.bytes().position(|c| !is_ws_byte(c)).unwrap_or(s.len());
    s.get(i..).unwrap_or_default()
}
