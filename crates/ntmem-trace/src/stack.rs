//! Mattson's stack algorithms (Mattson, Gecsei, Slutz and Traiger, "Evaluation techniques
//! for storage hierarchies", IBM Systems Journal 9(2), 1970): LRU and OPT faults for every
//! memory size in one pass over a trace.
//!
//! Both policies are stack algorithms: the pages a memory of `k` frames holds are always
//! among those a memory of `k + 1` holds, so each reference has a stack distance — the
//! smallest memory in which it hits — and a memory of `k` frames faults on exactly the
//! references whose distance exceeds `k` (first references have an infinite distance).
//! Hence no Belady anomaly for them, and one pass gives the whole miss-ratio curve.
//!
//! - LRU: the distance is one more than the number of distinct pages referenced since the
//!   page's previous reference, counted with a Fenwick tree over reference times
//!   (O(log n) a reference, O(n) memory).
//! - OPT: the stack is kept explicitly, truncated at the largest size asked for (the top `k`
//!   entries never depend on those below), and updated as Mattson's paper does with the next
//!   reference time as priority: the referenced page goes on top, and at each level down to
//!   its old place the page with the later next reference is pushed further down
//!   (O(distance) a reference).
//!
//! Both want the whole page sequence (OPT needs the future): the sweep loads it, collapsed —
//! a reference to the page just referenced changes no policy's state and always hits.

use crate::sim::next_uses;
use std::collections::HashMap;

/// Faults for each of `sizes` (frames) under LRU, in one pass.
#[must_use]
pub fn lru_faults(pages: &[u64], sizes: &[usize]) -> Vec<u64> {
    let n = pages.len();
    let mut tree = Fenwick::new(n);
    let mut last: HashMap<u64, usize> = HashMap::new();
    let mut histogram = Histogram::new(sizes);
    for (t, &p) in pages.iter().enumerate() {
        match last.insert(p, t) {
            Some(s) => {
                let between = tree.sum(t) - tree.sum(s + 1);
                histogram.record(Some(between + 1));
                tree.add(s, -1);
            }
            None => histogram.record(None),
        }
        tree.add(t, 1);
    }
    histogram.faults()
}

/// Faults for each of `sizes` (frames) under OPT, in one pass.
#[must_use]
pub fn opt_faults(pages: &[u64], sizes: &[usize]) -> Vec<u64> {
    let depth = sizes.iter().copied().max().unwrap_or(0);
    let next = next_uses(pages);
    let mut next_of: HashMap<u64, u64> = HashMap::new();
    let mut stack: Vec<u64> = Vec::with_capacity(depth);
    let mut histogram = Histogram::new(sizes);
    for (t, &p) in pages.iter().enumerate() {
        let at = stack.iter().position(|&q| q == p);
        histogram.record(at.map(|d| (d + 1) as u64));
        next_of.insert(p, next[t]);
        if depth == 0 || at == Some(0) {
            continue;
        }
        let Some(&top) = stack.first() else {
            stack.push(p);
            continue;
        };
        stack[0] = p;
        let mut carry = top;
        let end = at.unwrap_or(stack.len());
        for slot in stack.iter_mut().take(end).skip(1) {
            let here = *slot;
            // The page referenced sooner stays; the other goes on down.
            if next_of.get(&carry).copied().unwrap_or(u64::MAX) < next_of.get(&here).copied().unwrap_or(u64::MAX) {
                *slot = carry;
                carry = here;
            }
        }
        match at {
            Some(d) => stack[d] = carry,
            None if stack.len() < depth => stack.push(carry),
            None => {}
        }
    }
    histogram.faults()
}

/// Counts of stack distances up to the largest size, and of larger or infinite ones.
struct Histogram {
    sizes: Vec<usize>,
    /// `counts[d]`: references at distance `d` (1-based; `counts[0]` unused).
    counts: Vec<u64>,
    beyond: u64,
}

impl Histogram {
    fn new(sizes: &[usize]) -> Histogram {
        let max = sizes.iter().copied().max().unwrap_or(0);
        Histogram { sizes: sizes.to_vec(), counts: vec![0; max + 1], beyond: 0 }
    }

    fn record(&mut self, distance: Option<u64>) {
        match distance.and_then(|d| usize::try_from(d).ok()).filter(|&d| d < self.counts.len()) {
            Some(d) => self.counts[d] += 1,
            None => self.beyond += 1,
        }
    }

    /// For each size `k`, the references at distance > `k`.
    fn faults(&self) -> Vec<u64> {
        self.sizes.iter().map(|&k| self.beyond + self.counts[k + 1..].iter().sum::<u64>()).collect()
    }
}

/// A Fenwick (binary indexed) tree of counts over reference times.
struct Fenwick {
    tree: Vec<i64>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick { tree: vec![0; n + 1] }
    }

    fn add(&mut self, at: usize, delta: i64) {
        let mut i = at + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum of the counts at times `0..end`.
    fn sum(&self, end: usize) -> u64 {
        let mut i = end;
        let mut s = 0;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        u64::try_from(s).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{faults, SimPolicy, BELADY};
    use proptest::prelude::*;

    #[test]
    fn the_textbook_string_in_one_pass() {
        let s = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(lru_faults(&s, &[3]), vec![12]);
        assert_eq!(opt_faults(&s, &[3]), vec![9]);
        assert_eq!(lru_faults(&BELADY, &[3, 4]), vec![10, 8]);
    }

    proptest! {
        #[test]
        fn one_pass_equals_the_reference_simulator(
            pages in proptest::collection::vec(0u64..12, 0..200),
        ) {
            let sizes: Vec<usize> = (1..=13).collect();
            let lru = lru_faults(&pages, &sizes);
            let opt = opt_faults(&pages, &sizes);
            for (i, &k) in sizes.iter().enumerate() {
                prop_assert_eq!(lru[i], faults(SimPolicy::Lru, &pages, k), "lru, {} frames", k);
                prop_assert_eq!(opt[i], faults(SimPolicy::Opt, &pages, k), "opt, {} frames", k);
            }
        }
    }
}
