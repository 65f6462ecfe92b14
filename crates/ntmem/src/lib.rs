//! ntmem: the Windows virtual memory manager, re-implemented on a simulated x86-64 machine.
//!
//! Layers, lowest first (docs/design.md): [`units`] and [`arch`] (addresses, hardware PTE bits),
//! [`phys`] (RAM and the PFN database with its page lists), [`paging`] (page tables in frames,
//! the walker, the TLB), [`page_file`] (page files on the host disk), [`machine`] (RAM, commit
//! and page files together), [`section`] (files, section objects, segments and their prototype
//! PTEs), [`address_space`] (VADs, working sets and every virtual-memory
//! operation and fault), [`balancer`] (trimming and the modified page writer), [`system`]
//! (processes, figures). [`invariants`] checks all of them at once.
//!
//! [`pe`] writes the PE32+ DLLs that tests and the tour map as images.
//!
//! The Win32 spellings live one crate up, in `ntmem-win32`.
#![forbid(unsafe_code)]

pub mod address_space;
pub mod arch;
pub mod balancer;
pub mod commit_charge;
pub mod inspect;
pub mod invariants;
pub mod machine;
pub mod page_file;
pub mod paging;
pub mod pe;
pub mod phys;
pub mod section;
pub mod system;
pub mod units;

pub use address_space::{AccessFault, Region, RegionState, ReserveKind, ReserveOptions, VmError};
pub use commit_charge::CommitCharge;
pub use page_file::FaultPlan;
pub use paging::{Access, AccessKind, Modifier, Protection};
pub use system::{Config, ConfigError, Memory, ProcessId, System, SystemError, SystemStats, Vm};
