//! The malicious owner, at core level: an owner that signs two different snapshots for one
//! epoch and sends them to different members. hardened v2 chains snapshots by hash and has
//! members acknowledge with the head they hold, to the owner and to their two neighbours
//! in the roster, so the fork is found out (`fork-detection`); the v1 rules and `kontalk`
//! never notice (docs/design.md#the-malicious-owner).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use kgroup::{
    Change, Client, Command, Config, Dialect, Ext, GroupKey, Intent, Output, Rules, Stanza, Text,
};

type Id = &'static str;
const DAVID: Id = "david";
const ALICE: Id = "alice";
const BOB: Id = "bob";
const CHARLIE: Id = "charlie";

fn key() -> GroupKey<Id> {
    GroupKey::new("g", DAVID)
}

/// Clients of one dialect, and what is on its way between them.
struct Net {
    clients: BTreeMap<Id, Client<Id>>,
    queue: VecDeque<(Id, Id, Arc<Stanza<Id>>)>,
    alarms: Vec<(Id, u64, Id)>,
}

impl Net {
    fn new(config: Config) -> Self {
        Net {
            clients: [DAVID, ALICE, BOB, CHARLIE]
                .into_iter()
                .map(|c| (c, Client::new(c, config)))
                .collect(),
            queue: VecDeque::new(),
            alarms: Vec::new(),
        }
    }

    fn absorb(&mut self, who: Id, out: Vec<Output<Id>>) {
        for o in out {
            match o {
                Output::Send(s) => {
                    for to in s.to {
                        self.queue.push_back((who, to, s.stanza.clone()));
                    }
                }
                Output::Equivocation { epoch, witness, .. } => {
                    self.alarms.push((who, epoch, witness))
                }
                _ => {}
            }
        }
    }

    fn act(&mut self, who: Id, intent: Intent<Id>) {
        let mut out = Vec::new();
        let c = self.clients.get_mut(who).expect("client");
        c.act(intent, 0, &mut out).expect("intent");
        self.absorb(who, out);
    }

    fn receive(&mut self, from: Id, to: Id, stanza: Arc<Stanza<Id>>) {
        let mut out = Vec::new();
        let c = self.clients.get_mut(to).expect("client");
        c.receive(from, stanza, 0, &mut out);
        self.absorb(to, out);
    }

    /// Delivers everything in order; a stanza the owner sends `victim` that `forge`
    /// rewrites is delivered rewritten.
    fn run(&mut self, victim: Id, forge: &mut dyn FnMut(&Stanza<Id>) -> Option<Stanza<Id>>) {
        let mut steps = 0;
        while let Some((from, to, s)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 10_000, "no quiescence");
            let s = match (from == DAVID && to == victim).then(|| forge(&s)).flatten() {
                Some(forged) => Arc::new(forged),
                None => s,
            };
            self.receive(from, to, s);
        }
    }

    fn subject(&self, who: Id) -> Option<Text> {
        self.clients[who].view(&key()).and_then(|v| v.subject)
    }

    fn alarm(&self, who: Id) -> Option<(u64, Id)> {
        self.clients[who]
            .group(&key())
            .and_then(|g| g.alarm().copied())
    }
}

fn config(dialect: Dialect, rules: Rules) -> Config {
    Config {
        rules,
        ..Config::new(dialect)
    }
}

fn create(net: &mut Net) {
    net.act(
        DAVID,
        Intent::Create {
            id: "g".into(),
            members: vec![ALICE, BOB, CHARLIE],
            subject: None,
            body: None,
        },
    );
    net.run(BOB, &mut |_| None);
}

fn set_subject(net: &mut Net, s: &str) {
    net.act(
        DAVID,
        Intent::Set {
            id: "g".into(),
            change: Change {
                subject: Some(s.into()),
                ..Default::default()
            },
            body: None,
        },
    );
}

/// The owner's set as it would have sent it with another subject (same epoch, same
/// sequence number): what the equivocating owner sends bob.
fn forged(s: &Stanza<Id>) -> Option<Stanza<Id>> {
    if !matches!(s.command, Command::Set { .. }) {
        return None;
    }
    let mut f = s.clone();
    if let Command::Set { subject, .. } = &mut f.command {
        *subject = Some("forged".into());
    }
    if let Some(Ext::Snapshot { subject, .. }) = &mut f.ext {
        *subject = Some("forged".into());
    }
    Some(f)
}

