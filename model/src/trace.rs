//! Counterexamples as a person reads them: who sent what to whom, and every client's view
//! after each step.

use kgroup::{Command, Ext, Stanza, Status};

use crate::group::OWNER;
use crate::model::{Action, Forgery, GroupModel, Insider, Path, State};
use crate::network::Id;
use crate::properties::Property;
use crate::script::Step;
use crate::trace_step::TraceStep;

const NAMES: [&str; 8] = [
    "david", "alice", "bob", "charlie", "erin", "frank", "grace", "heidi",
];

/// A readable name for a client of `model` (the owner is david; the adversary mallory).
pub fn name(model: &GroupModel, id: Id) -> String {
    if id == model.adversary_id() {
        "mallory".into()
    } else {
        NAMES
            .get(id as usize)
            .map_or_else(|| format!("c{id}"), |n| (*n).to_string())
    }
}

/// Which name is which client, as `--script`, `--senders` and `--parting` number them:
/// `0 david (the owner), 1 alice, 2 bob, 3 charlie`, and the adversary and insider when
/// the model has them.
pub fn legend(model: &GroupModel) -> String {
    let mut parts: Vec<String> = (0..model.clients)
        .map(|c| {
            let role = if c == OWNER {
                " (the owner)"
            } else if Some(c) == model.insider_id() {
                " (turns insider once removed)"
            } else {
                ""
            };
            format!("{c} {}{role}", name(model, c))
        })
        .collect();
    if model.adversary {
        parts.push("mallory: the adversary (the server or an outsider)".to_string());
    }
    if model.equivocate {
        parts.push("the owner equivocates once".to_string());
    }
    parts.join(", ")
}

fn names(model: &GroupModel, ids: &[Id]) -> String {
    ids.iter()
        .map(|i| name(model, *i))
        .collect::<Vec<_>>()
        .join(",")
}

/// A stanza in a few words: `set add charlie [e2 #3]`.
pub fn describe(model: &GroupModel, s: &Stanza<Id>) -> String {
    let mut out = match &s.command {
        Command::Message => "message".to_string(),
        Command::Part => "part".to_string(),
        Command::Create { members, .. } => format!("create with {}", names(model, members)),
        Command::Set {
            add,
            remove,
            subject,
            ..
        } => {
            let mut parts = vec!["set".to_string()];
            if !add.is_empty() {
                parts.push(format!("add {}", names(model, add)));
            }
            if !remove.is_empty() {
                parts.push(format!("remove {}", names(model, remove)));
            }
            if let Some(sub) = subject {
                parts.push(format!("subject {sub:?}"));
            }
            parts.join(" ")
        }
    };
    if s.group.id.as_ref() != crate::group::GROUP {
        out.push_str(&format!(" of group {}", s.group.id));
    }
    if s.group.owner != OWNER {
        out.push_str(&format!(" (owner={})", name(model, s.group.owner)));
    }
    if let Some(b) = &s.body {
        out.push_str(&format!(" {b:?}"));
    }
    match &s.ext {
        Some(Ext::Stamp { epoch, seq, to }) => {
            out.push_str(&format!(" [e{epoch} #{seq} to {}]", names(model, to)))
        }
        Some(Ext::Snapshot { epoch, seq, .. }) => {
            out.push_str(&format!(" [snapshot e{epoch} #{seq}]"))
        }
        Some(Ext::Head { epoch, seq, head }) => {
            out = format!("ack #{seq} holding e{epoch} head {}", &head.to_hex()[..8])
        }
        Some(Ext::Ack { seq }) => out = format!("ack #{seq}"),
        Some(Ext::Resync { epoch }) => out = format!("resync from e{epoch}"),
        None => {}
    }
    out
}

