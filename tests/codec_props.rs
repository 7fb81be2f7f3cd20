//! Property tests of the stanza codec: every typed message survives encode → decode, and
//! no input (random bytes, XML-shaped token soup, mutated seed stanzas) panics the decoder;
//! whatever it accepts re-encodes to the same value.

use std::collections::BTreeMap;

use kgroup::codec::{
    Address, AddressType, Addresses, Group, Jid, Limits, Message, MessageType, Profile, RawElement,
};
use kgroup::{Command, Ext, Roster, Span, Text};
use proptest::prelude::*;

fn seed_files() -> Vec<Vec<u8>> {
    [
        "1-create",
        "2-message",
        "3-add",
        "4-remove",
        "5-subject",
        "6-part",
    ]
    .iter()
    .map(|n| {
        std::fs::read(format!(
            "{}/tests/data/seed/{n}.xml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    })
    .collect()
}

/// Text with the characters XML makes awkward: markup, quotes, entities, CR/LF/tab,
/// leading and trailing spaces, non-ASCII.
fn text() -> impl Strategy<Value = Text> {
    "[a-zA-Z0-9 &<>'\"\t\r\n;#éü€😀\u{a0}]{0,12}".prop_map(|s| Text::from(s.as_str()))
}

fn bare() -> impl Strategy<Value = Jid> {
    (
        prop::sample::select(vec!["alice", "Bob", "charlie", "d.e-f", "émile", "x_1"]),
        prop::sample::select(vec![
            "example.org",
            "Beta.Kontalk.NET",
            "xn--bcher-kva.example",
            "127.0.0.1",
        ]),
    )
        .prop_map(|(n, d)| Jid::new(&format!("{n}@{d}")).unwrap())
}

fn any_jid() -> impl Strategy<Value = Jid> {
    (bare(), prop::option::of("[a-zA-Z0-9 /@]{1,8}")).prop_map(|(b, r)| match r {
        Some(r) => Jid::new(&format!("{b}/{r}")).unwrap(),
        None => b,
    })
}

fn address() -> impl Strategy<Value = Address> {
    (
        prop::sample::select(AddressType::ALL.to_vec()),
        0..3u8,
        any_jid(),
        text(),
        prop::option::of(text()),
        prop::option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(kind, target, jid, uri, node, desc, delivered)| {
            let mut a = Address {
                kind,
                jid: None,
                uri: None,
                node: None,
                desc,
                delivered,
            };
            match target {
                0 => {
                    a.jid = Some(jid);
                    a.node = node;
                }
                1 => a.uri = Some(uri),
                _ if kind == AddressType::NoReply => {}
                _ => a.jid = Some(jid),
            }
            a
        })
}

fn jids() -> impl Strategy<Value = Vec<Jid>> {
    prop::collection::vec(bare(), 0..4)
}

fn command() -> impl Strategy<Value = Command<Jid>> {
    prop_oneof![
        Just(Command::Message),
        Just(Command::Part),
        (prop::option::of(text()), jids())
            .prop_map(|(subject, members)| Command::Create { subject, members }),
        (prop::option::of(text()), jids(), jids(), jids()).prop_map(
            |(subject, add, remove, members)| Command::Set {
                subject,
                add,
                remove,
                members
            }
        ),
    ]
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    (
        prop::collection::vec((0..3u64, 0..3u64), 1..4),
        any::<bool>(),
    )
        .prop_map(|(steps, open)| {
            let mut at = 0u64;
            let n = steps.len();
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (gap, len))| {
                    let since = at + gap;
                    let until = if i + 1 == n && open {
                        None
                    } else {
                        Some(since + len)
                    };
                    at = until.unwrap_or(since);
                    Span { since, until }
                })
                .collect()
        })
}

fn ext() -> impl Strategy<Value = Ext<Jid>> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            prop::collection::btree_set(bare(), 0..4)
        )
            .prop_map(|(epoch, seq, to)| Ext::Stamp {
                epoch,
                seq,
                to: to.into_iter().collect(),
            }),
        any::<u64>().prop_map(|seq| Ext::Ack { seq }),
        any::<u64>().prop_map(|epoch| Ext::Resync { epoch }),
        (
            any::<u64>(),
            any::<u64>(),
            prop::option::of(text()),
            prop::collection::btree_map(bare(), spans(), 0..4)
        )
            .prop_map(
                |(epoch, seq, subject, spans): (
                    u64,
                    u64,
                    Option<Text>,
                    BTreeMap<Jid, Vec<Span>>
                )| {
                    Ext::Snapshot {
                        epoch,
                        seq,
                        prev: kgroup::Digest::ZERO,
                        subject,
                        roster: Roster {
                            spans,
                            ..Roster::default()
                        },
                    }
                }
            ),
    ]
}

