//! What "converged" means, shared by the lab, the model checker and the simulator.
//!
//! Participants are every client that considers itself a member, and every member any of
//! them lists. They must all consider themselves members and hold the same members and
//! subject. The reference is the owner's view while it is a member (else the first
//! participant's): once the owner has left, the remaining members must still agree.

use std::collections::{BTreeMap, BTreeSet};

use super::types::{Identity, Status, View};

/// The participants whose view differs from the reference, or who have none. Empty when
/// everyone agrees (or nobody is in the group any more).
pub fn disagreeing<I: Identity>(owner: &I, views: &BTreeMap<I, Option<View<I>>>) -> Vec<I> {
    let active = |v: &Option<View<I>>| v.as_ref().is_some_and(|v| v.status == Status::Member);
    let mut participants: BTreeSet<I> = views
        .iter()
        .filter(|(_, v)| active(v))
        .map(|(c, _)| c.clone())
        .collect();
    for c in participants.clone() {
        if let Some(Some(v)) = views.get(&c) {
            participants.extend(v.members.iter().cloned());
        }
    }
    let reference = views
        .get(owner)
        .filter(|v| active(v))
        .or_else(|| {
            participants
                .iter()
                .find_map(|c| views.get(c).filter(|v| active(v)))
        })
        .and_then(|v| v.clone());
    let Some(reference) = reference else {
        return Vec::new();
    };
    participants
        .into_iter()
        .filter(|c| {
            !views
                .get(c)
                .is_some_and(|v| active(v) && v.as_ref().is_some_and(|v| v.agrees_with(&reference)))
        })
        .collect()
}
