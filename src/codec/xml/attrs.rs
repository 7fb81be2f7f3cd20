//! The attributes of a start tag, read from its raw bytes in one pass.
//!
//! quick-xml tokenises the tag (finding its `>` past quoted values); what lies between the
//! element name and the `>` is read here, once, without allocating: each attribute's
//! name, its raw value and whether that value needs any work. Nearly every value has no
//! `&` (no entity to resolve), no control character (nothing to refuse, and no tab,
//! newline or carriage return to normalise) and no 0xEF lead byte (no U+FFFE or U+FFFF):
//! such a value is its own normalised value. The others go through quick-xml's
//! attribute-value normalisation and our character check.
//!
//! The syntax is XML's: whitespace before every attribute, a name, `=` (spaces allowed
//! around it), a value in single or double quotes without `<`. Each error says what and
//! at which byte of the input.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::name::QName;
use quick_xml::XmlVersion;

use super::check_chars;
use super::words::{flagged, letters_then_eq, splat, word};
use crate::codec::error::{DecodeError, ErrorKind};

/// One attribute as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawAttr<'i> {
    /// The qualified name (`jid`, `xml:lang`, `xmlns:g`).
    pub name: &'i str,
    /// Between the quotes, entities unresolved.
    pub value: &'i str,
    /// Byte offset of the name in the input.
    pub pos: u64,
    /// The value holds `&`, a control character or a 0xEF byte (see the module docs).
    pub special: bool,
    /// Where the prefix ends in `name` (`0`: no prefix).
    pub colon: usize,
}

impl<'i> RawAttr<'i> {
    /// The normalised value: entities and character references resolved, tabs and line
    /// ends as spaces, characters XML forbids refused (errors at `pos`).
    pub fn value(&self, pos: u64) -> Result<Cow<'i, str>, DecodeError> {
        if !self.special {
            return Ok(Cow::Borrowed(self.value));
        }
        let a = Attribute {
            key: QName(self.name),
            value: Cow::Borrowed(self.value),
        };
        let v = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| DecodeError::new(pos, ErrorKind::Xml(e.to_string())))?;
        check_chars(&v, pos)?;
        Ok(v)
    }

    /// The prefix, if the name has one.
    pub fn prefix(&self) -> Option<&'i str> {
        (self.colon > 0).then(|| &self.name[..self.colon])
    }

    /// The name without its prefix.
    pub fn local(&self) -> &'i str {
        match self.colon {
            0 => self.name,
            c => &self.name[c + 1..],
        }
    }

    /// `Some(prefix)` for a namespace declaration: `Some("")` for `xmlns`, `Some("g")` for
    /// `xmlns:g`.
    pub fn declares(&self) -> Option<&'i str> {
        match self.prefix() {
            None => (self.name == "xmlns").then_some(""),
            Some("xmlns") => Some(self.local()),
            Some(_) => None,
        }
    }
}

/// Byte classes for the scanner's name and whitespace loops: one table look-up per byte.
/// (Values are read a word at a time, [`super::words`].)
const WS: u8 = 1;
const EQ: u8 = 2;
const COLON: u8 = 4;
/// Not allowed in a name: `< > & ' " /`.
const NOT_NAME: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\r' as usize] = WS;
    t[b'\n' as usize] = WS;
    t[b'=' as usize] = EQ;
    t[b':' as usize] = COLON;
    t[b'<' as usize] = NOT_NAME;
    t[b'&' as usize] = NOT_NAME;
    t[b'>' as usize] = NOT_NAME;
    t[b'/' as usize] = NOT_NAME;
    t[b'\'' as usize] = NOT_NAME;
    t[b'"' as usize] = NOT_NAME;
    t
};

/// Reads the attributes of one tag: `raw` is what follows the element name, `base` the
/// offset of its first byte in the input.
pub(crate) struct Scan<'i> {
    raw: &'i str,
    at: usize,
    base: u64,
}

impl<'i> Scan<'i> {
    pub fn new(raw: &'i str, base: u64) -> Self {
        Scan { raw, at: 0, base }
    }

    #[cold]
    fn err(&self, at: usize, what: String) -> DecodeError {
        DecodeError::new(self.base + at as u64, ErrorKind::Xml(what))
    }

