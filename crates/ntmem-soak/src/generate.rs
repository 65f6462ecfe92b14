//! The generator of calls: every kind of call, with good and bad arguments, aimed mostly at
//! what the processes hold (their recent reservations, page ends for page-crossing accesses)
//! and sometimes at the edges (address 0, the shared user data page, the end of user space,
//! non-canonical addresses, sizes up to the whole user range and `u64::MAX`).
//!
//! It includes the calls that found items 6–9 of issue 6: hard working-set maxima with locks,
//! NT-level partial releases followed by system-placed allocations, empty accesses, huge
//! ranges. While an item is in [`crate::KNOWN_OPEN_BUGS`] its trigger is held back here
//! (item 6: no lock in a process under a hard maximum; item 9: no range operation longer than
//! [`HUGE_CAP_WHILE_SLOW`]), or its assertion is skipped where the check is made.

// Every narrowing cast here is of a number drawn below a small bound (slots, lengths, counts).
#![allow(clippy::cast_possible_truncation)]

use ntmem_win32::*;

use crate::call::{Call, Route, Slot, Source, Target, Via};
use crate::entropy::Entropy;
use crate::files::{FILE_PAGES, GROWTH_PAGES};
use crate::model::PAGE;
use crate::sections::{BAD_HANDLE, NAMES};
use crate::soak::{Soak, USER_END};
use crate::KnownBug;

const G: u64 = 0x1_0000;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
/// While item 9 (range operations walk every page) is open, no range is longer than this.
pub const HUGE_CAP_WHILE_SLOW: u64 = GIB;

const INTERESTING_ADDRS: [u64; 12] = [
    0,
    1,
    0xFFFF,
    0x1_0000,
    0x2_0000,
    0x7FFE_0000, // KUSER_SHARED_DATA
    0x7FFE_1000,
    0x7FFF_FFFE_F000, // the last user page
    USER_END,
    1 << 47,
    u64::MAX - 0xFFF,
    u64::MAX,
];
const BAD_HANDLES: [u64; 3] = [0, 0xDEAD_BEEC, 0x7FFF_FFFF_FFFF_FFF0];
const PROTECTIONS: [u32; 10] = [
    PAGE_READWRITE,
    PAGE_READWRITE,
    PAGE_READWRITE,
    PAGE_READONLY,
    PAGE_NOACCESS,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE,
    PAGE_READWRITE | PAGE_GUARD,
    PAGE_READONLY | PAGE_GUARD,
];
const BAD_PROTECTIONS: [u32; 6] =
    [0, PAGE_WRITECOPY, PAGE_NOACCESS | PAGE_GUARD, 0x3, PAGE_READWRITE | 0x800, u32::MAX];
const ALLOC_FLAGS: [u32; 8] =
    [MEM_COMMIT, MEM_RESERVE, MEM_RESET, MEM_RESET_UNDO, MEM_TOP_DOWN, MEM_WRITE_WATCH, MEM_PHYSICAL, MEM_LARGE_PAGES];
const FREE_TYPES: [u32; 6] = [MEM_DECOMMIT, MEM_RELEASE, MEM_RELEASE, MEM_DECOMMIT | MEM_RELEASE, 0, 0x1_0000];
const WS_FLAGS: [u32; 4] = [
    QUOTA_LIMITS_HARDWS_MIN_ENABLE,
    QUOTA_LIMITS_HARDWS_MIN_DISABLE,
    QUOTA_LIMITS_HARDWS_MAX_ENABLE,
    QUOTA_LIMITS_HARDWS_MAX_DISABLE,
];

