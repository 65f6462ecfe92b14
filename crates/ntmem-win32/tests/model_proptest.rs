//! Property tests for the Win32 virtual-memory surface.
//!
//! 1. `random_sequences_match_reference_model`: random sequences of VirtualAllocEx /
//!    VirtualFreeEx / VirtualProtectEx / VirtualQueryEx calls and of the processes' own reads and
//!    writes, over two or three processes of one `System`, are replayed against a small reference
//!    model of the Windows rules (docs/windows-behaviour.md, facts B–K). After every step the return value,
//!    `GetLastError` on failure, the bytes read or the exception raised, and a `VirtualQuery` walk
//!    of every process must match the model.
//! 2. `arbitrary_requests_never_panic_and_fail_cleanly`: arbitrary (address, size, type,
//!    protection) quadruples never panic, and a failing call changes neither the address space
//!    (full `VirtualQuery` walk) nor the commit figures.
//!
//! Reads and writes include empty ones (issue 6 item 8): they succeed anywhere and change
//! nothing, not even a guard page. `PROPTEST_CASES` sets the number of cases (default 256).

#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ntmem::{Config, ProcessId, System};
use ntmem_win32::{
    Exception, Kernel32, HANDLE, MEMORYSTATUSEX, MEMORY_BASIC_INFORMATION64, PROCESS_MEMORY_COUNTERS_EX,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------------
// Constants (values from docs/windows-behaviour.md, "Constants"; spelled out so the model does not depend on the
// crate under test).

const P: u64 = 0x1000; // F1: page size
const G: u64 = 0x1_0000; // F1: allocation granularity
const MIN_APP: u64 = 0x1_0000; // F1
const MAX_APP: u64 = 0x7FFF_FFFE_FFFF; // F1
const USER_END: u64 = MAX_APP + 1;
const MBI_SIZE: usize = 48; // F81: sizeof(MEMORY_BASIC_INFORMATION) on x64

/// Explicit-address operations land in this small window so that they conflict often.
const WIN_BASE: u64 = 0x1000_0000;
const WIN_SIZE: u64 = 0x10_0000;

const MEM_COMMIT: u32 = 0x0000_1000;
const MEM_RESERVE: u32 = 0x0000_2000;
const MEM_DECOMMIT: u32 = 0x0000_4000;
const MEM_RELEASE: u32 = 0x0000_8000;
const MEM_FREE: u32 = 0x0001_0000;
const MEM_PRIVATE: u32 = 0x0002_0000;
const MEM_WRITE_WATCH: u32 = 0x0020_0000;

const PAGE_NOACCESS: u32 = 0x01;
const PAGE_READONLY: u32 = 0x02;
const PAGE_READWRITE: u32 = 0x04;
const PAGE_WRITECOPY: u32 = 0x08;
const PAGE_EXECUTE: u32 = 0x10;
const PAGE_EXECUTE_READ: u32 = 0x20;
const PAGE_EXECUTE_READWRITE: u32 = 0x40;
const PAGE_EXECUTE_WRITECOPY: u32 = 0x80;
const PAGE_GUARD: u32 = 0x100;

const ERROR_INVALID_PARAMETER: u32 = 87;
const ERROR_INVALID_ADDRESS: u32 = 487;

const STATUS_ACCESS_VIOLATION: i32 = 0xC000_0005_u32 as i32;
const STATUS_GUARD_PAGE_VIOLATION: i32 = 0x8000_0001_u32 as i32;

const PROCESS_ALL_ACCESS: u32 = 0x001F_FFFF;

/// Written with SetLastError before every call, so that "the error was not set" shows.
const SENTINEL_ERROR: u32 = 0xDEAD_BEEF;

/// The protections the model generates (F32: the six accepted ones minus PAGE_EXECUTE, whose
/// readability is not covered by the facts).
const PROTS: [u32; 5] = [PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE];

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

fn new_system() -> System {
    System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).expect("System::new")
}

/// F32/F34/F35/F74/F75: exactly one base protection, WRITECOPY variants refused, GUARD not with
/// NOACCESS. (Only the GUARD modifier is ever generated.)
fn valid_prot(prot: u32) -> bool {
    let base = prot & !PAGE_GUARD;
    let one_base = matches!(
        base,
        PAGE_NOACCESS | PAGE_READONLY | PAGE_READWRITE | PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE
    );
    one_base && !(prot & PAGE_GUARD != 0 && base == PAGE_NOACCESS)
}

/// PAGE_WRITECOPY / PAGE_EXECUTE_WRITECOPY: a valid NT protection mask (views take it, F155)
/// that private memory refuses (F32, F33, F74). NT refuses it only once it knows the memory is
/// private, i.e. after the address checks (ReactOS MiProtectVirtualMemory order).
fn writecopy(prot: u32) -> bool {
    matches!(prot & !PAGE_GUARD, PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY)
}

/// The protection is a well-formed NT mask (checked before anything else).
fn mask_ok(prot: u32) -> bool {
    valid_prot(prot) || writecopy(prot)
}

/// Acceptable last errors of a failing call.
type Errs = &'static [u32];
const E87: Errs = &[ERROR_INVALID_PARAMETER];
const E487: Errs = &[ERROR_INVALID_ADDRESS];
/// WRITECOPY at an address that is also wrong: the facts do not order the two checks.
const E87_OR_487: Errs = &[ERROR_INVALID_PARAMETER, ERROR_INVALID_ADDRESS];

// ------------------------------------------------------------------------------------------------
// A comparable copy of MEMORY_BASIC_INFORMATION64.

#[derive(Clone, Copy, PartialEq, Eq)]
struct Mbi {
    base: u64,
    alloc_base: u64,
    alloc_prot: u32,
    size: u64,
    state: u32,
    protect: u32,
    ty: u32,
}

impl fmt::Debug for Mbi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{base {:#x} alloc_base {:#x} alloc_prot {:#x} size {:#x} state {:#x} protect {:#x} type {:#x}}}",
            self.base, self.alloc_base, self.alloc_prot, self.size, self.state, self.protect, self.ty
        )
    }
}

impl From<&MEMORY_BASIC_INFORMATION64> for Mbi {
    fn from(m: &MEMORY_BASIC_INFORMATION64) -> Self {
        Mbi {
            base: m.BaseAddress,
            alloc_base: m.AllocationBase,
            alloc_prot: m.AllocationProtect,
            size: m.RegionSize,
            state: m.State,
            protect: m.Protect,
            ty: m.Type,
        }
    }
}

fn query(k: &mut Kernel32<'_>, addr: u64) -> (usize, Mbi) {
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    let r = k.VirtualQuery(addr, &mut m);
    (r, Mbi::from(&m))
}

