//! The security review's cases, at core level: each ran against the hardened v1 rules and
//! showed a hole; each is run here against both rule sets, showing the hole under v1 and
//! its fix under v2 (docs/design.md#hardened-v2).

use std::sync::Arc;

use kgroup::{
    Change, Client, Command, Config, Dialect, Ext, GroupKey, Intent, Output, Reason, Rules, Stanza,
    Text,
};
use kgroup_testkit::lab::Lab;
use kgroup_testkit::scenarios::{group, Id, ALICE, BOB, CHARLIE, DAVID, GROUP_ID};

const XAVIER: &str = "xavier@beta.kontalk.net";

fn config(rules: Rules) -> Config {
    Config {
        rules,
        ..Config::new(Dialect::Hardened)
    }
}

/// david's group with alice, bob and xavier, everything delivered.
fn created(rules: Rules) -> Lab<Id> {
    let mut lab = Lab::with_config(config(rules), [DAVID, ALICE, BOB, CHARLIE, XAVIER]);
    lab.act(
        &DAVID,
        Intent::Create {
            id: GROUP_ID.into(),
            members: vec![ALICE, BOB, XAVIER],
            subject: None,
            body: None,
        },
    )
    .expect("create");
    lab.run_fifo(1000);
    lab
}

fn david_sets(lab: &mut Lab<Id>, change: Change<Id>) {
    let intent = Intent::Set {
        id: GROUP_ID.into(),
        change,
        body: None,
    };
    lab.act(&DAVID, intent).expect("david's change");
    lab.run_fifo(1000);
}

fn remove(who: Id) -> Change<Id> {
    Change {
        remove: vec![who],
        ..Default::default()
    }
}

fn add(who: Id) -> Change<Id> {
    Change {
        add: vec![who],
        ..Default::default()
    }
}

/// A message of david's group, stamped as the sender likes.
fn message(body: &str, ext: Option<Ext<Id>>) -> Arc<Stanza<Id>> {
    Arc::new(Stanza {
        group: group(),
        command: Command::Message,
        body: Some(Text::from(body)),
        ext,
    })
}

fn stamp(epoch: u64, seq: u64, to: &[Id]) -> Option<Ext<Id>> {
    let mut to = to.to_vec();
    to.sort_unstable();
    Some(Ext::Stamp { epoch, seq, to })
}

/// `to` receives `stanza` from `from`; its outputs.
fn receive(lab: &mut Lab<Id>, to: Id, from: Id, stanza: Arc<Stanza<Id>>) -> Vec<Output<Id>> {
    let mut out = Vec::new();
    let client = lab.clients.get_mut(to).expect("client");
    client.receive(from, stanza, 0, &mut out);
    out
}

fn delivered(out: &[Output<Id>]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Deliver { .. }))
        .count()
}

fn rejected(out: &[Output<Id>], reason: Reason) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Reject { reason: r, .. } if *r == reason))
}

#[test]
fn a_removed_member_stamping_an_old_epoch_is_heard_under_v1_and_silenced_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut lab = created(rules);
        david_sets(&mut lab, remove(XAVIER));
        let mut heard = 0;
        for seq in [1000, 5000, 9_999_999] {
            let s = message("still here", stamp(1, seq, &[ALICE, BOB, DAVID]));
            let out = receive(&mut lab, ALICE, XAVIER, s);
            heard += delivered(&out);
            if rules == Rules::V2 {
                assert!(rejected(&out, Reason::NotMember), "{out:?}");
            }
        }
        match rules {
            Rules::V1 => assert_eq!(heard, 3, "v1 judges membership at the sender's stamp"),
            Rules::V2 => assert_eq!(heard, 0),
        }
    }
}

#[test]
fn last_words_the_owner_accepted_before_the_removal_still_arrive() {
    let mut lab = created(Rules::V2);
    lab.act(
        &XAVIER,
        Intent::Message {
            group: group(),
            body: "last words".into(),
        },
    )
    .expect("message");
    // Only david gets xavier's message before removing him; alice gets it afterwards.
    let sent = lab.sent.len() - 1;
    lab.deliver_to(sent, &DAVID).expect("to david");
    lab.act(
        &DAVID,
        Intent::Set {
            id: GROUP_ID.into(),
            change: remove(XAVIER),
            body: None,
        },
    )
    .expect("remove");
    let removal = lab.sent.len() - 1;
    lab.deliver_to(removal, &ALICE).expect("to alice");
    assert!(!lab.clients[ALICE]
        .view(&group())
        .expect("view")
        .members
        .contains(&XAVIER));
    let last_words = lab.sent[sent].stanza.clone();
    let out = receive(&mut lab, ALICE, XAVIER, last_words);
    assert_eq!(delivered(&out), 1, "named in the removal's cut: {out:?}");
    // The same number, other words, composed after the removal: refused.
    let Some(Ext::Stamp { epoch, seq, to }) = lab.sent[sent].stanza.ext.clone() else {
        panic!("stamped");
    };
    let forged = message("other words", Some(Ext::Stamp { epoch, seq, to }));
    let out = receive(&mut lab, BOB, XAVIER, forged);
    assert_eq!(delivered(&out), 1, "bob has not applied the removal yet");
    lab.run_fifo(1000);
    let forged = message("yet other words", stamp(1, 77, &[ALICE, BOB, DAVID]));
    let out = receive(&mut lab, BOB, XAVIER, forged);
    assert!(rejected(&out, Reason::NotMember), "{out:?}");
}

