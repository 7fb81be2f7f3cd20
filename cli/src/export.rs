//! `kgroup replay --export DIR`: each counterexample as a test vector that another
//! implementation of the protocol can run, in the spirit of the MLS interop test vectors.
//!
//! Why: a counterexample in words says what went wrong, but another client cannot run
//! words. A vector gives it the exact inputs (the stanzas as XML, as each receiver's server
//! delivers them, in delivery order, with who receives each and whom the signature names)
//! and what our clients did with them after each step (views, deliveries, rejections with
//! their reasons). The expectations are the simulator replay's own records
//! ([`kgroup_sim::replay::StepRecord`]): the real clients behind the real codec, not a
//! second derivation. Clients and steps are named as `kgroup check`'s traces name them.
//!
//! `DIR` is checked before the model check runs: it may be new, empty, or an earlier
//! export (whose files are replaced). Anything else in it is refused, never deleted.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use kgroup::{Dialect, Intent, Output, Reason, Stanza, View};
use kgroup_model::group::{GROUP, OWNER};
use kgroup_model::model::GroupModel;
use kgroup_model::trace;
use kgroup_model::{Property, TraceStep};
use kgroup_sim::judge::Id;
use kgroup_sim::replay::{CycleReplayed, Drained, Event, Replayed, StepRecord, Touched};
use serde::Serialize;

/// What an export's `index.json` says made it: how an earlier export is recognised.
const GENERATOR: &str = "kgroup replay --export";
const INDEX: &str = "index.json";
const README: &str = "README.md";
/// An earlier `index.json` larger than this is not read.
const MAX_INDEX_BYTES: u64 = 16 << 20;

/// A directory checked for an export, and what of an earlier export in it to replace.
pub struct Target {
    dir: PathBuf,
    /// Files, then directories (emptied by then), of the earlier export.
    stale: Vec<PathBuf>,
    stale_dirs: Vec<PathBuf>,
}

/// Checks `dir` before anything is computed or written: it must be missing (it is then
/// created), an empty directory, or an earlier export holding nothing else.
pub fn prepare(dir: &Path) -> Result<Target, String> {
    let shown = dir.display();
    let mut target = Target {
        dir: dir.to_path_buf(),
        stale: Vec::new(),
        stale_dirs: Vec::new(),
    };
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
        Err(e) => return Err(format!("{shown}: {e}")),
        Ok(m) if !m.is_dir() => return Err(format!("{shown} exists and is not a directory")),
        Ok(_) => {}
    }
    let names = entries(dir)?;
    if names.is_empty() {
        return Ok(target);
    }
    let Some(vectors) = earlier_export(dir) else {
        return Err(format!(
            "{shown} is not empty and holds no earlier export ({INDEX} of {GENERATOR}): \
             choose a new or empty directory"
        ));
    };
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let vector = name.strip_suffix(".json").unwrap_or(&name);
        let ours = if meta.is_file() {
            name == INDEX || name == README || (name.ends_with(".json") && vectors.contains(vector))
        } else if meta.is_dir() && vectors.contains(&name) {
            let files = entries(&path)?;
            let mut ok = true;
            for f in files {
                let p = path.join(&f);
                let is_file = fs::symlink_metadata(&p).is_ok_and(|m| m.is_file());
                ok &= is_file && is_stanza_file(&f);
                target.stale.push(p);
            }
            target.stale_dirs.push(path.clone());
            ok
        } else {
            false
        };
        if !ours {
            return Err(format!(
                "{shown} holds `{name}`, which its earlier export did not write: \
                 move it or choose another directory"
            ));
        }
        if meta.is_file() {
            target.stale.push(path);
        }
    }
    Ok(target)
}

