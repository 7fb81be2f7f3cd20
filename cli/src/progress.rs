//! What a long run says while it runs, and how it is interrupted.
//!
//! Progress goes to stderr about once a second, whatever stderr is: on a terminal a
//! spinner line redrawn in place, elsewhere (a CI log, a pipe) one line per second once
//! the run has taken a second, so a log shows a run that is alive. `--quiet` silences it.
//!
//! Ctrl-C sets a flag the run polls: it stops, prints what it has (its partial report) and
//! exits 3 (incomplete). A second Ctrl-C ends the process at once with 130, the shell's
//! code for SIGINT.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

/// Progress lines of one command.
pub struct Reporter {
    cmd: &'static str,
    bar: Option<ProgressBar>,
    quiet: bool,
    started: Instant,
    last: Instant,
}

const EVERY: Duration = Duration::from_secs(1);

impl Reporter {
    pub fn new(cmd: &'static str, quiet: bool) -> Reporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg}  [{elapsed_precise}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b
        });
        let now = Instant::now();
        Reporter {
            cmd,
            bar,
            quiet,
            started: now,
            last: now,
        }
    }

    /// Says `msg()` if a second has passed since the last line (on a terminal, redraws the
    /// spinner every time). `msg` is only built when it is shown.
    pub fn update(&mut self, msg: impl FnOnce() -> String) {
        if self.quiet {
            return;
        }
        if let Some(b) = &self.bar {
            b.set_message(msg());
            b.tick();
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) >= EVERY {
            self.last = now;
            output::note(format_args!(
                "kgroup {}: {} ({:.0}s)",
                self.cmd,
                msg(),
                now.duration_since(self.started).as_secs_f64()
            ));
        }
    }

    /// Clears the spinner before the report.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// The flag Ctrl-C sets, installed on the first call (the handler is process-wide).
pub fn interrupt_flag(cmd: &'static str) -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if set.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            output::note(format_args!(
                "kgroup {cmd}: interrupted: stopping with the partial report (Ctrl-C again to quit at once)"
            ));
        });
        if let Err(e) = installed {
            // Without the handler, Ctrl-C ends the process as it would anyway.
            output::note(format_args!("kgroup {cmd}: Ctrl-C will not give a report: {e}"));
        }
        flag
    })
    .clone()
}
