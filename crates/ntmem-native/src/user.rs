//! The program's buffers as the C ABI reads and writes them, without ever faulting: what
//! Windows' kernel does with probes and exception handlers around its copies.
//!
//! A piece of a buffer in the arena is read or written through the memory manager itself
//! ([`ntmem::Vm::read`] / [`ntmem::Vm::write`]), with every semantic of an access by the
//! program (demand-zero, copy-on-write, dirty bits, guard pages); the bytes land in the same
//! memfd frames the program's own mappings show. A piece anywhere else (the program's stack,
//! heap, globals) is copied by `process_vm_readv` / `process_vm_writev` on this process, which
//! return `EFAULT` for memory that cannot be read or written instead of raising a signal. So a
//! NULL or wild pointer is `ERROR_NOACCESS`, never a crash, and no copy touches arena memory
//! through host mappings while the runtime's lock is held.
//!
//! Guard pages (F98): a system service that touches a guard page fails with
//! STATUS_GUARD_PAGE_VIOLATION, which is also its last error (0x80000001), and the guard is
//! gone (one-shot, F96); nothing else changes. A read here meets the guard as the program's
//! read would; a probe for write ([`Runtime::probe_user`]) fires the guard of a writable
//! guarded page and fails, before the call has changed anything. A guarded page that cannot
//! be written fails the probe as an access violation and keeps its guard, as a write to it
//! does (F93).
//!
//! Contract: every function here walks the buffer a page at a time, lowest address first,
//! and stops at the first page that fails; that page decides the [`UserFault`]. A probe and a
//! failed read change nothing but a guard they consume; a write writes all of its bytes or
//! none.

use crate::host::PAGE;
use crate::runtime::Runtime;
use ntmem::address_space::access::FaultKind;

/// STATUS_GUARD_PAGE_VIOLATION, which is also the last error a service leaves when it meets a
/// guard page (F98).
const STATUS_GUARD_PAGE_VIOLATION: u32 = 0x8000_0001;

/// Why the program's buffer could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserFault {
    /// Not readable or writable (`ERROR_NOACCESS`): free, reserved, protected or wild memory.
    NoAccess,
    /// A guard page was met, and its guard consumed (F98): STATUS_GUARD_PAGE_VIOLATION.
    GuardPage,
}

impl UserFault {
    /// The last error Windows leaves: ERROR_NOACCESS (998), or STATUS_GUARD_PAGE_VIOLATION
    /// (0x80000001), which the NTSTATUS to Win32 table passes on unchanged (F98).
    pub(crate) fn win32_error(self) -> u32 {
        match self {
            UserFault::NoAccess => crate::abi::ERROR_NOACCESS,
            UserFault::GuardPage => STATUS_GUARD_PAGE_VIOLATION,
        }
    }
}

impl From<ntmem::AccessFault> for UserFault {
    fn from(f: ntmem::AccessFault) -> UserFault {
        if f.kind == FaultKind::GuardPage {
            UserFault::GuardPage
        } else {
            UserFault::NoAccess
        }
    }
}

/// The pieces of `[addr, addr + len)` that lie in one page each, lowest first: `(address,
/// offset in the buffer, length)`. Made one at a time, so that a huge length costs nothing
/// beyond the first page that fails.
fn pieces(addr: u64, len: usize) -> Result<impl Iterator<Item = (u64, usize, usize)>, UserFault> {
    let end = addr.checked_add(len as u64).ok_or(UserFault::NoAccess)?;
    if addr == 0 && len > 0 {
        return Err(UserFault::NoAccess);
    }
    let mut at = addr;
    Ok(std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let n = (PAGE - at % PAGE).min(end - at);
        let piece = (at, (at - addr) as usize, n as usize);
        at += n;
        Some(piece)
    }))
}

