//! Running the checker: stateright explores the whole state space (on any number of
//! threads) for the verdicts; a breadth-first search of our own then finds, for each
//! property that fails, a counterexample of minimal length (stateright's own paths are not
//! guaranteed shortest), and renders it as a readable trace.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use stateright::{Checker, Model};

use crate::liveness::Liveness;
use crate::model::{Action, GroupModel, Path, State};
use crate::properties::{Kind, Outcome, Property, Verdict};
use crate::script;
use crate::symmetry::Symmetric;
use crate::trace::render;

/// The result of one exhaustive check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub dialect: kgroup::Dialect,
    pub network: crate::network::Network,
    pub clients: u8,
    pub script: String,
    pub adversary: bool,
    /// Whether the removed member turned insider.
    pub insider: bool,
    /// Whether the owner equivocated (once).
    pub equivocate: bool,
    /// The hardened dialect's receiving rules (v1 only to show what v2 fixes).
    pub rules: kgroup::Rules,
    /// Whether states were reduced by the symmetry of interchangeable members.
    pub symmetry: bool,
    pub threads: usize,
    /// States generated (with repeats) by the exhaustive search.
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub states_per_sec: f64,
    /// False when a state limit stopped the search before the whole space was seen, when
    /// the liveness analysis did not run, or when a verdict is vacuous.
    pub complete: bool,
    /// What stopped the search before it saw everything, in words (`--max-seconds 10`,
    /// `--max-depth 6`, `interrupted`); absent when nothing did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// The liveness analysis's graph (absent when it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessStats>,
    pub properties: Vec<Verdict>,
    /// The size foreseen before the check began (`kgroup check` runs the pilot of
    /// [`crate::estimate`]; absent when nothing ran it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::estimate::Estimate>,
    /// The actions of each shortest counterexample (not of lassos), for replaying them.
    #[serde(skip)]
    pub paths: BTreeMap<Property, Vec<Action>>,
}

/// The size and cost of the graph the liveness analysis built.
#[derive(Clone, Debug, Serialize)]
pub struct LivenessStats {
    pub states: usize,
    pub transitions: usize,
    /// Quiescent states after the owner's first command.
    pub quiescent_states: u64,
    pub seconds: f64,
}

impl CheckReport {
    /// Every property holds (none fails, none is vacuous or undecided).
    pub fn all_hold(&self) -> bool {
        self.properties.iter().all(|p| p.holds)
    }

    /// Some property has a counterexample.
    pub fn any_fails(&self) -> bool {
        self.properties.iter().any(|p| p.outcome == Outcome::Fails)
    }
}

/// How to check.
#[derive(Clone, Debug)]
pub struct Options {
    pub threads: usize,
    /// Stop after about this many generated states (stateright's count, repeats included;
    /// the liveness graph stops at as many unique states).
    pub max_states: Option<usize>,
    /// Reduce by the symmetry of interchangeable members (the safety search only).
    pub symmetry: bool,
    /// Build the whole graph and judge `quiescence-reachable` and `progress` on it; without
    /// it those two are undecided and the at-quiescence verdicts are not counted.
    pub liveness: bool,
    /// Explore no deeper than this many steps (the liveness analysis, which needs the
    /// whole graph, is then not run).
    pub max_depth: Option<usize>,
    /// When to give up: a deadline, a flag another thread sets (Ctrl-C), or both.
    pub stop: Stop,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 2,
            max_states: None,
            symmetry: false,
            liveness: true,
            max_depth: None,
            stop: Stop::default(),
        }
    }
}

/// When a check gives up before a verdict: at a deadline, or once a shared flag is set
/// (the CLI sets it on Ctrl-C). Every phase polls it: the search, the shortest
/// counterexamples and the liveness graph.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    pub deadline: Option<Instant>,
    pub flag: Option<Arc<AtomicBool>>,
}

impl Stop {
    /// Whether to give up now.
    pub fn reached(&self) -> bool {
        self.why().is_some()
    }

    /// What stopped the check, in words, once it has.
    fn why(&self) -> Option<&'static str> {
        if self
            .flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            Some("an interrupt (Ctrl-C)")
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some("the time limit")
        } else {
            None
        }
    }
}

/// The phase a running check is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// stateright's exhaustive search, for the safety verdicts.
    Search,
    /// The breadth-first search for each failing property's shortest counterexample.
    Shortest,
    /// The whole graph, for the liveness verdicts.
    Liveness,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Search => "searching",
            Phase::Shortest => "finding the shortest counterexamples",
            Phase::Liveness => "building the liveness graph",
        }
    }
}

