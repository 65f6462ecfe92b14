//! The host's floor under a demand-zero fault resolved in user space: what any memory manager
//! that uses the host MMU as its TLB pays on this machine before doing any work of its own.
//!
//! [`signal_and_map_touches`] first-touches pages of a `PROT_NONE` reservation with a minimal
//! SIGSEGV handler installed in place of the native engine's. The handler does only the host
//! work the engine's fault must do:
//!
//! - the trap and the signal's delivery and return (the same `sigaction` flags as the engine's
//!   handler: `SA_SIGINFO | SA_NODEFER | SA_ONSTACK`);
//! - clearing the 4 KiB frame through a shared mapping of a `memfd` (the memory manager zeroes
//!   a frame taken from the free list before handing it out);
//! - one `mmap(MAP_SHARED | MAP_FIXED)` of that frame at the faulting page;
//! - the retried access's minor fault.
//!
//! The `memfd`'s pages are allocated and mapped before the timed touches, as the engine's RAM
//! is at boot. Frames go to pages in swapped pairs (page *n* gets frame *n* xor 1), so the
//! kernel never merges two neighbouring mappings into one: the engine's frames, taken from its
//! free list, rarely follow their pages' order either.
//!
//! The engine's handler is put back before this returns. While the minimal one is installed,
//! a fault anywhere else restores the default action and retries, so it ends the program as an
//! unhandled SIGSEGV would instead of being taken for a demand-zero fault.

use super::timing::per_op;
use anyhow::{anyhow, Context};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// The host's page size on x86-64 Linux, as on Windows.
const PAGE: usize = 4096;

/// What the minimal handler reads: the reservation `[BASE, END)`, the memfd and its shared
/// mapping (`CORE`, `FRAMES` frames), and how many faults it has resolved. Set before the
/// handler is installed and left alone until it is removed.
static BASE: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
static FD: AtomicI32 = AtomicI32::new(-1);
static CORE: AtomicUsize = AtomicUsize::new(0);
static FRAMES: AtomicUsize = AtomicUsize::new(0);
static RESOLVED: AtomicUsize = AtomicUsize::new(0);

/// Nanoseconds per first touch of `pages` pages, each resolved by the minimal handler.
pub(super) fn signal_and_map_touches(pages: usize) -> anyhow::Result<f64> {
    let ram = Ram::new(pages)?;
    let reservation = Reservation::new(pages)?;
    BASE.store(reservation.base, Ordering::SeqCst);
    END.store(reservation.base + pages * PAGE, Ordering::SeqCst);
    FD.store(ram.fd, Ordering::SeqCst);
    CORE.store(ram.core, Ordering::SeqCst);
    FRAMES.store(pages, Ordering::SeqCst);
    RESOLVED.store(0, Ordering::SeqCst);
    let engine = Installed::minimal()?;
    let ns = per_op(pages, || {
        for page in 0..pages {
            // SAFETY: the page lies in the reservation, which only this function and the
            // minimal handler map; the handler maps it before the store retries. Volatile:
            // the fault happens.
            unsafe { ((reservation.base + page * PAGE) as *mut u8).write_volatile(1) };
        }
        Ok::<(), anyhow::Error>(())
    })?;
    drop(engine);
    let resolved = RESOLVED.load(Ordering::SeqCst);
    anyhow::ensure!(resolved == pages, "the minimal handler resolved {resolved} faults for {pages} first touches");
    Ok(ns)
}

