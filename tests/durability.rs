//! Crash and restart from the persisted state, loss and retransmission, removed members
//! asking to resync, and wire compatibility between the dialects.

use kgroup::{Change, Config, Dialect, Ext, Intent, Output, Reason, Status};
use kgroup_testkit::lab::Lab;
use kgroup_testkit::scenarios::{group, Id, ALICE, BOB, CHARLIE, DAVID, GROUP_ID};

fn create(lab: &mut Lab<Id>, members: &[Id]) {
    lab.act(
        &DAVID,
        Intent::Create {
            id: GROUP_ID.into(),
            members: members.to_vec(),
            subject: Some("s".into()),
            body: None,
        },
    )
    .expect("create");
}

fn set(change: Change<Id>) -> Intent<Id> {
    Intent::Set {
        id: GROUP_ID.into(),
        change,
        body: None,
    }
}

fn add(who: Id) -> Intent<Id> {
    set(Change {
        add: vec![who],
        ..Default::default()
    })
}

fn remove(who: Id) -> Intent<Id> {
    set(Change {
        remove: vec![who],
        ..Default::default()
    })
}

fn snapshot_epoch(lab: &Lab<Id>, sent: usize) -> Option<u64> {
    match lab.sent[sent].stanza.ext {
        Some(Ext::Snapshot { epoch, .. }) => Some(epoch),
        _ => None,
    }
}

#[test]
fn owner_crash_keeps_epochs_and_retransmits_what_was_unacknowledged() {
    let mut lab = Lab::new(Dialect::Hardened, [DAVID, ALICE, BOB, CHARLIE]);
    create(&mut lab, &[ALICE, BOB]);
    lab.run_fifo(100);
    let add = lab.act(&DAVID, add(CHARLIE)).expect("add")[0];
    assert_eq!(snapshot_epoch(&lab, add), Some(2));
    // The add is lost everywhere and the owner crashes before any acknowledgement.
    lab.inflight.clear();
    lab.crash(&DAVID);
    assert_eq!(lab.clients[DAVID].view(&group()).map(|v| v.epoch), Some(2));
    // Restarted, it retransmits the add when its timer fires...
    assert!(lab.clients[DAVID].poll_timeout().is_some());
    lab.tick(1_000);
    assert!(lab
        .sent
        .last()
        .is_some_and(|s| s.resent && s.stanza == lab.sent[add].stanza));
    lab.run_fifo(100);
    // ...and its next command takes a fresh epoch, never reusing 2.
    let next = lab.act(&DAVID, remove(BOB)).expect("remove")[0];
    assert_eq!(snapshot_epoch(&lab, next), Some(3));
    lab.run_fifo(100);
    assert!(lab.is_quiescent());
    assert!(lab.converged(&group()));
    assert_eq!(
        lab.clients[ALICE].view(&group()).map(|v| v.members),
        Some(vec![ALICE, CHARLIE, DAVID])
    );
}

#[test]
fn a_member_crash_loses_only_what_it_had_not_acknowledged() {
    let mut lab = Lab::new(Dialect::Hardened, [DAVID, ALICE, BOB, CHARLIE]);
    create(&mut lab, &[ALICE, BOB]);
    lab.run_fifo(100);
    let add = lab.act(&DAVID, add(CHARLIE)).expect("add")[0];
    lab.deliver_to(add, &BOB);
    // bob greets charlie, whose client holds it (no add yet) and then crashes.
    let hi = lab
        .act(
            &BOB,
            Intent::Message {
                group: group(),
                body: "hi charlie".into(),
            },
        )
        .expect("message")[0];
    lab.deliver_to(hi, &CHARLIE);
    assert_eq!(lab.clients[CHARLIE].limbo().count(), 1);
    lab.crash(&CHARLIE);
    assert_eq!(lab.clients[CHARLIE].limbo().count(), 0);
    lab.run_fifo(100);
    // Nothing acknowledged the greeting at charlie, so bob resends it.
    assert!(lab.bodies(&CHARLIE).is_empty());
    lab.tick(1_000);
    lab.run_fifo(100);
    assert_eq!(lab.bodies(&CHARLIE), ["hi charlie"]);
    assert!(lab.is_quiescent() && lab.converged(&group()));
}