/// Progress of a running check, reported about every 200 ms.
pub struct Progress {
    pub phase: Phase,
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
}

/// Explores `model` exhaustively with `threads` threads, then finds a shortest
/// counterexample for every property that fails. With `max_states`, the search stops once
/// about that many states have been generated (stateright's state count, repeats included)
/// and the report says it is not complete.
pub fn check(
    model: &GroupModel,
    threads: usize,
    max_states: Option<usize>,
    progress: impl FnMut(&Progress),
) -> CheckReport {
    let options = Options {
        threads,
        max_states,
        ..Options::default()
    };
    check_with(model, &options, progress)
}

/// What stateright's search found.
struct Explored {
    states: usize,
    unique_states: usize,
    max_depth: usize,
    failing: Vec<Property>,
}

fn explore<M>(
    model: M,
    options: &Options,
    start: Instant,
    progress: &mut impl FnMut(&Progress),
) -> Explored
where
    M: Model<State = State, Action = Action> + Send + Sync + 'static,
{
    let mut builder = model.checker().threads(options.threads.max(1));
    if let Some(n) = options.max_states {
        builder = builder.target_state_count(n);
    }
    if let Some(d) = options.max_depth {
        // stateright counts the initial state as depth 1 and skips, unchecked, the states
        // at its target depth: d + 2 checks every state d steps or fewer from the start.
        builder = builder.target_max_depth(d + 2);
    }
    if let Some(deadline) = options.stop.deadline {
        builder = builder.timeout(deadline.saturating_duration_since(Instant::now()));
    }
    let checker = builder.spawn_bfs();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(200));
        progress(&Progress {
            phase: Phase::Search,
            states: checker.state_count(),
            unique_states: checker.unique_state_count(),
            max_depth: checker.max_depth(),
            elapsed: start.elapsed(),
        });
        if options.stop.reached() {
            // stateright's workers cannot be cancelled from outside: what they found so
            // far is read from the running checker, and they are left to the process's
            // end (the CLI exits right after its report).
            break;
        }
    }
    let discoveries = checker.discoveries();
    Explored {
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        // stateright names what it found by the catalogue's names.
        failing: Property::ALL
            .into_iter()
            .filter(|p| discoveries.contains_key(p.name()))
            .collect(),
    }
}

/// [`check`], with `symmetry` reduction (see [`crate::symmetry`]) when asked: states that
/// differ only by a permutation of interchangeable members are explored once, for the
/// verdicts and for the shortest counterexamples alike.
pub fn check_with(
    model: &GroupModel,
    options: &Options,
    mut progress: impl FnMut(&Progress),
) -> CheckReport {
    let Options {
        threads,
        max_states,
        symmetry,
        liveness,
        max_depth: depth_limit,
        ref stop,
    } = *options;
    let start = Instant::now();
    let Explored {
        states,
        unique_states,
        max_depth,
        failing,
    } = if symmetry {
        explore(Symmetric::new(model.clone()), options, start, &mut progress)
    } else {
        explore(model.clone(), options, start, &mut progress)
    };
    let seconds = start.elapsed().as_secs_f64();
    // stateright's target counts generated states, repeats included.
    let mut complete = max_states.is_none_or(|n| states < n);
    let mut stopped_by = None;
    if let Some(d) = depth_limit.filter(|&d| max_depth >= d + 2) {
        complete = false;
        stopped_by = Some(format!("the depth limit ({d} steps)"));
    }
    if let Some(why) = stop.why() {
        complete = false;
        stopped_by = Some(why.to_string());
    }
    let search_cut = !complete;
    let shortest = shortest_counterexamples_stoppable(model, &failing, symmetry, stop, &mut |p| {
        progress(&Progress {
            elapsed: start.elapsed(),
            ..p
        })
    });
    // The liveness verdicts need the whole graph: not with a depth limit, nor once stopped.
    let analysis = (liveness && depth_limit.is_none() && !stop.reached()).then(|| {
        crate::liveness::analyse_with(model, max_states, stop, &mut |p| {
            progress(&Progress {
                elapsed: start.elapsed(),
                ..p
            })
        })
    });
    if let Some(why) = stop.why() {
        stopped_by.get_or_insert_with(|| why.to_string());
    }
    let mut properties: Vec<Verdict> = model
        .properties()
        .iter()
        .filter_map(|p| Property::from_name(p.name))
        .map(|p| {
            // A property not violated in a search that was cut is undecided, not holding.
            if search_cut && !failing.contains(&p) {
                return Verdict::unsettled(p, Outcome::Undecided);
            }
            let mut v = Verdict::checked(
                p,
                !failing.contains(&p),
                shortest.get(&p).map(|path| render(model, path, p)),
            );
            if p.kind() == Kind::AtQuiescence {
                v = at_quiescence(
                    v,
                    analysis.as_ref().map(|a| (a.quiescent_states, a.complete)),
                );
            }
            v
        })
        .collect();
    properties.extend(liveness_verdicts(model, analysis.as_ref()));
    if properties.iter().any(|v| !v.settled()) {
        complete = false;
    }
    CheckReport {
        dialect: model.dialect,
        network: model.network,
        clients: model.clients,
        script: script::render(&model.script),
        adversary: model.adversary,
        insider: model.insider,
        equivocate: model.equivocate,
        rules: model.rules,
        symmetry,
        threads: threads.max(1),
        states,
        unique_states,
        max_depth,
        seconds,
        states_per_sec: states as f64 / seconds.max(1e-9),
        complete,
        stopped_by,
        estimate: None,
        paths: shortest
            .iter()
            .map(|(p, path)| (*p, path.1.iter().map(|(a, _)| a.clone()).collect()))
            .collect(),
        liveness: analysis.as_ref().map(|a| LivenessStats {
            states: a.states,
            transitions: a.transitions,
            quiescent_states: a.quiescent_states,
            seconds: a.seconds,
        }),
        properties,
    }
}