    /// The next attribute, `None` at the end of the tag.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RawAttr<'i>>, DecodeError> {
        let b = self.raw.as_bytes();
        let n = b.len();
        let mut i = self.at;
        // The common shape, ` name='`, in a few word operations; the loops below read
        // every other one (and say what is wrong with it).
        if b.get(i) == Some(&b' ') {
            if let Some(k) = letters_then_eq(b, i + 1) {
                if let Some(&quote @ (b'\'' | b'"')) = b.get(i + k + 2) {
                    let name = &self.raw[i + 1..i + 1 + k];
                    return self.value(name, i + 1, i + k + 2, quote, 0);
                }
            }
        }
        let gap = i;
        while i < n && CLASS[b[i] as usize] & WS != 0 {
            i += 1;
        }
        if i == n {
            self.at = i;
            return Ok(None);
        }
        if i == gap {
            return Err(self.err(i, "attributes must be separated by whitespace".into()));
        }
        // The name, up to `=` or whitespace; its colons and forbidden bytes noted.
        let name_start = i;
        let (mut colon, mut colons, mut bad) = (0usize, 0usize, false);
        while i < n {
            let c = CLASS[b[i] as usize];
            if c & (WS | EQ | COLON | NOT_NAME) != 0 {
                if c & (WS | EQ) != 0 {
                    break;
                }
                if c & COLON != 0 {
                    colon = i - name_start;
                    colons += 1;
                } else {
                    bad = true;
                }
            }
            i += 1;
        }
        let name = &self.raw[name_start..i];
        if name.is_empty() {
            return Err(self.err(name_start, "attribute without a name".into()));
        }
        if bad {
            return Err(self.err(name_start, format!("invalid attribute name `{name}`")));
        }
        if colons > 1 || (colons == 1 && (colon == 0 || colon + 1 == name.len())) {
            return Err(self.err(name_start, format!("`{name}` is not a qualified name")));
        }
        while i < n && CLASS[b[i] as usize] & WS != 0 {
            i += 1;
        }
        if i == n || b[i] != b'=' {
            return Err(self.err(i, format!("attribute `{name}` lacks `=` and a value")));
        }
        i += 1;
        while i < n && CLASS[b[i] as usize] & WS != 0 {
            i += 1;
        }
        let quote = match b.get(i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(self.err(i, format!("the value of attribute `{name}` is not quoted"))),
        };
        self.value(name, name_start, i, quote, colon)
    }

    /// The rest of an attribute whose `name` starts at `name_start` and whose value opens
    /// with `quote` at `open`: the value up to the same quote, whether any byte of it
    /// needs work noted.
    #[inline(always)]
    fn value(
        &mut self,
        name: &'i str,
        name_start: usize,
        open: usize,
        quote: u8,
        colon: usize,
    ) -> Result<Option<RawAttr<'i>>, DecodeError> {
        let b = self.raw.as_bytes();
        let n = b.len();
        let value_start = open + 1;
        let mut j = value_start;
        let mut special = false;
        let q = splat(quote);
        loop {
            // Eight bytes at a time (zeros past the end, which are flagged as controls):
            // most values are clean JIDs and names, so this runs straight to the quote.
            let f = flagged(word(b, j), q);
            if f == 0 {
                j += 8;
                continue;
            }
            j += (f.trailing_zeros() / 8) as usize;
            if j >= n {
                return Err(self.err(
                    open,
                    format!("the value of attribute `{name}` is not closed"),
                ));
            }
            // `b[j]` is the quote or a byte that needs work.
            if b[j] == quote {
                break;
            }
            special = true;
            j += 1;
        }
        let value = &self.raw[value_start..j];
        if special {
            // Characters XML forbids are refused as written, before anything else.
            check_chars(value, self.base + value_start as u64)?;
            if let Some(lt) = value.bytes().position(|c| c == b'<') {
                return Err(self.err(
                    value_start + lt,
                    format!("`<` in the value of attribute `{name}`"),
                ));
            }
        }
        self.at = j + 1;
        Ok(Some(RawAttr {
            name,
            value,
            pos: self.base + name_start as u64,
            special,
            colon,
        }))
    }
}

/// The attributes of a tag must be distinct: by name, and for prefixed ones by namespace
/// and local name (`a:x` and `b:x` clash when `a` and `b` name the same namespace).
/// `keys` are (namespace of a prefixed attribute or `None`, local or literal name), in
/// document order; the result is the index of the first repeat.
pub(crate) fn first_repeat<K: PartialEq + Eq + std::hash::Hash>(keys: &[K]) -> Option<usize> {
    if keys.len() <= 8 {
        (1..keys.len()).find(|&i| keys[..i].contains(&keys[i]))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.iter().position(|k| !seen.insert(k))
    }
}

