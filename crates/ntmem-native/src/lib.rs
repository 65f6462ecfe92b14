//! The native engine: ntmem's memory manager under real pointers, so that C programs written
//! against Windows' `memoryapi.h` run unchanged on Linux (x86-64).
//!
//! One memory manager: the simulated machine stays the only source of truth (VADs, PTEs in
//! frames, PFN database, lists, working sets, page files, sections); the host MMU becomes a
//! second TLB. RAM is a `memfd` (`host.rs`); a TLB fill for page *p* → frame *f* maps that
//! 4 KiB of the memfd at host address *p*, read-only until the PTE is dirty; a TLB flush makes
//! *p* inaccessible again; a host fault on *p* (`handler.rs`) is resolved by the memory
//! manager as a software access would be, or raised as the Windows exception (`veh.rs`).
//!
//! Modules: `host.rs` (memfd and mappings, the arena), `handler.rs` (the SIGSEGV handler),
//! `runtime.rs` (the one machine of the program, its lock), `user.rs` (the program's buffers,
//! read and written without faulting), `abi/` (the C functions), `veh.rs` (vectored exception
//! handlers), `report.rs` (trace lines, the unhandled-exception report, the figures at exit).
//! All of the workspace's `unsafe` outside the bench lives in this crate, each block with its
//! `// SAFETY:` comment. The C headers are in `include/` beside this crate.
//!
//! Threading: any thread may call the C functions; they serialise on the runtime's lock. A
//! fault on one thread while another holds the lock waits for it.

#![allow(non_snake_case)]
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

mod abi;
pub mod compile;
mod handler;
mod host;
mod report;
mod runtime;
mod user;
mod veh;

/// Starts the machine now (the C functions start it on their first call): true when it runs.
#[must_use]
pub fn start() -> bool {
    runtime::with(|_| ()).is_some()
}

/// The machine's figures now (`None` when it could not start).
#[must_use]
pub fn stats() -> Option<ntmem::SystemStats> {
    runtime::with(|rt| rt.sys.stats())
}

/// This program's fault counters in the machine.
#[must_use]
pub fn faults() -> Option<ntmem::address_space::FaultCounts> {
    runtime::with(|rt| rt.sys.vm(rt.pid).map(|vm| vm.counters().faults).unwrap_or_default())
}

/// The directory of the C headers (`windows.h`, `memoryapi.h`, `psapi.h`, ...).
#[must_use]
pub fn include_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

pub use abi::*;
