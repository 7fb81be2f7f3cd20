//! Kontalk's group extension: `<group xmlns='http://kontalk.org/extensions/message#group'>`.
//!
//! `id` and `owner` are always present (a group is named by both). `type='create'` carries
//! the members (owner excluded) and an optional `<subject>`; `type='set'` any of
//! `<subject>`, `<add jid>`, `<remove jid>` and the `<member jid>` list; no `type` is a
//! plain message. A part is written two ways and both are read: the seed page's `<part/>`
//! child with no `type`, and `type='part'` on an empty element, which is what Kontalk's
//! clients send and parse (client-common-java `org/kontalk/client/GroupExtension.java`,
//! `Type` and `Provider.parse`, since commit 815ce67 of 2016-02-08; the `<part/>` child
//! was a draft reverted before any release). Children are read in any order (the desktop
//! client writes them from a hash set). The element's meaning is exactly a core
//! [`Command`], so it decodes straight into one; combinations no client sends (an `<add/>`
//! in a create, a part with members, `type='get'`) are errors rather than guesses.
//! Identities must be bare JIDs. What is written follows the [`Profile`].

use serde::{Deserialize, Serialize};

use super::error::{DecodeError, ErrorKind};
use super::jid::Jid;
use super::xml::{duplicate, escape_text, write_attr, Cursor, Ns, Tag};
use super::xml::{escape_text_smack, write_attr_smack};
use super::{Profile, Text, NS_GROUP};
use crate::core::Command;

/// One `<group/>` element.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: Text,
    pub owner: Jid,
    pub command: Command<Jid>,
}

const EL: &str = "group";

