//! What changed between two captures: [`VmMapDiff`] (`after.diff(&before)` of two
//! [`VmMap`]s) and [`RamMapDiff`] (of two [`RamMap`]s).
//!
//! Contracts:
//! - A row is listed when any of its figures differs; an entry of a list (an allocation, a
//!   process, a frame, a file) is matched by its key — an allocation by its address and type,
//!   a process by its id, a frame by its number, a file by its path — and listed as added,
//!   removed or changed. Free and unusable ranges are left out of the allocation changes (they
//!   move whenever an allocation comes or goes; the Free and Unusable rows show them).
//! - Both are in the order of their captures: types and uses in the summary's order,
//!   entries by key, lowest first.
//! - Two captures of an unchanged system give an empty diff.

use super::rammap::{FileRow, PageUse, PhysicalPage, ProcessRow, RamMap, UseCounts};
use super::vmmap::{Allocation, Figures, MemoryType, VmMap};
use std::collections::BTreeMap;

/// How one entry of a list changed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change<T> {
    /// Only in the later capture.
    Added(T),
    /// Only in the earlier capture.
    Removed(T),
    /// In both, with different figures.
    Changed {
        /// As it was.
        before: T,
        /// As it is.
        after: T,
    },
}

/// What changed in one process's address space.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct VmMapDiff {
    /// Summary rows whose figures changed: the type (`None` for the total), before, after.
    pub rows: Vec<(Option<MemoryType>, Figures, Figures)>,
    /// Allocations added, removed or changed.
    pub allocations: Vec<Change<Allocation>>,
}

impl VmMapDiff {
    /// True when nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.allocations.is_empty()
    }
}

/// What changed in physical memory.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RamMapDiff {
    /// Use Counts rows that changed: the use (`None` for the total), before, after.
    pub uses: Vec<(Option<PageUse>, UseCounts, UseCounts)>,
    /// Processes added (created), removed (terminated) or changed.
    pub processes: Vec<Change<ProcessRow>>,
    /// Frames whose list, use, priority, owner or file changed.
    pub pages: Vec<Change<PhysicalPage>>,
    /// Files whose frames changed.
    pub files: Vec<Change<FileRow>>,
    /// Standby pages repurposed by priority, before and after, when they changed.
    pub repurposed: Option<([u64; 8], [u64; 8])>,
}

impl RamMapDiff {
    /// True when nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
            && self.processes.is_empty()
            && self.pages.is_empty()
            && self.files.is_empty()
            && self.repurposed.is_none()
    }
}

/// The changes between two keyed lists.
fn changes<K: Ord, T: Clone + PartialEq>(before: &[T], after: &[T], key: impl Fn(&T) -> K) -> Vec<Change<T>> {
    let old: BTreeMap<K, &T> = before.iter().map(|t| (key(t), t)).collect();
    let new: BTreeMap<K, &T> = after.iter().map(|t| (key(t), t)).collect();
    let mut out: BTreeMap<&K, Change<T>> = BTreeMap::new();
    for (k, b) in &old {
        match new.get(k) {
            None => {
                out.insert(k, Change::Removed((*b).clone()));
            }
            Some(a) if a != b => {
                out.insert(k, Change::Changed { before: (*b).clone(), after: (*a).clone() });
            }
            Some(_) => {}
        }
    }
    for (k, a) in &new {
        if !old.contains_key(k) {
            out.insert(k, Change::Added((*a).clone()));
        }
    }
    out.into_values().collect()
}

impl VmMap {
    /// What changed from `before` to this capture.
    #[must_use]
    pub fn diff(&self, before: &VmMap) -> VmMapDiff {
        let mut rows = Vec::new();
        for &kind in &MemoryType::ALL {
            let (b, a) = (before.row(kind), self.row(kind));
            if a != b {
                rows.push((Some(kind), b, a));
            }
        }
        if self.total != before.total {
            rows.push((None, before.total, self.total));
        }
        let listed = |a: &Allocation| !matches!(a.kind, MemoryType::Free | MemoryType::Unusable);
        let b: Vec<Allocation> = before.allocations.iter().filter(|a| listed(a)).cloned().collect();
        let a: Vec<Allocation> = self.allocations.iter().filter(|a| listed(a)).cloned().collect();
        VmMapDiff { rows, allocations: changes(&b, &a, |x| (x.address, x.kind)) }
    }
}

impl RamMap {
    /// What changed from `before` to this capture.
    #[must_use]
    pub fn diff(&self, before: &RamMap) -> RamMapDiff {
        let mut uses = Vec::new();
        for &u in &PageUse::ALL {
            let (b, a) = (before.uses(u), self.uses(u));
            if a != b {
                uses.push((Some(u), b, a));
            }
        }
        if self.total != before.total {
            uses.push((None, before.total, self.total));
        }
        RamMapDiff {
            uses,
            processes: changes(&before.processes, &self.processes, |p| p.pid),
            pages: changes(&before.pages, &self.pages, |p| p.pfn),
            files: changes(&before.files, &self.files, |f| f.path.clone()),
            repurposed: (before.repurposed != self.repurposed).then_some((before.repurposed, self.repurposed)),
        }
    }
}
