//! One step of a counterexample as a person reads it (what [`crate::trace`] renders and a
//! [`crate::properties::Verdict`] carries).

use serde::Serialize;

/// One step of a counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    pub action: String,
    /// Each client's view after the step: `name: [members] subject (status, epoch)`.
    pub views: Vec<String>,
}
