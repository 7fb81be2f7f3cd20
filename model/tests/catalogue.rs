//! The property catalogue, checked by name: `kontalk` fails what it truly fails, with
//! counterexamples of minimal length; `hardened` holds everything, with the adversary, on
//! every network.

use std::collections::BTreeMap;

use kgroup::Dialect;
use kgroup_model::check::shortest_counterexamples;
use kgroup_model::findings::{chat, churn_adversary, equivocation, insider};
use kgroup_model::script::Step;
use kgroup_model::{check, CheckReport, GroupModel, Network, Property};
use stateright::Model;

fn run(model: &GroupModel) -> CheckReport {
    check(model, 2, None, |_| {})
}

/// property name -> counterexample length, for the properties that fail.
fn failures(r: &CheckReport) -> BTreeMap<&'static str, usize> {
    r.properties
        .iter()
        .filter(|p| !p.holds)
        .map(|p| {
            let len = p.counterexample.as_ref().map_or(0, |t| t.len() - 1);
            (p.property.name(), len)
        })
        .collect()
}

// Every `hardened` row of the findings holds the catalogue: `model/tests/liveness.rs`
// (`hardened_holds_the_catalogue_on_every_findings_workload_and_network`) runs them once.

/// The equivocating owner against hardened's v1 rules and `kontalk`: nobody notices the
/// fork (4 steps: create, the forged copy, both applied); v2 raises the alarm on every
/// network (see above).
#[test]
fn only_v2_finds_out_the_equivocating_owner() {
    for network in Network::ALL {
        let v1 = GroupModel {
            rules: kgroup::Rules::V1,
            ..equivocation(Dialect::Hardened, network)
        };
        let f = failures(&run(&v1));
        assert_eq!(f.get("fork-detection"), Some(&4), "v1 on {network}: {f:?}");
        assert_eq!(f.get("epoch-agreement"), None, "v1 on {network}: {f:?}");
        let f = failures(&run(&equivocation(Dialect::Kontalk, network)));
        assert_eq!(
            f.get("fork-detection"),
            Some(&4),
            "kontalk on {network}: {f:?}"
        );
        // Without versions, two views at once are two views of "epoch 0".
        assert_eq!(
            f.get("epoch-agreement"),
            Some(&3),
            "kontalk on {network}: {f:?}"
        );
    }
}

/// The insider against hardened's v1 rules: each hole of the security review, with its
/// shortest counterexample; v2 holds all fourteen on the same workload (see above).
#[test]
fn hardened_v1_fails_what_the_insider_breaks() {
    let v1 = |n| GroupModel {
        rules: kgroup::Rules::V1,
        ..insider(Dialect::Hardened, n)
    };
    let f = failures(&run(&v1(Network::Unordered)));
    assert_eq!(
        f,
        BTreeMap::from([
            ("removed-silence", 4),
            ("addressed-authenticity", 8),
            ("bounded-state", 5),
            ("quiescence-reachable", 4),
            ("progress", 9),
        ]),
        "{f:?}"
    );
    // The duplicating network delivers the unstamped message twice.
    let f = failures(&run(&v1(Network::Duplicating)));
    assert_eq!(f.get("exactly-once"), Some(&6), "{f:?}");
}

#[test]
fn kontalk_fails_authority_binding_filter_and_convergence_under_the_adversary() {
    let r = run(&churn_adversary(Dialect::Kontalk, Network::Unordered));
    let f = failures(&r);
    assert_eq!(
        f,
        BTreeMap::from([
            ("owner-authority", 4),
            ("owner-binding", 4),
            ("member-filter", 4),
            ("epoch-agreement", 3),
            ("fork-detection", 5),
            ("convergence", 5),
        ]),
        "{f:?}"
    );
    // Even per-pair FIFO does not save it: the adversary's forgeries need no reordering.
    let ordered = failures(&run(&churn_adversary(Dialect::Kontalk, Network::Ordered)));
    assert!(ordered.contains_key("owner-authority") && ordered.contains_key("convergence"));
}

#[test]
fn kontalk_leaks_to_removed_members_and_loses_messages() {
    let f = failures(&run(&chat(Dialect::Kontalk, Network::Duplicating)));
    assert_eq!(
        f,
        BTreeMap::from([
            ("removed-confidentiality", 6),
            ("epoch-agreement", 3),
            ("exactly-once", 5),
            ("fork-detection", 6),
            ("convergence", 6),
            ("no-lost-messages", 6),
        ])
    );
    // On a FIFO network the member's message can still overtake nothing, yet a message
    // to a member that has not heard of the group is lost.
    let ordered = failures(&run(&chat(Dialect::Kontalk, Network::Ordered)));
    // And without versions, the owner's view after the removal and alice's after the
    // create are two views of "epoch 0".
    assert_eq!(
        ordered,
        BTreeMap::from([("epoch-agreement", 3), ("no-lost-messages", 6)])
    );
}