/// The names in a directory.
fn entries(dir: &Path) -> Result<Vec<String>, String> {
    let read = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for e in read {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// The vectors an earlier export's index lists, if `dir` holds one.
fn earlier_export(dir: &Path) -> Option<BTreeSet<String>> {
    let mut text = String::new();
    fs::File::open(dir.join(INDEX))
        .ok()?
        .take(MAX_INDEX_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if v["generator"] != GENERATOR {
        return None;
    }
    let names = v["vectors"]
        .as_array()?
        .iter()
        .filter_map(|e| e["name"].as_str())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(String::from)
        .collect();
    Some(names)
}

/// `003-to-bob.xml`.
fn is_stanza_file(name: &str) -> bool {
    let Some((number, rest)) = name.split_once("-to-") else {
        return false;
    };
    let Some(who) = rest.strip_suffix(".xml") else {
        return false;
    };
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !who.is_empty()
        && who.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What a step was, in the terms of `kgroup check`'s traces.
#[derive(Clone)]
pub struct Label {
    /// `path`, or `cycle` for a lasso's cycle (played `round` 1, 2, ...).
    pub phase: &'static str,
    pub round: Option<usize>,
    pub step: TraceStep,
}

/// One counterexample to export.
pub struct Vector<'a> {
    pub property: Property,
    pub reproduced: bool,
    pub replay: &'a Replayed,
    pub drain: Option<&'a Drained>,
    /// One per step of the path (and cycle rounds); a drain's steps are labelled here.
    pub labels: &'a [Label],
}

#[derive(Serialize)]
struct Client {
    name: String,
    jid: String,
    /// The number `--script`, `--senders` and `--parting` give it.
    number: Id,
    role: &'static str,
}

#[derive(Serialize, Clone)]
struct Group {
    id: String,
    owner: String,
}

#[derive(Serialize)]
struct Config {
    dialect: Dialect,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<kgroup::Rules>,
    retransmit_ms: u64,
    max_attempts: Option<u32>,
    max_held: usize,
    max_window: usize,
    max_limbo: usize,
    max_limbo_per_sender: usize,
    max_ahead: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    planted: Option<kgroup::Planted>,
}

#[derive(Serialize)]
struct Setup<'a> {
    dialect: Dialect,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<kgroup::Rules>,
    network: kgroup_model::Network,
    config: &'a Config,
    group: &'a Group,
    clients: &'a [Client],
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum IntentJson {
    Create {
        members: Vec<String>,
        subject: Option<String>,
        body: Option<String>,
    },
    Set {
        add: Vec<String>,
        remove: Vec<String>,
        subject: Option<String>,
        body: Option<String>,
    },
    Message {
        body: String,
    },
    Part {
        body: Option<String>,
    },
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum EventJson {
    Act {
        client: String,
        intent: IntentJson,
        #[serde(skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
        now: u64,
    },
    Receive {
        to: String,
        from: String,
        signer: String,
        sender: String,
        control: bool,
        now: u64,
        xml: Option<String>,
        file: Option<String>,
    },
    Unreadable {
        to: String,
        xml: Option<String>,
    },
    Timeout {
        client: String,
        now: u64,
    },
    Crash {
        client: String,
    },
}

#[derive(Serialize)]
struct ViewJson {
    members: Vec<String>,
    subject: Option<String>,
    status: kgroup::Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
}

#[derive(Serialize)]
struct Delivered {
    from: String,
    body: String,
}

#[derive(Serialize)]
struct Rejected {
    from: String,
    reason: Reason,
    /// Only when not the vector's group (a squatter's create of the same id).
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Group>,
}

#[derive(Serialize)]
struct Alarm {
    epoch: u64,
    witness: String,
}

#[derive(Serialize)]
struct Expect {
    client: String,
    view: Option<ViewJson>,
    delivered: Vec<Delivered>,
    rejected: Vec<Rejected>,
    alarms: Vec<Alarm>,
}

#[derive(Serialize)]
struct Step {
    step: usize,
    phase: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    round: Option<usize>,
    kind: &'static str,
    actor: String,
    adversary: bool,
    says: String,
    /// The step's copy was not in flight in the replay (the vector is then not reproduced).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    missing: bool,
    events: Vec<EventJson>,
    expect: Vec<Expect>,
}

#[derive(Serialize)]
struct VectorJson<'a> {
    vector: &'static str,
    property: Property,
    violation: Option<String>,
    /// The step after which the simulator's judge saw the property broken.
    broke_at: Option<usize>,
    reproduced: bool,
    setup: Setup<'a>,
    steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drain: Option<&'a Drained>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycle: Option<&'a CycleReplayed>,
}

#[derive(Serialize)]
struct IndexEntry {
    name: &'static str,
    property: Property,
    file: String,
    stanzas: String,
    steps: usize,
    deliveries: usize,
    reproduced: bool,
    violation: Option<String>,
}

#[derive(Serialize)]
struct Index<'a> {
    generator: &'static str,
    version: &'static str,
    command: &'a str,
    dialect: Dialect,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<kgroup::Rules>,
    network: kgroup_model::Network,
    mode: &'static str,
    legend: String,
    group: &'a Group,
    clients: &'a [Client],
    vectors: Vec<IndexEntry>,
}

/// Names as the traces give them.
struct Names<'a>(&'a GroupModel);

impl Names<'_> {
    fn of(&self, id: Id) -> String {
        u8::try_from(id).map_or_else(|_| format!("c{id}"), |m| trace::name(self.0, m))
    }
    fn all(&self, ids: &[Id]) -> Vec<String> {
        ids.iter().map(|i| self.of(*i)).collect()
    }
}

