//! Reading an XMPP stream: splitting the byte stream into top-level stanzas, and a small
//! element tree for the stream-level stanzas the driver inspects (features, SASL, bind,
//! disco). Group messages themselves are decoded by the project's codec
//! ([`kgroup::codec::Message`]).
//!
//! Everything here reads what the server sends, so it never panics: malformed or oversized
//! input is a typed [`XmlError`].

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Reader};

/// The most bytes one stanza (or the stream header) may take before the stream is refused.
pub const MAX_STANZA: usize = 1 << 20;

/// What the splitter found on the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The server's `<stream:stream ...>` header.
    StreamOpen,
    /// One complete top-level element, as bytes.
    Stanza(Vec<u8>),
    /// `</stream:stream>`.
    StreamClose,
}

/// Malformed or oversized stream input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// More than [`MAX_STANZA`] bytes without a complete element (or malformed XML that
    /// never completes).
    TooLarge,
    /// An element could not be read.
    Malformed(String),
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XmlError::TooLarge => write!(f, "stanza larger than {MAX_STANZA} bytes"),
            XmlError::Malformed(d) => write!(f, "malformed XML: {d}"),
        }
    }
}

impl std::error::Error for XmlError {}

/// Accumulates stream bytes and cuts them into [`Frame`]s.
#[derive(Debug, Default)]
pub struct Splitter {
    buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end (exclusive) of a start tag that begins at 0, quotes respected.
fn tag_end(b: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, c) in b.iter().enumerate() {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(*c),
            (Some(q), c) if q == *c => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The length of the complete element at the start of `b`, if it is complete.
fn element_len(b: &[u8]) -> Option<usize> {
    let mut r = Reader::from_reader(b);
    let mut depth = 0usize;
    loop {
        match r.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::Empty(_)) if depth == 0 => {
                return usize::try_from(r.buffer_position()).ok();
            }
            Ok(Event::End(_)) => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return usize::try_from(r.buffer_position()).ok();
                }
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

impl Splitter {
    pub fn new() -> Self {
        Splitter::default()
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, XmlError> {
        loop {
            let start = self
                .buf
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .unwrap_or(self.buf.len());
            self.buf.drain(..start);
            if self.buf.is_empty() {
                return Ok(None);
            }
            if self.buf.len() > MAX_STANZA {
                return Err(XmlError::TooLarge);
            }
            if self.buf.starts_with(b"<?") {
                match find(&self.buf, b"?>") {
                    Some(end) => {
                        self.buf.drain(..end + 2);
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            if self.buf.starts_with(b"<!--") {
                match find(&self.buf, b"-->") {
                    Some(end) => {
                        self.buf.drain(..end + 3);
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            if self.buf.starts_with(b"</") {
                return match tag_end(&self.buf) {
                    Some(end) => {
                        self.buf.drain(..end);
                        Ok(Some(Frame::StreamClose))
                    }
                    None => Ok(None),
                };
            }
            if !self.buf.starts_with(b"<") {
                return Err(XmlError::Malformed("text at the stream level".into()));
            }
            if self.buf.starts_with(b"<stream:stream") || self.buf.starts_with(b"<stream ") {
                return match tag_end(&self.buf) {
                    Some(end) => {
                        self.buf.drain(..end);
                        Ok(Some(Frame::StreamOpen))
                    }
                    None => Ok(None),
                };
            }
            return match element_len(&self.buf) {
                Some(n) if n <= self.buf.len() => {
                    Ok(Some(Frame::Stanza(self.buf.drain(..n).collect())))
                }
                _ => Ok(None),
            };
        }
    }
}

/// The namespace of a stanza with no declaration: the stream's default.
pub const NS_CLIENT: &str = "jabber:client";
/// The namespace of the stream prefix.
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";

/// A parsed element: just enough for stream negotiation and service discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Resolved namespace (`jabber:client` where none is declared, the streams namespace
    /// for the undeclared `stream:` prefix).
    pub ns: String,
    /// Attributes by local name.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Concatenated text content.
    pub text: String,
}

impl Element {
    /// Parses one element (a stanza cut by [`Splitter`]); nesting is bounded by
    /// [`MAX_DEPTH`].
    pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
        let mut r = NsReader::from_reader(bytes);
        let mut stack: Vec<Element> = Vec::new();
        let bad = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
        loop {
            let (res, ev) = r.read_resolved_event().map_err(|e| bad(&e))?;
            let empty = matches!(ev, Event::Empty(_));
            match ev {
                Event::Start(s) | Event::Empty(s) => {
                    let ns = match res {
                        ResolveResult::Bound(ns) => ns.0.to_owned(),
                        ResolveResult::Unbound => NS_CLIENT.to_owned(),
                        ResolveResult::Unknown(p) if p == "stream" => NS_STREAM.to_owned(),
                        ResolveResult::Unknown(p) => {
                            return Err(XmlError::Malformed(format!("undeclared prefix {p}")))
                        }
                    };
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::Malformed("elements nested too deep".into()));
                    }
                    let mut el = Element {
                        name: s.local_name().as_ref().to_owned(),
                        ns,
                        ..Element::default()
                    };
                    for a in s.attributes() {
                        let a = a.map_err(|e| bad(&e))?;
                        let qname: &str = a.key.as_ref();
                        if qname == "xmlns" || qname.starts_with("xmlns:") {
                            continue;
                        }
                        let key = a.key.local_name().as_ref().to_owned();
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| bad(&e))?
                            .into_owned();
                        el.attrs.push((key, v));
                    }
                    stack.push(el);
                    if empty {
                        if let Some(done) = close(&mut stack) {
                            return Ok(done);
                        }
                    }
                }
                Event::End(_) => {
                    if let Some(done) = close(&mut stack) {
                        return Ok(done);
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(g) => {
                    let Some(top) = stack.last_mut() else {
                        continue;
                    };
                    match g.resolve_char_ref() {
                        Ok(Some(c)) => top.text.push(c),
                        Ok(None) => {
                            let name: &str = &g;
                            match quick_xml::escape::resolve_predefined_entity(name) {
                                Some(s) => top.text.push_str(s),
                                None => {
                                    return Err(XmlError::Malformed(format!(
                                        "unknown entity &{name};"
                                    )))
                                }
                            }
                        }
                        Err(e) => return Err(bad(&e)),
                    }
                }
                Event::DocType(_) | Event::PI(_) => {
                    return Err(XmlError::Malformed("DTD or processing instruction".into()))
                }
                Event::Eof => return Err(XmlError::Malformed("incomplete element".into())),
                Event::Comment(_) | Event::Decl(_) => {}
            }
        }
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child with this local name and namespace.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name && c.ns == ns)
    }

    /// Whether this is `name` in `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }
}

/// Nesting bound of [`Element::parse`].
pub const MAX_DEPTH: usize = 32;

/// Pops the innermost element into its parent; returns the root when it closes.
fn close(stack: &mut Vec<Element>) -> Option<Element> {
    let done = stack.pop()?;
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(done);
            None
        }
        None => Some(done),
    }
}

/// Escapes text content of the stream-level stanzas this crate writes by hand.
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes an attribute value (single- or double-quoted).
pub fn escape_attr(s: &str) -> String {
    escape_text(s)
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_header_stanzas_and_close_across_reads() {
        let input = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams' id='a>b' version='1.0'>\
            <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <mechanism>PLAIN</mechanism></mechanisms></stream:features> \
            <message to='a@b' type='chat'><body>x &amp; y</body></message><presence/></stream:stream>";
        // Feed it one byte at a time: frames appear exactly when complete.
        let mut s = Splitter::new();
        let mut frames = Vec::new();
        for b in input.iter() {
            s.push(&[*b]);
            while let Some(f) = s.next_frame().expect("well-formed input") {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 5, "{frames:?}");
        assert_eq!(frames[0], Frame::StreamOpen);
        assert_eq!(frames[4], Frame::StreamClose);
        let Frame::Stanza(f) = &frames[1] else {
            panic!("features expected")
        };
        let features = Element::parse(f).expect("features parse");
        assert!(features.is("features", NS_STREAM));
        let mechs = features
            .child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
            .expect("mechanisms");
        assert_eq!(mechs.children[0].text, "PLAIN");
        let Frame::Stanza(m) = &frames[2] else {
            panic!("message expected")
        };
        let m = Element::parse(m).expect("message parse");
        assert!(m.is("message", NS_CLIENT));
        assert_eq!(m.attr("type"), Some("chat"));
        assert_eq!(
            m.child("body", NS_CLIENT).map(|b| b.text.as_str()),
            Some("x & y")
        );
        assert_eq!(frames[3], Frame::Stanza(b"<presence/>".to_vec()));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let mut s = Splitter::new();
        s.push(b"text before anything");
        assert!(s.next_frame().is_err());
        let mut s = Splitter::new();
        s.push(b"<message>");
        s.push(&vec![b'a'; MAX_STANZA + 1]);
        assert_eq!(s.next_frame(), Err(XmlError::TooLarge));
        for bad in [
            &b"<a><b></a>"[..],
            b"<a xmlns:p='x'><q:b/></a>",
            b"<a>&lol;</a>",
            b"<a>",
            b"",
        ] {
            assert!(
                Element::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(Element::parse(deep.as_bytes()).is_err());
    }
}
