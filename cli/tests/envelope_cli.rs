//! `kgroup key`, `seal` and `open` as a user runs them: keys made, exported and described;
//! a payload sealed to several recipients and opened by each; the envelope's typed errors
//! as one line and exit 1; inputs over their limits refused; and GnuPG in both directions
//! through the CLI. `gpg` must be installed (`.ci/run` installs Debian's `gnupg`): without
//! it the interop tests fail, they do not skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{kgroup, kgroup_with_stdin, one_line};

/// A directory of its own per test.
fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kgroup-env-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn ok(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    out
}

/// `key new` then `key export`: the secret key's and the certificate's paths.
fn make_key(dir: &Path, name: &str, jid: &str, suite: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.cert"));
    ok(kgroup(&[
        "key",
        "new",
        "--jid",
        jid,
        "--suite",
        suite,
        "--output",
        s(&key),
    ]));
    ok(kgroup(&["key", "export", s(&key), "--output", s(&cert)]));
    (key, cert)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn fingerprint(cert: &Path) -> String {
    let out = ok(kgroup(&["key", "import", "--json", s(cert)]));
    json(&out)["fingerprint"].as_str().unwrap().to_string()
}

#[test]
fn key_new_export_seal_open_round_trip_in_every_suite() {
    let d = dir("round");
    for suite in ["cv25519", "cv25519-v6", "mlkem768-x25519", "kontalk"] {
        let (alice_key, alice_cert) =
            make_key(&d, &format!("alice-{suite}"), "alice@example.org", suite);
        let (bob_key, bob_cert) = make_key(&d, &format!("bob-{suite}"), "bob@example.org", suite);
        let (carol_key, carol_cert) =
            make_key(&d, &format!("carol-{suite}"), "carol@example.org", suite);
        let armored = std::fs::read_to_string(&alice_key).unwrap();
        assert!(armored.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
        let cert = std::fs::read_to_string(&alice_cert).unwrap();
        assert!(cert.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));

        // What the certificate is.
        let info = json(&ok(kgroup(&["key", "import", "--json", s(&alice_cert)])));
        assert_eq!(info["jid"], "alice@example.org", "{info}");
        assert_eq!(info["suite"], suite, "{info}");
        assert_eq!(info["secret"], false);
        assert_eq!(info["usable"], true);
        assert_eq!(info["keys"].as_array().unwrap().len(), 3);
        assert_eq!(info["encryption_keys"].as_array().unwrap().len(), 1);
        let text = ok(kgroup(&["key", "import", s(&alice_key)]));
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("alice@example.org") && text.contains("secret:      yes"),
            "{text}"
        );
        let alice_fpr = info["fingerprint"].as_str().unwrap();

        // One message to two recipients, armored by default; each opens it.
        let payload = format!("<body>hello in {suite}</body>");
        let sealed = ok(kgroup_with_stdin(
            &[
                "seal",
                "--key",
                s(&alice_key),
                "--to",
                s(&bob_cert),
                s(&carol_cert),
            ],
            payload.as_bytes(),
        ))
        .stdout;
        assert!(sealed.starts_with(b"-----BEGIN PGP MESSAGE-----"));
        for key in [&bob_key, &carol_key] {
            let out = ok(kgroup_with_stdin(
                &["open", "--key", s(key), "--peers", s(&alice_cert)],
                &sealed,
            ));
            let v = json(&out);
            assert_eq!(v["plaintext"], payload.as_str(), "{v}");
            assert_eq!(v["encoding"], "utf-8");
            assert_eq!(v["signer"]["jid"], "alice@example.org");
            assert_eq!(v["signer"]["fingerprint"], alice_fpr);
        }
        // Sealed as Kontalk's clients seal (AES-192, ZIP): opened the same.
        let sealed = ok(kgroup_with_stdin(
            &[
                "seal",
                "--kontalk",
                "--key",
                s(&alice_key),
                "--to",
                s(&bob_cert),
            ],
            payload.as_bytes(),
        ))
        .stdout;
        let v = json(&ok(kgroup_with_stdin(
            &["open", "--key", s(&bob_key), "--peers", s(&alice_cert)],
            &sealed,
        )));
        assert_eq!(v["plaintext"], payload.as_str(), "{suite}: {v}");

        // Binary, and bytes that are not UTF-8: base64 in the JSON, raw with
        // --plaintext-only.
        let bytes: Vec<u8> = (0..=255u8).rev().collect();
        let sealed = ok(kgroup_with_stdin(
            &[
                "seal",
                "--binary",
                "--key",
                s(&alice_key),
                "--to",
                s(&bob_cert),
            ],
            &bytes,
        ))
        .stdout;
        assert!(sealed[0] & 0x80 != 0, "binary OpenPGP");
        let v = json(&ok(kgroup_with_stdin(
            &["open", "--key", s(&bob_key), "--peers", s(&alice_cert)],
            &sealed,
        )));
        assert_eq!(v["encoding"], "base64");
        assert_eq!(v["bytes"], 256);
        let raw = ok(kgroup_with_stdin(
            &[
                "open",
                "--plaintext-only",
                "--key",
                s(&bob_key),
                "--peers",
                s(&alice_cert),
            ],
            &sealed,
        ));
        assert_eq!(raw.stdout, bytes);
    }

    // Binary keys and certificates are read as well as armored ones.
    let key = d.join("dave.bin");
    ok(kgroup(&[
        "key",
        "new",
        "--jid",
        "dave@example.org",
        "--binary",
        "-o",
        s(&key),
    ]));
    let cert = ok(kgroup(&["key", "export", "--binary", s(&key)])).stdout;
    assert!(cert[0] & 0x80 != 0);
    let v = json(&ok(kgroup_with_stdin(&["key", "import", "--json"], &cert)));
    assert_eq!(v["jid"], "dave@example.org");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a secret key is readable by its owner alone"
        );
    }
}