#[cfg(test)]
mod tests {
    use super::super::words::plain;
    use super::*;

    fn all(raw: &str) -> Result<Vec<(String, String, u64, bool)>, DecodeError> {
        let mut s = Scan::new(raw, 100);
        let mut out = Vec::new();
        while let Some(a) = s.next()? {
            out.push((a.name.to_owned(), a.value.to_owned(), a.pos, a.special));
        }
        Ok(out)
    }

    fn fails_at(raw: &str) -> u64 {
        match all(raw) {
            Err(e) => {
                assert!(matches!(e.kind, ErrorKind::Xml(_)), "{raw:?}: {e}");
                e.offset
            }
            Ok(v) => panic!("{raw:?} accepted: {v:?}"),
        }
    }

    #[test]
    fn reads_names_values_and_positions() {
        let got = all(" a='1'  b = \"x'y\"\n\tc=''").unwrap();
        assert_eq!(
            got,
            [
                ("a".into(), "1".into(), 101, false),
                ("b".into(), "x'y".into(), 108, false),
                ("c".into(), "".into(), 119, false),
            ]
        );
        assert!(all("").unwrap().is_empty());
        assert!(all("  \n ").unwrap().is_empty());
        let got = all(" xmlns:g='urn:g' g:k='a&amp;b' t='\tx'").unwrap();
        assert_eq!(got[0].0, "xmlns:g");
        assert!(!got[0].3);
        assert!(got[1].3 && got[2].3, "entities and controls need work");
    }

    #[test]
    fn refuses_malformed_attributes_where_they_go_wrong() {
        assert_eq!(fails_at("a='1'"), 100, "no whitespace before the first");
        assert_eq!(fails_at(" a='1'b='2'"), 106, "none between two");
        assert_eq!(fails_at(" ='1'"), 101, "no name");
        assert_eq!(fails_at(" a"), 102, "no `=`");
        assert_eq!(fails_at(" a b='1'"), 103, "no `=`, another name");
        assert_eq!(fails_at(" a="), 103, "no value");
        assert_eq!(fails_at(" a=1"), 103, "unquoted");
        assert_eq!(fails_at(" a='1"), 103, "unterminated");
        assert_eq!(fails_at(" a=\"1'"), 103, "other quote");
        assert_eq!(fails_at(" a='x<y'"), 105, "`<` in a value");
        assert_eq!(fails_at(" a\"b='1'"), 101, "quote in a name");
        assert_eq!(fails_at(" a='1' /"), 107, "stray slash");
        for name in [":a", "a:", "a:b:c", "xmlns:"] {
            assert_eq!(fails_at(&format!(" {name}='1'")), 101, "{name}");
        }
        let mut s = Scan::new(" p:k='v' k='w'", 0);
        let a = s.next().unwrap().unwrap();
        assert_eq!((a.prefix(), a.local()), (Some("p"), "k"));
        let a = s.next().unwrap().unwrap();
        assert_eq!((a.prefix(), a.local()), (None, "k"));
    }

