//! `kgroup replay --export DIR`: the vectors are usable by an implementation that knows
//! nothing of the model or the simulator. A runner here uses the kgroup library only, as
//! another client would use its own: it parses each stanza file with the codec, gives it
//! to a fresh `kgroup::Client` per recipient (identified by JID) as received from the
//! vector's sender, and compares the view, deliveries, rejections and alarms after every
//! step with the vector's expectations, following the README's algorithm.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kgroup::codec::{Jid, Message};
use kgroup::{Change, Client, Config, GroupKey, Intent, Output, Text};
use serde_json::Value;

use common::{kgroup, one_line};

/// A fresh directory for one test under cargo's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{name}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the scratch directory");
    }
    dir
}

fn kontalk() -> Vec<&'static str> {
    common::join(&[&common::KONTALK_SUBJECT, &["--quiet"]])
}

/// Runs `kgroup replay --export dir ARGS` and returns the index.
fn export(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["replay", "--export", dir.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    let out = kgroup(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported"));
    read_json(&dir.join("index.json"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// What running the vectors showed, to check they test something.
#[derive(Default, Debug)]
struct Seen {
    steps: usize,
    receives: usize,
    rejections: usize,
    deliveries: usize,
    adversary_receives: usize,
    control: usize,
}

/// One vector's clients, as another implementation would hold them.
struct Runner<'a> {
    vector: &'a Value,
    config: Config,
    group: GroupKey<Jid>,
    jids: BTreeMap<String, Jid>,
    names: BTreeMap<Jid, String>,
    clients: BTreeMap<String, Client<Jid>>,
}

fn s(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("not a string: {v}"))
}

fn opt_text(v: &Value) -> Option<Text> {
    v.as_str().map(Text::from)
}

impl<'a> Runner<'a> {
    fn new(vector: &'a Value) -> Result<Self, String> {
        let setup = &vector["setup"];
        let c = &setup["config"];
        let mut config = Config::new(s(&c["dialect"])?.parse()?);
        if let Some(r) = c["rules"].as_str() {
            config.rules = r.parse()?;
        }
        if let Some(p) = c["planted"].as_str() {
            config.planted = Some(p.parse()?);
        }
        let num = |k: &str| c[k].as_u64().ok_or_else(|| format!("config.{k}"));
        config.retransmit_ms = num("retransmit_ms")?;
        config.max_attempts = c["max_attempts"].as_u64().map(|n| n as u32);
        config.max_held = num("max_held")? as usize;
        config.max_window = num("max_window")? as usize;
        config.max_limbo = num("max_limbo")? as usize;
        config.max_limbo_per_sender = num("max_limbo_per_sender")? as usize;
        config.max_ahead = num("max_ahead")?;
        let mut jids = BTreeMap::new();
        let mut clients = BTreeMap::new();
        for cl in setup["clients"].as_array().ok_or("setup.clients")? {
            let name = s(&cl["name"])?.to_string();
            let jid = Jid::new_bare(s(&cl["jid"])?).map_err(|e| e.to_string())?;
            if cl["role"] != "adversary" {
                clients.insert(name.clone(), Client::new(jid.clone(), config));
            }
            jids.insert(name, jid);
        }
        let names = jids.iter().map(|(n, j)| (j.clone(), n.clone())).collect();
        let owner = jids
            .get(s(&setup["group"]["owner"])?)
            .ok_or("the owner is no client")?
            .clone();
        let group = GroupKey::new(s(&setup["group"]["id"])?, owner);
        Ok(Runner {
            vector,
            config,
            group,
            jids,
            names,
            clients,
        })
    }

    fn jid(&self, name: &Value) -> Result<Jid, String> {
        let name = s(name)?;
        self.jids
            .get(name)
            .cloned()
            .ok_or_else(|| format!("{name} is no client of the vector"))
    }

    fn name(&self, jid: &Jid) -> String {
        self.names
            .get(jid)
            .cloned()
            .unwrap_or_else(|| jid.as_str().to_string())
    }

    fn client(&mut self, name: &Value) -> Result<&mut Client<Jid>, String> {
        let name = s(name)?;
        self.clients
            .get_mut(name)
            .ok_or_else(|| format!("{name} runs no client"))
    }

    fn intent(&self, i: &Value) -> Result<Intent<Jid>, String> {
        let jids = |v: &Value| -> Result<Vec<Jid>, String> {
            v.as_array()
                .ok_or("a list of clients")?
                .iter()
                .map(|n| self.jid(n))
                .collect()
        };
        Ok(match s(&i["type"])? {
            "create" => Intent::Create {
                id: self.group.id.clone(),
                members: jids(&i["members"])?,
                subject: opt_text(&i["subject"]),
                body: opt_text(&i["body"]),
            },
            "set" => Intent::Set {
                id: self.group.id.clone(),
                change: Change {
                    add: jids(&i["add"])?,
                    remove: jids(&i["remove"])?,
                    subject: opt_text(&i["subject"]),
                },
                body: opt_text(&i["body"]),
            },
            "message" => Intent::Message {
                group: self.group.clone(),
                body: s(&i["body"])?.into(),
            },
            "part" => Intent::Part {
                group: self.group.clone(),
                body: opt_text(&i["body"]),
            },
            other => return Err(format!("unknown intent {other}")),
        })
    }

    /// Runs every step; the first difference from the expectations is the error.
    fn run(&mut self, dir: &Path, seen: &mut Seen) -> Result<(), String> {
        let steps = self.vector["steps"].as_array().ok_or("steps")?;
        for step in steps {
            let at = format!("step {}", step["step"]);
            self.step(dir, step, seen)
                .map_err(|e| format!("{at}: {e}"))?;
            seen.steps += 1;
        }
        Ok(())
    }

    fn step(&mut self, dir: &Path, step: &Value, seen: &mut Seen) -> Result<(), String> {
        let mut outputs: BTreeMap<String, Vec<Output<Jid>>> = BTreeMap::new();
        for e in step["events"].as_array().ok_or("events")? {
            let mut out = Vec::new();
            let now = e["now"].as_u64().unwrap_or(0);
            let who = match s(&e["event"])? {
                "act" => {
                    let intent = self.intent(&e["intent"])?;
                    let refused = self.client(&e["client"])?.act(intent, now, &mut out);
                    if refused.is_err() != e.get("refused").is_some() {
                        return Err(format!("refusal differs: {refused:?} against {e}"));
                    }
                    &e["client"]
                }
                "receive" => {
                    let xml = s(&e["xml"])?;
                    let file = std::fs::read_to_string(dir.join(s(&e["file"])?))
                        .map_err(|err| format!("{}: {err}", e["file"]))?;
                    if file != xml {
                        return Err(format!("{} differs from its event's xml", e["file"]));
                    }
                    let m = Message::decode(file.as_bytes()).map_err(|err| err.to_string())?;
                    if m.from.as_ref() != Some(&self.jid(&e["from"])?) {
                        return Err(format!(
                            "from {:?} is not the vector's {}",
                            m.from, e["from"]
                        ));
                    }
                    let (_, stanza) = m.to_core().map_err(|err| err.to_string())?;
                    // The dialect's rule, applied by the runner: the server's word, or the
                    // (verified) signer.
                    let acts_on = if self.config.dialect.trusts_server_from() {
                        &e["from"]
                    } else {
                        &e["signer"]
                    };
                    if acts_on != &e["sender"] {
                        return Err(format!("sender {} is not the dialect's", e["sender"]));
                    }
                    let sender = self.jid(&e["sender"])?;
                    self.client(&e["to"])?
                        .receive(sender, Arc::new(stanza), now, &mut out);
                    seen.receives += 1;
                    seen.control += usize::from(e["control"] == true);
                    seen.adversary_receives += usize::from(e["from"] != e["signer"]);
                    &e["to"]
                }
                "timeout" => {
                    self.client(&e["client"])?.handle_timeout(now, &mut out);
                    &e["client"]
                }
                "crash" => {
                    let jid = self.jid(&e["client"])?;
                    let config = self.config;
                    let c = self.client(&e["client"])?;
                    *c = Client::restore(jid, config, c.durable());
                    &e["client"]
                }
                // The copy could not be read: nothing reaches the client.
                "unreadable" => &e["to"],
                other => return Err(format!("unknown event {other}")),
            };
            // Stanzas to send are not sent: every copy delivered is an event of its own.
            outputs
                .entry(s(who)?.to_string())
                .or_default()
                .extend(out.into_iter().filter(|o| {
                    matches!(
                        o,
                        Output::Deliver { .. }
                            | Output::Reject { .. }
                            | Output::Equivocation { .. }
                    )
                }));
        }
        let expect = step["expect"].as_array().ok_or("expect")?;
        let expected: BTreeSet<&str> = expect.iter().filter_map(|x| x["client"].as_str()).collect();
        let touched: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
        if expected != touched {
            return Err(format!("touched {touched:?}, expected {expected:?}"));
        }
        for x in expect {
            let name = s(&x["client"])?;
            let got = self.got(name, &outputs[name])?;
            for k in ["view", "delivered", "rejected", "alarms"] {
                if as_set(&got[k]) != as_set(&x[k]) {
                    return Err(format!("{name}'s {k}: got {}, expected {}", got[k], x[k]));
                }
            }
            seen.rejections += x["rejected"].as_array().map_or(0, Vec::len);
            seen.deliveries += x["delivered"].as_array().map_or(0, Vec::len);
        }
        Ok(())
    }

    /// A client's state and outputs in the vector's terms (members sorted as the vector
    /// lists them, by client number).
    fn got(&self, name: &str, outputs: &[Output<Jid>]) -> Result<Value, String> {
        let client = &self.clients[name];
        let view = client.view(&self.group).map(|v| {
            let members: Vec<String> = v.members.iter().map(|m| self.name(m)).collect();
            let mut view = serde_json::json!({
                "members": members,
                "subject": v.subject.as_deref(),
                "status": v.status,
            });
            if self.config.dialect == kgroup::Dialect::Hardened {
                view["epoch"] = v.epoch.into();
            }
            view
        });
        let mut delivered = Vec::new();
        let mut rejected = Vec::new();
        let mut alarms = Vec::new();
        for o in outputs {
            match o {
                Output::Deliver { from, body, .. } => delivered
                    .push(serde_json::json!({ "from": self.name(from), "body": body.as_ref() })),
                Output::Reject {
                    group,
                    from,
                    reason,
                } => {
                    let mut r = serde_json::json!({ "from": self.name(from), "reason": reason });
                    if *group != self.group {
                        r["group"] = serde_json::json!({
                            "id": group.id.as_ref(),
                            "owner": self.name(&group.owner),
                        });
                    }
                    rejected.push(r);
                }
                Output::Equivocation { epoch, witness, .. } => alarms
                    .push(serde_json::json!({ "epoch": epoch, "witness": self.name(witness) })),
                _ => {}
            }
        }
        Ok(serde_json::json!({
            "view": view,
            "delivered": delivered,
            "rejected": rejected,
            "alarms": alarms,
        }))
    }
}

/// A view's members compare as a set.
fn as_set(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("members").and_then(Value::as_array_mut) {
        m.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    v
}

/// Runs every vector of an export, each on fresh clients.
fn run_all(dir: &Path) -> Seen {
    let index = read_json(&dir.join("index.json"));
    let mut seen = Seen::default();
    for entry in index["vectors"].as_array().expect("vectors") {
        let vector = read_json(&dir.join(entry["file"].as_str().expect("file")));
        let mut runner = Runner::new(&vector).expect("a usable setup");
        runner
            .run(dir, &mut seen)
            .unwrap_or_else(|e| panic!("{}: {e}", entry["name"]));
        // The stanza files are exactly those the vector names.
        let listed: BTreeSet<String> = vector["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .flat_map(|s| s["events"].as_array().expect("events"))
            .filter_map(|e| e["file"].as_str().map(String::from))
            .collect();
        let sub = dir.join(entry["stanzas"].as_str().expect("stanzas"));
        let present: BTreeSet<String> = std::fs::read_dir(&sub)
            .expect("the stanza directory")
            .map(|e| {
                format!(
                    "{}{}",
                    entry["stanzas"].as_str().expect("stanzas"),
                    e.expect("an entry").file_name().to_string_lossy()
                )
            })
            .collect();
        assert_eq!(listed, present, "{}", entry["name"]);
        assert_eq!(entry["deliveries"], listed.len(), "{}", entry["name"]);
    }
    seen
}

#[test]
fn kontalk_vectors_run_on_fresh_clients_from_the_xml_alone() {
    let dir = scratch("kontalk");
    let index = export(&dir, &kontalk());
    assert_eq!(index["generator"], "kgroup replay --export");
    assert_eq!(index["dialect"], "kontalk");
    assert_eq!(index["mode"], "wire");
    let command = index["command"].as_str().unwrap();
    assert!(
        command.contains("--script 'create:1,2;subject:1'"),
        "{command}"
    );
    let names: Vec<_> = index["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["convergence", "epoch-agreement", "fork-detection"]);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for words in [
        "## Running a vector",
        "`signer` stands for",
        "unknown-group",
        command,
    ] {
        assert!(readme.contains(words), "README lacks {words:?}");
    }
    let seen = run_all(&dir);
    // bob refuses the subject change of a group he does not know yet: the seed's bug.
    assert!(seen.rejections >= 1, "{seen:?}");
    assert!(seen.receives >= 9, "{seen:?}");
}

#[test]
fn adversary_vectors_carry_forged_copies_and_run_too() {
    let dir = scratch("adversary");
    let mut args = kontalk();
    args.push("--adversary");
    let index = export(&dir, &args);
    let clients = index["clients"].as_array().unwrap();
    assert!(clients
        .iter()
        .any(|c| c["name"] == "mallory" && c["role"] == "adversary"));
    let owner_authority = read_json(&dir.join("owner-authority.json"));
    assert!(
        owner_authority["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["adversary"] == true && s["kind"] == "forge"),
        "an adversary step is labelled"
    );
    let seen = run_all(&dir);
    assert!(seen.adversary_receives >= 1, "{seen:?}");
}

/// The hardened dialect (v1 rules: heads are not chained) with the equivocating owner:
/// acknowledgements are stanzas too, and every view carries its epoch.
#[test]
fn hardened_vectors_with_acknowledgements_run_too() {
    let dir = scratch("hardened");
    let index = export(
        &dir,
        &common::join(&[&common::EQUIVOCATE, &["--hardened-rules", "v1", "--quiet"]]),
    );
    assert_eq!(index["rules"], "v1");
    let seen = run_all(&dir);
    assert!(seen.control >= 1, "{seen:?}");
    let convergence = read_json(&dir.join("convergence.json"));
    let last = convergence["steps"].as_array().unwrap().last().unwrap();
    assert!(
        last["expect"][0]["view"]["epoch"].is_u64(),
        "hardened views carry the epoch: {last}"
    );
}

/// A change to a vector, named.
type Tamper = (&'static str, fn(&mut Value));

/// A runner that ignores the expectations would pass anything: a changed expectation is
/// a failure, at its step.
#[test]
fn a_tampered_expectation_is_detected() {
    let dir = scratch("tampered");
    export(&dir, &kontalk());
    let vector = read_json(&dir.join("convergence.json"));
    assert!(Runner::new(&vector)
        .unwrap()
        .run(&dir, &mut Seen::default())
        .is_ok());
    let tamper: [Tamper; 4] = [
        ("reason", |v| {
            v["steps"][4]["expect"][0]["rejected"][0]["reason"] = "stale".into()
        }),
        ("rejection dropped", |v| {
            v["steps"][4]["expect"][0]["rejected"] = serde_json::json!([])
        }),
        ("subject", |v| {
            v["steps"][3]["expect"][0]["view"]["subject"] = "s2".into()
        }),
        ("members", |v| {
            v["steps"][0]["expect"][0]["view"]["members"] = serde_json::json!(["david"])
        }),
    ];
    for (what, change) in tamper {
        let mut bad = vector.clone();
        change(&mut bad);
        let result = Runner::new(&bad).unwrap().run(&dir, &mut Seen::default());
        assert!(result.is_err(), "{what}: a tampered vector passed");
    }
    // A stanza file that no longer matches its event.
    let file = dir.join("convergence/003-to-bob.xml");
    std::fs::write(&file, "<message/>").unwrap();
    let result = Runner::new(&vector)
        .unwrap()
        .run(&dir, &mut Seen::default());
    assert!(result.is_err_and(|e| e.contains("differs")));
}

#[test]
fn an_unusable_directory_is_one_line_and_exit_two_and_nothing_is_deleted() {
    let run = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["replay", "--export", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&kontalk());
        kgroup(&args)
    };
    // A file.
    let base = scratch("unusable");
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("a-file");
    std::fs::write(&file, "mine").unwrap();
    let out = run(&file, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        one_line(&out.stderr),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    // A directory of someone else's files.
    let theirs = base.join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("README.md"), "mine").unwrap();
    let out = run(&theirs, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(theirs.join("README.md")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 1);
    // An earlier export is replaced, with no vector of it left behind...
    let ours = base.join("ours");
    let out = run(&ours, &["--adversary"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(ours.join("owner-authority.json").exists());
    let out = run(&ours, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!ours.join("owner-authority.json").exists());
    assert!(!ours.join("owner-authority").exists());
    run_all(&ours);
    // ...unless something else was put in it.
    std::fs::write(ours.join("convergence").join("notes.txt"), "mine").unwrap();
    let out = run(&ours, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("convergence"));
    assert!(ours.join("convergence").join("notes.txt").exists());
    // The vectors carry no keys: --encrypt cannot be exported.
    let out = run(&base.join("encrypted"), &["--encrypt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!base.join("encrypted").exists());
    let out = run(&base.join("encrypted"), &["--mode", "encrypt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not with --mode encrypt"));
    assert!(!base.join("encrypted").exists());
}