/// Every region from 0 to the top of the user address space, in order (F83–F85).
fn walk(k: &mut Kernel32<'_>) -> Vec<Mbi> {
    let mut out = Vec::new();
    let mut a = 0u64;
    while a <= MAX_APP {
        let (r, m) = query(k, a);
        assert_eq!(r, MBI_SIZE, "VirtualQuery({a:#x}) failed, error {}", k.GetLastError());
        assert_eq!(m.base, a, "region walk: BaseAddress must be the queried page (F84)");
        assert!(m.size > 0 && m.size % P == 0 && m.base + m.size <= USER_END, "region walk: bad RegionSize {m:?}");
        out.push(m);
        a = m.base + m.size;
        assert!(out.len() < 100_000, "region walk does not end");
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Reference model of one process's private address space.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Page {
    Reserved,
    /// Committed with this protection (GUARD bit included).
    Committed(u32),
}

#[derive(Clone, Debug)]
struct Alloc {
    size: u64,
    alloc_prot: u32,
    pages: Vec<Page>,
}

#[derive(Default)]
struct Space {
    /// Allocations made by the test, by base.
    allocs: BTreeMap<u64, Alloc>,
    /// Regions that existed before the test started (e.g. KUSER_SHARED_DATA, F6): never touched.
    foreign: Vec<(u64, u64)>,
    /// Page contents; an absent committed page reads as zeros (F13).
    bytes: HashMap<u64, Box<[u8; 4096]>>,
}

impl Space {
    fn containing(&self, addr: u64) -> Option<u64> {
        self.allocs.range(..=addr).next_back().filter(|(b, a)| addr < **b + a.size).map(|(b, _)| *b)
    }

    fn touches_foreign(&self, start: u64, end: u64) -> bool {
        self.foreign.iter().any(|&(s, e)| start < e && s < end)
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.touches_foreign(start, end)
            || self.allocs.range(..end).next_back().is_some_and(|(b, a)| b + a.size > start)
    }

    fn page(&self, page: u64) -> Option<Page> {
        let base = self.containing(page)?;
        Some(self.allocs[&base].pages[((page - base) / P) as usize])
    }

    fn insert(&mut self, base: u64, size: u64, alloc_prot: u32, committed: bool) {
        let n = size / P;
        for i in 0..n {
            self.bytes.remove(&(base + i * P));
        }
        let page = if committed { Page::Committed(alloc_prot) } else { Page::Reserved };
        self.allocs.insert(base, Alloc { size, alloc_prot, pages: vec![page; n as usize] });
    }

    /// F7, F14, F15, F32, F33: what a MEM_RESERVE (± MEM_COMMIT) call must do.
    /// `Ok(None)` = the system chooses the address.
    fn plan_reserve(&self, at: Option<u64>, size: u64, prot: u32) -> Result<Option<(u64, u64)>, Errs> {
        if size == 0 || !mask_ok(prot) {
            return Err(E87);
        }
        match at {
            None if writecopy(prot) => Err(E87), // F33
            None => Ok(None),
            Some(a) => {
                let base = a & !(G - 1); // F14: start down to 64 KiB
                let end = round_up(a + size, P); // F14: end up to a page
                match (self.overlaps(base, end), writecopy(prot)) {
                    (true, true) => Err(E87_OR_487),
                    (true, false) => Err(E487), // F15
                    (false, true) => Err(E87),  // F33
                    (false, false) => Ok(Some((base, end - base))),
                }
            }
        }
    }

    /// F20–F26: MEM_COMMIT at an explicit address. Returns the page-rounded address.
    fn commit(&mut self, addr: u64, size: u64, prot: u32) -> Result<u64, Errs> {
        if size == 0 || !mask_ok(prot) {
            return Err(E87);
        }
        let bad_address = if writecopy(prot) { E87_OR_487 } else { E487 };
        let start = addr & !(P - 1); // F21
        let end = round_up(addr + size, P);
        let base = self.containing(start).ok_or(bad_address)?; // F26
        let alloc = self.allocs.get_mut(&base).unwrap();
        if end > base + alloc.size {
            return Err(bad_address); // F24, F25: all or nothing
        }
        if writecopy(prot) {
            return Err(E87); // F32
        }
        for page in (start..end).step_by(P as usize) {
            let i = ((page - base) / P) as usize;
            if alloc.pages[i] == Page::Reserved {
                self.bytes.remove(&page); // F13
            }
            alloc.pages[i] = Page::Committed(prot); // F22, F23: protection replaced
        }
        Ok(start)
    }

    /// F53, F59, F60, F61, F65: MEM_DECOMMIT.
    fn decommit(&mut self, addr: u64, size: u64) -> Result<(), Errs> {
        let (start, end) = if size == 0 {
            let base = self.containing(addr & !(P - 1)).ok_or(E487)?;
            if addr >= base + P {
                return Err(E487); // F59: FREE_VM_NOT_AT_BASE
            }
            (base, base + self.allocs[&base].size)
        } else {
            let start = addr & !(P - 1);
            let end = round_up(addr + size, P);
            let base = self.containing(start).ok_or(E487)?; // F65
            if end > base + self.allocs[&base].size {
                return Err(E87); // F61: UNABLE_TO_FREE_VM
            }
            (start, end)
        };
        let base = self.containing(start).unwrap();
        let alloc = self.allocs.get_mut(&base).unwrap();
        for page in (start..end).step_by(P as usize) {
            alloc.pages[((page - base) / P) as usize] = Page::Reserved;
            self.bytes.remove(&page);
        }
        Ok(())
    }

    /// F54, F55, F57, F58, F65: MEM_RELEASE through VirtualFree.
    fn release(&mut self, addr: u64, size: u64) -> Result<(), Errs> {
        if size != 0 {
            return Err(E87); // F54
        }
        let base = self.containing(addr & !(P - 1)).ok_or(E487)?; // F65
        if addr >= base + P {
            return Err(E487); // F58
        }
        let alloc = self.allocs.remove(&base).unwrap();
        for i in 0..alloc.size / P {
            self.bytes.remove(&(base + i * P));
        }
        Ok(())
    }

    /// F72–F79: VirtualProtect. Returns the old protection of the first page.
    fn protect(&mut self, addr: u64, size: u64, prot: u32) -> Result<u32, Errs> {
        if !mask_ok(prot) {
            return Err(E87); // F74, F75
        }
        let start = addr & !(P - 1);
        let end = round_up(addr + size, P);
        let base = self.containing(start).ok_or(E487)?;
        let alloc = self.allocs.get_mut(&base).unwrap();
        if end > base + alloc.size {
            return Err(E487); // F79
        }
        if writecopy(prot) {
            return Err(E87); // F74: private memory
        }
        let range = ((start - base) / P) as usize..((end - base) / P) as usize;
        if alloc.pages[range.clone()].contains(&Page::Reserved) {
            return Err(E487); // F73
        }
        let Page::Committed(old) = alloc.pages[range.start] else { unreachable!() };
        for p in &mut alloc.pages[range] {
            *p = Page::Committed(prot);
        }
        Ok(old) // F72
    }

    /// F91–F97: the process's own access of `len` bytes at `addr`, page by page in address
    /// order. Access rights are checked before the guard bit: a write to a READONLY|GUARD page
    /// is an access violation (F93) and leaves the guard armed — NT's MiAccessCheck: "if both an
    /// access violation and a guard page violation could occur for the page, the access
    /// violation must be returned". A guard hit clears that page's guard bit (F96); a failed
    /// access changes nothing else.
    fn access(&mut self, addr: u64, len: u64, write: bool) -> Result<(), (i32, u64)> {
        if len == 0 {
            return Ok(()); // An empty access touches nothing: no fault, no guard fired (item 8).
        }
        let mut page = addr & !(P - 1);
        while page < addr + len {
            let fault = addr.max(page);
            match self.page(page) {
                None | Some(Page::Reserved) => return Err((STATUS_ACCESS_VIOLATION, fault)),
                Some(Page::Committed(prot)) => {
                    let base = prot & !PAGE_GUARD;
                    let allowed = if write {
                        matches!(base, PAGE_READWRITE | PAGE_EXECUTE_READWRITE)
                    } else {
                        matches!(
                            base,
                            PAGE_READONLY | PAGE_READWRITE | PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE
                        )
                    };
                    if !allowed {
                        return Err((STATUS_ACCESS_VIOLATION, fault));
                    }
                    if prot & PAGE_GUARD != 0 {
                        let b = self.containing(page).unwrap();
                        self.allocs.get_mut(&b).unwrap().pages[((page - b) / P) as usize] = Page::Committed(base); // F96: one shot
                        return Err((STATUS_GUARD_PAGE_VIOLATION, fault));
                    }
                }
            }
            page += P;
        }
        Ok(())
    }

    fn read_bytes(&self, addr: u64, len: u64) -> Vec<u8> {
        (addr..addr + len).map(|a| self.bytes.get(&(a & !(P - 1))).map_or(0, |pg| pg[(a % P) as usize])).collect()
    }

    fn write_bytes(&mut self, addr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = addr + i as u64;
            let pg = self.bytes.entry(a & !(P - 1)).or_insert_with(|| Box::new([0u8; 4096]));
            pg[(a % P) as usize] = *b;
        }
    }

    /// F82–F88: what VirtualQuery must report at `addr`; None inside a foreign region.
    fn query(&self, addr: u64) -> Option<Mbi> {
        let page = addr & !(P - 1);
        if let Some(base) = self.containing(page) {
            let a = &self.allocs[&base];
            let first = ((page - base) / P) as usize;
            let run = a.pages[first..].iter().take_while(|p| **p == a.pages[first]).count();
            let (state, protect) = match a.pages[first] {
                Page::Reserved => (MEM_RESERVE, 0), // F82: Protect 0
                Page::Committed(prot) => (MEM_COMMIT, prot),
            };
            return Some(Mbi {
                base: page,
                alloc_base: base,
                alloc_prot: a.alloc_prot,
                size: run as u64 * P,
                state,
                protect,
                ty: MEM_PRIVATE,
            });
        }
        if self.touches_foreign(page, page + 1) {
            return None;
        }
        let next_alloc = self.allocs.range(page..).next().map_or(USER_END, |(b, _)| *b);
        let next_foreign = self.foreign.iter().filter(|(s, _)| *s > page).map(|(s, _)| *s).min().unwrap_or(USER_END);
        // F83: free pages
        Some(Mbi {
            base: page,
            alloc_base: 0,
            alloc_prot: 0,
            size: next_alloc.min(next_foreign) - page,
            state: MEM_FREE,
            protect: PAGE_NOACCESS,
            ty: 0,
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Operations of property 1.

/// Where an operation points.
#[derive(Clone, Debug)]
enum Target {
    /// NULL (system-chosen) for allocations; the window base elsewhere.
    Null,
    /// `WIN_BASE + off % WIN_SIZE`.
    Window(u64),
    /// The `idx`-th allocation of the process (mod count), plus `off % (size + 0x800)` (a little past the end, too).
    InAlloc { idx: u8, off: u64 },
    /// `back` bytes before the end of page `page` of the `idx`-th allocation: page crossings.
    PageEnd { idx: u8, page: u8, back: u8 },
}

#[derive(Clone, Copy, Debug)]
enum Prot {
    Valid { idx: u8, guard: bool },
    Raw(u32),
}

impl Prot {
    fn value(self) -> u32 {
        match self {
            Prot::Valid { idx, guard } => PROTS[idx as usize % PROTS.len()] | if guard { PAGE_GUARD } else { 0 },
            Prot::Raw(v) => v,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// MEM_RESERVE, or MEM_RESERVE|MEM_COMMIT (or MEM_COMMIT alone at NULL, F12).
    Alloc {
        proc: u8,
        via: u8,
        at: Target,
        size: u64,
        prot: Prot,
        commit: bool,
        commit_only: bool,
    },
    /// MEM_COMMIT at an explicit address.
    Commit {
        proc: u8,
        via: u8,
        at: Target,
        size: u64,
        prot: Prot,
    },
    Decommit {
        proc: u8,
        via: u8,
        at: Target,
        size: u64,
    },
    Release {
        proc: u8,
        via: u8,
        at: Target,
        size: u64,
    },
    Protect {
        proc: u8,
        via: u8,
        at: Target,
        size: u64,
        prot: Prot,
    },
    Read {
        proc: u8,
        at: Target,
        len: u8,
    },
    Write {
        proc: u8,
        at: Target,
        data: Vec<u8>,
    },
    Query {
        proc: u8,
        via: u8,
        at: Target,
    },
}

/// Targets for new allocations: NULL, or the window (often 64 KiB aligned), or inside an
/// existing allocation (conflicts, F15).
fn target_new() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => Just(Target::Null),
        2 => (0..WIN_SIZE).prop_map(Target::Window),
        3 => (0..WIN_SIZE / G).prop_map(|g| Target::Window(g * G)),
        2 => (any::<u8>(), 0u64..0x40000).prop_map(|(idx, off)| Target::InAlloc { idx, off }),
    ]
}

/// Targets for operations on existing memory: mostly inside (or just past) an allocation.
fn target_in() -> impl Strategy<Value = Target> {
    prop_oneof![
        1 => (0..WIN_SIZE).prop_map(Target::Window),
        6 => (any::<u8>(), 0u64..0x40000).prop_map(|(idx, off)| Target::InAlloc { idx, off }),
        3 => (any::<u8>(), 0u8..16, 1u8..=8).prop_map(|(idx, page, back)| Target::PageEnd { idx, page, back }),
    ]
}

/// Sizes for commits, decommits and protections: mostly a few pages.
fn small_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        5 => 1u64..=0x3000,
        3 => (1u64..=4).prop_map(|n| n * P),
        1 => size(),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        4 => 1u64..=0x8000,
        4 => (1u64..=0x30).prop_map(|n| n * P),
        1 => (1u64..=3).prop_map(|n| n * G),
    ]
}

fn prot() -> impl Strategy<Value = Prot> {
    prop_oneof![
        12 => (0u8..5, prop::bool::weighted(0.2)).prop_map(|(idx, guard)| Prot::Valid { idx, guard }),
        1 => prop_oneof![
            Just(0u32),
            Just(PAGE_WRITECOPY),
            Just(PAGE_EXECUTE_WRITECOPY),
            Just(PAGE_READONLY | PAGE_READWRITE),
            Just(PAGE_NOACCESS | PAGE_GUARD),
        ]
        .prop_map(Prot::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let p = || any::<u8>();
    prop_oneof![
        4 => (p(), p(), target_new(), size(), prot(), prop::bool::weighted(0.6), any::<bool>()).prop_map(
            |(proc, via, at, size, prot, commit, commit_only)| Op::Alloc { proc, via, at, size, prot, commit, commit_only }
        ),
        4 => (p(), p(), target_in(), small_size(), prot()).prop_map(|(proc, via, at, size, prot)| Op::Commit { proc, via, at, size, prot }),
        2 => (p(), p(), target_in(), small_size()).prop_map(|(proc, via, at, size)| Op::Decommit { proc, via, at, size }),
        1 => (p(), p(), target_in(), prop_oneof![9 => Just(0u64), 1 => 1u64..0x20000])
            .prop_map(|(proc, via, at, size)| Op::Release { proc, via, at, size }),
        3 => (p(), p(), target_in(), small_size(), prot()).prop_map(|(proc, via, at, size, prot)| Op::Protect { proc, via, at, size, prot }),
        4 => (p(), target_in(), 0u8..=16).prop_map(|(proc, at, len)| Op::Read { proc, at, len }),
        4 => (p(), target_in(), vec(1u8..=255, 0..=16)).prop_map(|(proc, at, data)| Op::Write { proc, at, data }),
        1 => (p(), p(), target_in()).prop_map(|(proc, via, at)| Op::Query { proc, via, at }),
    ]
}

// ------------------------------------------------------------------------------------------------
// Driver of property 1.

struct World {
    sys: System,
    pids: Vec<ProcessId>,
    /// handles[via][target]: the pseudo handle for itself, an OpenProcess handle otherwise.
    handles: Vec<Vec<HANDLE>>,
    spaces: Vec<Space>,
}

impl World {
    fn new(n: usize) -> Self {
        let mut sys = new_system();
        let pids: Vec<ProcessId> =
            (0..n).map(|i| sys.create_process(&format!("p{i}")).expect("create_process")).collect();
        let mut handles = Vec::new();
        for via in 0..n {
            let mut k = Kernel32::new(&mut sys, pids[via]);
            let row = (0..n)
                .map(|t| {
                    if t == via {
                        k.GetCurrentProcess()
                    } else {
                        let h = k.OpenProcess(PROCESS_ALL_ACCESS, 0, u32::from(pids[t]));
                        assert!(!h.is_null(), "OpenProcess failed: {}", k.GetLastError());
                        h
                    }
                })
                .collect();
            handles.push(row);
        }
        let mut spaces = Vec::new();
        for &pid in &pids {
            let mut k = Kernel32::new(&mut sys, pid);
            let foreign: Vec<(u64, u64)> =
                walk(&mut k).into_iter().filter(|m| m.state != MEM_FREE).map(|m| (m.base, m.base + m.size)).collect();
            let space = Space { foreign, ..Space::default() };
            assert!(
                !space.touches_foreign(WIN_BASE, WIN_BASE + WIN_SIZE),
                "a new process already uses the test window: {:x?}",
                space.foreign
            );
            spaces.push(space);
        }
        World { sys, pids, handles, spaces }
    }

    /// The process an operation on existing memory goes to: `proc`, or the next one that has
    /// allocations (so that fewer operations hit an empty address space).
    fn pick(&self, proc: u8) -> usize {
        let np = self.pids.len();
        let t = proc as usize % np;
        (0..np).map(|i| (t + i) % np).find(|&i| !self.spaces[i].allocs.is_empty()).unwrap_or(t)
    }

    fn k(&mut self, i: usize) -> Kernel32<'_> {
        Kernel32::new(&mut self.sys, self.pids[i])
    }

    fn resolve(&self, t: usize, at: &Target) -> u64 {
        let space = &self.spaces[t];
        let nth = |idx: u8| {
            let n = space.allocs.len();
            (n > 0).then(|| space.allocs.iter().nth(idx as usize % n).map(|(b, a)| (*b, a.size)).unwrap())
        };
        match *at {
            Target::Null => WIN_BASE,
            Target::Window(off) => WIN_BASE + off % WIN_SIZE,
            Target::InAlloc { idx, off } => match nth(idx) {
                Some((b, s)) => b + off % (s + 0x800),
                None => WIN_BASE + off % WIN_SIZE,
            },
            Target::PageEnd { idx, page, back } => match nth(idx) {
                Some((b, s)) => b + (u64::from(page) % (s / P)) * P + P - u64::from(back),
                None => WIN_BASE + u64::from(page) * P + P - u64::from(back),
            },
        }
    }

    fn step(&mut self, op: &Op, ctx: &str) {
        let np = self.pids.len();
        match op {
            Op::Alloc { proc, via, at, size, prot, commit, commit_only } => {
                let (t, v) = (*proc as usize % np, *via as usize % np);
                let addr = match at {
                    Target::Null => None,
                    _ => Some(self.resolve(t, at)),
                };
                if let Some(a) = addr {
                    if self.spaces[t].touches_foreign(a & !(G - 1), round_up(a + size + 1, P)) {
                        return;
                    }
                }
                let prot = prot.value();
                let ty = match (commit, addr.is_none() && *commit_only) {
                    (false, _) => MEM_RESERVE,
                    (true, true) => MEM_COMMIT, // F12
                    (true, false) => MEM_RESERVE | MEM_COMMIT,
                };
                let plan = self.spaces[t].plan_reserve(addr, *size, prot);
                let h = self.handles[v][t];
                let (ret, err) = {
                    let mut k = self.k(v);
                    k.SetLastError(SENTINEL_ERROR);
                    let ret = k.VirtualAllocEx(h, addr.unwrap_or(0), *size, ty, prot);
                    (ret, k.GetLastError())
                };
                let call = format!(
                    "{ctx}: VirtualAllocEx(p{t} via p{v}, {:#x}, {size:#x}, {ty:#x}, {prot:#x}) = {ret:#x}, error {err}",
                    addr.unwrap_or(0)
                );
                match plan {
                    Err(e) => {
                        assert_eq!(ret, 0, "{call}: expected failure");
                        assert!(e.contains(&err), "{call}: wrong last error, expected one of {e:?}");
                    }
                    Ok(Some((base, sz))) => {
                        assert_eq!(ret, base, "{call}: expected base {base:#x} (F14)");
                        self.spaces[t].insert(base, sz, prot, *commit);
                    }
                    Ok(None) => {
                        let sz = round_up(*size, P); // F10
                        assert_ne!(ret, 0, "{call}: NULL-address allocation failed");
                        assert_eq!(ret % G, 0, "{call}: system-chosen base not 64 KiB aligned (F9)");
                        assert!(ret >= MIN_APP && ret + sz <= USER_END, "{call}: outside user space");
                        assert!(!self.spaces[t].overlaps(ret, ret + sz), "{call}: placed over an existing allocation");
                        self.spaces[t].insert(ret, sz, prot, *commit);
                    }
                }
            }
            Op::Commit { proc, via, at, size, prot } => {
                let (t, v) = (self.pick(*proc), *via as usize % np);
                let addr = self.resolve(t, at);
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + size + 1, P)) {
                    return;
                }
                let prot = prot.value();
                let expect = self.spaces[t].commit(addr, *size, prot);
                let h = self.handles[v][t];
                let mut k = self.k(v);
                k.SetLastError(SENTINEL_ERROR);
                let ret = k.VirtualAllocEx(h, addr, *size, MEM_COMMIT, prot);
                let err = k.GetLastError();
                let call = format!(
                    "{ctx}: VirtualAllocEx(p{t} via p{v}, {addr:#x}, {size:#x}, MEM_COMMIT, {prot:#x}) = {ret:#x}, error {err}"
                );
                match expect {
                    Ok(base) => assert_eq!(ret, base, "{call}: expected {base:#x} (F20-F23)"),
                    Err(e) => {
                        assert_eq!(ret, 0, "{call}: expected failure (F24-F26, F32)");
                        assert!(e.contains(&err), "{call}: wrong last error, expected one of {e:?}");
                    }
                }
            }
            Op::Decommit { proc, via, at, size } => {
                let (t, v) = (self.pick(*proc), *via as usize % np);
                let addr = self.resolve(t, at);
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + size + 1, P)) {
                    return;
                }
                let expect = self.spaces[t].decommit(addr, *size);
                let h = self.handles[v][t];
                let mut k = self.k(v);
                k.SetLastError(SENTINEL_ERROR);
                let ret = k.VirtualFreeEx(h, addr, *size, MEM_DECOMMIT);
                let err = k.GetLastError();
                let call = format!(
                    "{ctx}: VirtualFreeEx(p{t} via p{v}, {addr:#x}, {size:#x}, MEM_DECOMMIT) = {ret}, error {err}"
                );
                check_bool(&call, ret, err, expect.map(|()| 0));
            }
            Op::Release { proc, via, at, size } => {
                let (t, v) = (self.pick(*proc), *via as usize % np);
                let addr = self.resolve(t, at);
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + size + 1, P)) {
                    return;
                }
                let expect = self.spaces[t].release(addr, *size);
                let h = self.handles[v][t];
                let mut k = self.k(v);
                k.SetLastError(SENTINEL_ERROR);
                let ret = k.VirtualFreeEx(h, addr, *size, MEM_RELEASE);
                let err = k.GetLastError();
                let call = format!(
                    "{ctx}: VirtualFreeEx(p{t} via p{v}, {addr:#x}, {size:#x}, MEM_RELEASE) = {ret}, error {err}"
                );
                check_bool(&call, ret, err, expect.map(|()| 0));
            }
            Op::Protect { proc, via, at, size, prot } => {
                let (t, v) = (self.pick(*proc), *via as usize % np);
                let addr = self.resolve(t, at);
                let size = (*size).max(1);
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + size + 1, P)) {
                    return;
                }
                let prot = prot.value();
                let expect = self.spaces[t].protect(addr, size, prot);
                let h = self.handles[v][t];
                let mut k = self.k(v);
                k.SetLastError(SENTINEL_ERROR);
                let mut old = SENTINEL_ERROR;
                let ret = k.VirtualProtectEx(h, addr, size, prot, Some(&mut old));
                let err = k.GetLastError();
                let call = format!(
                    "{ctx}: VirtualProtectEx(p{t} via p{v}, {addr:#x}, {size:#x}, {prot:#x}) = {ret}, old {old:#x}, error {err}"
                );
                check_bool(&call, ret, err, expect);
                if let Ok(o) = expect {
                    assert_eq!(old, o, "{call}: old protection must be the first page's (F72, F78)");
                }
            }
            Op::Read { proc, at, len } => {
                let t = self.pick(*proc);
                let addr = self.resolve(t, at);
                let len = u64::from(*len);
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + len + 1, P)) {
                    return;
                }
                let expect = self.spaces[t].access(addr, len, false);
                let mut buf = vec![0xCCu8; len as usize];
                let got = self.k(t).read(addr, &mut buf);
                let call = format!("{ctx}: p{t} read({addr:#x}, {len})");
                match expect {
                    Ok(()) => {
                        let want = self.spaces[t].read_bytes(addr, len);
                        assert!(got.is_ok(), "{call}: unexpected exception {}", show_exc(&got));
                        assert_eq!(buf, want, "{call}: wrong bytes (F13, F77)");
                    }
                    Err((code, fa)) => check_exception(&call, &got, code, fa, 0),
                }
            }
            Op::Write { proc, at, data } => {
                let t = self.pick(*proc);
                let addr = self.resolve(t, at);
                let len = data.len() as u64;
                if self.spaces[t].touches_foreign(addr & !(G - 1), round_up(addr + len + 1, P)) {
                    return;
                }
                let expect = self.spaces[t].access(addr, len, true);
                let got = self.k(t).write(addr, data);
                let call = format!("{ctx}: p{t} write({addr:#x}, {data:02x?})");
                match expect {
                    Ok(()) => {
                        assert!(got.is_ok(), "{call}: unexpected exception {}", show_exc(&got));
                        self.spaces[t].write_bytes(addr, data);
                    }
                    Err((code, fa)) => check_exception(&call, &got, code, fa, 1),
                }
            }
            Op::Query { proc, via, at } => {
                let (t, v) = (self.pick(*proc), *via as usize % np);
                let addr = self.resolve(t, at);
                let Some(want) = self.spaces[t].query(addr) else {
                    return;
                };
                let h = self.handles[v][t];
                let mut k = self.k(v);
                let mut m = MEMORY_BASIC_INFORMATION64::default();
                let r = k.VirtualQueryEx(h, addr, &mut m);
                let call = format!("{ctx}: VirtualQueryEx(p{t} via p{v}, {addr:#x})");
                assert_eq!(r, MBI_SIZE, "{call}: failed, error {}", k.GetLastError());
                assert_eq!(Mbi::from(&m), want, "{call} (F82-F88)");
            }
        }
    }

    /// VirtualQuery walk over the window and every allocation of every process (F82–F88).
    fn verify(&mut self, ctx: &str) {
        for t in 0..self.pids.len() {
            let mut ranges = vec![(WIN_BASE, WIN_BASE + WIN_SIZE)];
            ranges.extend(
                self.spaces[t]
                    .allocs
                    .iter()
                    .map(|(b, a)| (*b, *b + a.size))
                    .filter(|&(b, e)| !(b >= WIN_BASE && e <= WIN_BASE + WIN_SIZE)),
            );
            let pid = self.pids[t];
            let space = &self.spaces[t];
            let mut k = Kernel32::new(&mut self.sys, pid);
            for (start, end) in ranges {
                let mut a = start;
                while a < end {
                    let Some(want) = space.query(a) else {
                        let (_, fe) = *space.foreign.iter().find(|(s, e)| *s <= a && a < *e).unwrap();
                        a = fe;
                        continue;
                    };
                    let (r, got) = query(&mut k, a);
                    assert_eq!(r, MBI_SIZE, "{ctx}: p{t} VirtualQuery({a:#x}) failed");
                    assert_eq!(got, want, "{ctx}: p{t} VirtualQuery({a:#x}) disagrees with the model (F82-F88)");
                    a = want.base + want.size;
                }
            }
        }
    }
}

