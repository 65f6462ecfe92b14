//! A process's working set: its resident private pages, each with an age, and the limits the
//! balancer keeps it within (SetProcessWorkingSetSizeEx documentation: minimum 50 pages and
//! maximum 345 by default; a minimum below 20 pages becomes 20; hard limits by flag).
//!
//! Aging follows the accessed bit (Windows Internals, 7th ed., ch. 5, "Working sets"): a page
//! whose PTE was accessed since it was last aged gets age 0 and its bit cleared, one that was
//! not grows older. Aging is incremental: a hand sweeps the working set in address order, a
//! bounded number of pages at a time, so a pass costs what it ages, not the working set.
//!
//! Choosing victims is the one seam a replacement policy plugs into: [`Victims`] yields the
//! pages to trim in order (by default NT's: oldest first, lowest address first among equals),
//! each step costing O(log n) — pages sit in one ordered set per age — so trimming k pages
//! costs O(k log n), never a sort of the whole working set. Another [`EvictionPolicy`]
//! (`eviction.rs`) keeps its own order beside the ages and replaces only that choice; with
//! NT's, that order does not exist and costs one branch on insert and remove.

use super::eviction::{EvictionPolicy, Order};
use crate::units::Vpn;
use std::collections::{BTreeMap, BTreeSet};

/// Ages run from 0 (accessed at the last aging) to this.
pub(crate) const MAX_AGE: u8 = 7;
const AGES: usize = MAX_AGE as usize + 1;

/// Working-set limits, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkingSetLimits {
    /// Kept resident when memory allows.
    pub minimum: u64,
    /// Not exceeded when memory is low (or ever, with `hard_maximum`).
    pub maximum: u64,
    /// Never trimmed below the minimum (`QUOTA_LIMITS_HARDWS_MIN_ENABLE`).
    pub hard_minimum: bool,
    /// Never grows above the maximum (`QUOTA_LIMITS_HARDWS_MAX_ENABLE`).
    pub hard_maximum: bool,
}

/// Windows' default minimum working set, in pages.
pub const DEFAULT_MINIMUM: u64 = 50;
/// Windows' default maximum working set, in pages.
pub const DEFAULT_MAXIMUM: u64 = 345;
/// The smallest minimum Windows sets (smaller requests are raised to it).
pub const SMALLEST_MINIMUM: u64 = 20;
/// The smallest maximum Windows accepts.
pub const SMALLEST_MAXIMUM: u64 = 13;

impl Default for WorkingSetLimits {
    fn default() -> Self {
        WorkingSetLimits {
            minimum: DEFAULT_MINIMUM,
            maximum: DEFAULT_MAXIMUM,
            hard_minimum: false,
            hard_maximum: false,
        }
    }
}

/// The trimmable part of a working set: resident private pages and their ages.
#[derive(Default, Debug)]
pub struct WorkingSet {
    /// Each resident private page and its age.
    pages: BTreeMap<u64, u8>,
    /// The same pages, one ordered set per age: victims in order without sorting.
    by_age: [BTreeSet<u64>; AGES],
    /// The page the next aging step starts at (the aging hand).
    hand: u64,
    limits: WorkingSetLimits,
    /// The order of a policy other than NT's aging (`None` for NT's).
    order: Option<Box<Order>>,
}

impl WorkingSet {
    /// Its limits.
    #[must_use]
    pub fn limits(&self) -> WorkingSetLimits {
        self.limits
    }

    pub(crate) fn set_limits(&mut self, limits: WorkingSetLimits) {
        self.limits = limits;
    }

    /// Resident private pages.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.pages.len() as u64
    }

    /// True when no private page is resident.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// True when `vpn` is resident.
    #[must_use]
    pub fn contains(&self, vpn: Vpn) -> bool {
        self.pages.contains_key(&vpn.as_u64())
    }

    /// Every resident private page with its age, lowest address first.
    pub fn iter(&self) -> impl Iterator<Item = (Vpn, u8)> + '_ {
        self.pages.iter().map(|(v, a)| (Vpn(*v), *a))
    }

    pub(crate) fn insert(&mut self, vpn: Vpn) {
        if let Some(old) = self.pages.insert(vpn.as_u64(), 0) {
            self.by_age[usize::from(old)].remove(&vpn.as_u64());
        }
        self.by_age[0].insert(vpn.as_u64());
        if let Some(order) = &mut self.order {
            order.insert(vpn.as_u64());
        }
    }

    pub(crate) fn remove(&mut self, vpn: Vpn) {
        if let Some(old) = self.pages.remove(&vpn.as_u64()) {
            self.by_age[usize::from(old)].remove(&vpn.as_u64());
        }
        if let Some(order) = &mut self.order {
            order.remove(vpn.as_u64());
        }
    }

    /// The eviction policy.
    #[must_use]
    pub fn policy(&self) -> EvictionPolicy {
        self.order.as_ref().map_or(EvictionPolicy::NtAging, |o| o.policy())
    }

    /// Switches the eviction policy; the pages resident now enter the new order lowest
    /// address first, as if brought in in that order.
    pub(crate) fn set_policy(&mut self, policy: EvictionPolicy) {
        self.order = match policy {
            EvictionPolicy::NtAging => None,
            other => {
                let mut order = Order::new(other);
                for &vpn in self.pages.keys() {
                    order.insert(vpn);
                }
                Some(Box::new(order))
            }
        };
    }

    /// A reference to `vpn`, whose next reference is at `next_use` (`u64::MAX`: never), for
    /// the policies that follow references (LRU, CLOCK, OPT); nothing under NT's aging, which
    /// reads the accessed bits instead.
    pub(crate) fn referenced(&mut self, vpn: Vpn, next_use: u64) {
        if let Some(order) = &mut self.order {
            order.referenced(vpn.as_u64(), next_use);
        }
    }

    pub(crate) fn age(&self, vpn: Vpn) -> u8 {
        self.pages.get(&vpn.as_u64()).copied().unwrap_or(0)
    }

    pub(crate) fn set_age(&mut self, vpn: Vpn, age: u8) {
        let age = age.min(MAX_AGE);
        if let Some(a) = self.pages.get_mut(&vpn.as_u64()) {
            if *a != age {
                self.by_age[usize::from(*a)].remove(&vpn.as_u64());
                self.by_age[usize::from(age)].insert(vpn.as_u64());
                *a = age;
            }
        }
    }

    /// The next `n` pages under the aging hand, in address order, wrapping once past the
    /// highest; moves the hand past them. At most the working set's length.
    pub(crate) fn advance_hand(&mut self, n: u64) -> Vec<Vpn> {
        let n = usize::try_from(n.min(self.len())).unwrap_or(usize::MAX);
        let mut out: Vec<Vpn> = self.pages.range(self.hand..).take(n).map(|(v, _)| Vpn(*v)).collect();
        if out.len() < n {
            let wrap = n - out.len();
            out.extend(self.pages.range(..self.hand).take(wrap).map(|(v, _)| Vpn(*v)));
        }
        self.hand = out.last().map_or(0, |v| v.as_u64() + 1);
        out
    }

    /// The pages to trim, in the policy's order (see [`Victims`]).
    pub(crate) fn victims(&self) -> Victims {
        match self.order {
            None => Victims::Aging { next: Some((MAX_AGE, 0)) },
            Some(_) => Victims::Ordered { after: None, done: false },
        }
    }
}

