//! The host side of the machine: RAM in a `memfd`, and the host mappings that are the
//! machine's second TLB.
//!
//! - RAM is one `memfd` of the machine's size, its pages allocated on the host at boot, mapped
//!   once shared for the core (its [`ntmem::System::with_ram`] backing, which the machine owns
//!   and the runtime keeps for the life of the program), so frame *f* is bytes *f*·4096 of the
//!   file.
//! - The arena: the host ranges this engine owns at Windows' user addresses, each reserved
//!   `PROT_NONE | MAP_NORESERVE` with `MAP_FIXED_NOREPLACE` (so never over anything the host
//!   placed there). Ranges are only ever added: a released allocation stays reserved on the
//!   host, inaccessible, ready for the next allocation the memory manager places there.
//! - [`HostMmu`] is the [`HostTlb`] the core tells of fills and flushes: a fill maps frame *f*
//!   of the memfd at page *p* (`MAP_SHARED | MAP_FIXED`, writable only when the PTE is dirty
//!   and writable); a flush makes the pages inaccessible again. Both act only inside owned
//!   ranges, so a host range the simulated process merely reserves (the program, its
//!   libraries, heap and stack) is never touched.
//!
//! Every host call here is a system call (`mmap`, `memfd_create`, `ftruncate`; the core's
//! mapping through `memmap2`): no stdio, no
//! allocation but the owned-range map's, which is changed only by the C ABI's calls.

use ntmem::paging::HostTlb;
use ntmem::units::{PageRange, Pfn, Vpn};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes in a page.
pub(crate) const PAGE: u64 = 4096;

/// The machine's RAM: a memfd and the core's mapping of it.
pub(crate) struct Ram {
    pub(crate) fd: i32,
}

impl Ram {
    /// A zero-filled memfd of `bytes` bytes, and a shared mapping of all of it for the core,
    /// which the machine owns (and the runtime keeps for the program's life).
    pub(crate) fn create(bytes: u64) -> Option<(Ram, memmap2::MmapMut)> {
        let len = usize::try_from(bytes).ok()?;
        // SAFETY: the name is a NUL-terminated string; memfd_create has no other input.
        let fd = unsafe { libc::memfd_create(c"ntmem-ram".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is the memfd just created; a new memfd reads as zeros up to its size.
        if unsafe { libc::ftruncate(fd, i64::try_from(bytes).ok()?) } != 0 {
            return None;
        }
        // The host allocates the RAM's pages now, at boot, as a machine's RAM exists from power-on
        // (about 60 ms for 256 MiB): a demand-zero fault then finds its frame's page in place,
        // and the host only clears it on its first use, instead of also allocating it in the
        // fault (about a sixth of the fault's cost on the host). Where the host cannot allocate
        // it all now, pages come as they are first touched instead.
        // SAFETY: fd is the memfd just created and `bytes` its size; fallocate allocates its
        // pages, which still read as zeros.
        let _ = unsafe { libc::fallocate(fd, 0, 0, i64::try_from(bytes).ok()?) };
        // The program's own mappings of the same file at its pages alias these bytes: the core
        // reads and writes them only inside calls, never across a point where the program runs.
        // SAFETY: a new shared mapping where the kernel chooses, of a file of exactly `len`
        // bytes that nothing truncates; the only other mappings of it are the program's pages
        // (aliasing: above).
        let map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(fd) }.ok()?;
        Some((Ram { fd }, map))
    }
}

/// The host ranges this engine owns (start → end, byte addresses, page-aligned).
#[derive(Default)]
pub(crate) struct Arena {
    owned: BTreeMap<u64, u64>,
}

impl Arena {
    /// True when the page at `addr` lies in an owned range.
    pub(crate) fn owns(&self, addr: u64) -> bool {
        self.owned.range(..=addr).next_back().is_some_and(|(_, &end)| addr < end)
    }

    /// The parts of `[start, end)` that are owned.
    fn owned_parts(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let first = self.owned.range(..=start).next_back().map_or(start, |(&s, _)| s);
        self.owned.range(first..end).map(|(&s, &e)| (s.max(start), e.min(end))).filter(|(s, e)| s < e).collect()
    }

    /// Owns `[start, end)` on the host: reserves with `MAP_FIXED_NOREPLACE` whatever part of
    /// it is not owned yet. False, having reserved nothing new, when the host has something
    /// there.
    pub(crate) fn take(&mut self, start: u64, end: u64) -> bool {
        let mut gaps = Vec::new();
        let mut at = start;
        for (s, e) in self.owned_parts(start, end) {
            if at < s {
                gaps.push((at, s));
            }
            at = e;
        }
        if at < end {
            gaps.push((at, end));
        }
        let mut done = Vec::new();
        for &(s, e) in &gaps {
            if reserve_noreplace(s, e - s) {
                done.push((s, e));
            } else {
                for &(s, e) in &done {
                    unmap(s, e - s);
                }
                return false;
            }
        }
        for (s, e) in gaps {
            self.insert(s, e);
        }
        true
    }