/// An action in words.
pub fn describe_action(model: &GroupModel, a: &Action) -> String {
    let n = |i: &Id| name(model, *i);
    match a {
        Action::Owner(step) => match step {
            Step::Create(m) => format!("david creates the group with {}", names(model, m)),
            Step::Add(m) => format!("david adds {}", n(m)),
            Step::Remove(m) => format!("david removes {}", n(m)),
            Step::Subject(s) => format!("david sets the subject to \"s{s}\""),
        },
        Action::Message(c) => format!("{} sends a message", n(c)),
        Action::Part(c) => format!("{} leaves", n(c)),
        Action::Deliver(e, ack_lost) => {
            let forged = if e.claimed != e.src {
                format!(" (from forged as {})", n(&e.claimed))
            } else {
                String::new()
            };
            let lost = if *ack_lost { " (its ack is lost)" } else { "" };
            let carrier = if e.via == model.adversary_id() {
                Some("mallory".to_string())
            } else if e.via == model.insider_channel() {
                model.insider_id().map(|x| n(&x))
            } else {
                None
            };
            let forged = match carrier.filter(|c| *c != n(&e.src)) {
                Some(c) => format!("{forged} (carried by {c})"),
                None => forged,
            };
            format!(
                "{} → {}: {}{forged}{lost}",
                n(&e.src),
                n(&e.dst),
                describe(model, &e.stanza)
            )
        }
        Action::Drop(e) => format!(
            "network drops {} → {}: {}",
            n(&e.src),
            n(&e.dst),
            describe(model, &e.stanza)
        ),
        Action::Timeout(c) => format!("{} retransmits", n(c)),
        Action::Crash(c) => format!("{} crashes and restarts from its persisted state", n(c)),
        Action::Forge(kind, to) => match kind {
            Forgery::AddMe => format!("mallory forges 'add mallory' from david, to {}", n(to)),
            Forgery::Impersonate => format!("mallory forges a message from alice, to {}", n(to)),
            Forgery::Squat => format!(
                "mallory sends {} a create of her own with the same group id",
                n(to)
            ),
        },
        Action::Replay(src, s, to) => format!(
            "mallory (the server) replays {}'s {} to {}",
            n(src),
            describe(model, s),
            n(to)
        ),
        Action::Insider(kind, to) => {
            let x = model
                .insider_id()
                .map_or_else(|| "?".to_string(), |x| n(&x));
            let what = match kind {
                Insider::Backdated => "a message stamped e1 #50",
                Insider::ReusedSeq => "a message stamped e1 #1, a number it used",
                Insider::Ahead => "a message stamped one epoch ahead of david's",
                Insider::EpochLess => "a message with no stamp",
                Insider::Flood => "a flood of stanzas of groups nobody knows",
            };
            format!(
                "{x} (the insider: removed, keeping its keys) sends {} {what}",
                n(to)
            )
        }
        Action::Reseal(src, s, to) => {
            let x = model
                .insider_id()
                .map_or_else(|| "?".to_string(), |x| n(&x));
            format!(
                "{x} (the insider) re-seals {}'s {} to {}",
                n(src),
                describe(model, s),
                n(to)
            )
        }
        Action::Equivocate(env) => format!(
            "the owner sends {} a different {} (subject {:?}) instead",
            n(&env.dst),
            describe(model, &env.stanza),
            crate::model::FORGED_SUBJECT
        ),
    }
}

/// Every client's view, one line each.
pub fn views(model: &GroupModel, s: &State) -> Vec<String> {
    GroupModel::views(s)
        .into_iter()
        .map(|(id, v)| match v {
            None => format!("{}: -", name(model, id)),
            Some(v) => {
                let status = match v.status {
                    Status::Member => "",
                    Status::Left => ", left",
                    Status::Removed => ", removed",
                };
                // Only the hardened dialect has epochs.
                let epoch = if model.dialect == kgroup::Dialect::Hardened {
                    format!(" e{}", v.epoch)
                } else {
                    String::new()
                };
                format!(
                    "{}: [{}]{}{}{epoch}",
                    name(model, id),
                    names(model, &v.members),
                    v.subject.map(|s| format!(" {s:?}")).unwrap_or_default(),
                    status,
                )
            }
        })
        .collect()
}

