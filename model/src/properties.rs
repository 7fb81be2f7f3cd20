//! The property catalogue: each property's CLI name, its kind, and what it means; and the
//! verdict on one property, as the model checker, the simulator and a replay give it.

use serde::Serialize;

use crate::trace_step::TraceStep;

/// When a property is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// In every reachable state.
    Always,
    /// In every state where nothing is in flight and no retransmission is pending; the
    /// verdict says in how many such states it was judged, and is vacuous in none.
    AtQuiescence,
    /// Over the whole explored graph: what can still happen from each state, and what
    /// happens on every fair infinite run ([`crate::liveness`]).
    Liveness,
}

/// A property of the brief's catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    OwnerAuthority,
    OwnerBinding,
    MemberFilter,
    RemovedConfidentiality,
    RemovedSilence,
    EpochAgreement,
    ForkDetection,
    AddressedAuthenticity,
    ExactlyOnce,
    BoundedState,
    Convergence,
    NoLostMessages,
    QuiescenceReachable,
    Progress,
}

impl Property {
    pub const ALL: [Property; 14] = [
        Property::OwnerAuthority,
        Property::OwnerBinding,
        Property::MemberFilter,
        Property::RemovedConfidentiality,
        Property::RemovedSilence,
        Property::EpochAgreement,
        Property::ForkDetection,
        Property::AddressedAuthenticity,
        Property::ExactlyOnce,
        Property::BoundedState,
        Property::Convergence,
        Property::NoLostMessages,
        Property::QuiescenceReachable,
        Property::Progress,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Property::OwnerAuthority => "owner-authority",
            Property::OwnerBinding => "owner-binding",
            Property::MemberFilter => "member-filter",
            Property::RemovedConfidentiality => "removed-confidentiality",
            Property::RemovedSilence => "removed-silence",
            Property::EpochAgreement => "epoch-agreement",
            Property::ForkDetection => "fork-detection",
            Property::AddressedAuthenticity => "addressed-authenticity",
            Property::ExactlyOnce => "exactly-once",
            Property::BoundedState => "bounded-state",
            Property::Convergence => "convergence",
            Property::NoLostMessages => "no-lost-messages",
            Property::QuiescenceReachable => "quiescence-reachable",
            Property::Progress => "progress",
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Property::Convergence | Property::NoLostMessages | Property::ForkDetection => {
                Kind::AtQuiescence
            }
            Property::QuiescenceReachable | Property::Progress => Kind::Liveness,
            _ => Kind::Always,
        }
    }

    pub fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a verdict says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Holds,
    Fails,
    /// An at-quiescence property judged in no quiescent state: it says nothing.
    Vacuous,
    /// The search stopped (a state limit) before the property could be decided.
    Undecided,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "fails",
            Outcome::Vacuous => "vacuous",
            Outcome::Undecided => "undecided",
        }
    }
}

/// One property's verdict: the model checker's (with a shortest counterexample when it
/// fails) or a simulated run's or replay's (with how often it was violated, and the first
/// violation in words).
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    #[serde(rename = "name")]
    pub property: Property,
    /// True only when the outcome is `holds`.
    pub holds: bool,
    pub outcome: Outcome,
    /// Model checker, at-quiescence properties: in how many quiescent states it was judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiescent_states: Option<u64>,
    /// Simulator: how many transitions (or, at the end, recipients) violated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<u64>,
    /// Simulator: the first violation, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// Model checker: a shortest trace to a violation, when the property fails (for
    /// `progress`, the lasso's prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Vec<TraceStep>>,
    /// Model checker, `progress`: the lasso's cycle, which a fair run repeats for ever
    /// after the prefix (empty: it stays in the prefix's last state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Vec<TraceStep>>,
}

impl Verdict {
    /// The model checker's verdict: `property` holds unless it has a counterexample.
    pub fn checked(
        property: Property,
        holds: bool,
        counterexample: Option<Vec<TraceStep>>,
    ) -> Self {
        Verdict {
            property,
            holds,
            outcome: if holds {
                Outcome::Holds
            } else {
                Outcome::Fails
            },
            quiescent_states: None,
            violations: None,
            first: None,
            counterexample,
            cycle: None,
        }
    }

    /// A verdict that says nothing: `outcome` is vacuous or undecided.
    pub fn unsettled(property: Property, outcome: Outcome) -> Self {
        Verdict {
            holds: false,
            outcome,
            ..Verdict::checked(property, false, None)
        }
    }

    /// Whether the verdict decides the property (holds or fails).
    pub fn settled(&self) -> bool {
        matches!(self.outcome, Outcome::Holds | Outcome::Fails)
    }

    /// A simulated run's (or replay's) verdict.
    pub fn judged(property: Property, holds: bool, violations: u64, first: Option<String>) -> Self {
        Verdict {
            violations: Some(violations),
            first,
            ..Verdict::checked(property, holds, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for p in Property::ALL {
            assert_eq!(Property::from_name(p.name()), Some(p));
        }
        assert_eq!(Property::from_name("liveness"), None);
        let mut names: Vec<_> = Property::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 14);
    }
}