/// Unknown children, made the way they arise: captured by the decoder.
fn raw() -> impl Strategy<Value = RawElement> {
    (
        prop::sample::select(vec![
            "<thread>T</thread>",
            "<request xmlns='urn:xmpp:receipts'/>",
            "<x:a xmlns:x='urn:x' x:k='v'><b>t</b><c xmlns=''/></x:a>",
            "<body xml:lang='fr'>salut</body>",
            "<group xmlns='urn:other'><member jid='not checked'/></group>",
        ]),
        text(),
    )
        .prop_map(|(tpl, t)| {
            let mut esc = String::new();
            for c in t.chars() {
                match c {
                    '&' => esc.push_str("&amp;"),
                    '<' => esc.push_str("&lt;"),
                    '\r' => esc.push_str("&#xD;"),
                    c => esc.push(c),
                }
            }
            let xml = format!(
                "<message>{}</message>",
                tpl.replacen("T", &esc, 1)
                    .replacen(">t<", &format!(">{esc}<"), 1)
            );
            Message::decode(xml.as_bytes()).unwrap().unknown.remove(0)
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        (
            prop::option::of(any_jid()),
            prop::option::of(any_jid()),
            prop::option::of(text()),
            prop::sample::select(vec![
                MessageType::Normal,
                MessageType::Chat,
                MessageType::Groupchat,
                MessageType::Headline,
                MessageType::Error,
            ]),
        ),
        prop::option::of(prop::collection::vec(address(), 0..5).prop_map(Addresses)),
        prop::option::of(
            (text(), bare(), command()).prop_map(|(id, owner, command)| Group {
                id,
                owner,
                command,
            }),
        ),
        prop::option::of(text()),
        prop::option::of(ext()),
        prop::collection::vec(raw(), 0..3),
    )
        .prop_map(
            |((from, to, id, kind), addresses, group, body, hardened, unknown)| Message {
                from,
                to,
                id,
                kind,
                addresses,
                group,
                body,
                fallback: None,
                hardened,
                unknown,
            },
        )
}

/// XML-shaped token soup: reaches deeper into the decoder than random bytes.
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "<message>",
            "</message>",
            "<message/>",
            "<body>",
            "</body>",
            "<group ",
            "xmlns='http://kontalk.org/extensions/message#group' ",
            "id='g' ",
            "owner='o@x' ",
            "type='set'",
            "type='create'",
            ">",
            "/>",
            "</group>",
            "<member jid='a@x'/>",
            "<add jid='b@x'/>",
            "<remove jid='c@x'/>",
            "<part/>",
            "<subject>",
            "</subject>",
            "<addresses xmlns='http://jabber.org/protocol/address'>",
            "</addresses>",
            "<address type='to' jid='a@x'/>",
            // Children the decoder's fast paths take, and their near misses.
            "<address type='cc' jid='A@X/r' delivered='true'/>",
            "<address type='to' jid='a@x' delivered='1' x='&amp;'/>",
            "<address type='bcc' uri='u' node='n'/>",
            "<address type='noreply'/>",
            "<address type='nope' jid='a@x'/>",
            "<address type='to' type='cc' jid='a@x'/>",
            "<address xmlns='urn:p' type='to' jid='a@x'/>",
            "<address p:type='to' jid='a@x'/>",
            "<address type='to' jid='a@@x'/>",
            "<address type='to' jid='a@x' delivered='yes'/>",
            "<address type='to' jid='a@x'></address>",
            "<member jid='a@x/r'/>",
            "<add jid='B@X' foo='1'/>",
            "<remove jid='c@x' jid='d@x'/>",
            "<remove/>",
            "<stamp xmlns='urn:kgroup:hardened:0' epoch='1' seq='2'/>",
            "<snapshot xmlns='urn:kgroup:hardened:0' epoch='1' seq='1'>",
            "</snapshot>",
            "<member jid='m@x'>",
            "</member>",
            "<span since='0'/>",
            "<span since='1' until='2'/>",
            "&amp;",
            "&#x41;",
            "&#0;",
            "&lt",
            "<![CDATA[x]]>",
            "<!-- c -->",
            "<?pi?>",
            "<!DOCTYPE m>",
            "<p:x xmlns:p='urn:p'>",
            "</p:x>",
            "<q:y>",
            "text",
            " ",
            "\n",
            "'",
            "\"",
            "=",
            "<",
            "&",
            "\u{0}",
            "\u{FFFF}",
            "é",
        ]),
        0..40,
    )
    .prop_map(|v| v.concat())
}

