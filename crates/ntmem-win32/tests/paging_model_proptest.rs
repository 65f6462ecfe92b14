//! Property test of paging (issue 3): random allocation sizes and random sequences of writes,
//! reads, rewrites, commits, decommits, releases, working-set trims and modified-page writes
//! over two or three processes of a small machine (8 MiB of RAM and a page file), checked
//! against a model of every page's bytes.
//!
//! - every read returns what the model holds (a page never written, or decommitted and
//!   committed again, or released and allocated again, reads zero);
//! - an access touching a page that is not committed raises STATUS_ACCESS_VIOLATION at the
//!   first byte of that page (or at the start of the access) and changes nothing (F91, F95);
//! - at the end of each case: every byte is checked once more, the invariants hold, each
//!   process's PrivateUsage is its committed pages, and releasing everything gives back every
//!   page-file slot;
//! - over all the cases, pages went to the page file and came back (else the test would not
//!   be testing paging).
//!
//! Each case is heavy: it runs `PROPTEST_CASES / 8` cases (at least 32; so 250 in CI).
//!
//! The calls that found items 4 and 6–9 of issue 6 are here too: hard working-set maxima with
//! locks (a lock makes every page resident and locked; the working set stays within its hard
//! maximum), NT-level partial releases followed by system-placed allocations (first fit on a
//! 64 KiB boundary, checked against the model's own map), empty reads and writes (succeed,
//! change nothing: no write-watch hit) and range operations over huge reservations. While an
//! item is listed in [`KNOWN_OPEN_BUGS`] its trigger or assertion is held back (see there).

#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unwrap_used)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRng, TestRunner};

const PAGE: u64 = 4096;
const PAGE_BYTES: usize = 4096;
const MIB: u64 = 1 << 20;
/// Most live allocations per process (keeps the commit far below the page file's maximum).
const MAX_ALLOCS: usize = 4;
/// Largest allocation, in pages (6 MiB, three quarters of the RAM).
const MAX_PAGES: u16 = 1536;
/// Invariants are checked every this many operations.
const CHECK_EVERY: usize = 16;

/// Items of issue 6 still open on this branch (fixed on others). While listed: 4 skips the
/// check that the working set stays within its hard maximum; 6 holds back `VirtualLock` in a
/// process under a hard maximum (it loses bytes); 7 skips the first-fit check of placement; 8
/// skips the check that an empty access leaves the write-watch state alone; 9 shrinks the huge
/// ranges from 1 TiB to 1 GiB (a walk of every page of 1 TiB takes minutes). The lead removes
/// an entry once its fix is merged.
const KNOWN_OPEN_BUGS: &[u8] = &[];

fn open(item: u8) -> bool {
    KNOWN_OPEN_BUGS.contains(&item)
}

/// Allocation granularity (F1).
const G: u64 = 0x1_0000;
/// The shared user data page, in every process (F6).
const SHARED_USER_DATA: u64 = 0x7FFE_0000;

fn config() -> ProptestConfig {
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse::<u32>().ok()).map_or(32, |n| (n / 8).max(32));
    ProptestConfig { cases, failure_persistence: None, max_shrink_iters: 200, ..ProptestConfig::default() }
}

// ------------------------------------------------------------------------------------------------
// Operations

