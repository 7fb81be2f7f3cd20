//! The findings table: every property, in both dialects, on every network, for five
//! workloads that together exercise every property (the insider's and the equivocating
//! owner's also with hardened's v1 rules, to show what v2 fixes); `kgroup findings`
//! prints it.

use crate::check::{check, CheckReport};
use crate::model::GroupModel;
use crate::network::Network;
use crate::properties::{Outcome, Property};
use crate::script::Step;
use kgroup::{Dialect, Rules};

/// A named workload.
pub struct Workload {
    pub name: &'static str,
    pub summary: &'static str,
    pub model: fn(Dialect, Network) -> GroupModel,
    /// Also run `hardened` with its v1 rules, to show what v2 fixes.
    pub v1: bool,
}

fn base(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        dialect,
        network,
        clients: 4,
        script: vec![Step::Create(vec![1, 2]), Step::Add(3), Step::Remove(1)],
        senders: vec![],
        messages: 1,
        parting: vec![],
        adversary: false,
        adversary_budget: 1,
        owner_crashes: 0,
        max_losses: 1,
        planted: None,
        insider: false,
        insider_budget: 2,
        equivocate: false,
        rules: kgroup::Rules::V2,
    }
}

/// Owner + 3 members: membership churn under a forging, replaying adversary.
pub fn churn_adversary(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        adversary: true,
        ..base(dialect, network)
    }
}

/// Owner + 2 members: a removal while a member chats.
pub fn chat(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        clients: 3,
        script: vec![Step::Create(vec![1, 2]), Step::Remove(2)],
        senders: vec![1],
        ..base(dialect, network)
    }
}

/// Owner + 3 members: a member leaves while the owner adds another, and the owner crashes.
pub fn part(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        script: vec![Step::Create(vec![1, 2]), Step::Add(3)],
        parting: vec![2],
        owner_crashes: 1,
        ..base(dialect, network)
    }
}

/// Owner + 3 members: the owner removes alice, who keeps her keys and turns insider, then
/// adds charlie, who was never addressed before; bob sends a message.
pub fn insider(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        script: vec![Step::Create(vec![1, 2]), Step::Remove(1), Step::Add(3)],
        senders: vec![2],
        insider: true,
        insider_budget: 1,
        ..base(dialect, network)
    }
}

/// Owner + 2 members: the owner is malicious and, once, sends one addressee of its create
/// or of a set a different one (another subject) for the same epoch; member 1 sends a
/// message. (`kgroup check --equivocate` checks the same with 3 members.)
pub fn equivocation(dialect: Dialect, network: Network) -> GroupModel {
    GroupModel {
        clients: 3,
        script: vec![Step::Create(vec![1, 2]), Step::Subject(1)],
        senders: vec![1],
        equivocate: true,
        ..base(dialect, network)
    }
}

/// Owner + `members` members (at least 2): the default workload of `kgroup check` grown
/// with the group. The owner creates the group with every member but the last, adds the
/// last, removes member 1; the last member sends a message. With 3 members it is exactly
/// `kgroup check`'s default; members 2..members-1 are interchangeable.
pub fn scale(dialect: Dialect, network: Network, members: u8) -> GroupModel {
    let members = members.max(2);
    GroupModel {
        clients: members + 1,
        script: vec![
            Step::Create((1..members).collect()),
            Step::Add(members),
            Step::Remove(1),
        ],
        senders: vec![members],
        ..base(dialect, network)
    }
}

pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "churn+adversary",
            summary: "owner + 3 members; create 1,2; add 3; remove 1; adversary forges, squats and replays (1 injection)",
            model: churn_adversary,
            v1: false,
        },
        Workload {
            name: "chat",
            summary: "owner + 2 members; create 1,2; remove 2; member 1 sends a message",
            model: chat,
            v1: false,
        },
        Workload {
            name: "part+crash",
            summary: "owner + 3 members; create 1,2; add 3; member 2 leaves; the owner may crash once",
            model: part,
            v1: false,
        },
        Workload {
            name: "insider",
            summary: "owner + 3 members; create 1,2; remove 1; add 3; member 2 sends a message; member 1, removed, turns insider (1 move: a message backdated, with a reused number, ahead of the owner or without a stamp, a flood of unknown groups, or a re-seal of what it received)",
            model: insider,
            v1: true,
        },
        Workload {
            name: "equivocation",
            summary: "owner + 2 members; create 1,2; subject 1; member 1 sends a message; the owner equivocates once (one addressee of the create or the set gets another subject)",
            model: equivocation,
            v1: true,
        },
    ]
}

