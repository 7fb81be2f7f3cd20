//! The live driver's failures: typed, one line each.

use std::fmt;

use kgroup::codec::DecodeError;
use kgroup::envelope::EnvelopeError;
use kgroup::wire::WireError;
use kgroup::LocalError;

use crate::xml::XmlError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveError {
    /// A socket operation failed.
    Io(String),
    /// Something did not happen in time.
    Timeout(String),
    /// The stream broke a rule or the server ended it.
    Stream(String),
    /// Authentication failed or is impossible.
    Auth(String),
    /// TLS could not be set up, the server's certificate was refused, or the policy
    /// refuses to go on without TLS.
    Tls(String),
    /// The server's XML could not be read.
    Xml(XmlError),
    /// A stanza could not be decoded by the codec.
    Decode(DecodeError),
    /// Sealing failed (opening failures are rejections, not errors).
    Envelope(EnvelopeError),
    /// Sealing a group stanza for the wire failed.
    Wire(WireError),
    /// The core refused a local intent.
    Local(LocalError),
    /// A usage error (bad client index, bad parameter).
    Usage(String),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Io(e) => write!(f, "I/O error: {e}"),
            LiveError::Timeout(what) => write!(f, "timed out {what}"),
            LiveError::Stream(e) => write!(f, "XMPP stream: {e}"),
            LiveError::Auth(e) => write!(f, "authentication: {e}"),
            LiveError::Tls(e) => write!(f, "TLS: {e}"),
            LiveError::Xml(e) => write!(f, "{e}"),
            LiveError::Decode(e) => write!(f, "stanza: {e}"),
            LiveError::Envelope(e) => write!(f, "envelope: {e}"),
            LiveError::Wire(e) => write!(f, "wire: {e}"),
            LiveError::Local(e) => write!(f, "core: {e}"),
            LiveError::Usage(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for LiveError {}

impl From<std::io::Error> for LiveError {
    fn from(e: std::io::Error) -> Self {
        LiveError::Io(e.to_string())
    }
}

impl From<XmlError> for LiveError {
    fn from(e: XmlError) -> Self {
        LiveError::Xml(e)
    }
}

impl From<DecodeError> for LiveError {
    fn from(e: DecodeError) -> Self {
        LiveError::Decode(e)
    }
}

impl From<EnvelopeError> for LiveError {
    fn from(e: EnvelopeError) -> Self {
        LiveError::Envelope(e)
    }
}

impl From<WireError> for LiveError {
    fn from(e: WireError) -> Self {
        LiveError::Wire(e)
    }
}

impl From<LocalError> for LiveError {
    fn from(e: LocalError) -> Self {
        LiveError::Local(e)
    }
}
