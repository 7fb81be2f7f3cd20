//! The memory budget of the long runs: `check`, `replay`, `findings` and `sim`
//! (`--max-memory SIZE`).
//!
//! How many states a model has is known only by exploring it: the default model on the
//! lossy network with `--losses 2` passed 22 GB, `--messages 32 --senders 1,2` 4 GB, and
//! no bound on the flags separates those from the runs that fit. So the run is watched: a
//! thread reads the process's resident memory every 50 ms and, past the budget, ends the
//! run with one line on stderr and exit 3 (incomplete: a budget stopped the run before a
//! verdict; no JSON document). What the simulator needs can be estimated ahead
//! ([`kgroup_sim::SimConfig::estimated_bytes`]): `sim` refuses a run whose estimate is above
//! the budget before it starts, and is watched as well.
//!
//! The default budget is 80% of the memory available when the run starts (Linux:
//! `MemAvailable`, and the room left under the cgroup's limit if there is one). Where that
//! cannot be read, there is no default budget, and no watch without `--max-memory`.

use std::time::Duration;

use crate::output;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// The smallest budget accepted: the process alone takes about 10 MiB.
pub const MIN_BUDGET: u64 = 32 * MIB;
/// The largest budget accepted.
pub const MAX_BUDGET: u64 = 1024 * TIB;

/// `--max-memory`: a size with a unit, K, M, G or T (powers of 1024; `MiB`, `GB` and the
/// like are read the same), e.g. `512M`, `1.5G`; within [`MIN_BUDGET`]..=[`MAX_BUDGET`].
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let scale = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "K" => KIB,
        "M" => MIB,
        "G" => GIB,
        "T" => TIB,
        "" => return Err("give a unit: K, M, G or T (e.g. 512M, 8G)".into()),
        _ => return Err(format!("unknown unit `{unit}` (K, M, G or T)")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let bytes = n * scale as f64;
    if !(MIN_BUDGET as f64..=MAX_BUDGET as f64).contains(&bytes) {
        return Err(format!(
            "expected {} to {}",
            human(MIN_BUDGET),
            human(MAX_BUDGET)
        ));
    }
    Ok(bytes as u64)
}

/// A size for people: `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= TIB {
        format!("{:.1} TiB", b / TIB as f64)
    } else if bytes >= GIB {
        format!("{:.1} GiB", b / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.0} MiB", b / MIB as f64)
    } else {
        format!("{:.0} KiB", b / KIB as f64)
    }
}

/// The memory a run may use, and where that figure came from.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub bytes: u64,
    /// Says how it was set, for the line that refuses or stops a run.
    pub source: &'static str,
}

impl Budget {
    /// `--max-memory`, or 80% of the memory available now (none where that is unknown).
    pub fn of(flag: Option<u64>) -> Option<Budget> {
        match flag {
            Some(bytes) => Some(Budget {
                bytes,
                source: "--max-memory",
            }),
            None => available().map(|a| Budget {
                bytes: a / 10 * 8,
                source: "80% of the memory available at the start; set it with --max-memory",
            }),
        }
    }
}

/// A field of a `/proc`-style `Key:   123 kB` file, in bytes.
fn proc_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * KIB)
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The memory this process may still take: the system's available memory, and the room
/// under the cgroup's limit (v2, then v1) if it has one.
fn available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let system = proc_field(&meminfo, "MemAvailable:")?;
    let cgroup = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]
    .into_iter()
    .find_map(|(limit, usage)| Some(read_u64(limit)?.saturating_sub(read_u64(usage)?)));
    Some(cgroup.map_or(system, |room| room.min(system)))
}

/// This process's resident memory (Linux).
pub fn resident() -> Option<u64> {
    proc_field(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmRSS:",
    )
}

/// Watches the process's memory for the rest of the run (see the module's note): past the
/// budget, one line naming it (and `describe()`, e.g. " after 1234 states") and exit 3.
/// Nothing is watched without a budget, or where the resident size cannot be read.
pub fn watch(
    cmd: &'static str,
    budget: Option<Budget>,
    describe: impl Fn() -> String + Send + 'static,
) {
    let Some(budget) = budget else { return };
    if resident().is_none() {
        return;
    }
    std::thread::spawn(move || loop {
        if let Some(rss) = resident() {
            if rss > budget.bytes {
                output::note(format_args!(
                    "kgroup {cmd}: stopped{}: memory use {} passed the budget of {} ({}); no verdict",
                    describe(),
                    human(rss),
                    human(budget.bytes),
                    budget.source
                ));
                std::process::exit(3);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_need_a_unit_and_a_sane_range() {
        assert_eq!(parse_size("512M"), Ok(512 * MIB));
        assert_eq!(parse_size("8G"), Ok(8 * GIB));
        assert_eq!(parse_size("1.5GiB"), Ok(3 * GIB / 2));
        assert_eq!(parse_size("64mb"), Ok(64 * MIB));
        assert!(parse_size("512").unwrap_err().contains("unit"));
        assert!(parse_size("1M").is_err());
        assert!(parse_size("2048T").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let text = "MemTotal:       24683664 kB\nMemAvailable:   17616284 kB\n";
        assert_eq!(proc_field(text, "MemAvailable:"), Some(17_616_284 * 1024));
        assert_eq!(proc_field(text, "VmRSS:"), None);
    }
}