#[derive(Clone, Debug)]
enum Op {
    /// Reserve `pages` pages (and commit them all when `commit`; with write watch when
    /// `watch`), where the system places it (first fit, checked).
    Alloc { proc: u8, pages: u16, commit: bool, watch: bool },
    /// `NtFreeVirtualMemory(MEM_RELEASE)` of the first (`head`) or last `count` pages of an
    /// allocation (clamped to leave one page): an NT-level partial release (item 7).
    NtReleasePart { proc: u8, alloc: u8, count: u16, head: bool },
    /// A read (or write) of no bytes at page `page`: succeeds, changes nothing (item 8).
    Empty { proc: u8, alloc: u8, page: u16, write: bool },
    /// `SetProcessWorkingSetSizeEx(h, min(20, max), max pages, QUOTA_LIMITS_HARDWS_MAX_ENABLE)`.
    HardLimit { proc: u8, max: u16 },
    /// `VirtualLock` of pages `first..first+count` (clamped) of an allocation (item 6).
    Lock { proc: u8, alloc: u8, first: u16, count: u16 },
    /// `VirtualUnlock` of the same.
    Unlock { proc: u8, alloc: u8, first: u16, count: u16 },
    /// A huge reservation (1 TiB, with write watch when `watch`); a failing `VirtualUnlock`,
    /// `GetWriteWatch` and `MEM_RESET` over all of it; then its release (item 9).
    Huge { proc: u8, watch: bool },
    /// Commit pages `first..first+count` (clamped) of an allocation.
    Commit { proc: u8, alloc: u8, first: u16, count: u16 },
    /// Decommit pages `first..first+count` (clamped) of an allocation.
    Decommit { proc: u8, alloc: u8, first: u16, count: u16 },
    /// Release an allocation.
    Release { proc: u8, alloc: u8 },
    /// Write `len` bytes (up to 8 KiB, so up to three pages) at page `page`, offset `offset`.
    Write { proc: u8, alloc: u8, page: u16, offset: u16, len: u16, seed: u64 },
    /// Write a full page of pattern to every committed page of an allocation.
    Fill { proc: u8, alloc: u8, seed: u64 },
    /// Read `len` bytes at page `page`, offset `offset`.
    Read { proc: u8, alloc: u8, page: u16, offset: u16, len: u16 },
    /// Read every page of an allocation.
    ReadAll { proc: u8, alloc: u8 },
    /// EmptyWorkingSet.
    Trim { proc: u8 },
    /// Run the modified page writer.
    WriteModified,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let p = 0u8..3;
    prop_oneof![
        3 => (p.clone(), 1u16..=MAX_PAGES, any::<bool>(), prop::bool::weighted(0.3))
            .prop_map(|(proc, pages, commit, watch)| Op::Alloc { proc, pages, commit, watch }),
        2 => (p.clone(), 1u16..=32).prop_map(|(proc, pages)| Op::Alloc { proc, pages, commit: true, watch: false }),
        2 => (p.clone(), any::<u8>(), 1u16..=32, any::<bool>()).prop_map(|(proc, alloc, count, head)| Op::NtReleasePart { proc, alloc, count, head }),
        2 => (p.clone(), any::<u8>(), any::<u16>(), any::<bool>()).prop_map(|(proc, alloc, page, write)| Op::Empty { proc, alloc, page, write }),
        1 => (p.clone(), 13u16..=200).prop_map(|(proc, max)| Op::HardLimit { proc, max }),
        2 => (p.clone(), any::<u8>(), any::<u16>(), 1u16..=24).prop_map(|(proc, alloc, first, count)| Op::Lock { proc, alloc, first, count }),
        1 => (p.clone(), any::<u8>(), any::<u16>(), 1u16..=24).prop_map(|(proc, alloc, first, count)| Op::Unlock { proc, alloc, first, count }),
        1 => (p.clone(), any::<bool>()).prop_map(|(proc, watch)| Op::Huge { proc, watch }),
        2 => (p.clone(), any::<u8>(), any::<u16>(), any::<u16>())
            .prop_map(|(proc, alloc, first, count)| Op::Commit { proc, alloc, first, count }),
        2 => (p.clone(), any::<u8>(), any::<u16>(), any::<u16>())
            .prop_map(|(proc, alloc, first, count)| Op::Decommit { proc, alloc, first, count }),
        1 => (p.clone(), any::<u8>()).prop_map(|(proc, alloc)| Op::Release { proc, alloc }),
        6 => (p.clone(), any::<u8>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u64>())
            .prop_map(|(proc, alloc, page, offset, len, seed)| Op::Write { proc, alloc, page, offset, len, seed }),
        4 => (p.clone(), any::<u8>(), any::<u64>()).prop_map(|(proc, alloc, seed)| Op::Fill { proc, alloc, seed }),
        6 => (p.clone(), any::<u8>(), any::<u16>(), any::<u16>(), any::<u16>())
            .prop_map(|(proc, alloc, page, offset, len)| Op::Read { proc, alloc, page, offset, len }),
        3 => (p.clone(), any::<u8>()).prop_map(|(proc, alloc)| Op::ReadAll { proc, alloc }),
        1 => p.prop_map(|proc| Op::Trim { proc }),
        1 => Just(Op::WriteModified),
    ]
}

// ------------------------------------------------------------------------------------------------
// The model

