//! `kgroup live` without a server: bad flags exit 2, an unreachable server, a CA file that
//! cannot be read and `--insecure` towards a host that is not loopback exit 1 with one
//! line. The runs through real servers are in `live/tests/e2e.rs` and `scripts/e2e`.

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
    // A CA file and --insecure together.
    cases.push(vec![
        "live",
        "--server",
        "127.0.0.1:5222",
        "--clients",
        "3",
        "--messages",
        "1",
        "--ca",
        "ca.pem",
        "--insecure",
    ]);
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

fn live_exit_1(extra: &[&str], want: &str) {
    let mut args = vec![
        "live",
        "--clients",
        "2",
        "--messages",
        "1",
        "--timeout",
        "1",
    ];
    args.extend_from_slice(extra);
    let out = kgroup(&args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("kgroup live: ") && err.contains(want),
        "{err}"
    );
}

#[test]
fn a_ca_file_that_cannot_be_read_exits_1() {
    let dir = std::env::temp_dir().join(format!("kgroup-live-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let missing = dir.join("missing.pem");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    for (file, want) in [(&missing, "TLS: reading"), (&empty, "no certificate in it")] {
        let path = file.to_string_lossy().into_owned();
        live_exit_1(&["--server", "127.0.0.1:9", "--ca", &path], want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn insecure_towards_a_host_that_is_not_loopback_exits_1() {
    // TEST-NET-2: refused before any connection is tried.
    live_exit_1(
        &["--server", "198.51.100.7:5222", "--insecure"],
        "--insecure is for a loopback server only",
    );
}
