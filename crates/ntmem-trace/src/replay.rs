//! Replaying a trace through the real memory manager: each reference an access by one
//! simulated process on an ntmem [`System`], so its faults are the manager's own (demand-zero,
//! soft from the standby and modified lists, hard from the page file), under NT's working-set
//! aging or another [`EvictionPolicy`].
//!
//! Contracts:
//! - A reference becomes one access per page it touches (an access spanning two pages is two),
//!   of each kind it is (`M` a read then a write); an instruction fetch is an execute access.
//! - [`Collapser`] merges consecutive references to one page into one [`PageRef`] (its
//!   accesses in the order execute, read, write): exact, as after a page's first access its
//!   accessed bit (and after its first write its dirty bit) is set and a further access is a
//!   TLB hit that changes nothing, and no policy's order changes by a reference to the page it
//!   just saw. Consecutive references are all it merges, so memory stays constant.
//! - Memory appears as the program touches it: on a page's first sight, its 64 KiB region
//!   (the allocation granularity) is reserved and committed read-write-execute, unless the
//!   caller declared regions ([`Replayer::declare`]), in which case a page outside them is
//!   refused. Pages below 64 KiB or above the user range, or whose region cannot be had (the
//!   shared user data page's, or when commit runs out), are counted as refused and not
//!   accessed.
//! - Figures come from the system's own counters ([`ReplayFigures`]); the working set is
//!   sampled at most [`MAX_SAMPLES`] times, at a stride that doubles as the trace goes on, so
//!   the samples' memory is bounded too.
//! - A "frame" in [`Replayer::limit_frames`] is a page of the trace resident at once: the hard
//!   working-set maximum is the frames plus the pages the working set holds beyond the trace's
//!   own (the shared user data page), so with enough RAM a frame count means what it means to
//!   the textbook simulators (`sim.rs`).

use crate::record::{Reference, ACCESS_EXECUTE, ACCESS_READ, ACCESS_WRITE, PAGE_SHIFT};
use ntmem::address_space::{EvictionPolicy, WorkingSetLimits, DEFAULT_MINIMUM};
use ntmem::{Access, Config, Modifier, ProcessId, Protection, ReserveOptions, System, SystemError};
use std::collections::HashSet;

/// Working-set samples kept at most.
pub const MAX_SAMPLES: usize = 256;

/// The protection trace memory is committed with: every reference allowed.
const RWX: Protection = match Protection::new(Access::ExecuteReadWrite, Modifier::None) {
    Some(p) => p,
    None => Protection::READ_WRITE,
};

/// Pages in an allocation-granularity region (64 KiB).
const REGION_PAGES_SHIFT: u32 = 4;

/// References to one page, merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRef {
    /// The page number.
    pub page: u64,
    /// Its accesses: [`ACCESS_READ`], [`ACCESS_WRITE`], [`ACCESS_EXECUTE`].
    pub bits: u8,
    /// The references merged into it.
    pub count: u32,
}

/// Merges consecutive references to one page (see the module's contract).
#[derive(Debug, Default)]
pub struct Collapser {
    pending: Option<PageRef>,
}

impl Collapser {
    /// Feeds a reference; calls `out` with each page reference completed by it.
    #[inline]
    pub fn push(&mut self, r: Reference, mut out: impl FnMut(PageRef)) {
        let (first, last) = r.pages();
        let bits = r.kind.bits();
        let mut page = first;
        loop {
            match &mut self.pending {
                Some(p) if p.page == page => {
                    p.bits |= bits;
                    p.count = p.count.saturating_add(1);
                }
                pending => {
                    if let Some(done) = pending.replace(PageRef { page, bits, count: 1 }) {
                        out(done);
                    }
                }
            }
            if page >= last {
                break;
            }
            page += 1;
        }
    }

    /// The last page reference, at the end of the trace.
    pub fn finish(&mut self, mut out: impl FnMut(PageRef)) {
        if let Some(p) = self.pending.take() {
            out(p);
        }
    }
}

