//! The `<message/>` stanzas in a stream of XML: an XMPP console log, a capture, a file of
//! several stanzas. Each top-level `<message>` (in any namespace prefix-free form) is found
//! with its byte range, to be decoded on its own by [`super::Message::decode`]; what lies
//! between (a stream header, `<iq/>` and `<presence/>` stanzas, log text) is skipped.
//!
//! Untrusted input: one pass over the bytes, quick-xml reading each candidate no further
//! than its end; a candidate that is not well-formed is reported with its offset and the
//! scan goes on after its start, so one bad stanza never hides the rest.

use std::ops::Range;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::{DecodeError, ErrorKind};

/// A `<message` start tag at `at`: the name ends there (space, `>`, `/`).
fn starts_message(input: &[u8], at: usize) -> bool {
    input[at..].starts_with(b"<message")
        && matches!(
            input.get(at + 8),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
        )
}

/// The top-level `<message>` elements of `input`, in order: each its byte range, or the
/// error that ended its candidate (offsets are in `input`).
pub fn messages(input: &[u8]) -> Messages<'_> {
    Messages { input, at: 0 }
}

/// Iterator of [`messages`].
pub struct Messages<'a> {
    input: &'a [u8],
    at: usize,
}

impl Iterator for Messages<'_> {
    type Item = Result<Range<usize>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let input = self.input;
        let start = loop {
            let i = self.at + memchr::memchr(b'<', input.get(self.at..)?)?;
            if starts_message(input, i) {
                break i;
            }
            self.at = i + 1;
        };
        let mut reader = Reader::from_reader(&input[start..]);
        reader.config_mut().check_end_names = true;
        let mut depth = 0usize;
        let result = loop {
            match reader.read_event() {
                Ok(Event::Start(_)) => depth += 1,
                Ok(Event::Empty(_)) if depth == 0 => {
                    break Ok(start..start + reader.buffer_position() as usize)
                }
                Ok(Event::End(_)) => {
                    depth -= 1;
                    if depth == 0 {
                        break Ok(start..start + reader.buffer_position() as usize);
                    }
                }
                Ok(Event::Eof) => {
                    break Err(DecodeError {
                        offset: input.len() as u64,
                        kind: ErrorKind::Xml("the input ends inside a <message>".into()),
                    })
                }
                Ok(_) => {}
                Err(e) => {
                    break Err(DecodeError {
                        offset: (start as u64) + reader.error_position(),
                        kind: ErrorKind::Xml(e.to_string()),
                    })
                }
            }
        };
        self.at = match &result {
            Ok(r) => r.end,
            Err(_) => start + 1,
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_messages_between_other_stanzas_and_log_text() {
        let log = b"SENT <stream:stream to='x'>\n<presence/>\n\
            RECV <message to='a@b'><body>1</body><message>inner</message></message>\n\
            <iq type='get'/> <messages/> <message to='c@d'/>";
        let found: Vec<_> = messages(log).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        let first = found[0].clone().unwrap();
        assert!(log[first].ends_with(b"</message></message>"));
        let second = found[1].clone().unwrap();
        assert_eq!(&log[second], b"<message to='c@d'/>");
    }

    #[test]
    fn a_bad_candidate_is_reported_and_the_scan_goes_on() {
        let log = b"<message><body>x</bdy></message>\n<message to='ok@x'/>";
        let found: Vec<_> = messages(log).collect();
        assert!(found[0].is_err(), "{found:?}");
        assert_eq!(&log[found[1].clone().unwrap()], b"<message to='ok@x'/>");
        let unterminated: Vec<_> = messages(b"<message><body>").collect();
        assert!(unterminated[0].is_err());
    }
}
