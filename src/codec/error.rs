//! Decoding errors: what went wrong and where.
//!
//! Every malformed input ends in a [`DecodeError`] (never a panic): its [`ErrorKind`] says
//! what, its `offset` the byte of the input where the decoder noticed. `Display` is one line,
//! so the CLI can print it as is.

use std::fmt;

/// A typed decoding error at a byte offset of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the input where the problem was noticed.
    pub offset: u64,
    pub kind: ErrorKind,
}

/// What is wrong with the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not UTF-8 (XMPP streams are UTF-8 only).
    NotUtf8,
    /// The input is longer than [`Limits::max_bytes`](super::Limits::max_bytes).
    TooLarge { limit: usize },
    /// Elements nest deeper than [`Limits::max_depth`](super::Limits::max_depth).
    TooDeep { limit: usize },
    /// A list (addresses, members, spans, unknown children) is longer than
    /// [`Limits::max_items`](super::Limits::max_items).
    TooMany { what: &'static str, limit: usize },
    /// The XML itself is not well-formed (quick-xml's diagnosis).
    Xml(String),
    /// `<!DOCTYPE`: XMPP forbids DTDs (and with them entity-expansion attacks).
    Doctype,
    /// A processing instruction: XMPP forbids them.
    ProcessingInstruction,
    /// An entity other than the five predefined ones and character references.
    UnknownEntity(String),
    /// A character XML 1.0 does not allow (e.g. a control character via `&#1;`).
    IllegalChar(u32),
    /// An element or attribute prefix with no namespace declaration in scope.
    UnknownPrefix(String),
    /// No element at all.
    Empty,
    /// The root element is not `<message/>` in the client (or no) namespace.
    NotAMessage { found: String },
    /// Anything but whitespace, comments or an XML declaration after the root.
    TrailingContent,
    /// Text where only elements are allowed.
    UnexpectedText { element: &'static str },
    /// A child that this element does not allow here.
    UnexpectedElement {
        element: &'static str,
        child: String,
    },
    /// A child that may appear once appeared again.
    Duplicate {
        element: &'static str,
        child: &'static str,
    },
    /// A required attribute is missing.
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    /// An attribute value is not acceptable.
    BadAttribute {
        element: &'static str,
        attribute: &'static str,
        value: String,
        reason: String,
    },
    /// The element breaks a rule of its specification (e.g. XEP-0033's jid/uri exclusion).
    Invalid {
        element: &'static str,
        reason: &'static str,
    },
    /// A Message/CPIM wrapper that cannot be read ([`Cpim`](super::cpim::Cpim)).
    Cpim(String),
}

impl DecodeError {
    pub(crate) fn new(offset: u64, kind: ErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

/// Shortens untrusted text quoted in an error message and keeps it on one line.
/// The most characters of input an error message quotes.
const QUOTE: usize = 160;

fn quote(s: &str) -> String {
    // Long enough for quick-xml's diagnoses and a JID in full; bounded for hostile input.
    let mut out: String = s.chars().take(QUOTE).flat_map(char::escape_debug).collect();
    if s.chars().nth(QUOTE).is_some() {
        out.push('…');
    }
    out
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotUtf8 => f.write_str("input is not valid UTF-8"),
            ErrorKind::TooLarge { limit } => write!(f, "stanza larger than {limit} bytes"),
            ErrorKind::TooDeep { limit } => write!(f, "elements nested deeper than {limit}"),
            ErrorKind::TooMany { what, limit } => write!(f, "more than {limit} {what}"),
            ErrorKind::Xml(e) => write!(f, "malformed XML: {}", quote(e)),
            ErrorKind::Doctype => f.write_str("DOCTYPE declarations are not allowed in XMPP"),
            ErrorKind::ProcessingInstruction => {
                f.write_str("processing instructions are not allowed in XMPP")
            }
            ErrorKind::UnknownEntity(e) => write!(f, "unknown entity &{};", quote(e)),
            ErrorKind::IllegalChar(c) => write!(f, "character U+{c:04X} is not allowed in XML"),
            ErrorKind::UnknownPrefix(p) => write!(f, "undeclared namespace prefix `{}`", quote(p)),
            ErrorKind::Empty => f.write_str("no element in the input"),
            ErrorKind::NotAMessage { found } => {
                write!(f, "expected a <message/> stanza, found <{}>", quote(found))
            }
            ErrorKind::TrailingContent => f.write_str("content after the end of the stanza"),
            ErrorKind::UnexpectedText { element } => {
                write!(f, "text is not allowed in <{element}>")
            }
            ErrorKind::UnexpectedElement { element, child } => {
                write!(f, "<{}> is not allowed in <{element}>", quote(child))
            }
            ErrorKind::Duplicate { element, child } => {
                write!(f, "<{element}> has more than one <{child}>")
            }
            ErrorKind::MissingAttribute { element, attribute } => {
                write!(f, "<{element}> lacks the `{attribute}` attribute")
            }
            ErrorKind::BadAttribute {
                element,
                attribute,
                value,
                reason,
            } => write!(
                f,
                "<{element}> attribute `{attribute}`='{}': {}",
                quote(value),
                quote(reason)
            ),
            ErrorKind::Invalid { element, reason } => write!(f, "<{element}>: {reason}"),
            ErrorKind::Cpim(reason) => write!(f, "Message/CPIM: {}", quote(reason)),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// Why a decoded message cannot become a core stanza.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToCoreError {
    /// No `<group/>` element: not a group message.
    NotGroup,
}

impl fmt::Display for ToCoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToCoreError::NotGroup => f.write_str("the message has no <group/> element"),
        }
    }
}

impl std::error::Error for ToCoreError {}