/// What keeps a state from being quiescent: copies in flight never delivered, stanzas
/// held for a later epoch, stanzas not yet acknowledged.
pub fn pending(model: &GroupModel, s: &State) -> String {
    let mut parts = Vec::new();
    let network = model.network;
    let flying: Vec<String> = s
        .net
        .deliverable(network)
        .filter(|e| s.net.is_pending(e))
        .map(|e| {
            format!(
                "{} → {}: {}",
                name(model, e.src),
                name(model, e.dst),
                describe(model, &e.stanza)
            )
        })
        .collect();
    if !flying.is_empty() {
        parts.push(format!("in flight: {}", flying.join("; ")));
    }
    for (c, client) in s.clients.iter().enumerate() {
        let who = name(model, c as Id);
        for (_, g) in client.groups() {
            for h in g.held() {
                parts.push(format!(
                    "{who} holds {} from {} (at e{})",
                    describe(model, &h.stanza),
                    name(model, h.from),
                    g.view(&OWNER).epoch
                ));
            }
            for p in g.outbox() {
                parts.push(format!(
                    "{who} waits for {} to acknowledge {}",
                    names(model, &p.unacked),
                    describe(model, &p.stanza)
                ));
            }
        }
        for (_, held) in client.limbo() {
            parts.push(format!(
                "{who} holds {} stanza(s) of a group it does not know",
                held.len()
            ));
        }
    }
    if parts.is_empty() {
        "nothing pending".into()
    } else {
        parts.join("; ")
    }
}

/// Steps as a person reads them, from `start`: each action, what its receiver refused and
/// showed, the views it changed and every view after it.
pub fn steps(model: &GroupModel, start: &State, steps: &[(Action, State)]) -> Vec<TraceStep> {
    let mut before = start;
    let mut out = Vec::with_capacity(steps.len());
    for (a, s) in steps {
        let old = views(model, before);
        let new = views(model, s);
        let changed = new
            .iter()
            .zip(&old)
            .filter(|(n, o)| n != o)
            .map(|(n, _)| n.clone())
            .collect();
        let mut step = TraceStep {
            action: describe_action(model, a),
            changed,
            views: new,
            ..who(model, a)
        };
        if let Action::Deliver(env, _) = a {
            let (rejections, deliveries) = received(model, before, env);
            step.rejections = rejections;
            step.deliveries = deliveries;
        }
        out.push(step);
        before = s;
    }
    out
}

/// Who acted in `a`, on whom, with what: the structured part of a step.
fn who(model: &GroupModel, a: &Action) -> TraceStep {
    let n = |i: &Id| name(model, *i);
    let adversary_channel = |e: &crate::network::InFlight| {
        e.via == model.adversary_id() || e.via == model.insider_channel() || e.claimed != e.src
    };
    let insider = || {
        model
            .insider_id()
            .map_or_else(|| "?".to_string(), |x| n(&x))
    };
    let (actor, kind, adversary, from, to, stanza) = match a {
        Action::Owner(_) => (n(&OWNER), "command", false, None, Vec::new(), None),
        Action::Message(c) => (n(c), "message", false, None, Vec::new(), None),
        Action::Part(c) => (n(c), "part", false, None, Vec::new(), None),
        Action::Deliver(e, _) => {
            let shown = if model.dialect.trusts_server_from() {
                e.claimed
            } else {
                e.src
            };
            (
                "network".to_string(),
                "deliver",
                adversary_channel(e),
                Some(n(&shown)),
                vec![n(&e.dst)],
                Some(describe(model, &e.stanza)),
            )
        }
        Action::Drop(e) => (
            "network".to_string(),
            "drop",
            false,
            Some(n(&e.src)),
            vec![n(&e.dst)],
            Some(describe(model, &e.stanza)),
        ),
        Action::Timeout(c) => (n(c), "retransmit", false, None, Vec::new(), None),
        Action::Crash(c) => (n(c), "crash", false, None, Vec::new(), None),
        Action::Forge(_, to) => (
            "mallory".to_string(),
            "forge",
            true,
            None,
            vec![n(to)],
            None,
        ),
        Action::Replay(_, s, to) => (
            "mallory".to_string(),
            "replay",
            true,
            None,
            vec![n(to)],
            Some(describe(model, s)),
        ),
        Action::Insider(_, to) => (insider(), "insider", true, None, vec![n(to)], None),
        Action::Reseal(_, s, to) => (
            insider(),
            "reseal",
            true,
            None,
            vec![n(to)],
            Some(describe(model, s)),
        ),
        Action::Equivocate(env) => (
            n(&OWNER),
            "equivocate",
            true,
            None,
            vec![n(&env.dst)],
            Some(describe(model, &env.stanza)),
        ),
    };
    TraceStep {
        actor,
        kind,
        adversary,
        from,
        to,
        stanza,
        ..TraceStep::default()
    }
}