fn check_bool(call: &str, ret: i32, err: u32, expect: Result<u32, Errs>) {
    match expect {
        Ok(_) => assert_ne!(ret, 0, "{call}: expected success"),
        Err(e) => {
            assert_eq!(ret, 0, "{call}: expected failure with error {e:?}");
            assert!(e.contains(&err), "{call}: wrong last error, expected one of {e:?}");
        }
    }
}

fn show_exc(r: &Result<(), Exception>) -> String {
    match r {
        Ok(()) => "none".to_owned(),
        Err(e) => format!(
            "{{code {:#x} address {:#x} params {} info [{:#x}, {:#x}]}}",
            e.code, e.address, e.number_parameters, e.information[0], e.information[1]
        ),
    }
}

/// F95, F96: NumberParameters 2, [0] = 0 read / 1 write, [1] = first faulting byte.
fn check_exception(call: &str, got: &Result<(), Exception>, code: i32, fault: u64, rw: u64) {
    let shown = show_exc(got);
    let Err(e) = got else { panic!("{call}: expected exception {code:#x} at {fault:#x}, got none") };
    assert_eq!(e.code, code, "{call}: exception code (F91-F96), got {shown}, want at {fault:#x}");
    assert_eq!(e.address, fault, "{call}: faulting address, got {shown}");
    assert_eq!(e.number_parameters, 2, "{call}: NumberParameters, got {shown}");
    assert_eq!(e.information, [rw, fault], "{call}: ExceptionInformation, got {shown}");
}

