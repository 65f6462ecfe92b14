//! The C ABI: Windows' memory API with its C signatures (`DWORD` is `u32`, `SIZE_T` is
//! `usize`, `BOOL` is `i32`, `LPVOID` is a pointer), each a call of [`ntmem_win32::Kernel32`]
//! on this program's process, under the runtime's lock ([`call`]).
//!
//! Contract of every function here: pointers from the program are never dereferenced
//! directly. Inputs are read and outputs written through `user.rs` (through the memory
//! manager for arena memory, through fault-free system calls for host memory), so a NULL or
//! wild pointer is `ERROR_NOACCESS`, and no arena page is touched through a host mapping
//! while the lock is held. A guard page in a buffer fails the call with
//! STATUS_GUARD_PAGE_VIOLATION (0x80000001) and loses its guard, as in a Windows service
//! (F98). An output pointer is probed before the call changes anything (all-or-nothing), and
//! the checks come in Windows' order: where a parameter is checked before a pointer is
//! probed, the wrapper checks it first too (or lets Kernel32 check it).
//!
//! Split by concern: `memory.rs` (Virtual*, write watch), `objects.rs` (files, file
//! mappings, views, handles), `info.rs` (figures, the process, working sets, last error,
//! vectored handlers).

mod info;
mod memory;
mod objects;

pub use info::*;
pub use memory::*;
pub use objects::*;

use crate::runtime::{self, Runtime};
use crate::user::UserFault;
use ntmem_win32::Kernel32;
use std::cell::Cell;

/// Win32's `BOOL`.
pub(crate) type Bool = i32;

/// `ERROR_NOACCESS`.
pub(crate) const ERROR_NOACCESS: u32 = 998;
/// `ERROR_NOT_ENOUGH_MEMORY`: the machine could not start.
pub(crate) const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;

thread_local! {
    /// The calling thread's last error.
    static LAST_ERROR: Cell<u32> = const { Cell::new(0) };
}

pub(crate) fn last_error() -> u32 {
    LAST_ERROR.with(Cell::get)
}

pub(crate) fn set_last_error(code: u32) {
    LAST_ERROR.with(|c| c.set(code));
}

/// Runs one API call `name` with the runtime's lock held: `f` gets the runtime and a
/// `Kernel32` of this process whose last error is the thread's, which is kept afterwards.
/// When the machine cannot start, the call fails with `fail` and ERROR_NOT_ENOUGH_MEMORY.
pub(crate) fn call<T>(name: &'static str, fail: T, f: impl FnOnce(&mut Ctx<'_>) -> T) -> T {
    let Some(mut rt) = runtime::lock() else {
        set_last_error(ERROR_NOT_ENOUGH_MEMORY);
        return fail;
    };
    rt.count(name);
    let mut ctx = Ctx { rt: &mut rt, error: last_error() };
    let r = f(&mut ctx);
    set_last_error(ctx.error);
    r
}

/// One call in progress: the runtime, and the thread's last error as the call leaves it.
pub(crate) struct Ctx<'a> {
    pub(crate) rt: &'a mut Runtime,
    pub(crate) error: u32,
}

impl Ctx<'_> {
    /// Runs `f` on a `Kernel32` of the process, carrying the last error in and out.
    pub(crate) fn k32<T>(&mut self, f: impl FnOnce(&mut Kernel32<'_>) -> T) -> T {
        let pid = self.rt.pid;
        let mut k = Kernel32::new(&mut self.rt.sys, pid);
        k.SetLastError(self.error);
        let r = f(&mut k);
        self.error = k.GetLastError();
        r
    }

    /// Fails with `code`.
    pub(crate) fn fail<T>(&mut self, code: u32, value: T) -> T {
        self.error = code;
        value
    }

    /// Fails with the last error `fault` leaves (ERROR_NOACCESS, or a guard page's
    /// STATUS_GUARD_PAGE_VIOLATION, F98).
    pub(crate) fn fault(&mut self, fault: UserFault) {
        self.error = fault.win32_error();
    }

    /// Writes `data` at the program's `addr` (all or nothing), or fails with the fault.
    pub(crate) fn put(&mut self, addr: usize, data: &[u8]) -> bool {
        match self.rt.write_user(addr as u64, data) {
            Ok(()) => true,
            Err(f) => {
                self.fault(f);
                false
            }
        }
    }

    /// True when `len` bytes at `addr` can be written; else fails with the fault (a writable
    /// guard page loses its guard, F98).
    pub(crate) fn probe(&mut self, addr: usize, len: usize) -> bool {
        match self.rt.probe_user(addr as u64, len) {
            Ok(()) => true,
            Err(f) => {
                self.fault(f);
                false
            }
        }
    }

    /// [`Ctx::probe`] as the kernel's `ProbeForWrite(addr, len, align)`: a buffer of some
    /// bytes that is not aligned to `align` fails before any page is looked at
    /// (STATUS_DATATYPE_MISALIGNMENT, which is ERROR_NOACCESS); no bytes probe nothing.
    pub(crate) fn probe_aligned(&mut self, addr: usize, len: usize, align: usize) -> bool {
        if len != 0 && !addr.is_multiple_of(align) {
            self.error = ERROR_NOACCESS;
            return false;
        }
        self.probe(addr, len)
    }

    /// Reads `buf.len()` bytes at the program's `addr`, or fails with the fault.
    pub(crate) fn read(&mut self, addr: usize, buf: &mut [u8]) -> bool {
        match self.rt.read_user(addr as u64, buf) {
            Ok(()) => true,
            Err(f) => {
                self.fault(f);
                false
            }
        }
    }

    /// Reads `N` bytes at the program's `addr`, or fails with the fault.
    pub(crate) fn get<const N: usize>(&mut self, addr: usize) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.read(addr, &mut b).then_some(b)
    }
}

/// Little-endian bytes of a structure, field by field.
#[derive(Default)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Bytes {
    pub(crate) fn u16(mut self, v: u16) -> Bytes {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u32(mut self, v: u32) -> Bytes {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(mut self, v: u64) -> Bytes {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}
