//! The protection of an image section's pages, from its characteristics: NT's
//! `MiGetImageProtection` and its `MmImageProtectionArray` (WRK `creasect.c`), indexed by the
//! execute, read, write and shared bits.
//!
//! A writable section is copy-on-write (`PAGE_WRITECOPY`, `PAGE_EXECUTE_WRITECOPY`): each
//! process that writes gets its own copy. With `IMAGE_SCN_MEM_SHARED` it is truly shared
//! (`PAGE_READWRITE`, `PAGE_EXECUTE_READWRITE`): every process sees every write.

use crate::paging::{Access, Modifier, Protection};

/// `IMAGE_SCN_MEM_SHARED`.
pub(crate) const SCN_MEM_SHARED: u32 = 0x1000_0000;
/// `IMAGE_SCN_MEM_EXECUTE`.
pub(crate) const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
/// `IMAGE_SCN_MEM_READ`.
pub(crate) const SCN_MEM_READ: u32 = 0x4000_0000;
/// `IMAGE_SCN_MEM_WRITE`.
pub(crate) const SCN_MEM_WRITE: u32 = 0x8000_0000;

/// `MmImageProtectionArray`: index bit 0 execute, 1 read, 2 write, 3 shared.
const TABLE: [Access; 16] = [
    Access::NoAccess,
    Access::Execute,
    Access::ReadOnly,
    Access::ExecuteRead,
    Access::WriteCopy,
    Access::ExecuteWriteCopy,
    Access::WriteCopy,
    Access::ExecuteWriteCopy,
    Access::NoAccess,
    Access::Execute,
    Access::ReadOnly,
    Access::ExecuteRead,
    Access::ReadWrite,
    Access::ExecuteReadWrite,
    Access::ReadWrite,
    Access::ExecuteReadWrite,
];

/// The protection NT gives the pages of a section with these characteristics.
#[must_use]
pub fn image_protection(characteristics: u32) -> Protection {
    let mut index = 0;
    for (bit, flag) in [SCN_MEM_EXECUTE, SCN_MEM_READ, SCN_MEM_WRITE, SCN_MEM_SHARED].into_iter().enumerate() {
        if characteristics & flag != 0 {
            index |= 1 << bit;
        }
    }
    // Every access in the table takes "no modifier", so `new` cannot refuse it.
    Protection::new(TABLE[index], Modifier::None).unwrap_or(Protection::NO_ACCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u32 = SCN_MEM_READ;
    const W: u32 = SCN_MEM_WRITE;
    const X: u32 = SCN_MEM_EXECUTE;
    const S: u32 = SCN_MEM_SHARED;

    fn access(c: u32) -> Access {
        image_protection(c).access()
    }

    #[test]
    fn code_is_execute_read_and_data_read_only() {
        assert_eq!(access(X | R), Access::ExecuteRead);
        assert_eq!(access(R), Access::ReadOnly);
        assert_eq!(access(X), Access::Execute);
        assert_eq!(image_protection(0), Protection::NO_ACCESS);
    }

    #[test]
    fn writable_sections_are_copy_on_write_unless_shared() {
        assert_eq!(access(R | W), Access::WriteCopy);
        assert_eq!(access(W), Access::WriteCopy);
        assert_eq!(access(X | R | W), Access::ExecuteWriteCopy);
        assert_eq!(access(R | W | S), Access::ReadWrite);
        assert_eq!(access(X | R | W | S), Access::ExecuteReadWrite);
        // Shared without write changes nothing.
        assert_eq!(access(R | S), Access::ReadOnly);
        assert_eq!(access(X | R | S), Access::ExecuteRead);
    }

    #[test]
    fn other_characteristics_bits_are_ignored() {
        // IMAGE_SCN_CNT_CODE, IMAGE_SCN_CNT_INITIALIZED_DATA, IMAGE_SCN_MEM_DISCARDABLE.
        assert_eq!(access(0x20 | X | R), Access::ExecuteRead);
        assert_eq!(access(0x40 | 0x0200_0000 | R), Access::ReadOnly);
    }
}