fn run_model(nprocs: usize, ops: &[Op]) {
    let mut w = World::new(nprocs);
    w.verify("initial state");
    for (i, op) in ops.iter().enumerate() {
        let ctx = format!("step {i} {op:?}");
        w.step(op, &ctx);
        w.verify(&ctx);
    }
}

// ------------------------------------------------------------------------------------------------
// Property 2: arbitrary requests.

const INTERESTING_ADDRS: [u64; 22] = [
    0,
    1,
    0xFFF,
    0x1000,
    0xF000,
    0xFFFF,
    0x1_0000,
    0x1_0001,
    0x7FFE_0000,
    0x7FFE_1000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x7FFF_FFFE_0000,
    0x7FFF_FFFE_F000,
    MAX_APP,
    USER_END,
    0x7FFF_FFFF_FFFF,
    0x8000_0000_0000,
    0xFFFF_8000_0000_0000,
    u64::MAX - 0xFFF,
    u64::MAX - 0x1_0000,
    u64::MAX,
];

const INTERESTING_SIZES: [u64; 23] = [
    0,
    1,
    0xFFF,
    0x1000,
    0x1001,
    0xFFFF,
    0x1_0000,
    0x1_0001,
    0x200_0000, // half the RAM
    0x400_0000, // all the RAM: beyond the commit limit with what is already committed
    0x800_0000,
    0x4000_0000,
    0x1_0000_0000,
    1 << 40,
    0x7FFF_FFFE_0000,
    MAX_APP,
    USER_END,
    0x8000_0000_0000,
    0xFFFF_8000_0000_0000,
    u64::MAX - 0x1000,
    u64::MAX - 0xFFF,
    u64::MAX - 1,
    u64::MAX,
];

