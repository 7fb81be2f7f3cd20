//! The multicast service (XEP-0033) at wire level, as the seed's server runs it: it reads
//! the address list of a `<message/>` a client uploaded, strips it, and hands the rest to
//! every listed recipient. The simulator's `--wire`/`--encrypt` modes and the wire
//! round-trip tests both fan out through [`serve`], so they test one service.

use kgroup::codec::{DecodeError, Jid, Message};

/// What the service does with one upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The `from` the uploading session wrote (the server's word, never a signer).
    pub from: Option<Jid>,
    /// The bare JIDs of the `to`/`cc`/`bcc` addresses, in their order.
    pub recipients: Vec<Jid>,
    /// The copy every recipient gets: the stanza without its address list or `to`.
    pub copy: String,
}

/// Serves one upload. A stanza without an address list reaches nobody.
pub fn serve(upload: &[u8]) -> Result<Served, DecodeError> {
    let mut m = Message::decode(upload)?;
    let recipients = m
        .addresses
        .take()
        .map(|a| a.recipients().map(Jid::to_bare).collect())
        .unwrap_or_default();
    m.to = None;
    Ok(Served {
        from: m.from.clone(),
        recipients,
        copy: m.encode(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_read_and_stripped() {
        let up =
            "<message from='a@x/r' to='x'><addresses xmlns='http://jabber.org/protocol/address'>\
                  <address type='to' jid='b@x/phone'/><address type='cc' jid='c@x'/></addresses>\
                  <body>hi</body></message>";
        let s = serve(up.as_bytes()).expect("serves");
        let bare = |j: &str| Jid::new(j).expect("jid");
        assert_eq!(s.recipients, vec![bare("b@x"), bare("c@x")]);
        assert_eq!(s.from, Some(bare("a@x/r")));
        assert!(
            !s.copy.contains("addresses") && !s.copy.contains("to='x'"),
            "{}",
            s.copy
        );
        assert!(s.copy.contains("<body>hi</body>"), "{}", s.copy);
    }

    #[test]
    fn garbage_is_a_typed_error_and_no_list_reaches_nobody() {
        assert!(serve(b"<message").is_err());
        assert_eq!(serve(b"<message/>").expect("serves").recipients, vec![]);
    }
}
