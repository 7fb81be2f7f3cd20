//! Liveness on the explored graph, in the manner of TLC's liveness checking.
//!
//! The at-quiescence properties say what holds *if* the group quiesces; these say that it
//! does. The whole reachable graph is built (every state and every transition), then:
//!
//! - **`quiescence-reachable`** (AG EF quiescent): from every reachable state some path
//!   reaches a quiescent state. A backward search from the quiescent states marks every
//!   state that can reach one; the shallowest state it misses is the counterexample, with
//!   the shortest path to it.
//! - **`progress`** (every fair run is quiescent infinitely often): no fair cycle of
//!   non-quiescent states is reachable. The non-quiescent states are split into strongly
//!   connected components; a component is fair when every fair step that is enabled in all
//!   of its states is also taken inside it (weak fairness), and then a cycle through all of
//!   it is a fair run that never quiesces. A run may also stop in a non-quiescent state
//!   where no fair step is enabled (a deadlock). The counterexample is a lasso: the
//!   shortest prefix to the component, then a cycle inside it that discharges every fair
//!   step (takes it, or passes a state where it is disabled).
//!
//! **Fairness** (weak, per step): a copy in flight that was never delivered is eventually
//! delivered or dropped (on the lossy network, within its loss budget), and a client's
//! retransmission timer that stays armed eventually fires. Nothing else is owed: owner
//! commands, messages, parts, crashes, the adversary, losses and a duplicating network's
//! re-deliveries of copies it already delivered may happen or not, but only finitely often:
//! the runs `progress` judges are those where the environment stops (all of it but parts
//! and re-deliveries is budgeted anyway). A network that re-delivers for ever is an
//! unbounded input, which no request-and-answer protocol can quiesce under (every
//! duplicated request owes an answer); what `progress` asks there is that the work each
//! duplicate sets off finishes once duplication stops. A copy sent again after its
//! delivery is owed again.
//!
//! The graph is the full model's (no symmetry reduction): fair steps name in-flight copies,
//! and a permutation of members would rename them.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use stateright::Model;

use crate::check::{fingerprint, Phase, Progress, Stop};
use crate::model::{Action, GroupModel, Path, State};
use crate::network::{Id, InFlight};

/// A fair step: owed to every fair run while it stays enabled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Fair {
    /// The first delivery (or the drop) of a copy in flight.
    Copy(InFlight),
    /// A client's retransmission timer.
    Timer(Id),
}

const NONE: u32 = u32::MAX;
/// The `fair` of an edge the environment takes (see [`is_environment`]).
const ENV: u32 = u32::MAX - 1;

/// Steps of the environment rather than of the protocol: the owner's script, messages,
/// parts, crashes, the adversary's injections and the network's losses. A run in which
/// these go on for ever is not the protocol's to finish, so `progress` looks only at runs
/// where they stop: no cycle it considers takes one. All but parts are budgeted anyway.
fn is_environment(a: &Action) -> bool {
    match a {
        Action::Deliver(_, ack_lost) => *ack_lost,
        Action::Timeout(_) => false,
        _ => true,
    }
}

#[derive(Clone, Copy)]
struct Edge {
    to: u32,
    /// The action's index in the source state's action list.
    action: u32,
    /// The fair step it takes, or [`NONE`].
    fair: u32,
}

/// The reachable graph, in breadth-first order (a state's index orders it by depth).
pub struct Graph {
    /// Per state: its parent in the breadth-first tree and the action's index there.
    parent: Vec<(u32, u32)>,
    /// Edges of state `i`: `edges[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    edges: Vec<Edge>,
    quiescent: Vec<bool>,
    /// Fair steps enabled in state `i`: `enabled[enabled_at[i]..enabled_at[i + 1]]`, sorted.
    enabled_at: Vec<u32>,
    enabled: Vec<u32>,
    /// Quiescent states in which the owner had issued a command: the states the
    /// at-quiescence properties say something about (the initial state is quiescent too,
    /// and trivially agreed).
    judged: u64,
    /// False when `max_states` stopped the search.
    pub complete: bool,
}