const TYPE_BITS: [u32; 17] = [
    MEM_COMMIT,
    MEM_RESERVE,
    MEM_DECOMMIT, // = MEM_REPLACE_PLACEHOLDER
    MEM_RELEASE,
    MEM_FREE,
    0x0004_0000, // MEM_RESERVE_PLACEHOLDER
    0x0008_0000, // MEM_RESET
    0x0010_0000, // MEM_TOP_DOWN
    MEM_WRITE_WATCH,
    0x0040_0000, // MEM_PHYSICAL
    0x0100_0000, // MEM_RESET_UNDO
    0x2000_0000, // MEM_LARGE_PAGES
    0x4000_0000, // AT_ROUND_TO_PAGE
    0x8000_0000, // MEM_4MB_PAGES
    0x0000_0001, // MEM_COALESCE_PLACEHOLDERS
    0x0000_0002, // MEM_PRESERVE_PLACEHOLDER
    0x0000_0800,
];

const PROT_BITS: [u32; 12] = [
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_WRITECOPY,
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE_WRITECOPY,
    PAGE_GUARD,
    0x200,       // PAGE_NOCACHE
    0x400,       // PAGE_WRITECOMBINE
    0x4000_0000, // PAGE_TARGETS_INVALID
];

/// Win32 errors a failing call may report.
const KNOWN_ERRORS: [u32; 14] = [5, 6, 8, 50, 87, 158, 487, 998, 1314, 1450, 1453, 1454, 1455, 0x8000_0001];

