//! Message/CPIM (RFC 3862) around an encrypted stanza's inside, as Kontalk's clients
//! write it.
//!
//! Kontalk's clients do not encrypt the `<xmpp/>` payload bare: they wrap it in a CPIM
//! message whose headers name the sender and the recipients by their OpenPGP user ids
//! and date it, and a receiver compares those with the signer and itself
//! (client-common-java `org/kontalk/util/CPIMMessage.java`, `toString` and `parse`;
//! androidclient `crypto/PGPCoder.java`, `encryptStanza` and `decryptText`). The layout
//! [`Cpim::write`] produces is theirs, byte for byte:
//!
//! ```text
//! Content-type: Message/CPIM
//!
//! From: Alice <998a…@kontalk.net>
//! To: Bob <b785…@kontalk.net>; Carol <75bf…@kontalk.net>
//! DateTime: 2020-04-13T11:06:40+00:00
//!
//! Content-type: application/xmpp+xml; charset=utf-8
//!
//! <xmpp xmlns='jabber:client'>…</xmpp>
//! ```
//!
//! with LF line ends and nothing after the body. [`Cpim::parse`] reads what
//! `CPIMMessage.parse` reads (LF or CRLF line ends, header names in any case, `To` split
//! at `;`, unknown headers ignored) and refuses, with a typed error, what it would have
//! silently misread (a header line without a colon, a missing content type). The parse is
//! one pass over at most [`Limits::max_bytes`](super::Limits::max_bytes), and the `To`
//! list is bounded by [`Limits::max_items`](super::Limits::max_items).

use serde::Serialize;

use super::error::{DecodeError, ErrorKind};
use super::{Limits, Text};

/// The outer content type.
pub const MESSAGE_CPIM: &str = "Message/CPIM";
/// The content type of a stanza payload (androidclient `util/XMPPUtils.XML_XMPP_TYPE`).
pub const XMPP_XML: &str = "application/xmpp+xml";

/// A CPIM message: its headers and its content (which the JSON form leaves out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cpim {
    /// `From`: the sender's OpenPGP user id (`Name <localpart@network>`), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Text>,
    /// `To`: the recipients' user ids.
    pub to: Vec<Text>,
    /// `DateTime`, as written (XEP-0082; Kontalk writes `YYYY-MM-DDTHH:MM:SS+00:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<Text>,
    /// The content's type, without parameters (`application/xmpp+xml`, `text/plain`).
    pub content_type: Text,
    /// The content.
    #[serde(skip)]
    pub body: Vec<u8>,
}

fn err(offset: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError::new(offset as u64, ErrorKind::Cpim(reason.into()))
}

/// Does `input` start like a CPIM message (a `Content-type` header), rather than XML?
pub fn looks_like(input: &[u8]) -> bool {
    const NAME: &[u8] = b"content-type";
    input.len() > NAME.len() && input[..NAME.len()].eq_ignore_ascii_case(NAME)
}

/// Reads lines of `input` from `at`: each without its LF (and CR before it).
struct Lines<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Lines<'a> {
    /// The next line and the offset where it starts; `None` at the end of the input.
    fn next(&mut self) -> Option<(&'a [u8], usize)> {
        let start = self.at;
        let rest = self.input.get(start..).filter(|r| !r.is_empty())?;
        let (line, used) = match rest.iter().position(|b| *b == b'\n') {
            Some(n) => (&rest[..n], n + 1),
            None => (rest, rest.len()),
        };
        self.at = start + used;
        Some((line.strip_suffix(b"\r").unwrap_or(line), start))
    }

    /// One block of headers, up to a blank line (or the end): each as (name in lower
    /// case, trimmed value, offset).
    fn block(&mut self, max: usize) -> Result<Vec<(String, &'a str, usize)>, DecodeError> {
        let mut headers = Vec::new();
        while let Some((line, at)) = self.next() {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(headers);
            }
            let line =
                std::str::from_utf8(line).map_err(|_| err(at, "a header line is not UTF-8"))?;
            let Some((name, value)) = line.split_once(':') else {
                return Err(err(at, "a header line without a colon"));
            };
            if headers.len() >= max {
                return Err(err(at, format!("more than {max} headers in a block")));
            }
            headers.push((name.trim().to_ascii_lowercase(), value.trim(), at));
        }
        Err(err(
            self.input.len(),
            "the headers do not end with a blank line",
        ))
    }
}

