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
    /// it) from stdin, prints it as JSON.
    Decode {
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
/// offset: `at line 3, column 7 (byte 41): ...`.
fn located(input: &[u8], e: &kgroup::codec::DecodeError) -> String {
    let upto = input.get(..e.offset as usize).unwrap_or(input);
    let line = 1 + upto.iter().filter(|b| **b == b'\n').count();
    let start = upto.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&upto[start..]).chars().count();
    format!(
        "at line {line}, column {column} (byte {}): {}",
        e.offset, e.kind
    )
}

pub fn run(cmd: StanzaCmd) -> ExitCode {
    let input = match crate::input::read(None, crate::input::STANZA_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => return fail(e),
    };
    let text = match cmd {
        StanzaCmd::Decode { core, pretty } => {
            let payload =
                cpim::looks_like(&input) || input.trim_ascii_start().starts_with(b"<xmpp");
            let decoded = if payload {
                Message::decode_payload_with_headers(&input)
            } else {
                Message::decode(&input).map(|m| (None, m))
            };
            let (headers, msg) = match decoded {
                Ok(d) => d,
                Err(e) => return fail(located(&input, &e)),
            };
            let text = if core {
                match msg.to_core() {
                    Ok((recipients, stanza)) => to_json(&CoreView { recipients, stanza }, pretty),
                    Err(e) => return fail(e),
                }
            } else if let Some(cpim) = headers {
                to_json(&Wrapped { cpim, message: msg }, pretty)
            } else {
                to_json(&msg, pretty)
            };
            match text {
                Ok(t) => t,
                Err(e) => return fail(e),
            }
        }
        StanzaCmd::Encode { profile } => match serde_json::from_slice::<Message>(&input) {
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
        },
    };
    output::outln!("{text}");
    output::done()
}
