//! `kgroup sim` as a user runs it: exit codes, the JSON contract, scenario files, bad
//! usage and the plot.

mod common;

use common::kgroup;

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kgroup-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn hardened_exits_zero_and_kontalk_one_with_the_json_contract() {
    let args = [
        "sim",
        "--json",
        "--seed",
        "4",
        "--loss",
        "0.1",
        "--reorder",
        "--dup",
        "0.1",
    ];
    let out = kgroup(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for field in [
        "seed",
        "converged",
        "events",
        "events_per_sec",
        "delivered",
        "dropped",
        "rejected",
        "convergence_time_ms",
        "properties",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["seed"], 4);
    assert_eq!(v["properties"].as_array().unwrap().len(), 14);

    let mut k = args.to_vec();
    k.extend(["--dialect", "kontalk"]);
    let out = kgroup(&k);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["converged"], false);
}

#[test]
fn text_output_names_the_seed_and_every_property() {
    let out = kgroup(&["sim", "--seed", "11"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seed 11"), "{text}");
    for p in [
        "owner-authority",
        "owner-binding",
        "member-filter",
        "removed-confidentiality",
        "convergence",
        "no-lost-messages",
    ] {
        assert!(text.contains(p), "{p}: {text}");
    }
}

#[test]
fn a_scenario_file_sets_the_run_and_flags_override_it() {
    let path = tmp("scenario.toml");
    std::fs::write(
        &path,
        "dialect = 'kontalk'\nseed = 77\nclients = 12\nmembers = 6\ngroups = 1\n\
         messages-per-group = 10\nloss = 0.05\n\
         partition = ['500..1500:0.2']\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let out = kgroup(&["sim", "--scenario", p, "--dialect", "hardened", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seed"], 77);
    assert_eq!(v["dialect"], "hardened");
    assert_eq!(v["config"]["clients"], 12);
    assert_eq!(v["config"]["partition"][0], "500..1500:0.2");
    assert_eq!(v["config"]["messages-per-group"], 10);
}

#[test]
fn bad_usage_exits_two_with_a_one_line_reason() {
    let bad_file = tmp("bad.toml");
    std::fs::write(&bad_file, "clients = 10\nmembrs = 4\n").unwrap();
    let missing = tmp("missing.toml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--loss", "1.5"], "loss"),
        (vec!["--members", "50", "--clients", "10"], "members"),
        (vec!["--latency-ms", "100..10"], "latency-ms"),
        (vec!["--latency-ms", "ten..20"], "ten"),
        (vec!["--partition", "5..1:0.5"], "partition"),
        (vec!["--scenario", bad_file.to_str().unwrap()], "membrs"),
        (
            vec!["--scenario", missing.to_str().unwrap()],
            "missing.toml",
        ),
        (vec!["--plot", "/nonexistent-dir/x.svg"], "--plot"),
        (vec!["--wire", "--encrypt"], "cannot be used"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["sim"];
        args.extend(extra.iter().copied());
        let out = kgroup(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn plot_writes_an_svg_with_both_panels() {
    let path = tmp("run.svg");
    let out = kgroup(&[
        "sim",
        "--seed",
        "3",
        "--loss",
        "0.1",
        "--plot",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.contains("members in agreement"));
    assert!(svg.contains("dropped"));
    assert!(svg.contains("polyline"), "the curves are drawn");
}

/// `--plot` takes its format from the extension: `y.png` is a PNG (it was SVG in a `.png`),
/// another extension is refused before the run; `--trace` takes the names the output uses
/// (`c1`) and refuses others.
#[test]
fn plot_and_trace_take_what_the_output_says() {
    let png = tmp("y.png");
    let out = kgroup(&["sim", "--seed", "1", "--plot", png.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG signature");
    // 900 × 640, big-endian in the IHDR chunk.
    assert_eq!(&bytes[16..24], &[0, 0, 3, 0x84, 0, 0, 2, 0x80]);
    assert!(
        bytes.len() > 10_000,
        "curves and text were drawn: {}",
        bytes.len()
    );

    let jpg = tmp("y.jpg");
    let out = kgroup(&["sim", "--seed", "1", "--plot", jpg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));
    assert!(!jpg.exists());

    let small = [
        "sim",
        "--clients",
        "4",
        "--members",
        "4",
        "--groups",
        "1",
        "--messages-per-group",
        "1",
        "--churn",
        "0",
        "--parts",
        "0",
    ];
    let mut traced = small.to_vec();
    traced.extend(["--trace", "c1"]);
    let out = kgroup(&traced);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(" c1 <- "),
        "{out:?}"
    );
    // Counts agree with their nouns ("1 parts" before).
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("1 group of 4 members; per group 1 message, 0 owner commands, 0 parts"),
        "{out:?}"
    );
    for bad in ["x1", "c9"] {
        let mut args = small.to_vec();
        args.extend(["--trace", bad]);
        let out = kgroup(&args);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
    }
}

/// `key = value` lines of a scenario file, without its comments.
fn keys_and_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn print_scenario_writes_a_file_that_runs_the_same_run() {
    let out = kgroup(&["sim", "--print-scenario"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let defaults = String::from_utf8(out.stdout).unwrap();
    assert!(
        defaults.contains("\nmessages-per-group = 50\n"),
        "{defaults}"
    );
    assert!(
        defaults.contains("\nlatency-ms = \"10..100\"\n"),
        "{defaults}"
    );

    // Flags go into the file; the file read back (and printed again) is the same run.
    let out = kgroup(&[
        "sim",
        "--print-scenario",
        "--clients",
        "12",
        "--members",
        "4",
        "--groups",
        "1",
        "--messages-per-group",
        "5",
        "--latency-ms",
        "20..150",
        "--partition",
        "100..900:0.25",
        "--mode",
        "wire",
        "--seed",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let path = tmp("printed.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let p = path.to_str().unwrap();
    let again = kgroup(&["sim", "--scenario", p, "--print-scenario"]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&out.stdout)
    );
    let run = kgroup(&["sim", "--scenario", p, "--json", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["seed"], 9);
    assert_eq!(v["mode"], "wire");
    assert_eq!(v["config"]["latency-ms"], "20..150");
    assert_eq!(v["config"]["partition"][0], "100..900:0.25");
}

/// The file: `latency = "20..150"` named a Rust type; now the line says which key
/// was meant.
#[test]
fn a_wrong_key_names_the_key_meant() {
    let path = tmp("latency.toml");
    std::fs::write(&path, "seed = 3\nlatency = \"20..150\"\n").unwrap();
    let out = kgroup(&["sim", "--scenario", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(common::one_line(&out.stderr), "{err}");
    assert!(
        err.contains("line 2, column 1: unknown key `latency` (did you mean `latency-ms`?)"),
        "{err}"
    );
}

/// docs/cli.md's schema table lists every key of a scenario, with its default as
/// `--print-scenario` writes it, and nothing else.
#[test]
fn the_documented_schema_is_the_scenario() {
    let out = kgroup(&["sim", "--print-scenario"]);
    let printed = keys_and_values(&String::from_utf8(out.stdout).unwrap());
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md")).unwrap();
    let table: Vec<(String, String)> = page
        .split("| key | value | default | meaning |")
        .nth(1)
        .expect("the schema table")
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let unquote = |c: &str| {
                c.trim_matches(|x| x == '`' || x == '|' || x == ' ')
                    .to_string()
            };
            (unquote(cells[0]), unquote(cells[2]))
        })
        .collect();
    assert_eq!(table, printed);
}
