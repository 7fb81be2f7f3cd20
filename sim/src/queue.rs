//! The event queue: a calendar of millisecond buckets.
//!
//! Events at the same millisecond leave in the order they were queued, so the order is
//! exactly (time, insertion number), the same total order a binary heap of such pairs
//! gives, at a fraction of the cost: a push appends to its bucket, a pop takes the front of
//! the earliest bucket, and the buckets in use at once are few (latencies span a few
//! hundred milliseconds). Emptied buckets are kept for reuse.

use std::collections::{BTreeMap, VecDeque};

pub struct Calendar<T> {
    buckets: BTreeMap<u64, VecDeque<T>>,
    spare: Vec<VecDeque<T>>,
    len: usize,
}

impl<T> Default for Calendar<T> {
    fn default() -> Self {
        Calendar {
            buckets: BTreeMap::new(),
            spare: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Calendar<T> {
    pub fn push(&mut self, at: u64, item: T) {
        let spare = &mut self.spare;
        self.buckets
            .entry(at)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push_back(item);
        self.len += 1;
    }

    /// The earliest event, first queued first.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let mut first = self.buckets.first_entry()?;
        let at = *first.key();
        let item = first.get_mut().pop_front();
        if first.get().is_empty() {
            let bucket = first.remove();
            if self.spare.len() < 1024 {
                self.spare.push(bucket);
            }
        }
        let item = item?;
        self.len -= 1;
        Some((at, item))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    #[test]
    fn pops_in_time_then_insertion_order_like_a_heap_of_pairs() {
        // A deterministic pseudo-random mix of pushes and pops, against the reference.
        let mut cal = Calendar::default();
        let mut heap = BinaryHeap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut now = 0;
        for seq in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 {
                let a = cal.pop();
                let b = heap.pop().map(|Reverse((at, seq))| (at, seq));
                assert_eq!(a, b);
                if let Some((at, _)) = a {
                    now = at;
                }
            } else {
                let at = now + x % 50;
                cal.push(at, seq);
                heap.push(Reverse((at, seq)));
            }
            assert_eq!(cal.len(), heap.len());
        }
        while let Some(b) = heap.pop() {
            assert_eq!(cal.pop(), Some(b.0));
        }
        assert!(cal.is_empty());
        assert_eq!(cal.pop(), None);
    }
}
