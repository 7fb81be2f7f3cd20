//! Every input of the CLI bounded and checked before the work starts: a closed pipe ends
//! the output quietly with the run's own exit code; a busy `--serve` address, thread
//! counts, `--max-states 0`, long scripts and runs beyond the memory budget are refused with
//! one line; input files are read up to a limit; error lines are cut to a readable length.
//! Nothing here allocates more than a few tens of MiB: the refusals come first.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{kgroup, kgroup_with_stdin, one_line};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kgroup-bounds-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Asserts exit `code` and one line on stderr containing `needle`.
fn refused(args: &[&str], code: i32, needle: &str) {
    let out = kgroup(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    assert!(one_line(&out.stderr), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{args:?}: {err}");
}

/// Runs kgroup with its stdout a pipe whose reader is already gone.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kgroup"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kgroup");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("kgroup ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_runs_own_exit_code() {
    let small = ["--clients", "3", "--script", "create:1,2", "--senders", "1"];
    let check = |extra: &[&str]| {
        let mut a = vec!["check"];
        a.extend_from_slice(&small);
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["demo".into()], 0),
        (vec!["demo".into(), "--json".into()], 0),
        (check(&[]), 0),
        // The verdict survives the closed pipe: kontalk fails a property.
        (check(&["--dialect", "kontalk"]), 1),
        (check(&["--json", "--dialect", "kontalk"]), 1),
        (vec!["--help".into()], 0),
        (
            vec![
                "key".into(),
                "new".into(),
                "--jid".into(),
                "a@example.org".into(),
            ],
            0,
        ),
    ];
    for (args, code) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, err) = into_closed_pipe(&args);
        assert_eq!(status, Some(code), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quiet, not {err}");
    }
}

#[test]
fn serve_on_a_busy_address_is_refused_before_serving() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let started = Instant::now();
    let out = kgroup(&["check", "--serve", &addr]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr) && !err.contains("serving"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    refused(&["check", "--serve", "nowhere"], 2, "--serve `nowhere`");
}

#[test]
fn thread_counts_states_and_scripts_are_bounded() {
    refused(&["check", "--threads", "100000"], 2, "1..=256");
    refused(&["check", "--threads", "0"], 2, "1..=256");
    refused(&["findings", "--threads", "257"], 2, "1..=256");
    refused(&["replay", "--threads", "1000"], 2, "1..=256");
    refused(&["check", "--max-states", "0"], 2, "at least 1");
    let long: Vec<String> = std::iter::once("create:1".to_string())
        .chain((0..64).map(|i| format!("subject:{i}")))
        .collect();
    refused(
        &["check", "--script", &long.join(";")],
        2,
        "65 steps, above the limit of 64",
    );
}

#[test]
fn a_search_stopped_by_max_states_is_incomplete_exit_three() {
    let out = kgroup(&["check", "--max-states", "1000", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["complete"], false);
    // A counterexample found before the limit is a verdict: exit 1.
    let out = kgroup(&["check", "--max-states", "1000", "--dialect", "kontalk"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn a_state_space_explosion_stops_at_the_memory_budget() {
    // The lossy network with two losses passes 20 GB unbounded; here it stops at 64 MiB.
    let started = Instant::now();
    let out = kgroup(&[
        "check",
        "--network",
        "lossy",
        "--losses",
        "2",
        "--max-memory",
        "64M",
        "--json",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("passed the budget of 64 MiB (--max-memory)"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no verdict, no document");
    assert!(started.elapsed() < Duration::from_secs(60));
    refused(&["check", "--max-memory", "512"], 2, "give a unit");
    refused(&["sim", "--max-memory", "1M"], 2, "expected 32 MiB");
}

#[test]
fn sim_refuses_a_run_beyond_the_budget_before_it_starts() {
    // 2 groups of 30,000 members: about 215 GiB (it used to die at 6 GB).
    let started = Instant::now();
    refused(&["sim", "--members", "30000"], 2, "the run needs about");
    refused(
        &["sim", "--members", "1000", "--max-memory", "64M"],
        2,
        "above the memory budget of 64 MiB (--max-memory)",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused before the run"
    );
    refused(&["sim", "--trace", "20"], 2, "--trace 20: not a client");
}

#[test]
fn input_files_are_read_up_to_a_limit() {
    #[cfg(unix)]
    refused(
        &["sim", "--scenario", "/dev/zero"],
        2,
        "/dev/zero: longer than the limit of 1 MiB",
    );
    let big = tmp("big.toml");
    std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
    refused(
        &["sim", "--scenario", big.to_str().unwrap()],
        2,
        "longer than the limit of 1 MiB",
    );
    let out = kgroup_with_stdin(&["stanza", "decode"], &vec![b' '; (4 << 20) + 1]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin: longer than the limit of 4 MiB"));
}

#[test]
fn long_values_give_one_short_error_line() {
    // A 600 KB TOML value: the parser's message quotes it; the line is cut.
    let path = tmp("long.toml");
    std::fs::write(&path, format!("clients = \"{}\"\n", "x".repeat(600_000))).unwrap();
    let out = kgroup(&["sim", "--scenario", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim_end().chars().count() <= 300, "{} chars", err.len());
    assert!(err.trim_end().ends_with('…'), "{err}");
    // A long bad flag value, quoted by clap.
    let value = "y".repeat(100_000);
    let out = kgroup(&["check", "--dialect", &value]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .chars()
            .count()
            <= 300
    );
}