impl Graph {
    /// Builds the reachable graph of `model`, up to `max_states` states.
    pub fn build(
        model: &GroupModel,
        max_states: Option<usize>,
        stop: &Stop,
        progress: &mut dyn FnMut(Progress),
    ) -> Graph {
        let limit = max_states.unwrap_or(usize::MAX).min(NONE as usize - 1);
        let mut index: HashMap<u64, u32> = HashMap::new();
        let mut fair_ids: HashMap<Fair, u32> = HashMap::new();
        let mut g = Graph {
            parent: Vec::new(),
            offsets: vec![0],
            edges: Vec::new(),
            quiescent: Vec::new(),
            enabled_at: vec![0],
            enabled: Vec::new(),
            judged: 0,
            complete: true,
        };
        let mut queue: VecDeque<State> = VecDeque::new();
        for s in model.init_states() {
            if index
                .insert(fingerprint(&s), g.parent.len() as u32)
                .is_none()
            {
                g.parent.push((NONE, 0));
                queue.push_back(s);
            }
        }
        let mut intern = |f: Fair| {
            let n = fair_ids.len() as u32;
            *fair_ids.entry(f).or_insert(n)
        };
        let mut actions = Vec::new();
        let mut here = Vec::new();
        let mut i: u32 = 0;
        while let Some(s) = queue.pop_front() {
            if i % 65_536 == 65_535 {
                progress(Progress {
                    phase: Phase::Liveness,
                    states: g.parent.len(),
                    unique_states: g.parent.len(),
                    max_depth: 0,
                    elapsed: std::time::Duration::ZERO,
                });
                if stop.reached() {
                    g.complete = false;
                    break;
                }
            }
            let quiescent = GroupModel::is_quiescent(&s);
            g.quiescent.push(quiescent);
            g.judged += u64::from(quiescent && s.script_pos > 0);
            actions.clear();
            model.actions(&s, &mut actions);
            here.clear();
            for (ai, a) in actions.iter().enumerate() {
                let fair = match a {
                    Action::Deliver(env, _) | Action::Drop(env) if s.net.is_pending(env) => {
                        intern(Fair::Copy(env.clone()))
                    }
                    Action::Timeout(c) => intern(Fair::Timer(*c)),
                    _ => NONE,
                };
                if fair != NONE {
                    here.push(fair);
                }
                // A re-delivery of a copy already delivered is the environment's too.
                let redelivery = matches!(a, Action::Deliver(..)) && fair == NONE;
                let fair = if is_environment(a) || redelivery {
                    ENV
                } else {
                    fair
                };
                // Edge indices are 32-bit: a graph that would pass them is cut, like one
                // that passes the state limit (the memory budget stops far sooner).
                if g.edges.len() >= NONE as usize {
                    g.complete = false;
                    break;
                }
                let Some(t) = model.next_state(&s, a.clone()) else {
                    continue;
                };
                let fp = fingerprint(&t);
                let to = match index.get(&fp) {
                    Some(&to) => to,
                    None if g.parent.len() < limit => {
                        let to = g.parent.len() as u32;
                        index.insert(fp, to);
                        g.parent.push((i, ai as u32));
                        queue.push_back(t);
                        to
                    }
                    None => {
                        g.complete = false;
                        continue;
                    }
                };
                g.edges.push(Edge {
                    to,
                    action: ai as u32,
                    fair,
                });
            }
            here.sort_unstable();
            here.dedup();
            g.enabled.extend_from_slice(&here);
            g.enabled_at.push(g.enabled.len() as u32);
            g.offsets.push(g.edges.len() as u32);
            i += 1;
        }
        g
    }

    pub fn states(&self) -> usize {
        self.parent.len()
    }

    pub fn transitions(&self) -> usize {
        self.edges.len()
    }

    /// Quiescent states after the owner's first command (see [`Liveness::quiescent_states`]).
    pub fn quiescent_states(&self) -> u64 {
        self.judged
    }

    fn out(&self, i: u32) -> &[Edge] {
        &self.edges[self.offsets[i as usize] as usize..self.offsets[i as usize + 1] as usize]
    }

    fn enabled(&self, i: u32) -> &[u32] {
        &self.enabled
            [self.enabled_at[i as usize] as usize..self.enabled_at[i as usize + 1] as usize]
    }

    /// Which states can reach a quiescent state.
    fn can_quiesce(&self) -> Vec<bool> {
        let n = self.states();
        // Reverse edges, in compressed form.
        let mut count = vec![0u32; n + 1];
        for e in &self.edges {
            count[e.to as usize + 1] += 1;
        }
        for k in 1..=n {
            count[k] += count[k - 1];
        }
        let mut fill = count.clone();
        let mut from = vec![0u32; self.edges.len()];
        for i in 0..n as u32 {
            for e in self.out(i) {
                from[fill[e.to as usize] as usize] = i;
                fill[e.to as usize] += 1;
            }
        }
        let mut ok = self.quiescent.clone();
        let mut queue: VecDeque<u32> = (0..n as u32).filter(|&i| ok[i as usize]).collect();
        while let Some(t) = queue.pop_front() {
            for &s in &from[count[t as usize] as usize..count[t as usize + 1] as usize] {
                if !ok[s as usize] {
                    ok[s as usize] = true;
                    queue.push_back(s);
                }
            }
        }
        ok
    }

    /// The shallowest state from which no quiescent state is reachable.
    pub fn stuck_for_ever(&self) -> Option<u32> {
        self.can_quiesce()
            .iter()
            .position(|ok| !ok)
            .map(|i| i as u32)
    }

