//! Inspection: read-only pictures of a process's address space and of physical memory, laid
//! out as Sysinternals VMMap and RAMMap lay them out, and the differences between two such
//! pictures.
//!
//! Key types: [`VmMap`] (`vmmap.rs`: VMMap's type summary and details list of one process),
//! [`RamMap`] (`rammap.rs`: RAMMap's Use Counts, Processes, Physical Pages and File Summary),
//! [`VmMapDiff`] and [`RamMapDiff`] (`diff.rs`: what changed from one capture to the next).
//!
//! Contracts:
//! - A capture reads `&System` only: it changes nothing (no fault, no TLB fill, no aging), so
//!   taking a picture never disturbs what it shows.
//! - Every figure is derived from the same state the system's own counters keep (PTEs, the
//!   PFN database, the working-set counters, the page lists), so the pictures agree with
//!   `GetProcessMemoryInfo`, `VirtualQuery`, `QueryWorkingSetEx` and the list lengths of
//!   [`crate::SystemStats`]; the tests in `ntmem-win32/tests/inspect_facts.rs` check each figure
//!   against those counters.
//! - Sizes are in bytes; the renderers (`ntmem-cli/src/views/`) show them in K as VMMap does.
//!
//! The definitions followed are those of the Sysinternals documentation of VMMap and RAMMap
//! (Russinovich and Margosis, *Windows Sysinternals Administrator's Reference*, ch. 7 "VMMap"
//! and ch. 14 "RAMMap"; the VMMap and RAMMap pages on learn.microsoft.com); each module says
//! where ntmem has nothing to show for a category or differs.

mod diff;
mod rammap;
mod vmmap;
mod walk;

pub use diff::{Change, RamMapDiff, VmMapDiff};
pub use rammap::{FileRow, ListColumn, PageUse, PhysicalPage, ProcessRow, RamMap, UseCounts};
pub use vmmap::{Allocation, Block, Figures, MemoryType, VmMap};
