//! Eviction policies: the one choice a page-replacement policy makes — which resident page of
//! a working set leaves it next. Everything else (the trim itself, the standby and modified
//! lists, soft faults, the page files, the balancer's order across processes) is the same
//! machinery whatever the policy, so policies compare on the same machine.
//!
//! [`EvictionPolicy::NtAging`] is NT's and the default: victims by age (the accessed bit, read
//! by the aging hand), oldest first — it lives in `working_set.rs` and costs nothing here. The
//! others are the textbook policies, for study (`ntmem sweep`):
//! - `Lru`: the page referenced longest ago; `Fifo`: the page resident longest;
//! - `Clock`: second chance — pages in the order they came in, each with a reference bit; a
//!   page passed over with its bit set has it cleared and goes to the back;
//! - `Opt`: Belady's MIN, the page whose next reference is farthest (never is farthest).
//!
//! Hardware tells the memory manager of a reference only through the accessed bit, once per
//! aging; LRU, CLOCK's bit and OPT want every reference, and OPT the future. So these are
//! told by whoever drives the accesses ([`crate::system::Vm::note_reference`]: the trace
//! replay, which knows each reference and, for OPT, its next use); a page that comes in counts
//! as referenced then (its faulting access), with OPT treating it as needed now until told.
//! Contracts match ntmem-trace's reference simulators, which check them.
//!
//! Each policy keeps its pages in one ordered set of (key, page) — victims in ascending key —
//! so a victim costs O(log n) and a reference O(log n). Ties (OPT's pages never used again)
//! go lowest address first.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

/// Which resident page a working set gives up first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EvictionPolicy {
    /// NT's working-set aging: oldest first, lowest address among equals (the default).
    #[default]
    NtAging,
    /// Least recently referenced first.
    Lru,
    /// First in, first out.
    Fifo,
    /// Second chance over the order pages came in.
    Clock,
    /// Farthest next reference first (needs the future, from the replay).
    Opt,
}

/// The order of a working set's pages under a policy other than NT's.
#[derive(Debug)]
pub(crate) struct Order {
    policy: EvictionPolicy,
    /// (key, page): the next victim is the first whose (CLOCK) bit is clear.
    queue: BTreeSet<(u64, u64)>,
    /// Each page's key and reference bit.
    pages: HashMap<u64, (u64, bool)>,
    /// Counts insertions and references: LRU's, FIFO's and CLOCK's keys.
    tick: u64,
}

/// OPT's key for a page needed at `next_use`: later uses come first.
fn opt_key(next_use: u64) -> u64 {
    u64::MAX - next_use
}

impl Order {
    pub(crate) fn new(policy: EvictionPolicy) -> Order {
        Order { policy, queue: BTreeSet::new(), pages: HashMap::new(), tick: 0 }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn rekey(&mut self, vpn: u64, key: u64, bit: bool) {
        if let Some(old) = self.pages.insert(vpn, (key, bit)) {
            self.queue.remove(&(old.0, vpn));
        }
        self.queue.insert((key, vpn));
    }

    /// `vpn` became resident (by the access that faulted it in: referenced now).
    pub(crate) fn insert(&mut self, vpn: u64) {
        let key = match self.policy {
            // Needed now: the last victim until the replay says when it is next needed.
            EvictionPolicy::Opt => opt_key(0),
            _ => self.next_tick(),
        };
        self.rekey(vpn, key, true);
    }

    pub(crate) fn remove(&mut self, vpn: u64) {
        if let Some((key, _)) = self.pages.remove(&vpn) {
            self.queue.remove(&(key, vpn));
        }
    }

    /// `vpn` was referenced; its next reference is at `next_use` (`u64::MAX`: never).
    pub(crate) fn referenced(&mut self, vpn: u64, next_use: u64) {
        let Some(&(key, bit)) = self.pages.get(&vpn) else { return };
        match self.policy {
            EvictionPolicy::Lru => {
                let t = self.next_tick();
                self.rekey(vpn, t, true);
            }
            EvictionPolicy::Clock => {
                if !bit {
                    self.pages.insert(vpn, (key, true));
                }
            }
            EvictionPolicy::Opt => self.rekey(vpn, opt_key(next_use), true),
            EvictionPolicy::Fifo | EvictionPolicy::NtAging => {}
        }
    }

    /// The next victim after `from` (exclusive), in key order; CLOCK passes over (and moves to
    /// the back, bit cleared) the pages whose bit is set. Each page is moved at most once per
    /// call, so this ends.
    pub(crate) fn next_after(&mut self, from: Option<(u64, u64)>) -> Option<(u64, u64)> {
        let mut from = from;
        loop {
            let lower = from.map_or(Bound::Unbounded, Bound::Excluded);
            let &(key, vpn) = self.queue.range((lower, Bound::Unbounded)).next()?;
            if self.policy == EvictionPolicy::Clock && self.pages.get(&vpn).is_some_and(|&(_, bit)| bit) {
                let t = self.next_tick();
                self.rekey(vpn, t, false);
                from = Some((key, vpn));
                continue;
            }
            return Some((key, vpn));
        }
    }

    pub(crate) fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(policy: EvictionPolicy, pages: &[u64]) -> Order {
        let mut o = Order::new(policy);
        for &p in pages {
            o.insert(p);
        }
        o
    }

    #[test]
    fn fifo_and_lru_differ_by_references() {
        let mut f = order(EvictionPolicy::Fifo, &[5, 3, 9]);
        let mut l = order(EvictionPolicy::Lru, &[5, 3, 9]);
        f.referenced(5, 0);
        l.referenced(5, 0);
        assert_eq!(f.next_after(None).map(|x| x.1), Some(5));
        assert_eq!(l.next_after(None).map(|x| x.1), Some(3));
    }

    #[test]
    fn clock_passes_over_referenced_pages_once() {
        let mut c = order(EvictionPolicy::Clock, &[1, 2, 3]);
        // All bits set: 1, 2, 3 get a second chance, then 1 goes.
        assert_eq!(c.next_after(None).map(|x| x.1), Some(1));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn opt_takes_the_farthest_and_never_used_first() {
        let mut o = order(EvictionPolicy::Opt, &[1, 2, 3]);
        o.referenced(1, 10);
        o.referenced(2, u64::MAX);
        o.referenced(3, 20);
        let first = o.next_after(None).expect("a victim");
        assert_eq!(first.1, 2);
        assert_eq!(o.next_after(Some(first)).map(|x| x.1), Some(3));
    }
}
