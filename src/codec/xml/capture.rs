//! Unknown elements, kept to be re-emitted: a canonical, self-contained re-serialisation.
//!
//! The element will be re-emitted in another context than the one it was declared in, so
//! every namespace it uses is declared on it: its own and its children's with `xmlns`
//! where they change, prefixed attributes' under generated prefixes. Comments are dropped,
//! text is re-escaped, `<x></x>` becomes `<x/>`; capturing the output again gives the same
//! string.

use super::escape::{escape_text, write_attr};
use super::scope::NS_XML;
use super::{check_chars, Cursor, Ev, Ns, Scan, Tag};
use crate::codec::error::{DecodeError, ErrorKind};
use crate::codec::{RawElement, Text};

impl<'i> Cursor<'i> {
    /// Re-serialises the unknown element `tag` opened, and its subtree.
    pub fn capture(&mut self, tag: Tag<'i>) -> Result<RawElement, DecodeError> {
        let mut out = String::new();
        let name: Text = tag.local().into();
        let ns = tag.ns.clone();
        self.write_start(&mut out, &tag, &Ns::Content)?;
        if tag.empty {
            out.push_str("/>");
        } else {
            // Open elements: namespace and local name; `open` is true while the last start
            // tag still lacks its '>' (so an element without content can close as `/>`).
            let mut stack: Vec<(Ns, &'i str)> = vec![(tag.ns.clone(), tag.local())];
            let mut open = true;
            while let Some((top, _)) = stack.last() {
                let top = top.clone();
                match self.next()? {
                    Ev::Start(t) => {
                        if open {
                            out.push('>');
                        }
                        self.write_start(&mut out, &t, &top)?;
                        if t.empty {
                            out.push_str("/>");
                            open = false;
                        } else {
                            stack.push((t.ns.clone(), t.local()));
                            open = true;
                        }
                    }
                    Ev::Text(s) => {
                        if open {
                            out.push('>');
                            open = false;
                        }
                        escape_text(&mut out, &s);
                    }
                    Ev::End => {
                        if let Some((_, n)) = stack.pop() {
                            if open {
                                out.push_str("/>");
                            } else {
                                out.push_str("</");
                                out.push_str(n);
                                out.push('>');
                            }
                        }
                        open = false;
                    }
                    Ev::Eof => return Err(self.eof()),
                }
            }
        }
        Ok(RawElement {
            ns: ns.uri().map(Into::into),
            name,
            xml: out.into(),
        })
    }

    /// `<name` with an `xmlns` when the namespace differs from the parent's, and the
    /// attributes with their namespaces declared under generated prefixes. Called right
    /// after `tag` was read, while its namespace declarations are still in scope.
    fn write_start(&self, out: &mut String, tag: &Tag<'i>, parent: &Ns) -> Result<(), DecodeError> {
        check_name(tag.local(), tag.pos)?;
        out.push('<');
        out.push_str(tag.local());
        if tag.ns != *parent {
            write_attr(out, "xmlns", tag.ns.uri().unwrap_or(""));
        }
        let mut n = 0usize;
        let mut scan = Scan::new(tag.raw, tag.raw_pos);
        while let Some(a) = scan.next()? {
            if a.declares().is_some() {
                continue;
            }
            let v = a.value(tag.pos)?;
            match a.prefix().map(|p| (p, a.local())) {
                None => {
                    check_name(a.name, tag.pos)?;
                    write_attr(out, a.name, &v);
                }
                Some((prefix, local)) => {
                    check_name(local, tag.pos)?;
                    let uri = self.scope.attribute(prefix, a.pos)?;
                    if uri == NS_XML {
                        write_attr(out, &format!("xml:{local}"), &v);
                    } else {
                        let p = format!("a{n}");
                        n += 1;
                        write_attr(out, &format!("xmlns:{p}"), uri);
                        write_attr(out, &format!("{p}:{local}"), &v);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The names we re-emit from unknown elements must read back as the same names: no
/// characters XML forbids, no markup delimiters, no whitespace.
fn check_name(name: &str, pos: u64) -> Result<(), DecodeError> {
    check_chars(name, pos)?;
    let bad = name.is_empty()
        || name.bytes().any(|b| {
            matches!(
                b,
                b'<' | b'>'
                    | b'&'
                    | b'\''
                    | b'"'
                    | b'='
                    | b'/'
                    | b'!'
                    | b'?'
                    | b' '
                    | b'\t'
                    | b'\r'
                    | b'\n'
            )
        });
    if bad {
        return Err(DecodeError::new(
            pos,
            ErrorKind::Xml(format!("invalid name `{name}`")),
        ));
    }
    Ok(())
}
