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
//! The `memfd`'s pages are allocated and mapped in (`MAP_POPULATE`) before the timed touches,
//! as the engine's frames are once it has used them. Frames go to pages in swapped pairs (page
//! *n* gets frame *n* xor 1), so the kernel never merges two neighbouring mappings into one:
//! the engine's frames, taken from its free list, rarely follow their pages' order either.
//!
//! The engine's handler is put back before this returns, on every path. The handler is the
//! process's, so this relies on the bench being single-threaded (it is: no row starts a
//! thread). While the minimal one is installed, a fault anywhere else restores the default
//! action and retries, so it ends the program as an unhandled SIGSEGV would instead of being
//! taken for a demand-zero fault.

use super::native::Mapping;
use super::timing::per_op;
use anyhow::Context;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    let len = pages * PAGE;
    let mut ram = Ram::new(len)?;
    // The arena: inaccessible until the handler maps a frame at a page.
    let reservation = Mapping::new(len, libc::PROT_NONE).context("reserving the arena")?;
    BASE.store(reservation.addr(), Ordering::SeqCst);
    END.store(reservation.addr() + len, Ordering::SeqCst);
    FD.store(ram.fd.as_raw_fd(), Ordering::SeqCst);
    CORE.store(ram.core.as_mut_ptr() as usize, Ordering::SeqCst);
    FRAMES.store(pages, Ordering::SeqCst);
    RESOLVED.store(0, Ordering::SeqCst);
    let engine = Installed::minimal()?;
    let ns = per_op(pages, || {
        for page in 0..pages {
            // SAFETY: the page lies in the reservation, which only this function and the
            // minimal handler map; the handler maps it before the store retries. Volatile:
            // the fault happens.
            unsafe { ((reservation.addr() + page * PAGE) as *mut u8).write_volatile(1) };
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
    // which nothing else reads or writes while the handler is installed.
    unsafe { std::ptr::write_bytes((core + frame * PAGE) as *mut u8, 0, PAGE) };
    #[allow(clippy::cast_possible_wrap)] // a frame's offset is under the memfd's size, an i64
    let offset = (frame * PAGE) as libc::off_t;
    // SAFETY: the page lies in the reservation, which only this module maps; the memfd holds
    // the frame's 4 KiB.
    let got = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            FD.load(Ordering::Relaxed),
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

/// The frames: a memfd of `len` bytes and a shared mapping of all of it with every page
/// allocated and mapped in. Declared before the handler is installed, so dropped after it.
struct Ram {
    fd: OwnedFd,
    core: memmap2::MmapMut,
}

impl Ram {
    fn new(len: usize) -> anyhow::Result<Ram> {
        // SAFETY: the name is a NUL-terminated string; memfd_create has no other input.
        let raw = unsafe { libc::memfd_create(c"ntmem-bench-floor".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error()).context("memfd_create");
        }
        // SAFETY: `raw` is the descriptor just created, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let file = std::fs::File::from(fd.try_clone().context("duplicating the memfd")?);
        file.set_len(len as u64).context("sizing the memfd")?;
        // SAFETY: a new shared mapping of a file of exactly `len` bytes that nothing truncates;
        // the only other mappings of it are the handler's, of the frames it clears here first.
        let core =
            unsafe { memmap2::MmapOptions::new().len(len).populate().map_mut(&file) }.context("mapping the memfd")?;
        Ok(Ram { fd, core })
    }
}