/// Kinds of call, and how often each comes (out of the sum).
const WEIGHTS: [u32; 28] = [
    14, // 0 alloc
    7,  // 1 free
    5,  // 2 protect
    3,  // 3 query
    3,  // 4 lock
    2,  // 5 unlock
    2,  // 6 get write watch
    1,  // 7 reset write watch
    14, // 8 read
    16, // 9 write
    2,  // 10 read process memory
    2,  // 11 write process memory
    1,  // 12 set working set
    1,  // 13 empty working set
    1,  // 14 query working set
    1,  // 15 create process
    1,  // 16 terminate (one in ~20 of these goes through)
    1,  // 17 inject faults
    1,  // 18 write modified
    3,  // 19 empty access
    2,  // 20 create section
    1,  // 21 open section
    3,  // 22 map view
    2,  // 23 unmap view
    1,  // 24 flush view
    2,  // 25 close section handle
    2,  // 26 read or write a mapped file
    1,  // 27 inject mapped-file faults
];

impl Soak {
    /// The next call, drawn from `e`.
    pub fn next_call(&self, e: &mut impl Entropy) -> Call {
        let alive: Vec<Slot> = (0..self.slots.len()).filter(|s| self.slots[*s].pid.is_some()).map(slot_of).collect();
        if alive.is_empty() {
            if self.create_held_back() {
                return Call::WriteModified;
            }
            return Call::CreateProcess { slot: slot_of(e.below(self.slots.len() as u64) as usize) };
        }
        let proc = e.pick(&alive);
        let p = usize::from(proc);
        match e.weighted(&WEIGHTS) {
            0 => self.gen_alloc(e, p),
            1 => {
                let via = self.via(e);
                let free_type = e.pick(&FREE_TYPES);
                let (addr, size) = if e.one_in(3) { self.alloc_start(e, p) } else { (self.addr(e, p), self.size(e)) };
                let size = if free_type == MEM_RELEASE && e.one_in(2) { 0 } else { size };
                Call::Free { proc, via, addr, size, free_type }
            }
            2 => {
                let protect = if e.one_in(12) { e.pick(&BAD_PROTECTIONS) } else { e.pick(&PROTECTIONS) };
                Call::Protect { proc, via: self.via(e), addr: self.addr(e, p), size: self.size(e), protect }
            }
            3 => Call::Query { proc, via: self.via(e), addr: self.addr(e, p) },
            4 if self.slots[p].hard_max.is_some() && self.known(KnownBug::Item6LockUnderHardMaximum) => {
                Call::Unlock { proc, addr: self.addr(e, p), size: self.size(e) }
            }
            4 => Call::Lock { proc, addr: self.addr(e, p), size: self.small_size(e) },
            5 => Call::Unlock { proc, addr: self.addr(e, p), size: self.size(e) },
            6 => {
                let (addr, size) = self.watched(e, p);
                let capacity = e.pick(&[0u16, 1, 4, 64, 1024]);
                Call::GetWriteWatch { proc, addr, size, reset: e.one_in(2), capacity }
            }
            7 => {
                let (addr, size) = self.watched(e, p);
                Call::ResetWriteWatch { proc, addr, size }
            }
            8 => Call::Read { proc, addr: self.addr(e, p), len: self.len(e) },
            9 => Call::Write { proc, addr: self.addr(e, p), len: self.len(e), seed: e.next_u64() },
            10 => {
                let t = self.target(e, p);
                Call::ReadProcess { proc, target: t, addr: self.addr_of_target(e, p, t), len: self.len(e) }
            }
            11 => {
                let t = self.target(e, p);
                let addr = self.addr_of_target(e, p, t);
                Call::WriteProcess { proc, target: t, addr, len: self.len(e), seed: e.next_u64() }
            }
            12 => self.gen_working_set(e, proc),
            13 => Call::EmptyWorkingSet { proc, target: self.target(e, p) },
            14 => {
                let t = self.target(e, p);
                Call::QueryWorkingSet {
                    proc,
                    target: t,
                    addr: self.addr_of_target(e, p, t),
                    pages: e.pick(&[0u16, 1, 2, 16, 64]),
                }
            }
            15 if self.create_held_back() => Call::WriteModified,
            15 => Call::CreateProcess { slot: slot_of(e.below(self.slots.len() as u64) as usize) },
            16 if e.one_in(20) => Call::TerminateProcess { proc, target: self.target(e, p) },
            16 => Call::Query { proc, via: Via::Kernel32, addr: self.addr(e, p) },
            17 => Call::InjectFaults { reads: e.below(4) as u8, writes: e.below(4) as u8 },
            18 => Call::WriteModified,
            19 => {
                let addr =
                    if e.one_in(2) { self.watched(e, p).0.wrapping_add(e.below(8) * PAGE) } else { self.addr(e, p) };
                if e.one_in(2) {
                    Call::Write { proc, addr, len: 0, seed: 0 }
                } else {
                    Call::Read { proc, addr, len: 0 }
                }
            }
            k => self.gen_section(e, p, k),
        }
    }

