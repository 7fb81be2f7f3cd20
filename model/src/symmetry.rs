//! Symmetry reduction: members that the model treats alike are interchangeable, so the
//! checker needs to see only one state of each class of states that differ by a permutation
//! of such members. stateright 0.31's breadth-first search ignores `Model::symmetry`, so the
//! reduction happens in the model itself: [`Symmetric`] maps every successor state to the
//! representative of its class, and [`crate::check::check_with`] uses it for both the
//! exhaustive search and the search for shortest counterexamples.
//!
//! **Why it is sound.** A permutation π of member ids is a symmetry of a [`GroupModel`] when
//! it fixes the owner, the adversary and every member the model names individually: members
//! the script adds or removes, senders (message bodies name their sender), parting members,
//! and member 1 when the adversary impersonates it. It must also map the create list onto
//! itself, so only members that are both in it, or both outside it, are swapped. For such a
//! π, (1) the actions of π(s) are the π-renamed actions of s, and the successor of π(s)
//! under π(a) is π of the successor of s under a: the core is generic over identities and
//! uses their order only in maps and sorted lists, which renaming rebuilds
//! (`Client::renamed`; a core test checks that renaming commutes with the transitions), and
//! everything else in the model (owner steps, forgeries to every member, replays, timeouts)
//! is either fixed by π or offered to every member alike; (2) every property is invariant:
//! the ghost record is renamed with the clients, and each property quantifies over all
//! clients or judges one by what the owner issued. Hence s and π(s) satisfy the same
//! properties and have the same futures up to π, and a violation reachable in k steps from
//! the initial state (which every π fixes) has a representative reachable in k steps in the
//! reduced graph and conversely: verdicts and shortest counterexample lengths are the same.
//!
//! The representative of s is the renaming of s with the least fingerprint over all
//! permutations of the classes; classes are small (members beyond those the script names),
//! so enumerating permutations is affordable.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use kgroup::{Client, Stanza};
use stateright::{Model, Property};

use smallvec::SmallVec;

use crate::effect::intern;
use crate::group::OWNER;
use crate::ids::MAX_CLIENTS;
use crate::model::{catalogue, Action, Ghost, GroupModel, Sent, State};
use crate::network::Id;
use crate::script::Step;
use crate::shared::{hash_of, Hashed};

/// Sets of members that are interchangeable in `model` (each of two or more members).
pub fn classes(model: &GroupModel) -> Vec<Vec<Id>> {
    let mut named: BTreeSet<Id> = BTreeSet::new();
    let mut created: BTreeSet<Id> = BTreeSet::new();
    for step in &model.script {
        match step {
            Step::Create(m) => created.extend(m.iter().copied()),
            Step::Add(m) | Step::Remove(m) => {
                named.insert(*m);
            }
            Step::Subject(_) => {}
        }
    }
    named.extend(model.senders.iter().copied());
    named.extend(model.parting.iter().copied());
    if model.adversary {
        // The adversary forges a message in member 1's name.
        named.insert(1);
    }
    // A removed member's stanzas end up, by digest, in the owner's removal cut; a digest
    // cannot be renamed, and the stanzas name every recipient: no reduction then.
    let removed: BTreeSet<Id> = model
        .script
        .iter()
        .filter_map(|s| match s {
            Step::Remove(m) => Some(*m),
            _ => None,
        })
        .collect();
    // Likewise a v2 snapshot's head ([`kgroup::Digest::chain`]) names every member, and an
    // android client keeps the digests of the messages it delivered.
    let heads = model.dialect == kgroup::Dialect::Hardened && model.rules == kgroup::Rules::V2;
    if heads
        || model.dialect == kgroup::Dialect::Android
        || model.insider
        || model
            .senders
            .iter()
            .chain(&model.parting)
            .any(|m| removed.contains(m))
    {
        return Vec::new();
    }
    let free = |in_create: bool| -> Vec<Id> {
        (1..model.clients)
            .filter(|m| *m != OWNER && !named.contains(m) && created.contains(m) == in_create)
            .collect()
    };
    [free(true), free(false)]
        .into_iter()
        .filter(|c| c.len() >= 2)
        .collect()
}

