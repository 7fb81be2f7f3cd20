//! `kgroup replay`: the model checker's shortest counterexamples, replayed through the
//! simulator's clients and judge, break the same properties there, in every mode.

mod common;

use std::process::Command;

fn replay(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .arg("replay")
        .args(args)
        .arg("--json")
        .output()
        .expect("run kgroup");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

/// The properties the replayed counterexamples are of.
fn properties(cases: &[serde_json::Value]) -> std::collections::BTreeSet<&str> {
    cases
        .iter()
        .filter_map(|c| c["property"].as_str())
        .collect()
}

#[test]
fn every_kontalk_counterexample_breaks_the_same_property_in_the_simulator() {
    for network in ["ordered", "unordered", "duplicating", "lossy"] {
        let (code, v) = replay(&["--dialect", "kontalk", "--adversary", "--network", network]);
        assert_eq!(code, Some(0), "{network}: {v:#}");
        let cases = v["counterexamples"].as_array().unwrap();
        let names = properties(cases);
        // The six it failed before the server could replay a member's message to anyone,
        // and with that: a message delivered to a client it was not addressed to, and twice;
        // and, with no versions, two views at "epoch 0" at once, and a split nobody noticed.
        assert_eq!(
            names,
            std::collections::BTreeSet::from([
                "owner-authority",
                "owner-binding",
                "member-filter",
                "removed-confidentiality",
                "epoch-agreement",
                "fork-detection",
                "addressed-authenticity",
                "exactly-once",
                "convergence",
                "no-lost-messages"
            ]),
            "{network}: kontalk fails ten safety and at-quiescence properties, and quiesces: {v:#}"
        );
        for c in cases {
            assert_eq!(c["reproduced"], true, "{network}: {c:#}");
            assert_eq!(c["replay"]["missing"], 0, "{network}: {c:#}");
        }
    }
}

#[test]
fn the_replay_goes_through_the_codec_and_the_envelope_too() {
    for mode in ["--wire", "--encrypt"] {
        let (code, v) = replay(&["--dialect", "kontalk", "--adversary", mode]);
        assert_eq!(code, Some(0), "{mode}: {v:#}");
        assert_eq!(v["all_reproduced"], true);
        for c in v["counterexamples"].as_array().unwrap() {
            assert_eq!(c["replay"]["malformed"], 0, "{mode}: {c:#}");
        }
    }
}

/// The rules of hardened v1 against the insider and the equivocating owner: each shortest
/// counterexample breaks the same property in the simulator's judge, so the judge's
/// removed-silence, addressed-authenticity, bounded-state and fork-detection can fail.
#[test]
fn v1_counterexamples_with_the_insider_and_the_lying_owner_break_the_judge_too() {
    let insider = common::join(&[&common::INSIDER, &["--hardened-rules", "v1"]]);
    let equivocate = common::join(&[&common::EQUIVOCATE, &["--hardened-rules", "v1"]]);
    for (args, expected) in [
        (
            &insider[..],
            &[
                "removed-silence",
                "addressed-authenticity",
                "bounded-state",
                "quiescence-reachable",
                "progress",
            ][..],
        ),
        (&equivocate[..], &["fork-detection", "convergence"][..]),
    ] {
        let (code, v) = replay(args);
        assert_eq!(code, Some(0), "{args:?}: {v:#}");
        let cases = v["counterexamples"].as_array().unwrap();
        let names = properties(cases);
        assert_eq!(names, expected.iter().copied().collect(), "{args:?}: {v:#}");
        for c in cases {
            assert_eq!(c["reproduced"], true, "{args:?}: {c:#}");
        }
    }
}

/// The Android client's rules under the server adversary: every counterexample breaks the
/// same property in the simulator; owner-binding and exactly-once are not among them.
#[test]
fn every_android_counterexample_breaks_the_same_property_in_the_simulator() {
    let (code, v) = replay(&["--dialect", "android", "--adversary"]);
    assert_eq!(code, Some(0), "{v:#}");
    let cases = v["counterexamples"].as_array().unwrap();
    let names = properties(cases);
    assert_eq!(
        names,
        std::collections::BTreeSet::from([
            "owner-authority",
            "member-filter",
            "removed-confidentiality",
            "epoch-agreement",
            "fork-detection",
            "addressed-authenticity",
            "convergence",
            "no-lost-messages"
        ]),
        "{v:#}"
    );
    for c in cases {
        assert_eq!(c["reproduced"], true, "{c:#}");
    }
}

#[test]
fn hardened_has_nothing_to_replay() {
    let (code, v) = replay(&["--dialect", "hardened", "--network", "lossy"]);
    assert_eq!(code, Some(0));
    assert_eq!(v["counterexamples"].as_array().unwrap().len(), 0, "{v:#}");
}

#[test]
fn bad_flags_exit_two() {
    let out = Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(["replay", "--script", "create:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("client 9"));
}

#[test]
fn planted_liveness_bugs_replay_as_lassos_and_drains_that_do_not_quiesce() {
    for (plant, network) in [
        ("resync-ping-pong", "ordered"),
        ("release-exact-epoch", "duplicating"),
    ] {
        let (code, v) = replay(&["--plant", plant, "--network", network, "--wire"]);
        assert_eq!(code, Some(0), "{plant}: {v:#}");
        let cases = v["counterexamples"].as_array().unwrap();
        let names: Vec<_> = cases.iter().map(|c| c["property"].as_str()).collect();
        assert_eq!(
            names,
            vec![Some("quiescence-reachable"), Some("progress")],
            "{plant}: only the liveness pair fails"
        );
        let drain = &cases[0]["drain"];
        assert_eq!(drain["quiescent"], false, "{plant}: {drain}");
        let cycle = &cases[1]["replay"]["cycle"];
        assert_eq!(cycle["returns"], true, "{plant}: {cycle}");
        assert_eq!(cycle["never_quiescent"], true, "{plant}: {cycle}");
    }
}
