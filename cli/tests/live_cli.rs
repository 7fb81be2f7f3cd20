//! `kgroup live` without a server: bad flags exit 2, an unreachable server exits 1 with one
//! line. The runs through a real server are in `live/tests/e2e.rs` and `scripts/e2e`.

mod common;

use common::kgroup;
use std::net::TcpListener;

#[test]
fn bad_flags_exit_2() {
    let server = ["live", "--server", "127.0.0.1:5222"];
    // Out of range client and message counts, and an unknown dialect, with a server.
    let bad: [&[&str]; 4] = [
        &["--clients", "1", "--messages", "1"],
        &["--clients", "65", "--messages", "1"],
        &["--clients", "3", "--messages", "0"],
        &["--clients", "3", "--messages", "1", "--dialect", "x"],
    ];
    let mut cases: Vec<Vec<&str>> = bad
        .iter()
        .map(|rest| [&server[..], rest].concat())
        .collect();
    // No server at all.
    cases.push(vec!["live", "--clients", "3", "--messages", "1"]);
    for args in &cases {
        let out = kgroup(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}

#[test]
fn unreachable_or_silent_servers_exit_1_with_one_line() {
    // A port nobody listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let server = format!("127.0.0.1:{port}");
    // A listener that accepts and never speaks XMPP: the handshake times out.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let silent_addr = silent.local_addr().expect("its address").to_string();
    for (addr, want) in [
        (server.as_str(), "I/O error"),
        (silent_addr.as_str(), "timed out"),
    ] {
        let out = kgroup(&[
            "live",
            "--server",
            addr,
            "--clients",
            "2",
            "--messages",
            "1",
            "--timeout",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("kgroup live: ") && err.contains(want),
            "{err}"
        );
    }
    drop(silent);
}
