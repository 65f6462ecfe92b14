//! x86-64 4-level paging as the hardware defines it (Intel SDM vol. 3A, 4.5): the bits of a
//! page-table entry and the split of a virtual address into four 9-bit table indices.
//!
//! Only the `P` bit decides whether the MMU interprets an entry. When `P` is clear the other 63
//! bits belong to the operating system: `paging::pte` gives them NT's software meanings.

use crate::units::{Pfn, PhysAddr, VirtAddr, PAGE_SHIFT};

/// Entries in every paging structure.
pub const ENTRIES_PER_TABLE: usize = 512;
/// Bytes in one entry.
pub const ENTRY_BYTES: u64 = 8;

/// Present.
pub const P: u64 = 1 << 0;
/// Read/write: writes allowed when set (SDM table 4-19).
pub const RW: u64 = 1 << 1;
/// User/supervisor: user-mode accesses allowed when set.
pub const US: u64 = 1 << 2;
/// Page-level write-through.
pub const PWT: u64 = 1 << 3;
/// Page-level cache disable.
pub const PCD: u64 = 1 << 4;
/// Accessed: set by the MMU when the entry is used for a translation.
pub const A: u64 = 1 << 5;
/// Dirty: set by the MMU on the first write through a leaf entry.
pub const D: u64 = 1 << 6;
/// Page size: in a PDE, maps a 2 MiB page.
pub const PS: u64 = 1 << 7;
/// PAT bit of a 4 KiB PTE (selects write-combining together with PWT/PCD).
pub const PAT: u64 = 1 << 7;
/// No-execute (requires EFER.NXE).
pub const NX: u64 = 1 << 63;
/// Frame number field, bits 51..12.
pub const FRAME_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// The four paging levels, root first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    /// Page-map level 4: bits 47..39.
    Pml4,
    /// Page-directory-pointer table: bits 38..30.
    Pdpt,
    /// Page directory: bits 29..21.
    Pd,
    /// Page table: bits 20..12.
    Pt,
}

impl Level {
    /// All levels, walk order.
    pub const WALK: [Level; 4] = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];

    /// Shift of this level's index in a virtual address.
    #[must_use]
    pub const fn shift(self) -> u32 {
        match self {
            Level::Pml4 => 39,
            Level::Pdpt => 30,
            Level::Pd => 21,
            Level::Pt => 12,
        }
    }

    /// Depth from the root (PML4 = 0).
    #[must_use]
    pub const fn depth(self) -> usize {
        match self {
            Level::Pml4 => 0,
            Level::Pdpt => 1,
            Level::Pd => 2,
            Level::Pt => 3,
        }
    }

    /// The table name as the SDM writes it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Level::Pml4 => "PML4",
            Level::Pdpt => "PDPT",
            Level::Pd => "PD",
            Level::Pt => "PT",
        }
    }

    /// Bytes of address space one entry at this level covers.
    #[must_use]
    pub const fn entry_span(self) -> u64 {
        1 << self.shift()
    }
}

/// The index into the table at `level` for `va`.
#[must_use]
pub const fn table_index(va: VirtAddr, level: Level) -> usize {
    ((va.as_u64() >> level.shift()) & 0x1FF) as usize
}

/// The physical address of the entry `index` of the table in frame `table`.
#[must_use]
pub const fn entry_address(table: Pfn, index: usize) -> PhysAddr {
    PhysAddr(table.phys().0 + index as u64 * ENTRY_BYTES)
}

/// The frame a present entry points to.
#[must_use]
pub const fn entry_frame(entry: u64) -> Pfn {
    // Frames are u32-indexed (RAM capped at 16 TiB).
    #[allow(clippy::cast_possible_truncation)]
    Pfn(((entry & FRAME_MASK) >> PAGE_SHIFT) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_of_a_user_address() {
        let va = VirtAddr::try_new(0x7FFE_0000).expect("canonical");
        let idx: Vec<usize> = Level::WALK.iter().map(|l| table_index(va, *l)).collect();
        assert_eq!(idx, vec![0, 1, 511, 480]);
        assert_eq!(entry_frame(0x8000_0000_0012_3067), Pfn(0x123));
    }
}
