//! `kgroup fanout` as a user runs it: a small real run in JSON, and bad flags.

mod common;

use common::kgroup;

#[test]
fn fanout_json_reports_both_strategies_opening_and_the_floor() {
    let out = kgroup(&["fanout", "--recipients", "20", "--size", "512", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["recipients"], 20);
    assert_eq!(v["payload_bytes"], 512);
    assert_eq!(v["suite"], "cv25519");
    for key in [
        "floor_s",
        "multi_s",
        "multi_sequoia_s",
        "each_s",
        "open_s",
        "open_stock_s",
        "unwrap_floor_s",
        "multi_vs_floor",
        "each_vs_floor",
        "open_vs_unwrap_floor",
    ] {
        let x = v[key].as_f64().unwrap_or_else(|| panic!("{key} missing"));
        assert!(x > 0.0 && x.is_finite(), "{key} = {x}");
    }
    // One envelope for all is much smaller than one per recipient: the payload and the
    // signature are sent once, not 20 times.
    let multi = v["multi_bytes_per_recipient"].as_f64().expect("bytes");
    let each = v["each_bytes_per_recipient"].as_f64().expect("bytes");
    assert!(multi * 4.0 < each, "{multi} vs {each}");
}

#[test]
fn fanout_text_names_every_row() {
    let out = kgroup(&["fanout", "--recipients", "3", "--size", "64"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for row in [
        "floor (x25519 + KDF + key wrap)",
        "one envelope for all (kgroup)",
        "sequoia's Encryptor",
        "one envelope per recipient",
        "open by the last recipient",
    ] {
        assert!(text.contains(row), "{row}: {text}");
    }
}

#[test]
fn fanout_bad_flags_exit_two_with_a_clear_message() {
    for (args, needle) in [
        (
            vec!["fanout", "--recipients", "0", "--size", "10"],
            "recipients",
        ),
        (
            vec!["fanout", "--recipients", "x", "--size", "10"],
            "recipients",
        ),
        (vec!["fanout", "--recipients", "5"], "--size"),
        (vec!["fanout", "--recipients", "5", "--size", "-1"], "size"),
        (
            vec![
                "fanout",
                "--recipients",
                "5",
                "--size",
                "1",
                "--suite",
                "rsa",
            ],
            "unknown key suite",
        ),
        (
            vec![
                "fanout",
                "--recipients",
                "5",
                "--size",
                "1",
                "--suite",
                "mlkem768-x25519",
            ],
            "X25519 suites only",
        ),
    ] {
        let out = kgroup(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
