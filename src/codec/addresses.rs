//! XEP-0033 Extended Stanza Addressing: `<addresses xmlns='http://jabber.org/protocol/address'>`.
//!
//! The only part of a group stanza that stays in cleartext: the multicast service reads it
//! to fan the message out. Every address type of the XEP is typed; an unknown type is an
//! error, as the XEP requires (a service must answer `<bad-request/>`). The XEP's rules are
//! checked: `jid` and `uri` exclude each other, `node` needs a `jid`, every type but
//! `noreply` names a `jid` or a `uri`, `delivered` may only say `true`.

use serde::{Deserialize, Serialize};

use super::error::{DecodeError, ErrorKind};
use super::jid::Jid;
use super::xml::{write_attr, Cursor, FastTag, Ns, Tag};
use super::{Text, NS_ADDRESS};

/// The `type` of an `<address/>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressType {
    To,
    Cc,
    Bcc,
    ReplyTo,
    ReplyRoom,
    NoReply,
    OFrom,
}

impl AddressType {
    pub const ALL: [AddressType; 7] = [
        AddressType::To,
        AddressType::Cc,
        AddressType::Bcc,
        AddressType::ReplyTo,
        AddressType::ReplyRoom,
        AddressType::NoReply,
        AddressType::OFrom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::To => "to",
            AddressType::Cc => "cc",
            AddressType::Bcc => "bcc",
            AddressType::ReplyTo => "replyto",
            AddressType::ReplyRoom => "replyroom",
            AddressType::NoReply => "noreply",
            AddressType::OFrom => "ofrom",
        }
    }

    fn parse(s: &str) -> Option<AddressType> {
        AddressType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Addresses the service delivers to (the others describe replies and origins).
    pub fn is_recipient(self) -> bool {
        matches!(self, AddressType::To | AddressType::Cc | AddressType::Bcc)
    }
}

/// One `<address/>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(rename = "type")]
    pub kind: AddressType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jid: Option<Jid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<Text>,
    /// `delivered='true'`: the service has already delivered to this address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delivered: bool,
}

impl Address {
    /// A plain `<address type='to' jid='…'/>`.
    pub fn to(jid: Jid) -> Address {
        Address {
            kind: AddressType::To,
            jid: Some(jid),
            uri: None,
            node: None,
            desc: None,
            delivered: false,
        }
    }

    /// The XEP's consistency rules; `Err(reason)` if one is broken.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.jid.is_some() && self.uri.is_some() {
            return Err("an address may not have both `jid` and `uri`");
        }
        if self.node.is_some() && self.jid.is_none() {
            return Err("`node` is only allowed with `jid`");
        }
        if self.kind != AddressType::NoReply && self.jid.is_none() && self.uri.is_none() {
            return Err("an address needs a `jid` or a `uri`");
        }
        Ok(())
    }
}

/// The `<addresses/>` element: the list in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Addresses(pub Vec<Address>);

impl Addresses {
    /// The JIDs the multicast service delivers to (`to`, `cc`, `bcc`), in order.
    pub fn recipients(&self) -> impl Iterator<Item = &Jid> {
        self.0
            .iter()
            .filter(|a| a.kind.is_recipient())
            .filter_map(|a| a.jid.as_ref())
    }

    /// Parses the element whose start tag is `tag` (namespace already checked).
    pub(crate) fn decode<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Self, DecodeError> {
        let mut list = Vec::new();
        cur.children_fast(
            tag.empty,
            "addresses",
            Ns::Address,
            &mut list,
            |cur, list, b| {
                Ok(b.empty
                    && b.local == "address"
                    && cur.has_room(list.len())
                    && plain_address(b).map(|a| list.push(a)).is_some())
            },
            |cur, list, t| {
                if t.ns == Ns::Address && t.local() == "address" {
                    cur.room(list.len(), t.pos, "addresses")?;
                    list.push(decode_address(cur, &t)?);
                }
                // XEP-0033 defines no children of <address/>, and unknown children of a
                // known element are ignored.
                cur.skip(&t)
            },
        )?;
        Ok(Addresses(list))
    }

    pub(crate) fn encode(&self, out: &mut String) {
        out.push_str("<addresses xmlns='");
        out.push_str(NS_ADDRESS);
        out.push_str("'>");
        for a in &self.0 {
            out.push_str("<address");
            write_attr(out, "type", a.kind.as_str());
            if let Some(j) = &a.jid {
                write_attr(out, "jid", j.as_str());
            }
            if let Some(u) = &a.uri {
                write_attr(out, "uri", u);
            }
            if let Some(n) = &a.node {
                write_attr(out, "node", n);
            }
            if let Some(d) = &a.desc {
                write_attr(out, "desc", d);
            }
            if a.delivered {
                write_attr(out, "delivered", "true");
            }
            out.push_str("/>");
        }
        out.push_str("</addresses>");
    }
}

fn bad(tag: &Tag<'_>, attribute: &'static str, value: &str, reason: impl ToString) -> DecodeError {
    DecodeError::new(
        tag.pos,
        ErrorKind::BadAttribute {
            element: "address",
            attribute,
            value: value.to_owned(),
            reason: reason.to_string(),
        },
    )
}

/// The common `<address/>` ([`Cursor::children_fast`]): `type`, `jid` and `delivered` at
/// most, valid. `None` sends it the ordinary way ([`decode_address`]), which takes the
/// rest and words the errors; the two agree on everything this takes.
fn plain_address(b: &mut FastTag<'_>) -> Option<Address> {
    // What our encoder and Kontalk's clients write, nearly every time.
    if let Some((j, _)) = b.only_jid(" type='to' jid='") {
        return Some(Address::to(j));
    }
    let (mut kind, mut jid, mut delivered) = (None, None, false);
    for &(k, v) in b.attrs()? {
        match k {
            "type" => kind = Some(AddressType::parse(v)?),
            "jid" => jid = Some(Jid::new(v).ok()?),
            "delivered" => {
                delivered = match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return None,
                }
            }
            "uri" | "node" | "desc" => return None,
            _ => {}
        }
    }
    let a = Address {
        kind: kind?,
        jid,
        uri: None,
        node: None,
        desc: None,
        delivered,
    };
    a.check().ok().map(|()| a)
}

fn decode_address<'i>(cur: &mut Cursor<'i>, tag: &Tag<'i>) -> Result<Address, DecodeError> {
    let mut kind = None;
    let mut a = Address {
        kind: AddressType::To,
        jid: None,
        uri: None,
        node: None,
        desc: None,
        delivered: false,
    };
    tag.attrs(|k, v| {
        match k {
            "type" => {
                kind = Some(
                    AddressType::parse(&v)
                        .ok_or_else(|| bad(tag, "type", &v, "not an XEP-0033 address type"))?,
                )
            }
            "jid" => a.jid = Some(cur.jid(&v).map_err(|e| bad(tag, "jid", &v, e))?),
            "uri" => a.uri = Some(v.as_ref().into()),
            "node" => a.node = Some(v.as_ref().into()),
            "desc" => a.desc = Some(v.as_ref().into()),
            "delivered" => {
                a.delivered = match v.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad(tag, "delivered", &v, "not a boolean")),
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    a.kind = kind.ok_or(DecodeError::new(
        tag.pos,
        ErrorKind::MissingAttribute {
            element: "address",
            attribute: "type",
        },
    ))?;
    a.check().map_err(|reason| {
        DecodeError::new(
            tag.pos,
            ErrorKind::Invalid {
                element: "address",
                reason,
            },
        )
    })?;
    Ok(a)
}
