//! The seed's example stanzas, replayed at the core level.
//!
//! Each stanza of `kontalk-group-chat.txt` is written here as the typed value the codec
//! produces (group id, owner, command, member/add/remove lists, subject, body) together with
//! its XEP-0033 address list, and delivered to every addressed client in the seed's order.
//! After each one, every member's view is asserted.

use std::sync::Arc;

use kgroup::{
    Client, Command, Config, Dialect, GroupKey, Intent, Output, Stanza, Status, Text, View,
};
use kgroup_testkit::scenarios::{ALICE, BOB, CHARLIE, DAVID, GROUP_ID};

type Id = &'static str;

fn key() -> GroupKey<Id> {
    GroupKey::new(GROUP_ID, DAVID)
}

fn text(s: &str) -> Option<Text> {
    Some(s.into())
}

/// The seed's six stanzas, in order, each with its address list. All are sent by david.
fn seed_stanzas() -> Vec<(Vec<Id>, Stanza<Id>)> {
    let st = |command, body: &str| Stanza {
        group: key(),
        command,
        body: text(body),
        ext: None,
    };
    vec![
        (
            vec![ALICE, BOB],
            st(
                Command::Create {
                    subject: text("Our great journey"),
                    members: vec![ALICE, BOB],
                },
                "Hey folks!",
            ),
        ),
        (vec![ALICE, BOB], st(Command::Message, "What is going on?")),
        (
            vec![ALICE, BOB, CHARLIE],
            st(
                Command::Set {
                    subject: text("Our great journey"),
                    add: vec![CHARLIE],
                    remove: vec![],
                    members: vec![ALICE, BOB],
                },
                "Welcome Charlie!",
            ),
        ),
        (
            vec![ALICE, BOB, CHARLIE],
            st(
                Command::Set {
                    subject: None,
                    add: vec![],
                    remove: vec![CHARLIE],
                    members: vec![],
                },
                "Sorry Charlie, you're out.",
            ),
        ),
        (
            vec![ALICE, BOB, CHARLIE],
            st(
                Command::Set {
                    subject: text("Our journey continues"),
                    add: vec![],
                    remove: vec![],
                    members: vec![],
                },
                "Keep on rocking!",
            ),
        ),
        (vec![ALICE, BOB, CHARLIE], st(Command::Part, "Goodbye!")),
    ]
}

struct Expect {
    members: &'static [Id],
    subject: &'static str,
    status: Status,
}

fn check(client: &Client<Id>, e: &Expect, step: usize) {
    let v: View<Id> = client
        .view(&key())
        .unwrap_or_else(|| panic!("step {step}: {} has no view", client.me()));
    let mut want: Vec<Id> = e.members.to_vec();
    want.sort();
    assert_eq!(v.members, want, "step {step}: members at {}", client.me());
    assert_eq!(
        v.subject.as_deref(),
        Some(e.subject),
        "step {step}: subject at {}",
        client.me()
    );
    assert_eq!(v.status, e.status, "step {step}: status at {}", client.me());
    assert_eq!(v.owner, DAVID);
}

fn replay(dialect: Dialect) {
    let mut clients: Vec<Client<Id>> = [ALICE, BOB, CHARLIE]
        .into_iter()
        .map(|id| Client::new(id, Config::new(dialect)))
        .collect();
    let mut delivered: Vec<Vec<String>> = vec![Vec::new(); 3];
    const J: Status = Status::Member;
    let member_view = |members, subject| Expect {
        members,
        subject,
        status: J,
    };
    // Expected views of alice and bob after each stanza.
    let ab = [
        member_view(&[DAVID, ALICE, BOB], "Our great journey"),
        member_view(&[DAVID, ALICE, BOB], "Our great journey"),
        member_view(&[DAVID, ALICE, BOB, CHARLIE], "Our great journey"),
        member_view(&[DAVID, ALICE, BOB], "Our great journey"),
        member_view(&[DAVID, ALICE, BOB], "Our journey continues"),
        member_view(&[ALICE, BOB], "Our journey continues"),
    ];
    // Charlie's, from the add on: removed, it still follows what the seed addresses to it.
    let charlie = [
        None,
        None,
        Some(member_view(
            &[DAVID, ALICE, BOB, CHARLIE],
            "Our great journey",
        )),
        Some(Expect {
            members: &[DAVID, ALICE, BOB],
            subject: "Our great journey",
            status: Status::Removed,
        }),
        Some(Expect {
            members: &[DAVID, ALICE, BOB],
            subject: "Our journey continues",
            status: Status::Removed,
        }),
        Some(Expect {
            members: &[ALICE, BOB],
            subject: "Our journey continues",
            status: Status::Removed,
        }),
    ];
    for (step, (to, stanza)) in seed_stanzas().into_iter().enumerate() {
        let stanza = Arc::new(stanza);
        for (i, c) in clients.iter_mut().enumerate() {
            if !to.contains(c.me()) {
                continue;
            }
            let mut out = Vec::new();
            c.receive(DAVID, stanza.clone(), 0, &mut out);
            for o in out {
                match o {
                    Output::Deliver { body, from, .. } => {
                        assert_eq!(from, DAVID);
                        delivered[i].push(body.to_string());
                    }
                    Output::Reject { reason, .. } => {
                        panic!("step {step}: {} rejected a seed stanza: {reason:?}", c.me())
                    }
                    _ => {}
                }
            }
        }
        check(&clients[0], &ab[step], step);
        check(&clients[1], &ab[step], step);
        match &charlie[step] {
            Some(e) => check(&clients[2], e, step),
            None => assert!(clients[2].view(&key()).is_none(), "step {step}"),
        }
    }
    let all: Vec<String> = seed_stanzas()
        .iter()
        .filter_map(|(_, s)| s.body.as_deref().map(String::from))
        .collect();
    assert_eq!(delivered[0], all);
    assert_eq!(delivered[1], all);
    assert_eq!(
        delivered[2],
        [
            "Welcome Charlie!",
            "Sorry Charlie, you're out.",
            "Keep on rocking!",
            "Goodbye!"
        ]
    );
}

