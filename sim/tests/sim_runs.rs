//! The simulator's promises: determinism, the dialects' difference under a hostile
//! network, no lost messages under loss with retransmission, and the same run through the
//! XML codec as through typed stanzas.

use kgroup::Dialect;
use kgroup_sim::{run, Mode, Partition, SimConfig};
use serde_json::Value;

/// The report as JSON without the two wall-clock figures, which measure this machine.
fn json(cfg: &SimConfig) -> Value {
    let mut v = serde_json::to_value(run(cfg.clone()).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    for wall_clock in ["seconds", "events_per_sec"] {
        assert!(o.remove(wall_clock).is_some(), "{wall_clock} is reported");
    }
    v
}

fn hostile(dialect: Dialect, seed: u64) -> SimConfig {
    SimConfig {
        dialect,
        seed,
        clients: 24,
        members: 10,
        groups: 3,
        messages: 40,
        churn: 8,
        parts: 2,
        loss: 0.1,
        dup: 0.1,
        reorder: true,
        ..SimConfig::default()
    }
}

fn verdict(report: &Value, name: &str) -> bool {
    report["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no verdict for {name}"))["holds"]
        .as_bool()
        .unwrap()
}

#[test]
fn the_same_seed_gives_the_same_json_and_another_seed_does_not() {
    let mut cfg = hostile(Dialect::Hardened, 42);
    cfg.forger = true;
    cfg.crashes = 2;
    cfg.offline = 0.2;
    cfg.partition = vec![Partition {
        start_ms: 2_000,
        end_ms: 4_000,
        fraction: 0.25,
    }];
    let a = json(&cfg);
    assert_eq!(a, json(&cfg));
    for field in [
        "seed",
        "converged",
        "events",
        "delivered",
        "dropped",
        "rejected",
        "convergence_time_ms",
        "properties",
    ] {
        assert!(a.get(field).is_some(), "the contract's field {field}");
    }
    assert_eq!(a["seed"], 42);
    cfg.seed = 43;
    let b = json(&cfg);
    assert_ne!(a["events"], b["events"], "another seed, another run");
}

#[test]
fn kontalk_diverges_where_hardened_converges_on_the_same_seeds() {
    let mut kontalk_diverged = 0;
    for seed in 1..=5 {
        let h = json(&hostile(Dialect::Hardened, seed));
        assert_eq!(h["converged"], true, "hardened, seed {seed}: {h}");
        for p in h["properties"].as_array().unwrap() {
            assert_eq!(p["holds"], true, "hardened, seed {seed}: {p}");
        }
        let k = json(&hostile(Dialect::Kontalk, seed));
        if k["converged"] == false {
            kontalk_diverged += 1;
            assert!(!verdict(&k, "convergence"));
        }
    }
    assert!(
        kontalk_diverged >= 4,
        "kontalk diverged on only {kontalk_diverged} of 5 seeds"
    );
}

#[test]
fn hardened_loses_no_message_with_20_percent_loss() {
    for seed in 1..=3 {
        let cfg = SimConfig {
            seed,
            loss: 0.2,
            reorder: true,
            messages: 60,
            ..SimConfig::default()
        };
        let r = json(&cfg);
        assert!(
            r["dropped"].as_u64().unwrap() > 100,
            "the network did lose: {r}"
        );
        assert!(verdict(&r, "no-lost-messages"), "seed {seed}: {r}");
        assert!(verdict(&r, "convergence"), "seed {seed}: {r}");
        assert!(r["deliveries_expected"].as_u64().unwrap() > 500);
    }
}

#[test]
fn without_retransmission_loss_does_lose_messages() {
    // The same network with retransmission cut to one attempt: the property must fail,
    // so the test above is not passing by accident.
    let cfg = SimConfig {
        seed: 1,
        loss: 0.2,
        reorder: true,
        messages: 60,
        max_attempts: 1,
        ..SimConfig::default()
    };
    let r = json(&cfg);
    assert!(!verdict(&r, "no-lost-messages"), "{r}");
}

#[test]
fn the_adversary_breaks_kontalk_and_not_hardened() {
    for seed in 1..=3 {
        let mut cfg = hostile(Dialect::Hardened, seed);
        cfg.forger = true;
        let h = json(&cfg);
        assert!(h["counters"]["forged"].as_u64().unwrap() > 0);
        for p in h["properties"].as_array().unwrap() {
            assert_eq!(p["holds"], true, "hardened, seed {seed}: {p}");
        }
        assert!(h["rejected"]["not-owner"].as_u64().unwrap_or(0) > 0, "{h}");
        cfg.dialect = Dialect::Kontalk;
        let k = json(&cfg);
        let broken = ["owner-authority", "owner-binding", "member-filter"]
            .iter()
            .filter(|p| !verdict(&k, p))
            .count();
        assert!(broken >= 2, "kontalk, seed {seed}: {k}");
    }
}