/// The machine a trace runs on.
#[derive(Clone, Debug)]
pub struct MachineOptions {
    /// RAM in bytes.
    pub ram_bytes: u64,
    /// A page file: its path and its size in bytes (initial = maximum).
    pub page_file: Option<(std::path::PathBuf, u64)>,
    /// Pages a hard fault reads.
    pub cluster: u32,
    /// Check the system's invariants after every call (slow: for tests).
    pub invariant_checks: bool,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            ram_bytes: 1 << 30,
            page_file: None,
            cluster: ntmem::system::DEFAULT_PAGE_IN_CLUSTER,
            invariant_checks: false,
        }
    }
}

/// Why a replay could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The machine or its process could not be made.
    #[error("the machine could not be built: {0}")]
    System(#[from] SystemError),
    /// Declared regions overlap or cannot be reserved.
    #[error("region {start:#x}+{size:#x} could not be reserved and committed")]
    Region {
        /// Its start.
        start: u64,
        /// Its size in bytes.
        size: u64,
    },
}

/// The figures of a replay so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayFigures {
    /// Page references (a reference spanning two pages counts twice), refused ones included.
    pub references: u64,
    /// Page references after merging consecutive ones to the same page.
    pub page_refs: u64,
    /// References refused (above the user range, or no memory could be had for them).
    pub refused: u64,
    /// Accesses that raised an exception (none expected: memory is committed read-write-execute).
    pub exceptions: u64,
    /// Demand-zero faults.
    pub demand_zero: u64,
    /// Soft faults (from the standby or modified list).
    pub soft: u64,
    /// Hard faults (read from the page file).
    pub hard: u64,
    /// Page-file reads and the pages they read.
    pub page_read_ios: u64,
    /// Pages read from the page file.
    pub pages_read: u64,
    /// Page-file writes.
    pub page_write_ios: u64,
    /// Pages written to the page file.
    pub pages_written: u64,
    /// The working set now, and its peak, in pages.
    pub working_set: u64,
    /// The largest working set.
    pub peak_working_set: u64,
    /// 64 KiB regions committed.
    pub regions: u64,
    /// (references so far, working set) at evenly spaced points.
    pub samples: Vec<(u64, u64)>,
}

impl ReplayFigures {
    /// Faults that brought a page into the working set (demand-zero, soft, hard): the misses.
    #[must_use]
    pub fn faults(&self) -> u64 {
        self.demand_zero + self.soft + self.hard
    }
}

/// A trace replay in progress: the machine, its one process, and the figures.
pub struct Replayer {
    sys: System,
    pid: ProcessId,
    policy: EvictionPolicy,
    /// Regions committed (region number = page >> 4).
    regions: HashSet<u64>,
    /// Regions that could not be had.
    refused_regions: HashSet<u64>,
    /// A direct-mapped cache of committed regions in front of `regions`.
    recent: [u64; 64],
    declared: bool,
    references: u64,
    page_refs: u64,
    refused: u64,
    exceptions: u64,
    samples: Vec<(u64, u64)>,
    stride: u64,
    next_sample: u64,
}

impl Replayer {
    /// A machine of `opts` with one process, "trace", under `policy`.
    pub fn new(opts: &MachineOptions, policy: EvictionPolicy) -> Result<Replayer, ReplayError> {
        let mut config = Config::default().with_ram_bytes(opts.ram_bytes).with_page_in_cluster(opts.cluster);
        if let Some((path, bytes)) = &opts.page_file {
            config = config.with_page_file(path.clone(), *bytes, *bytes);
        }
        if opts.invariant_checks {
            config = config.with_invariant_checks();
        }
        let mut sys = System::new(config)?;
        let pid = sys.create_process("trace")?;
        sys.vm(pid)?.set_eviction_policy(policy);
        Ok(Replayer {
            sys,
            pid,
            policy,
            regions: HashSet::new(),
            refused_regions: HashSet::new(),
            recent: [u64::MAX; 64],
            declared: false,
            references: 0,
            page_refs: 0,
            refused: 0,
            exceptions: 0,
            samples: Vec::new(),
            stride: 1024,
            next_sample: 0,
        })
    }

    /// The system (for its counters and invariant checks).
    #[must_use]
    pub fn system(&self) -> &System {
        &self.sys
    }

    /// The process replaying the trace.
    #[must_use]
    pub fn process(&self) -> ProcessId {
        self.pid
    }

