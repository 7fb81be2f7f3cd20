//! The `android` dialect's rules, one by one, at core level (src/core/android.rs cites the
//! Android client's source for each).

use std::sync::Arc;

use kgroup::{
    Client, Command, Config, Dialect, GroupKey, Intent, Output, Reason, Stanza, Status, Text,
};
use kgroup_testkit::scenarios::{group, Id, ALICE, BOB, CHARLIE, DAVID, GROUP_ID};

fn alice() -> Client<Id> {
    Client::new(ALICE, Config::new(Dialect::Android))
}

fn stanza(command: Command<Id>, body: Option<&str>) -> Arc<Stanza<Id>> {
    Arc::new(Stanza {
        group: group(),
        command,
        body: body.map(Text::from),
        ext: None,
    })
}

fn create(members: &[Id], subject: Option<&str>) -> Arc<Stanza<Id>> {
    stanza(
        Command::Create {
            subject: subject.map(Text::from),
            members: members.to_vec(),
        },
        None,
    )
}

fn set(add: &[Id], remove: &[Id], members: &[Id], subject: Option<&str>) -> Arc<Stanza<Id>> {
    stanza(
        Command::Set {
            subject: subject.map(Text::from),
            add: add.to_vec(),
            remove: remove.to_vec(),
            members: members.to_vec(),
        },
        None,
    )
}

fn receive(c: &mut Client<Id>, from: Id, s: Arc<Stanza<Id>>) -> Vec<Output<Id>> {
    let mut out = Vec::new();
    c.receive(from, s, 0, &mut out);
    out
}

fn members(c: &Client<Id>) -> Vec<Id> {
    c.view(&group()).map(|v| v.members).unwrap_or_default()
}