#[test]
fn the_wire_mode_replays_the_core_run_exactly_and_counts_bytes() {
    let mut cfg = hostile(Dialect::Hardened, 9);
    cfg.forger = true;
    let core = json(&cfg);
    cfg.mode = Mode::Wire;
    let wire = json(&cfg);
    for field in [
        "events",
        "delivered",
        "dropped",
        "rejected",
        "properties",
        "end_ms",
    ] {
        assert_eq!(core[field], wire[field], "{field}");
    }
    assert_eq!(core["counters"]["bytes_down"], 0);
    assert!(wire["counters"]["bytes_down"].as_u64().unwrap() > 10_000);
    assert!(wire["counters"]["bytes_up"].as_u64().unwrap() > 1_000);
    assert_eq!(wire["counters"]["malformed"], 0);
}

#[test]
fn offline_clients_get_what_the_server_stored_and_crashed_ones_recover() {
    let cfg = SimConfig {
        seed: 5,
        offline: 0.5,
        offline_ms: 3_000,
        crashes: 4,
        crash_ms: 2_000,
        ..SimConfig::default()
    };
    let r = json(&cfg);
    assert!(r["counters"]["stored"].as_u64().unwrap() > 0, "{r}");
    assert!(r["counters"]["crashes"].as_u64().unwrap() > 0, "{r}");
    for p in r["properties"].as_array().unwrap() {
        assert_eq!(p["holds"], true, "{p}");
    }
}

#[test]
fn a_partition_drops_and_the_run_still_converges() {
    let cfg = SimConfig {
        seed: 3,
        partition: vec![Partition {
            start_ms: 1_000,
            end_ms: 6_000,
            fraction: 0.5,
        }],
        ..SimConfig::default()
    };
    let r = json(&cfg);
    assert!(r["dropped"].as_u64().unwrap() > 0, "{r}");
    assert!(verdict(&r, "convergence"), "{r}");
    assert!(verdict(&r, "no-lost-messages"), "{r}");
}

#[test]
fn a_run_that_cannot_drain_in_time_is_not_called_converged() {
    let cfg = SimConfig {
        seed: 2,
        loss: 0.5,
        drain_ms: 1,
        ..SimConfig::default()
    };
    let r = json(&cfg);
    assert_eq!(r["quiescent"], false, "{r}");
    assert_eq!(r["converged"], false);
    assert!(r["convergence_time_ms"].is_null());
}

#[test]
fn the_encrypted_mode_replays_the_core_run_with_real_keys_and_signers() {
    // Every stanza sealed by its sender (one PKESK per recipient) and opened by every
    // recipient, who acts on the verified signer: the same run as with typed stanzas, and
    // no copy that fails to open. `android` clients seal as the Android client does
    // (CPIM, AES-192, ZIP, the outer stanza to `multicast@`), and the run is the same.
    for dialect in [Dialect::Hardened, Dialect::Kontalk, Dialect::Android] {
        let mut cfg = SimConfig {
            dialect,
            seed: 12,
            clients: 12,
            members: 6,
            groups: 1,
            messages: 12,
            churn: 4,
            loss: 0.1,
            reorder: true,
            ..SimConfig::default()
        };
        let core = json(&cfg);
        cfg.mode = Mode::Encrypt;
        let sealed = json(&cfg);
        for field in ["events", "delivered", "dropped", "rejected", "properties"] {
            assert_eq!(core[field], sealed[field], "{dialect:?}: {field}");
        }
        assert_eq!(sealed["counters"]["malformed"], 0);
        assert_eq!(sealed["counters"]["seal_failed"], 0);
        // Sealed copies are bigger than the plain XML of the same run.
        let mut plain = cfg.clone();
        plain.mode = Mode::Wire;
        let wire = json(&plain);
        assert!(
            sealed["counters"]["bytes_down"].as_u64().unwrap()
                > wire["counters"]["bytes_down"].as_u64().unwrap()
        );
    }
}