/// What the receiver of `env` made of it in `state`: its rejections, with their reasons,
/// and the messages it showed (the core's outputs, computed again).
fn received(
    model: &GroupModel,
    state: &State,
    env: &crate::network::InFlight,
) -> (Vec<String>, Vec<String>) {
    let Some(client) = state.clients.get(env.dst as usize) else {
        return (Vec::new(), Vec::new());
    };
    let from = if model.dialect.trusts_server_from() {
        env.claimed
    } else {
        env.src
    };
    let mut client: kgroup::Client<Id> = (**client).clone();
    let mut out = Vec::new();
    client.receive(from, env.stanza.arc().clone(), 0, &mut out);
    let dst = name(model, env.dst);
    let mut rejections = Vec::new();
    let mut deliveries = Vec::new();
    for o in out {
        match o {
            kgroup::Output::Reject { reason, from, .. } => rejections.push(format!(
                "{dst} rejects {}'s stanza: {} ({})",
                name(model, from),
                reason.as_str(),
                reason.explain()
            )),
            kgroup::Output::Deliver { from, body, .. } => deliveries.push(format!(
                "{dst} shows {}'s message {:?}",
                name(model, from),
                body.as_ref()
            )),
            kgroup::Output::Equivocation { epoch, witness, .. } => rejections.push(format!(
                "{dst} raises the alarm: the owner signed two states for epoch {epoch} (witness {})",
                name(model, witness)
            )),
            _ => {}
        }
    }
    (rejections, deliveries)
}

/// A `progress` lasso: the prefix, ending where the cycle starts, and the cycle, ending
/// with what the run owes and never does.
pub fn render_lasso(
    model: &GroupModel,
    lasso: &crate::liveness::Lasso,
) -> (Vec<TraceStep>, Vec<TraceStep>) {
    let mut prefix = steps(model, &lasso.prefix.0, &lasso.prefix.1);
    let at = lasso.prefix.1.last().map_or(&lasso.prefix.0, |(_, s)| s);
    let mut cycle = steps(model, at, &lasso.cycle);
    if lasso.cycle.is_empty() {
        prefix.push(TraceStep::note(
            "violation",
            format!(
                "VIOLATION: not quiescent, and no fair step is enabled: the run may stay here for ever ({})",
                pending(model, at)
            ),
        ));
    } else {
        prefix.push(TraceStep::note(
            "cycle",
            format!(
                "CYCLE: from here the {} steps below repeat for ever, every fair step taken or disabled on the way",
                lasso.cycle.len()
            ),
        ));
        cycle.push(TraceStep::note(
            "violation",
            format!(
                "VIOLATION: back where the cycle began, never quiescent ({})",
                pending(model, at)
            ),
        ));
    }
    (prefix, cycle)
}

/// The path as trace steps, ending with a line that says what was violated.
pub fn render(model: &GroupModel, path: &Path, property: Property) -> Vec<TraceStep> {
    let mut steps: Vec<TraceStep> = steps(model, &path.0, &path.1);
    let last = path.1.last().map_or(&path.0, |(_, s)| s);
    let why = match property {
        Property::Convergence => format!(
            "quiescent, and these disagree: {}",
            names(model, &GroupModel::disagreeing(last))
        ),
        Property::NoLostMessages => GroupModel::lost(last)
            .iter()
            .map(|(m, r)| {
                format!(
                    "{} never got {:?} from {}",
                    name(model, *r),
                    m.body,
                    name(model, m.sender)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Property::QuiescenceReachable => format!(
            "no quiescent state is reachable from here ({})",
            pending(model, last)
        ),
        Property::Progress => format!("never quiescent ({})", pending(model, last)),
        other => format!("{} violated by the last step", other.name()),
    };
    steps.push(TraceStep::note("violation", format!("VIOLATION: {why}")));
    steps
}