#[derive(Clone)]
enum Pg {
    /// Reserved, not committed: any access violates.
    Reserved,
    /// Committed, reads zero.
    Zero,
    /// Committed with these bytes.
    Data(Box<[u8; PAGE_BYTES]>),
}

struct Alloc {
    base: u64,
    pages: Vec<Pg>,
    /// Reserved with MEM_WRITE_WATCH.
    watch: bool,
}

impl Alloc {
    fn committed(&self) -> u64 {
        self.pages.iter().filter(|p| !matches!(p, Pg::Reserved)).count() as u64
    }

    /// The first byte of [start, start+len) (offsets in the allocation) on a page that is
    /// not committed.
    fn first_uncommitted(&self, start: u64, len: u64) -> Option<u64> {
        let first = start / PAGE;
        let last = (start + len - 1) / PAGE;
        (first..=last).find(|i| matches!(self.pages[*i as usize], Pg::Reserved)).map(|i| (i * PAGE).max(start))
    }

    fn read(&self, start: u64, out: &mut [u8]) {
        for (k, b) in out.iter_mut().enumerate() {
            let at = start + k as u64;
            *b = match &self.pages[(at / PAGE) as usize] {
                Pg::Data(d) => d[(at % PAGE) as usize],
                _ => 0,
            };
        }
    }

    fn write(&mut self, start: u64, data: &[u8]) {
        for (k, b) in data.iter().enumerate() {
            let at = start + k as u64;
            let pg = &mut self.pages[(at / PAGE) as usize];
            if matches!(pg, Pg::Zero) {
                *pg = Pg::Data(Box::new([0u8; PAGE_BYTES]));
            }
            match pg {
                Pg::Data(d) => d[(at % PAGE) as usize] = *b,
                _ => unreachable!("writes go to committed pages only"),
            }
        }
    }
}

fn bytes_of(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

struct Case {
    sys: System,
    pids: Vec<ProcessId>,
    model: Vec<Vec<Alloc>>,
    /// Each process's hard working-set maximum in pages, once set.
    hard_max: Vec<Option<u64>>,
}

/// Totals over all cases, so the test can show it exercised paging.
#[derive(Default, Debug)]
struct Totals {
    hard_faults: u64,
    pages_written: u64,
    pages_read: u64,
    soft_faults: u64,
}

fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter().zip(want).position(|(a, b)| a != b)
}

