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

use crate::host::PAGE;
use crate::runtime::Runtime;

/// The user buffer could not be read or written (`ERROR_NOACCESS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NoAccess;

/// The pieces of `[addr, addr + len)` that lie in one page each.
fn pieces(addr: u64, len: usize) -> Result<Vec<(u64, usize, usize)>, NoAccess> {
    let end = addr.checked_add(len as u64).ok_or(NoAccess)?;
    if addr == 0 && len > 0 {
        return Err(NoAccess);
    }
    let mut out = Vec::new();
    let mut at = addr;
    while at < end {
        let n = (PAGE - at % PAGE).min(end - at);
        out.push((at, (at - addr) as usize, n as usize));
        at += n;
    }
    Ok(out)
}

impl Runtime {
    fn in_arena(&self, addr: u64) -> bool {
        self.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner).arena.owns(addr)
    }

    /// Reads `buf.len()` bytes of the program's memory at `addr`.
    pub(crate) fn read_user(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
        for (at, off, n) in pieces(addr, buf.len())? {
            let piece = &mut buf[off..off + n];
            if self.in_arena(at) {
                let mut vm = self.sys.vm(self.pid).map_err(|_| NoAccess)?;
                vm.read(at, piece).map_err(|_| NoAccess)?;
            } else {
                host_read(at, piece)?;
            }
        }
        Ok(())
    }

    /// Checks that `len` bytes at `addr` can be written, changing nothing the program sees
    /// (an arena page's protection; a host page read and written back with its own bytes).
    pub(crate) fn probe_user(&mut self, addr: u64, len: usize) -> Result<(), NoAccess> {
        for (at, _, n) in pieces(addr, len)? {
            if self.in_arena(at) {
                let vm = self.sys.vm(self.pid).map_err(|_| NoAccess)?;
                let region = vm.query(at);
                let p = region.protection;
                if region.state != ntmem::RegionState::Committed || !(p.can_write() || p.is_copy_on_write()) {
                    return Err(NoAccess);
                }
            } else {
                let mut bytes = [0u8; PAGE as usize];
                host_read(at, &mut bytes[..n])?;
                host_write(at, &bytes[..n])?;
            }
        }
        Ok(())
    }

    /// Writes `data` to the program's memory at `addr`: all of it, or nothing when any page
    /// cannot be written.
    pub(crate) fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), NoAccess> {
        self.probe_user(addr, data.len())?;
        for (at, off, n) in pieces(addr, data.len())? {
            let piece = &data[off..off + n];
            if self.in_arena(at) {
                let mut vm = self.sys.vm(self.pid).map_err(|_| NoAccess)?;
                vm.write(at, piece).map_err(|_| NoAccess)?;
            } else {
                host_write(at, piece)?;
            }
        }
        Ok(())
    }

    /// A NUL-terminated string at `addr`, of bytes (`wide` false) or UTF-16 units.
    pub(crate) fn read_string(&mut self, addr: u64, wide: bool) -> Result<String, NoAccess> {
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
                return Err(NoAccess);
            }
            at = at.checked_add(unit as u64).ok_or(NoAccess)?;
        }
        Ok(if wide { String::from_utf16_lossy(&units) } else { String::from_utf8_lossy(&bytes).into_owned() })
    }
}

/// Copies host memory at `addr` into `buf` without faulting.
fn host_read(addr: u64, buf: &mut [u8]) -> Result<(), NoAccess> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as usize as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: the kernel copies from this process's `remote` range into `buf` (valid for its
    // length), checking the remote range itself: an unreadable address is EFAULT, no signal.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == buf.len() as isize {
        Ok(())
    } else {
        Err(NoAccess)
    }
}

/// Copies `data` to host memory at `addr` without faulting.
fn host_write(addr: u64, data: &[u8]) -> Result<(), NoAccess> {
    let local = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let remote = libc::iovec { iov_base: addr as usize as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: the kernel copies `data` into this process's `remote` range, checking it: an
    // unwritable address is EFAULT, no signal. The range is the program's own buffer, given
    // to the call to be written.
    let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == data.len() as isize {
        Ok(())
    } else {
        Err(NoAccess)
    }
}