/// Writes the export: `index.json` first (so an export cut short is still recognised and
/// replaced next time), each vector's stanzas and JSON, then `README.md`. Returns the
/// number of stanza files written.
pub fn write(
    target: &Target,
    model: &GroupModel,
    command: &str,
    vectors: &[Vector<'_>],
) -> Result<usize, String> {
    let names = Names(model);
    let hardened = model.dialect == Dialect::Hardened;
    let rules = hardened.then_some(model.rules);
    let c = model.config();
    let config = Config {
        dialect: c.dialect,
        rules,
        retransmit_ms: c.retransmit_ms,
        max_attempts: c.max_attempts,
        max_held: c.max_held,
        max_window: c.max_window,
        max_limbo: c.max_limbo,
        max_limbo_per_sender: c.max_limbo_per_sender,
        max_ahead: c.max_ahead,
        planted: c.planted,
    };
    let group = Group {
        id: GROUP.to_string(),
        owner: names.of(Id::from(OWNER)),
    };
    let clients = clients(model);
    let built: Vec<(VectorJson<'_>, Vec<(String, String)>)> = vectors
        .iter()
        .map(|v| {
            let setup = Setup {
                dialect: model.dialect,
                rules,
                network: model.network,
                config: &config,
                group: &group,
                clients: &clients,
            };
            vector(model, &names, v, setup)
        })
        .collect();
    let index = Index {
        generator: GENERATOR,
        version: env!("CARGO_PKG_VERSION"),
        command,
        dialect: model.dialect,
        rules,
        network: model.network,
        mode: "wire",
        legend: trace::legend(model),
        group: &group,
        clients: &clients,
        vectors: built
            .iter()
            .map(|(v, files)| IndexEntry {
                name: v.vector,
                property: v.property,
                file: format!("{}.json", v.vector),
                stanzas: format!("{}/", v.vector),
                steps: v.steps.len(),
                deliveries: files.len(),
                reproduced: v.reproduced,
                violation: v.violation.clone(),
            })
            .collect(),
    };
    let mut reasons = BTreeSet::new();
    let mut documents = Vec::new();
    for (v, _) in &built {
        documents.push(pretty(v)?);
        for s in &v.steps {
            for e in &s.expect {
                reasons.extend(e.rejected.iter().map(|r| r.reason));
            }
        }
    }
    let readme = readme(model, command, &clients, &index.vectors, &reasons);
    let index = pretty(&index)?;
    // Everything is made: only now is the earlier export removed.
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    for p in &target.stale {
        fs::remove_file(p).map_err(|e| io(p, e))?;
    }
    for p in &target.stale_dirs {
        fs::remove_dir(p).map_err(|e| io(p, e))?;
    }
    let dir = &target.dir;
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let put = |name: &Path, text: &str| fs::write(name, text).map_err(|e| io(name, e));
    put(&dir.join(INDEX), &index)?;
    let mut written = 0;
    for ((v, files), document) in built.iter().zip(&documents) {
        let sub = dir.join(v.vector);
        fs::create_dir(&sub).map_err(|e| io(&sub, e))?;
        for (file, xml) in files {
            put(&dir.join(file), xml)?;
            written += 1;
        }
        put(&dir.join(format!("{}.json", v.vector)), document)?;
    }
    put(&dir.join(README), &readme)?;
    Ok(written)
}

fn pretty<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| format!("cannot encode: {e}"))
}

