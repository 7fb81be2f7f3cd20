//! The stanzas Kontalk's real clients emit (`corpus/kontalk/`, each written from the
//! clients' source, cited in that directory's README) all decode; the Android client's
//! come back byte for byte when written in the `android` profile.

use std::path::{Path, PathBuf};

use kgroup::codec::cpim::{Cpim, XMPP_XML};
use kgroup::codec::{Jid, Message, MessageType, Profile, Text};
use kgroup::{wire, Command};

const A: &str = "998a759ea7ee2c7a3dbc72fe14f8d50254aaedda@kontalk.net";
const B: &str = "b785255a2734caa669748bc56da9c0eccc323f3d@kontalk.net";
const C: &str = "75bf5e92c30790b00cb326e635a9d50fc3e3beae@kontalk.net";
const D: &str = "3215fea745c513f109b9cd5c1bc5fde82c4bd0a1@kontalk.net";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/kontalk")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A stanza (`.xml`) or an encrypted stanza's inside (`.xmpp`, `.cpim`), decoded.
fn decode(name: &str, bytes: &[u8]) -> (Option<Cpim>, Message) {
    let decoded = if name.ends_with(".xml") {
        Message::decode(bytes).map(|m| (None, m))
    } else {
        Message::decode_payload_with_headers(bytes)
    };
    decoded.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn jids(list: &[&str]) -> Vec<Jid> {
    list.iter().map(|j| j.parse().expect("a JID")).collect()
}

fn command(name: &str) -> Command<Jid> {
    let (_, m) = decode(name, &read(name));
    m.group
        .unwrap_or_else(|| panic!("{name}: no group"))
        .command
}

#[test]
fn every_stanza_the_real_clients_emit_decodes() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("the corpus")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".xml") || n.ends_with(".xmpp") || n.ends_with(".cpim"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        let (_, m) = decode(name, &read(name));
        // Every one is a group stanza, or the envelope around one.
        let e2e = m.unknown.iter().any(|u| u.name() == "e2e");
        assert!(m.group.is_some() || e2e, "{name}: {m:?}");
    }
}

#[test]
fn the_android_commands_decode_to_the_core_commands() {
    let subject = Some(Text::from("Trip"));
    assert_eq!(
        command("android-create.xmpp"),
        Command::Create {
            subject: subject.clone(),
            members: jids(&[B, C])
        }
    );
    assert_eq!(
        command("android-set-add.xmpp"),
        Command::Set {
            subject: subject.clone(),
            add: jids(&[D]),
            remove: vec![],
            members: jids(&[B, C])
        }
    );
    // The Android client lists the removed member among the members too.
    assert_eq!(
        command("android-set-remove.xmpp"),
        Command::Set {
            subject,
            add: vec![],
            remove: jids(&[C]),
            members: jids(&[B, C, D])
        }
    );
    assert_eq!(
        command("android-subject.xmpp"),
        Command::Set {
            subject: Some(Text::from("Trip 2021")),
            add: vec![],
            remove: vec![],
            members: vec![]
        }
    );
    assert_eq!(command("android-part.xmpp"), Command::Part);
    assert_eq!(command("desktop-part.xmpp"), Command::Part);
    assert_eq!(command("android-message.xmpp"), Command::Message);
    // The desktop client writes the add before the members, and the body before the group.
    assert_eq!(
        command("desktop-set-add.xmpp"),
        Command::Set {
            subject: None,
            add: jids(&[D]),
            remove: vec![],
            members: jids(&[C, B])
        }
    );
    let (_, m) = decode("desktop-message.xmpp", &read("desktop-message.xmpp"));
    assert_eq!(m.body.as_deref(), Some("Hello group"));
}

#[test]
fn a_commands_fallback_body_is_not_a_message() {
    for name in ["android-create.xmpp", "android-part.xmpp"] {
        let (_, m) = decode(name, &read(name));
        assert_eq!(m.body, None, "{name}");
        assert!(m
            .fallback
            .as_deref()
            .is_some_and(|f| f.starts_with("This is a group chat")));
        let (_, stanza) = m.to_core().expect("a group stanza");
        assert_eq!(stanza.body, None, "{name}");
    }
    let (_, m) = decode("android-message.xmpp", &read("android-message.xmpp"));
    assert_eq!(m.body.as_deref(), Some("Hello group"));
    assert_eq!(m.fallback, None);
}

#[test]
fn the_android_shapes_come_back_byte_for_byte() {
    for name in [
        "android-create.xmpp",
        "android-set-add.xmpp",
        "android-set-remove.xmpp",
        "android-subject.xmpp",
        "android-part.xmpp",
        "android-message.xmpp",
    ] {
        let bytes = read(name);
        let (_, m) = decode(name, &bytes);
        assert_eq!(m.kind, MessageType::Chat, "{name}");
        assert_eq!(
            m.encode_payload_with(Profile::Android).as_bytes(),
            &bytes[..],
            "{name}"
        );
    }
    for name in [
        "android-outer.xml",
        "android-chatstate.xml",
        "android-cleartext-create.xml",
    ] {
        let bytes = read(name);
        let (_, m) = decode(name, &bytes);
        assert_eq!(
            m.encode_with(Profile::Android).as_bytes(),
            &bytes[..],
            "{name}"
        );
    }
    let bytes = read("android-message.cpim");
    let (headers, m) = decode("android-message.cpim", &bytes);
    let headers = headers.expect("CPIM headers");
    assert_eq!(headers.from, Some(Text::from(format!("Alice <{A}>"))));
    assert_eq!(headers.to.len(), 3);
    assert_eq!(&*headers.content_type, XMPP_XML);
    let again = Cpim {
        body: m.encode_payload_with(Profile::Android).into_bytes(),
        ..headers
    };
    assert_eq!(again.write(), bytes);
}

#[test]
fn the_wire_reads_the_envelope_beside_the_placeholder_and_refuses_clear_group_content() {
    for name in [
        "android-outer.xml",
        "android-outer-delivered.xml",
        "desktop-outer.xml",
    ] {
        let sealed = wire::envelope_of(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!sealed.is_empty(), "{name}");
    }
    // A chat state (and a command with encryption off) carries the group in clear.
    for name in ["android-chatstate.xml", "android-cleartext-create.xml"] {
        assert_eq!(
            wire::envelope_of(&read(name)),
            Err(wire::WireError::Cleartext),
            "{name}"
        );
    }
}