#[test]
fn encrypted_forgeries_are_judged_by_their_signer() {
    // The adversary signs its forgeries with its own key; a replayed owner stanza keeps
    // the owner's signature but opens only for the recipients it was sealed to, so the
    // others count it as a copy they could not open.
    let mut cfg = SimConfig {
        seed: 5,
        clients: 12,
        members: 6,
        groups: 1,
        messages: 12,
        churn: 4,
        forger: true,
        forgeries: 12,
        mode: Mode::Encrypt,
        ..SimConfig::default()
    };
    let h = json(&cfg);
    assert!(h["rejected"]["not-owner"].as_u64().unwrap_or(0) > 0, "{h}");
    for p in h["properties"].as_array().unwrap() {
        assert_eq!(p["holds"], true, "hardened: {p}");
    }
    assert_eq!(h["counters"]["seal_failed"], 0);
    cfg.dialect = Dialect::Kontalk;
    let k = json(&cfg);
    assert!(
        ["owner-authority", "owner-binding", "member-filter"]
            .iter()
            .any(|p| !verdict(&k, p)),
        "{k}"
    );
}

#[test]
fn planted_lassos_replay_in_the_simulator_in_every_mode() {
    use kgroup::Planted;
    use kgroup_model::liveness::analyse;
    use kgroup_sim::replay::{replay_and_drain, replay_lasso};
    use kgroup_sim::Mode;
    for plant in Planted::ALL {
        // No removal: a removed member drops what it holds unacknowledged, a gap the
        // sender's timer fills in the simulator but that the model leaves to loss, crashes
        // and the insider, so a removal would end the checker's path where the simulator
        // still drains.
        let model = kgroup_model::GroupModel {
            planted: Some(plant),
            script: vec![
                kgroup_model::script::Step::Create(vec![1, 2]),
                kgroup_model::script::Step::Add(3),
                kgroup_model::script::Step::Subject(1),
            ],
            ..kgroup_model::findings::scale(Dialect::Hardened, kgroup_model::Network::Unordered, 3)
        };
        let a = analyse(&model, None);
        let lasso = a.lasso.expect("a lasso");
        let prefix: Vec<_> = lasso.prefix.1.iter().map(|(a, _)| a.clone()).collect();
        let cycle: Vec<_> = lasso.cycle.iter().map(|(a, _)| a.clone()).collect();
        let path: Vec<_> = a
            .unreachable
            .expect("a state that cannot quiesce")
            .1
            .iter()
            .map(|(a, _)| a.clone())
            .collect();
        for mode in [Mode::Core, Mode::Wire, Mode::Encrypt] {
            let label = format!("{} in {}", plant.as_str(), mode.as_str());
            let r = replay_lasso(&model, &prefix, &cycle, 2, mode).expect("replays");
            assert_eq!((r.missing, r.malformed), (0, 0), "{label}");
            let c = r.cycle.as_ref().expect("the cycle");
            assert!(c.returns && c.never_quiescent, "{label}: {c:?}");
            assert!(r.fails(kgroup_model::Property::Progress), "{label}");
            assert!(!r.fails(kgroup_model::Property::MemberFilter), "{label}");
            let (r, d) = replay_and_drain(&model, &path, mode, 2_000).expect("replays");
            assert_eq!(r.missing, 0, "{label}");
            // It never drains: it comes back where it was, has nothing left to do, or (the
            // stanza held for ever asked about on a backing-off timer) still holds it at
            // the bound.
            assert!(!d.quiescent, "{label}: {d:?}");
        }
    }
}

#[test]
fn a_run_that_misses_its_drain_deadline_fails_progress_and_says_why() {
    // Every stanza lost: nothing drains before the deadline.
    let cfg = SimConfig {
        loss: 1.0,
        drain_ms: 5_000,
        ..hostile(Dialect::Hardened, 3)
    };
    let report = json(&cfg);
    assert!(!verdict(&report, "progress"));
    assert!(!verdict(&report, "quiescence-reachable"));
    let text = report.to_string();
    assert!(
        text.contains("did not drain by the deadline") && text.contains("unacknowledged"),
        "{text}"
    );
    let ok = json(&SimConfig {
        loss: 0.0,
        ..hostile(Dialect::Hardened, 3)
    });
    assert!(verdict(&ok, "progress") && verdict(&ok, "quiescence-reachable"));
}

