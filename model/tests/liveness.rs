//! The liveness analysis: planted livelocks and deadlocks that the six safety and
//! at-quiescence properties report as holding are caught by `quiescence-reachable` and
//! `progress` with a minimal lasso; `hardened` holds both on every findings workload and
//! network; an at-quiescence verdict never rests on no quiescent state.

use kgroup::{Dialect, Planted};
use kgroup_model::check::{at_quiescence, check, check_with, Options};
use kgroup_model::findings;
use kgroup_model::liveness::analyse;
use kgroup_model::properties::{Kind, Outcome};
use kgroup_model::{GroupModel, Network, Property, Verdict};

fn planted(plant: Planted, network: Network) -> GroupModel {
    GroupModel {
        planted: Some(plant),
        ..findings::scale(Dialect::Hardened, network, 3)
    }
}

fn outcome(r: &kgroup_model::CheckReport, p: Property) -> Outcome {
    r.properties
        .iter()
        .find(|v| v.property == p)
        .map(|v| v.outcome)
        .unwrap_or_else(|| panic!("{} missing", p.name()))
}

#[test]
fn planted_bugs_pass_the_six_and_fail_liveness() {
    let cases = [
        (Planted::ResyncPingPong, Network::Ordered),
        (Planted::ResyncPingPong, Network::Unordered),
        (Planted::ReleaseExactEpoch, Network::Unordered),
        (Planted::ReleaseExactEpoch, Network::Duplicating),
    ];
    for (plant, network) in cases {
        let label = format!("{} on {network}", plant.as_str());
        let r = check(&planted(plant, network), 2, None, |_| {});
        assert!(r.complete || r.any_fails(), "{label}");
        for p in Property::ALL {
            let o = outcome(&r, p);
            if p.kind() == Kind::Liveness {
                assert_eq!(o, Outcome::Fails, "{label}: {}", p.name());
            } else {
                assert_eq!(o, Outcome::Holds, "{label}: {}", p.name());
            }
        }
        // The at-quiescence verdicts rest on real quiescent states, not on none.
        for p in [Property::Convergence, Property::NoLostMessages] {
            let v = r.properties.iter().find(|v| v.property == p).unwrap();
            assert!(v.quiescent_states.unwrap_or(0) > 0, "{label}");
        }
        let progress = r
            .properties
            .iter()
            .find(|v| v.property == Property::Progress)
            .unwrap();
        assert!(
            progress.counterexample.is_some() && progress.cycle.is_some(),
            "{label}"
        );
    }
}

#[test]
fn the_lassos_are_minimal_and_say_what_is_pending() {
    // The ping-pong: the shortest prefix to the cycle, then the two steps of the cycle
    // (the member's resync, the owner's answer) and nothing more.
    let a = analyse(&planted(Planted::ResyncPingPong, Network::Unordered), None);
    let lasso = a.lasso.expect("a lasso");
    assert_eq!(lasso.cycle.len(), 2);
    let start = lasso.prefix.1.last().map(|(_, s)| s.clone()).unwrap();
    let end = lasso.cycle.last().map(|(_, s)| s.clone()).unwrap();
    assert_eq!(start, end, "the cycle comes back where it began");
    assert!(!GroupModel::is_quiescent(&start));
    assert!(lasso
        .cycle
        .iter()
        .all(|(_, s)| !GroupModel::is_quiescent(s)));
    // The off-by-one: a deadlock, the run stops where a message is held for ever.
    let a = analyse(
        &planted(Planted::ReleaseExactEpoch, Network::Unordered),
        None,
    );
    let lasso = a.lasso.expect("a deadlock");
    assert!(lasso.cycle.is_empty());
    let r = check(
        &planted(Planted::ReleaseExactEpoch, Network::Unordered),
        2,
        None,
        |_| {},
    );
    let v = r
        .properties
        .iter()
        .find(|v| v.property == Property::Progress)
        .unwrap();
    let last = &v.counterexample.as_ref().unwrap().last().unwrap().action;
    // What is stuck: the held message, or its sender's copy waiting for the ack that the
    // holder never sends.
    assert!(
        last.contains("no fair step is enabled")
            && (last.contains("holds message") || last.contains("to acknowledge message")),
        "{last}"
    );
}

