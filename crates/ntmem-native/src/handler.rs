//! The fault handler: a host SIGSEGV on a page of the arena is a TLB miss of the machine.
//!
//! The handler reads the faulting address (`si_addr`) and the kind of access from the x86-64
//! page-fault error code in the saved context (`REG_ERR`: bit 1 write, bit 4 instruction
//! fetch), asks the memory manager to resolve it exactly as a software access
//! ([`ntmem::Vm::resolve_access`]: demand-zero, soft, hard with clustering, prototype,
//! copy-on-write, guard, dirty bit), whose TLB fill maps the page on the host, and returns:
//! the instruction is retried. What the manager cannot resolve becomes the Windows exception
//! (`veh.rs`): the vectored handlers, then the unhandled-exception report and exit.
//!
//! What it relies on:
//! - No code holding the runtime's lock touches arena memory through host mappings
//!   (`runtime.rs`), so the lock the handler takes is never one the interrupted code holds;
//!   a fault while this thread holds it is this library's bug and ends the program.
//! - The memory manager allocates (its working-set lists, VAD nodes). The program's code that
//!   faults on arena pages holds no lock of the host allocator: the allocator's own memory is
//!   never in the arena, so it never faults there while holding its lock.
//! - Output is by `write(2)` only (`report.rs`), never stdio, whose locks the program may hold.
//! - `SA_NODEFER`: a vectored handler may itself fault on arena pages, handled the same way.
//! - `SA_ONSTACK` with an alternate stack per thread that installs one: a stack overflow
//!   into a guard page is not this engine's (the host's stack is the host's).

use crate::report::{self, Line};
use crate::runtime;
use ntmem::AccessKind;

thread_local! {
    /// The last address this thread's handler resolved, and how many times in a row.
    static REPEATS: std::cell::Cell<(u64, u32)> = const { std::cell::Cell::new((u64::MAX, 0)) };
}

/// Installs the handler for SIGSEGV (and SIGBUS, which a bad memfd offset would raise).
pub(crate) fn install() {
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler is an
        // `extern "C"` function with the SA_SIGINFO signature, valid for the program's life.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The kind of access of a page fault, from the saved error code.
fn access_of(context: *mut libc::c_void) -> AccessKind {
    if context.is_null() {
        return AccessKind::Read;
    }
    // SAFETY: the kernel passes a valid ucontext_t as the third argument of an SA_SIGINFO
    // handler; REG_ERR holds the x86-64 page-fault error code of a SIGSEGV.
    let err = unsafe { (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_ERR as usize] };
    if err & 0x10 != 0 {
        AccessKind::Execute
    } else if err & 0x2 != 0 {
        AccessKind::Write
    } else {
        AccessKind::Read
    }
}

/// The instruction pointer of the interrupted code.
pub(crate) fn instruction_of(context: *mut libc::c_void) -> u64 {
    if context.is_null() {
        return 0;
    }
    // SAFETY: as in `access_of`: the saved context of the interrupted code.
    let rip = unsafe { (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] };
    rip as u64
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as u64;
    let access = if sig == libc::SIGSEGV { access_of(context) } else { AccessKind::Read };
    if runtime::inside() || !runtime::started() {
        report::fatal(Line::new().text("ntmem: a fault outside the memory manager's arena at ").hex(addr));
    }
    match resolve(addr, access) {
        Ok(()) => {}
        Err(fault) => crate::veh::dispatch(fault, instruction_of(context), context),
    }
}

/// Resolves the host fault through the memory manager; then, when the host's mapping limit
/// is near, trims the working set (the host's limit is one more working-set maximum).
fn resolve(addr: u64, access: AccessKind) -> Result<(), ntmem::AccessFault> {
    let Some(mut rt) = runtime::lock() else {
        report::fatal(Line::new().text("ntmem: the memory manager could not start"));
    };
    let rt = &mut *rt;
    let Ok(mut vm) = rt.sys.vm(rt.pid) else {
        report::fatal(Line::new().text("ntmem: the process has ended"));
    };
    let before = vm.counters().faults;
    let r = vm.resolve_access(addr, access);
    if rt.trace {
        let after = vm.counters().faults;
        report::trace_fault(addr, access, &before, &after, r.is_ok());
    }
    if r.is_ok() && crate::host::MAPPED_PAGES.load(std::sync::atomic::Ordering::Relaxed) > rt.map_limit {
        // The host's limit on mappings is near: trim as the working-set manager would at
        // its maximum (every page comes back by a soft fault).
        let _ = vm.empty_working_set();
        return r.map(|_| ());
    }
    if r.is_ok() {
        let owned = rt.host.lock().unwrap_or_else(std::sync::PoisonError::into_inner).arena.owns(addr);
        // A resolved page may be unmapped again already (the balancer ran after the fault and
        // trimmed it): the retry faults again and makes progress. But a page outside the arena
        // can never be mapped, and the same page resolved over and over means the host refuses
        // its mapping: retrying would fault for ever.
        let again = REPEATS.with(|r| {
            let (last, n) = r.get();
            let n = if last == addr { n + 1 } else { 0 };
            r.set((addr, n));
            n
        });
        if !owned || again > 64 {
            report::fatal(Line::new().text("ntmem: a resolved page could not be mapped on the host at ").hex(addr));
        }
    }
    r.map(|_| ())
}