fn rejected(out: &[Output<Id>]) -> Option<Reason> {
    out.iter().find_map(|o| match o {
        Output::Reject { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn delivered(out: &[Output<Id>]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Deliver { .. }))
        .count()
}

#[test]
fn a_create_from_the_owner_is_always_taken_and_adds_up() {
    let mut c = alice();
    receive(&mut c, DAVID, create(&[ALICE, BOB], Some("Trip")));
    assert_eq!(members(&c), vec![ALICE, BOB, DAVID]);
    // Again, for the known group: members are added, nothing is removed, the subject stays.
    receive(&mut c, DAVID, create(&[CHARLIE], Some("Other")));
    assert_eq!(members(&c), vec![ALICE, BOB, CHARLIE, DAVID]);
    let v = c.view(&group()).expect("a view");
    assert_eq!(v.subject.as_deref(), Some("Trip"));
    // A create that does not list me still makes a group I belong to.
    let mut b = Client::new(BOB, Config::new(Dialect::Android));
    receive(&mut b, DAVID, create(&[ALICE], None));
    assert_eq!(b.view(&group()).map(|v| v.status), Some(Status::Member));
    // Only the owner's (by the server's `from`).
    let mut c = alice();
    let out = receive(&mut c, BOB, create(&[ALICE], None));
    assert_eq!(rejected(&out), Some(Reason::NotOwner));
}

#[test]
fn a_set_for_an_unknown_group_is_taken_only_when_it_adds_me() {
    let mut c = alice();
    let out = receive(&mut c, DAVID, set(&[CHARLIE], &[], &[BOB], None));
    assert_eq!(rejected(&out), Some(Reason::UnknownGroup));
    assert!(c.view(&group()).is_none());
    receive(&mut c, DAVID, set(&[ALICE], &[], &[BOB], Some("Trip")));
    assert_eq!(members(&c), vec![ALICE, BOB, DAVID]);
}

#[test]
fn removes_come_last_so_a_member_listed_and_removed_ends_removed() {
    let mut c = alice();
    receive(&mut c, DAVID, create(&[ALICE, BOB, CHARLIE], Some("Trip")));
    // The Android owner's removal: every row listed, the removed one too.
    receive(
        &mut c,
        DAVID,
        set(&[], &[CHARLIE], &[ALICE, BOB, CHARLIE], Some("Trip")),
    );
    assert_eq!(members(&c), vec![ALICE, BOB, DAVID]);
    // Removing me: kicked.
    receive(&mut c, DAVID, set(&[], &[ALICE], &[ALICE, BOB], None));
    assert_eq!(c.view(&group()).map(|v| v.status), Some(Status::Removed));
}

#[test]
fn only_a_set_without_member_children_changes_the_subject() {
    let mut c = alice();
    receive(&mut c, DAVID, create(&[ALICE, BOB], Some("Trip")));
    receive(
        &mut c,
        DAVID,
        set(&[CHARLIE], &[], &[ALICE, BOB], Some("Ignored")),
    );
    assert_eq!(
        c.view(&group()).and_then(|v| v.subject).as_deref(),
        Some("Trip")
    );
    receive(&mut c, DAVID, set(&[], &[], &[], Some("Trip 2021")));
    assert_eq!(
        c.view(&group()).and_then(|v| v.subject).as_deref(),
        Some("Trip 2021")
    );
    // A subject-only set without a subject clears it.
    receive(&mut c, DAVID, set(&[], &[], &[], None));
    assert_eq!(c.view(&group()).and_then(|v| v.subject), None);
}

#[test]
fn parts_and_messages_only_from_member_rows_and_my_own_part_is_not_checked() {
    let mut c = alice();
    receive(&mut c, DAVID, create(&[ALICE, BOB], None));
    let out = receive(&mut c, CHARLIE, stanza(Command::Message, Some("hi")));
    assert_eq!(rejected(&out), Some(Reason::NotMember));
    let out = receive(&mut c, BOB, stanza(Command::Message, Some("hi")));
    assert_eq!(delivered(&out), 1);
    // I part; bob still writes to me, and I still take it.
    let mut out = Vec::new();
    c.act(
        Intent::Part {
            group: group(),
            body: None,
        },
        0,
        &mut out,
    )
    .expect("part");
    let out = receive(&mut c, BOB, stanza(Command::Message, Some("still here?")));
    assert_eq!(delivered(&out), 1);
    // bob parts: his row goes.
    receive(&mut c, BOB, stanza(Command::Part, None));
    assert!(!members(&c).contains(&BOB));
}

#[test]
fn a_commands_body_is_never_shown() {
    let mut c = alice();
    let mut s = (*create(&[ALICE, BOB], None)).clone();
    s.body = Some("This is a group chat message. You're using an old version".into());
    let out = receive(&mut c, DAVID, Arc::new(s));
    assert_eq!(delivered(&out), 0);
}

#[test]
fn messages_are_delivered_once_and_commands_applied_again() {
    let mut c = alice();
    let created = create(&[ALICE, BOB, CHARLIE], None);
    receive(&mut c, DAVID, created.clone());
    let hi = stanza(Command::Message, Some("hi"));
    assert_eq!(delivered(&receive(&mut c, BOB, hi.clone())), 1);
    let again = receive(&mut c, BOB, hi);
    assert_eq!(
        (delivered(&again), rejected(&again)),
        (0, Some(Reason::Duplicate))
    );
    // charlie is removed, and a late duplicate of the create puts him back.
    receive(
        &mut c,
        DAVID,
        set(&[], &[CHARLIE], &[ALICE, BOB, CHARLIE], None),
    );
    assert!(!members(&c).contains(&CHARLIE));
    receive(&mut c, DAVID, created);
    assert!(members(&c).contains(&CHARLIE));
}

#[test]
fn another_owner_is_another_group() {
    let mut c = alice();
    receive(&mut c, DAVID, create(&[ALICE, BOB], None));
    let squat = Arc::new(Stanza {
        group: GroupKey::new(GROUP_ID, BOB),
        command: Command::Create {
            subject: None,
            members: vec![ALICE],
        },
        body: None,
        ext: None,
    });
    let out = receive(&mut c, BOB, squat);
    assert_eq!(rejected(&out), None);
    assert_eq!(
        members(&c),
        vec![ALICE, BOB, DAVID],
        "david's group untouched"
    );
}

#[test]
fn the_android_owner_lists_and_addresses_the_removed_member() {
    let mut david = Client::new(DAVID, Config::new(Dialect::Android));
    let mut out = Vec::new();
    david
        .act(
            Intent::Create {
                id: GROUP_ID.into(),
                members: vec![ALICE, BOB, CHARLIE],
                subject: Some("Trip".into()),
                body: None,
            },
            0,
            &mut out,
        )
        .expect("create");
    let mut out = Vec::new();
    david
        .act(
            Intent::Set {
                id: GROUP_ID.into(),
                change: kgroup::Change {
                    remove: vec![CHARLIE],
                    ..Default::default()
                },
                body: None,
            },
            0,
            &mut out,
        )
        .expect("remove");
    let sent = out
        .iter()
        .find_map(|o| match o {
            Output::Send(s) => Some(s),
            _ => None,
        })
        .expect("a set");
    assert!(sent.to.contains(&CHARLIE), "{sent:?}");
    match &sent.stanza.command {
        Command::Set {
            members,
            remove,
            subject,
            ..
        } => {
            assert!(
                members.contains(&CHARLIE) && remove == &vec![CHARLIE],
                "{members:?}"
            );
            assert_eq!(subject.as_deref(), Some("Trip"));
        }
        other => panic!("{other:?}"),
    }
}

/// What members send cannot grow what an android client remembers without bound: at most
/// `max_window` message ids per group.
#[test]
fn the_remembered_message_ids_are_bounded() {
    let mut c = Client::new(
        ALICE,
        Config {
            max_window: 4,
            ..Config::new(Dialect::Android)
        },
    );
    receive(&mut c, DAVID, create(&[ALICE, BOB], None));
    for i in 0..10 {
        let m = stanza(Command::Message, Some(&format!("m{i}")));
        assert_eq!(delivered(&receive(&mut c, BOB, m)), 1);
    }
    assert_eq!(c.bounds_exceeded(), None);
}