#[test]
fn without_the_plant_hardened_holds_liveness_on_the_same_models() {
    for network in [Network::Ordered, Network::Unordered, Network::Duplicating] {
        let model = findings::scale(Dialect::Hardened, network, 3);
        let r = check(&model, 2, None, |_| {});
        assert!(r.all_hold() && r.complete, "{network}: {:?}", r.properties);
    }
}

/// Every `hardened` row of the findings, the insider's among them: all fourteen properties
/// hold (the liveness pair with quiescent states counted). With the equivocating owner all
/// but `convergence`: no rule stops an owner forking its own group, and v2 finds it out
/// (`fork-detection`). The one test that runs them all, so the workspace tests run each of
/// these checks once.
#[test]
fn hardened_holds_the_catalogue_on_every_findings_workload_and_network() {
    for w in findings::workloads() {
        for network in Network::ALL {
            let model = (w.model)(Dialect::Hardened, network);
            let r = check(&model, 2, None, |_| {});
            let label = format!("{} on {network}", w.name);
            for p in Property::ALL {
                let want = if model.equivocate && p == Property::Convergence {
                    Outcome::Fails
                } else {
                    Outcome::Holds
                };
                assert_eq!(outcome(&r, p), want, "{label}: {}", p.name());
            }
            assert!(r.complete && (model.equivocate || r.all_hold()), "{label}");
            assert!(r.unique_states > 100, "{label}: a non-trivial space");
            assert!(
                r.liveness.as_ref().is_some_and(|l| l.quiescent_states > 0),
                "{label}"
            );
        }
    }
}

#[test]
fn a_verdict_on_no_quiescent_state_is_vacuous_and_without_the_graph_undecided() {
    let holds = Verdict::checked(Property::Convergence, true, None);
    let v = at_quiescence(holds.clone(), Some((0, true)));
    assert_eq!(v.outcome, Outcome::Vacuous);
    assert!(!v.holds);
    assert_eq!(
        at_quiescence(holds.clone(), Some((0, false))).outcome,
        Outcome::Undecided
    );
    assert_eq!(
        at_quiescence(holds.clone(), None).outcome,
        Outcome::Undecided
    );
    let counted = at_quiescence(holds, Some((7, true)));
    assert_eq!(
        (counted.outcome, counted.quiescent_states),
        (Outcome::Holds, Some(7))
    );
    // A check without the liveness analysis gives no verdict: it is incomplete.
    let model = findings::scale(Dialect::Hardened, Network::Ordered, 2);
    let r = check_with(
        &model,
        &Options {
            liveness: false,
            ..Options::default()
        },
        |_| {},
    );
    assert!(!r.complete && !r.all_hold() && !r.any_fails());
    assert_eq!(outcome(&r, Property::Convergence), Outcome::Undecided);
    assert_eq!(outcome(&r, Property::Progress), Outcome::Undecided);
}

#[test]
fn a_cut_graph_decides_nothing_it_cannot() {
    let model = findings::scale(Dialect::Hardened, Network::Unordered, 3);
    let a = analyse(&model, Some(1000));
    assert!(!a.complete);
    let r = check(&model, 2, Some(1000), |_| {});
    assert!(!r.complete);
    assert_eq!(
        outcome(&r, Property::QuiescenceReachable),
        Outcome::Undecided
    );
    assert_eq!(outcome(&r, Property::Progress), Outcome::Undecided);
    // A fair cycle found on a cut graph is real: the plant still fails.
    let r = check(
        &planted(Planted::ResyncPingPong, Network::Unordered),
        2,
        Some(20_000),
        |_| {},
    );
    assert_eq!(outcome(&r, Property::Progress), Outcome::Fails);
}
