//! Vectored exception handling: `AddVectoredExceptionHandler`, `RemoveVectoredExceptionHandler`,
//! and the dispatch of an exception the memory manager raised (F95's record) to them, then
//! Windows' unhandled-exception report and exit.
//!
//! The list is a fixed table of atomic slots, so that the fault handler reads it without a
//! lock: a slot holds the handler and its place in the order (handlers added "first" get
//! ever-smaller keys, the others ever-larger ones), and is cleared by removal. A handler
//! removed while an exception is being dispatched on another thread may still be called once
//! for it (Windows serialises the two with a lock; here the window is the dispatch loop).

use crate::report;
use ntmem::AccessFault;
use ntmem_win32::Exception;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Handlers registered at most at once.
const SLOTS: usize = 64;

/// `EXCEPTION_CONTINUE_EXECUTION`.
const CONTINUE_EXECUTION: i32 = -1;

/// `EXCEPTION_MAXIMUM_PARAMETERS`.
const MAX_PARAMETERS: usize = 15;

/// `EXCEPTION_RECORD` as Windows lays it out on x64.
#[repr(C)]
pub(crate) struct ExceptionRecord {
    code: u32,
    flags: u32,
    record: *mut ExceptionRecord,
    address: *mut libc::c_void,
    number_parameters: u32,
    information: [usize; MAX_PARAMETERS],
}

/// `EXCEPTION_POINTERS`.
#[repr(C)]
pub(crate) struct ExceptionPointers {
    record: *mut ExceptionRecord,
    context: *mut libc::c_void,
}

/// A vectored exception handler, as C declares it.
pub(crate) type Handler = unsafe extern "C" fn(*mut ExceptionPointers) -> i32;

static HANDLERS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static KEYS: [AtomicI64; SLOTS] = [const { AtomicI64::new(0) }; SLOTS];
static NEXT_FIRST: AtomicI64 = AtomicI64::new(-1);
static NEXT_LAST: AtomicI64 = AtomicI64::new(1);

/// Registers `handler` first or last; the handle (slot + 1), or 0 when the table is full.
pub(crate) fn add(first: bool, handler: usize) -> usize {
    let key =
        if first { NEXT_FIRST.fetch_sub(1, Ordering::Relaxed) } else { NEXT_LAST.fetch_add(1, Ordering::Relaxed) };
    for (i, slot) in HANDLERS.iter().enumerate() {
        if slot.load(Ordering::Acquire) == 0 {
            KEYS[i].store(key, Ordering::Relaxed);
            if slot.compare_exchange(0, handler, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return i + 1;
            }
        }
    }
    0
}

/// Unregisters the handler of `handle`; false when there is none.
pub(crate) fn remove(handle: usize) -> bool {
    handle.checked_sub(1).and_then(|i| HANDLERS.get(i)).is_some_and(|slot| slot.swap(0, Ordering::AcqRel) != 0)
}

/// Raises the exception of `fault` at instruction `rip`: each vectored handler in order
/// until one returns `EXCEPTION_CONTINUE_EXECUTION` (then the instruction is retried);
/// when none does, Windows' unhandled-exception report, and the process exits with the
/// exception code.
pub(crate) fn dispatch(fault: AccessFault, rip: u64, context: *mut libc::c_void) {
    let e = Exception::from(fault);
    let mut record = ExceptionRecord {
        code: e.code as u32,
        flags: 0,
        record: std::ptr::null_mut(),
        address: rip as usize as *mut libc::c_void,
        number_parameters: e.number_parameters,
        information: [0; MAX_PARAMETERS],
    };
    record.information[0] = e.information[0] as usize;
    record.information[1] = e.information[1] as usize;
    let mut pointers = ExceptionPointers { record: &mut record, context };
    let mut order: [(i64, usize); SLOTS] = [(0, 0); SLOTS];
    let mut n = 0;
    for (i, slot) in HANDLERS.iter().enumerate() {
        let h = slot.load(Ordering::Acquire);
        if h != 0 {
            order[n] = (KEYS[i].load(Ordering::Relaxed), h);
            n += 1;
        }
    }
    order[..n].sort_unstable_by_key(|&(k, _)| k);
    for &(_, h) in &order[..n] {
        // SAFETY: `h` was registered by AddVectoredExceptionHandler as a pointer to a function
        // of the PVECTORED_EXCEPTION_HANDLER type; the pointers outlive the call.
        let handler: Handler = unsafe { std::mem::transmute::<usize, Handler>(h) };
        // SAFETY: the program's own handler, given the record of this exception.
        if unsafe { handler(&mut pointers) } == CONTINUE_EXECUTION {
            return;
        }
    }
    report::unhandled(&e, rip);
}