fn err(pos: u64, reason: &'static str) -> DecodeError {
    DecodeError::new(
        pos,
        ErrorKind::Invalid {
            element: EL,
            reason,
        },
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Message,
    Create,
    Set,
    Part,
}

/// What a `<group/>` element's children say, as they are read.
#[derive(Default)]
struct Children {
    subject: Option<Text>,
    members: Vec<Jid>,
    add: Vec<Jid>,
    remove: Vec<Jid>,
    part: bool,
}

impl Children {
    /// The list a child named `local` adds to, its element name and its list's name
    /// (for limits); `None` for children that are not JID lists.
    fn list(&mut self, local: &str) -> Option<(&mut Vec<Jid>, &'static str, &'static str)> {
        Some(match local {
            "member" => (&mut self.members, "member", "members"),
            "add" => (&mut self.add, "add", "add"),
            "remove" => (&mut self.remove, "remove", "remove"),
            _ => return None,
        })
    }
}

impl Group {
    pub(crate) fn decode<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Self, DecodeError> {
        let (mut id, mut owner, mut kind) = (None, None, Kind::Message);
        tag.attrs(|k, v| {
            let bad = |reason: String| {
                DecodeError::new(
                    tag.pos,
                    ErrorKind::BadAttribute {
                        element: EL,
                        attribute: match k {
                            "owner" => "owner",
                            _ => "type",
                        },
                        value: v.to_string(),
                        reason,
                    },
                )
            };
            match k {
                "id" => id = Some(Text::from(v.as_ref())),
                "owner" => owner = Some(cur.bare_jid(&v).map_err(|e| bad(e.to_string()))?),
                "type" => {
                    kind = match v.as_ref() {
                        "create" => Kind::Create,
                        "set" => Kind::Set,
                        "part" => Kind::Part,
                        _ => return Err(bad("expected `create`, `set` or `part`".into())),
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        let missing = |attribute| {
            DecodeError::new(
                tag.pos,
                ErrorKind::MissingAttribute {
                    element: EL,
                    attribute,
                },
            )
        };
        let id = id.ok_or_else(|| missing("id"))?;
        let owner = owner.ok_or_else(|| missing("owner"))?;

        let mut c = Children::default();
        cur.children_fast(
            tag.empty,
            EL,
            Ns::Group,
            &mut c,
            |cur, c, b| {
                let Some((list, _, _)) = c.list(b.local).filter(|_| b.empty) else {
                    return Ok(false);
                };
                Ok(cur.has_room(list.len()) && b.bare_jid().map(|j| list.push(j)).is_some())
            },
            |cur, c, t| {
                if t.ns != Ns::Group {
                    return cur.skip(&t);
                }
                match t.local() {
                    "subject" => {
                        if c.subject.is_some() {
                            return Err(duplicate(t.pos, EL, "subject"));
                        }
                        c.subject = Some(Text::from(cur.leaf_text(&t, "subject")?));
                        Ok(())
                    }
                    "part" => {
                        c.part = true;
                        cur.expect_empty(&t, "part")
                    }
                    local => {
                        let Some((list, element, what)) = c.list(local) else {
                            return cur.skip(&t);
                        };
                        cur.room(list.len(), t.pos, what)?;
                        list.push(cur.jid_attr(&t, element)?);
                        cur.expect_empty(&t, element)
                    }
                }
            },
        )?;
        let Children {
            subject,
            members,
            add,
            remove,
            part,
        } = c;
        let p = tag.pos;
        let lists =
            subject.is_some() || !members.is_empty() || !add.is_empty() || !remove.is_empty();
        let command = match kind {
            _ if part && kind != Kind::Message => {
                return Err(err(p, "<part/> is not allowed with a `type`"))
            }
            Kind::Part | Kind::Message if part || kind == Kind::Part => {
                if lists {
                    return Err(err(p, "a part cannot be combined with other commands"));
                }
                Command::Part
            }
            Kind::Part | Kind::Message => {
                if lists {
                    return Err(err(
                        p,
                        "<subject>, <member>, <add> and <remove> need type 'create' or 'set'",
                    ));
                }
                Command::Message
            }
            Kind::Create => {
                if !add.is_empty() || !remove.is_empty() {
                    return Err(err(p, "<add> and <remove> are not allowed in a create"));
                }
                Command::Create { subject, members }
            }
            Kind::Set => Command::Set {
                subject,
                add,
                remove,
                members,
            },
        };
        Ok(Group { id, owner, command })
    }

    pub(crate) fn encode(&self, out: &mut String, profile: Profile) {
        match profile {
            Profile::Seed => self.encode_seed(out),
            Profile::Android => self.encode_android(out),
        }
    }

    /// The seed page's shape: a part is a `<part/>` child.
    fn encode_seed(&self, out: &mut String) {
        out.push_str("<group xmlns='");
        out.push_str(NS_GROUP);
        out.push('\'');
        write_attr(out, "id", &self.id);
        write_attr(out, "owner", self.owner.as_str());
        let (subject, add, remove, members, part): (_, &[Jid], &[Jid], &[Jid], _) =
            match &self.command {
                Command::Message => (None, &[], &[], &[], false),
                Command::Part => (None, &[], &[], &[], true),
                Command::Create { subject, members } => {
                    write_attr(out, "type", "create");
                    (subject.as_ref(), &[], &[], members, false)
                }
                Command::Set {
                    subject,
                    add,
                    remove,
                    members,
                } => {
                    write_attr(out, "type", "set");
                    (subject.as_ref(), add, remove, members, false)
                }
            };
        if subject.is_none() && add.is_empty() && remove.is_empty() && members.is_empty() && !part {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if let Some(s) = subject {
            out.push_str("<subject>");
            escape_text(out, s);
            out.push_str("</subject>");
        }
        for (name, list) in [("add", add), ("remove", remove), ("member", members)] {
            for j in list {
                out.push('<');
                out.push_str(name);
                write_attr(out, "jid", j.as_str());
                out.push_str("/>");
            }
        }
        if part {
            out.push_str("<part/>");
        }
        out.push_str("</group>");
    }

    /// Kontalk's clients' shape (client-common-java `GroupExtension.toXML`): attributes
    /// `id`, `owner`, `type` (`part` for a part); an empty subject is left out; children
    /// `<subject>`, then `<member>`, `<add>`, `<remove>`; self-closed when empty; Smack's
    /// escaping.
    fn encode_android(&self, out: &mut String) {
        out.push_str("<group xmlns='");
        out.push_str(NS_GROUP);
        out.push('\'');
        write_attr_smack(out, "id", &self.id);
        write_attr_smack(out, "owner", self.owner.as_str());
        let (kind, subject, members, add, remove): (_, _, &[Jid], &[Jid], &[Jid]) =
            match &self.command {
                Command::Message => (None, None, &[], &[], &[]),
                Command::Part => (Some("part"), None, &[], &[], &[]),
                Command::Create { subject, members } => {
                    (Some("create"), subject.as_ref(), members, &[], &[])
                }
                Command::Set {
                    subject,
                    add,
                    remove,
                    members,
                } => (Some("set"), subject.as_ref(), members, add, remove),
            };
        if let Some(kind) = kind {
            write_attr_smack(out, "type", kind);
        }
        let subject = subject.filter(|s| !s.is_empty());
        if subject.is_none() && members.is_empty() && add.is_empty() && remove.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if let Some(s) = subject {
            out.push_str("<subject>");
            escape_text_smack(out, s);
            out.push_str("</subject>");
        }
        for (name, list) in [("member", members), ("add", add), ("remove", remove)] {
            for j in list {
                out.push('<');
                out.push_str(name);
                write_attr_smack(out, "jid", j.as_str());
                out.push_str("/>");
            }
        }
        out.push_str("</group>");
    }
}
