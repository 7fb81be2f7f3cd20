//! The `hardened` dialect's extension, in its own namespace `urn:kgroup:hardened:0`.
//!
//! A `kontalk` client ignores elements of namespaces it does not know, so these ride
//! beside `<group/>` without breaking it. One element per message, named after the core's
//! [`Ext`] variant:
//!
//! ```xml
//! <stamp    xmlns='urn:kgroup:hardened:0' epoch='3' seq='7'>
//!   <to jid='bob@example.org'/><to jid='charlie@example.org'/>
//! </stamp>
//! <ack      xmlns='urn:kgroup:hardened:0' seq='7'/>
//! <resync   xmlns='urn:kgroup:hardened:0' epoch='2'/>
//! <head     xmlns='urn:kgroup:hardened:0' epoch='3' seq='8' digest='00112233445566778899aabbccddeeff'/>
//! <snapshot xmlns='urn:kgroup:hardened:0' epoch='3' seq='8' prev='8796a5b4c3d2e1f00f1e2d3c4b5a6978'>
//!   <subject>Our great journey</subject>
//!   <member jid='alice@example.org'><span since='1'/></member>
//!   <member jid='charlie@example.org'><span since='1' until='3'/></member>
//!   <member jid='eve@example.org'>
//!     <span since='1' until='2'/><cut digest='0f1e2d3c4b5a69788796a5b4c3d2e1f0'/>
//!   </member>
//! </snapshot>
//! ```
//!
//! A stamp's `<to/>`s are the recipients its sender addressed (signed with it, so a stanza
//! re-sealed to anyone else is refused). A removed member's `<cut/>`s name, by digest, the
//! stanzas of theirs the owner had accepted when it removed them (`Roster::cuts`); a lone
//! `<cut/>` without a digest says it had accepted none.
//!
//! A head acknowledges the owner's snapshot `seq` and says which epoch and head its sender
//! holds now (v2: to the owner and the sender's two neighbours in the roster). A snapshot's `prev` is the head of the owner's snapshot before it (absent:
//! none, the create).
//!
//! A snapshot is the owner's full state: the subject (absent: none) and every identity that
//! was ever a member with its membership intervals (`until` absent: still a member). Numbers
//! are unsigned decimal 64-bit; the decoder checks that each member has at least one
//! interval, that `until >= since`, that only the last interval is open, and that no member
//! appears twice.

use super::error::{DecodeError, ErrorKind};
use super::jid::Jid;
use super::xml::{duplicate, escape_text, write_attr, Cursor, FastTag, Ns, Tag};
use super::{Text, NS_HARDENED};
use crate::core::{Digest, Ext, Roster, Span};

/// The element names this namespace defines.
pub(crate) fn is_known(local: &str) -> bool {
    matches!(local, "stamp" | "head" | "snapshot" | "ack" | "resync")
}

fn name(ext: &Ext<Jid>) -> &'static str {
    match ext {
        Ext::Stamp { .. } => "stamp",
        Ext::Head { .. } => "head",
        Ext::Snapshot { .. } => "snapshot",
        Ext::Ack { .. } => "ack",
        Ext::Resync { .. } => "resync",
    }
}

/// Strict unsigned decimal: digits only (no sign, no spaces), no overflow.
fn number(
    tag: &Tag<'_>,
    element: &'static str,
    attribute: &'static str,
    v: &str,
) -> Result<u64, DecodeError> {
    parse_number(v).ok_or_else(|| {
        DecodeError::new(
            tag.pos,
            ErrorKind::BadAttribute {
                element,
                attribute,
                value: v.to_owned(),
                reason: "not an unsigned 64-bit decimal number".into(),
            },
        )
    })
}

/// [`number`]'s value, `None` where it says why not.
fn parse_number(v: &str) -> Option<u64> {
    let ok = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| v.parse::<u64>().ok()).flatten()
}