    /// Sets the working-set limits: `maximum` hard (`QUOTA_LIMITS_HARDWS_MAX_ENABLE`) when
    /// `hard`, the minimum at most the maximum.
    pub fn set_limits(&mut self, minimum: u64, maximum: u64, hard: bool) -> Result<(), ReplayError> {
        let limits =
            WorkingSetLimits { minimum: minimum.min(maximum), maximum, hard_minimum: false, hard_maximum: hard };
        self.sys.vm(self.pid)?.set_working_set_limits(limits);
        Ok(())
    }

    /// At most `frames` of the trace's pages resident at once (the module's contract): a hard
    /// working-set maximum of `frames` plus the pages that are not the trace's.
    pub fn limit_frames(&mut self, frames: u64) -> Result<(), ReplayError> {
        let overhead = {
            let p = self.sys.process(self.pid).ok_or(SystemError::NoSuchProcess)?;
            let trace_pages = p.space().map_or(0, |s| s.working_set().len());
            p.counters().working_set.saturating_sub(trace_pages)
        };
        self.set_limits(DEFAULT_MINIMUM.min(frames), frames + overhead, true)
    }

    /// Declares a region (reserved and committed now); once any is declared, pages outside the
    /// declared regions are refused instead of committed on sight.
    pub fn declare(&mut self, start: u64, size: u64) -> Result<(), ReplayError> {
        let err = ReplayError::Region { start, size };
        let mut vm = self.sys.vm(self.pid)?;
        let opts = ReserveOptions::new(RWX);
        let range = vm.reserve(Some(start), size, &opts).map_err(|_| err)?;
        vm.commit(range.start_addr(), size, RWX).map_err(|_| ReplayError::Region { start, size })?;
        let first = range.start.as_u64() >> REGION_PAGES_SHIFT;
        let last = (range.end.as_u64().saturating_sub(1)) >> REGION_PAGES_SHIFT;
        // A declared region's pages are known; a partial 64 KiB region is too, its other
        // pages fault as any uncommitted page does (and are counted as exceptions).
        self.regions.extend(first..=last);
        self.declared = true;
        Ok(())
    }

