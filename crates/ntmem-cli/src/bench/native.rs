//! The host baselines: what each figure's operation costs done natively on this machine —
//! plain loads from a `Vec`, Linux's `mmap`/`munmap`/`mprotect` with real page faults, 4 KiB
//! copies, and file I/O and file mappings through [`HostFile`] beside the paging and section
//! figures' files.
//!
//! Most of the benchmarks' unsafe code lives here, around [`Mapping`]: a private anonymous
//! mapping of the host, unmapped on drop (the rest is the fault floor's signal handler,
//! `fault_floor.rs`). Each function returns one sample in nanoseconds per
//! operation (see `timing.rs`); `figures.rs` takes them in turn with its ntmem samples.

use super::timing::{per_op, XorShift};
use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io;
use std::mem::ManuallyDrop;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;

/// The host's page size on x86-64 Linux, as on Windows.
const PAGE: usize = 4096;

/// A private anonymous mapping of the host.
pub(super) struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes (a multiple of the page size) with protection `prot`.
    pub(super) fn new(len: usize, prot: libc::c_int) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous private mapping at an address the kernel chooses aliases
        // nothing of this program; the result is checked before it is used.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Mapping { base, len })
    }

    /// Asks for 4 KiB pages only, so that a first touch is one 4 KiB demand-zero fault as in
    /// ntmem (with transparent huge pages a touch may fault in 2 MiB at once).
    fn no_huge_pages(&self) -> io::Result<()> {
        // SAFETY: the range is exactly this mapping; MADV_NOHUGEPAGE changes no contents.
        let r = unsafe { libc::madvise(self.base.as_ptr().cast(), self.len, libc::MADV_NOHUGEPAGE) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sets the protection of the pages `first..first + count` of the mapping.
    fn protect(&self, first: usize, count: usize, prot: libc::c_int) -> io::Result<()> {
        assert!(first + count <= self.len / PAGE, "pages beyond the mapping");
        // SAFETY: the range lies inside this mapping (checked above), which no Rust reference
        // points into: only `touch_page` writes it, through raw pointers.
        let r = unsafe { libc::mprotect(self.base.as_ptr().add(first * PAGE).cast(), count * PAGE, prot) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Writes one byte to page `page` of the mapping (which must be writable).
    #[inline(always)]
    fn touch_page(&self, page: usize) {
        assert!(page < self.len / PAGE, "page beyond the mapping");
        // SAFETY: the byte lies inside this live mapping (checked above) and the callers keep
        // it writable; no reference aliases it. Volatile so that the fault really happens.
        unsafe { self.base.as_ptr().add(page * PAGE).write_volatile(1) };
    }

    /// Copies `src` (one page) into page `page` of the mapping (which must be writable).
    #[inline(always)]
    fn copy_into_page(&self, page: usize, src: &[u8]) {
        assert!(page < self.len / PAGE && src.len() == PAGE, "a page beyond the mapping, or not a page");
        // SAFETY: the destination page lies inside this live mapping (checked above), which
        // the callers keep writable and no reference aliases; `src` is a page of the caller's
        // memory, not of the mapping, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.as_ptr().add(page * PAGE), PAGE) };
    }

    /// Unmaps now, reporting failure (dropping unmaps too, silently).
    fn unmap(self) -> io::Result<()> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is forgotten, so the mapping is unmapped once and never used after.
        let r = unsafe { libc::munmap(this.base.as_ptr().cast(), this.len) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and is not used after drop. An error cannot be reported
        // from here; the address range is then merely leaked.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A fresh anonymous mapping of `len` bytes (4 KiB pages), every page written once: the
/// native engine's baseline for reads of resident memory.
pub(super) fn touched_mapping(len: usize) -> anyhow::Result<Mapping> {
    let m = Mapping::new(len, libc::PROT_READ | libc::PROT_WRITE).context("mmap")?;
    m.no_huge_pages().context("madvise")?;
    for page in 0..len / PAGE {
        m.touch_page(page);
    }
    Ok(m)
}

impl Mapping {
    /// The address of the mapping's first byte.
    pub(super) fn addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// The mapping's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self` lives; only
        // `touch_page` writes it, through raw pointers, never while this slice is used.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }
}

/// The `len` bytes at `base` of the native engine's arena, which the caller committed
/// readable and keeps so for the life of the slice.
pub(super) fn arena_bytes(base: usize, len: usize) -> &'static [u8] {
    // SAFETY: the range is committed readable memory of the native engine (the caller's
    // VirtualAlloc); a page not mapped on the host faults and is mapped by the engine's
    // handler before the load retries, so every byte reads. Nothing writes it meanwhile.
    unsafe { std::slice::from_raw_parts(base as *const u8, len) }
}

/// Writes one byte to each of `pages` pages from `base` of the native engine's arena (its
/// first touches: demand-zero faults resolved by the engine).
pub(super) fn touch_arena_pages(base: usize, pages: usize) -> anyhow::Result<f64> {
    per_op(pages, || {
        for page in 0..pages {
            // SAFETY: the caller committed `pages` read-write pages at `base` (VirtualAlloc);
            // the engine's handler maps each on its first touch. Volatile: the fault happens.
            unsafe { ((base + page * PAGE) as *mut u8).write_volatile(1) };
        }
        Ok(())
    })
}

/// 8-byte loads from `memory` at `offsets[i % N]`, `reads` times: the host's counterpart of
/// TLB-hit reads (the same offsets, the same loop).
pub(super) fn loads_at<const N: usize>(memory: &[u8], offsets: &[usize; N], reads: usize) -> anyhow::Result<f64> {
    per_op(reads, || {
        for i in 0..reads {
            let off = offsets[i % N];
            black_box(load_u64(black_box(memory), off));
        }
        Ok(())
    })
}

/// `reads` 8-byte loads from `memory` (a power of two long) at offsets drawn from `rng`: the
/// host's counterpart of random reads over touched memory. Never inlined: where both sides of
/// a figure run it (`native_read_resident`), they run one copy of the loop, not one the
/// compiler specialised to a side's constant length.
#[inline(never)]
pub(super) fn random_loads(memory: &[u8], rng: XorShift, reads: usize) -> anyhow::Result<f64> {
    anyhow::ensure!(memory.len().is_power_of_two(), "the span of random loads must be a power of two");
    let mask = memory.len() as u64 - 1;
    per_op(reads, || {
        // The loop's state in locals of its own, as in ntmem's loop (`figures.rs`).
        let mut rng = rng;
        let mut sum = 0u64;
        for _ in 0..reads {
            // Below memory.len(), a usize.
            #[allow(clippy::cast_possible_truncation)]
            let off = (rng.next_u64() & mask & !7) as usize;
            sum = sum.wrapping_add(load_u64(memory, off));
        }
        black_box(sum);
        Ok::<(), anyhow::Error>(())
    })
}

/// `reads` 8-byte loads from `memory` (a power of two long), each at the next number drawn
/// from `rng` plus the value the load before read: each load waits for the one before, as a
/// pointer chase does. The host's counterpart of random reads that depend on each other.
/// Never inlined (see [`random_loads`]).
#[inline(never)]
pub(super) fn dependent_loads(memory: &[u8], rng: XorShift, reads: usize) -> anyhow::Result<f64> {
    anyhow::ensure!(memory.len().is_power_of_two(), "the span of random loads must be a power of two");
    let mask = memory.len() as u64 - 1;
    per_op(reads, || {
        // The loop's state in locals of its own, as in ntmem's loop (`figures.rs`).
        let mut rng = rng;
        let mut last = 0u64;
        for _ in 0..reads {
            // Below memory.len(), a usize.
            #[allow(clippy::cast_possible_truncation)]
            let off = (rng.next_u64().wrapping_add(last) & mask & !7) as usize;
            last = load_u64(memory, off);
        }
        black_box(last);
        Ok::<(), anyhow::Error>(())
    })
}

/// The 8 bytes at `off`.
#[inline(always)]
fn load_u64(memory: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&memory[off..off + 8]);
    u64::from_ne_bytes(b)
}

/// First touches of `pages` fresh 4 KiB pages of an anonymous mapping: one demand-zero page
/// fault each (the kernel's trap, zeroing and PTE fill). The mapping and unmapping are not
/// timed.
pub(super) fn first_touches(pages: usize) -> anyhow::Result<f64> {
    let m = Mapping::new(pages * PAGE, libc::PROT_READ | libc::PROT_WRITE).context("mmap")?;
    m.no_huge_pages().context("madvise")?;
    let ns = per_op(pages, || {
        for page in 0..pages {
            m.touch_page(page);
        }
        Ok::<(), anyhow::Error>(())
    })?;
    m.unmap().context("munmap")?;
    Ok(ns)
}

/// A 4 KiB `memcpy` into each of `src.len() / 4096` pages of a fresh anonymous mapping, each
/// page touched (faulted in) just before the timed copies: the host's counterpart of a
/// copy-on-write fault's copy. The mapping, the touches and the unmapping are not timed.
pub(super) fn copies_into_touched_pages(src: &[u8]) -> anyhow::Result<f64> {
    let pages = src.len() / PAGE;
    let m = Mapping::new(pages * PAGE, libc::PROT_READ | libc::PROT_WRITE).context("mmap")?;
    m.no_huge_pages().context("madvise")?;
    for page in 0..pages {
        m.touch_page(page);
    }
    let ns = per_op(pages, || {
        for (page, chunk) in src.chunks_exact(PAGE).enumerate() {
            m.copy_into_page(page, black_box(chunk));
        }
        Ok::<(), anyhow::Error>(())
    })?;
    m.unmap().context("munmap")?;
    Ok(ns)
}

/// `pairs` times: map 64 KiB read-write, unmap it.
pub(super) fn map_unmap_pairs(pairs: usize) -> anyhow::Result<f64> {
    per_op(pairs, || {
        for _ in 0..pairs {
            Mapping::new(16 * PAGE, libc::PROT_READ | libc::PROT_WRITE).context("mmap")?.unmap().context("munmap")?;
        }
        Ok(())
    })
}

/// One touched read-write page between two inaccessible ones, whose protection the figure
/// flips. The neighbours keep the kernel from merging it with other mappings, so every
/// `mprotect` changes one page of one VMA.
pub(super) struct ProtectTarget {
    mapping: Mapping,
}

impl ProtectTarget {
    /// Maps the three pages and touches the middle one.
    pub(super) fn new() -> anyhow::Result<ProtectTarget> {
        let mapping = Mapping::new(3 * PAGE, libc::PROT_NONE).context("mmap")?;
        mapping.protect(1, 1, libc::PROT_READ | libc::PROT_WRITE).context("mprotect")?;
        mapping.touch_page(1);
        Ok(ProtectTarget { mapping })
    }

    /// `calls` calls of `mprotect` on the page, alternately read-only and read-write.
    pub(super) fn flips(&mut self, calls: usize) -> anyhow::Result<f64> {
        let ns = per_op(calls, || {
            for i in 0..calls {
                let prot = if i % 2 == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_WRITE };
                self.mapping.protect(1, 1, prot).context("mprotect")?;
            }
            Ok::<(), anyhow::Error>(())
        })?;
        // An odd count would leave it read-only: every sample starts from read-write.
        self.mapping.protect(1, 1, libc::PROT_READ | libc::PROT_WRITE).context("mprotect")?;
        Ok(ns)
    }
}

/// A host file for the paging figures' baselines, in the directory of ntmem's page file: its
/// bytes are written when it is made (not sparse, and in the host's page cache, as the page
/// file's are by the time ntmem reads it). Each sample returns nanoseconds per 4 KiB page.
pub(super) struct HostFile {
    file: File,
    len: usize,
}

impl HostFile {
    /// Creates (or truncates) the file at `path` and writes `len` bytes (a multiple of the
    /// page size): each page holds its index in its first 8 bytes, as the paged-out regions do.
    pub(super) fn create(path: &Path, len: usize) -> anyhow::Result<HostFile> {
        anyhow::ensure!(len.is_multiple_of(PAGE), "a host file is whole pages");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let mut page = vec![0u8; PAGE];
        for (index, offset) in (0..len).step_by(PAGE).enumerate() {
            page[..8].copy_from_slice(&(index as u64).to_ne_bytes());
            file.write_all_at(&page, offset as u64).context("writing a host file")?;
        }
        Ok(HostFile { file, len })
    }

    /// Overwrites the whole file front to back, `chunk` bytes per `pwrite`, through the host's
    /// page cache and without `fsync`, as ntmem's page-file writes go.
    pub(super) fn write_sequential(&self, chunk: usize) -> anyhow::Result<f64> {
        let data = vec![0x5au8; chunk];
        per_op(self.len / PAGE, || {
            for offset in (0..self.len).step_by(chunk) {
                let n = chunk.min(self.len - offset);
                self.file.write_all_at(&data[..n], offset as u64).context("pwrite")?;
            }
            Ok(())
        })
    }

    /// Reads the whole file front to back, `chunk` bytes per `pread`, each into its place in
    /// a touched buffer as large as the file (as a page-in or a view's fault reads each page
    /// into a frame of its own, kept: never into one buffer the cache keeps hot), and loads
    /// the first 8 bytes of every page read (checking each holds its page's index).
    pub(super) fn read_sequential(&self, chunk: usize) -> anyhow::Result<f64> {
        anyhow::ensure!(chunk.is_multiple_of(PAGE), "reads are whole pages");
        let mut buf = vec![1u8; self.len];
        let mut sum = 0u64;
        let ns = per_op(self.len / PAGE, || {
            for offset in (0..self.len).step_by(chunk) {
                let n = chunk.min(self.len - offset);
                self.file.read_exact_at(&mut buf[offset..offset + n], offset as u64).context("pread")?;
                for page in (offset..offset + n).step_by(PAGE) {
                    sum = sum.wrapping_add(load_u64(black_box(&buf), page));
                }
            }
            Ok::<(), anyhow::Error>(())
        })?;
        let pages = (self.len / PAGE) as u64;
        anyhow::ensure!(sum == pages * (pages - 1) / 2, "the host file does not hold its page indices");
        Ok(ns)
    }

    /// `pairs` times: `mmap` the first `len` bytes of the file read-only and shared (as a
    /// read view of a file maps it), then `munmap` them; no page is touched.
    pub(super) fn map_unmap_pairs(&self, len: usize, pairs: usize) -> anyhow::Result<f64> {
        anyhow::ensure!(len.is_multiple_of(PAGE) && len <= self.len, "maps whole pages of the file");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
        per_op(pairs, || {
            for _ in 0..pairs {
                // SAFETY: a new shared read-only mapping of our own open file, at an address
                // the kernel chooses: it aliases nothing of this program, is never read, and is
                // unmapped (exactly its own range) before the next one is made.
                let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd, 0) };
                if p == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error()).context("mmap");
                }
                // SAFETY: `p` is the mapping just made, `len` long, and is not used after.
                if unsafe { libc::munmap(p, len) } != 0 {
                    return Err(io::Error::last_os_error()).context("munmap");
                }
            }
            Ok(())
        })
    }

    /// One 4 KiB `pread` at each of `pages` (page indices), each into its own page of a
    /// touched buffer as large as the file (as a hard fault reads each page into a frame of
    /// its own, never into one buffer the cache keeps hot), loading the first 8 bytes of each.
    pub(super) fn read_pages(&self, pages: &[u64]) -> anyhow::Result<f64> {
        let mut buf = vec![1u8; self.len];
        let mut sum = 0u64;
        let ns = per_op(pages.len(), || {
            for &page in pages {
                let at = usize::try_from(page)? * PAGE;
                let dest = buf.get_mut(at..at + PAGE).context("a page past the end of the file")?;
                self.file.read_exact_at(dest, page * PAGE as u64).context("pread")?;
                sum = sum.wrapping_add(load_u64(black_box(&buf), at));
            }
            Ok::<(), anyhow::Error>(())
        })?;
        anyhow::ensure!(sum == pages.iter().sum::<u64>(), "the host file does not hold its page indices");
        Ok(ns)
    }
}