/// Reads the numeric attributes `names` of `tag` (each `None` if absent).
fn numbers<const N: usize>(
    tag: &Tag<'_>,
    element: &'static str,
    names: [&'static str; N],
) -> Result<[Option<u64>; N], DecodeError> {
    let mut out = [None; N];
    tag.attrs(|k, v| {
        if let Some(i) = names.iter().position(|n| *n == k) {
            out[i] = Some(number(tag, element, names[i], &v)?);
        }
        Ok(())
    })?;
    Ok(out)
}

fn required(
    tag: &Tag<'_>,
    element: &'static str,
    attribute: &'static str,
    v: Option<u64>,
) -> Result<u64, DecodeError> {
    v.ok_or(DecodeError::new(
        tag.pos,
        ErrorKind::MissingAttribute { element, attribute },
    ))
}

fn invalid(pos: u64, element: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::new(pos, ErrorKind::Invalid { element, reason })
}

/// Decodes one of our elements (its local name is [`is_known`]).
pub(crate) fn decode<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Ext<Jid>, DecodeError> {
    let ext = match tag.local() {
        "stamp" => {
            let el = "stamp";
            let [e, s] = numbers(tag, el, ["epoch", "seq"])?;
            let epoch = required(tag, el, "epoch", e)?;
            let seq = required(tag, el, "seq", s)?;
            let mut to: Vec<Jid> = Vec::new();
            cur.children(tag, el, |cur, t| {
                if t.ns != Ns::Hardened || t.local() != "to" {
                    return cur.skip(&t);
                }
                cur.room(to.len(), t.pos, "recipients")?;
                let jid = cur.jid_attr(&t, "to")?;
                cur.expect_empty(&t, "to")?;
                to.push(jid);
                Ok(())
            })?;
            to.sort();
            if to.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid(tag.pos, el, "the same recipient appears twice"));
            }
            return Ok(Ext::Stamp { epoch, seq, to });
        }
        "head" => {
            let [e, s] = numbers(tag, "head", ["epoch", "seq"])?;
            Ext::Head {
                epoch: required(tag, "head", "epoch", e)?,
                seq: required(tag, "head", "seq", s)?,
                head: digest_attr(tag, "head", "digest")?.ok_or(DecodeError::new(
                    tag.pos,
                    ErrorKind::MissingAttribute {
                        element: "head",
                        attribute: "digest",
                    },
                ))?,
            }
        }
        "ack" => {
            let [s] = numbers(tag, "ack", ["seq"])?;
            Ext::Ack {
                seq: required(tag, "ack", "seq", s)?,
            }
        }
        "resync" => {
            let [e] = numbers(tag, "resync", ["epoch"])?;
            Ext::Resync {
                epoch: required(tag, "resync", "epoch", e)?,
            }
        }
        _ => return decode_snapshot(cur, tag),
    };
    cur.expect_empty(tag, name(&ext))?;
    Ok(ext)
}

fn decode_snapshot<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Ext<Jid>, DecodeError> {
    const EL: &str = "snapshot";
    let [e, s] = numbers(tag, EL, ["epoch", "seq"])?;
    let epoch = required(tag, EL, "epoch", e)?;
    let seq = required(tag, EL, "seq", s)?;
    let prev = digest_attr(tag, EL, "prev")?.unwrap_or(Digest::ZERO);
    let mut c = (None, Roster::default());
    cur.children_fast(
        tag.empty,
        EL,
        Ns::Hardened,
        &mut c,
        |cur, (_, roster), b| {
            if b.empty || b.local != "member" || !cur.has_room(roster.spans.len()) {
                return Ok(false);
            }
            let Some(jid) = b.bare_jid() else {
                return Ok(false);
            };
            // Taken: from here on, what is wrong is this member's, as on the ordinary way.
            let (spans, cut) = member_spans(cur, false, b.pos)?;
            add_member(roster, jid, spans, cut, b.pos)?;
            Ok(true)
        },
        |cur, (subject, roster), t| match (&t.ns, t.local()) {
            (Ns::Hardened, "subject") => {
                if subject.is_some() {
                    return Err(duplicate(t.pos, EL, "subject"));
                }
                *subject = Some(Text::from(cur.leaf_text(&t, "subject")?));
                Ok(())
            }
            (Ns::Hardened, "member") => {
                cur.room(roster.spans.len(), t.pos, "snapshot members")?;
                let jid = cur.jid_attr(&t, "member")?;
                let (spans, cut) = member_spans(cur, t.empty, t.pos)?;
                add_member(roster, jid, spans, cut, t.pos)
            }
            _ => cur.skip(&t),
        },
    )?;
    let (subject, roster) = c;
    Ok(Ext::Snapshot {
        epoch,
        seq,
        prev,
        subject,
        roster,
    })
}

