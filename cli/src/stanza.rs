//! `kgroup stanza decode|encode`: the stanza codec on the command line.
//!
//! `decode` reads one `<message/>` from stdin and prints its typed form as JSON (`--core`:
//! the core's view instead, the XEP-0033 recipients and the group stanza); `encode` reads
//! that JSON back and prints the XML. Bad input exits 1 with one line on stderr.

use std::process::ExitCode;

use clap::Subcommand;
use kgroup::codec::{Jid, Message};
use kgroup::Stanza;
use serde::Serialize;

use crate::output;

#[derive(Subcommand)]
pub enum StanzaCmd {
    /// Reads one XML `<message/>` from stdin, prints it as JSON.
    Decode {
        /// Print the core's view: `{"recipients": [...], "stanza": {...}}`.
        #[arg(long)]
        core: bool,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Reads the JSON that `decode` prints from stdin, prints the XML stanza.
    Encode,
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

pub fn run(cmd: StanzaCmd) -> ExitCode {
    let input = match crate::input::read(None, crate::input::STANZA_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => return fail(e),
    };
    let text = match cmd {
        StanzaCmd::Decode { core, pretty } => {
            let msg = match Message::decode(&input) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            let text = if core {
                match msg.to_core() {
                    Ok((recipients, stanza)) => to_json(&CoreView { recipients, stanza }, pretty),
                    Err(e) => return fail(e),
                }
            } else {
                to_json(&msg, pretty)
            };
            match text {
                Ok(t) => t,
                Err(e) => return fail(e),
            }
        }
        StanzaCmd::Encode => match serde_json::from_slice::<Message>(&input) {
            // What we print must be a stanza the decoder gives back unchanged: JSON can say
            // things XML cannot (an address with both `jid` and `uri`, a member with a
            // resource), and those are refused rather than printed.
            Ok(m) => {
                let xml = m.encode();
                match Message::decode(xml.as_bytes()) {
                    Ok(back) if back == m => xml,
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
