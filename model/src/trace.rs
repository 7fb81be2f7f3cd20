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
                format!(
                    "{}: [{}]{}{} e{}",
                    name(model, id),
                    names(model, &v.members),
                    v.subject.map(|s| format!(" {s:?}")).unwrap_or_default(),
                    status,
                    v.epoch
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

/// Steps as a person reads them: each action and every view after it.
pub fn steps(model: &GroupModel, steps: &[(Action, State)]) -> Vec<TraceStep> {
    steps
        .iter()
        .map(|(a, s)| TraceStep {
            action: describe_action(model, a),
            views: views(model, s),
        })
        .collect()
}

/// A `progress` lasso: the prefix, ending where the cycle starts, and the cycle, ending
/// with what the run owes and never does.
pub fn render_lasso(
    model: &GroupModel,
    lasso: &crate::liveness::Lasso,
) -> (Vec<TraceStep>, Vec<TraceStep>) {
    let mut prefix = steps(model, &lasso.prefix.1);
    let at = lasso.prefix.1.last().map_or(&lasso.prefix.0, |(_, s)| s);
    let mut cycle = steps(model, &lasso.cycle);
    if lasso.cycle.is_empty() {
        prefix.push(TraceStep {
            action: format!(
                "VIOLATION: not quiescent, and no fair step is enabled: the run may stay here for ever ({})",
                pending(model, at)
            ),
            views: Vec::new(),
        });
    } else {
        prefix.push(TraceStep {
            action: format!(
                "CYCLE: from here the {} steps below repeat for ever, every fair step taken or disabled on the way",
                lasso.cycle.len()
            ),
            views: Vec::new(),
        });
        cycle.push(TraceStep {
            action: format!(
                "VIOLATION: back where the cycle began, never quiescent ({})",
                pending(model, at)
            ),
            views: Vec::new(),
        });
    }
    (prefix, cycle)
}

/// The path as trace steps, ending with a line that says what was violated.
pub fn render(model: &GroupModel, path: &Path, property: Property) -> Vec<TraceStep> {
    let mut steps: Vec<TraceStep> = steps(model, &path.1);
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
    steps.push(TraceStep {
        action: format!("VIOLATION: {why}"),
        views: Vec::new(),
    });
    steps
}
