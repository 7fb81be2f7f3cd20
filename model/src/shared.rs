//! Values shared between states and hashed once.
//!
//! A transition changes one client (two with an acknowledgement), a few copies in flight and
//! sometimes the ghost record; everything else is the parent state's. Holding each such part
//! in an `Arc` with its hash computed when it is built makes a successor state cost one clone
//! of what changes, and its fingerprint a hash over a few words per part instead of over
//! every client's groups, rosters and queues.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The hash of a part: 64-bit aHash with fixed keys, so it is the same in every run.
pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    const KEYS: (u64, u64, u64, u64) = (
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    );
    ahash::RandomState::with_seeds(KEYS.0, KEYS.1, KEYS.2, KEYS.3).hash_one(value)
}

/// An immutable, shared value with its hash. Hashing it writes only that hash; equality
/// compares the hashes first, then (unless both share one allocation) the values.
pub struct Hashed<T> {
    hash: u64,
    value: Arc<T>,
}

impl<T: Hash> Hashed<T> {
    pub fn new(value: T) -> Self {
        Self::from_arc(Arc::new(value))
    }

    pub fn from_arc(value: Arc<T>) -> Self {
        Hashed {
            hash: hash_of(&*value),
            value,
        }
    }

    /// The value's hash.
    pub fn fingerprint(&self) -> u64 {
        self.hash
    }

    /// The shared allocation.
    pub fn arc(&self) -> &Arc<T> {
        &self.value
    }

    /// Changes the value (copying it first if another state shares it) and rehashes it.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Clone,
    {
        let r = f(Arc::make_mut(&mut self.value));
        self.hash = hash_of(&*self.value);
        r
    }
}

impl<T> Clone for Hashed<T> {
    fn clone(&self) -> Self {
        Hashed {
            hash: self.hash,
            value: Arc::clone(&self.value),
        }
    }
}

impl<T> Deref for Hashed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Hash for Hashed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<T: PartialEq> PartialEq for Hashed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.value, &other.value) || self.value == other.value)
    }
}

impl<T: Eq> Eq for Hashed<T> {}

/// By hash, then by value: a total order that depends only on the value, so collections
/// sorted by it are canonical.
impl<T: Ord> Ord for Hashed<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hash.cmp(&other.hash).then_with(|| {
            if Arc::ptr_eq(&self.value, &other.value) {
                Ordering::Equal
            } else {
                self.value.cmp(&other.value)
            }
        })
    }
}

impl<T: Ord> PartialOrd for Hashed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Hashed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_and_compare_equal_whatever_their_allocation() {
        let (a, b) = (Hashed::new(vec![1u8, 2]), Hashed::new(vec![1u8, 2]));
        assert!(!Arc::ptr_eq(a.arc(), b.arc()));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_ne!(a, Hashed::new(vec![2u8, 1]));
    }

    #[test]
    fn update_copies_a_shared_value_and_rehashes() {
        let a = Hashed::new(vec![1u8]);
        let mut b = a.clone();
        b.update(|v| v.push(2));
        assert_eq!(*a, vec![1]);
        assert_eq!(*b, vec![1, 2]);
        assert_ne!(a, b);
        assert_eq!(b, Hashed::new(vec![1u8, 2]));
        assert_eq!(hash_of(&b), hash_of(&Hashed::new(vec![1u8, 2])));
    }
}
