//! The `kgroup` binary as a user runs it: exit codes, JSON, and errors on bad usage.

mod common;

use common::kgroup;

#[test]
fn demo_exits_zero_and_reports_kontalk_divergence() {
    let out = kgroup(&["demo"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("add-remove-swapped [kontalk]: DIVERGED"),
        "{text}"
    );
    assert!(
        text.contains("add-remove-swapped [hardened]: converged"),
        "{text}"
    );
    assert!(
        text.contains("hardened: every scenario converged"),
        "{text}"
    );
}

/// The closing lines speak of the dialects shown, not of `hardened` when it was not run.
#[test]
fn demo_closes_with_a_line_per_dialect_shown() {
    let out = kgroup(&["demo", "--dialect", "kontalk"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().last(),
        Some("kontalk: 4 of 6 scenarios diverged"),
        "{text}"
    );
    assert!(!text.contains("hardened:"), "{text}");
    let out = kgroup(&["demo", "--dialect", "android", "seed"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().last(),
        Some("android: 1 of 1 scenario converged"),
        "{text}"
    );
}

#[test]
fn demo_json_is_one_object_with_a_run_per_scenario_and_dialect() {
    let out = kgroup(&["demo", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 18, "six scenarios in three dialects");
    assert_eq!(v["hardened_ok"], true);
    let diverged: Vec<_> = runs
        .iter()
        .filter(|r| r["converged"] == false)
        .filter_map(|r| Some((r["dialect"].as_str()?, r["scenario"].as_str()?)))
        .collect();
    assert_eq!(diverged.iter().filter(|(d, _)| *d == "kontalk").count(), 4);
    // The Android client adds a duplicated create up (no roll-back), but swapped,
    // concurrent and replayed commands still split it.
    let android: Vec<&str> = diverged
        .iter()
        .filter(|(d, _)| *d == "android")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(
        android,
        [
            "add-remove-swapped",
            "part-concurrent-with-add",
            "replayed-owner-command"
        ]
    );
    assert!(diverged.iter().all(|(d, _)| *d != "hardened"));
}

#[test]
fn bad_usage_exits_two_with_a_clear_message() {
    let out = kgroup(&["demo", "--dialect", "matrix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dialect `matrix`"));
    let out = kgroup(&["demo", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'nope'"), "{err}");
    assert!(err.contains("seed"), "the known names are listed: {err}");
    let out = kgroup(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_json_has_the_contract_fields_and_exit_codes() {
    let small = [
        "check",
        "--clients",
        "3",
        "--script",
        "create:1;add:2",
        "--senders=",
        "--json",
    ];
    let out = kgroup(&small);
    assert_eq!(out.status.code(), Some(0), "hardened holds: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for field in ["dialect", "states", "unique_states", "max_depth", "seconds"] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    let props = v["properties"].as_array().expect("properties");
    assert_eq!(props.len(), 14);
    assert!(props
        .iter()
        .all(|p| p["holds"] == true && p["outcome"] == "holds" && p["counterexample"].is_null()));
    // The at-quiescence verdicts say how many quiescent states they rest on.
    for name in ["convergence", "no-lost-messages"] {
        let p = props.iter().find(|p| p["name"] == name).expect(name);
        assert!(p["quiescent_states"].as_u64().is_some_and(|q| q > 0), "{p}");
    }
    assert!(v["liveness"]["states"].as_u64().is_some_and(|n| n > 0));

    // Without the liveness graph there is no verdict: exit 3.
    let mut skipped = small.to_vec();
    skipped.push("--no-liveness");
    let out = kgroup(&skipped);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["complete"], false);

    // A planted livelock: the six hold, the liveness pair fails with a lasso: exit 1.
    let out = kgroup(&["check", "--plant", "resync-ping-pong", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let progress = v["properties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "progress"))
        .expect("progress");
    assert_eq!(progress["outcome"], "fails");
    assert_eq!(
        progress["cycle"].as_array().map(Vec::len),
        Some(3),
        "two steps and the verdict"
    );

    let mut kontalk = small.to_vec();
    kontalk.extend(["--dialect", "kontalk"]);
    let out = kgroup(&kontalk);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let conv = v["properties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "convergence"))
        .expect("convergence");
    assert_eq!(conv["holds"], false);
    assert_eq!(conv["counterexample"].as_array().map(Vec::len), Some(6));
}

#[test]
fn check_refuses_bad_flags_with_exit_two() {
    for args in [
        &["check", "--network", "carrier-pigeon"][..],
        &["check", "--script", "add:1"],
        &["check", "--clients", "99"],
        &["check", "--parting", "7"],
    ] {
        let out = kgroup(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
    // The model records deliveries as one bit per message: more than 64 is refused
    // before any state is built.
    let out = kgroup(&["check", "--senders", "0,1,2,3", "--messages", "17"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at most 64 messages") && err.contains("68") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn symmetry_explores_fewer_states_with_the_same_verdicts() {
    let args = [
        "check",
        "--dialect",
        "kontalk",
        "--clients",
        "5",
        "--script",
        "create:1,2,3;subject:1",
        "--senders",
        "1",
        "--json",
    ];
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend_from_slice(extra);
        let out = kgroup(&a);
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let full = run(&[]);
    let reduced = run(&["--symmetry"]);
    assert_eq!(reduced["symmetry"], true);
    assert!(
        reduced["unique_states"].as_u64() < full["unique_states"].as_u64(),
        "{} vs {}",
        reduced["unique_states"],
        full["unique_states"]
    );
    let verdicts = |v: &serde_json::Value| -> Vec<(String, bool, usize)> {
        v["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["holds"].as_bool().unwrap(),
                    p["counterexample"].as_array().map_or(0, |c| c.len()),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&full), verdicts(&reduced));
}

/// The insider: hardened v2 holds the fourteen on the insider workload; v1's rules fail
/// removed-silence, addressed-authenticity and bounded-state (and the liveness pair), each
/// with a counterexample whose steps name the insider.
#[test]
fn the_insider_breaks_hardened_v1_and_not_v2() {
    let args = common::join(&[&["check"], &common::INSIDER, &["--json"]]);
    let out = kgroup(&args);
    assert_eq!(out.status.code(), Some(0), "v2 holds: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["insider"], true);
    assert_eq!(v["rules"], "v2");
    assert_eq!(v["properties"].as_array().map(Vec::len), Some(14));

    let mut v1 = args.to_vec();
    v1.extend(["--hardened-rules", "v1"]);
    let out = kgroup(&v1);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let props = v["properties"].as_array().expect("properties");
    let failing: Vec<&str> = props
        .iter()
        .filter(|p| p["outcome"] == "fails")
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "removed-silence",
        "addressed-authenticity",
        "bounded-state",
        "quiescence-reachable",
        "progress",
    ] {
        assert!(failing.contains(&name), "{name} in {failing:?}");
    }
    let silence = props
        .iter()
        .find(|p| p["name"] == "removed-silence")
        .expect("removed-silence");
    let text = silence["counterexample"].to_string();
    assert!(text.contains("the insider"), "{text}");

    // The insider needs someone to remove.
    let out = kgroup(&["check", "--insider", "--script", "create:1,2"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("removes a member"));
}

/// The equivocating owner: the fork cannot be prevented (convergence fails, exit 1), and
/// v2 finds it out (fork-detection holds) where v1 does not, with a trace that says what the
/// owner did.
#[test]
fn the_equivocating_owner_is_found_out_by_v2_only() {
    let args = common::join(&[&["check"], &common::EQUIVOCATE, &["--json"]]);
    let outcome = |args: &[&str]| {
        let out = kgroup(args);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["equivocate"], true);
        let props = v["properties"].as_array().expect("properties").clone();
        let of = |name: &str| {
            props
                .iter()
                .find(|p| p["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name}"))
        };
        (
            of("fork-detection"),
            of("convergence"),
            of("epoch-agreement"),
        )
    };
    let (fork, convergence, epochs) = outcome(&args);
    assert_eq!(fork["outcome"], "holds", "{fork}");
    assert_eq!(convergence["outcome"], "fails", "{convergence}");
    assert_eq!(epochs["outcome"], "holds", "{epochs}");
    let mut v1 = args.to_vec();
    v1.extend(["--hardened-rules", "v1"]);
    let (fork, _, _) = outcome(&v1);
    assert_eq!(fork["outcome"], "fails", "{fork}");
    let text = fork["counterexample"].to_string();
    assert!(text.contains("the owner sends"), "{text}");
    assert!(text.contains("forged"), "{text}");
}

/// The pilot that sizes a check up front counts what the checker counts: on a space it
/// explores whole, its figure is exact and equal to stateright's; a small check prints no
/// warning.
#[test]
fn check_foresees_its_size_and_warns_only_when_large() {
    let out = kgroup(&common::join(&[
        &["check"],
        &common::KONTALK_SUBJECT,
        &["--json"],
    ]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["estimate"]["exact"], true, "{}", v["estimate"]);
    assert_eq!(v["estimate"]["unique_states"], v["unique_states"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("large configuration"));
}
