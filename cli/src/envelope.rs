//! `kgroup key new|export|import`, `kgroup seal` and `kgroup open`: the OpenPGP envelope
//! from the command line, in the manner of `sq`.
//!
//! Keys and messages are read armored or binary alike, and written ASCII-armored unless
//! `--binary` (as `sq` does; one flag with one meaning for keys and messages). Data comes
//! on stdin (`key export` and `key import` also take a FILE); results go to stdout or to
//! `--output FILE`, which is never overwritten without `--overwrite`. Every input is read
//! through a limit (see [`crate::input`]). A failure of the envelope is its typed error
//! ([`EnvelopeError`], one line) on stderr and exit 1.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use kgroup::codec::Jid;
use kgroup::envelope::{
    export_cert, export_secret, generate, import_cert, jid_of, open_with, seal, seal_kontalk,
    EncryptionKey, EnvelopeError, Keyring, Limits, Suite,
};
use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::crypto::mpi;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::types::PublicKeyAlgorithm;
use openpgp::Cert;
use serde::Serialize;

use crate::input::{self, KEYS_TOTAL, KEY_LIMIT, MESSAGE_LIMIT, PAYLOAD_LIMIT};
use crate::output::{self, outln};

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Generates a secret key bound to the JID (a certification primary key, a signing
    /// subkey, an encryption subkey), ASCII-armored unless --binary. It carries no
    /// passphrase: keep it like one.
    New {
        /// The bare JID the key is bound to.
        #[arg(long)]
        jid: String,
        /// The key suite. Here cv25519 (v4 keys: GnuPG 2.2 reads them), cv25519-v6 (RFC 9580),
        /// mlkem768-x25519 (post-quantum, v6) or kontalk (the Android client's: RSA-2048
        /// primary, P-256 subkeys, user id `Name <JID>`; the others name `xmpp:<JID>`).
        #[arg(long, default_value = "cv25519", value_parser = crate::parse_suite)]
        suite: Suite,
        #[command(flatten)]
        out: Out,
    },
    /// Reads a secret key (FILE or stdin) and writes its certificate: the public parts,
    /// what peers import. ASCII-armored unless --binary.
    Export {
        /// The secret key (armored or binary); stdin if omitted or `-`.
        file: Option<PathBuf>,
        #[command(flatten)]
        out: Out,
    },
    /// Reads a certificate or key (FILE or stdin) and says what it is: fingerprint, the JID
    /// it is bound to, suite and algorithms, and whether kgroup can seal to it and verify
    /// it. Exits 1 when it cannot.
    Import {
        /// The certificate (armored or binary); stdin if omitted or `-`.
        file: Option<PathBuf>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Where a result goes, and in which form.
#[derive(Args)]
pub struct Out {
    /// Write binary OpenPGP instead of ASCII armor.
    #[arg(long)]
    binary: bool,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace --output if it exists.
    #[arg(long, requires = "output")]
    overwrite: bool,
}

#[derive(Args)]
pub struct SealArgs {
    /// My secret key. The payload is signed with it.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The recipients' certificates: the payload is encrypted once, to all of them.
    #[arg(long, value_name = "CERT", required = true, num_args = 1..)]
    to: Vec<PathBuf>,
    /// Seal as Kontalk's clients do: AES-192, the signed message ZIP-compressed (what
    /// their keys and GnuPG read); otherwise AES-256, uncompressed.
    #[arg(long)]
    kontalk: bool,
    /// The payload to seal (`-` or none: stdin). Put it before --to, which takes
    /// several values.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    out: Out,
}

#[derive(Args)]
pub struct OpenArgs {
    /// My secret key. The message must be encrypted to it.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Certificates of the peers who may have signed it (mine is always known).
    #[arg(long, value_name = "CERT", num_args = 1..)]
    peers: Vec<PathBuf>,
    /// Write the plaintext's bytes alone, not the JSON object.
    #[arg(long)]
    plaintext_only: bool,
    /// The message to open, armored or binary (`-` or none: stdin). Put it before
    /// --peers, which takes several values.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace --output if it exists.
    #[arg(long, requires = "output")]
    overwrite: bool,
}

/// A failure with a one-line reason; exit 1.
struct Failure(String);

impl From<EnvelopeError> for Failure {
    fn from(e: EnvelopeError) -> Failure {
        Failure(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure(e)
    }
}

fn end(cmd: &str, r: Result<ExitCode, Failure>) -> ExitCode {
    r.unwrap_or_else(|Failure(e)| output::failed(cmd, e))
}

/// Reads one key or certificate file through [`KEY_LIMIT`] and what is left of `total`
/// (all the keys of one command together), and parses it.
fn read_cert(path: Option<&Path>, total: &mut u64) -> Result<Cert, Failure> {
    let limit = KEY_LIMIT.min(*total);
    let bytes = input::read(path, limit).map_err(|e| {
        if limit < KEY_LIMIT {
            format!(
                "{e} (the keys of one command: at most {} together)",
                crate::memory::human(KEYS_TOTAL)
            )
        } else {
            e
        }
    })?;
    *total -= bytes.len() as u64;
    import_cert(&bytes).map_err(|e| Failure(format!("{}: {e}", input::name(path))))
}

/// Writes `bytes` to `--output` (created, or replaced with `--overwrite`; secret keys
/// readable by the owner alone) or to stdout.
fn emit(output: Option<&Path>, overwrite: bool, secret: bool, bytes: &[u8]) -> Result<(), Failure> {
    let Some(path) = output else {
        output::write_stdout(bytes);
        return Ok(());
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            " (--overwrite to replace it)"
        } else {
            ""
        };
        format!("--output {}: {e}{hint}", path.display())
    })?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| Failure(format!("--output {}: {e}", path.display())))
}