#[test]
fn an_owner_that_tells_one_member_another_subject_is_found_out_under_v2_only() {
    for (dialect, rules, found) in [
        (Dialect::Hardened, Rules::V2, true),
        (Dialect::Hardened, Rules::V1, false),
        (Dialect::Kontalk, Rules::V2, false),
    ] {
        let mut net = Net::new(config(dialect, rules));
        create(&mut net);
        set_subject(&mut net, "s1");
        net.run(BOB, &mut forged);
        // The fork itself: bob holds another subject than alice and charlie, for good.
        assert_eq!(net.subject(ALICE).as_deref(), Some("s1"));
        assert_eq!(net.subject(BOB).as_deref(), Some("forged"));
        let alarmed: Vec<Id> = [ALICE, BOB, CHARLIE]
            .into_iter()
            .filter(|m| net.alarm(m).is_some())
            .collect();
        if found {
            // bob's neighbours (alice and charlie) hear its head, and it hears theirs.
            assert!(!alarmed.is_empty(), "{dialect} {rules:?}: nobody noticed");
            for (who, epoch, witness) in &net.alarms {
                assert_eq!(*epoch, 2, "{who}");
                assert!([ALICE, BOB, CHARLIE].contains(witness), "{who}: {witness}");
            }
            assert!(net.alarms.iter().any(|(who, _, _)| *who == BOB));
        } else {
            assert!(alarmed.is_empty(), "{dialect} {rules:?}: {alarmed:?}");
            assert!(net.alarms.is_empty());
        }
    }
}

#[test]
fn two_snapshots_for_one_epoch_raise_the_alarm_naming_the_owner() {
    let mut net = Net::new(config(Dialect::Hardened, Rules::V2));
    create(&mut net);
    set_subject(&mut net, "s1");
    // bob gets the forged set first, then the real one (a retransmission, say).
    let real = net
        .queue
        .iter()
        .find(|(_, to, _)| *to == BOB)
        .map(|(_, _, s)| s.clone())
        .expect("the set to bob");
    net.run(BOB, &mut forged);
    assert_eq!(net.alarm(BOB).map(|a| a.0), Some(2));
    let mut bob_only = Net::new(config(Dialect::Hardened, Rules::V2));
    create(&mut bob_only);
    let fake = Arc::new(forged(&real).expect("a set"));
    bob_only.receive(DAVID, BOB, fake);
    assert_eq!(bob_only.alarm(BOB), None, "one snapshot is no evidence");
    bob_only.receive(DAVID, BOB, real);
    // The owner's own two signatures: the witness is the owner itself.
    assert_eq!(bob_only.alarm(BOB), Some((2, DAVID)));
    assert_eq!(bob_only.alarms, vec![(BOB, 2, DAVID)]);
}

#[test]
fn a_snapshot_that_does_not_follow_the_one_held_raises_the_alarm() {
    let mut net = Net::new(config(Dialect::Hardened, Rules::V2));
    create(&mut net);
    set_subject(&mut net, "s1");
    // Only bob is deceived, and the heads it and its neighbours exchange are lost: nobody
    // compares.
    let deceive = forged;
    while let Some((from, to, s)) = net.queue.pop_front() {
        let between_members = from != DAVID && to != DAVID;
        if between_members && (from == BOB || to == BOB) && matches!(s.ext, Some(Ext::Head { .. }))
        {
            continue;
        }
        let s = match (from == DAVID && to == BOB).then(|| deceive(&s)).flatten() {
            Some(f) => Arc::new(f),
            None => s,
        };
        net.receive(from, to, s);
    }
    assert_eq!(net.alarm(BOB), None);
    // The owner's next snapshot is chained to the real epoch 2: bob sees it does not
    // follow the one it holds.
    set_subject(&mut net, "s2");
    net.run(BOB, &mut |_| None);
    assert_eq!(net.alarm(BOB), Some((3, DAVID)));
    // ...and the fork healed: the snapshot is the owner's whole state.
    assert_eq!(net.subject(BOB).as_deref(), Some("s2"));
}

#[test]
fn an_honest_owner_never_raises_the_alarm() {
    let mut net = Net::new(config(Dialect::Hardened, Rules::V2));
    create(&mut net);
    for (i, change) in [
        Change {
            subject: Some("s1".into()),
            ..Default::default()
        },
        Change {
            remove: vec![CHARLIE],
            ..Default::default()
        },
        Change {
            add: vec![CHARLIE],
            subject: Some("s2".into()),
            ..Default::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        net.act(
            DAVID,
            Intent::Set {
                id: "g".into(),
                change,
                body: None,
            },
        );
        // Deliver in reverse order of sending now and then: reordering is no fork.
        if i % 2 == 1 {
            let v: Vec<_> = net.queue.drain(..).rev().collect();
            net.queue.extend(v);
        }
        net.run(BOB, &mut |_| None);
    }
    net.act(
        ALICE,
        Intent::Part {
            group: key(),
            body: None,
        },
    );
    net.run(BOB, &mut |_| None);
    assert!(net.alarms.is_empty(), "{:?}", net.alarms);
    assert_eq!(net.subject(BOB).as_deref(), Some("s2"));
}
