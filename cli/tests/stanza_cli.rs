//! `kgroup stanza decode|encode` as a user runs it: XML in, JSON out and back, exit codes.

mod common;

use common::kgroup_with_stdin as kgroup;

fn seed(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tests/data/seed/{name}.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn decode_prints_json_and_encode_gives_the_stanza_back() {
    for name in [
        "1-create",
        "2-message",
        "3-add",
        "4-remove",
        "5-subject",
        "6-part",
    ] {
        let dec = kgroup(&["stanza", "decode"], &seed(name));
        assert!(dec.status.success(), "{name}: {dec:?}");
        let json: serde_json::Value = serde_json::from_slice(&dec.stdout).unwrap();
        assert_eq!(json["group"]["id"], "GROUP-ID", "{name}");
        assert_eq!(json["from"], "david@beta.kontalk.net/home", "{name}");
        let enc = kgroup(&["stanza", "encode"], &dec.stdout);
        assert!(enc.status.success(), "{name}: {enc:?}");
        let xml = String::from_utf8(enc.stdout).unwrap();
        assert!(xml.starts_with("<message type='chat'"), "{xml}");
        // Decoding the encoded stanza gives the same JSON.
        let again = kgroup(&["stanza", "decode"], xml.as_bytes());
        assert_eq!(again.stdout, dec.stdout, "{name}");
    }
}

#[test]
fn decode_core_prints_recipients_and_the_core_stanza() {
    let out = kgroup(&["stanza", "decode", "--core"], &seed("3-add"));
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["recipients"].as_array().unwrap().len(), 3);
    assert_eq!(json["stanza"]["command"]["type"], "set");
    assert_eq!(
        json["stanza"]["command"]["add"][0],
        "charlie@beta.kontalk.net"
    );
}