    /// Records `[start, end)` as owned, merging with neighbours.
    fn insert(&mut self, mut start: u64, mut end: u64) {
        if let Some((&s, &e)) = self.owned.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
                self.owned.remove(&s);
            }
        }
        while let Some((&s, &e)) = self.owned.range(start..=end).next() {
            end = end.max(e);
            self.owned.remove(&s);
        }
        self.owned.insert(start, end);
    }
}

/// Reserves `[at, at + len)` inaccessible, only if nothing is mapped there.
fn reserve_noreplace(at: u64, len: u64) -> bool {
    let (Ok(addr), Ok(size)) = (usize::try_from(at), usize::try_from(len)) else { return false };
    // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping: the kernel fails with EEXIST
    // where anything is mapped, so no memory the program or this library uses can change.
    let got = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            size,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if got == libc::MAP_FAILED {
        return false;
    }
    if got as u64 != at {
        // An old kernel without MAP_FIXED_NOREPLACE takes it as a hint: give it back.
        unmap(got as u64, len);
        return false;
    }
    true
}

/// Unmaps a range this module mapped.
fn unmap(at: u64, len: u64) {
    // SAFETY: only called on a range this module has just reserved itself.
    let _ = unsafe { libc::munmap(at as usize as *mut libc::c_void, len as usize) };
}

/// Makes `[at, at + len)` (owned) inaccessible: a fresh inaccessible anonymous mapping over it.
fn make_inaccessible(at: u64, len: u64) {
    // SAFETY: the range lies in the arena (checked by the caller): only pages of this engine's
    // own mappings are replaced, and the program may not reach them until filled again.
    let _ = unsafe {
        libc::mmap(
            at as usize as *mut libc::c_void,
            len as usize,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
}

/// Maps frame `pfn` of the memfd at page `at` (owned).
fn map_frame(fd: i32, at: u64, pfn: Pfn, writable: bool, executable: bool) -> bool {
    let prot =
        libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 } | if executable { libc::PROT_EXEC } else { 0 };
    let Ok(offset) = i64::try_from(pfn.as_u64() * PAGE) else { return false };
    // SAFETY: the page lies in the arena (checked by the caller), where only this engine maps;
    // the memfd is as large as RAM, so the frame's 4 KiB exist in it.
    let got = unsafe {
        libc::mmap(
            at as usize as *mut libc::c_void,
            PAGE as usize,
            prot,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            offset,
        )
    };
    got != libc::MAP_FAILED
}

/// The host state shared between the core's [`HostMmu`] and the C ABI.
pub(crate) struct Host {
    pub(crate) fd: i32,
    pub(crate) arena: Arena,
    /// The pages mapped on the host now (page numbers): a flush unmaps only these, so a
    /// flush of pages never touched costs no system call.
    pub(crate) mapped: std::collections::BTreeSet<u64>,
}

/// How many pages are mapped on the host now (the length of [`Host::mapped`]), for the
/// fault handler's check against the host's mapping limit without taking the lock.
pub(crate) static MAPPED_PAGES: AtomicU64 = AtomicU64::new(0);

/// The [`HostTlb`] of the native engine.
pub(crate) struct HostMmu(pub(crate) Arc<Mutex<Host>>);

impl HostTlb for HostMmu {
    fn fill(&mut self, vpn: Vpn, pfn: Pfn, writable: bool, executable: bool) {
        let at = vpn.as_u64() * PAGE;
        let mut host = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if host.arena.owns(at) && map_frame(host.fd, at, pfn, writable, executable) && host.mapped.insert(vpn.as_u64())
        {
            MAPPED_PAGES.store(host.mapped.len() as u64, Ordering::Relaxed);
        }
    }

    fn flush(&mut self, range: PageRange) {
        let mut host = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Runs of consecutive mapped pages, each made inaccessible by one call.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &page in host.mapped.range(range.start.as_u64()..range.end.as_u64()) {
            match runs.last_mut() {
                Some(run) if run.1 == page => run.1 = page + 1,
                _ => runs.push((page, page + 1)),
            }
        }
        for &(first, end) in &runs {
            make_inaccessible(first * PAGE, (end - first) * PAGE);
            for page in first..end {
                host.mapped.remove(&page);
            }
        }
        if !runs.is_empty() {
            MAPPED_PAGES.store(host.mapped.len() as u64, Ordering::Relaxed);
        }
    }
}

/// The host's mappings now, from `/proc/self/maps`: (start, end) of each.
pub(crate) fn host_mappings() -> Vec<(u64, u64)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    text.lines()
        .filter_map(|line| {
            let range = line.split_whitespace().next()?;
            let (s, e) = range.split_once('-')?;
            Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
        })
        .collect()
}

/// The host's limit on mappings (`vm.max_map_count`), or `NTMEM_MAX_MAP_COUNT` when set (a
/// lower limit, so that tests reach it with a few hundred pages).
pub(crate) fn max_map_count() -> u64 {
    let set = std::env::var("NTMEM_MAX_MAP_COUNT").ok().and_then(|s| s.trim().parse().ok());
    set.or_else(|| std::fs::read_to_string("/proc/sys/vm/max_map_count").ok().and_then(|s| s.trim().parse().ok()))
        .unwrap_or(65530)
}
