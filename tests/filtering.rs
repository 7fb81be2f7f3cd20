//! Every filtering rule of the seed, and of the hardened dialect: each rejected stanza is
//! reported with its typed reason and changes nothing.

use std::sync::Arc;

use kgroup::{
    Change, Command, Config, Dialect, Ext, GroupKey, Intent, LocalError, Output, Reason, Roster,
    Stanza, Status, Text,
};
use kgroup_testkit::lab::Lab;
use kgroup_testkit::scenarios::{group, Id, ALICE, BOB, CHARLIE, DAVID, GROUP_ID};

const MALLORY: &str = "mallory@beta.kontalk.net";

/// david's group with alice and bob, everything delivered.
fn created(dialect: Dialect) -> Lab<Id> {
    created_with(Config::new(dialect))
}

fn created_with(config: Config) -> Lab<Id> {
    let mut lab = Lab::with_config(config, [DAVID, ALICE, BOB, CHARLIE, MALLORY]);
    lab.act(
        &DAVID,
        Intent::Create {
            id: GROUP_ID.into(),
            members: vec![ALICE, BOB],
            subject: Some("Our great journey".into()),
            body: None,
        },
    )
    .expect("create");
    lab.run_fifo(1000);
    lab
}

/// david changes the group, and everything is delivered.
fn david_sets(lab: &mut Lab<Id>, change: Change<Id>) {
    let intent = Intent::Set {
        id: GROUP_ID.into(),
        change,
        body: None,
    };
    lab.act(&DAVID, intent).expect("david's change");
    lab.run_fifo(1000);
}

fn stanza(
    owner: Id,
    command: Command<Id>,
    body: Option<&str>,
    ext: Option<Ext<Id>>,
) -> Arc<Stanza<Id>> {
    Arc::new(Stanza {
        group: GroupKey::new(GROUP_ID, owner),
        command,
        body: body.map(Text::from),
        ext,
    })
}

/// A stamp addressed to everyone these tests name.
fn stamp(epoch: u64, seq: u64) -> Ext<Id> {
    let mut to = vec![ALICE, BOB, CHARLIE, DAVID, MALLORY];
    to.sort_unstable();
    Ext::Stamp { epoch, seq, to }
}

fn set_add(who: Id) -> Command<Id> {
    Command::Set {
        subject: None,
        add: vec![who],
        remove: vec![],
        members: vec![],
    }
}

/// Delivers `s` from `from` to `to`; asserts that it was rejected with `reason`, delivered
/// nothing and left `to`'s view as it was.
fn assert_rejected(lab: &mut Lab<Id>, to: Id, from: Id, s: Arc<Stanza<Id>>, reason: Reason) {
    let before = lab.clients[to].view(&s.group);
    let mut out = Vec::new();
    lab.clients
        .get_mut(to)
        .expect("client")
        .receive(from, s.clone(), 0, &mut out);
    let reasons: Vec<Reason> = out
        .iter()
        .filter_map(|o| match o {
            Output::Reject { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![reason], "{to} got {s:?} from {from}: {out:?}");
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Deliver { .. } | Output::Changed { .. })),
        "{out:?}"
    );
    assert_eq!(
        lab.clients[to].view(&s.group),
        before,
        "view changed at {to}"
    );
}

#[test]
fn commands_from_anyone_but_the_owner_are_ignored() {
    for d in Dialect::ALL {
        let mut lab = created(d);
        // alice forges david's owner attribute: the authenticated sender is alice.
        let forged = [
            set_add(MALLORY),
            Command::Set {
                subject: None,
                add: vec![],
                remove: vec![BOB],
                members: vec![],
            },
            Command::Set {
                subject: Some("pwned".into()),
                add: vec![],
                remove: vec![],
                members: vec![],
            },
            Command::Create {
                subject: None,
                members: vec![BOB, MALLORY],
            },
        ];
        for c in forged {
            assert_rejected(
                &mut lab,
                BOB,
                ALICE,
                stanza(DAVID, c.clone(), None, None),
                Reason::NotOwner,
            );
        }
        if d == Dialect::Hardened {
            // The same with a hardened snapshot claiming a newer epoch.
            let ext = Ext::Snapshot {
                epoch: 99,
                seq: 1,
                prev: kgroup::Digest::ZERO,
                subject: None,
                roster: Roster::with_members([DAVID, ALICE, BOB, MALLORY], 1),
            };
            assert_rejected(
                &mut lab,
                BOB,
                ALICE,
                stanza(DAVID, set_add(MALLORY), None, Some(ext)),
                Reason::NotOwner,
            );
        }
        // And a non-member who is not the owner either.
        assert_rejected(
            &mut lab,
            ALICE,
            MALLORY,
            stanza(DAVID, set_add(MALLORY), None, None),
            Reason::NotOwner,
        );
    }
}

