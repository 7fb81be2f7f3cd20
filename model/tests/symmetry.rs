//! Symmetry reduction finds what the full search finds: the same verdicts and the same
//! shortest counterexample lengths, in fewer states, on workloads with interchangeable
//! members; the catalogue's workloads name every member, so nothing is reduced there.

use std::collections::BTreeMap;

use kgroup::Dialect;
use kgroup_model::check::{check_with, shortest_counterexamples_with, Options};
use kgroup_model::findings::workloads;
use kgroup_model::model::Action;
use kgroup_model::script::Step;
use kgroup_model::symmetry::{classes, Symmetric};
use kgroup_model::{CheckReport, GroupModel, Network, Property};
use stateright::Model;

/// Owner + 3 members: create 1,2,3; remove 1; the owner sends a message (members 2 and 3
/// are alike), with or without the adversary. (A removed member that sends would end up,
/// by digest, in the removal's cut, which no renaming can map: no reduction then. Nor
/// under hardened's v2 rules, whose snapshot heads are digests of rosters: `hardened` runs
/// its v1 rules here.)
fn alike(dialect: Dialect, network: Network, adversary: bool) -> GroupModel {
    GroupModel {
        dialect,
        network,
        clients: 4,
        script: vec![Step::Create(vec![1, 2, 3]), Step::Remove(1)],
        senders: if adversary { vec![] } else { vec![0] },
        messages: 1,
        parting: vec![],
        adversary,
        adversary_budget: 1,
        owner_crashes: 0,
        max_losses: 1,
        planted: None,
        insider: false,
        insider_budget: 2,
        equivocate: false,
        rules: kgroup::Rules::V1,
    }
}

/// Every verdict, with the counterexample length where one fails.
fn verdicts(r: &CheckReport) -> BTreeMap<Property, Option<usize>> {
    r.properties
        .iter()
        .map(|p| (p.property, p.counterexample.as_ref().map(|t| t.len() - 1)))
        .collect()
}

#[test]
fn the_catalogue_workloads_have_no_interchangeable_members() {
    for w in workloads() {
        for d in Dialect::ALL {
            for n in Network::ALL {
                assert!(classes(&(w.model)(d, n)).is_empty(), "{}", w.name);
            }
        }
    }
}

#[test]
fn reduced_and_full_checks_agree_in_fewer_states() {
    let mut failures = 0;
    for adversary in [false, true] {
        // android clients keep digests of what they delivered, which no renaming maps:
        // no reduction for them.
        assert!(classes(&alike(Dialect::Android, Network::Unordered, adversary)).is_empty());
        for d in [Dialect::Kontalk, Dialect::Hardened] {
            for n in Network::ALL {
                let model = alike(d, n, adversary);
                assert_eq!(classes(&model), vec![vec![2, 3]]);
                let options = Options::default();
                let full = check_with(&model, &options, |_| {});
                let reduced = check_with(
                    &model,
                    &Options {
                        symmetry: true,
                        ..options
                    },
                    |_| {},
                );
                let label = format!("{d} {n} adversary={adversary}");
                eprintln!(
                    "{label}: {} unique states, {} reduced",
                    full.unique_states, reduced.unique_states
                );
                assert_eq!(verdicts(&full), verdicts(&reduced), "{label}");
                assert!(
                    reduced.unique_states < full.unique_states,
                    "{label}: {} vs {}",
                    reduced.unique_states,
                    full.unique_states
                );
                failures += full.properties.iter().filter(|p| !p.holds).count();
                if d == Dialect::Hardened && !adversary {
                    assert!(full.all_hold(), "{label}");
                }
                let v2 = GroupModel {
                    rules: kgroup::Rules::V2,
                    ..model.clone()
                };
                if d == Dialect::Hardened {
                    assert!(classes(&v2).is_empty(), "{label}: v2 heads name members");
                }
            }
        }
    }
    assert!(
        failures > 0,
        "kontalk fails somewhere, so lengths were compared"
    );
}

/// A counterexample from the reduced search is a real run of the full model.
#[test]
fn reduced_counterexamples_replay_on_the_full_model() {
    let model = alike(Dialect::Kontalk, Network::Duplicating, false);
    let props = model.properties();
    let full = shortest_counterexamples_with(&model, &Property::ALL, false);
    let reduced = shortest_counterexamples_with(&model, &Property::ALL, true);
    assert!(!reduced.is_empty());
    for (property, (init, steps)) in &reduced {
        let name = property.name();
        assert_eq!(steps.len(), full[property].1.len(), "{name}");
        let prop = props.iter().find(|p| p.name == name).expect("property");
        let mut state = init.clone();
        for (i, (action, expected)) in steps.iter().enumerate() {
            let mut enabled: Vec<Action> = Vec::new();
            model.actions(&state, &mut enabled);
            assert!(enabled.contains(action), "{name} step {i}");
            state = model.next_state(&state, action.clone()).expect("enabled");
            assert_eq!(&state, expected);
            assert_eq!((prop.condition)(&model, &state), i + 1 < steps.len());
        }
    }
    // And the reduced search's states are representatives: one per class.
    let sym = Symmetric::new(model.clone());
    let init = model.init_states().remove(0);
    assert_eq!(sym.representative(init.clone()), init);
}