impl Cpim {
    /// Parses a CPIM message of at most `limits.max_bytes` bytes.
    pub fn parse(input: &[u8], limits: Limits) -> Result<Cpim, DecodeError> {
        if input.len() > limits.max_bytes {
            return Err(DecodeError::new(
                limits.max_bytes as u64,
                ErrorKind::TooLarge {
                    limit: limits.max_bytes,
                },
            ));
        }
        // A header block holds a handful of headers; `To` is one line however long.
        const MAX_HEADERS: usize = 32;
        let mut lines = Lines { input, at: 0 };
        let outer = lines.block(MAX_HEADERS)?;
        match outer.iter().find(|(n, _, _)| n == "content-type") {
            Some((_, v, _)) if v.eq_ignore_ascii_case(MESSAGE_CPIM) => {}
            Some((_, v, at)) => {
                return Err(err(*at, format!("content type `{v}`, not {MESSAGE_CPIM}")))
            }
            None => return Err(err(0, "no Content-type header")),
        }
        let (mut from, mut to, mut date_time) = (None, Vec::new(), None);
        for (name, value, at) in lines.block(MAX_HEADERS)? {
            let once = |slot: &Option<Text>| match slot {
                Some(_) => Err(err(at, format!("more than one `{name}` header"))),
                None => Ok(Some(Text::from(value))),
            };
            match name.as_str() {
                "from" => from = once(&from)?,
                "datetime" => date_time = once(&date_time)?,
                "to" => {
                    for uid in value.split(';').map(str::trim).filter(|u| !u.is_empty()) {
                        if to.len() >= limits.max_items {
                            return Err(DecodeError::new(
                                at as u64,
                                ErrorKind::TooMany {
                                    what: "CPIM recipients",
                                    limit: limits.max_items,
                                },
                            ));
                        }
                        to.push(Text::from(uid));
                    }
                }
                _ => {}
            }
        }
        let inner = lines.block(MAX_HEADERS)?;
        let content_type = inner
            .iter()
            .find(|(n, _, _)| n == "content-type")
            .map(|(_, v, _)| v.split(';').next().unwrap_or_default().trim())
            .ok_or_else(|| err(lines.at, "no Content-type header for the content"))?;
        Ok(Cpim {
            from,
            to,
            date_time,
            content_type: Text::from(content_type),
            body: input.get(lines.at..).unwrap_or_default().to_vec(),
        })
    }

    /// The message as Kontalk's clients write it (LF line ends, `To` joined by `"; "`, the
    /// content type with `charset=utf-8`, nothing after the body).
    pub fn write(&self) -> Vec<u8> {
        let mut out = String::with_capacity(160 + self.body.len());
        out.push_str("Content-type: ");
        out.push_str(MESSAGE_CPIM);
        out.push_str("\n\n");
        if let Some(from) = &self.from {
            out.push_str("From: ");
            out.push_str(from);
            out.push('\n');
        }
        out.push_str("To: ");
        for (i, uid) in self.to.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(uid);
        }
        out.push('\n');
        if let Some(date) = &self.date_time {
            out.push_str("DateTime: ");
            out.push_str(date);
            out.push('\n');
        }
        out.push_str("\nContent-type: ");
        out.push_str(&self.content_type);
        out.push_str("; charset=utf-8\n\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// `secs` since the Unix epoch as Kontalk's `DateTime` (client-common-java
/// `CPIMMessage.DateTimeNoMillisFormatter`: UTC, no fraction, `+00:00`).
pub fn date_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANDROID: &str = "Content-type: Message/CPIM\n\nFrom: Alice <a@kontalk.net>\nTo: Bob <b@kontalk.net>; Carol <c@kontalk.net>\nDateTime: 2020-04-13T11:06:40+00:00\n\nContent-type: application/xmpp+xml; charset=utf-8\n\n<xmpp xmlns='jabber:client'/>";

    #[test]
    fn reads_and_writes_the_android_layout() {
        let c = Cpim::parse(ANDROID.as_bytes(), Limits::default()).expect("parses");
        assert_eq!(c.from.as_deref(), Some("Alice <a@kontalk.net>"));
        assert_eq!(
            c.to,
            vec![
                Text::from("Bob <b@kontalk.net>"),
                Text::from("Carol <c@kontalk.net>")
            ]
        );
        assert_eq!(c.date_time.as_deref(), Some("2020-04-13T11:06:40+00:00"));
        assert_eq!(&*c.content_type, XMPP_XML);
        assert_eq!(c.body, b"<xmpp xmlns='jabber:client'/>");
        assert_eq!(c.write(), ANDROID.as_bytes());
    }

    #[test]
    fn tolerates_what_the_clients_parser_tolerates() {
        let crlf = ANDROID.replace('\n', "\r\n");
        let lower = crlf
            .replace("Content-type", "CONTENT-TYPE")
            .replace("; Carol", ";Carol");
        let c = Cpim::parse(lower.as_bytes(), Limits::default()).expect("parses");
        assert_eq!(c.to.len(), 2);
        assert_eq!(&*c.content_type, XMPP_XML);
    }

    #[test]
    fn refuses_with_a_reason() {
        for (input, reason) in [
            ("Content-type: text/plain\n\n", "not Message/CPIM"),
            ("From: x\n\n", "no Content-type"),
            (
                "Content-type: Message/CPIM\n\nFrom x\n\n",
                "without a colon",
            ),
            (
                "Content-type: Message/CPIM\n\nFrom: a\nFrom: b\n\n",
                "more than one",
            ),
            (
                "Content-type: Message/CPIM\n\nFrom: a\n\nX: y\n\nbody",
                "no Content-type header for the content",
            ),
            ("Content-type: Message/CPIM\n\nFrom: a", "blank line"),
        ] {
            let e = Cpim::parse(input.as_bytes(), Limits::default()).expect_err(input);
            assert!(e.to_string().contains(reason), "{input:?}: {e}");
        }
        let many = format!(
            "Content-type: Message/CPIM\n\nTo: {}\n\nContent-type: text/plain\n\n",
            vec!["x <x@y>"; 2000].join("; ")
        );
        let e = Cpim::parse(many.as_bytes(), Limits::default()).expect_err("too many");
        assert!(matches!(e.kind, ErrorKind::TooMany { .. }), "{e}");
    }

    #[test]
    fn dates_as_kontalk_writes_them() {
        assert_eq!(date_time(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(date_time(1_586_776_000), "2020-04-13T11:06:40+00:00");
        assert_eq!(date_time(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
