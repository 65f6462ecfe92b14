//! The memory manager's errors, each naming the condition. `ntmem-win32` maps each to its
//! NTSTATUS (and so to a Win32 error) in one table.

use crate::paging::AccessKind;
use crate::units::VirtAddr;

/// Why an address-space operation failed. A failed operation changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// The range overlaps an allocation, or does not lie inside one reservation.
    #[error("the range conflicts with the address space's allocations")]
    ConflictingAddresses,
    /// No allocation at that address.
    #[error("no allocation at that address")]
    NotAllocated,
    /// A whole-allocation release or decommit not at the allocation's first page.
    #[error("not the base of the allocation")]
    FreeNotAtBase,
    /// The range runs past its allocation.
    #[error("the range is not inside one allocation")]
    UnableToFree,
    /// A page of the range is not committed.
    #[error("a page of the range is not committed")]
    NotCommitted,
    /// The commit charge would pass the commit limit.
    #[error("the commit limit would be exceeded")]
    CommitLimit,
    /// No free range of the address space is large enough.
    #[error("no free address range is large enough")]
    NoFreeSpace,
    /// No physically contiguous run for a large page.
    #[error("not enough contiguous physical memory")]
    InsufficientResources,
    /// The protection cannot be used on this memory.
    #[error("the protection cannot be used on this memory")]
    InvalidProtection,
    /// A parameter is invalid for this memory (size, alignment, kind).
    #[error("invalid parameter for this memory")]
    InvalidParameter,
    /// Unlocking a page that is not locked.
    #[error("a page of the range is not locked")]
    NotLocked,
    /// Locking more pages than the working-set minimum allows.
    #[error("the working-set quota would be exceeded")]
    WorkingSetQuota,
    /// The range is not in a write-watch allocation.
    #[error("the range is not in a write-watch allocation")]
    NotWriteWatch,
    /// A service touched a guard page (the guard is now cleared).
    #[error("guard page touched at {0:?}")]
    GuardPage(VirtAddr),
    /// No frame could be had without trimming or writing pages out; the caller balances
    /// memory and retries. Never leaves the core.
    #[error("{0} frames are needed")]
    OutOfFrames(u64),
    /// A page-file read failed (the page stays on disk).
    #[error("page-file read failed at {0:?}")]
    InPageError(VirtAddr),
    /// A service touched an inaccessible page.
    #[error("access violation at {0:?} ({1:?})")]
    AccessViolation(VirtAddr, AccessKind),
}
