//! One step of a counterexample as a person reads it (what [`crate::trace`] renders and a
//! [`crate::properties::Verdict`] carries): who did what to whom, what the receiver made of
//! it (rejections with their reasons, messages shown), and the views after.

use serde::Serialize;

/// One step of a counterexample.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TraceStep {
    /// The step in words, e.g. `alice → bob: set add charlie (from forged as david)`.
    pub action: String,
    /// Who acted: a client's name, `mallory` (the adversary: server or outsider), the
    /// insider's name, or `network`.
    pub actor: String,
    /// What kind of step: `command`, `message`, `part`, `deliver`, `drop`, `retransmit`,
    /// `crash`, `forge`, `replay`, `insider`, `reseal`, `equivocate`; `violation` and
    /// `cycle` for the closing lines.
    pub kind: &'static str,
    /// Whether the adversary (mallory, the insider or the equivocating owner) made this
    /// step, or carried the copy it delivers.
    pub adversary: bool,
    /// A delivery: who the receiver is told sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A delivery or an injection: who receives it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The stanza delivered, dropped or injected, in a few words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stanza: Option<String>,
    /// What the receiver refused, each with its reason: `unknown-group: ...`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<String>,
    /// Messages shown to a user in this step: `bob shows alice's "m1"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<String>,
    /// The views this step changed, after it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Each client's view after the step: `name: [members] subject (status, epoch)`.
    pub views: Vec<String>,
}

impl TraceStep {
    /// A closing line (`violation`, `cycle`): words only.
    pub fn note(kind: &'static str, action: String) -> TraceStep {
        TraceStep {
            action,
            kind,
            ..TraceStep::default()
        }
    }
}