/// Whether a `hardened` (v2) row shows what is expected: complete, and every property
/// holds but `convergence` under the equivocating owner (no rule stops an owner forking its
/// own group; v2 finds it out, which `fork-detection` checks).
pub fn as_expected(r: &CheckReport) -> bool {
    r.complete
        && r.properties
            .iter()
            .all(|p| p.holds || (r.equivocate && p.property == Property::Convergence))
}

/// Runs the whole matrix; `progress` is told each run as it finishes.
pub fn run(
    threads: usize,
    mut progress: impl FnMut(&str, &CheckReport),
) -> Vec<(&'static str, CheckReport)> {
    let mut out = Vec::new();
    for w in workloads() {
        for (d, rules) in [
            (Dialect::Kontalk, Rules::V2),
            (Dialect::Android, Rules::V2),
            (Dialect::Hardened, Rules::V2),
            (Dialect::Hardened, Rules::V1),
        ] {
            if rules == Rules::V1 && !w.v1 {
                continue;
            }
            for n in Network::ALL {
                let model = GroupModel {
                    rules,
                    ..(w.model)(d, n)
                };
                let r = check(&model, threads, None, |_| {});
                progress(w.name, &r);
                out.push((w.name, r));
            }
        }
    }
    out
}

/// The table as Markdown: one row per workload, dialect and network; a column per property:
/// `holds` (with the number of quiescent states an at-quiescence verdict rests on, `q`),
/// `FAILS (n)` with the counterexample's length, `FAILS (n + cycle m)` for a lasso (`+ stuck`
/// when the run stops where no fair step is enabled), `VACUOUS` or `undecided`.
pub fn markdown(rows: &[(&str, CheckReport)]) -> String {
    let columns: Vec<&str> = ["workload", "dialect", "network"]
        .into_iter()
        .chain(Property::ALL.iter().map(|p| p.name()))
        .chain(["states (unique)", "seconds (search + graph)"])
        .collect();
    let mut s = format!(
        "| {} |\n|{}\n",
        columns.join(" | "),
        " --- |".repeat(columns.len())
    );
    for (w, r) in rows {
        let cells: Vec<String> = r
            .properties
            .iter()
            .map(|p| match (&p.counterexample, &p.cycle) {
                (None, _) => match (p.outcome, p.quiescent_states) {
                    (Outcome::Holds, Some(q)) => format!("holds ({q} q)"),
                    (Outcome::Vacuous, _) => "**VACUOUS**".to_string(),
                    (o, _) => o.as_str().to_string(),
                },
                (Some(t), None) => format!("**FAILS ({})**", t.len() - 1),
                (Some(t), Some(c)) if c.is_empty() => {
                    format!("**FAILS ({} + stuck)**", t.len() - 1)
                }
                (Some(t), Some(c)) => {
                    format!("**FAILS ({} + cycle {})**", t.len() - 1, c.len() - 1)
                }
            })
            .collect();
        let dialect = match (r.dialect, r.rules) {
            (Dialect::Hardened, Rules::V1) => "hardened (v1 rules)".to_string(),
            (d, _) => d.to_string(),
        };
        s.push_str(&format!(
            "| {w} | {dialect} | {} | {} | {} ({}) | {:.1} + {:.1} |\n",
            r.network,
            cells.join(" | "),
            r.states,
            r.unique_states,
            r.seconds,
            r.liveness.as_ref().map_or(0.0, |l| l.seconds)
        ));
    }
    s
}
