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
//! each step costing O(log n) — for each age an ordered set of the page-table spans holding a
//! page of that age, and in each span a bitmap per age (`span.rs`) — so trimming k pages costs
//! O(k log n), never a sort of the whole working set. A page entering or leaving costs one
//! look-up among the spans (a working set's page tables, not its pages) and a few bit
//! operations; the span sets change only when a span gains its first page of an age or loses
//! its last. Another [`EvictionPolicy`] (`eviction.rs`) keeps its own order beside the ages
//! and replaces only that choice; with NT's, that order does not exist and costs one branch on
//! insert and remove.

mod span;

use super::eviction::{EvictionPolicy, Order};
use crate::units::Vpn;
use span::{Span, SPAN_PAGES};
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
    /// The pages, by span (the VPN divided by [`SPAN_PAGES`]); a span with no page is dropped.
    spans: BTreeMap<u64, Box<Span>>,
    /// For each age, the spans holding a page of that age: victims in order without sorting.
    spans_with_age: [BTreeSet<u64>; AGES],
    /// Pages in all spans.
    len: u64,
    /// The page the next aging step starts at (the aging hand).
    hand: u64,
    limits: WorkingSetLimits,
    /// The order of a policy other than NT's aging (`None` for NT's).
    order: Option<Box<Order>>,
}

/// The span of `vpn` and its offset there.
fn split(vpn: u64) -> (u64, u16) {
    // Below SPAN_PAGES = 512.
    #[allow(clippy::cast_possible_truncation)]
    (vpn / SPAN_PAGES, (vpn % SPAN_PAGES) as u16)
}