#[test]
fn a_known_group_id_with_another_owner_is_ignored() {
    // kontalk: the seed's rule, a known id with another owner is dropped.
    let mut lab = created(Dialect::Kontalk);
    assert_rejected(
        &mut lab,
        ALICE,
        MALLORY,
        stanza(MALLORY, Command::Message, Some("hi"), None),
        Reason::WrongOwner,
    );
    assert_rejected(
        &mut lab,
        ALICE,
        MALLORY,
        stanza(MALLORY, set_add(MALLORY), None, None),
        Reason::WrongOwner,
    );
    let create = Command::Create {
        subject: None,
        members: vec![ALICE],
    };
    assert_rejected(
        &mut lab,
        ALICE,
        MALLORY,
        stanza(MALLORY, create.clone(), Some("join me"), None),
        Reason::WrongOwner,
    );
    assert!(lab.clients[ALICE]
        .view(&GroupKey::new(GROUP_ID, MALLORY))
        .is_none());

    // hardened: groups are keyed by (id, owner), so mallory's stanzas can only ever reach
    // a group of hers; david's group is untouched and hears nothing of them.
    let mut lab = created(Dialect::Hardened);
    let before = lab.clients[ALICE].view(&group());
    let mut out = Vec::new();
    let alice = lab.clients.get_mut(ALICE).expect("alice");
    let ext = Some(stamp(1, 1));
    alice.receive(
        MALLORY,
        stanza(MALLORY, Command::Message, Some("hi"), ext),
        0,
        &mut out,
    );
    alice.receive(
        MALLORY,
        stanza(MALLORY, create, Some("join me"), None),
        0,
        &mut out,
    );
    assert_eq!(alice.view(&group()), before);
    assert!(
        out.iter().all(|o| match o {
            Output::Send(s) => s.stanza.group.owner == MALLORY,
            Output::Deliver { group, .. }
            | Output::Changed { group, .. }
            | Output::Reject { group, .. } => group.owner == MALLORY,
            Output::GaveUp { .. } | Output::Equivocation { .. } => false,
        }),
        "{out:?}"
    );
}

#[test]
fn messages_and_parts_from_non_members_are_discarded() {
    for d in Dialect::ALL {
        let mut lab = created(d);
        let ext = |seq| (d == Dialect::Hardened).then_some(stamp(1, seq));
        assert_rejected(
            &mut lab,
            ALICE,
            MALLORY,
            stanza(DAVID, Command::Message, Some("spam"), ext(1)),
            Reason::NotMember,
        );
        assert_rejected(
            &mut lab,
            ALICE,
            MALLORY,
            stanza(DAVID, Command::Part, None, ext(2)),
            Reason::NotMember,
        );
        assert!(lab.bodies(&ALICE).is_empty());
    }
}

#[test]
fn a_removed_member_is_no_longer_heard() {
    for d in Dialect::ALL {
        let mut lab = created(d);
        david_sets(
            &mut lab,
            Change {
                remove: vec![BOB],
                ..Default::default()
            },
        );
        assert_eq!(
            lab.clients[BOB].view(&group()).map(|v| v.status),
            Some(Status::Removed)
        );
        // bob's client refuses to send, and a message bob composes anyway is discarded.
        let refused = lab.act(
            &BOB,
            Intent::Message {
                group: group(),
                body: "still here".into(),
            },
        );
        assert_eq!(refused, Err(LocalError::NotMember));
        let ext = (d == Dialect::Hardened).then_some(stamp(2, 50));
        assert_rejected(
            &mut lab,
            ALICE,
            BOB,
            stanza(DAVID, Command::Message, Some("still here"), ext),
            Reason::NotMember,
        );
    }
}

#[test]
fn unknown_groups_and_creates_not_naming_us() {
    // kontalk: a message for a group it does not know is discarded.
    let mut lab = Lab::new(Dialect::Kontalk, [ALICE, DAVID]);
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, Command::Message, Some("hi"), None),
        Reason::UnknownGroup,
    );
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, Command::Part, None, None),
        Reason::UnknownGroup,
    );
    let not_me = Command::Create {
        subject: None,
        members: vec![BOB],
    };
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, not_me, None, None),
        Reason::NotAddressed,
    );
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, set_add(BOB), None, None),
        Reason::UnknownGroup,
    );

    // hardened: a snapshot whose roster never names us.
    let mut lab = Lab::new(Dialect::Hardened, [ALICE, DAVID]);
    let ext = Ext::Snapshot {
        epoch: 1,
        seq: 1,
        prev: kgroup::Digest::ZERO,
        subject: None,
        roster: Roster::with_members([DAVID, BOB], 1),
    };
    let create = Command::Create {
        subject: None,
        members: vec![BOB],
    };
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, create, None, Some(ext)),
        Reason::NotAddressed,
    );
}