    /// The section calls (kinds 20 to 27 of the weights).
    fn gen_section(&self, e: &mut impl Entropy, p: usize, kind: usize) -> Call {
        let proc = slot_of(p);
        let handles = self.slots[p].handles.len();
        let handle = |e: &mut dyn FnMut(u64) -> u64| {
            if handles == 0 || e(24) == 0 {
                BAD_HANDLE
            } else {
                e(handles as u64) as u8
            }
        };
        match kind {
            20 | 25 if handles >= 8 => Call::CloseSection { proc, handle: handle(&mut |n| e.below(n)) },
            20 if e.one_in(5) => self.gen_image_section(e, proc),
            20 => {
                let file = (!e.one_in(2)).then(|| e.below(FILE_PAGES.len() as u64) as u8);
                let mut protect = match e.weighted(&[6, 2, 1, 1]) {
                    0 => PAGE_READWRITE,
                    1 => PAGE_READONLY,
                    2 => PAGE_WRITECOPY,
                    _ => e.pick(&[PAGE_NOACCESS, PAGE_EXECUTE_READWRITE, PAGE_READWRITE | PAGE_GUARD, 0]),
                };
                if file.is_none() && e.one_in(3) {
                    protect |= SEC_RESERVE;
                } else if e.one_in(4) {
                    protect |= SEC_COMMIT;
                }
                let size = match file {
                    // Now and then past the file's first size: a writable section grows it.
                    Some(f) if e.one_in(2) => {
                        let more = if e.one_in(8) { GROWTH_PAGES } else { 0 };
                        e.between(1, FILE_PAGES[usize::from(f)] + more) * PAGE
                    }
                    Some(_) => 0,
                    None if e.one_in(16) => 0,
                    None => e.between(1, 48) * PAGE - if e.one_in(4) { e.below(PAGE) } else { 0 },
                };
                // Now and then SEC_IMAGE on a file that is not an image, or on the page file.
                if e.one_in(32) {
                    protect = protect & !(SEC_RESERVE | SEC_COMMIT) | SEC_IMAGE;
                }
                let name = e.one_in(2).then(|| e.below(u64::from(NAMES)) as u8);
                let route = route(e);
                let source = file.map_or(Source::PageFile, Source::File);
                Call::CreateSection { proc, source, file_write: !e.one_in(8), protect, size, name, route }
            }
            21 => {
                let access = e.pick(&[FILE_MAP_ALL_ACCESS, FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY]);
                Call::OpenSection { proc, name: e.below(u64::from(NAMES)) as u8, access }
            }
            22 => {
                let handle = handle(&mut |n| e.below(n));
                let target = if e.one_in(3) { self.any_target(e) } else { Target::Current };
                let access = match e.weighted(&[5, 2, 3, 1, 1]) {
                    0 => FILE_MAP_WRITE,
                    1 => FILE_MAP_READ,
                    2 => FILE_MAP_COPY,
                    3 => FILE_MAP_ALL_ACCESS,
                    _ => FILE_MAP_READ | FILE_MAP_EXECUTE,
                };
                let offset = match e.weighted(&[12, 4, 1]) {
                    0 => 0,
                    1 => e.below(3) * G,
                    _ => e.between(1, 15) * PAGE,
                };
                let size = match e.weighted(&[4, 8, 1]) {
                    0 => 0,
                    1 => e.between(1, 20) * PAGE - if e.one_in(4) { e.below(PAGE) } else { 0 },
                    _ => e.between(21, 200) * PAGE,
                };
                let base = match e.weighted(&[12, 2, 1]) {
                    0 => 0,
                    1 => 0x2000_0000 + e.below(16) * G,
                    _ => 0x2000_0000 + e.below(16) * G + PAGE,
                };
                // Now and then through NtMapViewOfSection, with ZeroBits of every kind: a limit
                // (1 to 21), refused values (22 to 31), masks, and masks with bit 63 (F200, F205).
                let zero_bits = e.one_in(6).then(|| match e.weighted(&[2, 4, 1, 1, 1, 1]) {
                    0 => 0,
                    1 => e.between(1, 21),
                    2 => e.between(22, 31),
                    3 => 0x3FFF_FFFF,
                    4 => u64::MAX,
                    _ => 1 << 63,
                });
                Call::MapView { proc, handle, target, access, offset, size, base, zero_bits }
            }
            23 => {
                let target = if e.one_in(3) { self.any_target(e) } else { Target::Current };
                let t = match target {
                    Target::Slot(s) => usize::from(s) % self.slots.len(),
                    _ => p,
                };
                let addr = self.view_addr(e, t);
                Call::UnmapView { proc, target, addr }
            }
            24 => {
                let addr = self.view_addr(e, p);
                let size =
                    if e.one_in(3) { 0 } else { e.between(1, 8) * PAGE - if e.one_in(4) { e.below(PAGE) } else { 0 } };
                Call::FlushView { proc, addr, size }
            }
            25 => Call::CloseSection { proc, handle: handle(&mut |n| e.below(n)) },
            26 => {
                let file = e.below(FILE_PAGES.len() as u64) as u8;
                let offset = e.below(FILE_PAGES[usize::from(file)] * PAGE);
                let write = e.one_in(2).then(|| e.next_u64());
                Call::FileIo { proc, file, offset, len: self.len(e), write }
            }
            _ => Call::InjectMappedFaults { reads: e.below(3) as u8, writes: e.below(3) as u8 },
        }
    }

