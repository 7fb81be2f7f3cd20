//! Counterexamples a reviewer can read: who did what to whom (adversary steps marked),
//! every rejection with its reason, the views each step changed, the violated fact in
//! words, a legend from the numbers of `--script` to the names, only the fields the
//! dialect has; `--json` steps as objects; the Explorer with the same names.

mod common;

use std::io::{Read, Write};

use common::kgroup;

fn stdout(args: &[&str]) -> String {
    let out = kgroup(args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The case: the whole kontalk bug is bob dropping a set as unknown-group; the
/// trace shows it, with the reason, and no epochs (kontalk has none).
#[test]
fn the_rejection_that_is_the_bug_is_shown_with_its_reason() {
    let text = stdout(&common::join(&[
        &["check"],
        &common::KONTALK_SUBJECT,
        &["--quiet"],
    ]));
    assert!(
        text.contains("clients: 0 david (the owner), 1 alice, 2 bob"),
        "{text}"
    );
    assert!(
        text.contains("✗ bob rejects david's stanza: unknown-group (a message, part or set for a group this client does not know)"),
        "{text}"
    );
    assert!(
        text.contains("→ alice: [david,alice,bob] \"s1\""),
        "changed views: {text}"
    );
    assert!(
        !text.contains(" e0") && !text.contains(" e1"),
        "kontalk has no epochs: {text}"
    );
    assert!(
        text.contains(
            "VIOLATION: alice holds a state of g at epoch 0 that another client holds differently"
        ) || text.contains("VIOLATION: group g: members alice and bob hold different views"),
        "{text}"
    );
    assert!(!text.contains("violated by the last step"), "{text}");
}

#[test]
fn adversary_steps_are_marked_and_violations_are_in_words() {
    let text = stdout(&["check", "--dialect", "kontalk", "--adversary", "--quiet"]);
    assert!(text.contains("mallory: the adversary"), "legend: {text}");
    assert!(
        text.contains("mallory forges 'add mallory' from david, to alice  [adversary]")
            || text.contains("[adversary]"),
        "{text}"
    );
    assert!(
        text.contains(
            "VIOLATION: alice's view of g lost member charlie, whom the owner never removed"
        ),
        "{text}"
    );
    assert!(
        text.contains("VIOLATION: alice refused the real owner's stanza of g"),
        "{text}"
    );
    // The hardened dialect's traces show epochs.
    let text = stdout(&[
        "check",
        "--insider",
        "--hardened-rules",
        "v1",
        "--script",
        "create:1,2;remove:1;add:3",
        "--senders",
        "2",
        "--network",
        "ordered",
        "--quiet",
    ]);
    assert!(text.contains("(turns insider once removed)"), "{text}");
    assert!(text.contains(" e1"), "{text}");
    assert!(
        text.contains("VIOLATION: bob holds more than its bounds: 2 stanzas of alice in limbo"),
        "{text}"
    );
}

#[test]
fn json_steps_are_objects() {
    let out = kgroup(&common::join(&[
        &["check"],
        &common::KONTALK_SUBJECT,
        &["--json", "--quiet"],
    ]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conv = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "convergence")
        .unwrap();
    let steps = conv["counterexample"].as_array().unwrap();
    let reject = steps
        .iter()
        .find(|s| s["rejections"].is_array())
        .expect("a step with a rejection");
    assert_eq!(reject["actor"], "network");
    assert_eq!(reject["kind"], "deliver");
    assert_eq!(reject["from"], "david");
    assert_eq!(reject["to"][0], "bob");
    assert_eq!(reject["stanza"], "set subject \"s1\"");
    assert_eq!(reject["adversary"], false);
    assert!(reject["views"].as_array().unwrap().len() == 3);
    assert_eq!(steps[0]["kind"], "command");
    assert_eq!(steps[0]["actor"], "david");
    assert_eq!(steps.last().unwrap()["kind"], "violation");
}

/// stateright's Explorer names actions and steps as the traces do.
#[test]
fn the_explorer_uses_the_traces_names() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(["check", "--serve", &addr])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            continue;
        };
        write!(s, "GET /.states/0 HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        body.clear();
        let _ = s.read_to_string(&mut body);
        if body.contains("action") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        body.contains("david creates the group with alice,bob"),
        "{body}"
    );
    assert!(body.contains("david: [david,alice,bob] e1"), "{body}");
    // The action's name, not its Debug form (the state's own field stays stateright's).
    assert!(body.contains("\"action\":\"david creates"), "{body}");
    assert!(!body.contains("\"action\":\"Owner("), "{body}");
}
