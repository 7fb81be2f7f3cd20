//! `kgroup stanza decode|encode`: the stanza codec on the command line.
//!
//! `decode` reads one `<message/>` from stdin and prints its typed form as JSON (`--core`:
//! the core's view instead, the XEP-0033 recipients and the group stanza). It also reads an
//! encrypted stanza's inside as it comes out of the envelope: a bare `<xmpp/>` element, or
//! Kontalk's Message/CPIM around one (then the JSON is `{"cpim": {...}, "message": {...}}`).
//! `encode` reads the message JSON back and prints the XML, in the seed's shape or (with
//! `--profile android`) the Android client's. Bad input exits 1 with one line on stderr.

use std::process::ExitCode;

use clap::Subcommand;
use kgroup::codec::cpim::{self, Cpim};
use kgroup::codec::{Jid, Message, Profile};
use kgroup::Stanza;
use serde::Serialize;

use crate::output;

#[derive(Subcommand)]
pub enum StanzaCmd {
    /// Reads one XML `<message/>` (or a decrypted inside: `<xmpp/>`, or Message/CPIM around
    /// it) from stdin or each FILE, prints it as JSON; --stream reads every stanza of a log.
    Decode {
        /// Files to read, each one stanza (or with --stream, any number); `-` or none:
        /// stdin.
        files: Vec<std::path::PathBuf>,
        /// Read every top-level `<message/>` in the input (an XMPP console log, a capture,
        /// several stanzas), skipping what lies between; print one JSON line each. A bad
        /// stanza is reported with its file, line and column, and the rest are still read.
        #[arg(long)]
        stream: bool,
        /// Print the core's view: `{"recipients": [...], "stanza": {...}}`.
        #[arg(long)]
        core: bool,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Reads the message JSON that `decode` prints from stdin, prints the XML stanza.
    Encode {
        /// The shape to write: `seed` (the protocol page) or `android` (Kontalk's Android
        /// client, byte for byte).
        #[arg(long, value_enum, default_value = "seed")]
        profile: ProfileArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ProfileArg {
    Seed,
    Android,
}

/// What `decode` prints for a CPIM-wrapped inside.
#[derive(Serialize)]
struct Wrapped {
    cpim: Cpim,
    message: Message,
}

/// What `decode --core` prints.
#[derive(Serialize)]
struct CoreView {
    recipients: Vec<Jid>,
    stanza: Stanza<Jid>,
}

fn to_json<T: Serialize>(v: &T, pretty: bool) -> serde_json::Result<String> {
    if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    output::failed("stanza", msg)
}

/// A decoding error with its line and column (1-based, in characters) beside the byte
/// offset, and the input around it: `at line 3, column 7 (byte 41): ...; near "..."`.
fn located(input: &[u8], e: &kgroup::codec::DecodeError) -> String {
    let at = (e.offset as usize).min(input.len());
    let upto = &input[..at];
    let line = 1 + upto.iter().filter(|b| **b == b'\n').count();
    let start = upto.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&upto[start..]).chars().count();
    // The context: up to 40 bytes either side, on the error's line.
    let end = input[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(input.len(), |i| at + i);
    let from = start.max(at.saturating_sub(40));
    let to = end.min(at + 40);
    let near = String::from_utf8_lossy(&input[from..to]);
    format!(
        "at line {line}, column {column} (byte {}): {}; near {:?}",
        e.offset,
        e.kind,
        near.trim()
    )
}

/// One stanza's JSON, as `decode` prints it.
fn decode_one(input: &[u8], core: bool, pretty: bool) -> Result<String, String> {
    let payload = cpim::looks_like(input) || input.trim_ascii_start().starts_with(b"<xmpp");
    let decoded = if payload {
        Message::decode_payload_with_headers(input)
    } else {
        Message::decode(input).map(|m| (None, m))
    };
    let (headers, msg) = decoded.map_err(|e| located(input, &e))?;
    let text = if core {
        let (recipients, stanza) = msg.to_core().map_err(|e| e.to_string())?;
        to_json(&CoreView { recipients, stanza }, pretty)
    } else if let Some(cpim) = headers {
        to_json(&Wrapped { cpim, message: msg }, pretty)
    } else {
        to_json(&msg, pretty)
    };
    text.map_err(|e| e.to_string())
}

/// `decode --stream`: every `<message/>` of each input, one JSON line each; errors name the
/// file and are counted, and the exit is 1 if there was one.
fn decode_stream(inputs: &[(String, Vec<u8>)], core: bool) -> ExitCode {
    let (mut good, mut bad) = (0usize, 0usize);
    for (name, input) in inputs {
        for found in kgroup::codec::scan::messages(input) {
            let result = found.map_err(|e| located(input, &e)).and_then(|range| {
                decode_one(&input[range.clone()], core, false).map_err(|e| {
                    // Offsets inside the stanza, told in the whole input.
                    let line = 1 + input[..range.start].iter().filter(|b| **b == b'\n').count();
                    format!("stanza starting on line {line}: {e}")
                })
            });
            match result {
                Ok(json) => {
                    good += 1;
                    output::outln!("{json}");
                }
                Err(e) => {
                    bad += 1;
                    output::note(format_args!("kgroup stanza: {name}: {e}"));
                }
            }
        }
    }
    if good + bad == 0 {
        return fail("no <message/> stanza in the input");
    }
    if bad > 0 {
        output::note(format_args!("kgroup stanza: {good} decoded, {bad} refused"));
        return ExitCode::from(1);
    }
    output::done()
}

pub fn run(cmd: StanzaCmd) -> ExitCode {
    match cmd {
        StanzaCmd::Decode {
            files,
            stream,
            core,
            pretty,
        } => decode(&files, stream, core, pretty),
        StanzaCmd::Encode { profile } => encode(profile),
    }
}

/// `decode`: each input one stanza, or with `stream` every stanza in it.
fn decode(files: &[std::path::PathBuf], stream: bool, core: bool, pretty: bool) -> ExitCode {
    {
        let paths: Vec<Option<&std::path::Path>> = if files.is_empty() {
            vec![None]
        } else {
            files.iter().map(|p| Some(p.as_path())).collect()
        };
        let limit = if stream {
            crate::input::LOG_LIMIT
        } else {
            crate::input::STANZA_LIMIT
        };
        let mut inputs = Vec::new();
        for p in paths {
            match crate::input::read(p, limit) {
                Ok(bytes) => inputs.push((crate::input::name(p), bytes)),
                Err(e) => return fail(e),
            }
        }
        if stream {
            return decode_stream(&inputs, core);
        }
        for (name, input) in &inputs {
            match decode_one(input, core, pretty) {
                Ok(json) => output::outln!("{json}"),
                Err(e) if inputs.len() > 1 => return fail(format_args!("{name}: {e}")),
                Err(e) => return fail(e),
            }
        }
        output::done()
    }
}

/// `encode`: the message JSON on stdin to the XML stanza.
fn encode(profile: ProfileArg) -> ExitCode {
    let input = match crate::input::read(None, crate::input::STANZA_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => return fail(e),
    };
    let text = match serde_json::from_slice::<Message>(&input) {
        // What we print must be a stanza the decoder gives back unchanged: JSON can say
        // things XML cannot (an address with both `jid` and `uri`, a member with a
        // resource), and those are refused rather than printed. The Android shape
        // writes a command's fallback as its body, so there it is the XML that must
        // come back the same.
        Ok(m) => {
            let profile = match profile {
                ProfileArg::Seed => Profile::Seed,
                ProfileArg::Android => Profile::Android,
            };
            let xml = m.encode_with(profile);
            let same = |back: &Message| match profile {
                Profile::Seed => *back == m,
                Profile::Android => back.encode_with(profile) == xml,
            };
            match Message::decode(xml.as_bytes()) {
                Ok(back) if same(&back) => xml,
                Ok(_) => return fail("the JSON does not describe a canonical stanza"),
                Err(e) => {
                    return fail(format_args!(
                        "the JSON does not describe a valid stanza: {}",
                        e.kind
                    ))
                }
            }
        }
        Err(e) => return fail(format_args!("bad JSON: {e}")),
    };
    output::outln!("{text}");
    output::done()
}
