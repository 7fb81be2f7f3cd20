//! Small sets as bits.
//!
//! The ghost record is copied whenever a step changes it (a delivery, a message, an owner
//! step), and every successor state hashes it: as `BTreeSet`s its sets cost an allocation
//! per node to copy and a walk to compare. The model has at most [`MAX_CLIENTS`] clients
//! and one adversary, and a handful of properties, so each of these sets is one word.

use crate::network::Id;
use crate::properties::Property;

/// The most clients a model may have (the owner included); the adversary is one more id.
pub const MAX_CLIENTS: usize = 8;

/// A set of model ids (clients and the adversary).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ids(u32);

impl Ids {
    fn bit(id: Id) -> u32 {
        // Ids are below MAX_CLIENTS + 1 (checked when a model starts).
        1u32 << (id as u32 % 32)
    }

    pub fn contains(self, id: Id) -> bool {
        self.0 & Self::bit(id) != 0
    }

    pub fn insert(&mut self, id: Id) {
        self.0 |= Self::bit(id);
    }

    pub fn remove(&mut self, id: Id) {
        self.0 &= !Self::bit(id);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The ids in increasing order.
    pub fn iter(self) -> impl Iterator<Item = Id> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let id = rest.trailing_zeros() as Id;
                rest &= rest - 1;
                id
            })
        })
    }

    /// Whether the two sets share an id.
    pub fn intersects(self, other: Ids) -> bool {
        self.0 & other.0 != 0
    }

    /// The ids of `self` that are not in `other`.
    pub fn without(self, other: Ids) -> Ids {
        Ids(self.0 & !other.0)
    }

    /// The set with every id `i` replaced by `f(i)` (a renaming of members).
    pub fn renamed(self, f: impl Fn(Id) -> Id) -> Ids {
        self.iter().map(f).collect()
    }
}

impl FromIterator<Id> for Ids {
    fn from_iter<T: IntoIterator<Item = Id>>(iter: T) -> Self {
        let mut s = Ids::default();
        s.extend(iter);
        s
    }
}

impl Extend<Id> for Ids {
    fn extend<T: IntoIterator<Item = Id>>(&mut self, iter: T) {
        for id in iter {
            self.insert(id);
        }
    }
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A set of properties (those of kind `always` already violated).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Props(u16);

impl Props {
    fn bit(p: Property) -> u16 {
        1 << (p as u16)
    }

    pub fn contains(self, p: Property) -> bool {
        self.0 & Self::bit(p) != 0
    }

    pub fn insert(&mut self, p: Property) {
        self.0 |= Self::bit(p);
    }

    pub fn contains_all(self, other: Props) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert_all(&mut self, other: Props) {
        self.0 |= other.0;
    }
}

impl std::fmt::Debug for Props {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(Property::ALL.into_iter().filter(|p| self.contains(*p)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_set() {
        let mut s: Ids = [3, 1, 8].into_iter().collect();
        assert!(s.contains(1) && s.contains(3) && s.contains(8) && !s.contains(0));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 3, 8]);
        s.remove(3);
        s.insert(1);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 8]);
        assert_eq!(s.renamed(|i| 9 - i).iter().collect::<Vec<_>>(), vec![1, 8]);
        assert_eq!(s.renamed(|i| i + 1).iter().collect::<Vec<_>>(), vec![2, 9]);
        assert!(Ids::default().is_empty() && !s.is_empty());
        let t: Ids = [8, 2].into_iter().collect();
        assert!(s.intersects(t) && !s.intersects(Ids::default()));
        assert_eq!(s.without(t).iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(format!("{s:?}"), "{1, 8}");
    }

    #[test]
    fn props_are_a_set() {
        let mut p = Props::default();
        for q in Property::ALL {
            assert!(!p.contains(q));
        }
        p.insert(Property::MemberFilter);
        p.insert(Property::NoLostMessages);
        let held: Vec<_> = Property::ALL
            .into_iter()
            .filter(|q| p.contains(*q))
            .collect();
        assert_eq!(held, vec![Property::MemberFilter, Property::NoLostMessages]);
        let mut q = Props::default();
        q.insert(Property::MemberFilter);
        assert!(p.contains_all(q) && !q.contains_all(p));
        q.insert_all(p);
        assert_eq!(p, q);
    }
}