/// A case small enough to count by hand: the owner creates with alice then adds bob; the
/// shortest divergence needs both commands and three deliveries (add to alice, the create
/// after it, add to bob), five steps, and the checker finds exactly that.
#[test]
fn counterexamples_are_minimal() {
    let model = GroupModel {
        dialect: Dialect::Kontalk,
        network: Network::Unordered,
        clients: 3,
        script: vec![Step::Create(vec![1]), Step::Add(2)],
        senders: vec![],
        messages: 0,
        parting: vec![],
        adversary: false,
        adversary_budget: 0,
        owner_crashes: 0,
        max_losses: 0,
        planted: None,
        insider: false,
        insider_budget: 2,
        equivocate: false,
        rules: kgroup::Rules::V2,
    };
    let paths = shortest_counterexamples(&model, &[Property::Convergence]);
    let (init, steps) = &paths[&Property::Convergence];
    assert_eq!(steps.len(), 5);
    // The path is real: replaying its actions reaches a state that violates the property,
    // and no earlier state on it does.
    let prop = model
        .properties()
        .into_iter()
        .find(|p| p.name == Property::Convergence.name())
        .expect("property");
    let mut state = init.clone();
    for (i, (action, expected)) in steps.iter().enumerate() {
        state = model.next_state(&state, action.clone()).expect("enabled");
        assert_eq!(&state, expected);
        assert_eq!(
            (prop.condition)(&model, &state),
            i + 1 < steps.len(),
            "step {i}"
        );
    }
}

#[test]
fn traces_name_who_sent_what_to_whom() {
    let r = run(&chat(Dialect::Kontalk, Network::Unordered));
    let conv = r
        .properties
        .iter()
        .find(|p| p.property == Property::Convergence)
        .and_then(|p| p.counterexample.clone())
        .expect("kontalk diverges");
    let text: Vec<String> = conv.iter().map(|s| s.action.clone()).collect();
    assert!(text[0].starts_with("david creates the group"), "{text:?}");
    assert!(text.iter().any(|t| t.contains("david → ")), "{text:?}");
    assert!(text
        .last()
        .is_some_and(|t| t.starts_with("VIOLATION: quiescent")));
    assert!(conv[0]
        .views
        .iter()
        .any(|v| v.starts_with("david: [david,alice,bob]")));
}

/// The Android client's rules (`kgroup::Dialect::Android`, src/core/android.rs). Against
/// the adversary: a create is taken from the owner even by a client it does not list, so
/// the server replaying one makes that client a member (3 steps; its authority is the
/// server's `from`); a group is its (id, owner), so nobody squats a group id
/// (owner-binding holds where kontalk fails); messages are deduplicated by id, so nothing
/// is delivered twice (exactly-once holds where kontalk fails), but commands are applied
/// again when redelivered.
#[test]
fn android_fails_authority_and_convergence_but_binds_owners_and_delivers_once() {
    let f = failures(&run(&churn_adversary(Dialect::Android, Network::Unordered)));
    assert_eq!(f.get("owner-authority"), Some(&3), "{f:?}");
    assert!(!f.contains_key("owner-binding"), "{f:?}");
    assert!(
        f.contains_key("convergence") && f.contains_key("member-filter"),
        "{f:?}"
    );
    let kontalk = failures(&run(&churn_adversary(Dialect::Kontalk, Network::Unordered)));
    assert!(kontalk.contains_key("owner-binding"));

    let f = failures(&run(&chat(Dialect::Android, Network::Duplicating)));
    assert!(!f.contains_key("exactly-once"), "{f:?}");
    assert!(f.contains_key("convergence"), "{f:?}");
    let kontalk = failures(&run(&chat(Dialect::Kontalk, Network::Duplicating)));
    assert!(kontalk.contains_key("exactly-once"));
}

/// A set that reaches a member before the create is dropped (the group is unknown and the
/// set does not add it), and the create that follows lacks the member the set added: the
/// member is missing from that client's list for good, with no stanza lost.
#[test]
fn android_drops_a_set_that_overtakes_its_create() {
    let model = GroupModel {
        script: vec![Step::Create(vec![1, 2]), Step::Add(3)],
        senders: vec![],
        ..churn_adversary(Dialect::Android, Network::Unordered)
    };
    let model = GroupModel {
        adversary: false,
        ..model
    };
    let r = run(&model);
    let p = r
        .properties
        .iter()
        .find(|p| p.property == Property::Convergence)
        .expect("convergence");
    let trace = p.counterexample.as_ref().expect("a divergence");
    let text: Vec<&str> = trace.iter().map(|s| s.action.as_str()).collect();
    // The set reaches some member before the create does.
    let set = text
        .iter()
        .position(|t| t.contains("→ ") && t.contains("set add charlie"));
    assert!(set.is_some(), "{text:?}");
    assert!(
        text.iter()
            .any(|t| t.contains("→ ") && t.contains("create with")),
        "{text:?}"
    );
    // Ordered per pair, the set cannot overtake the create.
    let ordered = run(&GroupModel {
        network: Network::Ordered,
        ..model
    });
    assert!(ordered
        .properties
        .iter()
        .all(|p| p.property != Property::Convergence || p.holds));
}

/// androidclient issue #1057 ("Non-admin sent group add command and it was accepted by a
/// non-admin member", closed as not reproducible): with every client listed, so that no
/// replayed create can do it, the shortest owner-authority violation is a non-owner's add
/// that the server shows as the owner's, taken because the client's authority is the
/// server's `from` (4 steps).
#[test]
fn android_takes_a_non_owners_add_when_the_server_says_it_is_the_owners() {
    let model = GroupModel {
        clients: 3,
        script: vec![Step::Create(vec![1, 2])],
        senders: vec![],
        ..churn_adversary(Dialect::Android, Network::Unordered)
    };
    let r = run(&model);
    let p = r
        .properties
        .iter()
        .find(|p| p.property == Property::OwnerAuthority)
        .expect("owner-authority");
    let trace = p.counterexample.as_ref().expect("a violation");
    assert_eq!(trace.len() - 1, 4);
    let text: Vec<&str> = trace.iter().map(|s| s.action.as_str()).collect();
    assert!(text.iter().any(|t| t.contains("forges 'add")), "{text:?}");
    assert!(
        text.iter().any(|t| t.contains("from forged as david")),
        "{text:?}"
    );
}
