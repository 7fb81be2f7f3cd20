//! Interop with a real OpenPGP peer: GnuPG decrypts and verifies what kgroup sealed for
//! each recipient, and kgroup opens and verifies what GnuPG signed and encrypted to several
//! recipients. `gpg` must be installed (`.ci/run` installs Debian's `gnupg`); without it
//! these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use kgroup::codec::Jid;
use kgroup::envelope::{export_cert, export_secret, open, seal_to, Keyring, Suite};
use kgroup::{Client, Config, Dialect};

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

    /// The fingerprint of the secret key with user id `uid`.
    fn fingerprint(&self, uid: &str) -> String {
        let listing = status_lines(&self.ok(&["--with-colons", "--list-secret-keys", uid], None));
        listing
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("gpg fingerprint")
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
    let fpr = home.fingerprint(uid);
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

// ---- Kontalk's Android client's keys and messages -------------------------------------

/// The members of the Kontalk-shaped group: alice owns it.
const KONTALK: [&str; 4] = [
    "alice@kontalk.test",
    "bob@kontalk.test",
    "carol@kontalk.test",
    "dave@kontalk.test",
];

/// A key as the Android client makes it (androidclient `crypto/PGP.create`): RSA-2048
/// primary for certification and authentication, P-256 ECDSA signing and P-256 ECDH
/// encryption subkeys, user id `Name <jid>`. Made by GnuPG; returns its fingerprint.
fn kontalk_key(home: &GpgHome, jid: &str) -> String {
    let name = jid.split('@').next().expect("a localpart");
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
    fpr
}

/// The Message/CPIM plaintext exactly as the Android client builds it around a group
/// command (client-common-java `CPIMMessage.toString`; androidclient
/// `PGPCoder.encryptStanza`, `KontalkGroupController.beforeEncryption`), written out here
/// independently of kgroup's writer.
fn android_cpim(from: &str, to: &[&str], id: &str, group: &str) -> Vec<u8> {
    let uid = |jid: &str| format!("{} <{jid}>", jid.split('@').next().unwrap_or(jid));
    let to: Vec<String> = to.iter().map(|j| uid(j)).collect();
    format!(
        "Content-type: Message/CPIM\n\nFrom: {}\nTo: {}\nDateTime: 2020-04-13T11:06:40+00:00\n\n\
         Content-type: application/xmpp+xml; charset=utf-8\n\n\
         <xmpp xmlns='jabber:client'><message xmlns='jabber:client' id='{id}' type='chat'>{group}\
         <body>This is a group chat message. You&apos;re using an old version of Kontalk or your \
         client doesn&apos;t support the group chat protocol. Please upgrade to the latest \
         version!</body></message></xmpp>",
        uid(from),
        to.join("; ")
    )
    .into_bytes()
}

fn android_create(owner: &str, members: &[&str]) -> String {
    let mut g = format!(
        "<group xmlns='http://kontalk.org/extensions/message#group' id='Qm3xT9aLk2PzR7vB1cYw' \
         owner='{owner}' type='create'><subject>Trip</subject>"
    );
    for m in members {
        g.push_str(&format!("<member jid='{m}'/>"));
    }
    g.push_str("</group>");
    g
}

/// GnuPG makes Kontalk-shaped keys (RSA-2048, P-256), signs with SHA-256, ZIP-compresses and
/// AES-192-encrypts an Android-built CPIM create to three members; each member's kgroup
/// opens the Android outer stanza, reads the CPIM headers, and its core applies the create.
#[test]
fn kgroup_opens_an_android_create_that_gnupg_sealed_with_kontalks_algorithms() {
    let home = GpgHome::new("ktk");
    let fprs: Vec<String> = KONTALK.iter().map(|j| kontalk_key(&home, j)).collect();
    let members = &KONTALK[1..];
    let plaintext = android_cpim(
        KONTALK[0],
        members,
        "h7Gk2LmQ9xZpR4tWbN8cVf1sJd6yAe",
        &android_create(KONTALK[0], &members[..2]),
    );
    let mut args: Vec<&str> = vec![
        "--trust-model",
        "always",
        "--local-user",
        &fprs[0],
        "--cipher-algo",
        "AES192",
        "--compress-algo",
        "zip",
        "--digest-algo",
        "SHA256",
    ];
    for f in &fprs[1..] {
        args.extend(["--recipient", f]);
    }
    args.extend(["--sign", "--encrypt"]);
    let sealed = home.ok(&args, Some(&plaintext)).stdout;
    // What GnuPG wrote: AES-192 (8) with an MDC (2), ZIP (algorithm 1).
    let (_, status) = home.decrypt("android.pgp", &sealed);
    assert!(status.contains("[GNUPG:] DECRYPTION_INFO 2 8"), "{status}");
    let packets = status_lines(&home.ok(
        &[
            "--list-packets",
            &home.path("android.pgp").to_string_lossy(),
        ],
        None,
    ));
    assert!(packets.contains("compressed packet: algo=1"), "{packets}");

    let outer = format!(
        "<message xmlns='jabber:client' to='bob@kontalk.test' from='alice@kontalk.test/phone' \
         id='h7Gk2LmQ9xZpR4tWbN8cVf1sJd6yAe' type='chat'><body>(encrypted)</body>\
         <e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>{}</e2e>\
         <active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        base64::engine::general_purpose::STANDARD.encode(&sealed)
    );
    let secret = |fpr: &str| {
        home.ok(&["--armor", "--export-secret-keys", fpr], None)
            .stdout
    };
    let public = |fpr: &str| home.ok(&["--armor", "--export", fpr], None).stdout;
    for (i, jid) in members.iter().enumerate() {
        let cert =
            kgroup::envelope::import_cert(&secret(&fprs[i + 1])).expect("GnuPG's secret key");
        let mut ring = Keyring::new(cert).unwrap_or_else(|e| panic!("{jid}: {e}"));
        assert_eq!(
            ring.me().uid,
            format!("{} <{jid}>", jid.split('@').next().unwrap_or(jid))
        );
        ring.import(&public(&fprs[0])).expect("alice's certificate");
        let got = kgroup::wire::open_stanza(outer.as_bytes(), &ring)
            .unwrap_or_else(|e| panic!("{jid}: {e}"));
        assert_eq!(got.sender.as_str(), KONTALK[0], "{jid}");
        let cpim = got.cpim.as_ref().expect("CPIM headers");
        assert_eq!(cpim.from.as_deref(), Some("alice <alice@kontalk.test>"));
        assert!(cpim.to.iter().any(|t| t.contains(jid)), "{jid}: {cpim:?}");
        // The fallback body is not a message.
        assert_eq!(got.stanza.body, None);
        // The `android` core applies it as the Android client would. Bob and Carol are
        // listed; Dave received it unlisted and, as the Android client does, takes it all
        // the same. The `kontalk` core refuses it at Dave's.
        let me: Jid = jid.parse().expect("a JID");
        for dialect in [Dialect::Android, Dialect::Kontalk] {
            let mut client = Client::new(me.clone(), Config::new(dialect));
            let mut out = Vec::new();
            client.receive(got.sender.clone(), got.stanza.clone(), 0, &mut out);
            let view = out.iter().find_map(|o| match o {
                kgroup::Output::Changed { view, .. } => Some(view),
                _ => None,
            });
            if i < 2 || dialect == Dialect::Android {
                let view = view.unwrap_or_else(|| panic!("{dialect} {jid}: {out:?}"));
                assert_eq!(view.subject.as_deref(), Some("Trip"));
                assert_eq!(view.status, kgroup::Status::Member);
                for m in &members[..2] {
                    assert!(
                        view.members.iter().any(|v| v.as_str() == *m),
                        "{jid}: {view:?}"
                    );
                }
            } else {
                assert!(view.is_none(), "{dialect} {jid}: {out:?}");
            }
        }
    }
}

/// The other way: an owner with a kgroup-made Kontalk key (RSA-2048, P-256) seals a create
/// in the `android` profile to three GnuPG-made Kontalk keys. GnuPG decrypts and verifies
/// it, finds AES-192 and ZIP, and the plaintext is the Android client's, byte for byte.
#[test]
fn gnupg_reads_what_kgroup_seals_in_the_android_profile() {
    let home = GpgHome::new("ktk2");
    let members = &KONTALK[1..];
    let fprs: Vec<String> = members.iter().map(|j| kontalk_key(&home, j)).collect();
    let mut owner = Keyring::generate(KONTALK[0], Suite::Kontalk).expect("a Kontalk key");
    assert_eq!(owner.me().uid, "alice <alice@kontalk.test>");
    for f in &fprs {
        let public = home.ok(&["--armor", "--export", f], None).stdout;
        owner
            .import(&public)
            .expect("a GnuPG-made Kontalk certificate");
    }
    home.import(&export_cert(owner.my_secret_cert()).unwrap());

    let jid = |j: &str| -> Jid { j.parse().expect("a JID") };
    let create = kgroup::Stanza {
        group: kgroup::GroupKey::new("Qm3xT9aLk2PzR7vB1cYw", jid(KONTALK[0])),
        command: kgroup::Command::Create {
            subject: Some("Trip".into()),
            members: members[..2].iter().map(|m| jid(m)).collect(),
        },
        body: None,
        ext: None,
    };
    let out = kgroup::Outgoing {
        to: members.iter().map(|m| jid(m)).collect(),
        stanza: std::sync::Arc::new(create),
        resent: false,
    };
    let id = "h7Gk2LmQ9xZpR4tWbN8cVf1sJd6yAe";
    let xml = kgroup::wire::seal_android(&out, &jid(KONTALK[0]), &owner, id, 1_586_776_000)
        .expect("sealed");
    // The outer stanza as the Android client sends it.
    let e2e = xml
        .split("<e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>")
        .nth(1)
        .and_then(|r| r.split("</e2e>").next())
        .expect("an envelope");
    let addresses: String = members
        .iter()
        .map(|m| format!("<address type='to' jid='{m}'/>"))
        .collect();
    assert_eq!(
        xml,
        format!(
            "<message xmlns='jabber:client' to='multicast@kontalk.test' id='{id}' type='chat'>\
             <body>(encrypted)</body><e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'>{e2e}</e2e>\
             <addresses xmlns='http://jabber.org/protocol/address'>{addresses}</addresses>\
             <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )
    );

    let sealed = kgroup::wire::envelope_of(xml.as_bytes()).expect("the envelope");
    let (plaintext, status) = home.decrypt("kgroup-android.pgp", &sealed);
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
    assert!(
        status.contains("[GNUPG:] DECRYPTION_INFO 2 8"),
        "AES-192 with MDC: {status}"
    );
    let packets = status_lines(&home.ok(
        &[
            "--list-packets",
            &home.path("kgroup-android.pgp").to_string_lossy(),
        ],
        None,
    ));
    assert!(
        packets.contains("compressed packet: algo=1"),
        "ZIP: {packets}"
    );
    // Signed by the P-256 signing subkey, over SHA-256 (algorithms 19 and 8).
    assert!(status.contains(" 0 19 8 00 "), "{status}");
    let expected = android_cpim(
        KONTALK[0],
        members,
        id,
        &android_create(KONTALK[0], &members[..2]),
    );
    assert_eq!(
        String::from_utf8_lossy(&plaintext),
        String::from_utf8_lossy(&expected)
    );
}
