//! The memory manager's errors, each naming the condition. `ntmem-win32` maps each to its
//! NTSTATUS (and so to a Win32 error) in one table.

use super::access::{AccessFault, FaultKind};
use crate::paging::AccessKind;
use crate::units::VirtAddr;
use std::fmt;

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
    /// The protection grants more than the view it is asked on (F201).
    #[error("the protection grants more access than the view allows")]
    SectionProtection,
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
    #[error("a guard page was touched at {:#018x}", .0.as_u64())]
    GuardPage(VirtAddr),
    /// No frame could be had without trimming or writing pages out; the caller balances
    /// memory and retries. Never leaves the core.
    #[error("{0} more free frames are needed")]
    OutOfFrames(u64),
    /// A page-file read failed (the page stays on disk).
    #[error("the page at {:#018x} could not be read from its page file", .0.as_u64())]
    InPageError(VirtAddr),
    /// The memory cannot be used this way: committing a view of a data file (F156).
    #[error("access to this view is denied")]
    AccessDenied,
    /// No view of a section at that address (F164).
    #[error("no view of a section at that address")]
    NotMappedView,
    /// Freeing or decommitting the pages of a view: only unmapping takes them away.
    #[error("the pages of a view cannot be freed or decommitted; unmap the view")]
    SectionMemory,
    /// A mapped file's pages could not be written back to it; they stay modified.
    #[error("the pages at {:#018x} could not be written to their file", .0.as_u64())]
    WriteBackFailed(VirtAddr),
    /// A service touched an inaccessible page.
    #[error("access violation: the memory at {:#018x} could not be {}", .0.as_u64(), access_verb(*.1))]
    AccessViolation(VirtAddr, AccessKind),
}

/// The past participle Windows' access-violation message uses: "could not be read".
pub(crate) fn access_verb(access: AccessKind) -> &'static str {
    match access {
        AccessKind::Read => "read",
        AccessKind::Write => "written",
        AccessKind::Execute => "executed",
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::AccessViolation => "access violation",
            FaultKind::GuardPage => "guard page",
            FaultKind::InPageError => "in-page error",
            FaultKind::OutOfFrames => "out of frames",
        })
    }
}

// Kept here, beside the other errors, rather than in `access.rs` (the hot path).
impl fmt::Display for AccessFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.address;
        let verb = access_verb(self.access);
        match self.kind {
            FaultKind::AccessViolation => write!(f, "access violation: the memory at {at:#018x} could not be {verb}"),
            FaultKind::GuardPage => write!(f, "guard page: the page at {at:#018x} was guarded (now disarmed)"),
            FaultKind::InPageError => {
                write!(f, "in-page error: the memory at {at:#018x} could not be {verb}: its page-file read failed")
            }
            FaultKind::OutOfFrames => write!(f, "out of frames: the memory at {at:#018x} could not be {verb}"),
        }
    }
}

impl std::error::Error for AccessFault {}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn every_error_of_the_core_is_a_std_error() {
        is_error::<VmError>();
        is_error::<AccessFault>();
        is_error::<crate::SystemError>();
        is_error::<crate::system::ConfigError>();
        is_error::<crate::commit_charge::CommitLimitExceeded>();
        is_error::<crate::invariants::InvariantViolation>();
    }

    #[test]
    fn a_page_file_that_cannot_be_created_is_named() {
        let path = std::env::temp_dir().join("ntmem-no-such-directory").join("pagefile.sys");
        let config = crate::Config::default().with_ram_bytes(4 << 20).with_page_file(&path, 1 << 20, 1 << 20);
        let Err(e) = crate::System::new(config) else { panic!("a page file in a missing directory was created") };
        assert_eq!(e, crate::SystemError::PageFileCreation { path: path.clone(), kind: std::io::ErrorKind::NotFound });
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }

    #[test]
    fn messages_give_addresses_in_hex_and_accesses_in_words() {
        let at = VirtAddr::try_new(0x1_0000).expect("canonical");
        assert_eq!(
            VmError::AccessViolation(at, AccessKind::Write).to_string(),
            "access violation: the memory at 0x0000000000010000 could not be written"
        );
        assert_eq!(VmError::GuardPage(at).to_string(), "a guard page was touched at 0x0000000000010000");
        let fault = AccessFault { kind: FaultKind::AccessViolation, access: AccessKind::Execute, address: 0x2_0000 };
        assert_eq!(fault.to_string(), "access violation: the memory at 0x0000000000020000 could not be executed");
    }
}