/// An at-quiescence verdict, given how many quiescent states the liveness graph had and
/// whether it was complete: one judged in none says nothing (vacuous), and without the
/// graph (or on a cut one that had none) it is undecided. A failure stands whatever.
pub fn at_quiescence(v: Verdict, quiescent: Option<(u64, bool)>) -> Verdict {
    let p = v.property;
    match quiescent {
        _ if v.outcome == Outcome::Fails => Verdict {
            quiescent_states: quiescent.map(|(q, _)| q),
            ..v
        },
        Some((q, _)) if q > 0 => Verdict {
            quiescent_states: Some(q),
            ..v
        },
        Some((_, true)) => Verdict {
            quiescent_states: Some(0),
            ..Verdict::unsettled(p, Outcome::Vacuous)
        },
        _ => Verdict::unsettled(p, Outcome::Undecided),
    }
}

/// `quiescence-reachable` and `progress` from the analysis (undecided without one, or when
/// a state limit cut the graph and nothing failed).
fn liveness_verdicts(model: &GroupModel, analysis: Option<&Liveness>) -> Vec<Verdict> {
    let (qr, progress) = (Property::QuiescenceReachable, Property::Progress);
    let Some(a) = analysis else {
        return vec![
            Verdict::unsettled(qr, Outcome::Undecided),
            Verdict::unsettled(progress, Outcome::Undecided),
        ];
    };
    let reach = match &a.unreachable {
        // On a cut graph, the states beyond the cut might reach quiescence.
        Some(_) if !a.complete => Verdict::unsettled(qr, Outcome::Undecided),
        Some(path) => Verdict::checked(qr, false, Some(render(model, path, qr))),
        None if a.complete => Verdict::checked(qr, true, None),
        None => Verdict::unsettled(qr, Outcome::Undecided),
    };
    // A fair cycle (or deadlock) found is real even on a cut graph: its states and their
    // enabled steps were all seen.
    let fair = match &a.lasso {
        Some(lasso) => {
            let (prefix, cycle) = crate::trace::render_lasso(model, lasso);
            Verdict {
                cycle: Some(cycle),
                ..Verdict::checked(progress, false, Some(prefix))
            }
        }
        None if a.complete => Verdict::checked(progress, true, None),
        None => Verdict::unsettled(progress, Outcome::Undecided),
    };
    vec![reach, fair]
}

