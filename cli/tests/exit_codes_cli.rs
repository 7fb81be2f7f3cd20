//! The exit-code contract of the long runs, as CI and scripts read it: 0 every property
//! holds, 1 one fails, 2 bad usage, 3 no verdict (a time, depth or state budget, Ctrl-C,
//! or a vacuous run), with the partial report printed; and progress on stderr every second
//! whatever stderr is, unless `--quiet`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::kgroup;

/// Starts `kgroup args`, sends it SIGINT (Ctrl-C) after `after`, and returns its output.
fn interrupted(args: &[&str], after: Duration) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kgroup");
    std::thread::sleep(after);
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    child.wait_with_output().expect("kgroup ran")
}

#[test]
fn check_stopped_by_max_seconds_gives_its_partial_report_and_exit_three() {
    let out = kgroup(&[
        "check",
        "--network",
        "lossy",
        "--max-seconds",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["complete"], false);
    assert_eq!(v["stopped_by"], "the time limit");
    assert!(v["states"].as_u64().unwrap() > 0, "the partial counts");
    for p in v["properties"].as_array().unwrap() {
        assert_eq!(
            p["outcome"], "undecided",
            "nothing holds in a cut search: {p}"
        );
        assert_eq!(p["holds"], false);
    }
    // Progress reached stderr, a pipe here, once a second.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kgroup check: searching: "), "{err}");

    let out = kgroup(&[
        "check",
        "--network",
        "lossy",
        "--max-seconds",
        "2",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(out.stderr.is_empty(), "--quiet: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INCOMPLETE: stopped by the time limit, no verdict"),
        "{text}"
    );
    assert!(!text.contains(" holds"), "{text}");

    let out = kgroup(&["check", "--max-seconds", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn check_stopped_by_max_depth_is_incomplete_unless_a_property_fails_within_it() {
    let out = kgroup(&["check", "--max-depth", "5", "--quiet"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("stopped by the depth limit (5 steps)"),
        "{text}"
    );
    // kontalk's convergence fails within 7 steps; owner-binding fails at 3 with the
    // adversary: a counterexample inside the depth is a verdict.
    let out = kgroup(&[
        "check",
        "--dialect",
        "kontalk",
        "--adversary",
        "--max-depth",
        "4",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILS (counterexample of"));
}

#[test]
fn ctrl_c_stops_check_with_the_partial_report_and_exit_three() {
    // The run: `check --network lossy` on its defaults. It now says up front that
    // it is large, from the pilot's estimate, before the search begins.
    let out = interrupted(&["check", "--network", "lossy"], Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INCOMPLETE: stopped by an interrupt (Ctrl-C), no verdict"),
        "{text}"
    );
    assert!(
        text.contains("owner-authority          undecided"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted: stopping with the partial report"),
        "{err}"
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("kgroup check: a large configuration: about ")
            && first.contains("--max-seconds S or --max-states N bound the run"),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_sim_with_the_partial_report_and_exit_three() {
    let out = interrupted(
        &[
            "sim",
            "--members",
            "1000",
            "--groups",
            "1",
            "--messages-per-group",
            "200",
            "--churn",
            "20",
            "--loss",
            "0.1",
            "--reorder",
            "--seed",
            "7",
            "--json",
        ],
        Duration::from_millis(1500),
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["interrupted"], true);
    let outcomes: Vec<&str> = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.iter().all(|o| *o == "undecided"), "{outcomes:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kgroup sim: simulated "),
        "progress every second: {err}"
    );
}

/// A run in which nothing the workload asked for happened says nothing: the issue's
/// partitioned pair sends no message, and is reported vacuous with exit 3, not passing.
#[test]
fn a_vacuous_sim_is_exit_three_never_a_pass() {
    let args = [
        "sim",
        "--groups",
        "1",
        "--members",
        "2",
        "--clients",
        "2",
        "--messages-per-group",
        "1",
        "--partition",
        "0..100000:1.0",
        "--seed",
        "1",
    ];
    let out = kgroup(&args);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("VACUOUS: no message was sent"), "{text}");
    assert!(text.contains("no-lost-messages         vacuous"), "{text}");
    let mut json = args.to_vec();
    json.push("--json");
    let out = kgroup(&json);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["vacuous"], "no message was sent");

    // The run: no message either, and the failure it finds (a squatter) stands.
    let out = kgroup(&[
        "sim",
        "--seed",
        "1",
        "--loss",
        "0.2",
        "--reorder",
        "--dup",
        "0.05",
        "--forger",
        "--crashes",
        "3",
        "--dialect",
        "kontalk",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("messages: 0 sent"), "{text}");
    assert!(text.contains("VACUOUS: no message was sent"), "{text}");
}