#[test]
fn hardened_refuses_downgrades_duplicates_stale_and_forged_epochs() {
    let mut lab = created(Dialect::Hardened);
    // An epoch-less set from the real owner in a group with epochs.
    assert_rejected(
        &mut lab,
        ALICE,
        DAVID,
        stanza(DAVID, set_add(MALLORY), None, None),
        Reason::Downgrade,
    );
    // The create (sent stanza 0), delivered again: a duplicate.
    let create = lab.sent[0].stanza.clone();
    assert_rejected(&mut lab, ALICE, DAVID, create.clone(), Reason::Duplicate);
    // The same snapshot under a fresh sequence number: stale.
    let mut fresh = (*create).clone();
    if let Some(Ext::Snapshot { seq, .. }) = &mut fresh.ext {
        *seq = 77;
    }
    assert_rejected(&mut lab, ALICE, DAVID, Arc::new(fresh), Reason::Stale);
    // A member claims an epoch the owner never issued: the owner refuses it.
    let ahead = stanza(
        DAVID,
        Command::Message,
        Some("from the future"),
        Some(stamp(9, 1)),
    );
    assert_rejected(&mut lab, DAVID, ALICE, ahead, Reason::Stale);
    // A message without body.
    let empty = stanza(DAVID, Command::Message, None, Some(stamp(1, 2)));
    assert_rejected(&mut lab, BOB, ALICE, empty, Reason::Empty);
    // Control stanzas that make no sense: a resync asked of a non-owner, an ack for an
    // unknown group, a resync from a stranger.
    let resync = stanza(
        DAVID,
        Command::Message,
        None,
        Some(Ext::Resync { epoch: 0 }),
    );
    assert_rejected(&mut lab, BOB, ALICE, resync.clone(), Reason::BadControl);
    assert_rejected(&mut lab, DAVID, MALLORY, resync, Reason::NotMember);
    let ack = Arc::new(Stanza {
        group: GroupKey::new("OTHER", DAVID),
        command: Command::Message,
        body: None,
        ext: Some(Ext::Ack { seq: 1 }),
    });
    assert_rejected(&mut lab, ALICE, DAVID, ack, Reason::BadControl);
}

#[test]
fn hardened_holds_messages_from_the_future_up_to_a_bound() {
    let mut config = Config::new(Dialect::Hardened);
    config.max_held = 2;
    let mut lab = created_with(config);
    let future = |seq| stanza(DAVID, Command::Message, Some("later"), Some(stamp(5, seq)));
    for seq in 1..=2 {
        let mut out = Vec::new();
        lab.clients
            .get_mut(ALICE)
            .expect("alice")
            .receive(BOB, future(seq), 0, &mut out);
        // Held, and a resync asked of the owner; nothing delivered or rejected.
        assert!(
            out.iter()
                .all(|o| matches!(o, Output::Send(s) if s.to == vec![DAVID])),
            "{out:?}"
        );
    }
    assert_eq!(
        lab.clients[ALICE].group(&group()).map(|g| g.held().len()),
        Some(2)
    );
    assert_rejected(&mut lab, ALICE, BOB, future(3), Reason::BufferFull);
}

#[test]
fn local_intents_are_checked() {
    for d in Dialect::ALL {
        let mut lab = created(d);
        let add = |who: Id| Intent::Set {
            id: GROUP_ID.into(),
            change: Change {
                add: vec![who],
                ..Default::default()
            },
            body: None,
        };
        assert_eq!(lab.act(&ALICE, add(MALLORY)), Err(LocalError::NotOwner));
        assert_eq!(lab.act(&DAVID, add(ALICE)), Err(LocalError::NoChange));
        let again = Intent::Create {
            id: GROUP_ID.into(),
            members: vec![],
            subject: None,
            body: None,
        };
        assert_eq!(lab.act(&DAVID, again.clone()), Err(LocalError::GroupExists));
        if d == Dialect::Kontalk {
            assert_eq!(lab.act(&ALICE, again), Err(LocalError::WrongOwner));
        } else {
            // (GROUP-ID, alice) is another group than (GROUP-ID, david).
            assert!(lab.act(&ALICE, again).is_ok());
        }
        let stranger = Intent::Message {
            group: group(),
            body: "hi".into(),
        };
        assert_eq!(lab.act(&MALLORY, stranger), Err(LocalError::UnknownGroup));
        let part = Intent::Part {
            group: group(),
            body: None,
        };
        let next = lab.sent.len();
        assert_eq!(lab.act(&ALICE, part.clone()), Ok(vec![next]));
        assert_eq!(lab.act(&ALICE, part), Err(LocalError::NotMember));
    }
}