/// The digest attribute `attribute` of `tag`, if present: exactly 32 hexadecimal digits.
fn digest_attr(
    tag: &Tag<'_>,
    element: &'static str,
    attribute: &'static str,
) -> Result<Option<Digest>, DecodeError> {
    let mut out = None;
    tag.attrs(|k, v| {
        if k == attribute {
            out = Some(Digest::from_hex(&v).ok_or_else(|| {
                DecodeError::new(
                    tag.pos,
                    ErrorKind::BadAttribute {
                        element,
                        attribute,
                        value: v.to_string(),
                        reason: "not 32 hexadecimal digits".into(),
                    },
                )
            })?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Adds the member at `pos` to the roster, unless it is there already.
fn add_member(
    roster: &mut Roster<Jid>,
    jid: Jid,
    spans: Vec<Span>,
    cut: Option<Vec<Digest>>,
    pos: u64,
) -> Result<(), DecodeError> {
    if let Some(cut) = cut {
        if spans.last().is_some_and(|s| s.until.is_none()) {
            return Err(invalid(pos, "cut", "a current member has no cut"));
        }
        roster.cuts.insert(jid.clone(), cut);
    }
    if roster.spans.insert(jid, spans).is_some() {
        return Err(invalid(pos, "member", "the same member appears twice"));
    }
    Ok(())
}

/// The `<span/>`s of the `<member>` at `pos` (`empty`: it has no content), up to its end,
/// and its `<cut/>`s (sorted; `None` if it has none).
fn member_spans(
    cur: &mut Cursor<'_>,
    empty: bool,
    pos: u64,
) -> Result<(Vec<Span>, Option<Vec<Digest>>), DecodeError> {
    let mut state: (Vec<Span>, Option<Vec<Digest>>) = (Vec::new(), None);
    cur.children_fast(
        empty,
        "member",
        Ns::Hardened,
        &mut state,
        |cur, (spans, _), b| {
            if !b.empty || b.local != "span" || !cur.has_room(spans.len()) {
                return Ok(false);
            }
            let Some((since, until)) = plain_span(b) else {
                return Ok(false);
            };
            push_span(spans, since, until, b.pos)?;
            Ok(true)
        },
        |cur, (spans, cut), t| match (&t.ns, t.local()) {
            (Ns::Hardened, "span") => {
                cur.room(spans.len(), t.pos, "spans")?;
                let [since, until] = numbers(&t, "span", ["since", "until"])?;
                let since = required(&t, "span", "since", since)?;
                push_span(spans, since, until, t.pos)?;
                cur.expect_empty(&t, "span")
            }
            (Ns::Hardened, "cut") => {
                let cut = cut.get_or_insert_with(Vec::new);
                cur.room(cut.len(), t.pos, "cuts")?;
                let mut digest = None;
                t.attrs(|k, v| {
                    if k == "digest" {
                        digest = Some(Digest::from_hex(&v).ok_or_else(|| {
                            DecodeError::new(
                                t.pos,
                                ErrorKind::BadAttribute {
                                    element: "cut",
                                    attribute: "digest",
                                    value: v.to_string(),
                                    reason: "not 32 hexadecimal digits".into(),
                                },
                            )
                        })?);
                    }
                    Ok(())
                })?;
                // `<cut/>` alone says the member was cut off with no last words.
                cut.extend(digest);
                cur.expect_empty(&t, "cut")
            }
            _ => cur.skip(&t),
        },
    )?;
    let (spans, mut cut) = state;
    if let Some(cut) = cut.as_mut() {
        cut.sort_unstable();
        cut.dedup();
    }
    if spans.is_empty() {
        return Err(invalid(
            pos,
            "member",
            "a member needs at least one <span/>",
        ));
    }
    Ok((spans, cut))
}

/// A plain `<span/>`'s interval ([`Cursor::children_fast`]), if its numbers are valid and
/// `since` is there; `None` sends it the ordinary way, which says what is wrong.
fn plain_span(b: &mut FastTag<'_>) -> Option<(u64, Option<u64>)> {
    if let Some(v) = b.only(" since='") {
        return Some((parse_number(v)?, None));
    }
    let (mut since, mut until) = (None, None);
    for &(k, v) in b.attrs()? {
        match k {
            "since" => since = Some(parse_number(v)?),
            "until" => until = Some(parse_number(v)?),
            _ => {}
        }
    }
    Some((since?, until))
}

/// Appends the interval of the `<span/>` at `pos`: `until` not before `since`, and only
/// the last interval open.
fn push_span(
    spans: &mut Vec<Span>,
    since: u64,
    until: Option<u64>,
    pos: u64,
) -> Result<(), DecodeError> {
    if until.is_some_and(|u| u < since) {
        return Err(invalid(pos, "span", "`until` is before `since`"));
    }
    if spans.last().is_some_and(|s| s.until.is_none()) {
        return Err(invalid(pos, "span", "only the last interval may be open"));
    }
    spans.push(Span { since, until });
    Ok(())
}

fn write_num(out: &mut String, name: &str, v: u64) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    out.push_str(itoa(v, &mut [0u8; 20]));
    out.push('\'');
}

fn itoa(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// Encodes the extension element.
pub(crate) fn encode(ext: &Ext<Jid>, out: &mut String) {
    out.push('<');
    out.push_str(name(ext));
    out.push_str(" xmlns='");
    out.push_str(NS_HARDENED);
    out.push('\'');
    match ext {
        Ext::Stamp { epoch, seq, to } => write_stamp(out, *epoch, *seq, to),
        Ext::Head { epoch, seq, head } => {
            write_num(out, "epoch", *epoch);
            write_num(out, "seq", *seq);
            out.push_str(" digest='");
            out.push_str(&head.to_hex());
            out.push_str("'/>");
        }
        Ext::Ack { seq } => {
            write_num(out, "seq", *seq);
            out.push_str("/>");
        }
        Ext::Resync { epoch } => {
            write_num(out, "epoch", *epoch);
            out.push_str("/>");
        }
        Ext::Snapshot {
            epoch,
            seq,
            prev,
            subject,
            roster,
        } => {
            write_num(out, "epoch", *epoch);
            write_num(out, "seq", *seq);
            if !prev.is_zero() {
                out.push_str(" prev='");
                out.push_str(&prev.to_hex());
                out.push('\'');
            }
            out.push('>');
            if let Some(s) = subject {
                out.push_str("<subject>");
                escape_text(out, s);
                out.push_str("</subject>");
            }
            for (jid, spans) in &roster.spans {
                out.push_str("<member");
                write_attr(out, "jid", jid.as_str());
                out.push('>');
                for s in spans {
                    out.push_str("<span");
                    write_num(out, "since", s.since);
                    if let Some(u) = s.until {
                        write_num(out, "until", u);
                    }
                    out.push_str("/>");
                }
                match roster.cuts.get(jid) {
                    // Cut off with no last words: the cut must still say so.
                    Some(cut) if cut.is_empty() => out.push_str("<cut/>"),
                    Some(cut) => {
                        for d in cut {
                            out.push_str("<cut digest='");
                            out.push_str(&d.to_hex());
                            out.push_str("'/>");
                        }
                    }
                    None => {}
                }
                out.push_str("</member>");
            }
            out.push_str("</snapshot>");
        }
    }
}

/// A stamp's attributes and its `<to/>` recipients.
fn write_stamp(out: &mut String, epoch: u64, seq: u64, to: &[Jid]) {
    write_num(out, "epoch", epoch);
    write_num(out, "seq", seq);
    if to.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for jid in to {
            out.push_str("<to");
            write_attr(out, "jid", jid.as_str());
            out.push_str("/>");
        }
        out.push_str("</stamp>");
    }
}
