//! The simulator behind `kgroup sim`: many clients running the kgroup core through a
//! simulated XMPP server, deterministically from one seed, with the brief's properties
//! judged over the whole run.

pub mod config;
pub mod engine;
pub mod judge;
pub mod queue;
pub mod replay;
pub mod report;
pub mod wire;

pub use config::{Latency, LatencyDist, Mode, Partition, SimConfig, Span};
pub use engine::Sim;
pub use report::SimReport;

/// Runs one simulation to its end; fails only when `--encrypt` cannot make its keys.
pub fn run(cfg: SimConfig) -> Result<SimReport, String> {
    Ok(Sim::new(cfg)?.run(|_, _| {}))
}