/// Sends every stanza of `out` addressed to `to` into `client`, as from `from`.
fn pass(out: &[Output<Id>], from: Id, to: Id, client: &mut kgroup::Client<Id>) -> Vec<Output<Id>> {
    let mut next = Vec::new();
    for o in out {
        if let Output::Send(s) = o {
            if s.to.contains(&to) {
                client.receive(from, s.stanza.clone(), 0, &mut next);
            }
        }
    }
    next
}

/// alice, holding in limbo mallory's message in her own name for a group david never
/// made, and what she sent on receiving it.
fn alice_holding_junk() -> (kgroup::Client<Id>, Vec<Output<Id>>) {
    let mut alice = kgroup::Client::new(ALICE, Config::new(Dialect::Hardened));
    let junk = stanza(DAVID, Command::Message, Some("forged"), Some(stamp(1, 100)));
    let mut out = Vec::new();
    alice.receive(MALLORY, junk, 0, &mut out);
    (alice, out)
}

/// Does `out` send `to` a resync (at `epoch`, if given)?
fn resyncs(out: &[Output<Id>], to: Id, epoch: Option<u64>) -> bool {
    out.iter().any(|o| {
        matches!(o, Output::Send(s)
            if s.to == vec![to]
                && matches!(s.stanza.ext, Some(Ext::Resync { epoch: e }) if epoch.is_none_or(|x| x == e)))
    })
}

#[test]
fn regression_junk_for_a_group_the_owner_never_made_is_dropped_not_held_for_ever() {
    // Found by `progress` (`kgroup check --adversary`, before the fix): mallory's message
    // in alice's name, for a group david has not created, sat in alice's limbo for ever.
    let (mut alice, out) = alice_holding_junk();
    assert!(!alice.is_idle(), "held in limbo, and the owner asked");
    let mut david = kgroup::Client::new(DAVID, Config::new(Dialect::Hardened));
    let answer = pass(&out, ALICE, DAVID, &mut david);
    assert!(
        resyncs(&answer, ALICE, Some(0)),
        "david says he has nothing: {answer:?}"
    );
    pass(&answer, DAVID, ALICE, &mut alice);
    assert!(alice.is_idle(), "the junk is gone");
    assert!(alice.view(&GroupKey::new(GROUP_ID, DAVID)).is_none());
}

#[test]
fn regression_a_lost_request_about_limbo_is_asked_again() {
    // Found by `progress` on the lossy network: the request (or its answer) lost, nothing
    // asked again, and the junk held for ever. Limbo now arms a timer.
    let (mut alice, _) = alice_holding_junk();
    let due = alice.poll_timeout().expect("a timer for limbo");
    let mut again = Vec::new();
    alice.handle_timeout(due, &mut again);
    assert!(resyncs(&again, DAVID, None), "{again:?}");
    assert!(
        alice.poll_timeout().is_some_and(|t| t > due),
        "and again later"
    );
}

#[test]
fn a_legitimate_message_before_its_create_is_still_held_and_delivered() {
    // The owner's "nothing for you" only comes when it has no such group, or the asker
    // was never a member: a member whose create is late keeps what it holds.
    let mut lab = created(Dialect::Hardened);
    let key = GroupKey::new(GROUP_ID, DAVID);
    david_sets(
        &mut lab,
        Change {
            add: vec![CHARLIE],
            ..Default::default()
        },
    );
    assert!(lab.converged(&key));
    let mut fresh = kgroup::Client::new(CHARLIE, Config::new(Dialect::Hardened));
    let early = stanza(DAVID, Command::Message, Some("hi"), Some(stamp(2, 1)));
    let mut out = Vec::new();
    fresh.receive(ALICE, early, 0, &mut out);
    let answer = pass(
        &out,
        CHARLIE,
        DAVID,
        lab.clients.get_mut(&DAVID).expect("david"),
    );
    let delivered = pass(&answer, DAVID, CHARLIE, &mut fresh);
    assert!(
        delivered
            .iter()
            .any(|o| matches!(o, Output::Deliver { body, .. } if &**body == "hi")),
        "{delivered:?}"
    );
}