/// The minimal handler (see the module's documentation).
extern "C" fn on_fault(_sig: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize & !(PAGE - 1);
    let (base, end) = (BASE.load(Ordering::Relaxed), END.load(Ordering::Relaxed));
    if addr < base || addr >= end {
        give_up();
        return;
    }
    let page = (addr - base) / PAGE;
    let frame = (page ^ 1).min(FRAMES.load(Ordering::Relaxed) - 1);
    let core = CORE.load(Ordering::Relaxed);
    // SAFETY: the frame lies in the shared mapping of the memfd (`FRAMES` pages at `CORE`),
    // which nothing else writes while the handler is installed.
    unsafe { std::ptr::write_bytes((core + frame * PAGE) as *mut u8, 0, PAGE) };
    #[allow(clippy::cast_possible_wrap)] // a frame's offset is under the memfd's size, an i64
    let offset = (frame * PAGE) as libc::off_t;
    let fd = FD.load(Ordering::Relaxed);
    // SAFETY: the page lies in the reservation, which only this module maps; the memfd holds
    // the frame's 4 KiB.
    let got = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            offset,
        )
    };
    if got == libc::MAP_FAILED {
        give_up();
        return;
    }
    RESOLVED.fetch_add(1, Ordering::Relaxed);
}

/// Restores SIGSEGV's default action: the retried access then ends the program as an
/// unhandled fault would.
fn give_up() {
    // SAFETY: `signal` is async-signal-safe; SIG_DFL is a valid action for SIGSEGV.
    unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
}

/// The minimal handler installed for SIGSEGV; dropping it puts back the one it replaced.
struct Installed {
    previous: libc::sigaction,
}

impl Installed {
    fn minimal() -> anyhow::Result<Installed> {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler is an
        // `extern "C"` function with the SA_SIGINFO signature, valid for the program's life.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGSEGV, &action, &mut previous) != 0 {
                return Err(std::io::Error::last_os_error()).context("sigaction");
            }
            Ok(Installed { previous })
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // SAFETY: `previous` is the action sigaction returned when the minimal one replaced it.
        unsafe { libc::sigaction(libc::SIGSEGV, &self.previous, std::ptr::null_mut()) };
    }
}

/// The frames: a memfd of `pages` pages, allocated, and mapped shared with every page
/// present (written once), as the engine's RAM is after boot.
struct Ram {
    fd: libc::c_int,
    core: usize,
    len: usize,
}

impl Ram {
    fn new(pages: usize) -> anyhow::Result<Ram> {
        let len = pages * PAGE;
        let bytes = libc::off_t::try_from(len).context("RAM size")?;
        // SAFETY: the name is a NUL-terminated string; memfd_create has no other input.
        let fd = unsafe { libc::memfd_create(c"ntmem-bench-floor".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("memfd_create");
        }
        // SAFETY: fd is the memfd just created; it grows to `len` zero bytes, allocated.
        if unsafe { libc::ftruncate(fd, bytes) } != 0 || unsafe { libc::fallocate(fd, 0, 0, bytes) } != 0 {
            let err = std::io::Error::last_os_error();
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(fd) };
            return Err(err).context("sizing the memfd");
        }
        // SAFETY: a new shared mapping where the kernel chooses, of a file of exactly `len`
        // bytes; MAP_POPULATE makes every page present.
        let core = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                0,
            )
        };
        if core == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(fd) };
            return Err(err).context("mapping the memfd");
        }
        Ok(Ram { fd, core: core as usize, len })
    }
}

impl Drop for Ram {
    fn drop(&mut self) {
        // SAFETY: the mapping and the fd are this value's, released once; the handler that
        // used them was removed first (`Installed` is dropped before `Ram`).
        unsafe {
            libc::munmap(self.core as *mut libc::c_void, self.len);
            libc::close(self.fd);
        }
    }
}

/// A `PROT_NONE` reservation of `pages` pages where the kernel chooses: the minimal handler's
/// arena.
struct Reservation {
    base: usize,
    len: usize,
}

impl Reservation {
    fn new(pages: usize) -> anyhow::Result<Reservation> {
        let len = pages * PAGE;
        // SAFETY: a fresh private mapping at an address the kernel chooses aliases nothing of
        // this program; the result is checked before it is used.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(anyhow!("reserving {len} bytes: {}", std::io::Error::last_os_error()));
        }
        Ok(Reservation { base: p as usize, len })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the reservation (and the frames mapped into it) is this value's, unmapped once.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}
