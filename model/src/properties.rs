//! The property catalogue: each property's CLI name, its kind, and what it means.

use serde::Serialize;

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