fn clients(model: &GroupModel) -> Vec<Client> {
    let names = Names(model);
    let mut ids: Vec<Id> = (0..Id::from(model.clients)).collect();
    if model.adversary {
        ids.push(Id::from(model.adversary_id()));
    }
    ids.into_iter()
        .map(|i| Client {
            name: names.of(i),
            jid: kgroup_sim::wire::jid(i).as_str().to_string(),
            number: i,
            role: if i == Id::from(OWNER) {
                "owner"
            } else if i == Id::from(model.adversary_id()) {
                "adversary"
            } else if Some(i) == model.insider_id().map(Id::from) {
                "insider"
            } else {
                "member"
            },
        })
        .collect()
}

/// One vector, and its stanza files (path under DIR, XML) in delivery order.
fn vector<'a>(
    model: &GroupModel,
    names: &Names<'_>,
    v: &Vector<'a>,
    setup: Setup<'a>,
) -> (VectorJson<'a>, Vec<(String, String)>) {
    let name = v.property.name();
    let deliveries = v
        .replay
        .record
        .iter()
        .flat_map(|r| &r.events)
        .filter(|e| matches!(e, Event::Receive { xml: Some(_), .. }))
        .count();
    let width = deliveries.to_string().len().max(3);
    let mut files = Vec::new();
    let mut steps = Vec::new();
    for (i, rec) in v.replay.record.iter().enumerate() {
        let label = v
            .labels
            .get(i)
            .map_or_else(|| drain_label(model, names, rec), Label::clone);
        let mut events = Vec::new();
        for e in &rec.events {
            events.push(match e {
                Event::Act {
                    client,
                    intent,
                    refused,
                    now,
                } => EventJson::Act {
                    client: names.of(*client),
                    intent: intent_json(names, intent),
                    refused: refused.as_ref().map(ToString::to_string),
                    now: *now,
                },
                Event::Receive {
                    to,
                    from,
                    signer,
                    sender,
                    xml,
                    control,
                    now,
                    ..
                } => {
                    let file = xml.as_ref().map(|x| {
                        let f = format!(
                            "{name}/{:0width$}-to-{}.xml",
                            files.len() + 1,
                            names.of(*to)
                        );
                        files.push((f.clone(), x.to_string()));
                        f
                    });
                    EventJson::Receive {
                        to: names.of(*to),
                        from: names.of(*from),
                        signer: names.of(*signer),
                        sender: names.of(*sender),
                        control: *control,
                        now: *now,
                        xml: xml.as_ref().map(ToString::to_string),
                        file,
                    }
                }
                Event::Unreadable { to, xml } => EventJson::Unreadable {
                    to: names.of(*to),
                    xml: xml.as_ref().map(ToString::to_string),
                },
                Event::Timeout { client, now } => EventJson::Timeout {
                    client: names.of(*client),
                    now: *now,
                },
                Event::Crash { client } => EventJson::Crash {
                    client: names.of(*client),
                },
            });
        }
        steps.push(Step {
            step: i + 1,
            phase: label.phase,
            round: label.round,
            kind: label.step.kind,
            actor: label.step.actor,
            adversary: label.step.adversary,
            says: label.step.action,
            missing: !rec.played,
            events,
            expect: rec
                .touched
                .iter()
                .map(|t| expect(model, names, t))
                .collect(),
        });
    }
    let violation = v
        .replay
        .properties
        .iter()
        .find(|p| p.property == v.property && !p.holds)
        .and_then(|p| p.first.as_deref())
        .map(|w| crate::check::named(model, w));
    let broke_at = v
        .replay
        .broke_at
        .iter()
        .find(|(p, _)| *p == v.property)
        .map(|(_, s)| *s);
    let json = VectorJson {
        vector: name,
        property: v.property,
        violation,
        broke_at,
        reproduced: v.reproduced,
        setup,
        steps,
        drain: v.drain,
        cycle: v.replay.cycle.as_ref(),
    };
    (json, files)
}