impl Case {
    fn k(&mut self, proc: usize) -> Kernel32<'_> {
        Kernel32::new(&mut self.sys, self.pids[proc])
    }

    fn pick(&self, proc: u8, alloc: u8) -> Option<(usize, usize)> {
        let p = usize::from(proc) % self.pids.len();
        let n = self.model[p].len();
        (n > 0).then(|| (p, usize::from(alloc) % n))
    }

    /// Where `VirtualAlloc(0, size)` must go: the lowest 64 KiB boundary from which `size`
    /// bytes are free of the model's allocations and the shared user data page (F9, F46).
    fn first_fit(&self, p: usize, size: u64) -> u64 {
        let mut taken: Vec<(u64, u64)> =
            self.model[p].iter().map(|a| (a.base, a.base + a.pages.len() as u64 * PAGE)).collect();
        taken.push((SHARED_USER_DATA, SHARED_USER_DATA + PAGE));
        taken.sort_unstable();
        let mut at = G;
        for (s, e) in taken {
            if at + size <= s {
                break;
            }
            at = at.max(e.div_ceil(G) * G);
        }
        at
    }

    /// The write-watch report of a write-watched allocation (empty otherwise).
    fn watch_state(&mut self, p: usize, a: usize) -> Vec<u64> {
        if !self.model[p][a].watch {
            return Vec::new();
        }
        let (base, n) = (self.model[p][a].base, self.model[p][a].pages.len() as u64);
        let mut buf = vec![0u64; n as usize];
        let (mut count, mut gran) = (buf.len(), 0u32);
        let r = self.k(p).GetWriteWatch(0, base, n * PAGE, &mut buf, &mut count, &mut gran);
        assert_eq!(r, 0, "GetWriteWatch of a write-watched allocation");
        buf.truncate(count);
        buf
    }

    /// Item 4: a hard working-set maximum holds.
    fn check_hard_maximum(&mut self) -> Result<(), TestCaseError> {
        if open(4) {
            return Ok(());
        }
        for p in 0..self.pids.len() {
            let Some(max) = self.hard_max[p] else { continue };
            let mut k = self.k(p);
            let h = k.GetCurrentProcess();
            let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
            prop_assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE);
            prop_assert!(
                c.WorkingSetSize as u64 <= max * PAGE,
                "p{} working set {} pages above its hard maximum {}",
                p,
                c.WorkingSetSize as u64 / PAGE,
                max
            );
        }
        Ok(())
    }

    fn check_invariants(&self, when: &str) -> Result<(), TestCaseError> {
        self.sys.check_invariants().map_err(|v| TestCaseError::fail(format!("invariant violated {when}: {v}")))
    }

    fn release(&mut self, p: usize, a: usize) -> Result<(), TestCaseError> {
        let base = self.model[p][a].base;
        let mut k = self.k(p);
        let ok = k.VirtualFree(base, 0, MEM_RELEASE);
        prop_assert_eq!(ok, TRUE, "release {:#x}: error {}", base, k.GetLastError());
        self.model[p].remove(a);
        Ok(())
    }

    /// Reads [off, off+len) of allocation `a` of process `p` and compares with the model.
    fn check_read(&mut self, p: usize, a: usize, off: u64, len: u64, what: &str) -> Result<(), TestCaseError> {
        let base = self.model[p][a].base;
        let expect_av = self.model[p][a].first_uncommitted(off, len);
        let mut buf = vec![0u8; len as usize];
        let r = self.k(p).read(base + off, &mut buf);
        match (expect_av, r) {
            (None, Ok(())) => {
                let mut want = vec![0u8; len as usize];
                self.model[p][a].read(off, &mut want);
                if let Some(d) = first_difference(&buf, &want) {
                    let at = off + d as u64;
                    return Err(TestCaseError::fail(format!(
                        "{what}: p{p} alloc {base:#x} page {} byte {}: got {:#04x}, want {:#04x}",
                        at / PAGE,
                        at % PAGE,
                        buf[d],
                        want[d]
                    )));
                }
            }
            (Some(at), Err(e)) => {
                prop_assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "{}: read of a reserved page", what);
                prop_assert_eq!(e.address, base + at, "{}: the first byte that faulted", what);
                prop_assert_eq!(e.information, [0, base + at], "{}", what);
            }
            (None, Err(e)) => {
                return Err(TestCaseError::fail(format!(
                    "{what}: read p{p} {:#x}+{len} of committed pages raised {e:?}",
                    base + off
                )))
            }
            (Some(at), Ok(())) => {
                return Err(TestCaseError::fail(format!(
                    "{what}: read p{p} {:#x}+{len} succeeded over a reserved page at {:#x}",
                    base + off,
                    base + at
                )))
            }
        }
        Ok(())
    }

    fn read_all(&mut self, p: usize, a: usize, what: &str) -> Result<(), TestCaseError> {
        for i in 0..self.model[p][a].pages.len() as u64 {
            let len = if matches!(self.model[p][a].pages[i as usize], Pg::Reserved) { 1 } else { PAGE };
            self.check_read(p, a, i * PAGE, len, what)?;
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Alloc { proc, pages, commit, watch } => {
                let p = usize::from(proc) % self.pids.len();
                if self.model[p].len() >= MAX_ALLOCS {
                    self.release(p, 0)?;
                }
                let size = u64::from(pages) * PAGE;
                let want = self.first_fit(p, size);
                let t = MEM_RESERVE | if commit { MEM_COMMIT } else { 0 } | if watch { MEM_WRITE_WATCH } else { 0 };
                let mut k = self.k(p);
                let base = k.VirtualAlloc(0, size, t, PAGE_READWRITE);
                prop_assert_ne!(base, 0, "alloc of {} pages: error {}", pages, k.GetLastError());
                if !open(7) {
                    prop_assert_eq!(base, want, "first fit on a 64 KiB boundary (F9, F46; item 7)");
                }
                let pg = if commit { Pg::Zero } else { Pg::Reserved };
                self.model[p].push(Alloc { base, pages: vec![pg; usize::from(pages)], watch });
            }
            Op::NtReleasePart { proc, alloc, count, head } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let n = self.model[p][a].pages.len();
                if n < 2 {
                    return Ok(());
                }
                let count = usize::from(count).min(n - 1);
                let base = self.model[p][a].base;
                let first = if head { 0 } else { n - count };
                let (mut at, mut size) = (base + first as u64 * PAGE, count as u64 * PAGE);
                let pid = self.pids[p];
                let mut nt = Ntdll::new(&mut self.sys, pid);
                let st = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut at, &mut size, MEM_RELEASE);
                prop_assert_eq!(
                    st,
                    STATUS_SUCCESS,
                    "NtFreeVirtualMemory(MEM_RELEASE) of {} pages of {:#x}",
                    count,
                    base
                );
                let alloc = &mut self.model[p][a];
                if head {
                    alloc.pages.drain(..count);
                    alloc.base += count as u64 * PAGE;
                } else {
                    alloc.pages.truncate(n - count);
                }
            }
            Op::Empty { proc, alloc, page, write } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let n = self.model[p][a].pages.len() as u64;
                let addr = self.model[p][a].base + u64::from(page) % n * PAGE;
                let before = self.watch_state(p, a);
                let r = if write { self.k(p).write(addr, &[]) } else { self.k(p).read(addr, &mut []) };
                prop_assert!(r.is_ok(), "an empty access at {:#x} raised {:?}", addr, r);
                if !open(8) {
                    prop_assert_eq!(
                        self.watch_state(p, a),
                        before,
                        "an empty access at {:#x} is no write (item 8)",
                        addr
                    );
                }
            }
            Op::HardLimit { proc, max } => {
                let p = usize::from(proc) % self.pids.len();
                let max = u64::from(max);
                let mut k = self.k(p);
                let h = k.GetCurrentProcess();
                let ok =
                    k.SetProcessWorkingSetSizeEx(h, max.min(20) * PAGE, max * PAGE, QUOTA_LIMITS_HARDWS_MAX_ENABLE);
                // Refused (ERROR_INVALID_PARAMETER) when the maximum is not below the available
                // pages less 512: under pressure.
                if ok == TRUE {
                    self.hard_max[p] = Some(max);
                }
            }
            Op::Lock { proc, alloc, first, count } | Op::Unlock { proc, alloc, first, count } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let lock = matches!(op, Op::Lock { .. });
                if lock && open(6) && self.hard_max[p].is_some() {
                    return Ok(()); // Item 6: a lock under a hard maximum loses bytes.
                }
                let n = self.model[p][a].pages.len();
                let first = usize::from(first) % n;
                let count = usize::from(count).min(n - first);
                let addr = self.model[p][a].base + first as u64 * PAGE;
                let all_committed =
                    self.model[p][a].pages[first..first + count].iter().all(|pg| !matches!(pg, Pg::Reserved));
                let mut k = self.k(p);
                let ok = if lock {
                    k.VirtualLock(addr, count as u64 * PAGE)
                } else {
                    k.VirtualUnlock(addr, count as u64 * PAGE)
                };
                if !all_committed {
                    prop_assert_eq!(ok, FALSE, "lock or unlock over a reserved page (F104)");
                }
                if lock && ok == TRUE {
                    let mut info: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = (0..count as u64)
                        .map(|i| PSAPI_WORKING_SET_EX_INFORMATION {
                            VirtualAddress: (addr + i * PAGE) as usize as _,
                            ..Default::default()
                        })
                        .collect();
                    let h = k.GetCurrentProcess();
                    prop_assert_eq!(k.QueryWorkingSetEx(h, &mut info), TRUE);
                    for e in &info {
                        let f = working_set_ex_flags(e);
                        prop_assert_eq!(
                            f & (1 | 1 << 22),
                            1 | 1 << 22,
                            "a locked page is valid and locked (item 6): {:#x}",
                            e.VirtualAddress as usize
                        );
                    }
                }
            }
            Op::Huge { proc, watch } => {
                let p = usize::from(proc) % self.pids.len();
                let size: u64 = if open(9) { 1 << 30 } else { 1 << 40 };
                let t = MEM_RESERVE | if watch { MEM_WRITE_WATCH } else { 0 };
                let mut k = self.k(p);
                let base = k.VirtualAlloc(0, size, t, PAGE_READWRITE);
                prop_assert_ne!(base, 0, "reserve {:#x}: error {}", size, k.GetLastError());
                prop_assert_eq!(k.VirtualUnlock(base, size), FALSE, "unlock of reserved memory (F104, F105)");
                if watch {
                    let mut buf = [0u64; 4];
                    let (mut count, mut gran) = (buf.len(), 0u32);
                    prop_assert_eq!(k.GetWriteWatch(0, base, size, &mut buf, &mut count, &mut gran), 0);
                    prop_assert_eq!(count, 0, "nothing written");
                }
                prop_assert_eq!(
                    k.VirtualAlloc(base, size, MEM_RESET, PAGE_NOACCESS),
                    base,
                    "MEM_RESET of reserved memory (F42)"
                );
                prop_assert_eq!(k.VirtualFree(base, 0, MEM_RELEASE), TRUE);
            }
            Op::Commit { proc, alloc, first, count } | Op::Decommit { proc, alloc, first, count } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let n = self.model[p][a].pages.len();
                let first = usize::from(first) % n;
                let count = 1 + usize::from(count) % (n - first);
                let addr = self.model[p][a].base + first as u64 * PAGE;
                let size = count as u64 * PAGE;
                let commit = matches!(op, Op::Commit { .. });
                let mut k = self.k(p);
                if commit {
                    let r = k.VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE);
                    prop_assert_eq!(r, addr, "commit {:#x}+{:#x}: error {}", addr, size, k.GetLastError());
                } else {
                    let r = k.VirtualFree(addr, size, MEM_DECOMMIT);
                    prop_assert_eq!(r, TRUE, "decommit {:#x}+{:#x}: error {}", addr, size, k.GetLastError());
                }
                for pg in &mut self.model[p][a].pages[first..first + count] {
                    if !commit {
                        *pg = Pg::Reserved;
                    } else if matches!(pg, Pg::Reserved) {
                        *pg = Pg::Zero; // recommitted: reads zero
                    }
                }
            }
            Op::Release { proc, alloc } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                self.release(p, a)?;
            }
            Op::Write { proc, alloc, page, offset, len, seed } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let total = self.model[p][a].pages.len() as u64 * PAGE;
                let start = (u64::from(page) % (total / PAGE)) * PAGE + u64::from(offset) % PAGE;
                let len = 1 + u64::from(len) % (total - start).min(2 * PAGE);
                let data = bytes_of(seed, len as usize);
                let base = self.model[p][a].base;
                let expect_av = self.model[p][a].first_uncommitted(start, len);
                let r = self.k(p).write(base + start, &data);
                match (expect_av, r) {
                    (None, Ok(())) => self.model[p][a].write(start, &data),
                    (Some(at), Err(e)) => {
                        prop_assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "write over a reserved page");
                        prop_assert_eq!(e.address, base + at, "the first byte that faulted");
                        prop_assert_eq!(e.information, [1, base + at]);
                        // A failed access changes nothing: checked by the reads that follow.
                    }
                    (None, Err(e)) => {
                        return Err(TestCaseError::fail(format!(
                            "write p{p} {:#x}+{len} to committed pages raised {e:?}",
                            base + start
                        )))
                    }
                    (Some(at), Ok(())) => {
                        return Err(TestCaseError::fail(format!(
                            "write p{p} {:#x}+{len} succeeded over a reserved page at {:#x}",
                            base + start,
                            base + at
                        )))
                    }
                }
            }
            Op::Fill { proc, alloc, seed } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let base = self.model[p][a].base;
                for i in 0..self.model[p][a].pages.len() {
                    if matches!(self.model[p][a].pages[i], Pg::Reserved) {
                        continue;
                    }
                    let data = bytes_of(seed ^ (i as u64).wrapping_mul(0x0100_0000_01B3), PAGE_BYTES);
                    let addr = base + i as u64 * PAGE;
                    if let Err(e) = self.k(p).write(addr, &data) {
                        return Err(TestCaseError::fail(format!("fill p{p} page {addr:#x}: {e:?}")));
                    }
                    self.model[p][a].write(i as u64 * PAGE, &data);
                }
            }
            Op::Read { proc, alloc, page, offset, len } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                let total = self.model[p][a].pages.len() as u64 * PAGE;
                let start = (u64::from(page) % (total / PAGE)) * PAGE + u64::from(offset) % PAGE;
                let len = 1 + u64::from(len) % (total - start).min(2 * PAGE);
                self.check_read(p, a, start, len, "read")?;
            }
            Op::ReadAll { proc, alloc } => {
                let Some((p, a)) = self.pick(proc, alloc) else { return Ok(()) };
                self.read_all(p, a, "read-all")?;
            }
            Op::Trim { proc } => {
                let p = usize::from(proc) % self.pids.len();
                let mut k = self.k(p);
                let h = k.GetCurrentProcess();
                prop_assert_eq!(k.EmptyWorkingSet(h), TRUE, "EmptyWorkingSet: error {}", k.GetLastError());
            }
            Op::WriteModified => {
                self.sys.write_modified_pages();
                prop_assert_eq!(self.sys.stats().modified_pages, 0, "the writer empties the modified list");
            }
        }
        Ok(())
    }
}

