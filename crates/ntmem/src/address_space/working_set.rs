//! A process's working set: its resident private pages, each with an age, and the limits the
//! balancer keeps it within (SetProcessWorkingSetSizeEx documentation: minimum 50 pages and
//! maximum 345 by default; a minimum below 20 pages becomes 20; hard limits by flag).
//!
//! Aging follows the accessed bit (Windows Internals, 7th ed., ch. 5, "Working sets"): at each
//! aging pass a page whose PTE was accessed gets age 0 and its bit cleared, one that was not
//! grows older; trimming takes the oldest pages first.

use crate::units::Vpn;
use std::collections::BTreeMap;

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
    pages: BTreeMap<u64, u8>,
    limits: WorkingSetLimits,
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
        self.pages.insert(vpn.as_u64(), 0);
    }

    pub(crate) fn remove(&mut self, vpn: Vpn) {
        self.pages.remove(&vpn.as_u64());
    }

    pub(crate) fn age(&self, vpn: Vpn) -> u8 {
        self.pages.get(&vpn.as_u64()).copied().unwrap_or(0)
    }

    pub(crate) fn set_age(&mut self, vpn: Vpn, age: u8) {
        if let Some(a) = self.pages.get_mut(&vpn.as_u64()) {
            *a = age;
        }
    }

    /// Pages in trimming order: oldest first, lowest address first among equals.
    pub(crate) fn oldest_first(&self) -> Vec<Vpn> {
        let mut v: Vec<(u8, u64)> = self.pages.iter().map(|(p, a)| (*a, *p)).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, p)| Vpn(p)).collect()
    }
}