#[test]
fn retransmission_backs_off_and_gives_up_after_the_configured_attempts() {
    let mut config = Config::new(Dialect::Hardened);
    config.retransmit_ms = 100;
    config.max_attempts = Some(2);
    let mut lab = Lab::with_config(config, [DAVID, ALICE]);
    // bob has no client here: nothing he is sent is ever acknowledged.
    create(&mut lab, &[ALICE, BOB]);
    lab.run_fifo(100);
    let client = &lab.clients[DAVID];
    assert_eq!(client.poll_timeout(), Some(100));
    let mut out = Vec::new();
    let david = lab.clients.get_mut(DAVID).expect("david");
    david.handle_timeout(99, &mut out);
    assert!(out.is_empty(), "nothing due before the timer");
    david.handle_timeout(100, &mut out);
    assert!(matches!(&out[..], [Output::Send(s)] if s.to == vec![BOB] && s.resent));
    assert_eq!(david.poll_timeout(), Some(100 + 200), "doubled");
    out.clear();
    david.handle_timeout(300, &mut out);
    assert_eq!(david.poll_timeout(), Some(300 + 400));
    out.clear();
    david.handle_timeout(700, &mut out);
    assert!(
        matches!(&out[..], [Output::GaveUp { unacked, seq: 1, .. }] if *unacked == vec![BOB]),
        "{out:?}"
    );
    assert_eq!(david.poll_timeout(), None);
}

#[test]
fn a_removed_member_that_asks_to_resync_gets_its_removal_notice_only() {
    let mut lab = Lab::new(Dialect::Hardened, [DAVID, ALICE, BOB]);
    create(&mut lab, &[ALICE, BOB]);
    lab.run_fifo(100);
    let rm = lab.act(&DAVID, remove(BOB)).expect("remove")[0];
    lab.run_fifo(100);
    lab.act(
        &DAVID,
        set(Change {
            subject: Some("secret plans".into()),
            ..Default::default()
        }),
    )
    .expect("subject");
    lab.run_fifo(100);
    // bob asks the owner for the latest state.
    let resync = std::sync::Arc::new(kgroup::Stanza {
        group: group(),
        command: kgroup::Command::Message,
        body: None,
        ext: Some(Ext::Resync { epoch: 1 }),
    });
    let mut out = Vec::new();
    lab.clients
        .get_mut(DAVID)
        .expect("david")
        .receive(BOB, resync, 0, &mut out);
    let [Output::Send(s)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(s.to, vec![BOB]);
    assert!(s.resent);
    assert_eq!(s.stanza, lab.sent[rm].stanza);
    let bob = lab.clients[BOB].view(&group()).expect("bob's view");
    assert_eq!(bob.status, Status::Removed);
    assert_eq!(bob.subject.as_deref(), Some("s"));
    assert!(lab
        .sent
        .iter()
        .filter(|s| s.to.contains(&BOB))
        .all(|s| !format!("{:?}", s.stanza).contains("secret plans")));
}

/// A `kontalk` client in a group run by a `hardened` owner follows every change through the
/// seed's own elements. Its epoch-less messages say neither whom they were addressed to nor
/// which they are, so hardened v2 members refuse them (a downgrade); v1 members heard them,
/// and delivered each replay of them again.
#[test]
fn dialects_interoperate_on_the_wire() {
    let mut lab = Lab::new(Dialect::Hardened, [DAVID, ALICE, CHARLIE]);
    lab.add_client(BOB, Config::new(Dialect::Kontalk));
    create(&mut lab, &[ALICE, BOB]);
    lab.run_fifo(100);
    lab.act(&DAVID, add(CHARLIE)).expect("add");
    lab.run_fifo(100);
    lab.act(&DAVID, remove(ALICE)).expect("remove");
    lab.run_fifo(100);
    lab.act(
        &DAVID,
        set(Change {
            subject: Some("t".into()),
            ..Default::default()
        }),
    )
    .expect("subject");
    lab.run_fifo(100);
    lab.act(
        &BOB,
        Intent::Message {
            group: group(),
            body: "from kontalk".into(),
        },
    )
    .expect("message");
    lab.run_fifo(100);
    let bob = lab.clients[BOB].view(&group()).expect("bob");
    assert_eq!(bob.members, vec![BOB, CHARLIE, DAVID]);
    assert_eq!(bob.subject.as_deref(), Some("t"));
    assert_eq!(bob.epoch, 0, "the kontalk client ignores our extension");
    assert!(lab.converged(&group()));
    assert!(lab.bodies(&CHARLIE).is_empty());
    assert!(lab.bodies(&DAVID).is_empty());
    assert!(lab.rejections_at(&DAVID).contains(&Reason::Downgrade));
    // Our acknowledgements reach it as bodiless group messages, reported as such.
    assert!(lab.rejections_at(&BOB).iter().all(|r| *r == Reason::Empty));
    // bob never acknowledges, so the owner still waits on him: the hardened guarantees
    // hold among hardened clients.
    assert!(!lab.clients[DAVID].is_idle());
}
