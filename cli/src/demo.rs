//! `kgroup demo`: the named scenarios of `kgroup_testkit::scenarios`, in both dialects.

use std::process::ExitCode;

use kgroup::Dialect;
use kgroup_testkit::lab::Lab;
use kgroup_testkit::scenarios::{self, group, Id};
use serde::Serialize;

use crate::output::{self, outln};

#[derive(Serialize)]
struct ClientReport {
    client: Id,
    members: Option<Vec<Id>>,
    subject: Option<String>,
    epoch: Option<u64>,
    status: Option<kgroup::Status>,
    delivered: Vec<String>,
    rejected: Vec<String>,
}

#[derive(Serialize)]
struct Run {
    scenario: &'static str,
    summary: &'static str,
    dialect: Dialect,
    converged: bool,
    disagreeing: Vec<Id>,
    quiescent: bool,
    stanzas: usize,
    clients: Vec<ClientReport>,
}

fn report(name: &'static str, summary: &'static str, dialect: Dialect, lab: &Lab<Id>) -> Run {
    let key = group();
    let clients = lab
        .clients
        .iter()
        .map(|(id, c)| {
            let view = c.view(&key);
            ClientReport {
                client: id,
                members: view.as_ref().map(|v| v.members.clone()),
                subject: view
                    .as_ref()
                    .and_then(|v| v.subject.as_deref().map(String::from)),
                // Only the hardened dialect has epochs.
                epoch: view
                    .as_ref()
                    .filter(|_| dialect == Dialect::Hardened)
                    .map(|v| v.epoch),
                status: view.as_ref().map(|v| v.status),
                delivered: lab
                    .delivered
                    .get(id)
                    .map(|d| {
                        d.iter()
                            .map(|(f, b)| format!("{}: {b}", short(f)))
                            .collect()
                    })
                    .unwrap_or_default(),
                rejected: lab
                    .rejected
                    .iter()
                    .filter(|r| r.at == *id)
                    .map(|r| format!("{} from {}", r.reason.as_str(), short(r.from)))
                    .collect(),
            }
        })
        .collect();
    Run {
        scenario: name,
        summary,
        dialect,
        converged: lab.converged(&key),
        disagreeing: lab.disagreeing(&key),
        quiescent: lab.is_quiescent(),
        stanzas: lab.sent.len(),
        clients,
    }
}

fn short(jid: &str) -> &str {
    jid.split('@').next().unwrap_or(jid)
}

/// The names `kgroup demo NAME` takes, for clap to check, list in `--help` and complete.
pub fn names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(scenarios::all().iter().map(|s| s.name))
}

pub fn run(dialect: Option<Dialect>, only: Option<&str>, json: bool) -> ExitCode {
    let all = scenarios::all();
    let dialects: Vec<Dialect> = dialect.map_or(Dialect::ALL.to_vec(), |d| vec![d]);
    let mut runs = Vec::new();
    for s in all.iter().filter(|s| only.is_none_or(|n| n == s.name)) {
        for &d in &dialects {
            let lab = (s.run)(d);
            runs.push(report(s.name, s.summary, d, &lab));
        }
    }
    // `message-overtakes-add`: charlie must get alice's greeting.
    let lost = |r: &Run| {
        r.scenario == "message-overtakes-add"
            && !r.clients.iter().any(|c| {
                c.client == scenarios::CHARLIE
                    && c.delivered.iter().any(|b| b.ends_with("Hi Charlie!"))
            })
    };
    let hardened_ok = runs
        .iter()
        .filter(|r| r.dialect == Dialect::Hardened)
        .all(|r| r.converged && r.quiescent && !lost(r));
    let v = serde_json::json!({ "runs": runs, "hardened_ok": hardened_ok });
    output::finish("demo", json, &v, hardened_ok, || {
        for r in &runs {
            let verdict = if r.converged {
                "converged".to_string()
            } else {
                let who: Vec<_> = r.disagreeing.iter().map(|d| short(d)).collect();
                format!("DIVERGED ({} disagree with the owner)", who.join(", "))
            };
            let lost_note = if lost(r) { ", a message was LOST" } else { "" };
            outln!(
                "== {} [{}]: {verdict}{lost_note}; {} stanzas\n   {}",
                r.scenario,
                r.dialect,
                r.stanzas,
                r.summary
            );
            for c in &r.clients {
                match &c.members {
                    Some(m) => {
                        let m: Vec<_> = m.iter().map(|x| short(x)).collect();
                        let epoch = c.epoch.map(|e| format!(" epoch {e}")).unwrap_or_default();
                        outln!(
                            "   {:<8} {:?}{epoch} members [{}] subject {:?}",
                            short(c.client),
                            c.status.unwrap_or(kgroup::Status::Member),
                            m.join(", "),
                            c.subject.as_deref().unwrap_or("")
                        );
                    }
                    None => outln!("   {:<8} (no view of the group)", short(c.client)),
                }
                if !c.delivered.is_empty() {
                    outln!("            delivered: {}", c.delivered.join(" | "));
                }
                if !c.rejected.is_empty() {
                    outln!("            rejected:  {}", c.rejected.join(", "));
                }
            }
        }
        // One closing line per dialect shown, about that dialect's runs.
        for &d in &dialects {
            let mine: Vec<&Run> = runs.iter().filter(|r| r.dialect == d).collect();
            let split = mine.iter().filter(|r| !r.converged).count();
            let line = if d == Dialect::Hardened {
                if hardened_ok {
                    "every scenario converged with no message lost".to_string()
                } else {
                    "FAILED".to_string()
                }
            } else {
                let (n, verb) = if split == 0 {
                    (mine.len(), "converged")
                } else {
                    (split, "diverged")
                };
                let s = if mine.len() == 1 { "" } else { "s" };
                format!("{n} of {} scenario{s} {verb}", mine.len())
            };
            outln!("{d}: {line}");
        }
    })
}
