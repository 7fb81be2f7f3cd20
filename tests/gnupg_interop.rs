//! Interop with a real OpenPGP peer: GnuPG decrypts and verifies what kgroup sealed for
//! each recipient, and kgroup opens and verifies what GnuPG signed and encrypted to several
//! recipients. `gpg` must be installed (`.ci/run` installs Debian's `gnupg`); without it
//! these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use kgroup::envelope::{export_cert, export_secret, open, seal_to, Keyring, Suite};

/// A throw-away GNUPGHOME; the agent it started is stopped and the directory removed on drop.
struct GpgHome {
    dir: PathBuf,
}

impl GpgHome {
    fn new(tag: &str) -> GpgHome {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        // Short path: the agent's socket path must fit in sun_path.
        let dir = std::env::temp_dir().join(format!("kg-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("GNUPGHOME");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        GpgHome { dir }
    }

    fn gpg(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("gpg");
        cmd.arg("--homedir")
            .arg(&self.dir)
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("`gpg` is required for the interop tests (apt-get install gnupg): {e}")
        });
        if let Some(input) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input).expect("write to gpg");
        }
        child.wait_with_output().expect("gpg ran")
    }

    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let out = self.gpg(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Writes `message` to a file in this home and has GnuPG decrypt it, which must
    /// succeed: returns the plaintext and GnuPG's status lines.
    fn decrypt(&self, name: &str, message: &[u8]) -> (Vec<u8>, String) {
        let file = self.path(name);
        write(&file, message);
        let out = self.ok(
            &[
                "--status-fd",
                "2",
                "--decrypt",
                file.to_str().expect("utf-8 path"),
            ],
            None,
        );
        (
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn import(&self, armored: &str) {
        self.ok(&["--import"], Some(armored.as_bytes()));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
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

fn status_lines(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
}

const MEMBERS: [&str; 3] = [
    "alice@beta.kontalk.net",
    "bob@beta.kontalk.net",
    "charlie@beta.kontalk.net",
];

#[test]
fn gnupg_decrypts_and_verifies_what_kgroup_sealed_for_each_recipient() {
    let mut owner = Keyring::generate("david@beta.kontalk.net", Suite::Cv25519).unwrap();
    let members: Vec<Keyring> = MEMBERS
        .iter()
        .map(|j| Keyring::generate(j, Suite::Cv25519).unwrap())
        .collect();
    for m in &members {
        owner.add(m.me().cert.clone()).unwrap();
    }
    let payload = b"<group xmlns='http://kontalk.org/extensions/message#group' id='g' \
        owner='david@beta.kontalk.net' type='create'/><body>hello</body>";
    let sealed = seal_to(&owner, &MEMBERS, payload).unwrap();
    let owner_public = export_cert(owner.my_secret_cert()).unwrap();
    let signing_fpr = owner
        .my_secret_cert()
        .keys()
        .subkeys()
        .find(|k| {
            k.key().pk_algo() == sequoia_openpgp::types::PublicKeyAlgorithm::EdDSA
                || k.key().pk_algo() == sequoia_openpgp::types::PublicKeyAlgorithm::Ed25519
        })
        .map(|k| k.key().fingerprint().to_hex())
        .expect("signing subkey");

    for (jid, member) in MEMBERS.iter().zip(&members) {
        let home = GpgHome::new("dec");
        home.import(&export_secret(member.my_secret_cert()).unwrap());
        home.import(&owner_public);
        let (plaintext, status) = home.decrypt("sealed.pgp", &sealed);
        assert_eq!(plaintext, payload, "{jid}: plaintext");
        assert!(
            status.contains("[GNUPG:] DECRYPTION_OKAY"),
            "{jid}: {status}"
        );
        assert!(status.contains("[GNUPG:] GOODSIG"), "{jid}: {status}");
        assert!(
            status.contains(&format!("[GNUPG:] VALIDSIG {signing_fpr}")),
            "{jid}: signed by the owner's signing key: {status}"
        );
        // A v4 EdDSA (22) signature over SHA-256 (8) of a binary document (00).
        assert!(status.contains(" 4 0 22 8 00 "), "{jid}: {status}");
        assert!(!status.contains("BADSIG"), "{jid}: {status}");
    }

    // A non-recipient's GnuPG cannot decrypt it.
    let outsider = Keyring::generate("mallory@beta.kontalk.net", Suite::Cv25519).unwrap();
    let home = GpgHome::new("out");
    home.import(&export_secret(outsider.my_secret_cert()).unwrap());
    let file = home.path("sealed.pgp");
    write(&file, &sealed);
    let out = home.gpg(&["--decrypt", file.to_str().expect("utf-8 path")], None);
    assert!(!out.status.success(), "{}", status_lines(&out));
}

#[test]
fn gnupg_reads_what_the_direct_writer_sealed_for_five_recipients_up_to_64_kib() {
    // `seal` writes the PKESKs and the SEIPD v1 packet itself for v4 keys: every length
    // form of the literal packet and of the container (one, two and five octets), up to
    // a 64 KiB payload, read by GnuPG for the first and the last of five recipients.
    let jids: Vec<String> = (0..5).map(|i| format!("m{i}@beta.kontalk.net")).collect();
    let mut owner = Keyring::generate("david@beta.kontalk.net", Suite::Cv25519).unwrap();
    let members: Vec<Keyring> = jids
        .iter()
        .map(|j| Keyring::generate(j, Suite::Cv25519).unwrap())
        .collect();
    for m in &members {
        owner.add(m.me().cert.clone()).unwrap();
    }
    let owner_public = export_cert(owner.my_secret_cert()).unwrap();
    let homes: Vec<(usize, GpgHome)> = [0, 4]
        .into_iter()
        .map(|i| {
            let home = GpgHome::new("big");
            home.import(&export_secret(members[i].my_secret_cert()).unwrap());
            home.import(&owner_public);
            (i, home)
        })
        .collect();
    for size in [0, 100, 185, 186, 8130, 8377, 8378, 65536] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        let sealed = seal_to(&owner, &jids, &payload).unwrap();
        for (i, home) in &homes {
            let (plaintext, status) = home.decrypt("sealed.pgp", &sealed);
            let who = format!("member {i}, {size} bytes");
            assert!(plaintext == payload, "{who}: plaintext");
            for line in [
                "[GNUPG:] DECRYPTION_OKAY",
                "[GNUPG:] GOODMDC",
                "[GNUPG:] GOODSIG",
                "[GNUPG:] VALIDSIG",
            ] {
                assert!(status.contains(line), "{who}: no {line}: {status}");
            }
            // The MDC (method 2) with AES-256 (9); a v4 EdDSA (22) signature over
            // SHA-256 (8) of a binary document (00).
            assert!(
                status.contains("[GNUPG:] DECRYPTION_INFO 2 9"),
                "{who}: {status}"
            );
            assert!(status.contains(" 4 0 22 8 00 "), "{who}: {status}");
            assert!(!status.contains("BADSIG"), "{who}: {status}");
        }
    }
}

#[test]
fn kgroup_opens_and_verifies_what_gnupg_encrypted_to_several_recipients() {
    // GnuPG's own key, made by GnuPG, bound to an xmpp: identity.
    let home = GpgHome::new("enc");
    let uid = "xmpp:gpguser@beta.kontalk.net";
    home.ok(&["--quick-gen-key", uid, "ed25519", "sign", "never"], None);
    let listing = status_lines(&home.ok(&["--with-colons", "--list-secret-keys", uid], None));
    let fpr = listing
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("gpg fingerprint");
    home.ok(&["--quick-add-key", &fpr, "cv25519", "encr", "never"], None);
    let gpg_public = status_lines(&home.ok(&["--armor", "--export", &fpr], None));

    let mut members: Vec<Keyring> = MEMBERS
        .iter()
        .map(|j| Keyring::generate(j, Suite::Cv25519).unwrap())
        .collect();
    let mut recipients = Vec::new();
    for m in &mut members {
        let peer = m
            .import(gpg_public.as_bytes())
            .expect("import GnuPG's certificate");
        assert_eq!(peer.jid, "gpguser@beta.kontalk.net");
        home.import(&export_cert(m.my_secret_cert()).unwrap());
        recipients.push("--recipient".to_string());
        recipients.push(m.me().fingerprint().to_hex());
    }

    let payload = b"<group xmlns='http://kontalk.org/extensions/message#group' id='g' \
        owner='gpguser@beta.kontalk.net'/><body>from GnuPG</body>";
    let mut args: Vec<&str> = vec!["--trust-model", "always", "--local-user", &fpr];
    args.extend(recipients.iter().map(String::as_str));
    args.extend(["--sign", "--encrypt"]);
    let sealed = home.ok(&args, Some(payload)).stdout;
    assert!(!sealed.is_empty());

    for (jid, m) in MEMBERS.iter().zip(&members) {
        let opened = open(m, &sealed).unwrap_or_else(|e| panic!("{jid}: {e}"));
        assert_eq!(opened.plaintext, payload, "{jid}");
        assert_eq!(opened.signer.jid, "gpguser@beta.kontalk.net", "{jid}");
        assert_eq!(opened.signer.fingerprint.to_hex(), fpr, "{jid}");
        assert_eq!(
            kgroup::envelope::open_stock(m, &sealed).expect("stock"),
            opened
        );
    }

    // And back: a kgroup member seals a reply to GnuPG's own key (GnuPG's ECDH
    // parameters, not sequoia's), which GnuPG decrypts and verifies.
    let reply = b"<body>reply from alice</body>";
    let sealed = seal_to(&members[0], &["gpguser@beta.kontalk.net"], reply).unwrap();
    let (plaintext, status) = home.decrypt("reply.pgp", &sealed);
    assert_eq!(plaintext, reply);
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");

    // GnuPG signed but did not encrypt: refused as not encrypted.
    let signed_only = home
        .ok(&["--local-user", &fpr, "--sign"], Some(payload))
        .stdout;
    assert_eq!(
        open(&members[0], &signed_only),
        Err(kgroup::envelope::EnvelopeError::NotEncrypted)
    );
}