#[test]
fn kontalk_replays_the_seed_stanzas() {
    replay(Dialect::Kontalk);
}

/// The seed's stanzas carry no epoch: a hardened client treats the group as a `kontalk`
/// group and ends with the same views.
#[test]
fn hardened_accepts_the_epochless_seed_stanzas() {
    replay(Dialect::Hardened);
}

/// david's `kontalk` client composes the seed's stanzas: same commands, lists, subjects
/// and bodies; same address lists except where the seed addresses charlie after removing
/// him (there the core, applying the seed's own rule, leaves him out).
#[test]
fn kontalk_owner_composes_the_seed_stanzas() {
    let mut david = Client::new(DAVID, Config::new(Dialect::Kontalk));
    let intents = [
        Intent::Create {
            id: GROUP_ID.into(),
            members: vec![ALICE, BOB],
            subject: text("Our great journey"),
            body: text("Hey folks!"),
        },
        Intent::Message {
            group: key(),
            body: "What is going on?".into(),
        },
        Intent::Set {
            id: GROUP_ID.into(),
            change: kgroup::Change {
                add: vec![CHARLIE],
                ..Default::default()
            },
            body: text("Welcome Charlie!"),
        },
        Intent::Set {
            id: GROUP_ID.into(),
            change: kgroup::Change {
                remove: vec![CHARLIE],
                ..Default::default()
            },
            body: text("Sorry Charlie, you're out."),
        },
        Intent::Set {
            id: GROUP_ID.into(),
            change: kgroup::Change {
                subject: text("Our journey continues"),
                ..Default::default()
            },
            body: text("Keep on rocking!"),
        },
        Intent::Part {
            group: key(),
            body: text("Goodbye!"),
        },
    ];
    let seed = seed_stanzas();
    for (step, intent) in intents.into_iter().enumerate() {
        let mut out = Vec::new();
        david.act(intent, 0, &mut out).expect("valid intent");
        let sent: Vec<_> = out
            .into_iter()
            .filter_map(|o| match o {
                Output::Send(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "step {step}");
        let (seed_to, seed_stanza) = &seed[step];
        assert_eq!(*sent[0].stanza, *seed_stanza, "step {step}");
        let mut expect_to = seed_to.clone();
        if step >= 4 {
            expect_to.retain(|m| *m != CHARLIE);
        }
        assert_eq!(sent[0].to, expect_to, "step {step}");
    }
    let v = david.view(&key()).expect("david keeps his view");
    assert_eq!(v.members, vec![ALICE, BOB]);
    assert_eq!(v.status, Status::Left);
}

/// The same scenario composed by the clients themselves, in every dialect: every member
/// ends with the same view. The Android client takes a command's body for the fallback
/// text it sends itself and shows none, so of the seed's six bodies (five ride on
/// commands) it delivers one.
#[test]
fn seed_scenario_converges_in_every_dialect() {
    for d in Dialect::ALL {
        let android = d == Dialect::Android;
        let lab = kgroup_testkit::scenarios::seed(d);
        assert!(lab.converged(&key()), "{d}: {:?}", lab.views(&key()));
        assert!(lab.is_quiescent(), "{d}");
        for m in [ALICE, BOB] {
            let v = lab.clients[m].view(&key()).expect("member view");
            assert_eq!(v.members, vec![ALICE, BOB], "{d} {m}");
            assert_eq!(v.subject.as_deref(), Some("Our journey continues"));
            assert_eq!(lab.bodies(&m).len(), if android { 1 } else { 6 }, "{d} {m}");
        }
        // Charlie is out, and got nothing composed after his removal.
        let charlie: &[&str] = if android {
            &[]
        } else {
            &["Welcome Charlie!", "Sorry Charlie, you're out."]
        };
        assert_eq!(lab.bodies(&CHARLIE), charlie, "{d}");
        assert_eq!(
            lab.clients[CHARLIE].view(&key()).map(|v| v.status),
            Some(Status::Removed)
        );
    }
}