/// The insider (a removed member keeping its keys: backdated, reused-number, ahead and
/// unstamped messages, floods of unknown groups, re-seals) with the outsider adversary, on
/// a hostile network, in every mode: hardened holds all twelve, with what each client
/// persists reported; the seed's dialect delivers what the insider sends after its removal,
/// or the same message twice.
#[test]
fn the_insider_and_a_flood_break_kontalk_and_not_hardened() {
    for mode in [Mode::Core, Mode::Wire] {
        for seed in [1, 2] {
            let cfg = SimConfig {
                insider: true,
                insider_moves: 12,
                flood: 100,
                forger: true,
                mode,
                ..hostile(Dialect::Hardened, seed)
            };
            let v = json(&cfg);
            for p in v["properties"].as_array().unwrap() {
                assert_eq!(p["outcome"], "holds", "{mode:?} seed {seed}: {p}");
            }
            assert_eq!(v["properties"].as_array().map(Vec::len), Some(14));
            assert!(v["counters"]["forged"].as_u64().unwrap() > 0);
            let max = v["persisted"]["max_bytes"].as_u64().unwrap();
            let mean = v["persisted"]["mean_bytes"].as_u64().unwrap();
            assert!(0 < mean && mean <= max, "{mean} {max}");
        }
    }
    let broken = [1, 2, 3].into_iter().any(|seed| {
        let cfg = SimConfig {
            insider: true,
            insider_moves: 12,
            flood: 100,
            ..hostile(Dialect::Kontalk, seed)
        };
        let v = json(&cfg);
        !verdict(&v, "removed-silence") || !verdict(&v, "exactly-once")
    });
    assert!(broken, "kontalk never heard the insider");
}

/// The malicious owner (`--equivocate`): each group's owner sends one member another
/// subject at its first change. hardened raises the alarm in every group it forked, in
/// core and wire modes, and holds epoch-agreement (no alarm before the owner lied) and
/// fork-detection; kontalk never raises one.
#[test]
fn the_equivocating_owner_is_found_out_in_hardened() {
    for mode in [Mode::Core, Mode::Wire] {
        for seed in [1, 2] {
            let cfg = SimConfig {
                equivocate: true,
                mode,
                ..hostile(Dialect::Hardened, seed)
            };
            let v = json(&cfg);
            let forks = v["counters"]["equivocations"].as_u64().unwrap();
            let alarms = v["counters"]["alarms"].as_u64().unwrap();
            assert!(forks > 0, "{mode:?} seed {seed}: the owner never lied");
            assert!(alarms > 0, "{mode:?} seed {seed}: nobody noticed");
            assert!(verdict(&v, "fork-detection"), "{mode:?} seed {seed}");
            assert!(verdict(&v, "epoch-agreement"), "{mode:?} seed {seed}");
        }
    }
    let v = json(&SimConfig {
        equivocate: true,
        ..hostile(Dialect::Kontalk, 1)
    });
    assert!(v["counters"]["equivocations"].as_u64().unwrap() > 0);
    assert_eq!(v["counters"]["alarms"], 0);
}

/// A mixed run: clients speak different dialects (by id), on a FIFO network with no loss.
/// `kontalk` and `android` clients interoperate; a `hardened` member refuses what the
/// others send without epochs (`downgrade`), so their messages are lost to it, and what
/// it retransmits to them is never acknowledged: a `kontalk` client delivers every
/// retransmission again, an `android` client drops them as duplicates. With all three,
/// the groups split.
#[test]
fn a_mixed_group_interoperates_where_the_rules_allow_and_says_where_not() {
    use Dialect::{Android, Hardened, Kontalk};
    let mixed = |mix: Vec<Dialect>| {
        json(&SimConfig {
            mix,
            seed: 5,
            clients: 12,
            members: 6,
            groups: 6,
            messages: 30,
            churn: 4,
            parts: 1,
            ..SimConfig::default()
        })
    };
    let rejected = |r: &Value, reason: &str| r["rejected"][reason].as_u64().unwrap_or(0);

    let r = mixed(vec![Kontalk, Android]);
    assert_eq!(r["converged"], true, "{r:#}");
    assert!(verdict(&r, "no-lost-messages") && verdict(&r, "exactly-once"));
    assert_eq!(rejected(&r, "downgrade"), 0);

    let r = mixed(vec![Android, Hardened]);
    assert!(rejected(&r, "downgrade") > 0, "{r:#}");
    assert!(!verdict(&r, "no-lost-messages"));
    assert!(verdict(&r, "exactly-once"));
    assert!(rejected(&r, "duplicate") > 0);

    let r = mixed(vec![Kontalk, Hardened]);
    assert!(!verdict(&r, "exactly-once"), "{r:#}");

    let r = mixed(vec![Kontalk, Android, Hardened]);
    assert!(!verdict(&r, "convergence"), "{r:#}");
    assert_eq!(
        r["config"]["mix"],
        serde_json::json!(["kontalk", "android", "hardened"])
    );
}
