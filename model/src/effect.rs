//! What one client transition does, as the model needs it: the client after it, its view
//! before and after, what it sends and what it delivers.
//!
//! A client receives the same stanza in the same state in many global states (the others'
//! states and the network differ), and the core's transition is a pure function of the two.
//! Each checker thread therefore keeps the effects of the deliveries it computed, keyed by
//! the client and the stanza (compared in full on a hit, so a hash collision costs a
//! recomputation, never a wrong successor).
//!
//! The clients those effects produce and the stanzas they send are interned in tables all
//! threads share, so equal values are one allocation and those comparisons are mostly
//! pointer comparisons. The tables are process-wide and bounded (a full shard starts
//! afresh): a process that runs many checks keeps at most a few hundred thousand entries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{LazyLock, Mutex};

use kgroup::{Client, Output, Stanza, Text, View};

use crate::group::OWNER;
use crate::network::Id;
use crate::shared::Hashed;

/// A stanza the client composed or resent, to exactly these recipients.
#[derive(Debug)]
pub struct Send {
    pub to: Vec<Id>,
    pub stanza: Hashed<Stanza<Id>>,
    pub resent: bool,
}

/// The effect of one transition of one client.
#[derive(Debug)]
pub struct Effect {
    pub client: Hashed<Client<Id>>,
    /// The members of the client's view of the model's group before, sorted.
    pub before_members: Vec<Id>,
    /// Members the view gained and lost.
    pub gained: Vec<Id>,
    pub lost: Vec<Id>,
    /// The client's view of the model's group after.
    pub after: Option<View<Id>>,
    /// The client's state of the model's group changed.
    pub group_changed: bool,
    /// A stanza of the model's group was refused as bound to another owner.
    pub refused_owner: bool,
    pub sends: Vec<Send>,
    /// Messages of the model's group shown to the user: (sender, body).
    pub delivered: Vec<(Id, Text)>,
}

/// Entries a thread keeps before it starts afresh (bounds the memory the cache holds on to).
const CAPACITY: usize = 1 << 16;

type Key = (u64, u64, Id);
type Entry = (Hashed<Client<Id>>, Hashed<Stanza<Id>>, Rc<Effect>);

thread_local! {
    static RECEIVED: RefCell<HashMap<Key, Entry, ahash::RandomState>> =
        const { RefCell::new(HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4))) };
}

/// Shards of the client table: the checker's threads rarely wait on one another.
const SHARDS: usize = 64;
/// Clients a shard keeps before it starts afresh (at most 256 Ki clients in all).
const SHARD_CAPACITY: usize = 1 << 12;

/// One allocation per distinct client state, shared by every checker thread: a state
/// explored on one thread and expanded on another still holds the same allocations as the
/// cache's entries, so a cache hit is a pointer comparison, not a walk over two clients.
static CLIENTS: LazyLock<Vec<Mutex<Table<Client<Id>>>>> = LazyLock::new(shards);

/// Stanzas sent, shared the same way: copies in flight are compared whenever one is
/// sent or delivered, and equal stanzas composed in different states are then one
/// allocation.
static STANZAS: LazyLock<Vec<Mutex<Table<Stanza<Id>>>>> = LazyLock::new(shards);

type Table<T> = HashMap<u64, Hashed<T>, ahash::RandomState>;

fn shards<T>() -> Vec<Mutex<Table<T>>> {
    (0..SHARDS)
        .map(|_| {
            Mutex::new(HashMap::with_hasher(ahash::RandomState::with_seeds(
                1, 2, 3, 4,
            )))
        })
        .collect()
}

/// The shared copy of `value` in `table`.
fn intern_in<T: std::hash::Hash + Eq>(table: &[Mutex<Table<T>>], value: Hashed<T>) -> Hashed<T> {
    let fp = value.fingerprint();
    // The low bits pick the shard; the map hashes the whole fingerprint again.
    let shard = &table[(fp as usize) % SHARDS];
    // A thread that panicked while holding a shard left a plain map behind: keep using it.
    let mut map = shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if map.len() >= SHARD_CAPACITY {
        map.clear();
    }
    match map.entry(fp) {
        std::collections::hash_map::Entry::Occupied(e) if *e.get() == value => e.get().clone(),
        std::collections::hash_map::Entry::Occupied(mut e) => {
            e.insert(value.clone());
            value
        }
        std::collections::hash_map::Entry::Vacant(e) => e.insert(value).clone(),
    }
}

