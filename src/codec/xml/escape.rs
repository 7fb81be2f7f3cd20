//! Escaping for the encoders (and for re-serialising unknown elements): what must be
//! escaped so that the reader gives back exactly the same text, and nothing more.

/// Escapes text content; `\r` too, or the reader's end-of-line normalisation would eat it.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Escapes an attribute value for single quotes; tabs and newlines too, or attribute-value
/// normalisation would turn them into spaces.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\'' => "&apos;",
            b'"' => "&quot;",
            b'\r' => "&#xD;",
            b'\n' => "&#xA;",
            b'\t' => "&#x9;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// ` name='value'`
pub(crate) fn write_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_attr(out, value);
    out.push('\'');
}