fn kontalk(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../corpus/kontalk/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// What the Android client emits: the CPIM-wrapped inside and the outer stanza decode,
/// and `encode --profile android` writes the client's bytes again.
#[test]
fn decode_reads_what_the_android_client_sends_and_encode_writes_it_back() {
    let dec = kgroup(&["stanza", "decode"], &kontalk("android-message.cpim"));
    assert!(dec.status.success(), "{dec:?}");
    let json: serde_json::Value = serde_json::from_slice(&dec.stdout).unwrap();
    assert_eq!(
        json["cpim"]["to"].as_array().map(Vec::len),
        Some(3),
        "{json}"
    );
    assert_eq!(json["cpim"]["content_type"], "application/xmpp+xml");
    assert_eq!(json["message"]["body"], "Hello group");
    assert_eq!(json["message"]["group"]["id"], "Qm3xT9aLk2PzR7vB1cYw");

    let dec = kgroup(
        &["stanza", "decode", "--core"],
        &kontalk("android-part.xmpp"),
    );
    assert!(dec.status.success(), "{dec:?}");
    let json: serde_json::Value = serde_json::from_slice(&dec.stdout).unwrap();
    assert_eq!(json["stanza"]["command"]["type"], "part", "{json}");

    let outer = kontalk("android-outer.xml");
    let dec = kgroup(&["stanza", "decode"], &outer);
    assert!(dec.status.success(), "{dec:?}");
    let json: serde_json::Value = serde_json::from_slice(&dec.stdout).unwrap();
    assert_eq!(json["body"], "(encrypted)");
    assert_eq!(json["to"], "multicast@kontalk.net");
    let enc = kgroup(&["stanza", "encode", "--profile", "android"], &dec.stdout);
    assert!(enc.status.success(), "{enc:?}");
    assert_eq!(enc.stdout.trim_ascii_end(), &outer[..]);
}

/// A decoding error says where by line and column as well as by byte.
#[test]
fn decode_errors_name_the_line_and_column() {
    let out = kgroup(
        &["stanza", "decode"],
        b"<message>\n  <body>ok</body>\n  <body>&bogus;</body>\n</message>",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("kgroup stanza: at line 3, column 3 (byte 30): "),
        "{err}"
    );
}

#[test]
fn bad_input_exits_1_with_one_line() {
    for (args, input) in [
        (
            &["stanza", "decode"][..],
            &b"<message><body>&bogus;</body></message>"[..],
        ),
        (&["stanza", "decode"][..], &b"<!DOCTYPE x><message/>"[..]),
        (&["stanza", "decode", "--core"][..], &b"<message/>"[..]),
        (&["stanza", "encode"][..], &b"{\"from\": \"a@b@c\"}"[..]),
        (&["stanza", "encode"][..], &b"not json"[..]),
        (
            &["stanza", "encode"][..],
            &br#"{"addresses":[{"type":"to","jid":"a@x.org","uri":"xmpp:a@x.org"}]}"#[..],
        ),
        (
            &["stanza", "encode"][..],
            &br#"{"group":{"id":"g","owner":"o@x.org","command":{"type":"create","subject":null,"members":["m@x.org/phone"]}}}"#[..],
        ),
        // Misspelt fields are refused, not dropped (they printed `<message></message>`).
        (
            &["stanza", "encode"][..],
            &br#"{"adresses":[{"type":"to","jid":"a@b"}],"bdy":"hello"}"#[..],
        ),
        (
            &["stanza", "encode"][..],
            &br#"{"group":{"id":"g","owner":"o@x.org","command":{"type":"set","add":[],"remove":[],"members":[],"subjct":"x"}}}"#[..],
        ),
        (
            &["stanza", "encode"][..],
            &br#"{"unknown":[{"ns":"urn:x","name":"y","xml":"<z xmlns='urn:x'/>"}]}"#[..],
        ),
    ] {
        let out = kgroup(args, input);
        assert_eq!(out.status.code(), Some(1), "{args:?} {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("kgroup stanza: "), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(kgroup(&["stanza"], b"").status.code(), Some(2));
    assert_eq!(kgroup(&["stanza", "frob"], b"").status.code(), Some(2));
    assert_eq!(
        kgroup(&["stanza", "decode", "--nope"], b"").status.code(),
        Some(2)
    );
}

/// Files, several at once, and a stream of stanzas as an XMPP console log shows them:
/// every `<message/>` is decoded (other stanzas and log text skipped), a bad one is named
/// with its file, line, column and the input around it, and the rest are still read.
#[test]
fn decode_reads_files_and_streams_of_stanzas() {
    let dir = std::env::temp_dir().join(format!("kgroup-stanza-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.xml");
    let b = dir.join("b.xml");
    std::fs::write(&a, seed("3-add")).unwrap();
    std::fs::write(&b, seed("4-remove")).unwrap();
    let out = kgroup(
        &["stanza", "decode", a.to_str().unwrap(), b.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    let log = dir.join("console.log");
    let mut text = b"SENT: <stream:stream to='example.com'>\n<presence/>\nRECV: ".to_vec();
    text.extend(seed("3-add"));
    text.extend(b"\n<iq type='result' id='1'/>\nRECV: <message to='a@b'><body>x</bdy></message>\n");
    text.extend(seed("4-remove"));
    std::fs::write(&log, &text).unwrap();
    let out = kgroup(
        &["stanza", "decode", "--stream", log.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "one stanza was bad: {out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "the good stanzas around the bad one");
    assert_eq!(lines[0]["group"]["command"]["type"], "set");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("console.log: at line "), "{err}");
    assert!(
        err.contains("expected `</body>`, but `</bdy>` was found; near \"RECV: <message to='a@b'><body>x</bdy></message>\""),
        "the whole diagnosis and its context: {err}"
    );
    assert!(err.contains("2 decoded, 1 refused"), "{err}");

    let out = kgroup(
        &["stanza", "decode", "--stream"],
        b"<presence/> nothing here",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no <message/> stanza"));
    let out = kgroup(&["stanza", "decode", "/nonexistent/x.xml"], b"");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