    /// A `SEC_IMAGE` section of the soak's PE file: mostly with the protections a loader
    /// passes and no size; now and then a size up to the image's (F206), one past it, or a
    /// protection with write, which the file (opened without write access) refuses (F128).
    fn gen_image_section(&self, e: &mut impl Entropy, proc: Slot) -> Call {
        let protect = match e.weighted(&[4, 4, 1, 1, 1]) {
            0 => PAGE_READONLY,
            1 => PAGE_EXECUTE_READ,
            2 => PAGE_WRITECOPY,
            3 => PAGE_EXECUTE_WRITECOPY,
            _ => PAGE_READWRITE,
        };
        let image = self.image.view_bytes();
        let size = match e.weighted(&[6, 2, 1]) {
            0 => 0,
            1 => e.between(1, image),
            _ => image + e.between(1, 2) * PAGE,
        };
        let name = e.one_in(2).then(|| e.below(u64::from(NAMES)) as u8);
        Call::CreateSection {
            proc,
            source: Source::Image,
            file_write: false,
            protect: protect | SEC_IMAGE,
            size,
            name,
            route: route(e),
        }
    }

    /// An address in a view of `slot` (its start, a page, a byte inside), or now and then
    /// any address.
    fn view_addr(&self, e: &mut impl Entropy, slot: usize) -> u64 {
        let views = &self.slots[slot].views;
        if views.is_empty() || e.one_in(8) {
            return self.addr(e, slot);
        }
        let v = views[e.below(views.len() as u64) as usize];
        match e.below(3) {
            0 => v.base,
            1 => v.base + e.below(v.pages) * PAGE,
            _ => v.base + e.below(v.pages * PAGE),
        }
    }

    /// Item 1 open: a process created while no frame is zeroed or free leaks its charge.
    fn create_held_back(&self) -> bool {
        let s = self.sys.stats();
        self.known(KnownBug::Item1PageTablesIgnoreStandby) && s.zeroed_pages + s.free_pages < 8
    }