    /// Replays page references; `next_use(i)` gives the `i`-th's next use (for OPT; the index
    /// counts page references from the start of the replay).
    pub fn run(&mut self, refs: &[PageRef], mut next_use: impl FnMut(u64) -> u64) -> Result<(), ReplayError> {
        let follow = self.policy != EvictionPolicy::NtAging;
        let mut i = 0;
        while i < refs.len() {
            // Accesses through one handle until a page's region must be committed first.
            let mut mem = self.sys.memory(self.pid)?;
            while let Some(r) = refs.get(i) {
                let region = r.page >> REGION_PAGES_SHIFT;
                let slot = (region & 63) as usize;
                if self.recent[slot] != region {
                    if !self.regions.contains(&region) {
                        break;
                    }
                    self.recent[slot] = region;
                }
                let addr = r.page << PAGE_SHIFT;
                let mut ok = true;
                if r.bits & ACCESS_EXECUTE != 0 {
                    ok &= mem.execute(addr).is_ok();
                }
                if r.bits & ACCESS_READ != 0 {
                    let mut b = [0u8; 1];
                    ok &= mem.read(addr, &mut b).is_ok();
                }
                if r.bits & ACCESS_WRITE != 0 {
                    ok &= mem.write(addr, &[1]).is_ok();
                }
                if !ok {
                    self.exceptions += 1;
                }
                if follow {
                    mem.note_reference(addr, next_use(self.page_refs));
                }
                self.page_refs += 1;
                self.references += u64::from(r.count);
                i += 1;
                if self.references >= self.next_sample {
                    self.sample();
                    mem = self.sys.memory(self.pid)?;
                }
            }
            if let Some(r) = refs.get(i) {
                if !self.commit_region(r.page) {
                    self.refused += u64::from(r.count);
                    self.references += u64::from(r.count);
                    self.page_refs += 1;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// Commits the 64 KiB region of `page` (on its first sight); false when it cannot be had.
    fn commit_region(&mut self, page: u64) -> bool {
        let region = page >> REGION_PAGES_SHIFT;
        if self.declared || self.refused_regions.contains(&region) {
            return false;
        }
        let start = region << (REGION_PAGES_SHIFT + PAGE_SHIFT);
        let size = 1u64 << (REGION_PAGES_SHIFT + PAGE_SHIFT);
        let Ok(mut vm) = self.sys.vm(self.pid) else { return false };
        let opts = ReserveOptions::new(RWX);
        // The lowest 64 KiB and anything past the user range can never be allocated.
        let ok = start >= ntmem::units::MIN_USER_ADDRESS
            && start.checked_add(size).is_some_and(|end| end <= ntmem::units::USER_END)
            && vm.reserve(Some(start), size, &opts).is_ok()
            && vm.commit(start, size, RWX).is_ok();
        if ok {
            self.regions.insert(region);
        } else {
            self.refused_regions.insert(region);
        }
        ok
    }

    /// Records the working set; halves the samples (and doubles the stride) when full.
    fn sample(&mut self) {
        let ws = self.sys.process(self.pid).map_or(0, |p| p.counters().working_set);
        self.samples.push((self.references, ws));
        if self.samples.len() >= MAX_SAMPLES {
            let kept: Vec<(u64, u64)> = self.samples.iter().copied().skip(1).step_by(2).collect();
            self.samples = kept;
            self.stride *= 2;
        }
        self.next_sample = self.references + self.stride;
    }

    /// The figures so far.
    #[must_use]
    pub fn figures(&self) -> ReplayFigures {
        let counters = self.sys.process(self.pid).map(ntmem::system::Process::counters).unwrap_or_default();
        let stats = self.sys.stats();
        let mut samples = self.samples.clone();
        if samples.last().map(|s| s.0) != Some(self.references) {
            samples.push((self.references, counters.working_set));
        }
        ReplayFigures {
            references: self.references,
            page_refs: self.page_refs,
            refused: self.refused,
            exceptions: self.exceptions,
            demand_zero: counters.faults.demand_zero,
            soft: counters.faults.soft,
            hard: counters.faults.hard,
            page_read_ios: stats.page_read_ios,
            pages_read: stats.pages_read,
            page_write_ios: stats.page_write_ios,
            pages_written: stats.pages_written,
            working_set: counters.working_set,
            peak_working_set: counters.peak_working_set,
            regions: self.regions.len() as u64,
            samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RefKind;

    #[test]
    fn pages_outside_the_user_range_are_refused_not_accessed() {
        let mut r = Replayer::new(&MachineOptions::default(), EvictionPolicy::NtAging).expect("a machine");
        let refs = [
            PageRef { page: 0, bits: ACCESS_READ, count: 1 },
            PageRef { page: 0xF, bits: ACCESS_WRITE, count: 2 },
            PageRef { page: 0x10, bits: ACCESS_READ, count: 1 },
            PageRef { page: 0x7_FFFF_FFFF, bits: ACCESS_READ, count: 1 },
        ];
        r.run(&refs, |_| u64::MAX).expect("replay");
        let f = r.figures();
        assert_eq!((f.refused, f.exceptions, f.demand_zero, f.references), (4, 0, 1, 5));
    }

    #[test]
    fn consecutive_references_to_a_page_merge_and_a_crossing_splits() {
        let mut c = Collapser::default();
        let mut out = Vec::new();
        for r in [
            Reference { kind: RefKind::Read, addr: 0x1000, size: 8 },
            Reference { kind: RefKind::Write, addr: 0x1008, size: 8 },
            Reference { kind: RefKind::Execute, addr: 0x1ffc, size: 8 },
            Reference { kind: RefKind::Read, addr: 0x2000, size: 1 },
            Reference { kind: RefKind::Read, addr: 0x1000, size: 1 },
        ] {
            c.push(r, |p| out.push(p));
        }
        c.finish(|p| out.push(p));
        assert_eq!(
            out,
            vec![
                PageRef { page: 1, bits: ACCESS_READ | ACCESS_WRITE | ACCESS_EXECUTE, count: 3 },
                PageRef { page: 2, bits: ACCESS_EXECUTE | ACCESS_READ, count: 2 },
                PageRef { page: 1, bits: ACCESS_READ, count: 1 },
            ]
        );
    }
}
