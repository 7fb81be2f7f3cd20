//! End to end through a real XMPP server.
//!
//! These tests need a running server with the test accounts registered; `scripts/e2e`
//! starts a loopback ejabberd (mod_multicast, mod_offline), registers `alice`, `bob`,
//! `charlie` and `david` with the passwords `kgroup-<user>`, and runs them with
//! `KGROUP_E2E_SERVER=127.0.0.1:5222`. **Without `KGROUP_E2E_SERVER` every test here
//! returns at once and passes**, because `cargo test --workspace --release` runs without a
//! server; each prints that it was skipped. `KGROUP_E2E_DOMAIN` (default `localhost`) and
//! `KGROUP_E2E_PASSWORD_PREFIX` (default `kgroup-`) name the accounts' domain and password
//! prefix. Every wait is bounded (10 s per step by default).

use std::time::Duration;

use kgroup::codec::Jid;
use kgroup::{Change, Command, Dialect, Ext, GroupKey, Intent, Reason, Stanza, Status, Text};
use kgroup_live::driver::RejectReason;
use kgroup_live::{Options, Route, Run};

const STEP: Duration = Duration::from_secs(10);

fn options(dialect: Dialect) -> Option<Options> {
    let Ok(server) = std::env::var("KGROUP_E2E_SERVER") else {
        eprintln!("skipped: KGROUP_E2E_SERVER is not set (scripts/e2e runs these tests)");
        return None;
    };
    let domain = std::env::var("KGROUP_E2E_DOMAIN").unwrap_or_else(|_| "localhost".into());
    let mut o = Options::new(server, domain, dialect);
    if let Ok(p) = std::env::var("KGROUP_E2E_PASSWORD_PREFIX") {
        o.password_prefix = p;
    }
    o.timeout = STEP;
    Some(o)
}

/// A group id no earlier run used (the server may still store stanzas of earlier runs).
fn fresh_id(name: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}-{t}")
}

fn t(s: &str) -> Option<Text> {
    Some(s.into())
}

fn set(
    id: &str,
    add: Vec<Jid>,
    remove: Vec<Jid>,
    subject: Option<&str>,
    body: &str,
) -> Intent<Jid> {
    Intent::Set {
        id: id.into(),
        change: Change {
            add,
            remove,
            subject: subject.map(Into::into),
        },
        body: t(body),
    }
}

struct Cast {
    run: Run,
    david: usize,
    alice: usize,
    bob: usize,
    charlie: usize,
    jd: Jid,
    ja: Jid,
    jb: Jid,
    jc: Jid,
}

fn cast(opts: Options) -> Cast {
    let run = match Run::connect(opts, &["david", "alice", "bob", "charlie"]) {
        Ok(r) => r,
        Err(e) => panic!("connecting the four clients: {e}"),
    };
    let ix = |u: &str| run.index(u).unwrap_or_else(|e| panic!("{e}"));
    let jid = |u: &str| run.jid(u).unwrap_or_else(|e| panic!("{e}"));
    Cast {
        david: ix("david"),
        alice: ix("alice"),
        bob: ix("bob"),
        charlie: ix("charlie"),
        jd: jid("david"),
        ja: jid("alice"),
        jb: jid("bob"),
        jc: jid("charlie"),
        run,
    }
}

impl Cast {
    /// david creates a fresh group with alice, bob and charlie, with this subject and
    /// welcome body; returns once all three have delivered it and the run has settled.
    fn group_of_all(&mut self, name: &str, subject: &str, body: &str) -> (String, GroupKey<Jid>) {
        let id = fresh_id(name);
        let g = GroupKey::new(id.as_str(), self.jd.clone());
        let members = vec![self.ja.clone(), self.jb.clone(), self.jc.clone()];
        ok(
            self.run.act(
                self.david,
                Intent::Create {
                    id: id.as_str().into(),
                    members,
                    subject: t(subject),
                    body: t(body),
                },
            ),
            "create",
        );
        let all = [self.alice, self.bob, self.charlie];
        until_delivered(&mut self.run, &g, &all, body);
        ok(self.run.settle(Duration::from_millis(200), STEP), "settle");
        (id, g)
    }
}