/// A seed stanza with a few random edits.
fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seed_files();
    (
        0..seeds.len(),
        prop::collection::vec(
            (
                0..4u8,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                any::<u8>(),
            ),
            1..6,
        ),
    )
        .prop_map(move |(i, edits)| {
            let mut b = seeds[i].clone();
            for (op, at, len, byte) in edits {
                if b.is_empty() {
                    break;
                }
                let p = at.index(b.len());
                let n = len.index(16).min(b.len() - p);
                match op {
                    0 => {
                        b.drain(p..p + n);
                    }
                    1 => b[p] = byte,
                    2 => {
                        let chunk = b[p..p + n].to_vec();
                        b.splice(p..p, chunk);
                    }
                    _ => b.insert(
                        p,
                        [b'<', b'>', b'/', b'\'', b'&', b';', b'=', b'"'][usize::from(byte % 8)],
                    ),
                }
            }
            b
        })
}

/// A stanza whose `<addresses/>`, `<group/>` and `<snapshot/>` hold children drawn from the
/// shapes the decoder's fast paths take and their near misses (prefixes, declarations,
/// repeats, bad values, unknown attributes, content, comments, text).
/// Children the decoder accepts come twice as often as the rest, so that lists often run
/// long before their first error: the fast paths take children straight from the input
/// when quick-xml is between two tags, and what follows such a child must still be read
/// where the ordinary way reads it.
fn list_children() -> impl Strategy<Value = String> {
    let child = prop::sample::select(vec![
        "<address type='to' jid='a@x'/>",
        "<address type='cc' jid='A@X/r' delivered='true'/>",
        "<address jid='b@y' type='bcc' delivered='0'/>",
        "<address type='to' jid='c@z' delivered='1'/>",
        "<address type='to' jid='c@z' delivered='false'/>",
        "<address type='ofrom' jid='o@x/r' delivered='true'/>",
        "<address type='to' jid='a@x' delivered='1' x='&amp;'/>",
        "<address type='to' jid='a@x' zz='1'/>",
        "<address type='replyto' uri='xmpp:a@x'/>",
        "<address type='bcc' uri='u' node='n'/>",
        "<address type='to' jid='a@x' desc='d'/>",
        "<address type='noreply'/>",
        "<address type='to'/>",
        "<address jid='a@x'/>",
        "<address type='nope' jid='a@x'/>",
        "<address type='to' type='cc' jid='a@x'/>",
        "<address xmlns='urn:p' type='to' jid='a@x'/>",
        "<address xmlns='http://jabber.org/protocol/address' type='to' jid='a@x'/>",
        "<address xmlns:p='urn:p' p:k='v' type='to' jid='a@x'/>",
        "<p:address xmlns:p='http://jabber.org/protocol/address' type='to' jid='a@x'/>",
        "<address type='to' jid='a@@x'/>",
        "<address type='to' jid='a@x' delivered='yes'/>",
        "<address type='to' jid='a@x'></address>",
        "<address type='to' jid='a@x'><x/></address>",
        "<address type='to' jid='a&#64;x'/>",
        "<address type='to' jid='a@x/r<'/>",
        "<address type='to' jid='a@x/r&amp;'/>",
        "<address type='to' jid='a@x/r\t'/>",
        "<address type='to' jid='a@x/\u{1}'/>",
        "<address type='to' jid='a@x/r\u{FFFE}'/>",
        "<address type='to' jid='a@x/r' '/>",
        "<address type='to' jid='a@x'x'/>",
        "<address type=\"to\" jid=\"a@x\" />",
        "<address  type = 'to'\n jid='a@x'/>",
        "<address type='to'jid='a@x'/>",
        "<address type='to' jid='a@x' a='1' b='2' c='3'/>",
        "<address type='to' jid='a@x'/ >",
        "<address type='to' jid='a@x>'/>",
        "<address type='to' jid='a@x' desc='a/>b'/>",
        "<address/>",
        "<address />",
        "<address type='to' jid='a@x' ></address>",
        "<member jid='m@x' ></member>",
        "<addressx type='to' jid='a@x'/>",
        "<address:x type='to' jid='a@x'/>",
        "<1address type='to' jid='a@x'/>",
        "<address type='to' jid='a@x'/><",
        "<member jid='m@x'/>",
        "<member jid='M@X'/>",
        "<member jid='m@x/r'/>",
        "<member jid='m@x' k='v'/>",
        "<member/>",
        "<member jid='m@x' jid='n@x'/>",
        "<member jid='m@x'></member>",
        "<add jid='b@x'/>",
        "<add jid='b@x' foo='&lt;'/>",
        "<remove jid='c@x'/>",
        "<remove jid='c@x' jid='d@x'/>",
        "<remove xmlns='urn:p' jid='c@x'/>",
        "<subject>s</subject>",
        "<part/>",
        "<unknown a='1'/>",
        "<!-- c -->",
        " ",
        "\n",
        "text",
    ]);
    let member = prop::sample::select(vec![
        "<member jid='a@x'><span since='1'/></member>",
        "<member jid='b@x'><span since='1' until='2'/><span since='3'/></member>",
        "<member jid='c@x'><span since='3'/><span since='1'/></member>",
        "<member jid='d@x'><span since='5' until='2'/></member>",
        "<member jid='e@x'><span until='2'/></member>",
        "<member jid='f@x'><span since='x'/></member>",
        "<member jid='f@x'><span since='99999999999999999999'/></member>",
        "<member jid='g@x'></member>",
        "<member jid='g@x'/>",
        "<member jid='H@X'><span since='1'/></member>",
        "<member jid='h@x/r'><span since='1'/></member>",
        "<member><span since='1'/></member>",
        "<member jid='a@x'><span since='1'></span></member>",
        "<member jid='a@x'><span since='1'><x/></span></member>",
        "<member jid='a@x'><span since='1' since='2'/></member>",
        "<member jid='a@x' x='1'><span since='01' k='&amp;'/><!-- c --> </member>",
        "<member jid='i@x'><span since='1' k='v'/>\n</member>",
        "<member jid='i@x'>text<span since='1'/></member>",
        "<member jid='j@x'><other/><span since='1'/></member>",
        "<member xmlns='urn:p' jid='k@x'><span since='1'/></member>",
        "<member jid='l@x'><span xmlns='urn:p' since='1'/><span since='2'/></member>",
        "<member jid='m@x'><span since='1' until='1'/><span since='2' until='3'/></member>",
        "<member jid='n@x'><span since='1' until='2'/ ><span since='3'/></member>",
        "<member jid='n@x'><span since='1' until='2'/></member >",
        "<member jid='n@x'><span since='1' until='2'/></memberx>",
        "<member jid='n@x'><span since='1'/></membex>",
        "<member jid='n@x'><span since='1'/></member\n>",
        "<member jid='n@x'><span since='1'/><span/></member>",
        "<member jid='d@x'>\n <span since='5' until='2'/></member>",
        "<member jid='d@x'>\n <span since='1'/> <span since='2'/></member>",
        "<subject>s</subject>",
        " ",
    ]);
    // Accepted children, in the shapes a skim must get right: whitespace before and
    // inside the tag, `>` and `/>` inside values, non-ASCII values.
    let good_child = prop::sample::select(vec![
        "<address type='to' jid='a@x'/>",
        "<address type='to' jid='b@x' />",
        "\n  <address type='to' jid='c@x'/>",
        "\r\n\t<address\ttype='to'\njid='d@x'/>",
        "<address type='to' jid='e@x' desc='a>b'/>",
        "<address type='to' jid='f@x' desc=\"x'/>\"/>",
        "<address type='cc' jid='A@X/r' delivered='true'/>",
        "<address type='to' jid='é@x'/>",
        "<member jid='m@x'/>",
        "<member jid='n@x' />",
        "<member jid='é@x'/>",
        "<add jid='b@x'/>",
        "<remove jid='c@x'/>",
        " ",
        "\r\n",
        "<!-- c -->",
    ]);
    let good_member = prop::sample::select(vec![
        "<member jid='a@x'><span since='1'/></member>",
        "<member jid='q@x'>\n <span since='1' until='2'/>\n <span since='3' />\n</member>",
        "<member jid='r@x'><span\tsince='4'/></member>",
        "<member jid='s@x' ><span since='1'/></member >",
        "<member jid='t@x'><span since='1' until='2'/><span since='3' until='4'/><span since='5'/></member>",
    ]);
    let child = prop_oneof![2 => good_child, 1 => child];
    let member = prop_oneof![2 => good_member, 1 => member];
    (
        prop::collection::vec(child.clone(), 0..8),
        prop::collection::vec(child, 0..8),
        prop::collection::vec(member, 0..6),
        prop::bool::ANY,
    )
        .prop_map(|(a, g, m, create)| {
            format!(
                "<message from='o@x/r' to='s.x' type='groupchat'>\
                 <addresses xmlns='http://jabber.org/protocol/address'>{}</addresses>\
                 <group xmlns='http://kontalk.org/extensions/message#group' id='g' owner='o@x' type='{}'>{}</group>\
                 <snapshot xmlns='urn:kgroup:hardened:0' epoch='1' seq='2'>{}</snapshot>\
                 </message>",
                a.concat(),
                if create { "create" } else { "set" },
                g.concat(),
                m.concat()
            )
        })
}