#[test]
fn a_stanza_resealed_to_someone_it_was_not_addressed_to_is_refused_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut lab = created(rules);
        lab.act(
            &BOB,
            Intent::Message {
                group: group(),
                body: "for the three of you".into(),
            },
        )
        .expect("message");
        let sent = lab.sent.len() - 1;
        lab.run_fifo(1000);
        david_sets(&mut lab, add(CHARLIE));
        // xavier re-seals bob's signed message to charlie, who joined after it was sent.
        let resealed = lab.sent[sent].stanza.clone();
        let out = receive(&mut lab, CHARLIE, BOB, resealed);
        match rules {
            Rules::V1 => assert_eq!(delivered(&out), 1, "v1 checks no recipient list"),
            Rules::V2 => {
                assert_eq!(delivered(&out), 0);
                assert!(rejected(&out, Reason::NotRecipient), "{out:?}");
            }
        }
    }
}

#[test]
fn epoch_less_replays_are_delivered_again_under_v1_and_refused_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut lab = created(rules);
        let s = message("hi, in the seed's words", None);
        let mut heard = 0;
        for _ in 0..3 {
            heard += delivered(&receive(&mut lab, ALICE, BOB, s.clone()));
        }
        match rules {
            Rules::V1 => assert_eq!(heard, 3, "no number, no duplicate detection"),
            Rules::V2 => assert_eq!(heard, 0),
        }
        // A member's old epoch-less part, replayed after the owner re-added it.
        let part = Arc::new(Stanza {
            group: group(),
            command: Command::Part,
            body: None,
            ext: None,
        });
        receive(&mut lab, ALICE, BOB, part.clone());
        david_sets(&mut lab, remove(BOB));
        david_sets(&mut lab, add(BOB));
        receive(&mut lab, ALICE, BOB, part);
        let alice = lab.clients[ALICE].view(&group()).expect("view");
        assert_eq!(
            alice.members.contains(&BOB),
            rules == Rules::V2,
            "{rules:?}: {alice:?}"
        );
    }
}

#[test]
fn what_a_non_member_sends_is_not_recorded_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut lab = created(rules);
        for seq in 1..=10_000u64 {
            let s = message("junk", stamp(1, seq * 2, &[ALICE]));
            receive(&mut lab, ALICE, CHARLIE, s);
        }
        let window = lab.clients[ALICE]
            .group(&group())
            .expect("group")
            .windows()
            .find(|(m, _)| **m == CHARLIE)
            .map(|(_, w)| w.len());
        match rules {
            Rules::V1 => assert_eq!(window, Some(10_000), "v1 records before it checks"),
            Rules::V2 => assert_eq!(window, None),
        }
        assert_eq!(
            lab.clients[ALICE].bounds_exceeded().is_some(),
            rules == Rules::V1
        );
        // The simulator's judge looks only at what the received stanza could grow.
        assert_eq!(
            lab.clients[ALICE]
                .bounds_exceeded_after(&group(), &CHARLIE)
                .is_some(),
            rules == Rules::V1
        );
    }
}

#[test]
fn a_late_joiner_keeps_a_bounded_window_under_v2() {
    let mut lab = created(Rules::V2);
    david_sets(&mut lab, add(CHARLIE));
    let max = lab.clients[CHARLIE].config().max_window;
    // bob's numbers from before charlie joined never reach charlie: every later one
    // arrives above a gap.
    for seq in 1..=(3 * max as u64) {
        let s = message(
            "hello",
            stamp(2, 1000 + seq * 2, &[ALICE, CHARLIE, DAVID, XAVIER]),
        );
        receive(&mut lab, CHARLIE, BOB, s);
    }
    let g = lab.clients[CHARLIE].group(&group()).expect("group");
    let (_, w) = g.windows().find(|(m, _)| **m == BOB).expect("bob's window");
    assert!(w.len() <= max, "{} > {max}", w.len());
    assert_eq!(lab.clients[CHARLIE].bounds_exceeded(), None);
}

