//! Escaping for the encoders (and for re-serialising unknown elements): what must be
//! escaped so that the reader gives back exactly the same text, and nothing more.

/// Copies `s` to `out`, each byte for which `rep` has a replacement replaced by it.
fn escape_with(out: &mut String, s: &str, rep: impl Fn(u8) -> Option<&'static str>) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(r) = rep(b) {
            out.push_str(&s[last..i]);
            out.push_str(r);
            last = i + 1;
        }
    }
    out.push_str(&s[last..]);
}

/// Escapes text content; `\r` too, or the reader's end-of-line normalisation would eat it.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    })
}

/// Escapes an attribute value for single quotes; tabs and newlines too, or attribute-value
/// normalisation would turn them into spaces.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\'' => Some("&apos;"),
        b'"' => Some("&quot;"),
        b'\r' => Some("&#xD;"),
        b'\n' => Some("&#xA;"),
        b'\t' => Some("&#x9;"),
        _ => None,
    })
}

/// ` name='value'`
pub(crate) fn write_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_attr(out, value);
    out.push('\'');
}

/// Escapes text as Smack 4.3 does for Kontalk's clients (`StringUtils.escapeForXml`, mode
/// `safe`: `<`, `>`, `&`, `"` and `'`), and `\r` as [`escape_text`] does, which Smack
/// writes raw and a reader would turn into a line feed.
pub(crate) fn escape_text_smack(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&apos;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    })
}

/// ` name='value'` escaped as Smack 4.3 escapes attribute values (`XmlStringBuilder.attribute`,
/// mode `forAttributeApos`: `<`, `&` and `'`), and whitespace other than a space as
/// [`escape_attr`] does, which attribute-value normalisation would otherwise eat.
pub(crate) fn write_attr_smack(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_with(out, value, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'\'' => Some("&apos;"),
        b'\r' => Some("&#xD;"),
        b'\n' => Some("&#xA;"),
        b'\t' => Some("&#x9;"),
        _ => None,
    });
    out.push('\'');
}