    /// The strongly connected components of the non-quiescent states (Tarjan's algorithm,
    /// iterative): a component number per state, [`NONE`] for quiescent states.
    fn components(&self) -> (Vec<u32>, u32) {
        let n = self.states();
        let mut comp = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut num = vec![NONE; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut call: Vec<(u32, u32)> = Vec::new();
        let (mut next_num, mut comps) = (0u32, 0u32);
        for root in 0..n as u32 {
            if self.quiescent[root as usize] || num[root as usize] != NONE {
                continue;
            }
            call.push((root, self.offsets[root as usize]));
            num[root as usize] = next_num;
            low[root as usize] = next_num;
            next_num += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&mut (v, ref mut at)) = call.last_mut() {
                if *at < self.offsets[v as usize + 1] {
                    let e = self.edges[*at as usize];
                    *at += 1;
                    let w = e.to;
                    if self.quiescent[w as usize] || e.fair == ENV {
                        continue;
                    }
                    if num[w as usize] == NONE {
                        num[w as usize] = next_num;
                        low[w as usize] = next_num;
                        next_num += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, self.offsets[w as usize]));
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(num[w as usize]);
                    }
                } else {
                    call.pop();
                    if let Some(&(u, _)) = call.last() {
                        low[u as usize] = low[u as usize].min(low[v as usize]);
                    }
                    if low[v as usize] == num[v as usize] {
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            comp[w as usize] = comps;
                            if w == v {
                                break;
                            }
                        }
                        comps += 1;
                    }
                }
            }
        }
        (comp, comps)
    }

    /// The shallowest fair run that never quiesces: the state where its cycle starts and
    /// the cycle's edges (none: the run stops there, with no fair step enabled).
    pub fn fair_lasso(&self) -> Option<(u32, Vec<(u32, u32)>)> {
        let n = self.states();
        let (comp, comps) = self.components();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); comps as usize];
        for i in 0..n as u32 {
            if comp[i as usize] != NONE {
                members[comp[i as usize] as usize].push(i);
            }
        }
        let mut best: Option<(u32, Vec<(u32, u32)>)> = None;
        // A deadlock: no fair step enabled, nothing owed.
        if let Some(i) =
            (0..n as u32).find(|&i| !self.quiescent[i as usize] && self.enabled(i).is_empty())
        {
            best = Some((i, Vec::new()));
        }
        for (c, states) in members.iter().enumerate() {
            let c = c as u32;
            let Some(&entry) = states.first() else {
                continue;
            };
            if best.as_ref().is_some_and(|(b, _)| *b <= entry) {
                continue;
            }
            let inside = |e: &Edge| comp[e.to as usize] == c && e.fair != ENV;
            if !states.iter().any(|&s| self.out(s).iter().any(inside)) {
                continue; // one state, no cycle
            }
            // Fair steps enabled in every state of the component, and those taken inside.
            let mut always: Vec<u32> = self.enabled(entry).to_vec();
            for &s in states {
                let here = self.enabled(s);
                always.retain(|f| here.binary_search(f).is_ok());
            }
            let taken: std::collections::HashSet<u32> = states
                .iter()
                .flat_map(|&s| self.out(s).iter().filter(|e| inside(e)).map(|e| e.fair))
                .collect();
            if always.iter().all(|f| taken.contains(f)) {
                best = Some((entry, self.fair_cycle(&comp, c, states, entry)));
            }
        }
        best
    }

    /// A cycle from `entry` inside component `c` that discharges every fair step enabled on
    /// it: for each, an edge that takes it or a state where it is disabled.
    fn fair_cycle(&self, comp: &[u32], c: u32, states: &[u32], entry: u32) -> Vec<(u32, u32)> {
        let mut owed: Vec<u32> = states
            .iter()
            .flat_map(|&s| self.enabled(s).to_vec())
            .collect();
        owed.sort_unstable();
        owed.dedup();
        let disabled = |s: u32, f: u32| self.enabled(s).binary_search(&f).is_err();
        owed.retain(|&f| !disabled(entry, f));
        let mut cycle: Vec<(u32, u32)> = Vec::new();
        let mut at = entry;
        while let Some(&f) = owed.first() {
            // The nearest edge inside that takes `f` or leads where it is disabled.
            let Some(path) = self.search(comp, c, at, |k| {
                let e = &self.edges[k as usize];
                e.fair == f || disabled(e.to, f)
            }) else {
                break; // cannot happen in a fair component; the cycle is closed as it is
            };
            for &(_, k) in &path {
                let e = self.edges[k as usize];
                owed.retain(|&g| g != e.fair && !disabled(e.to, g));
                at = e.to;
            }
            cycle.extend(path);
        }
        if at != entry || cycle.is_empty() {
            if let Some(path) = self.search(comp, c, at, |k| self.edges[k as usize].to == entry) {
                cycle.extend(path);
            }
        }
        cycle
    }

    /// Breadth-first search inside component `c` from `from`: the edges `(state, edge
    /// index)` of a shortest path whose last edge satisfies `goal`.
    fn search(
        &self,
        comp: &[u32],
        c: u32,
        from: u32,
        goal: impl Fn(u32) -> bool,
    ) -> Option<Vec<(u32, u32)>> {
        let mut back: HashMap<u32, (u32, u32)> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(s) = queue.pop_front() {
            for k in self.offsets[s as usize]..self.offsets[s as usize + 1] {
                let e = self.edges[k as usize];
                let to = e.to;
                if comp[to as usize] != c || e.fair == ENV {
                    continue;
                }
                if goal(k) {
                    let mut path = vec![(s, k)];
                    let mut at = s;
                    while at != from {
                        let Some(&(prev, kk)) = back.get(&at) else {
                            break;
                        };
                        path.push((prev, kk));
                        at = prev;
                    }
                    path.reverse();
                    return Some(path);
                }
                if to != from && !back.contains_key(&to) {
                    back.insert(to, (s, k));
                    queue.push_back(to);
                }
            }
        }
        None
    }

    /// The actions from the initial state to state `i`, as a path of the model.
    pub fn path_to(&self, model: &GroupModel, i: u32) -> Path {
        let mut indices = Vec::new();
        let mut at = i;
        while let Some(&(parent, action)) = self.parent.get(at as usize) {
            if parent == NONE {
                break;
            }
            indices.push(action);
            at = parent;
        }
        indices.reverse();
        let init = model.init_states().remove(0);
        let steps = follow(model, &init, &indices);
        (init, steps)
    }

    /// The action indices of `edges`.
    pub fn actions_of(&self, edges: &[(u32, u32)]) -> Vec<u32> {
        edges
            .iter()
            .map(|&(_, k)| self.edges[k as usize].action)
            .collect()
    }
}