#[test]
fn limbo_is_bounded_in_all_and_per_sender_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut client = Client::new(ALICE, config(rules));
        let mut asked = 0;
        for i in 0..5_000 {
            let key = GroupKey::new(Text::from(format!("junk-{i}")), XAVIER);
            let s = Arc::new(Stanza {
                group: key,
                command: Command::Message,
                body: Some("junk".into()),
                ext: stamp(1, 1, &[ALICE]),
            });
            let mut out = Vec::new();
            client.receive(XAVIER, s, 0, &mut out);
            asked += out
                .iter()
                .filter(|o| matches!(o, Output::Send(s) if matches!(s.stanza.ext, Some(Ext::Resync { .. }))))
                .count();
        }
        let held = client.held_count();
        match rules {
            Rules::V1 => {
                assert_eq!(
                    (held, asked),
                    (5_000, 5_000),
                    "one entry and one request each"
                );
                assert!(client.bounds_exceeded().is_some());
                let key = GroupKey::new(Text::from("junk-0"), XAVIER);
                assert!(client.bounds_exceeded_after(&key, &XAVIER).is_some());
            }
            Rules::V2 => {
                let per_sender = client.config().max_limbo_per_sender;
                assert_eq!((held, asked), (per_sender, per_sender));
                assert_eq!(client.bounds_exceeded(), None);
            }
        }
    }
}

#[test]
fn far_future_junk_cannot_fill_the_held_buffer_under_v2() {
    for rules in [Rules::V1, Rules::V2] {
        let mut lab = created(rules);
        let max = lab.clients[ALICE].config().max_held;
        for seq in 0..max as u64 {
            let s = message("junk", stamp(u64::MAX, 10_000 + seq, &[ALICE, BOB, DAVID]));
            receive(&mut lab, ALICE, XAVIER, s);
        }
        // bob's honest message from the epoch after alice's.
        let honest = message("honest", stamp(2, 1, &[ALICE, DAVID, XAVIER]));
        let out = receive(&mut lab, ALICE, BOB, honest);
        match rules {
            Rules::V1 => assert!(rejected(&out, Reason::BufferFull), "{out:?}"),
            Rules::V2 => assert!(!rejected(&out, Reason::BufferFull), "{out:?}"),
        }
    }
}

#[test]
fn junk_stamped_just_ahead_is_dropped_on_the_owners_word_under_v2() {
    let mut lab = created(Rules::V2);
    let junk = message("junk", stamp(2, 60, &[ALICE, BOB, DAVID]));
    let out = receive(&mut lab, ALICE, XAVIER, junk);
    assert!(lab.clients[ALICE].held_count() == 1, "{out:?}");
    // alice asks david, who is at alice's epoch and says so; alice drops what it held.
    let ask = sent_to(&out, DAVID);
    let answer = sent_to(&receive(&mut lab, DAVID, ALICE, ask), ALICE);
    assert_eq!(answer.ext, Some(Ext::Resync { epoch: 1 }));
    receive(&mut lab, ALICE, DAVID, answer);
    assert_eq!(lab.clients[ALICE].held_count(), 0);
    assert!(lab.clients[ALICE].is_idle());
}

/// The one stanza `out` sends to `to`.
fn sent_to(out: &[Output<Id>], to: Id) -> Arc<Stanza<Id>> {
    out.iter()
        .find_map(|o| match o {
            Output::Send(s) if s.to == [to] => Some(s.stanza.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("nothing sent to {to}: {out:?}"))
}

#[test]
fn the_owners_epoch_counter_never_wraps() {
    let mut lab = created(Rules::V2);
    // A snapshot at the last epoch, signed by david (a compromised key, say).
    let roster = lab.clients[DAVID]
        .group(&group())
        .expect("group")
        .roster()
        .clone();
    let top = Arc::new(Stanza {
        group: group(),
        command: Command::Set {
            subject: None,
            add: vec![],
            remove: vec![],
            members: vec![],
        },
        body: None,
        ext: Some(Ext::Snapshot {
            epoch: u64::MAX,
            seq: 99,
            prev: kgroup::Digest::ZERO,
            subject: None,
            roster,
        }),
    });
    receive(&mut lab, ALICE, DAVID, top);
    assert_eq!(
        lab.clients[ALICE].view(&group()).expect("view").epoch,
        u64::MAX
    );
    // alice leaves at the last epoch: its part is stamped u64::MAX and closes its own
    // membership without wrapping (a debug build panics on overflow).
    let mut out = Vec::new();
    lab.clients
        .get_mut(ALICE)
        .expect("alice")
        .act(
            Intent::Part {
                group: group(),
                body: None,
            },
            0,
            &mut out,
        )
        .expect("part");
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send(s) if matches!(s.stanza.ext, Some(Ext::Stamp { epoch: u64::MAX, .. }))
    )));
}