fn run_case(nprocs: usize, ops: &[Op], totals: &mut Totals) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(format!("tempdir: {e}")))?;
    let cfg =
        Config::default().with_ram_bytes(8 * MIB).with_page_file(dir.path().join("pagefile.sys"), 16 * MIB, 128 * MIB);
    let mut sys = System::new(cfg).map_err(|e| TestCaseError::fail(format!("boot: {e}")))?;
    let pids: Vec<ProcessId> = (0..nprocs).map(|i| sys.create_process(&format!("p{i}")).unwrap()).collect();
    let mut case = Case { sys, pids, model: (0..nprocs).map(|_| Vec::new()).collect(), hard_max: vec![None; nprocs] };
    for (i, op) in ops.iter().enumerate() {
        case.apply(op).map_err(|e| TestCaseError::fail(format!("op {i} {op:?}: {e}")))?;
        if i % CHECK_EVERY == CHECK_EVERY - 1 {
            case.check_invariants(&format!("after op {i} {op:?}"))?;
        }
        case.check_hard_maximum().map_err(|e| TestCaseError::fail(format!("op {i} {op:?}: {e}")))?;
    }
    // Every byte, once more.
    for p in 0..nprocs {
        for a in 0..case.model[p].len() {
            case.read_all(p, a, "final check")?;
        }
    }
    case.check_invariants("at the end")?;
    // Commit figures follow the model.
    for p in 0..nprocs {
        let committed: u64 = case.model[p].iter().map(Alloc::committed).sum();
        let mut k = case.k(p);
        let h = k.GetCurrentProcess();
        let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
        prop_assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE);
        prop_assert_eq!(c.PrivateUsage as u64, committed * PAGE, "p{} PrivateUsage", p);
    }
    let s = case.sys.stats();
    totals.hard_faults += s.hard_faults;
    totals.soft_faults += s.soft_faults;
    totals.pages_read += s.pages_read;
    totals.pages_written += s.pages_written;
    prop_assert!(s.pages_read >= s.page_read_ios && s.pages_written >= s.page_write_ios, "{:?}", s);
    // Releasing everything gives back every page-file slot.
    for p in 0..nprocs {
        while !case.model[p].is_empty() {
            case.release(p, case.model[p].len() - 1)?;
        }
    }
    case.check_invariants("after releasing everything")?;
    let s = case.sys.stats();
    prop_assert_eq!(s.page_file_used, 0, "every slot given back: {:?}", s);
    prop_assert_eq!(s.modified_pages, 0, "no modified page left: {:?}", s);
    drop(case);
    drop(dir);
    Ok(())
}

#[test]
fn random_paging_sequences_match_byte_model() {
    // A fixed seed: the same cases on every run and machine, so the coverage check below
    // cannot pass on one run and fail on the next.
    let config = config();
    let mut runner = TestRunner::new_with_rng(config.clone(), TestRng::deterministic_rng(config.rng_algorithm));
    let strategy = (2usize..=3, vec(op_strategy(), 30..120));
    let totals = std::cell::RefCell::new(Totals::default());
    let result = runner.run(&strategy, |(nprocs, ops)| run_case(nprocs, &ops, &mut totals.borrow_mut()));
    if let Err(e) = result {
        panic!("{e}");
    }
    // Over all the cases, the machine paged: pages went out and came back in.
    let totals = totals.into_inner();
    assert!(
        totals.pages_written > 0 && totals.pages_read > 0 && totals.hard_faults > 0,
        "the cases never paged, so they tested nothing about paging: {totals:?}"
    );
    eprintln!("totals over the cases: {totals:?}");
}