fn armored(kind: armor::Kind, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut w = armor::Writer::new(Vec::new(), kind).map_err(|e| Failure(e.to_string()))?;
    w.write_all(bytes).map_err(|e| Failure(e.to_string()))?;
    w.finalize().map_err(|e| Failure(e.to_string()))
}

pub fn key(cmd: KeyCmd) -> ExitCode {
    match cmd {
        KeyCmd::New { jid, suite, out } => {
            let jid = match Jid::new_bare(&jid) {
                Ok(j) => j,
                Err(e) => return output::usage("key new", format_args!("--jid `{jid}`: {e}")),
            };
            end("key new", key_new(jid.as_str(), suite, &out))
        }
        KeyCmd::Export { file, out } => end("key export", key_export(file.as_deref(), &out)),
        KeyCmd::Import { file, json } => end("key import", key_import(file.as_deref(), json)),
    }
}

fn key_new(jid: &str, suite: Suite, out: &Out) -> Result<ExitCode, Failure> {
    let cert = generate(jid, suite)?;
    let bytes = if out.binary {
        cert.as_tsk()
            .to_vec()
            .map_err(|e| Failure(format!("cannot serialize the key: {e}")))?
    } else {
        export_secret(&cert)?.into_bytes()
    };
    emit(out.output.as_deref(), out.overwrite, true, &bytes)?;
    Ok(output::done())
}

fn key_export(file: Option<&Path>, out: &Out) -> Result<ExitCode, Failure> {
    let cert = read_cert(file, &mut { KEYS_TOTAL })?;
    let bytes = if out.binary {
        cert.strip_secret_key_material()
            .to_vec()
            .map_err(|e| Failure(format!("cannot serialize the certificate: {e}")))?
    } else {
        export_cert(&cert)?.into_bytes()
    };
    emit(out.output.as_deref(), out.overwrite, false, &bytes)?;
    Ok(output::done())
}

/// What `key import` says about one (sub)key.
#[derive(Serialize)]
struct KeyInfo {
    fingerprint: String,
    version: u8,
    algorithm: String,
    /// certify, sign, encrypt, authenticate: what its binding says, under the standard
    /// policy now (empty if the certificate is not valid now).
    flags: Vec<&'static str>,
    secret: bool,
}

/// What `key import` says about a certificate.
#[derive(Serialize)]
struct CertInfo {
    fingerprint: String,
    /// The bare JID of its first `xmpp:` user id.
    jid: Option<String>,
    /// The kgroup suite its algorithms and version make, if any.
    suite: Option<&'static str>,
    secret: bool,
    keys: Vec<KeyInfo>,
    /// The encryption keys kgroup seals to for it.
    encryption_keys: Vec<String>,
    /// Whether kgroup's keyring accepts it (an `xmpp:` identity, a usable encryption key).
    usable: bool,
    /// Why not, if it is not.
    problem: Option<String>,
}

fn algorithm(key: &Key<PublicParts, UnspecifiedRole>) -> String {
    match key.mpis() {
        mpi::PublicKey::EdDSA { curve, .. }
        | mpi::PublicKey::ECDSA { curve, .. }
        | mpi::PublicKey::ECDH { curve, .. } => format!("{}/{curve}", key.pk_algo()),
        _ => key.pk_algo().to_string(),
    }
}