#[derive(Clone, Copy, Debug)]
enum AddrG {
    Any(u64),
    Interesting(usize),
    /// Near the base of one of the setup allocations.
    Near(u8, i64),
}

#[derive(Clone, Copy, Debug)]
enum SizeG {
    Any(u64),
    Interesting(usize),
    Small(u64),
}

#[derive(Clone, Copy, Debug)]
enum Call {
    Alloc,
    Free,
    Protect,
    ProtectNullOld,
    Query,
    Lock,
    Unlock,
}

#[derive(Clone, Debug)]
struct Req {
    call: Call,
    addr: AddrG,
    size: SizeG,
    ty: u32,
    prot: u32,
}

/// Plausible allocation types: the accepted combinations and near misses (F27–F30, F45–F50).
const ALLOC_TYPES: [u32; 14] = [
    MEM_COMMIT,
    MEM_RESERVE,
    MEM_RESERVE | MEM_COMMIT,
    0x0008_0000,               // MEM_RESET
    0x0100_0000,               // MEM_RESET_UNDO
    MEM_RESERVE | 0x0010_0000, // | MEM_TOP_DOWN
    MEM_COMMIT | 0x0010_0000,  // | MEM_TOP_DOWN
    MEM_RESERVE | MEM_WRITE_WATCH,
    MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH,
    MEM_RESERVE | 0x0040_0000,               // | MEM_PHYSICAL
    MEM_RESERVE | MEM_COMMIT | 0x2000_0000,  // | MEM_LARGE_PAGES
    MEM_RESERVE | 0x0004_0000,               // | MEM_RESERVE_PLACEHOLDER
    MEM_RESERVE | MEM_COMMIT | MEM_DECOMMIT, // | MEM_REPLACE_PLACEHOLDER
    MEM_COMMIT | 0x0008_0000,                // MEM_RESET with another flag (F45)
];

