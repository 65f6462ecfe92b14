//! Paging: one address space's page tables held in simulated frames, the software PTE formats,
//! the walker the MMU runs on a TLB miss (`mmu.rs`) with its paging-structure cache
//! (`table_cache.rs`), the walks over ranges of pages (`range_walk.rs`), and the software TLB.
//!
//! Key types: [`PageTables`], [`Pte`], [`Protection`], [`Tlb`], [`TlbFlush`]. This layer is
//! mechanism only: it knows nothing of VADs, commit or Win32 (docs/design.md, "Layers"). Every PTE change
//! returns a [`TlbFlush`] the caller must apply.

mod mmu;
mod page_table;
mod protection;
mod pte;
mod range_walk;
mod table_cache;
pub(crate) mod tlb;

pub use page_table::{Leaf, PageTables, Translation, WalkStep};
pub use protection::{Access, Modifier, Protection};
pub use pte::{PrototypePointer, PrototypePte, Pte, ValidPte};
pub(crate) use tlb::FlushRuns;
pub use tlb::{HostTlb, Tlb, TlbFlush, TLB_ENTRIES};

/// The kind of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AccessKind {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}