/// Every permutation of `items` (Heap's algorithm).
fn permutations(items: &[Id]) -> Vec<Vec<Id>> {
    fn heap(k: usize, a: &mut Vec<Id>, out: &mut Vec<Vec<Id>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k - 1 {
            heap(k - 1, a, out);
            let j = if k % 2 == 0 { i } else { 0 };
            a.swap(j, k - 1);
        }
        heap(k - 1, a, out);
    }
    let mut out = Vec::new();
    heap(items.len(), &mut items.to_vec(), &mut out);
    out
}

/// Entries a thread keeps before it starts afresh.
const CAPACITY: usize = 1 << 16;

type Renamings<T> = HashMap<(u64, u64), (Hashed<T>, Vec<Id>, Hashed<T>), ahash::RandomState>;

thread_local! {
    // The same client (stanza) is renamed by the same permutation in many states: each
    // thread keeps the renamings it computed, checked in full on a hit.
    static CLIENTS: RefCell<Renamings<Client<Id>>> =
        const { RefCell::new(HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8))) };
    static STANZAS: RefCell<Renamings<Stanza<Id>>> =
        const { RefCell::new(HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8))) };
}

fn renamed_with<T: std::hash::Hash + PartialEq>(
    cache: &'static std::thread::LocalKey<RefCell<Renamings<T>>>,
    value: &Hashed<T>,
    p: &[Id],
    rename: impl FnOnce(&T) -> Hashed<T>,
) -> Hashed<T> {
    let key = (value.fingerprint(), hash_of(p));
    cache.with(|cache| {
        if let Some((v, q, r)) = cache.borrow().get(&key) {
            if v == value && q == p {
                return r.clone();
            }
        }
        let r = rename(value);
        let mut cache = cache.borrow_mut();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(key, (value.clone(), p.to_vec(), r.clone()));
        r
    })
}

/// A [`GroupModel`] whose states are representatives of their symmetry classes.
#[derive(Clone, Debug)]
pub struct Symmetric {
    pub model: GroupModel,
    /// The renamings to try, as maps from old to new id (indexed by id; ids past the
    /// clients, the adversary's, are fixed). The first is the identity.
    perms: Vec<Vec<Id>>,
}

impl Symmetric {
    pub fn new(model: GroupModel) -> Self {
        let n = model.clients as usize + 1;
        let mut perms: Vec<Vec<Id>> = vec![(0..n as Id).collect()];
        for class in classes(&model) {
            let mut next = Vec::new();
            for p in &perms {
                for image in permutations(&class) {
                    let mut q = p.clone();
                    for (from, to) in class.iter().zip(&image) {
                        q[*from as usize] = *to;
                    }
                    next.push(q);
                }
            }
            perms = next;
        }
        Symmetric { model, perms }
    }

    /// How many renamings a state is compared under (1: no reduction).
    pub fn group_order(&self) -> usize {
        self.perms.len()
    }

    /// The representative of `state`'s class.
    pub fn representative(&self, state: State) -> State {
        if self.perms.len() == 1 {
            return state;
        }
        let mut best_fp = hash_of(&state);
        let mut best = state.clone();
        for p in &self.perms[1..] {
            let s = self.renamed(&state, p);
            let fp = hash_of(&s);
            if fp < best_fp {
                best_fp = fp;
                best = s;
            }
        }
        best
    }