/// The shared copy of `client` (interned for the whole process).
pub(crate) fn intern(client: Hashed<Client<Id>>) -> Hashed<Client<Id>> {
    intern_in(&CLIENTS, client)
}

/// The shared copy of a stanza sent (interned for the whole process).
pub(crate) fn intern_stanza(stanza: Hashed<Stanza<Id>>) -> Hashed<Stanza<Id>> {
    intern_in(&STANZAS, stanza)
}

impl Effect {
    /// Runs `f` on a copy of `old`.
    pub fn of(
        old: &Hashed<Client<Id>>,
        f: impl FnOnce(&mut Client<Id>, &mut Vec<Output<Id>>),
    ) -> Effect {
        let key = crate::group::key();
        let mut client = old.clone();
        let mut out = Vec::new();
        client.update(|cl| f(cl, &mut out));
        let mut sends = Vec::new();
        let mut delivered = Vec::new();
        let mut refused_owner = false;
        for o in out {
            match o {
                Output::Send(s) => sends.push(Send {
                    to: s.to,
                    stanza: intern_stanza(Hashed::from_arc(s.stanza)),
                    resent: s.resent,
                }),
                Output::Deliver { from, body, group } if group == key => {
                    delivered.push((from, body));
                }
                Output::Reject {
                    group,
                    reason: kgroup::Reason::WrongOwner,
                    ..
                } if group.owner == OWNER => refused_owner = true,
                _ => {}
            }
        }
        let members = |v: Option<View<Id>>| {
            let mut m = v.map(|v| v.members).unwrap_or_default();
            m.sort_unstable();
            m
        };
        let before_members = members(old.view(&key));
        let after = client.view(&key);
        let after_members = members(after.clone());
        let minus = |a: &[Id], b: &[Id]| -> Vec<Id> {
            a.iter()
                .copied()
                .filter(|m| b.binary_search(m).is_err())
                .collect()
        };
        Effect {
            gained: minus(&after_members, &before_members),
            lost: minus(&before_members, &after_members),
            before_members,
            after,
            group_changed: client.group(&key) != old.group(&key),
            refused_owner,
            sends,
            delivered,
            client,
        }
    }

    /// `old` receives `stanza` from `from` (computed once per thread).
    pub fn received(old: &Hashed<Client<Id>>, from: Id, stanza: &Hashed<Stanza<Id>>) -> Rc<Effect> {
        let key = (old.fingerprint(), stanza.fingerprint(), from);
        RECEIVED.with(|cache| {
            if let Some((c, s, e)) = cache.borrow().get(&key) {
                if c == old && s == stanza {
                    return e.clone();
                }
            }
            let mut effect = Effect::of(old, |cl, out| {
                cl.receive(from, stanza.arc().clone(), 0, out)
            });
            effect.client = intern(effect.client);
            let effect = Rc::new(effect);
            let mut cache = cache.borrow_mut();
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(key, (old.clone(), stanza.clone(), effect.clone()));
            effect
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgroup::{Config, Dialect, Intent};

    #[test]
    fn a_cached_delivery_is_the_computed_one_and_is_reused() {
        let mut owner = Client::new(OWNER, Config::new(Dialect::Hardened));
        let mut out = Vec::new();
        owner
            .act(
                Intent::Create {
                    id: crate::group::GROUP.into(),
                    members: vec![1],
                    subject: None,
                    body: None,
                },
                0,
                &mut out,
            )
            .expect("create");
        let Some(Output::Send(create)) = out.into_iter().find(|o| matches!(o, Output::Send(_)))
        else {
            panic!("the create is sent");
        };
        let member = Hashed::new(Client::new(1, Config::new(Dialect::Hardened)));
        let stanza = Hashed::from_arc(create.stanza);
        let first = Effect::received(&member, OWNER, &stanza);
        let direct = Effect::of(&member, |cl, out| {
            cl.receive(OWNER, stanza.arc().clone(), 0, out)
        });
        assert_eq!(first.client, direct.client);
        assert_eq!(first.gained, vec![OWNER, 1]);
        assert_eq!(first.gained, direct.gained);
        assert_eq!(first.sends.len(), direct.sends.len());
        // An equal client in another allocation finds the same entry.
        let copy = Hashed::new((*member).clone());
        assert!(Rc::ptr_eq(&first, &Effect::received(&copy, OWNER, &stanza)));
        // Another sender is another transition (the hardened core refuses it).
        let other = Effect::received(&member, 2, &stanza);
        assert!(other.gained.is_empty());
    }
}