    /// The word-at-a-time scan finds the same end and the same need for work as a plain
    /// byte loop, wherever the quote and the special bytes fall.
    #[test]
    fn word_scan_agrees_with_a_byte_loop() {
        let fill = [
            "a", "é", "\u{FEFF}", "\u{FFFF}", "&amp;", "\t", "\u{1}", "<", "\"", "x",
        ];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let value: String = (0..len)
                .map(|k| fill[((seed >> (k % 60)) as usize + k) % fill.len()])
                .collect();
            let raw = format!(" k='{value}' m='1'");
            let plain_special = value
                .bytes()
                .any(|c| c < 0x20 || c == b'&' || c == b'<' || c == 0xEF);
            // `plain` says the same of the value alone, and a quote is not plain.
            assert_eq!(plain(&value, b'\''), !plain_special, "{value:?}");
            assert_eq!(
                plain(&value, b'"'),
                !plain_special && !value.contains('"'),
                "{value:?}"
            );
            let mut s = Scan::new(&raw, 0);
            match s.next() {
                Ok(Some(a)) => {
                    assert_eq!(a.value, value, "{raw:?}");
                    assert_eq!(a.special, plain_special, "{raw:?}");
                    assert_eq!(s.next().unwrap().unwrap().name, "m");
                }
                Ok(None) => panic!("{raw:?}"),
                // Refused: only for a forbidden character or `<`.
                Err(_) => assert!(plain_special, "{raw:?}"),
            }
        }
    }

    /// The one-word path for ` name='` reads exactly what the general loops read: the same
    /// attributes, positions and errors, whether an attribute takes the word path (a space
    /// before it) or the loops (a tab before it).
    #[test]
    fn word_path_agrees_with_the_general_path() {
        let names = [
            "a", "jid", "type", "owner", "abcdefg", "abcdefgh", "xmlns", "x:y", "a1", "_a", "é",
            "A", "Zz", "a b", "", "a=", "[", "`", "{", "@",
        ];
        let values = [
            "",
            "to",
            "user@x.org/r",
            "a&amp;b",
            "<",
            "\t",
            "\"",
            "'",
            "é😀",
            "0123456789abcdef",
        ];
        let eqs = ["=", " =", "= ", "==", ""];
        let quotes = ["'", "\""];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        for _ in 0..50_000 {
            let (mut word, mut general) = (String::new(), String::new());
            for _ in 0..1 + next(3) {
                let name = names[next(names.len())];
                let eq = if next(4) == 0 {
                    eqs[next(eqs.len())]
                } else {
                    "="
                };
                let q = quotes[next(2)];
                let v = values[next(values.len())];
                let close = if next(20) == 0 { "" } else { q };
                let tail = format!("{name}{eq}{q}{v}{close}");
                word.push(' ');
                word.push_str(&tail);
                general.push('\t');
                general.push_str(&tail);
                if close.is_empty() {
                    // An unclosed value runs to the end, over the separators that differ.
                    break;
                }
            }
            let (a, b) = (all(&word), all(&general));
            let key = |r: Result<Vec<(String, String, u64, bool)>, DecodeError>| {
                r.map_err(|e| (e.offset, e.kind.to_string()))
            };
            assert_eq!(key(a), key(b), "{word:?}");
        }
    }

    #[test]
    fn values_are_normalised_only_when_they_need_it() {
        fn v(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
            let mut s = Scan::new(raw, 0);
            let a = s.next()?.expect("an attribute");
            a.value(7)
        }
        assert!(matches!(
            v(" a='plain value'"),
            Ok(Cow::Borrowed("plain value"))
        ));
        assert_eq!(
            v(" a='x &amp; &lt;y&gt; &apos;&quot;'").unwrap(),
            "x & <y> '\""
        );
        assert_eq!(v(" a='&#x41;&#66;'").unwrap(), "AB");
        // Literal tabs and line ends become spaces, escaped ones stay.
        assert_eq!(v(" a='1\t2\r\n3\n4'").unwrap(), "1 2 3 4");
        assert_eq!(v(" a='1&#9;2&#xA;3'").unwrap(), "1\t2\n3");
        let e = v(" a='&bogus;'").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Xml(_)) && e.offset == 7, "{e}");
        assert_eq!(v(" a='&#1;'").unwrap_err().kind, ErrorKind::IllegalChar(1));
        assert_eq!(v(" a='\u{1}'").unwrap_err().kind, ErrorKind::IllegalChar(1));
        assert_eq!(
            v(" a='\u{FFFF}'").unwrap_err().kind,
            ErrorKind::IllegalChar(0xFFFF)
        );
        assert_eq!(v(" a='\u{FEFF}é'").unwrap(), "\u{FEFF}é");
    }

    #[test]
    fn namespace_declarations_are_recognised_by_name() {
        let d = |name| {
            let mut s = Scan::new(name, 0);
            s.next().expect("valid").expect("one").declares()
        };
        assert_eq!(d(" xmlns=''"), Some(""));
        assert_eq!(d(" xmlns:g=''"), Some("g"));
        assert_eq!(d(" xmlnsx=''"), None);
        assert_eq!(d(" g:xmlns=''"), None);
        assert_eq!(d(" jid=''"), None);
    }

    #[test]
    fn repeats_are_found_by_key_however_many_keys() {
        assert_eq!(first_repeat::<&str>(&[]), None);
        assert_eq!(first_repeat(&["a", "b", "a"]), Some(2));
        let many: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        assert_eq!(first_repeat(&many), None);
        let mut again = many.clone();
        again.push("k3".into());
        assert_eq!(first_repeat(&again), Some(20));
        // Namespaced keys: same local name in different namespaces is fine.
        assert_eq!(first_repeat(&[(None, "x"), (Some("urn:a"), "x")]), None);
        assert_eq!(
            first_repeat(&[(Some("urn:a"), "x"), (None, "y"), (Some("urn:a"), "x")]),
            Some(2)
        );
    }
}
