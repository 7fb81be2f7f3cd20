//! Every file and stdin the CLI reads goes through [`read`], up to a limit fixed per kind
//! of input: beyond it the input is refused with one line before any of it is used
//! (`--scenario /dev/zero` used to read 3.7 GB).

use std::io::Read;
use std::path::Path;

use crate::memory::human;

/// A certificate or secret key: a Cv25519 one is under 1 KiB, a post-quantum one about
/// 10 KiB.
pub const KEY_LIMIT: u64 = 1 << 20;
/// All the certificates of one command together (`--to`, `--peers`).
pub const KEYS_TOTAL: u64 = 64 << 20;
/// A payload to seal, and the longest plaintext `open` gives back.
pub const PAYLOAD_LIMIT: u64 = 16 << 20;
/// An OpenPGP message to open: a sealed payload of [`PAYLOAD_LIMIT`], armored (4/3), with
/// its recipients' PKESKs.
pub const MESSAGE_LIMIT: u64 = 32 << 20;
/// A `sim --scenario` TOML file (a scenario is a few hundred bytes).
pub const SCENARIO_LIMIT: u64 = 1 << 20;
/// An XML log for `stanza decode --stream`: any number of stanzas (each still decoded
/// under the codec's 256 KiB limit).
pub const LOG_LIMIT: u64 = 64 << 20;
/// A stanza (XML or its JSON) for `stanza decode|encode`; the decoder itself refuses XML
/// over 256 KiB.
pub const STANZA_LIMIT: u64 = 4 << 20;

/// What [`read`] calls its input in errors.
pub fn name(path: Option<&Path>) -> String {
    match path {
        Some(p) if p != Path::new("-") => p.display().to_string(),
        _ => "stdin".into(),
    }
}

/// Reads `path` (stdin when `None` or `-`) up to `limit` bytes; a longer input is refused.
pub fn read(path: Option<&Path>, limit: u64) -> Result<Vec<u8>, String> {
    let name = name(path);
    let mut buf = Vec::new();
    let result = match path {
        Some(p) if p != Path::new("-") => {
            std::fs::File::open(p).and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
        }
        _ => std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut buf),
    };
    result.map_err(|e| format!("{name}: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!(
            "{name}: longer than the limit of {}; refused",
            human(limit)
        ));
    }
    Ok(buf)
}