/// The suite whose keys these are: every key of the same version and algorithms.
fn suite_of(cert: &Cert) -> Option<&'static str> {
    use PublicKeyAlgorithm as A;
    let keys: Vec<_> = cert
        .keys()
        .map(|ka| {
            (
                ka.key().version(),
                ka.key().pk_algo(),
                ka.key().mpis().clone(),
            )
        })
        .collect();
    let all =
        |f: &dyn Fn(u8, A, &mpi::PublicKey) -> bool| keys.iter().all(|(v, a, m)| f(*v, *a, m));
    if all(&|v, _, m| {
        v == 4
            && matches!(
                m,
                mpi::PublicKey::EdDSA {
                    curve: openpgp::types::Curve::Ed25519,
                    ..
                } | mpi::PublicKey::ECDH {
                    curve: openpgp::types::Curve::Cv25519,
                    ..
                }
            )
    }) {
        Some(Suite::Cv25519.name())
    } else if all(&|v, a, _| v == 6 && matches!(a, A::Ed25519 | A::X25519)) {
        Some(Suite::Cv25519V6.name())
    } else if all(&|v, a, _| v == 6 && matches!(a, A::MLDSA65_Ed25519 | A::MLKEM768_X25519)) {
        Some(Suite::MlKem768X25519.name())
    } else if keys.len() > 1
        && keys[0].0 == 4
        && matches!(keys[0].2, mpi::PublicKey::RSA { .. })
        && keys[1..].iter().all(|(v, _, m)| {
            use openpgp::types::Curve::NistP256;
            *v == 4
                && matches!(
                    m,
                    mpi::PublicKey::ECDSA {
                        curve: NistP256,
                        ..
                    } | mpi::PublicKey::ECDH {
                        curve: NistP256,
                        ..
                    }
                )
        })
    {
        Some(Suite::Kontalk.name())
    } else {
        None
    }
}