fn ok<T>(r: Result<T, kgroup_live::LiveError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Waits until every listed client has delivered `body` in `group`.
fn until_delivered(run: &mut Run, group: &GroupKey<Jid>, who: &[usize], body: &str) {
    let g = group.clone();
    let who = who.to_vec();
    let want = body.to_owned();
    ok(
        run.pump_until(STEP, &format!("waiting for {body:?}"), move |r| {
            who.iter().all(|&i| r.nodes[i].bodies(&g).contains(&want))
        }),
        "delivery",
    );
}

/// The seed's whole scenario, with real accounts, through the server's multicast service.
fn seed_scenario(dialect: Dialect) {
    let Some(opts) = options(dialect) else { return };
    let mut c = cast(opts);
    let Cast {
        david,
        alice,
        bob,
        charlie,
        ..
    } = c;
    // The server offers XEP-0033 and the run uses it.
    assert!(
        matches!(c.run.route, Route::Multicast(_)),
        "expected multicast, got {}",
        c.run.route
    );
    let id = fresh_id("seed");
    let g = GroupKey::new(id.as_str(), c.jd.clone());
    let run = &mut c.run;
    ok(
        run.act(
            david,
            Intent::Create {
                id: id.as_str().into(),
                members: vec![c.ja.clone(), c.jb.clone()],
                subject: t("Our great journey"),
                body: t("Hey folks!"),
            },
        ),
        "create",
    );
    until_delivered(run, &g, &[alice, bob], "Hey folks!");
    ok(
        run.act(
            david,
            Intent::Message {
                group: g.clone(),
                body: "What is going on?".into(),
            },
        ),
        "message",
    );
    until_delivered(run, &g, &[alice, bob], "What is going on?");
    ok(
        run.act(
            david,
            set(&id, vec![c.jc.clone()], vec![], None, "Welcome Charlie!"),
        ),
        "add charlie",
    );
    until_delivered(run, &g, &[alice, bob, charlie], "Welcome Charlie!");
    ok(
        run.act(
            david,
            set(
                &id,
                vec![],
                vec![c.jc.clone()],
                None,
                "Sorry Charlie, you're out.",
            ),
        ),
        "remove charlie",
    );
    until_delivered(
        run,
        &g,
        &[alice, bob, charlie],
        "Sorry Charlie, you're out.",
    );
    let charlie_seen = run.nodes[charlie].captured.len();
    ok(
        run.act(
            david,
            set(
                &id,
                vec![],
                vec![],
                Some("Our journey continues"),
                "Keep on rocking!",
            ),
        ),
        "subject",
    );
    until_delivered(run, &g, &[alice, bob], "Keep on rocking!");
    ok(
        run.act(
            david,
            Intent::Part {
                group: g.clone(),
                body: t("Goodbye!"),
            },
        ),
        "part",
    );
    until_delivered(run, &g, &[alice, bob], "Goodbye!");
    ok(run.settle(Duration::from_millis(300), STEP), "settle");

    let all = [
        "Hey folks!",
        "What is going on?",
        "Welcome Charlie!",
        "Sorry Charlie, you're out.",
        "Keep on rocking!",
        "Goodbye!",
    ];
    for m in [alice, bob] {
        let v = run.nodes[m].view(&g).expect("member view");
        assert_eq!(v.members, vec![c.ja.clone(), c.jb.clone()], "{dialect}");
        assert_eq!(v.subject.as_deref(), Some("Our journey continues"));
        assert_eq!(v.status, Status::Member);
        assert_eq!(
            run.nodes[m].bodies(&g),
            all,
            "{dialect} at {}",
            run.nodes[m].jid
        );
        // Nothing refused but, at most, a retransmission that crossed its acknowledgement.
        assert!(
            run.nodes[m]
                .rejected
                .iter()
                .all(|r| r.reason == RejectReason::Core(Reason::Duplicate)),
            "{:?}",
            run.nodes[m].rejected
        );
    }
    assert_eq!(
        run.nodes[david].view(&g).map(|v| v.status),
        Some(Status::Left)
    );
    assert_eq!(
        run.nodes[charlie].bodies(&g),
        ["Welcome Charlie!", "Sorry Charlie, you're out."]
    );
    assert_eq!(
        run.nodes[charlie].view(&g).map(|v| v.status),
        Some(Status::Removed)
    );
    // Nothing composed after his removal reached charlie through the server.
    assert_eq!(
        run.nodes[charlie].captured.len(),
        charlie_seen,
        "{:?}",
        &run.nodes[charlie].captured[charlie_seen..]
    );
    // Every stanza came from the multicast service's fan-out with the sender's own full
    // JID as `from`, as the server stamped it; the core was given the signer, which agrees.
    for n in &run.nodes {
        for x in &n.captured {
            assert_eq!(
                x.claimed_from.as_ref().map(Jid::to_bare).as_ref(),
                Some(&x.signer),
                "at {}",
                n.jid
            );
        }
    }
    // Each group stanza left its sender once: one multicast stanza per composed stanza.
    let composed_by_david = 6;
    match dialect {
        Dialect::Kontalk => assert_eq!(run.nodes[david].sent.stanzas, composed_by_david),
        // hardened: plus the owner's answer to nothing else; members send acks.
        Dialect::Hardened => assert!(run.nodes[david].sent.stanzas >= composed_by_david),
        other => panic!("the live tests run kontalk and hardened, not {other:?}"),
    }
}

#[test]
fn seed_scenario_through_the_server_kontalk() {
    seed_scenario(Dialect::Kontalk);
}

#[test]
fn seed_scenario_through_the_server_hardened() {
    seed_scenario(Dialect::Hardened);
}

/// charlie is offline while david changes the group and alice talks; the server stores
/// it all (mod_offline) and charlie gets it when he is back.
fn offline_member(dialect: Dialect) {
    let Some(opts) = options(dialect) else { return };
    let mut c = cast(opts);
    let Cast {
        david,
        alice,
        bob,
        charlie,
        ..
    } = c;
    let (id, g) = c.group_of_all("offline", "Before", "Welcome all");
    let run = &mut c.run;

    ok(run.disconnect(charlie), "charlie goes offline");
    ok(
        run.act(
            david,
            set(&id, vec![], vec![c.jb.clone()], None, "bob is out"),
        ),
        "remove bob",
    );
    ok(
        run.act(
            david,
            set(
                &id,
                vec![],
                vec![],
                Some("While you were away"),
                "new subject",
            ),
        ),
        "subject",
    );
    until_delivered(run, &g, &[alice], "new subject");
    ok(
        run.act(
            alice,
            Intent::Message {
                group: g.clone(),
                body: "hello from alice".into(),
            },
        ),
        "alice's message",
    );
    until_delivered(run, &g, &[david], "hello from alice");
    assert!(
        run.nodes[charlie].bodies(&g).len() == 1,
        "charlie is offline"
    );

    ok(run.reconnect(charlie), "charlie comes back");
    until_delivered(run, &g, &[charlie], "hello from alice");
    assert_eq!(
        run.nodes[charlie].bodies(&g),
        [
            "Welcome all",
            "bob is out",
            "new subject",
            "hello from alice"
        ],
        "{dialect}: charlie got what the server stored, in order"
    );
    ok(run.settle(Duration::from_millis(300), STEP), "settle");
    let v = run.nodes[charlie].view(&g).expect("charlie's view");
    assert_eq!(v.subject.as_deref(), Some("While you were away"));
    assert_eq!(v.members, vec![c.ja.clone(), c.jc.clone(), c.jd.clone()]);
    if dialect == Dialect::Hardened {
        // Every current member (and the owner) holds the owner's view, and nothing waits
        // for an acknowledgement any more.
        assert!(
            run.agree(&g, &[david, alice, charlie]),
            "hardened converges"
        );
        assert!(run.nodes.iter().all(|n| n.client.is_idle()));
        assert_eq!(
            run.nodes[charlie].view(&g).map(|v| v.epoch),
            run.nodes[david].view(&g).map(|v| v.epoch)
        );
    }
    assert_eq!(
        run.nodes[bob].view(&g).map(|v| v.status),
        Some(Status::Removed)
    );
}

#[test]
fn offline_member_gets_stored_stanzas_kontalk() {
    offline_member(Dialect::Kontalk);
}

#[test]
fn offline_member_gets_stored_stanzas_and_converges_hardened() {
    offline_member(Dialect::Hardened);
}

/// bob, a member, sends a stanza with the owner's attributes (group id, `owner='david'`,
/// `type='set'`, in hardened a snapshot with a higher epoch) and a forged body, signed
/// with his own key: the server delivers it, and every client rejects it as `not-owner`.
fn forged_owner_command(dialect: Dialect) {
    let Some(opts) = options(dialect) else { return };
    let mut c = cast(opts);
    let Cast {
        david,
        alice,
        bob,
        charlie,
        ..
    } = c;
    let (_, g) = c.group_of_all("forged", "Real subject", "hi");
    let run = &mut c.run;
    let before = run.nodes[alice].view(&g);

    let ext = match dialect {
        Dialect::Kontalk | Dialect::Android => None,
        Dialect::Hardened => {
            let mut roster = kgroup::Roster::default();
            for m in [&c.jd, &c.jb] {
                roster.spans.insert(
                    m.clone(),
                    vec![kgroup::Span {
                        since: 0,
                        until: None,
                    }],
                );
            }
            Some(Ext::Snapshot {
                epoch: 99,
                seq: 99,
                prev: kgroup::Digest::ZERO,
                subject: t("bob owns this now"),
                roster,
            })
        }
    };
    let forged = Stanza {
        group: g.clone(),
        command: Command::Set {
            subject: t("bob owns this now"),
            add: vec![],
            remove: vec![c.ja.clone(), c.jc.clone()],
            members: vec![],
        },
        body: t("david: I hand the group to bob"),
        ext,
    };
    ok(
        run.send_stanza(bob, vec![c.ja.clone(), c.jc.clone(), c.jd.clone()], forged),
        "bob's forgery",
    );
    let jb = c.jb.clone();
    ok(
        run.pump_until(STEP, "waiting for the forgery to be rejected", move |r| {
            [alice, charlie, david].iter().all(|&i| {
                r.nodes[i]
                    .rejected
                    .iter()
                    .any(|x| x.from.as_ref() == Some(&jb))
            })
        }),
        "forgery",
    );
    for i in [alice, charlie, david] {
        let n = &run.nodes[i];
        assert_eq!(
            n.core_rejections(),
            [Reason::NotOwner],
            "{dialect} at {}",
            n.jid
        );
        assert_eq!(n.rejected[0].from.as_ref(), Some(&c.jb));
        assert!(!n.bodies(&g).iter().any(|b| b.contains("hand the group")));
    }
    assert_eq!(
        run.nodes[alice].view(&g),
        before,
        "{dialect}: alice's view is untouched"
    );
    assert!(run.agree(&g, &[david, alice, bob, charlie]));
}

#[test]
fn forged_owner_command_is_rejected_kontalk() {
    forged_owner_command(Dialect::Kontalk);
}

#[test]
fn forged_owner_command_is_rejected_hardened() {
    forged_owner_command(Dialect::Hardened);
}

/// bob keeps david's signed `add charlie` and, after charlie's removal, replays it
/// byte for byte to alice through the server. The signature is david's, so only the core's
/// rules can refuse it: `hardened` rejects it as a duplicate; `kontalk` applies it and
/// charlie is back in alice's view (the seed's replay finding, now over a real server).
fn replayed_owner_command(dialect: Dialect) {
    let Some(opts) = options(dialect) else { return };
    let mut c = cast(opts);
    let Cast {
        david,
        alice,
        bob,
        charlie,
        ..
    } = c;
    let id = fresh_id("replay");
    let g = GroupKey::new(id.as_str(), c.jd.clone());
    let run = &mut c.run;
    ok(
        run.act(
            david,
            Intent::Create {
                id: id.as_str().into(),
                members: vec![c.ja.clone(), c.jb.clone()],
                subject: None,
                body: t("start"),
            },
        ),
        "create",
    );
    until_delivered(run, &g, &[alice, bob], "start");
    ok(
        run.act(
            david,
            set(&id, vec![c.jc.clone()], vec![], None, "add charlie"),
        ),
        "add",
    );
    until_delivered(run, &g, &[alice, bob, charlie], "add charlie");
    ok(
        run.act(
            david,
            set(&id, vec![], vec![c.jc.clone()], None, "remove charlie"),
        ),
        "remove",
    );
    until_delivered(run, &g, &[alice, bob], "remove charlie");
    ok(run.settle(Duration::from_millis(200), STEP), "settle");
    assert!(!run.nodes[alice]
        .view(&g)
        .is_some_and(|v| v.members.contains(&c.jc)));

    let old = run.nodes[bob]
        .captured
        .iter()
        .find(|x| x.signer == c.jd && x.stanza.body.as_deref() == Some("add charlie"))
        .map(|x| x.envelope.clone())
        .expect("bob received david's add");
    let before = run.nodes[alice].rejected.len();
    ok(run.send_envelope(bob, &[c.ja.clone()], &old), "replay");
    let (gc, jc) = (g.clone(), c.jc.clone());
    ok(
        run.pump_until(STEP, "waiting for the replay", move |r| {
            r.nodes[alice].rejected.len() > before
                || r.nodes[alice]
                    .view(&gc)
                    .is_some_and(|v| v.members.contains(&jc))
        }),
        "replay",
    );
    match dialect {
        Dialect::Hardened => {
            assert_eq!(
                run.nodes[alice].rejected[before..]
                    .iter()
                    .map(|r| r.reason.label())
                    .collect::<Vec<_>>(),
                ["duplicate"]
            );
            assert_eq!(run.nodes[alice].rejected[before].from.as_ref(), Some(&c.jd));
            assert!(!run.nodes[alice]
                .view(&g)
                .is_some_and(|v| v.members.contains(&c.jc)));
        }
        Dialect::Kontalk | Dialect::Android => {
            assert_eq!(run.nodes[alice].rejected.len(), before);
            assert!(run.nodes[alice]
                .view(&g)
                .is_some_and(|v| v.members.contains(&c.jc)));
        }
    }
    let _ = charlie;
}

#[test]
fn replayed_owner_command_is_rejected_hardened() {
    replayed_owner_command(Dialect::Hardened);
}

#[test]
fn replayed_owner_command_is_applied_kontalk() {
    replayed_owner_command(Dialect::Kontalk);
}

/// Per-recipient sending (no multicast) carries the same group: one stanza per
/// recipient, and the same deliveries.
#[test]
fn per_recipient_fallback_delivers_the_same() {
    let Some(mut opts) = options(Dialect::Hardened) else {
        return;
    };
    opts.multicast = false;
    let w = kgroup_live::workload::Workload {
        clients: 3,
        messages: 2,
        user_prefix: "kg".into(),
    };
    let r = ok(kgroup_live::workload::run(opts, &w), "workload");
    assert_eq!(r.route, Route::PerRecipient);
    assert!(r.discovered.is_some(), "the server does offer multicast");
    assert_eq!(r.delivered, r.expected);
    assert!(r.converged);
    assert!(
        r.rejected.keys().all(|k| k == "duplicate"),
        "{:?}",
        r.rejected
    );
}

/// The measured workload over multicast: every message reaches every other member.
#[test]
fn multicast_workload_delivers_everything() {
    let Some(opts) = options(Dialect::Kontalk) else {
        return;
    };
    let w = kgroup_live::workload::Workload {
        clients: 4,
        messages: 3,
        user_prefix: "kg".into(),
    };
    let r = ok(kgroup_live::workload::run(opts, &w), "workload");
    assert!(matches!(r.route, Route::Multicast(_)));
    assert_eq!(r.expected, 4 * 3 * 3);
    assert_eq!(r.delivered, r.expected);
    assert!(r.converged);
    // One stanza per composed stanza: the create plus 3 messages by the owner.
    assert_eq!(r.per_client[0].stanzas_sent, 1 + 3);
    assert_eq!(r.latency.samples, r.expected);
}