#[test]
fn envelope_errors_are_one_typed_line_and_exit_one() {
    let d = dir("errors");
    let (alice_key, alice_cert) = make_key(&d, "alice", "alice@example.org", "cv25519");
    let (bob_key, bob_cert) = make_key(&d, "bob", "bob@example.org", "cv25519");
    let (mallory_key, _) = make_key(&d, "mallory", "mallory@example.org", "cv25519");
    let sealed = ok(kgroup_with_stdin(
        &[
            "seal",
            "--binary",
            "--key",
            s(&alice_key),
            "--to",
            s(&bob_cert),
        ],
        b"for bob",
    ))
    .stdout;

    let cases: Vec<(Vec<&str>, Vec<u8>, &str)> = vec![
        // The wrong key.
        (
            vec!["open", "--key", s(&mallory_key), "--peers", s(&alice_cert)],
            sealed.clone(),
            "kgroup open: the message is not encrypted to my key",
        ),
        // The signer's certificate not given.
        (
            vec!["open", "--key", s(&bob_key)],
            sealed.clone(),
            "kgroup open: signed by an unknown key",
        ),
        // Tampered ciphertext.
        (
            vec!["open", "--key", s(&bob_key), "--peers", s(&alice_cert)],
            {
                let mut t = sealed.clone();
                let n = t.len();
                t[n - 30] ^= 1;
                t
            },
            "kgroup open: ",
        ),
        // Not OpenPGP at all, and broken armor.
        (
            vec!["open", "--key", s(&bob_key)],
            b"hello".to_vec(),
            "kgroup open: malformed OpenPGP message",
        ),
        (
            vec!["open", "--key", s(&bob_key)],
            b"-----BEGIN PGP MESSAGE-----\n\n!!!!\n-----END PGP MESSAGE-----\n".to_vec(),
            "kgroup open: malformed OpenPGP message",
        ),
        // A certificate where a secret key is needed.
        (
            vec!["seal", "--key", s(&alice_cert), "--to", s(&bob_cert)],
            b"x".to_vec(),
            "a certificate, not a secret key",
        ),
        // A key file that is not a key.
        (
            vec!["seal", "--key", s(&alice_key), "--to", "/dev/null"],
            b"x".to_vec(),
            "kgroup seal: /dev/null: key error",
        ),
        (
            vec!["key", "import", "/nonexistent/x.cert"],
            Vec::new(),
            "kgroup key import: /nonexistent/x.cert: ",
        ),
    ];
    for (args, input, needle) in cases {
        let out = kgroup_with_stdin(&args, &input);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(one_line(&out.stderr), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn inputs_over_their_limits_and_bad_flags_are_refused() {
    let d = dir("limits");
    let (alice_key, alice_cert) = make_key(&d, "alice", "alice@example.org", "cv25519");

    // A key file over 1 MiB: refused before it is parsed.
    let big = d.join("big.cert");
    std::fs::write(&big, vec![b'A'; (1 << 20) + 1]).unwrap();
    let out = kgroup_with_stdin(&["seal", "--key", s(&alice_key), "--to", s(&big)], b"x");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than the limit of 1 MiB"));

    // A payload over 16 MiB.
    let out = kgroup_with_stdin(
        &["seal", "--key", s(&alice_key), "--to", s(&alice_cert)],
        &vec![0u8; (16 << 20) + 1],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin: longer than the limit of 16 MiB"));

    // --output never replaces a file without --overwrite.
    let out = kgroup(&["key", "new", "--jid", "a@example.org", "-o", s(&alice_key)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"));
    ok(kgroup(&[
        "key",
        "new",
        "--jid",
        "a@example.org",
        "-o",
        s(&alice_key),
        "--overwrite",
    ]));

    // Bad usage: exit 2, one line.
    for args in [
        &["key", "new", "--jid", "alice@example.org/phone"][..],
        &[
            "key",
            "new",
            "--jid",
            "alice@example.org",
            "--suite",
            "rsa4096",
        ],
        &["key", "new"],
        &["seal", "--key", s(&alice_key)],
        &["open"],
    ] {
        let out = kgroup(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(one_line(&out.stderr), "{args:?}: {out:?}");
    }
}

/// A throw-away GNUPGHOME; its agent is stopped and the directory removed on drop (as in
/// the library's `tests/gnupg_interop.rs`).
struct GpgHome {
    dir: PathBuf,
}

impl GpgHome {
    fn new(tag: &str) -> GpgHome {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        // Short path: the agent's socket path must fit in sun_path.
        let dir = std::env::temp_dir().join(format!("kgc-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("GNUPGHOME");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        GpgHome { dir }
    }

    /// Runs gpg, which must succeed; returns stdout and stderr (`--status-fd 2`).
    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> (Vec<u8>, String) {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(&self.dir)
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args([
                "--passphrase",
                "",
                "--status-fd",
                "2",
                "--trust-model",
                "always",
            ])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("`gpg` is required for the interop tests (apt-get install gnupg): {e}")
            });
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("to gpg");
        }
        let out = child.wait_with_output().expect("gpg ran");
        let status = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "gpg {args:?} failed: {status}");
        (out.stdout, status)
    }

    /// The fingerprint of the secret key with user id `uid`.
    fn fingerprint(&self, uid: &str) -> String {
        let (listing, _) = self.ok(&["--with-colons", "--list-secret-keys", uid], None);
        String::from_utf8_lossy(&listing)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("gpg fingerprint")
    }

    /// GnuPG's own key for `uid` (Ed25519 signing primary, Cv25519 encryption subkey):
    /// its fingerprint and its exported certificate, written to `cert`.
    fn generate(&self, uid: &str, cert: &Path) -> String {
        self.ok(&["--quick-gen-key", uid, "ed25519", "sign", "never"], None);
        let fpr = self.fingerprint(uid);
        self.ok(&["--quick-add-key", &fpr, "cv25519", "encr", "never"], None);
        let (public, _) = self.ok(&["--armor", "--export", &fpr], None);
        std::fs::write(cert, public).unwrap();
        fpr
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.dir)
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn gnupg_decrypts_and_verifies_what_kgroup_seal_wrote() {
    let d = dir("gpg-a");
    let (alice_key, alice_cert) = make_key(&d, "alice", "alice@example.org", "cv25519");
    let home = GpgHome::new("a");
    // kgroup's secret key and its certificate, both read by GnuPG.
    home.ok(&["--import", s(&alice_key)], None);
    home.ok(&["--import", s(&alice_cert)], None);
    let gpg_cert = d.join("gpg.cert");
    home.generate("xmpp:gpguser@example.org", &gpg_cert);
    let info = json(&ok(kgroup(&["key", "import", "--json", s(&gpg_cert)])));
    assert_eq!(info["jid"], "gpguser@example.org");
    assert_eq!(info["usable"], true, "{info}");

    let payload = b"<body>from kgroup to GnuPG</body>";
    // To GnuPG's key (armored) and to alice's own key as GnuPG imported it (binary).
    for (to, binary) in [(&gpg_cert, false), (&alice_cert, true)] {
        let mut args = vec!["seal", "--key", s(&alice_key), "--to", s(to)];
        if binary {
            args.push("--binary");
        }
        let sealed = ok(kgroup_with_stdin(&args, payload)).stdout;
        let file = d.join("sealed.pgp");
        std::fs::write(&file, &sealed).unwrap();
        let (plaintext, status) = home.ok(&["--decrypt", s(&file)], None);
        assert_eq!(plaintext, payload, "{args:?}");
        for line in [
            "[GNUPG:] DECRYPTION_OKAY",
            "[GNUPG:] GOODSIG",
            "[GNUPG:] VALIDSIG",
        ] {
            assert!(status.contains(line), "{args:?}: no {line}: {status}");
        }
        assert!(status.contains("alice@example.org"), "{status}");
        assert!(!status.contains("BADSIG"), "{status}");
    }
}

#[test]
fn kgroup_open_reads_what_gnupg_signed_and_encrypted() {
    let d = dir("gpg-b");
    let (bob_key, bob_cert) = make_key(&d, "bob", "bob@example.org", "cv25519");
    let home = GpgHome::new("b");
    let gpg_cert = d.join("gpg.cert");
    let gpg_fpr = home.generate("xmpp:gpguser@example.org", &gpg_cert);
    home.ok(&["--import", s(&bob_cert)], None);
    let bob_fpr = fingerprint(&bob_cert);

    let payload = "<body>from GnuPG to kgroup</body>";
    for armor in [false, true] {
        let mut args = vec!["--local-user", &gpg_fpr, "--recipient", &bob_fpr];
        if armor {
            args.push("--armor");
        }
        args.extend(["--sign", "--encrypt"]);
        let (sealed, _) = home.ok(&args, Some(payload.as_bytes()));
        let out = ok(kgroup_with_stdin(
            &["open", "--key", s(&bob_key), "--peers", s(&gpg_cert)],
            &sealed,
        ));
        let v = json(&out);
        assert_eq!(v["plaintext"], payload, "armor {armor}: {v}");
        assert_eq!(v["signer"]["fingerprint"], gpg_fpr.as_str(), "{v}");
        assert_eq!(v["signer"]["jid"], "gpguser@example.org");
    }

    // Kontalk's form of user id, `Name <jid>`, binds the address as the JID.
    let named = d.join("named.cert");
    home.generate("Named User <named@example.org>", &named);
    let v = json(&ok(kgroup(&["key", "import", "--json", s(&named)])));
    assert_eq!(v["jid"], "named@example.org", "{v}");
    assert_eq!(v["usable"], true);

    // A GnuPG key whose user id names no JID is described, and refused for kgroup.
    let plain = d.join("plain.cert");
    home.generate("Plain User", &plain);
    let out = kgroup(&["key", "import", "--json", s(&plain)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
    let v = json(&out);
    assert_eq!(v["usable"], false);
    assert!(v["jid"].is_null());
    assert_eq!(v["suite"], "cv25519", "GnuPG's Ed25519/Cv25519 v4 key: {v}");
}

/// `kgroup open` opens what GnuPG sealed as Kontalk's Android client seals: GnuPG-made
/// keys of the client's shape (RSA-2048 primary, P-256 ECDSA and ECDH subkeys, user id
/// `Name <jid>`), a SHA-256 one-pass signature, ZIP, AES-192, a Message/CPIM plaintext;
/// and `kgroup stanza decode` reads that plaintext.
#[test]
fn kgroup_open_reads_a_gnupg_made_kontalk_envelope() {
    let d = dir("gpg-k");
    let home = GpgHome::new("k");
    let mut fprs = Vec::new();
    for (name, jid) in [("alice", "alice@kontalk.test"), ("bob", "bob@kontalk.test")] {
        let uid = format!("{name} <{jid}>");
        home.ok(
            &["--quick-gen-key", &uid, "rsa2048", "cert,auth", "never"],
            None,
        );
        let fpr = home.fingerprint(&uid);
        home.ok(
            &["--quick-add-key", &fpr, "nistp256/ecdsa", "sign", "never"],
            None,
        );
        home.ok(
            &["--quick-add-key", &fpr, "nistp256", "encr", "never"],
            None,
        );
        fprs.push(fpr);
    }
    let alice_cert = d.join("alice.cert");
    std::fs::write(
        &alice_cert,
        home.ok(&["--armor", "--export", &fprs[0]], None).0,
    )
    .unwrap();
    let bob_key = d.join("bob.key");
    std::fs::write(
        &bob_key,
        home.ok(&["--armor", "--export-secret-keys", &fprs[1]], None)
            .0,
    )
    .unwrap();
    let v = json(&ok(kgroup(&["key", "import", "--json", s(&alice_cert)])));
    assert_eq!(v["suite"], "kontalk", "{v}");
    assert_eq!(v["jid"], "alice@kontalk.test");

    let cpim = "Content-type: Message/CPIM\n\nFrom: alice <alice@kontalk.test>\n\
                To: bob <bob@kontalk.test>\nDateTime: 2020-04-13T11:06:40+00:00\n\n\
                Content-type: application/xmpp+xml; charset=utf-8\n\n\
                <xmpp xmlns='jabber:client'><message xmlns='jabber:client' id='m1' type='chat'>\
                <group xmlns='http://kontalk.org/extensions/message#group' id='g' \
                owner='alice@kontalk.test'/><body>hi</body></message></xmpp>";
    let (sealed, _) = home.ok(
        &[
            "--local-user",
            &fprs[0],
            "--recipient",
            &fprs[1],
            "--cipher-algo",
            "AES192",
            "--compress-algo",
            "zip",
            "--digest-algo",
            "SHA256",
            "--sign",
            "--encrypt",
        ],
        Some(cpim.as_bytes()),
    );
    let v = json(&ok(kgroup_with_stdin(
        &["open", "--key", s(&bob_key), "--peers", s(&alice_cert)],
        &sealed,
    )));
    assert_eq!(v["plaintext"], cpim, "{v}");
    assert_eq!(v["signer"]["jid"], "alice@kontalk.test");
    assert_eq!(v["signer"]["fingerprint"], fprs[0].as_str());
    let plain = ok(kgroup_with_stdin(
        &[
            "open",
            "--key",
            s(&bob_key),
            "--peers",
            s(&alice_cert),
            "--plaintext-only",
        ],
        &sealed,
    ))
    .stdout;
    let v = json(&ok(kgroup_with_stdin(&["stanza", "decode"], &plain)));
    assert_eq!(v["cpim"]["from"], "alice <alice@kontalk.test>", "{v}");
    assert_eq!(v["message"]["body"], "hi");
}

/// `seal FILE` and `open FILE` read the file as they read stdin; the committed test key
/// opens what it sealed, and a missing file is one line and exit 1.
#[test]
fn seal_and_open_read_files_too() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let key = format!("{data}/alice.key");
    let cert = format!("{data}/alice.cert");
    let hello = format!("{data}/hello.txt");
    let dir = std::env::temp_dir().join(format!("kgroup-seal-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sealed = dir.join("hello.asc");
    let sealed = sealed.to_str().unwrap();
    let out = kgroup(&[
        "seal",
        &hello,
        "--key",
        &key,
        "--to",
        &cert,
        "--output",
        sealed,
        "--overwrite",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = kgroup(&["open", sealed, "--key", &key, "--plaintext-only"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, std::fs::read(&hello).unwrap());
    let out = kgroup(&["open", "/nonexistent/x.asc", "--key", &key]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(one_line(&out.stderr), "{out:?}");
}