impl Runtime {
    fn in_arena(&self, addr: u64) -> bool {
        self.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner).arena.owns(addr)
    }

    /// Reads `buf.len()` bytes of the program's memory at `addr`. A guard page met on the way
    /// loses its guard and fails the read ([`UserFault::GuardPage`]).
    pub(crate) fn read_user(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), UserFault> {
        for (at, off, n) in pieces(addr, buf.len())? {
            let piece = &mut buf[off..off + n];
            if self.in_arena(at) {
                let mut vm = self.sys.vm(self.pid).map_err(|_| UserFault::NoAccess)?;
                vm.read(at, piece)?;
            } else {
                host_read(at, piece)?;
            }
        }
        Ok(())
    }

    /// Checks that `len` bytes at `addr` can be written, as the kernel's probe does before a
    /// service changes anything: the first page that cannot be written fails it. A writable
    /// guard page fails it with [`UserFault::GuardPage`] and loses its guard (F98); nothing
    /// else the program sees changes (an arena page's protection is only looked at; a host
    /// page is read and written back with its own bytes).
    pub(crate) fn probe_user(&mut self, addr: u64, len: usize) -> Result<(), UserFault> {
        let Some(guarded) = self.first_unwritable(addr, len)? else { return Ok(()) };
        // Touch the page as the kernel's probe does: the guard fires and is gone (F96). A
        // guarded page is never valid, so the read cannot complete; it fails with the guard.
        let mut vm = self.sys.vm(self.pid).map_err(|_| UserFault::NoAccess)?;
        vm.read(guarded, &mut [0u8; 1])?;
        Err(UserFault::GuardPage)
    }

    /// What [`Runtime::probe_user`] would answer, consuming nothing: a writable guard page
    /// where the walk stops is [`UserFault::GuardPage`] with its guard left armed.
    pub(crate) fn check_user(&mut self, addr: u64, len: usize) -> Result<(), UserFault> {
        match self.first_unwritable(addr, len)? {
            None => Ok(()),
            Some(_) => Err(UserFault::GuardPage),
        }
    }

    /// The walk of [`Runtime::probe_user`]: `Ok(None)` when every byte can be written,
    /// `Ok(Some(address))` when the first page that stops it is a writable guard page (the
    /// address in it), `Err` when a page cannot be written at all. Consumes nothing.
    /// An arena region has one state and protection, so the walk looks at each region once,
    /// however many pages of it the buffer covers: its cost follows the regions, not the length.
    fn first_unwritable(&mut self, addr: u64, len: usize) -> Result<Option<u64>, UserFault> {
        let mut skip_to = addr;
        for (at, _, n) in pieces(addr, len)? {
            if at < skip_to {
                continue;
            }
            if self.in_arena(at) {
                let vm = self.sys.vm(self.pid).map_err(|_| UserFault::NoAccess)?;
                let region = vm.query(at);
                let p = region.protection;
                if region.state != ntmem::RegionState::Committed || !(p.can_write() || p.is_copy_on_write()) {
                    // A guarded page that cannot be written is an access violation, its guard
                    // left armed, as a write to it is (F93).
                    return Err(UserFault::NoAccess);
                }
                if p.is_guard() {
                    return Ok(Some(at));
                }
                skip_to = region.base.saturating_add(region.size);
            } else {
                let mut bytes = [0u8; PAGE as usize];
                host_read(at, &mut bytes[..n])?;
                host_write(at, &bytes[..n])?;
            }
        }
        Ok(None)
    }

    /// Writes `data` to the program's memory at `addr`: all of it, or nothing when any page
    /// cannot be written (probed first, [`Runtime::probe_user`]).
    pub(crate) fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), UserFault> {
        self.probe_user(addr, data.len())?;
        for (at, off, n) in pieces(addr, data.len())? {
            let piece = &data[off..off + n];
            if self.in_arena(at) {
                let mut vm = self.sys.vm(self.pid).map_err(|_| UserFault::NoAccess)?;
                vm.write(at, piece)?;
            } else {
                host_write(at, piece)?;
            }
        }
        Ok(())
    }

    /// A NUL-terminated string at `addr`, of bytes (`wide` false) or UTF-16 units.
    pub(crate) fn read_string(&mut self, addr: u64, wide: bool) -> Result<String, UserFault> {
        const MAX: usize = 32 * 1024;
        let unit = if wide { 2 } else { 1 };
        let mut units: Vec<u16> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut at = addr;
        loop {
            let mut b = [0u8; 2];
            self.read_user(at, &mut b[..unit])?;
            if wide {
                let u = u16::from_le_bytes(b);
                if u == 0 {
                    break;
                }
                units.push(u);
            } else {
                if b[0] == 0 {
                    break;
                }
                bytes.push(b[0]);
            }
            if units.len() + bytes.len() > MAX {
                return Err(UserFault::NoAccess);
            }
            at = at.checked_add(unit as u64).ok_or(UserFault::NoAccess)?;
        }
        Ok(if wide { String::from_utf16_lossy(&units) } else { String::from_utf8_lossy(&bytes).into_owned() })
    }
}

/// Copies host memory at `addr` into `buf` without faulting.
fn host_read(addr: u64, buf: &mut [u8]) -> Result<(), UserFault> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as usize as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: the kernel copies from this process's `remote` range into `buf` (valid for its
    // length), checking the remote range itself: an unreadable address is EFAULT, no signal.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == buf.len() as isize {
        Ok(())
    } else {
        Err(UserFault::NoAccess)
    }
}

/// Copies `data` to host memory at `addr` without faulting.
fn host_write(addr: u64, data: &[u8]) -> Result<(), UserFault> {
    let local = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let remote = libc::iovec { iov_base: addr as usize as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: the kernel copies `data` into this process's `remote` range, checking it: an
    // unwritable address is EFAULT, no signal. The range is the program's own buffer, given
    // to the call to be written.
    let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == data.len() as isize {
        Ok(())
    } else {
        Err(UserFault::NoAccess)
    }
}
