//! The pre-scan that drops other members' PKESKs before anything is parsed.
//!
//! A group stanza sealed for N members starts with N PKESK packets, and a member needs one.
//! sequoia's `PacketParser` costs about a microsecond per packet (it parses each PKESK's
//! key material into owned values), so walking 1000 of them costs about a millisecond before
//! any decryption. This pre-scan reads only the packet framing (tag and length) and the
//! recipient field at the start of each leading PKESK: those that name one of my keys (or
//! nobody: a wildcard) are kept, the others skipped by their length without being copied
//! or parsed. What remains (my PKESKs and everything from the first non-PKESK packet on)
//! then goes through `PacketParser` as usual, so all real parsing, decryption and checking
//! is still sequoia's; the pre-scan only decides which PKESKs are not worth parsing.
//!
//! Any framing it does not understand (old-style indeterminate or partial lengths, bytes
//! that run out) ends the pre-scan, and the input is handed to the parser unfiltered,
//! which then reports the proper error.

/// How a PKESK names its recipient, as raw bytes from the packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Named<'a> {
    /// A v3 PKESK's 8-byte key id (all zeros: anyone).
    KeyId(&'a [u8]),
    /// A v6 PKESK's key fingerprint (empty: anyone).
    Fingerprint(&'a [u8]),
    /// A PKESK version this scan does not know: keep it, the parser decides.
    Unknown,
}

/// One packet's framing: (tag, header length, body length), or None if the header is not
/// a plain, complete one.
fn header(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *bytes.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    if first & 0x40 != 0 {
        // New format.
        let tag = first & 0x3f;
        let l0 = *bytes.get(1)? as usize;
        match l0 {
            0..=191 => Some((tag, 2, l0)),
            192..=223 => {
                let l1 = *bytes.get(2)? as usize;
                Some((tag, 3, ((l0 - 192) << 8) + l1 + 192))
            }
            255 => {
                let b = bytes.get(2..6)?;
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                Some((tag, 6, len))
            }
            // Partial body lengths: not a PKESK, stop here.
            _ => None,
        }
    } else {
        // Old format.
        let tag = (first >> 2) & 0x0f;
        match first & 0x03 {
            0 => Some((tag, 2, *bytes.get(1)? as usize)),
            1 => {
                let b = bytes.get(1..3)?;
                Some((tag, 3, u16::from_be_bytes([b[0], b[1]]) as usize))
            }
            2 => {
                let b = bytes.get(1..5)?;
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                Some((tag, 5, len))
            }
            _ => None,
        }
    }
}

fn named(body: &[u8]) -> Named<'_> {
    match body.first() {
        Some(3) => body.get(1..9).map_or(Named::Unknown, Named::KeyId),
        Some(6) => match body.get(1) {
            Some(0) => Named::Fingerprint(&[]),
            // Length of (key version octet + fingerprint).
            Some(&n) if n >= 1 => body
                .get(3..2 + n as usize)
                .map_or(Named::Unknown, Named::Fingerprint),
            _ => Named::Unknown,
        },
        _ => Named::Unknown,
    }
}

const PKESK: u8 = 1;

/// Keeps the leading PKESKs for which `keep` is true and drops the rest. Returns None
/// when nothing would be dropped or the framing is not understood (use the input as is).
pub(crate) fn keep_pkesks(bytes: &[u8], keep: impl Fn(&Named<'_>) -> bool) -> Option<Vec<u8>> {
    let mut at = 0;
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut dropped = 0usize;
    loop {
        let rest = bytes.get(at..)?;
        let (tag, hlen, blen) = header(rest)?;
        if tag != PKESK {
            break;
        }
        let end = hlen.checked_add(blen)?;
        let body = rest.get(hlen..end)?;
        if keep(&named(body)) {
            kept.push((at, at + end));
        } else {
            dropped += 1;
        }
        at += end;
    }
    if dropped == 0 {
        return None;
    }
    let mine: usize = kept.iter().map(|(a, b)| b - a).sum();
    let mut out = Vec::with_capacity(mine + bytes.len() - at);
    for (a, b) in kept {
        out.extend_from_slice(&bytes[a..b]);
    }
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_of_new_and_old_headers() {
        assert_eq!(header(&[0xc1, 10]), Some((1, 2, 10)));
        assert_eq!(header(&[0xc1, 192, 0]), Some((1, 3, 192)));
        assert_eq!(header(&[0xc1, 255, 0, 0, 1, 0]), Some((1, 6, 256)));
        assert_eq!(header(&[0xc1, 224]), None, "partial length");
        assert_eq!(header(&[0x84, 12]), Some((1, 2, 12)), "old format, tag 1");
        assert_eq!(header(&[0x85, 0, 12]), Some((1, 3, 12)));
        assert_eq!(header(&[0x87]), None, "indeterminate length");
        assert_eq!(header(&[0x01, 2]), None, "not a packet");
        assert_eq!(header(&[]), None);
    }

    #[test]
    fn recipients_are_read_from_v3_and_v6_pkesks() {
        let v3 = [3, 1, 2, 3, 4, 5, 6, 7, 8, 18];
        assert_eq!(named(&v3), Named::KeyId(&[1, 2, 3, 4, 5, 6, 7, 8]));
        let v6 = [6, 3, 6, 0xaa, 0xbb, 25];
        assert_eq!(named(&v6), Named::Fingerprint(&[0xaa, 0xbb]));
        assert_eq!(named(&[6, 0, 25]), Named::Fingerprint(&[]));
        assert_eq!(named(&[6, 40, 6]), Named::Unknown, "runs out");
        assert_eq!(named(&[4]), Named::Unknown);
    }

    #[test]
    fn drops_only_the_unwanted_pkesks_and_keeps_the_rest_verbatim() {
        let a = [0xc1, 10, 3, 1, 1, 1, 1, 1, 1, 1, 1, 18];
        let b = [0xc1, 10, 3, 2, 2, 2, 2, 2, 2, 2, 2, 18];
        let seipd = [0xd2, 3, 1, 9, 9];
        let msg: Vec<u8> = [&a[..], &b[..], &a[..], &seipd[..]].concat();
        let out = keep_pkesks(&msg, |n| *n == Named::KeyId(&[2; 8])).expect("filtered");
        assert_eq!(out, [&b[..], &seipd[..]].concat());
        assert_eq!(keep_pkesks(&msg, |_| true), None, "nothing dropped");
        assert_eq!(keep_pkesks(&msg[..5], |_| false), None, "truncated");
    }
}