/// Plausible free types (F51–F56, F179, F180).
const FREE_TYPES: [u32; 7] = [
    MEM_DECOMMIT,
    MEM_RELEASE,
    MEM_RELEASE | MEM_DECOMMIT,
    MEM_FREE,
    MEM_RELEASE | 0x0000_0001, // | MEM_COALESCE_PLACEHOLDERS
    MEM_RELEASE | 0x0000_0002, // | MEM_PRESERVE_PLACEHOLDER
    0,
];

/// The accepted protections (F32), with and without modifiers.
const PROT_COMBOS: [u32; 12] = [
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_READWRITE | PAGE_GUARD,
    PAGE_READONLY | PAGE_GUARD,
    PAGE_READWRITE | 0x200, // | PAGE_NOCACHE
    PAGE_READONLY | 0x400,  // | PAGE_WRITECOMBINE
    PAGE_WRITECOPY,
    PAGE_EXECUTE_READWRITE | 0x4000_0000, // | PAGE_TARGETS_INVALID
];

/// Any u32, an OR of up to three flags of `table`, or one of `combos`.
fn bits(table: &'static [u32], combos: &'static [u32]) -> impl Strategy<Value = u32> {
    prop_oneof![
        1 => any::<u32>(),
        2 => vec(0..table.len(), 0..=3).prop_map(move |ix| ix.iter().fold(0, |acc, i| acc | table[*i])),
        5 => (0..combos.len()).prop_map(move |i| combos[i]),
    ]
}

fn addr_g() -> impl Strategy<Value = AddrG> {
    prop_oneof![
        1 => any::<u64>().prop_map(AddrG::Any),
        1 => Just(AddrG::Interesting(0)), // NULL
        2 => (0..INTERESTING_ADDRS.len()).prop_map(AddrG::Interesting),
        2 => any::<u8>().prop_map(|i| AddrG::Near(i, 0)),
        8 => (any::<u8>(), prop_oneof![(-0x20i64..0x50).prop_map(|p| p * 0x1000), -0x2_0000i64..0x5_0000])
            .prop_map(|(i, d)| AddrG::Near(i, d)),
    ]
}

fn size_g() -> impl Strategy<Value = SizeG> {
    prop_oneof![
        1 => any::<u64>().prop_map(SizeG::Any),
        2 => (0..INTERESTING_SIZES.len()).prop_map(SizeG::Interesting),
        2 => Just(SizeG::Small(0)),
        7 => prop_oneof![0u64..0x4_0000, (0u64..0x40).prop_map(|n| n * P)].prop_map(SizeG::Small),
    ]
}

fn req() -> impl Strategy<Value = Req> {
    let ty_alloc = || bits(&TYPE_BITS, &ALLOC_TYPES);
    let ty_free = || bits(&TYPE_BITS, &FREE_TYPES);
    let prot = || bits(&PROT_BITS, &PROT_COMBOS);
    let with = |call: Call| move |(addr, size, ty, prot)| Req { call, addr, size, ty, prot };
    prop_oneof![
        5 => (addr_g(), size_g(), ty_alloc(), prot()).prop_map(with(Call::Alloc)),
        3 => (addr_g(), size_g(), ty_free(), Just(0)).prop_map(with(Call::Free)),
        3 => (addr_g(), size_g(), Just(0), prot()).prop_map(with(Call::Protect)),
        1 => (addr_g(), size_g(), Just(0), prot()).prop_map(with(Call::ProtectNullOld)),
        2 => (addr_g(), Just(SizeG::Small(0)), Just(0), Just(0)).prop_map(with(Call::Query)),
        2 => (addr_g(), size_g(), Just(0), Just(0)).prop_map(with(Call::Lock)),
        1 => (addr_g(), size_g(), Just(0), Just(0)).prop_map(with(Call::Unlock)),
    ]
}

#[derive(PartialEq, Debug)]
struct Snapshot {
    regions: Vec<Mbi>,
    total_page_file: u64,
    avail_page_file: u64,
    private_usage: usize,
    pagefile_usage: usize,
}

fn snapshot(k: &mut Kernel32<'_>) -> Snapshot {
    let regions = walk(k);
    let mut ms = MEMORYSTATUSEX { dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32, ..Default::default() };
    assert_ne!(k.GlobalMemoryStatusEx(&mut ms), 0, "GlobalMemoryStatusEx failed");
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX {
        cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32,
        ..Default::default()
    };
    let h = k.GetCurrentProcess();
    assert_ne!(k.GetProcessMemoryInfo(h, &mut pmc), 0, "GetProcessMemoryInfo failed");
    Snapshot {
        regions,
        total_page_file: ms.ullTotalPageFile,
        avail_page_file: ms.ullAvailPageFile,
        private_usage: pmc.PrivateUsage,
        pagefile_usage: pmc.PagefileUsage,
    }
}