fn describe(cert: &Cert) -> CertInfo {
    let policy = StandardPolicy::new();
    let valid = cert.with_policy(&policy, None).ok();
    let keys = cert
        .keys()
        .map(|ka| {
            let mut flags = Vec::new();
            if let Some(vka) = valid
                .as_ref()
                .and_then(|vc| vc.keys().key_handle(ka.key().fingerprint()).next())
            {
                if vka.alive().is_ok() {
                    for (on, name) in [
                        (vka.for_certification(), "certify"),
                        (vka.for_signing(), "sign"),
                        (
                            vka.for_transport_encryption() || vka.for_storage_encryption(),
                            "encrypt",
                        ),
                        (vka.for_authentication(), "authenticate"),
                    ] {
                        if on {
                            flags.push(name);
                        }
                    }
                }
            }
            let key = ka.key().clone().parts_into_public().role_into_unspecified();
            KeyInfo {
                fingerprint: key.fingerprint().to_hex(),
                version: key.version(),
                algorithm: algorithm(&key),
                flags,
                secret: ka.key().has_secret(),
            }
        })
        .collect();
    // kgroup's own judgement: what a keyring makes of it (a throw-away key of mine to
    // hold it; `Keyring::add` is what `seal` and `open` use).
    let judged = Keyring::generate("key-import@localhost", Suite::Cv25519).and_then(|mut ring| {
        ring.add(cert.clone()).map(|peer| {
            peer.encryption
                .iter()
                .map(|k| k.fingerprint().to_hex())
                .collect::<Vec<_>>()
        })
    });
    let (encryption_keys, problem) = match judged {
        Ok(keys) if keys.is_empty() => (keys, Some("no usable encryption key".to_string())),
        Ok(keys) => (keys, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    CertInfo {
        fingerprint: cert.fingerprint().to_hex(),
        jid: jid_of(cert),
        suite: suite_of(cert),
        secret: cert.is_tsk(),
        keys,
        encryption_keys,
        usable: problem.is_none(),
        problem,
    }
}

fn key_import(file: Option<&Path>, json: bool) -> Result<ExitCode, Failure> {
    let cert = read_cert(file, &mut { KEYS_TOTAL })?;
    let info = describe(&cert);
    let code = output::finish("key import", json, &info, info.usable, || {
        outln!("fingerprint: {}", info.fingerprint);
        outln!(
            "jid:         {}",
            info.jid.as_deref().unwrap_or("(none: no xmpp: user id)")
        );
        outln!(
            "suite:       {}",
            info.suite.unwrap_or("(not a kgroup suite)")
        );
        outln!("secret:      {}", if info.secret { "yes" } else { "no" });
        for k in &info.keys {
            outln!(
                "  v{} {:<28} {}  {}{}",
                k.version,
                k.algorithm,
                k.fingerprint,
                if k.flags.is_empty() {
                    "(not usable now)".to_string()
                } else {
                    k.flags.join(",")
                },
                if k.secret { ", secret" } else { "" }
            );
        }
        outln!(
            "kgroup:      {}",
            match &info.problem {
                None => format!("usable ({} encryption key(s))", info.encryption_keys.len()),
                Some(p) => format!("NOT usable: {p}"),
            }
        );
    });
    if let Some(p) = &info.problem {
        output::note(format_args!("kgroup key import: {p}"));
    }
    Ok(code)
}

/// My keyring from `--key`, with the certificates of `peers` added; returns the JID and
/// encryption keys of each peer, in order (empty for a certificate that has none: it can
/// still verify a signature).
type PeerKeys = Vec<(String, Vec<EncryptionKey>)>;

fn keyring(key: &Path, peers: &[PathBuf]) -> Result<(Keyring, PeerKeys), Failure> {
    let mut total = KEYS_TOTAL;
    let mine = read_cert(Some(key), &mut total)?;
    if !mine.is_tsk() {
        return Err(Failure(format!(
            "--key {}: a certificate, not a secret key",
            key.display()
        )));
    }
    let mut ring =
        Keyring::new(mine).map_err(|e| Failure(format!("--key {}: {e}", key.display())))?;
    let mut keys = Vec::with_capacity(peers.len());
    for path in peers {
        let cert = read_cert(Some(path), &mut total)?;
        let peer = ring
            .add(cert)
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
        keys.push((peer.jid.clone(), peer.encryption.clone()));
    }
    Ok((ring, keys))
}

pub fn seal_cmd(args: SealArgs) -> ExitCode {
    end("seal", seal_run(&args))
}

fn seal_run(args: &SealArgs) -> Result<ExitCode, Failure> {
    let (ring, keys) = keyring(&args.key, &args.to)?;
    for (path, (jid, keys)) in args.to.iter().zip(&keys) {
        if keys.is_empty() {
            let e = EnvelopeError::UnknownRecipient(jid.clone());
            return Err(Failure(format!("{}: {e}", path.display())));
        }
    }
    let payload = input::read(args.input.as_deref(), PAYLOAD_LIMIT)?;
    let recipients: Vec<&EncryptionKey> = keys.iter().flat_map(|(_, k)| k).collect();
    let sealed = if args.kontalk {
        seal_kontalk(&ring, &recipients, &payload)?
    } else {
        seal(&ring, &recipients, &payload)?
    };
    let bytes = if args.out.binary {
        sealed
    } else {
        armored(armor::Kind::Message, &sealed)?
    };
    emit(
        args.out.output.as_deref(),
        args.out.overwrite,
        false,
        &bytes,
    )?;
    Ok(output::done())
}

/// What `open` prints.
#[derive(Serialize)]
struct Opened {
    signer: Signer,
    /// `utf-8`: `plaintext` is the text; `base64`: it is the bytes in standard base64.
    encoding: &'static str,
    bytes: usize,
    plaintext: String,
}

#[derive(Serialize)]
struct Signer {
    fingerprint: String,
    jid: String,
}

/// The binary message in `bytes`, dearmored if it is ASCII armor.
fn dearmor(bytes: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(b"-----BEGIN PGP ") {
        return Ok(bytes);
    }
    let mut reader = armor::Reader::from_bytes(
        &bytes[start..],
        armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
    );
    let mut binary = Vec::new();
    reader
        .read_to_end(&mut binary)
        .map_err(|e| EnvelopeError::Malformed(format!("bad ASCII armor: {e}")))?;
    Ok(binary)
}

pub fn open_cmd(args: OpenArgs) -> ExitCode {
    end("open", open_run(&args))
}

fn open_run(args: &OpenArgs) -> Result<ExitCode, Failure> {
    let (ring, _) = keyring(&args.key, &args.peers)?;
    let message = dearmor(input::read(args.input.as_deref(), MESSAGE_LIMIT)?)?;
    // What `kgroup seal` accepts, `kgroup open` gives back: the plaintext limit is the
    // payload limit (the library's default is a stanza's 256 KiB).
    let limits = Limits {
        max_plaintext: PAYLOAD_LIMIT as usize,
        ..Limits::default()
    };
    let opened = open_with(&ring, &message, &limits, std::time::SystemTime::now())?;
    if args.plaintext_only {
        emit(
            args.output.as_deref(),
            args.overwrite,
            false,
            &opened.plaintext,
        )?;
        return Ok(output::done());
    }
    let bytes = opened.plaintext.len();
    let (encoding, plaintext) = match String::from_utf8(opened.plaintext) {
        Ok(text) => ("utf-8", text),
        Err(e) => (
            "base64",
            base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
        ),
    };
    let report = Opened {
        signer: Signer {
            fingerprint: opened.signer.fingerprint.to_hex(),
            jid: opened.signer.jid,
        },
        encoding,
        bytes,
        plaintext,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| Failure(format!("cannot encode the result: {e}")))?;
    emit(
        args.output.as_deref(),
        args.overwrite,
        false,
        format!("{json}\n").as_bytes(),
    )?;
    Ok(output::done())
}