/// Follows action indices from `start`, each in its state's action list.
pub fn follow(model: &GroupModel, start: &State, indices: &[u32]) -> Vec<(Action, State)> {
    let mut steps = Vec::new();
    let mut cur = start.clone();
    let mut actions = Vec::new();
    for &ai in indices {
        actions.clear();
        model.actions(&cur, &mut actions);
        let Some(a) = actions.get(ai as usize).cloned() else {
            break;
        };
        let Some(next) = model.next_state(&cur, a.clone()) else {
            break;
        };
        steps.push((a, next.clone()));
        cur = next;
    }
    steps
}

/// A fair run that never quiesces: the prefix to the state where the cycle starts, then
/// the cycle, which returns to that state (empty: the run stays there, no fair step
/// enabled).
#[derive(Clone, Debug)]
pub struct Lasso {
    pub prefix: Path,
    pub cycle: Vec<(Action, State)>,
}

/// What the liveness analysis found.
#[derive(Clone, Debug)]
pub struct Liveness {
    pub states: usize,
    pub transitions: usize,
    /// Quiescent states after the owner's first command: what the at-quiescence verdicts
    /// rest on (the initial state is quiescent and trivially agreed, so it does not count).
    pub quiescent_states: u64,
    pub complete: bool,
    pub seconds: f64,
    /// `quiescence-reachable`: the shortest path to a state from which no quiescent state
    /// is reachable.
    pub unreachable: Option<Path>,
    /// `progress`: a fair run that never quiesces.
    pub lasso: Option<Lasso>,
}

/// Builds the graph of `model` and judges both liveness properties on it.
pub fn analyse(model: &GroupModel, max_states: Option<usize>) -> Liveness {
    analyse_with(model, max_states, &Stop::default(), &mut |_| {})
}

/// [`analyse`] that cuts the graph where `stop` is reached (the graph is then incomplete,
/// as with a state limit) and reports its progress about every 65,536 states.
pub fn analyse_with(
    model: &GroupModel,
    max_states: Option<usize>,
    stop: &Stop,
    progress: &mut dyn FnMut(Progress),
) -> Liveness {
    let start = Instant::now();
    let g = Graph::build(model, max_states, stop, progress);
    let unreachable = g.stuck_for_ever().map(|i| g.path_to(model, i));
    let lasso = g.fair_lasso().map(|(entry, cycle)| {
        let prefix = g.path_to(model, entry);
        let at = prefix.1.last().map_or(&prefix.0, |(_, s)| s).clone();
        let cycle = follow(model, &at, &g.actions_of(&cycle));
        Lasso { prefix, cycle }
    });
    Liveness {
        states: g.states(),
        transitions: g.transitions(),
        quiescent_states: g.quiescent_states(),
        complete: g.complete,
        seconds: start.elapsed().as_secs_f64(),
        unreachable,
        lasso,
    }
}
