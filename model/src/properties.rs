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
    /// In every state where nothing is in flight and no retransmission is pending.
    AtQuiescence,
}

/// A property of the brief's catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    OwnerAuthority,
    OwnerBinding,
    MemberFilter,
    RemovedConfidentiality,
    Convergence,
    NoLostMessages,
}

impl Property {
    pub const ALL: [Property; 6] = [
        Property::OwnerAuthority,
        Property::OwnerBinding,
        Property::MemberFilter,
        Property::RemovedConfidentiality,
        Property::Convergence,
        Property::NoLostMessages,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Property::OwnerAuthority => "owner-authority",
            Property::OwnerBinding => "owner-binding",
            Property::MemberFilter => "member-filter",
            Property::RemovedConfidentiality => "removed-confidentiality",
            Property::Convergence => "convergence",
            Property::NoLostMessages => "no-lost-messages",
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Property::Convergence | Property::NoLostMessages => Kind::AtQuiescence,
            _ => Kind::Always,
        }
    }

    pub fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One property's verdict: the model checker's (with a shortest counterexample when it
/// fails) or a simulated run's or replay's (with how often it was violated, and the first
/// violation in words).
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    #[serde(rename = "name")]
    pub property: Property,
    pub holds: bool,
    /// Simulator: how many transitions (or, at the end, recipients) violated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<u64>,
    /// Simulator: the first violation, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// Model checker: a shortest trace to a violation, when the property fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Vec<TraceStep>>,
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
            violations: None,
            first: None,
            counterexample,
        }
    }

    /// A simulated run's (or replay's) verdict.
    pub fn judged(property: Property, holds: bool, violations: u64, first: Option<String>) -> Self {
        Verdict {
            property,
            holds,
            violations: Some(violations),
            first,
            counterexample: None,
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
        names.dedup();
        assert_eq!(names.len(), 6);
    }
}