    fn gen_alloc(&self, e: &mut impl Entropy, p: usize) -> Call {
        let proc = slot_of(p);
        let via = self.via(e);
        let mut flags = match e.weighted(&[6, 5, 6, 2, 1, 1, 1, 2]) {
            0 => MEM_RESERVE | MEM_COMMIT,
            1 => MEM_RESERVE,
            2 => MEM_COMMIT,
            3 => MEM_RESET,
            4 => MEM_RESET_UNDO,
            5 => MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH,
            6 => MEM_RESERVE | MEM_WRITE_WATCH,
            // Any mix, good or bad.
            _ => (0..3).fold(0, |f, _| f | e.pick(&ALLOC_FLAGS)) | if e.one_in(8) { 1 << e.below(32) } else { 0 },
        };
        if flags & MEM_RESERVE != 0 && e.one_in(6) {
            flags |= MEM_TOP_DOWN;
        }
        let protect = if e.one_in(16) { e.pick(&BAD_PROTECTIONS) } else { e.pick(&PROTECTIONS) };
        let reserve_only = flags & (MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH) == MEM_RESERVE;
        let (addr, mut size) = match flags & (MEM_RESERVE | MEM_COMMIT) {
            MEM_RESERVE | 0x3000 if e.one_in(3) => {
                (0x1000_0000 + e.below(64) * G + if e.one_in(4) { e.below(G) } else { 0 }, self.size(e))
            }
            MEM_RESERVE | 0x3000 => (if e.one_in(16) { self.addr(e, p) } else { 0 }, self.size(e)),
            _ => (self.addr(e, p), self.size(e)),
        };
        if reserve_only && e.one_in(8) {
            size = e.pick(&[GIB, TIB, USER_END - G]); // Huge reservations are O(1).
        }
        let zero_bits = if matches!(via, Via::Nt(_)) && e.one_in(8) { e.below(40) as u8 } else { 0 };
        Call::Alloc { proc, via, addr, size, flags, protect, zero_bits }
    }

    fn gen_working_set(&self, e: &mut impl Entropy, proc: Slot) -> Call {
        let t = self.target(e, usize::from(proc));
        let (minimum, maximum) = match e.weighted(&[6, 1, 1, 1]) {
            0 => {
                let max = e.between(13, 400);
                (e.between(1, max) * PAGE, max * PAGE)
            }
            1 => (u64::MAX, u64::MAX),
            2 => (0, e.below(64) * PAGE),
            _ => (e.next_u64() >> e.below(64), e.next_u64() >> e.below(64)),
        };
        let flags = match e.weighted(&[4, 2, 1, 1]) {
            0 => QUOTA_LIMITS_HARDWS_MAX_ENABLE,
            1 => QUOTA_LIMITS_HARDWS_MAX_DISABLE | QUOTA_LIMITS_HARDWS_MIN_DISABLE,
            2 => (0..2).fold(0, |f, _| f | e.pick(&WS_FLAGS)),
            _ => e.next_u64() as u32,
        };
        Call::SetWorkingSet { proc, target: t, minimum, maximum, flags }
    }

    fn via(&self, e: &mut impl Entropy) -> Via {
        match e.weighted(&[6, 2, 3]) {
            0 => Via::Kernel32,
            1 => Via::Ex(self.any_target(e)),
            _ => Via::Nt(self.any_target(e)),
        }
    }

    fn any_target(&self, e: &mut impl Entropy) -> Target {
        match e.weighted(&[6, 3, 1]) {
            0 => Target::Current,
            1 => Target::Slot(slot_of(e.below(self.slots.len() as u64) as usize)),
            _ => Target::Bad(e.pick(&BAD_HANDLES)),
        }
    }

    fn target(&self, e: &mut impl Entropy, _proc: usize) -> Target {
        self.any_target(e)
    }