    /// `state` with member `i` renamed `p[i]`.
    pub fn renamed(&self, state: &State, p: &[Id]) -> State {
        let f = |i: &Id| p.get(*i as usize).copied().unwrap_or(*i);
        let g = |i: Id| f(&i);
        let permuted = |v: &[Hashed<kgroup::Client<Id>>]| {
            let mut out: SmallVec<[_; MAX_CLIENTS]> = v.iter().cloned().collect();
            for (i, c) in v.iter().enumerate() {
                out[g(i as Id) as usize] =
                    renamed_with(&CLIENTS, c, p, |c| intern(Hashed::new(c.renamed(&f))));
            }
            out
        };
        let stanza =
            |s: &Hashed<Stanza<Id>>| renamed_with(&STANZAS, s, p, |s| Hashed::new(s.renamed(&f)));
        let net = state.net.renamed(self.model.network, g, stanza);
        let fresh = state
            .fresh
            .iter()
            .map(|(src, s, seen)| (g(*src), Arc::new(s.renamed(&f)), *seen))
            .collect();
        let mut messages_sent = state.messages_sent;
        for (i, n) in state.messages_sent.iter().enumerate() {
            messages_sent[g(i as Id) as usize] = *n;
        }
        let gh = &*state.ghost;
        let mut gone = gh.gone;
        let mut delivered = gh.delivered;
        for i in 0..gh.gone.len() {
            gone[g(i as Id) as usize] = gh.gone[i].renamed(g);
            delivered[g(i as Id) as usize] = gh.delivered[i];
        }
        // Renaming is a bijection on senders, so the first message with a given sender and
        // body keeps its index: the delivered bits stay as they are.
        let ghost = Ghost {
            truth: gh.truth.renamed(g),
            added_ever: gh.added_ever.renamed(g),
            removed_ever: gh.removed_ever.renamed(g),
            parted: gh.parted.renamed(g),
            subjects: gh.subjects.clone(),
            gone,
            messages: Hashed::new(
                gh.messages
                    .iter()
                    .map(|m| Sent {
                        sender: g(m.sender),
                        body: m.body.clone(),
                        epoch: m.epoch,
                        expected: m.expected.renamed(g),
                        addressed: m.addressed.renamed(g),
                        after_removal: m.after_removal,
                    })
                    .collect(),
            ),
            delivered,
            stray: Hashed::new(
                gh.stray
                    .iter()
                    .map(|(c, from, body)| (g(*c), g(*from), body.clone()))
                    .collect(),
            ),
            violated: gh.violated,
            equivocated: gh.equivocated,
        };
        State {
            clients: permuted(&state.clients),
            net,
            script_pos: state.script_pos,
            messages_sent,
            crashes: state.crashes,
            losses: state.losses,
            adversary_moves: state.adversary_moves,
            insider_moves: state.insider_moves,
            insider_turn: state.insider_turn,
            fresh,
            ghost: Hashed::new(ghost),
        }
    }
}

impl Model for Symmetric {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.model
            .init_states()
            .into_iter()
            .map(|s| self.representative(s))
            .collect()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.model.actions(state, actions)
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.model
            .next_state(state, action)
            .map(|s| self.representative(s))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        // The model's properties, by the same names (properties are invariant, see above).
        catalogue()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{churn_adversary, scale};
    use crate::network::Network;
    use kgroup::Dialect;

    #[test]
    fn only_members_the_model_does_not_name_are_interchangeable() {
        // create 1,2; add 3; remove 1; the adversary impersonates 1: nobody is free.
        assert!(classes(&churn_adversary(Dialect::Hardened, Network::Unordered)).is_empty());
        // create 1..4; add 5; remove 1; 5 sends: 2, 3 and 4 are alike (under the v1
        // rules: v2's snapshot heads name every member).
        let v2 = scale(Dialect::Hardened, Network::Unordered, 5);
        assert!(classes(&v2).is_empty());
        assert_eq!(
            classes(&scale(Dialect::Kontalk, Network::Unordered, 5)),
            vec![vec![2, 3, 4]]
        );
        let m = GroupModel {
            rules: kgroup::Rules::V1,
            ..v2
        };
        assert_eq!(classes(&m), vec![vec![2, 3, 4]]);
        assert_eq!(Symmetric::new(m).group_order(), 6);
        assert_eq!(permutations(&[1, 2, 3]).len(), 6);
    }

    #[test]
    fn a_representative_is_a_renaming_and_the_same_for_the_whole_class() {
        let model = GroupModel {
            rules: kgroup::Rules::V1,
            ..scale(Dialect::Hardened, Network::Unordered, 4)
        };
        let sym = Symmetric::new(model.clone());
        // The owner creates the group, and only member 2 has received the create.
        let mut s = model.init_states().remove(0);
        for pick in [
            (|a: &Action| matches!(a, Action::Owner(_))) as fn(&Action) -> bool,
            |a| matches!(a, Action::Deliver(e, false) if e.dst == 2),
        ] {
            let mut actions = Vec::new();
            model.actions(&s, &mut actions);
            let a = actions.into_iter().find(pick).expect("enabled");
            s = model.next_state(&s, a).expect("enabled");
        }
        let swap: Vec<Id> = vec![0, 1, 3, 2, 4, 5];
        let mirror = sym.renamed(&s, &swap);
        assert_ne!(mirror, s, "the state distinguishes 2 and 3");
        assert_eq!(sym.renamed(&mirror, &swap), s, "a swap undone");
        let r = sym.representative(s.clone());
        assert_eq!(r, sym.representative(mirror));
        assert!(r == s || r == sym.renamed(&s, &swap));
    }
}
