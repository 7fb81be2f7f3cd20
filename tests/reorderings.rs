//! The reorderings where `kontalk` diverges and `hardened` does not, each asserted in both
//! dialects with the exact views that result.

use kgroup::{Dialect, Reason};
use kgroup_testkit::lab::Lab;
use kgroup_testkit::scenarios::{self, group, Id, ALICE, BOB, CHARLIE, DAVID};

fn members(lab: &Lab<Id>, who: Id) -> Vec<Id> {
    lab.clients[who]
        .view(&group())
        .map(|v| v.members)
        .unwrap_or_default()
}

fn sorted(mut v: Vec<Id>) -> Vec<Id> {
    v.sort();
    v
}

#[test]
fn add_remove_swapped() {
    let k = scenarios::add_remove_swapped(Dialect::Kontalk);
    assert!(!k.converged(&group()));
    assert_eq!(members(&k, ALICE), sorted(vec![DAVID, ALICE, BOB, CHARLIE]));
    assert_eq!(members(&k, DAVID), sorted(vec![DAVID, ALICE, BOB]));

    let h = scenarios::add_remove_swapped(Dialect::Hardened);
    assert!(h.converged(&group()) && h.is_quiescent());
    assert_eq!(members(&h, ALICE), sorted(vec![DAVID, ALICE, BOB]));
    assert!(h.rejections_at(&ALICE).contains(&Reason::Stale));
}

#[test]
fn duplicated_create_after_a_set() {
    let k = scenarios::duplicated_create(Dialect::Kontalk);
    assert!(!k.converged(&group()));
    assert_eq!(members(&k, ALICE), sorted(vec![DAVID, ALICE, BOB]));
    assert_eq!(k.bodies(&ALICE), ["Hey folks!", "Hey folks!"]);

    let h = scenarios::duplicated_create(Dialect::Hardened);
    assert!(h.converged(&group()) && h.is_quiescent());
    assert_eq!(members(&h, ALICE), sorted(vec![DAVID, ALICE, BOB, CHARLIE]));
    assert_eq!(h.bodies(&ALICE), ["Hey folks!"]);
    assert!(h.rejections_at(&ALICE).contains(&Reason::Duplicate));
}

#[test]
fn part_concurrent_with_an_add() {
    let k = scenarios::part_concurrent_with_add(Dialect::Kontalk);
    assert!(!k.converged(&group()));
    assert_eq!(members(&k, ALICE), sorted(vec![DAVID, ALICE, BOB, CHARLIE]));
    assert_eq!(members(&k, DAVID), sorted(vec![DAVID, ALICE, CHARLIE]));

    let h = scenarios::part_concurrent_with_add(Dialect::Hardened);
    assert!(h.converged(&group()) && h.is_quiescent());
    for who in [DAVID, ALICE, CHARLIE] {
        assert_eq!(
            members(&h, who),
            sorted(vec![DAVID, ALICE, CHARLIE]),
            "{who}"
        );
    }
    assert_eq!(
        h.clients[BOB].view(&group()).map(|v| v.status),
        Some(kgroup::Status::Left)
    );
}

#[test]
fn replayed_old_owner_command() {
    let k = scenarios::replayed_owner_command(Dialect::Kontalk);
    assert!(!k.converged(&group()));
    assert_eq!(members(&k, ALICE), sorted(vec![DAVID, ALICE, BOB, CHARLIE]));

    let h = scenarios::replayed_owner_command(Dialect::Hardened);
    assert!(h.converged(&group()) && h.is_quiescent());
    assert_eq!(members(&h, ALICE), sorted(vec![DAVID, ALICE, BOB]));
    assert!(h.rejections_at(&ALICE).contains(&Reason::Duplicate));
}

#[test]
fn message_that_overtakes_the_add() {
    let k = scenarios::message_overtakes_add(Dialect::Kontalk);
    assert!(k.bodies(&CHARLIE).is_empty());
    assert!(k.rejections_at(&CHARLIE).contains(&Reason::UnknownGroup));

    let h = scenarios::message_overtakes_add(Dialect::Hardened);
    assert_eq!(h.bodies(&CHARLIE), ["Hi Charlie!"]);
    assert!(h.converged(&group()) && h.is_quiescent());
}

/// Every named scenario converges in `hardened`, with nothing left in flight or unacknowledged.
#[test]
fn hardened_converges_in_every_scenario() {
    for s in scenarios::all() {
        let lab = (s.run)(Dialect::Hardened);
        assert!(
            lab.converged(&group()),
            "{}: {:?}",
            s.name,
            lab.views(&group())
        );
        assert!(lab.is_quiescent(), "{}", s.name);
    }
}

/// `kontalk` diverges in the four reorderings and nowhere else among the scenarios.
#[test]
fn kontalk_diverges_in_exactly_the_reordering_scenarios() {
    let diverging: Vec<&str> = scenarios::all()
        .into_iter()
        .filter(|s| !(s.run)(Dialect::Kontalk).converged(&group()))
        .map(|s| s.name)
        .collect();
    assert_eq!(
        diverging,
        [
            "add-remove-swapped",
            "duplicated-create",
            "part-concurrent-with-add",
            "replayed-owner-command"
        ]
    );
}