/// A drain's step, which the model's path does not have: a fair delivery of the oldest
/// copy never delivered, or a retransmission.
fn drain_label(model: &GroupModel, names: &Names<'_>, rec: &StepRecord) -> Label {
    let mut step = TraceStep::default();
    match rec.events.first() {
        Some(Event::Receive {
            to,
            from,
            signer,
            stanza,
            ..
        }) => {
            let what = narrow(stanza).map_or_else(String::new, |s| trace::describe(model, &s));
            step.action = format!("{} → {}: {what}", names.of(*signer), names.of(*to));
            step.kind = "deliver";
            step.actor = "network".into();
            step.adversary = from != signer;
            step.from = Some(names.of(*from));
            step.to = vec![names.of(*to)];
        }
        Some(Event::Timeout { client, .. }) => {
            step.action = format!("{} retransmits", names.of(*client));
            step.kind = "retransmit";
            step.actor = names.of(*client);
        }
        _ => step.kind = "drain",
    }
    Label {
        phase: "drain",
        round: None,
        step,
    }
}

/// The simulator's stanza with the model's small ids, for [`trace::describe`].
fn narrow(s: &Stanza<Id>) -> Option<Stanza<u8>> {
    s.try_map(&mut |i: &Id| u8::try_from(*i)).ok()
}

fn intent_json(names: &Names<'_>, i: &Intent<Id>) -> IntentJson {
    let text = |t: &Option<kgroup::Text>| t.as_deref().map(String::from);
    match i {
        Intent::Create {
            members,
            subject,
            body,
            ..
        } => IntentJson::Create {
            members: names.all(members),
            subject: text(subject),
            body: text(body),
        },
        Intent::Set { change, body, .. } => IntentJson::Set {
            add: names.all(&change.add),
            remove: names.all(&change.remove),
            subject: text(&change.subject),
            body: text(body),
        },
        Intent::Message { body, .. } => IntentJson::Message {
            body: body.to_string(),
        },
        Intent::Part { body, .. } => IntentJson::Part { body: text(body) },
    }
}

fn expect(model: &GroupModel, names: &Names<'_>, t: &Touched) -> Expect {
    let mut e = Expect {
        client: names.of(t.client),
        view: t.view.as_ref().map(|v| view(model, names, v)),
        delivered: Vec::new(),
        rejected: Vec::new(),
        alarms: Vec::new(),
    };
    for o in &t.outputs {
        match o {
            Output::Deliver { from, body, .. } => e.delivered.push(Delivered {
                from: names.of(*from),
                body: body.to_string(),
            }),
            Output::Reject {
                group,
                from,
                reason,
            } => e.rejected.push(Rejected {
                from: names.of(*from),
                reason: *reason,
                group: (group.id.as_ref() != GROUP || group.owner != Id::from(OWNER)).then(|| {
                    Group {
                        id: group.id.to_string(),
                        owner: names.of(group.owner),
                    }
                }),
            }),
            Output::Equivocation { epoch, witness, .. } => e.alarms.push(Alarm {
                epoch: *epoch,
                witness: names.of(*witness),
            }),
            _ => {}
        }
    }
    e
}

fn view(model: &GroupModel, names: &Names<'_>, v: &View<Id>) -> ViewJson {
    ViewJson {
        members: names.all(&v.members),
        subject: v.subject.as_deref().map(String::from),
        status: v.status,
        // Only the hardened dialect has epochs (as in the traces' views).
        epoch: (model.dialect == Dialect::Hardened).then_some(v.epoch),
    }
}