/// The trimming policy's choice of victims, as a cursor over a working set. NT's aging: the
/// oldest page first and the lowest address first among equals; taking the next victim is
/// O(log n) whatever was trimmed since (the order is by (age, address), which trimming does
/// not change for the pages not yet visited). Another policy: its order's next page after the
/// last one named (`eviction.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Victims {
    /// NT's aging.
    Aging {
        /// The (age, lowest address) the next victim is looked for from; `None` when done.
        next: Option<(u8, u64)>,
    },
    /// LRU, FIFO, CLOCK or OPT.
    Ordered {
        /// The (key, page) last named.
        after: Option<(u64, u64)>,
        done: bool,
    },
}

impl Victims {
    /// The next page to trim, if any.
    pub(crate) fn next(&mut self, ws: &mut WorkingSet) -> Option<Vpn> {
        match self {
            Victims::Aging { next } => Self::next_by_age(next, ws),
            Victims::Ordered { after, done } => {
                if *done {
                    return None;
                }
                let found = ws.order.as_mut().and_then(|o| o.next_after(*after));
                *done = found.is_none();
                *after = found.or(*after);
                found.map(|(_, vpn)| Vpn(vpn))
            }
        }
    }

    fn next_by_age(next: &mut Option<(u8, u64)>, ws: &WorkingSet) -> Option<Vpn> {
        let (mut age, mut from) = (*next)?;
        loop {
            if let Some(&vpn) = ws.by_age[usize::from(age)].range(from..).next() {
                *next = Some((age, vpn.saturating_add(1)));
                return Some(Vpn(vpn));
            }
            if age == 0 {
                *next = None;
                return None;
            }
            age -= 1;
            from = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws_with(ages: &[(u64, u8)]) -> WorkingSet {
        let mut ws = WorkingSet::default();
        for &(v, a) in ages {
            ws.insert(Vpn(v));
            ws.set_age(Vpn(v), a);
        }
        ws
    }

    #[test]
    fn victims_come_oldest_first_then_lowest_address() {
        let mut ws = ws_with(&[(5, 1), (3, 7), (9, 7), (1, 0), (4, 1)]);
        let mut v = ws.victims();
        let order: Vec<u64> = std::iter::from_fn(|| v.next(&mut ws)).map(|p| p.as_u64()).collect();
        assert_eq!(order, vec![3, 9, 4, 5, 1]);
    }

    #[test]
    fn victims_survive_removals_between_steps() {
        let mut ws = ws_with(&[(1, 2), (2, 2), (3, 1)]);
        let mut v = ws.victims();
        assert_eq!(v.next(&mut ws), Some(Vpn(1)));
        ws.remove(Vpn(1));
        assert_eq!(v.next(&mut ws), Some(Vpn(2)));
        ws.remove(Vpn(2));
        assert_eq!(v.next(&mut ws), Some(Vpn(3)));
        assert_eq!(v.next(&mut ws), None);
        assert!(ws.by_age.iter().map(BTreeSet::len).sum::<usize>() == ws.pages.len());
    }

    #[test]
    fn the_hand_sweeps_in_address_order_and_wraps() {
        let mut ws = ws_with(&[(10, 0), (20, 0), (30, 0)]);
        assert_eq!(ws.advance_hand(2), vec![Vpn(10), Vpn(20)]);
        assert_eq!(ws.advance_hand(2), vec![Vpn(30), Vpn(10)]);
        assert_eq!(ws.advance_hand(9), vec![Vpn(20), Vpn(30), Vpn(10)]);
        ws.remove(Vpn(20));
        assert_eq!(ws.advance_hand(1), vec![Vpn(30)]);
    }
}