/// A process with a few allocations of different shapes; returns their bases.
fn busy_process(sys: &mut System) -> (ProcessId, Vec<u64>) {
    let pid = sys.create_process("busy").expect("create_process");
    let mut k = Kernel32::new(sys, pid);
    let mut bases = Vec::new();
    let alloc = |k: &mut Kernel32<'_>, a: u64, s: u64, t: u32, p: u32| {
        let r = k.VirtualAlloc(a, s, t, p);
        assert_ne!(r, 0, "setup VirtualAlloc({a:#x}, {s:#x}, {t:#x}, {p:#x}): error {}", k.GetLastError());
        r
    };
    bases.push(alloc(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_READWRITE));
    let b = alloc(&mut k, 0, 0x2_0000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert!(k.write(b + 0x1ff0, &[7u8; 32]).is_ok(), "setup write");
    bases.push(b);
    let c = alloc(&mut k, 0x2000_0000, 0x3_0000, MEM_RESERVE, PAGE_NOACCESS);
    alloc(&mut k, c + 0x1_0000, 0x1_0000, MEM_COMMIT, PAGE_READONLY);
    let mut old = 0;
    assert_ne!(k.VirtualProtect(c + 0x1_1000, P, PAGE_EXECUTE_READ, Some(&mut old)), 0);
    alloc(&mut k, c + 0x2_0000, P, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    alloc(&mut k, c + 0x2_1000, 0x2000, MEM_COMMIT, PAGE_NOACCESS);
    bases.push(c);
    bases.push(alloc(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE));
    let e = alloc(&mut k, 0, 0x4000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    assert_ne!(k.VirtualLock(e, 0x2000), 0, "setup VirtualLock: error {}", k.GetLastError());
    bases.push(e);
    (pid, bases)
}

fn run_arbitrary(reqs: &[Req]) {
    let mut sys = new_system();
    let (pid, bases) = busy_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    for (i, r) in reqs.iter().enumerate() {
        let addr = match r.addr {
            AddrG::Any(a) => a,
            AddrG::Interesting(i) => INTERESTING_ADDRS[i],
            AddrG::Near(i, d) => bases[i as usize % bases.len()].wrapping_add_signed(d),
        };
        let size = match r.size {
            SizeG::Any(s) | SizeG::Small(s) => s,
            SizeG::Interesting(i) => INTERESTING_SIZES[i],
        };
        let (ty, prot) = (r.ty, r.prot);
        let before = snapshot(&mut k);
        k.SetLastError(SENTINEL_ERROR);
        let mut old = SENTINEL_ERROR;
        let mut m = MEMORY_BASIC_INFORMATION64::default();
        let (call, ok) = match r.call {
            Call::Alloc => {
                let ret = k.VirtualAlloc(addr, size, ty, prot);
                (format!("VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) = {ret:#x}"), ret != 0)
            }
            Call::Free => {
                let ret = k.VirtualFree(addr, size, ty);
                (format!("VirtualFree({addr:#x}, {size:#x}, {ty:#x}) = {ret}"), ret != 0)
            }
            Call::Protect => {
                let ret = k.VirtualProtect(addr, size, prot, Some(&mut old));
                (format!("VirtualProtect({addr:#x}, {size:#x}, {prot:#x}, &old) = {ret}"), ret != 0)
            }
            Call::ProtectNullOld => {
                let ret = k.VirtualProtect(addr, size, prot, None);
                assert_eq!(ret, 0, "VirtualProtect(.., NULL) must fail (F70)");
                (format!("VirtualProtect({addr:#x}, {size:#x}, {prot:#x}, NULL) = {ret}"), false)
            }
            Call::Query => {
                let ret = k.VirtualQuery(addr, &mut m);
                (format!("VirtualQuery({addr:#x}) = {ret}"), ret != 0)
            }
            Call::Lock => {
                let ret = k.VirtualLock(addr, size);
                (format!("VirtualLock({addr:#x}, {size:#x}) = {ret}"), ret != 0)
            }
            Call::Unlock => {
                let ret = k.VirtualUnlock(addr, size);
                (format!("VirtualUnlock({addr:#x}, {size:#x}) = {ret}"), ret != 0)
            }
        };
        let err = k.GetLastError();
        let ctx = format!("request {i}: {call}, error {err}");
        if let Call::Query = r.call {
            if addr <= MAX_APP {
                assert!(ok, "{ctx}: VirtualQuery below the top of user space must succeed");
                let page = addr & !(P - 1);
                let region = before
                    .regions
                    .iter()
                    .find(|g| g.base <= page && page < g.base + g.size)
                    .expect("walk covers the user space");
                let want = Mbi { base: page, size: region.base + region.size - page, ..*region };
                assert_eq!(Mbi::from(&m), want, "{ctx}: disagrees with the region walk (F84)");
            } else {
                assert!(!ok, "{ctx}: VirtualQuery above the top of user space must fail (F5)");
                assert_eq!(err, ERROR_INVALID_PARAMETER, "{ctx}: F5");
            }
        }
        if ok {
            continue;
        }
        assert_ne!(err, SENTINEL_ERROR, "{ctx}: failed without setting the last error");
        assert!(KNOWN_ERRORS.contains(&err), "{ctx}: unexpected error code");
        let after = snapshot(&mut k);
        // F98: a VirtualLock failing on a guard page clears that guard bit: the one documented
        // state change of a failing call.
        if matches!(r.call, Call::Lock) && err == 0x8000_0001 {
            continue;
        }
        if before != after {
            let diff: Vec<String> = before
                .regions
                .iter()
                .filter(|m| !after.regions.contains(m))
                .map(|m| format!("- {m:?}"))
                .chain(after.regions.iter().filter(|m| !before.regions.contains(m)).map(|m| format!("+ {m:?}")))
                .collect();
            panic!(
                "{ctx}: a failed call changed the state\nregions:\n{}\nfigures before: pf {:#x}/{:#x} private {:#x} pagefile {:#x}\nfigures after:  pf {:#x}/{:#x} private {:#x} pagefile {:#x}",
                diff.join("\n"),
                before.avail_page_file,
                before.total_page_file,
                before.private_usage,
                before.pagefile_usage,
                after.avail_page_file,
                after.total_page_file,
                after.private_usage,
                after.pagefile_usage
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// F7–F26, F32–F35, F53–F61, F65, F69–F79, F82–F88, F91–F97, F172 against the model.
    #[test]
    fn random_sequences_match_reference_model(nprocs in 2usize..=3, ops in vec(op(), 1..=60)) {
        run_model(nprocs, &ops);
    }

    /// docs/design.md, "Errors": bad input never panics and a failing call leaves every piece of state
    /// as it was (F25 all-or-nothing, F73 "no page is changed", F70 "not changed").
    #[test]
    fn arbitrary_requests_never_panic_and_fail_cleanly(reqs in vec(req(), 1..=16)) {
        run_arbitrary(&reqs);
    }
}