/// The command line that made the export, as a shell would take it back.
pub fn command_line(args: impl Iterator<Item = String>) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b);
    std::iter::once("kgroup".to_string())
        .chain(args.map(|a| {
            if !a.is_empty() && a.bytes().all(plain) {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// README.md: what the files are, how a runner uses them, and what made them.
fn readme(
    model: &GroupModel,
    command: &str,
    clients: &[Client],
    vectors: &[IndexEntry],
    reasons: &BTreeSet<Reason>,
) -> String {
    let dialect = model.dialect;
    let rules = match dialect {
        Dialect::Kontalk => "`kontalk`: the protocol page as written. A client acts on the \
            server's `from` (so `sender` is `from`), applies owner commands as they arrive, \
            and has no epochs: views carry no `epoch`."
            .to_string(),
        Dialect::Android => "`android`: Kontalk's Android client as built. A client acts on \
            the server's `from` (so `sender` is `from`) and has no epochs: views carry no \
            `epoch`."
            .to_string(),
        Dialect::Hardened => format!(
            "`hardened` with its {} receiving rules: our wire-compatible extension. A client \
             acts on the verified signer (so `sender` is `signer`); the owner's commands carry \
             full snapshots numbered by epoch (`<hardened/>` extension), messages carry the \
             sender's epoch, sequence number and recipient list, and acknowledgements are \
             stanzas of their own. Views carry the `epoch`.",
            model.rules.as_str()
        ),
    };
    let mut out = String::new();
    let w = &mut out;
    use std::fmt::Write as _;
    let _ = writeln!(w, "# kgroup test vectors\n");
    let _ = writeln!(
        w,
        "Written by `kgroup replay --export` (kgroup {}), as:\n\n    {command}\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        w,
        "Each vector is the shortest counterexample the model checker found for one property \
         that fails in this configuration ({} dialect, {} network, {} clients, owner script \
         `{}`), replayed through the simulator's clients with every stanza encoded to XML and \
         decoded again by the real codec. The expectations are what those clients did. A \
         client implementation that follows the same dialect should do the same: a vector \
         is a regression test of the protocol's behaviour, including the behaviour that \
         breaks the property.\n",
        dialect.as_str(),
        model.network.name(),
        model.clients,
        kgroup_model::script::render(&model.script),
    );
    let _ = writeln!(w, "## Files\n");
    let _ = writeln!(
        w,
        "- `index.json`: the command line, dialect, network, the clients (name, JID, role) \
         and one entry per vector.\n\
         - `PROPERTY.json`: one vector: `setup` (dialect, client configuration, the group, the \
         clients) and the ordered `steps`.\n\
         - `PROPERTY/NNN-to-NAME.xml`: every stanza of the vector as its receiver NAME gets it, \
         numbered in delivery order; byte for byte the `xml` of its `receive` event (`file` \
         names it).\n"
    );
    let _ = writeln!(w, "## Clients\n");
    let _ = writeln!(
        w,
        "Every JSON field that names a client uses the name `kgroup check`'s traces use; the \
         XML uses the JID. The group is `{GROUP}`, owned by {}.\n",
        Names(model).of(Id::from(OWNER))
    );
    let _ = writeln!(w, "| name | JID | role |\n|---|---|---|");
    for c in clients {
        let _ = writeln!(w, "| {} | `{}` | {} |", c.name, c.jid, c.role);
    }
    let _ = writeln!(
        w,
        "\nThe adversary (mallory: the server, or an outsider) runs no client: it only puts \
         copies on the network, which reach their receivers as `receive` events. Steps it \
         makes, or whose copy it carries, have `\"adversary\": true`.\n"
    );
    let _ = writeln!(w, "## Running a vector\n");
    let _ = writeln!(
        w,
        "1. Make a fresh client for every entry of `setup.clients` but the adversary, with \
         its JID and `setup.config`: the dialect and rules, the bounds (`max_held`, \
         `max_window`, `max_limbo`, `max_limbo_per_sender`, `max_ahead`), and \
         retransmission without a timer or a limit (`retransmit_ms` 0, `max_attempts` \
         null: every timeout resends everything unacknowledged).\n\
         2. For each step in order, give its `events` in order to the clients they name, \
         keeping every output of each client:\n   \
         - `act`: `client` performs `intent` on the group `setup.group` at time `now`: \
         `create` with `members` (the owner excluded), `set` with `add`, `remove` and \
         `subject`, `message` with `body`, `part`. With `refused`, the client must refuse \
         the intent and change nothing (the text is ours, for reading).\n   \
         - `receive`: parse `xml` (the `<message/>` as the receiver's server delivers it, \
         without the XEP-0033 address list; the group stanza in clear, as the OpenPGP \
         envelope would hold it) and give the group stanza to client `to` at time `now`, as \
         received from `sender`. `from` is the stanza's `from` attribute (the server's \
         word), `signer` whom the OpenPGP signature names: the vectors carry no keys, and \
         `signer` stands for the signer a real client verifies. `sender` is the one the \
         dialect acts on. `control: true` marks an acknowledgement, given as the step that \
         caused it is done.\n   \
         - `timeout`: `client`'s retransmission timer fires at time `now`.\n   \
         - `crash`: `client` stops, losing all but what it persisted, and restarts from \
         that.\n   \
         - `unreadable`: the copy could not be read; nothing reaches the client.\n   \
         Stanzas a client asks to send are not sent by the runner: every copy that reaches \
         anyone is a later `receive` event (a copy never delivered was lost, or still in \
         flight when the vector ends). Steps with no events (a loss, an adversary putting a \
         copy on the network, the owner's equivocation) change no client.\n\
         3. After the step, check every entry of `expect` against its `client`:\n   \
         - `view`: its view of the group `setup.group`, null when it knows no such group: \
         `members` (as a set, the owner included while a member), `subject`, `status` \
         (`member`, `left`: it parted, `removed`: the owner removed it){}.\n   \
         - `delivered`: the messages it showed its user during the step, in order: the \
         sender and the body.\n   \
         - `rejected`: the stanzas it refused during the step, in order: the sender it was \
         given and the reason (below); `group` only when the stanza was of another group \
         than `setup.group`. Every refusal is reported, none is silent.\n   \
         - `alarms`: hardened only: the owner signed two states for `epoch`, seen through \
         `witness`.\n   \
         A client not in `expect` was given nothing in the step.\n",
        if dialect == Dialect::Hardened {
            ", and `epoch`"
        } else {
            ""
        }
    );
    let _ = writeln!(
        w,
        "`says`, `kind`, `actor` and `phase` are for reading: the step as the trace of \
         `kgroup check` words it. `phase` is `path` for the counterexample's steps, `cycle` \
         for a `progress` lasso's cycle (played `round` 1 and 2: each round ends where it \
         began) and `drain` for the fair deliveries and retransmissions after a \
         `quiescence-reachable` counterexample (which must not reach quiescence). \
         `broke_at` is the step after which the simulator's judge saw the property broken, \
         and `violation` says how.\n"
    );
    let _ = writeln!(w, "## Dialect\n\nThe expectations assume {rules}\n");
    if dialect == Dialect::Hardened && model.rules == kgroup::Rules::V2 {
        let _ = writeln!(
            w,
            "**Digests.** Under the v2 rules a snapshot's `prev`, a `<head/>` \
             acknowledgement's digest and a removal's `<cut/>` digests are SHA-256 over typed \
             content that includes identities. The simulator's identities are the client \
             numbers above (each hashed as a 64-bit little-endian integer), not the JIDs, so \
             these digests are not the ones clients identified by JID compute: such a runner \
             computes other heads from the same snapshots and raises equivocation alarms \
             (`alarms`) these vectors do not expect. A runner matches them only if it hashes \
             each client's identity as its number.\n"
        );
    }
    if let Some(p) = model.planted {
        let _ = writeln!(
            w,
            "**Planted bug.** The clients ran with the liveness bug `{}` planted on purpose \
             (`--plant`): the expectations are those of a deliberately broken client, which \
             no correct implementation should match.\n",
            p.as_str()
        );
    }
    if !reasons.is_empty() {
        let _ = writeln!(
            w,
            "## Reasons in these vectors\n\n| reason | meaning |\n|---|---|"
        );
        for r in reasons {
            let _ = writeln!(w, "| `{}` | {} |", r.as_str(), r.explain());
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "## Vectors\n");
    if vectors.is_empty() {
        let _ = writeln!(w, "None: no property fails in this configuration.");
    } else {
        let _ = writeln!(
            w,
            "| vector | steps | stanzas | reproduced | violation |\n|---|---|---|---|---|"
        );
        for v in vectors {
            let _ = writeln!(
                w,
                "| [`{}`]({}) | {} | {} | {} | {} |",
                v.name,
                v.file,
                v.steps,
                v.deliveries,
                if v.reproduced { "yes" } else { "NO" },
                v.violation.as_deref().unwrap_or("-").replace('|', "\\|")
            );
        }
    }
    out
}