    /// An address in the target's space (Current: the caller's).
    fn addr_of_target(&self, e: &mut impl Entropy, proc: usize, t: Target) -> u64 {
        match t {
            Target::Slot(s) => self.addr(e, usize::from(s) % self.slots.len()),
            _ => self.addr(e, proc),
        }
    }

    /// Where a recent reservation starts, and its size.
    fn alloc_start(&self, e: &mut impl Entropy, p: usize) -> (u64, u64) {
        let allocs = &self.slots[p].allocs;
        if allocs.is_empty() {
            return (self.addr(e, p), self.size(e));
        }
        let (b, s) = e.pick(allocs);
        // Part of it at the NT level (item 7's partial release), or all of it.
        match e.below(4) {
            0 => (b + e.below(s / PAGE) * PAGE, e.between(1, 3) * PAGE),
            _ => (b, self.cap(s)),
        }
    }

    fn watched(&self, e: &mut impl Entropy, p: usize) -> (u64, u64) {
        let w = &self.slots[p].watched;
        if w.is_empty() || e.one_in(8) {
            return (self.addr(e, p), self.size(e));
        }
        let (b, s) = e.pick(w);
        (b, self.cap(if e.one_in(3) { e.between(1, 16) * PAGE } else { s }))
    }

    fn addr(&self, e: &mut impl Entropy, p: usize) -> u64 {
        let allocs = &self.slots[p].allocs;
        let k = e.below(20);
        if !allocs.is_empty() && k < 15 {
            let (b, s) = e.pick(allocs);
            let s = s.min(64 * G);
            return match k {
                0..=9 => b + e.below(s / PAGE + 1) * PAGE,
                10..=11 => b + e.below(s),
                // The end of a page: accesses cross into the next.
                _ => b + e.below(s / PAGE).max(1) * PAGE - 1 - e.below(8),
            };
        }
        if k % 5 < 2 {
            0x1000_0000 + e.below(64) * G
        } else {
            e.pick(&INTERESTING_ADDRS)
        }
    }

    fn small_size(&self, e: &mut impl Entropy) -> u64 {
        if e.one_in(8) {
            self.size(e)
        } else {
            e.between(1, 16) * PAGE - if e.one_in(4) { e.below(PAGE) } else { 0 }
        }
    }

    fn size(&self, e: &mut impl Entropy) -> u64 {
        let s = match e.weighted(&[2, 10, 6, 3, 2, 1, 1]) {
            0 => 0,
            1 => e.between(1, 4) * PAGE - if e.one_in(4) { e.below(PAGE) } else { 0 },
            2 => e.between(1, 64) * PAGE,
            3 => e.between(1, 4) * G,
            4 => e.between(65, 2048) * PAGE,
            5 => e.pick(&[GIB, 64 * GIB, TIB]),
            _ => e.pick(&[USER_END - G, 1 << 47, u64::MAX - 0xFFF, u64::MAX]),
        };
        self.cap(s)
    }

    /// Item 9 open: huge ranges cost a walk of every page; keep them within reach.
    fn cap(&self, size: u64) -> u64 {
        if self.known(KnownBug::Item9RangeWalksEveryPage) {
            size.min(HUGE_CAP_WHILE_SLOW)
        } else {
            size
        }
    }

    /// Bytes of an access: often within a page, sometimes up to three pages.
    fn len(&self, e: &mut impl Entropy) -> u32 {
        match e.weighted(&[8, 4, 2, 1]) {
            0 => e.between(1, 16) as u32,
            1 => e.between(1, 512) as u32,
            2 => PAGE as u32,
            _ => e.between(1, 3 * PAGE) as u32,
        }
    }
}

fn slot_of(i: usize) -> Slot {
    Slot::try_from(i).unwrap_or(Slot::MAX)
}

/// Through which service a section is created: mostly `CreateFileMappingW`.
fn route(e: &mut impl Entropy) -> Route {
    match e.one_in(4).then(|| e.one_in(2)) {
        None => Route::CreateFileMapping,
        Some(false) => Route::NtCreateSection,
        Some(true) => Route::NtCreateSectionOpenIf,
    }
}