/// The page at `offset` of span `key`.
fn join(key: u64, offset: u16) -> u64 {
    key * SPAN_PAGES + u64::from(offset)
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
        self.len
    }

    /// True when no private page is resident.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when `vpn` is resident.
    #[must_use]
    pub fn contains(&self, vpn: Vpn) -> bool {
        self.age_of(vpn.as_u64()).is_some()
    }

    /// Every resident private page with its age, lowest address first.
    pub fn iter(&self) -> impl Iterator<Item = (Vpn, u8)> + '_ {
        self.pages_from(0).map(|(v, a)| (Vpn(v), a))
    }

    /// The pages at or above `from` with their ages, lowest first.
    fn pages_from(&self, from: u64) -> impl Iterator<Item = (u64, u8)> + '_ {
        let (first, start) = split(from);
        self.spans.range(first..).flat_map(move |(&key, span)| {
            let mut at = if key == first { start } else { 0 };
            std::iter::from_fn(move || {
                let offset = span.next_present(at)?;
                at = offset + 1;
                Some((join(key, offset), span.age(offset).unwrap_or(0)))
            })
        })
    }

    /// The age of the page `vpn`, if resident.
    fn age_of(&self, vpn: u64) -> Option<u8> {
        let (key, offset) = split(vpn);
        self.spans.get(&key)?.age(offset)
    }

    /// Makes `vpn` resident with age `age`, or changes its age; keeps the span sets.
    fn set(&mut self, vpn: u64, age: u8) {
        let (key, offset) = split(vpn);
        let span = self.spans.entry(key).or_default();
        let old = span.set(offset, age);
        if old == Some(age) {
            return;
        }
        if span.count_of_age(age) == 1 {
            self.spans_with_age[usize::from(age)].insert(key);
        }
        match old {
            None => self.len += 1,
            Some(old) if span.count_of_age(old) == 0 => {
                self.spans_with_age[usize::from(old)].remove(&key);
            }
            Some(_) => {}
        }
    }

    pub(crate) fn insert(&mut self, vpn: Vpn) {
        self.set(vpn.as_u64(), 0);
        if let Some(order) = &mut self.order {
            order.insert(vpn.as_u64());
        }
    }

    pub(crate) fn remove(&mut self, vpn: Vpn) {
        let (key, offset) = split(vpn.as_u64());
        if let Some(span) = self.spans.get_mut(&key) {
            if let Some(old) = span.remove(offset) {
                self.len -= 1;
                if span.count_of_age(old) == 0 {
                    self.spans_with_age[usize::from(old)].remove(&key);
                }
                if span.len() == 0 {
                    self.spans.remove(&key);
                }
            }
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
                for (vpn, _) in self.pages_from(0) {
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
        self.age_of(vpn.as_u64()).unwrap_or(0)
    }

    pub(crate) fn set_age(&mut self, vpn: Vpn, age: u8) {
        if self.age_of(vpn.as_u64()).is_some() {
            self.set(vpn.as_u64(), age.min(MAX_AGE));
        }
    }

    /// The next `n` pages under the aging hand, in address order, wrapping once past the
    /// highest; moves the hand past them. At most the working set's length.
    pub(crate) fn advance_hand(&mut self, n: u64) -> Vec<Vpn> {
        let n = usize::try_from(n.min(self.len())).unwrap_or(usize::MAX);
        let mut out: Vec<Vpn> = self.pages_from(self.hand).take(n).map(|(v, _)| Vpn(v)).collect();
        if out.len() < n {
            let wrap = n - out.len();
            let hand = self.hand;
            out.extend(self.pages_from(0).take_while(|&(v, _)| v < hand).take(wrap).map(|(v, _)| Vpn(v)));
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
            let (first, start) = split(from);
            let found = ws.spans_with_age[usize::from(age)].range(first..).find_map(|&key| {
                let at = if key == first { start } else { 0 };
                ws.spans.get(&key)?.next_of_age(age, at).map(|offset| join(key, offset))
            });
            if let Some(vpn) = found {
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
    use proptest::prelude::*;
    use proptest::test_runner::{Config as RunnerConfig, TestRng, TestRunner};

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
        assert_eq!(ws.len(), 1);
        assert_eq!(ws.spans.len(), 1);
        assert!(ws.spans_with_age.iter().enumerate().all(|(age, spans)| spans.len() == usize::from(age == 1)));
        ws.remove(Vpn(3));
        assert!(ws.spans.is_empty() && ws.spans_with_age.iter().all(BTreeSet::is_empty));
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

    /// One step of the model test.
    #[derive(Clone, Debug)]
    enum Step {
        Insert(u64),
        Remove(u64),
        SetAge(u64, u8),
        AdvanceHand(u64),
        /// Take this many victims, trimming each one named when the flag says so.
        Victims(usize, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        // Four spans' worth of pages, so that scans cross words and spans.
        let vpn = 0u64..4 * SPAN_PAGES;
        prop_oneof![
            3 => vpn.clone().prop_map(Step::Insert),
            1 => vpn.clone().prop_map(Step::Remove),
            2 => (vpn, 0..=MAX_AGE + 2).prop_map(|(v, a)| Step::SetAge(v, a)),
            1 => (0u64..40).prop_map(Step::AdvanceHand),
            1 => (0usize..40, any::<bool>()).prop_map(|(n, trim)| Step::Victims(n, trim)),
        ]
    }

    /// The working set against the plainest model of it: a map from page to age, victims by
    /// sorting, the hand by a range scan. Fixed seed, as the other model tests.
    #[test]
    fn the_working_set_behaves_as_a_map_of_pages_to_ages() {
        let config = RunnerConfig { cases: 256, ..RunnerConfig::default() };
        let rng = TestRng::deterministic_rng(config.rng_algorithm);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let steps = prop::collection::vec(step(), 1..200);
        let result = runner.run(&steps, |steps| {
            let mut ws = WorkingSet::default();
            let mut model: BTreeMap<u64, u8> = BTreeMap::new();
            let mut hand = 0u64;
            for step in steps {
                match step {
                    Step::Insert(v) => {
                        ws.insert(Vpn(v));
                        model.insert(v, 0);
                    }
                    Step::Remove(v) => {
                        ws.remove(Vpn(v));
                        model.remove(&v);
                    }
                    Step::SetAge(v, a) => {
                        ws.set_age(Vpn(v), a);
                        if let Some(age) = model.get_mut(&v) {
                            *age = a.min(MAX_AGE);
                        }
                    }
                    Step::AdvanceHand(n) => {
                        let n = usize::try_from(n).unwrap().min(model.len());
                        let mut want: Vec<u64> = model.range(hand..).map(|(v, _)| *v).take(n).collect();
                        let wrap = n - want.len();
                        want.extend(model.range(..hand).map(|(v, _)| *v).take(wrap));
                        hand = want.last().map_or(0, |v| v + 1);
                        let got: Vec<u64> = ws.advance_hand(n as u64).iter().map(|v| v.as_u64()).collect();
                        prop_assert_eq!(got, want);
                    }
                    Step::Victims(n, trim) => {
                        let mut order: Vec<(u8, u64)> = model.iter().map(|(v, a)| (*a, *v)).collect();
                        order.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
                        let want: Vec<u64> = order.iter().map(|(_, v)| *v).take(n).collect();
                        let mut victims = ws.victims();
                        let mut got = Vec::new();
                        while got.len() < n {
                            let Some(v) = victims.next(&mut ws) else { break };
                            got.push(v.as_u64());
                            if trim {
                                ws.remove(v);
                                model.remove(&v.as_u64());
                            }
                        }
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(ws.len(), model.len() as u64);
                let pages: Vec<(u64, u8)> = ws.iter().map(|(v, a)| (v.as_u64(), a)).collect();
                let want: Vec<(u64, u8)> = model.iter().map(|(v, a)| (*v, *a)).collect();
                prop_assert_eq!(pages, want);
                prop_assert_eq!(ws.spans.len(), model.keys().map(|v| v / SPAN_PAGES).collect::<BTreeSet<_>>().len());
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
