//! XEP-0030 service discovery of the XEP-0033 multicast service (the seed's TODO: "service
//! discovery will be used for this").
//!
//! As XEP-0033 §2.1 describes: ask the server itself for `disco#info`; if it does not
//! advertise `http://jabber.org/protocol/address`, ask for its `disco#items` and each
//! item's `disco#info`. The first entity with the feature is the multicast service. Where
//! there is none, a client sends one stanza per recipient. The answer is cached per domain.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::c2s::Negotiated;
use crate::error::LiveError;
use crate::xml::Element;

pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const NS_ADDRESS: &str = kgroup::codec::NS_ADDRESS;

/// How a run reaches the group's members.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", content = "service", rename_all = "kebab-case")]
pub enum Route {
    /// One stanza per group message to this XEP-0033 service.
    Multicast(String),
    /// One stanza per recipient (no multicast service, or multicast turned off).
    PerRecipient,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Multicast(s) => write!(f, "multicast via {s}"),
            Route::PerRecipient => f.write_str("one stanza per recipient"),
        }
    }
}

fn has_address_feature(info: &Element) -> bool {
    info.attr("type") == Some("result")
        && info.child("query", NS_DISCO_INFO).is_some_and(|q| {
            q.children
                .iter()
                .any(|c| c.name == "feature" && c.attr("var") == Some(NS_ADDRESS))
        })
}

/// Finds the multicast service of `domain` over a negotiated stream; `None` when the
/// server offers none. At most `max_items` items are asked.
pub fn find_multicast(
    neg: &mut Negotiated<'_>,
    domain: &str,
    max_items: usize,
) -> Result<Option<String>, LiveError> {
    discover(|to, payload| neg.query(to, payload), domain, max_items)
}

/// The discovery walk over any request/response function (`query(to, payload)` returns
/// the `<iq/>` answer).
pub fn discover(
    mut query: impl FnMut(&str, &str) -> Result<Element, LiveError>,
    domain: &str,
    max_items: usize,
) -> Result<Option<String>, LiveError> {
    let info = format!("<query xmlns='{NS_DISCO_INFO}'/>");
    if has_address_feature(&query(domain, &info)?) {
        return Ok(Some(domain.to_owned()));
    }
    let items = query(domain, &format!("<query xmlns='{NS_DISCO_ITEMS}'/>"))?;
    let jids: Vec<String> = items
        .child("query", NS_DISCO_ITEMS)
        .map(|q| {
            q.children
                .iter()
                .filter(|c| c.name == "item")
                .filter_map(|c| c.attr("jid"))
                .map(str::to_owned)
                .take(max_items)
                .collect()
        })
        .unwrap_or_default();
    for jid in jids {
        if has_address_feature(&query(&jid, &info)?) {
            return Ok(Some(jid));
        }
    }
    Ok(None)
}

/// Discovery results per domain, shared by the clients of a run: the first client to
/// connect asks, the others reuse the answer.
#[derive(Clone, Debug, Default)]
pub struct DiscoCache {
    found: Arc<Mutex<BTreeMap<String, Option<String>>>>,
}

impl DiscoCache {
    pub fn get(&self, domain: &str) -> Option<Option<String>> {
        self.found.lock().ok()?.get(domain).cloned()
    }

    pub fn put(&self, domain: &str, service: Option<String>) {
        if let Ok(mut m) = self.found.lock() {
            m.insert(domain.to_owned(), service);
        }
    }

    /// The cached answer, or a fresh discovery on `neg`.
    pub fn resolve(
        &self,
        neg: &mut Negotiated<'_>,
        domain: &str,
    ) -> Result<Option<String>, LiveError> {
        if let Some(found) = self.get(domain) {
            return Ok(found);
        }
        let found = find_multicast(neg, domain, 64)?;
        self.put(domain, found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server described by (entity, disco#info features, disco#items).
    fn server(
        entities: &'static [(
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
        )],
    ) -> impl FnMut(&str, &str) -> Result<Element, LiveError> {
        move |to: &str, payload: &str| {
            let Some((_, features, items)) = entities.iter().find(|(e, _, _)| *e == to) else {
                return Element::parse(
                    b"<iq type='error'><error type='cancel'><item-not-found \
                      xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
                )
                .map_err(LiveError::from);
            };
            let xml = if payload.contains(NS_DISCO_INFO) {
                let f: String = features
                    .iter()
                    .map(|v| format!("<feature var='{v}'/>"))
                    .collect();
                format!("<iq type='result'><query xmlns='{NS_DISCO_INFO}'>{f}</query></iq>")
            } else {
                let i: String = items.iter().map(|j| format!("<item jid='{j}'/>")).collect();
                format!("<iq type='result'><query xmlns='{NS_DISCO_ITEMS}'>{i}</query></iq>")
            };
            Element::parse(xml.as_bytes()).map_err(LiveError::from)
        }
    }

    #[test]
    fn finds_the_service_among_the_items() {
        let s = server(&[
            (
                "example.org",
                &[NS_DISCO_INFO],
                &["pubsub.example.org", "multicast.example.org"],
            ),
            (
                "pubsub.example.org",
                &["http://jabber.org/protocol/pubsub"],
                &[],
            ),
            ("multicast.example.org", &[NS_ADDRESS], &[]),
        ]);
        assert_eq!(
            discover(s, "example.org", 64),
            Ok(Some("multicast.example.org".into()))
        );
    }

    #[test]
    fn the_server_itself_may_be_the_service() {
        let s = server(&[("example.org", &[NS_ADDRESS], &["multicast.example.org"])]);
        assert_eq!(
            discover(s, "example.org", 64),
            Ok(Some("example.org".into()))
        );
    }

    #[test]
    fn no_service_means_per_recipient() {
        let s = server(&[
            (
                "example.org",
                &[NS_DISCO_INFO],
                &["gone.example.org", "muc.example.org"],
            ),
            ("muc.example.org", &["http://jabber.org/protocol/muc"], &[]),
        ]);
        assert_eq!(discover(s, "example.org", 64), Ok(None));
    }
}