/// A state's 64-bit fingerprint, as the searches index states by.
pub(crate) fn fingerprint(s: &State) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Breadth-first search that stops as soon as each of `properties` has its first (hence
/// shortest) violation.
pub fn shortest_counterexamples(
    model: &GroupModel,
    properties: &[Property],
) -> BTreeMap<Property, Path> {
    shortest_counterexamples_with(model, properties, false)
}

/// [`shortest_counterexamples`], searching the symmetry-reduced graph when `symmetry` is
/// set. A path found there is replayed on the full model, choosing at each step the action
/// whose successor has the same representative, so the trace is a real run of the same
/// length (a permutation of the members fixes the initial state).
pub fn shortest_counterexamples_with(
    model: &GroupModel,
    properties: &[Property],
    symmetry: bool,
) -> BTreeMap<Property, Path> {
    shortest_counterexamples_stoppable(model, properties, symmetry, &Stop::default(), &mut |_| {})
}

/// [`shortest_counterexamples_with`] that gives up at `stop` (the properties not reached by
/// then have no counterexample in the result) and reports its progress at each level.
pub fn shortest_counterexamples_stoppable(
    model: &GroupModel,
    properties: &[Property],
    symmetry: bool,
    stop: &Stop,
    progress: &mut dyn FnMut(Progress),
) -> BTreeMap<Property, Path> {
    // The model's stateright properties, by the catalogue's names.
    let props: Vec<_> = model
        .properties()
        .into_iter()
        .filter_map(|p| Property::from_name(p.name).map(|q| (q, p)))
        .filter(|(q, _)| properties.contains(q))
        .collect();
    let mut found: BTreeMap<Property, Path> = BTreeMap::new();
    if props.is_empty() {
        return found;
    }
    let sym = symmetry.then(|| Symmetric::new(model.clone()));
    let canon = |s: State| match &sym {
        Some(sym) => sym.representative(s),
        None => s,
    };
    // fingerprint -> (parent fingerprint, action that led here); roots have no parent.
    let mut parents: HashMap<u64, Option<(u64, Action)>> = HashMap::new();
    let mut frontier: Vec<(u64, State)> = Vec::new();
    for s in model.init_states() {
        let s = canon(s);
        let fp = fingerprint(&s);
        parents.insert(fp, None);
        frontier.push((fp, s));
    }
    let rebuild = |parents: &HashMap<u64, Option<(u64, Action)>>, mut fp: u64| -> Path {
        let mut steps_back = Vec::new();
        while let Some(Some((parent, action))) = parents.get(&fp) {
            steps_back.push((action.clone(), fp));
            fp = *parent;
        }
        steps_back.reverse();
        let init = model.init_states().remove(0);
        let mut steps = Vec::new();
        let mut cur = init.clone();
        let mut actions = Vec::new();
        for (a, target) in steps_back {
            let next = if sym.is_none() {
                model.next_state(&cur, a.clone()).map(|n| (a, n))
            } else {
                actions.clear();
                model.actions(&cur, &mut actions);
                actions.drain(..).find_map(|b| {
                    model
                        .next_state(&cur, b.clone())
                        .filter(|n| fingerprint(&canon(n.clone())) == target)
                        .map(|n| (b, n))
                })
            };
            if let Some((a, next)) = next {
                steps.push((a, next.clone()));
                cur = next;
            }
        }
        (init, steps)
    };
    let mut actions = Vec::new();
    let mut depth = 0;
    while !frontier.is_empty() && found.len() < props.len() && !stop.reached() {
        progress(Progress {
            phase: Phase::Shortest,
            states: parents.len(),
            unique_states: parents.len(),
            max_depth: depth,
            elapsed: Duration::ZERO,
        });
        depth += 1;
        // Check the whole level before expanding it: violations at this depth are minimal.
        for (fp, s) in &frontier {
            for (q, p) in &props {
                if !found.contains_key(q) && !(p.condition)(model, s) {
                    found.insert(*q, rebuild(&parents, *fp));
                }
            }
        }
        if found.len() == props.len() {
            break;
        }
        let mut next = Vec::new();
        for (n, (fp, s)) in frontier.into_iter().enumerate() {
            if n % 4096 == 4095 && stop.reached() {
                return found;
            }
            actions.clear();
            model.actions(&s, &mut actions);
            for a in actions.drain(..) {
                let Some(t) = model.next_state(&s, a.clone()) else {
                    continue;
                };
                let t = canon(t);
                let tfp = fingerprint(&t);
                if let std::collections::hash_map::Entry::Vacant(e) = parents.entry(tfp) {
                    e.insert(Some((fp, a)));
                    next.push((tfp, t));
                }
            }
        }
        frontier = next;
    }
    found
}