/// The decoder's contract on any input: no panic, the fast paths agree with the ordinary
/// way (the same value, or the same error at the same offset), and an accepted input
/// re-encodes to a stanza that decodes to the same value.
fn check_any(input: &[u8]) -> Result<(), TestCaseError> {
    // The same bytes as an encrypted stanza's inside, bare and wrapped in CPIM.
    let _ = Message::decode_payload(input);
    let mut wrapped =
        b"Content-type: Message/CPIM\n\nTo: a; b\n\nContent-type: application/xmpp+xml\n\n"
            .to_vec();
    wrapped.extend_from_slice(input);
    let _ = Message::decode_payload(&wrapped);
    let decoded = Message::decode(input);
    prop_assert_eq!(
        &decoded,
        &Message::decode_reference(input, Limits::default()),
        "{}",
        String::from_utf8_lossy(input)
    );
    if let Ok(m) = decoded {
        let xml = m.encode();
        let again = Message::decode(xml.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("re-decode failed: {e}\n{xml}")))?;
        prop_assert_eq!(again, m);
    }
    // Tight limits take other paths through the same code.
    let tight = Limits {
        max_bytes: 400,
        max_depth: 3,
        max_items: 2,
    };
    prop_assert_eq!(
        Message::decode_with(input, tight),
        Message::decode_reference(input, tight),
        "{}",
        String::from_utf8_lossy(input)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn typed_messages_round_trip(m in message()) {
        let xml = m.encode();
        let back = Message::decode(xml.as_bytes());
        prop_assert_eq!(back.as_ref(), Ok(&m), "{}", xml);
        // And through JSON, which the CLI speaks.
        let json = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
    }

    /// What the Android profile writes is canonical: decoded and written again, the same
    /// bytes, for the stanza and for the encrypted inside.
    #[test]
    fn the_android_shape_is_canonical(m in message()) {
        let xml = m.encode_with(Profile::Android);
        let back = Message::decode(xml.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(back.encode_with(Profile::Android), xml);
        let inside = m.encode_payload_with(Profile::Android);
        let back = Message::decode_payload(inside.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{inside}")))?;
        prop_assert_eq!(back.encode_payload_with(Profile::Android), inside);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
        check_any(&b)?;
    }

    #[test]
    fn xml_token_soup_never_panics(s in soup()) {
        check_any(s.as_bytes())?;
    }

    #[test]
    fn mutated_seed_stanzas_never_panic(b in mutated_seed()) {
        check_any(&b)?;
    }
}

proptest! {
    // Cheap cases (a stanza of a few hundred bytes each), and the fast paths have many
    // ways in: more of them.
    #![proptest_config(ProptestConfig::with_cases(8192))]

    #[test]
    fn fast_paths_agree_with_the_ordinary_way(s in list_children()) {
        check_any(s.as_bytes())?;
    }
}
