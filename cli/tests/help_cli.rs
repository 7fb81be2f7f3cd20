//! What clap generates for users: shell completions and the manual pages, from the same
//! definitions as the parser.

mod common;

use common::kgroup;

#[test]
fn completions_cover_every_subcommand_and_bash_reads_them() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = kgroup(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in [
            "check", "sim", "replay", "demo", "live", "stanza", "seal", "open",
        ] {
            assert!(text.contains(sub), "{shell} completes {sub}");
        }
        assert!(text.contains("dialect"), "{shell} completes flags");
    }
    let out = kgroup(&["completions", "bash"]);
    let path = std::env::temp_dir().join(format!("kgroup-completion-{}.bash", std::process::id()));
    std::fs::write(&path, &out.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("run bash");
    assert!(syntax.status.success(), "{syntax:?}");

    let out = kgroup(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad usage");
}

#[test]
fn man_writes_one_page_and_a_page_per_subcommand() {
    let out = kgroup(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH kgroup 1"), "a roff page");
    assert!(
        page.contains("kgroup\\-check(1)"),
        "it names the subcommands' pages"
    );

    let dir = std::env::temp_dir().join(format!("kgroup-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = kgroup(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for page in [
        "kgroup.1",
        "kgroup-check.1",
        "kgroup-sim.1",
        "kgroup-stanza-decode.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".SH SYNOPSIS"), "{page}");
    }
    let check = std::fs::read_to_string(dir.join("kgroup-check.1")).unwrap();
    assert!(
        check.contains("\\-\\-max\\-states"),
        "options are documented"
    );

    let out = kgroup(&["man", "--dir", "/nonexistent-dir/x"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(common::one_line(&out.stderr), "{out:?}");
}

/// Every subcommand that takes a dialect defaults to the same one, and says so in --help.
#[test]
fn the_dialect_defaults_to_hardened_everywhere_and_help_says_so() {
    for sub in ["check", "replay", "live"] {
        let out = kgroup(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("[default: hardened]"), "{sub}: {text}");
    }
}
