//! The meanings of a page-table entry: the hardware's when `P` is set, NT's software formats
//! when it is clear (WRK `mi.h` `MMPTE_SOFTWARE`, `MMPTE_TRANSITION`):
//!
//! | format | bits |
//! |---|---|
//! | zero | all clear: nothing committed here |
//! | demand-zero | protection in 9..5, all else clear: committed, never touched |
//! | transition | bit 11 set, protection in 9..5, frame in 51..12: the page is in memory but the PTE is invalid (trimmed to the standby or modified list, or a resident guard / no-access page) |
//! | page file | protection in 9..5, file in 15..12 (`PageFileLow`), slot in 63..32 (`PageFileHigh`): the page is on disk |
//!
//! Slot 0 is never used, so a page-file PTE is never all-zero but for its protection.
//!
//! Sections add two more (WRK `MMPTE_PROTOTYPE`, `MMPTE_SUBSECTION`):
//! - [`PrototypePte`]: the shared PTE of one section page, kept in its segment. It is a valid,
//!   transition, page-file or demand-zero PTE as above, zero for a page of a `SEC_RESERVE`
//!   section not yet committed, or — bit 10 set — "in the file, not yet read" (NT's subsection
//!   format; the segment knows the file, so no subsection address is stored).
//! - [`PrototypePointer`]: a process PTE of a view that says "look at the prototype" (bit 10
//!   set), with this view's protection of the page in 9..5. NT stores the prototype PTE's kernel
//!   address; ntmem's prototype PTEs live in a `Vec` of the segment (NT keeps them in paged
//!   pool), so it stores the segment's number (31..12) and the page (63..32). A view page whose
//!   process PTE is still zero is read the same way, with the view's own protection (NT fills
//!   view PTEs lazily, from the VAD, as ntmem does).

use super::protection::Protection;
use crate::arch::x86_64::{self as hw, entry_frame};
use crate::units::Pfn;

const PROTECTION_SHIFT: u32 = 5;
const PROTECTION_BITS: u64 = 0x1F << PROTECTION_SHIFT;
/// A valid PTE keeps its page's protection in bits 52–56, which the processor ignores (Intel
/// SDM vol. 3A, table 4-20), so that `VirtualQuery` reads it from the PTE rather than from the
/// frame's PFN entry (which holds the same; `invariants::check` compares them).
const VALID_PROTECTION_SHIFT: u32 = 52;
const VALID_PROTECTION_BITS: u64 = 0x1F << VALID_PROTECTION_SHIFT;
/// NT's `Transition` bit of an invalid PTE.
const TRANSITION: u64 = 1 << 11;
/// `PageFileLow`: the page file's number.
const FILE_SHIFT: u32 = 12;
/// `PageFileHigh`: the slot in it.
const SLOT_SHIFT: u32 = 32;
/// NT's `Prototype` bit of an invalid PTE.
const PROTOTYPE: u64 = 1 << 10;
/// A prototype pointer's segment number: bits 31..12.
const SEGMENT_SHIFT: u32 = 12;
const SEGMENT_BITS: u64 = 0xF_FFFF;

/// A decoded PTE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pte {
    /// Not committed.
    Zero,
    /// Present: the hardware uses it.
    Valid(ValidPte),
    /// Committed, never touched: the first touch takes a zeroed frame.
    DemandZero(Protection),
    /// The frame is still the page's, but the PTE is invalid.
    Transition {
        /// The frame holding the page.
        pfn: Pfn,
        /// The page's protection.
        protection: Protection,
    },
    /// The page is in a page file.
    PageFile {
        /// Which page file.
        file: u8,
        /// Which slot of it (never 0).
        slot: u32,
        /// The page's protection.
        protection: Protection,
    },
    /// A view page: its state is its prototype PTE's.
    Prototype {
        /// Where the prototype PTE is.
        at: PrototypePointer,
        /// This view's protection of the page.
        protection: Protection,
    },
}

/// A present hardware PTE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ValidPte(pub u64);

impl ValidPte {
    /// The hardware entry mapping `pfn` with `protection` (which must map present), user
    /// accessible, accessed and dirty clear; the protection itself in the ignored bits.
    #[must_use]
    pub fn new(pfn: Pfn, protection: Protection) -> ValidPte {
        let mut raw = hw::P | hw::US | (pfn.phys().as_u64() & hw::FRAME_MASK);
        raw |= u64::from(protection.mask()) << VALID_PROTECTION_SHIFT;
        if protection.can_write() {
            raw |= hw::RW;
        }
        if !protection.can_execute() {
            raw |= hw::NX;
        }
        match protection.modifier() {
            super::Modifier::NoCache => raw |= hw::PCD | hw::PWT,
            super::Modifier::WriteCombine => raw |= hw::PAT,
            _ => {}
        }
        ValidPte(raw)
    }

    /// The page's protection, from the bits the processor ignores.
    #[must_use]
    pub fn protection(self) -> Protection {
        // Five bits by construction of the mask.
        #[allow(clippy::cast_possible_truncation)]
        let mask = ((self.0 & VALID_PROTECTION_BITS) >> VALID_PROTECTION_SHIFT) as u8;
        Protection::from_mask(mask).unwrap_or(Protection::NONE)
    }

    /// The mapped frame.
    #[must_use]
    pub fn pfn(self) -> Pfn {
        entry_frame(self.0)
    }

    /// Writable.
    #[must_use]
    pub fn writable(self) -> bool {
        self.0 & hw::RW != 0
    }

    /// Instruction fetches allowed.
    #[must_use]
    pub fn executable(self) -> bool {
        self.0 & hw::NX == 0
    }

    /// Accessed bit.
    #[must_use]
    pub fn accessed(self) -> bool {
        self.0 & hw::A != 0
    }

    /// Dirty bit.
    #[must_use]
    pub fn dirty(self) -> bool {
        self.0 & hw::D != 0
    }

    /// The same entry with the dirty bit clear.
    #[must_use]
    pub fn clean(self) -> ValidPte {
        ValidPte(self.0 & !hw::D)
    }

    /// The same entry with the dirty bit set.
    #[must_use]
    pub fn dirtied(self) -> ValidPte {
        ValidPte(self.0 | hw::D)
    }
}

impl Pte {
    /// Decodes a raw entry.
    #[must_use]
    pub fn decode(raw: u64) -> Pte {
        if raw & hw::P != 0 {
            return Pte::Valid(ValidPte(raw));
        }
        if raw == 0 {
            return Pte::Zero;
        }
        let protection = protection_of(raw);
        if raw & TRANSITION != 0 {
            return Pte::Transition { pfn: entry_frame(raw), protection };
        }
        if raw & PROTOTYPE != 0 {
            // The masks keep both within their fields' widths.
            #[allow(clippy::cast_possible_truncation)]
            let at = PrototypePointer {
                segment: ((raw >> SEGMENT_SHIFT) & SEGMENT_BITS) as u32,
                page: (raw >> SLOT_SHIFT) as u32,
            };
            return Pte::Prototype { at, protection };
        }
        // The masks keep both within their fields' widths.
        #[allow(clippy::cast_possible_truncation)]
        let (file, slot) = (((raw >> FILE_SHIFT) & 0xF) as u8, (raw >> SLOT_SHIFT) as u32);
        if slot == 0 {
            Pte::DemandZero(protection)
        } else {
            Pte::PageFile { file, slot, protection }
        }
    }

    /// Encodes to the raw entry.
    #[must_use]
    pub fn encode(self) -> u64 {
        match self {
            Pte::Zero => 0,
            Pte::Valid(v) => v.0,
            Pte::DemandZero(p) => u64::from(p.mask()) << PROTECTION_SHIFT,
            Pte::Transition { pfn, protection } => {
                TRANSITION | (u64::from(protection.mask()) << PROTECTION_SHIFT) | (pfn.phys().as_u64() & hw::FRAME_MASK)
            }
            Pte::PageFile { file, slot, protection } => {
                (u64::from(slot) << SLOT_SHIFT)
                    | (u64::from(file & 0xF) << FILE_SHIFT)
                    | (u64::from(protection.mask()) << PROTECTION_SHIFT)
            }
            Pte::Prototype { at, protection } => {
                PROTOTYPE
                    | (u64::from(at.segment & PrototypePointer::MAX_SEGMENT) << SEGMENT_SHIFT)
                    | (u64::from(at.page) << SLOT_SHIFT)
                    | (u64::from(protection.mask()) << PROTECTION_SHIFT)
            }
        }
    }

    /// The frame a PTE holds on to (valid or transition).
    #[must_use]
    pub fn frame(self) -> Option<Pfn> {
        match self {
            Pte::Valid(v) => Some(v.pfn()),
            Pte::Transition { pfn, .. } => Some(pfn),
            Pte::Zero | Pte::DemandZero(_) | Pte::PageFile { .. } | Pte::Prototype { .. } => None,
        }
    }

    /// The format's name, as the tour prints it.
    #[must_use]
    pub fn format_name(self) -> &'static str {
        match self {
            Pte::Zero => "zero (not committed)",
            Pte::Valid(_) => "valid (hardware)",
            Pte::DemandZero(_) => "demand-zero (software)",
            Pte::Transition { .. } => "transition (software)",
            Pte::PageFile { .. } => "page file (software)",
            Pte::Prototype { .. } => "prototype pointer (software)",
        }
    }
}

/// The state of one section page: the contents of its prototype PTE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PrototypePte {
    /// A page of a `SEC_RESERVE` section not committed yet.
    Reserved,
    /// Committed, never touched: the first touch takes a zeroed frame.
    DemandZero(Protection),
    /// A page of a file-backed section not read yet: its bytes are in the file.
    InFile(Protection),
    /// The page is in a page file (page-file-backed sections only).
    PageFile {
        /// Which page file.
        file: u8,
        /// Which slot (never 0).
        slot: u32,
        /// The page's protection.
        protection: Protection,
    },
    /// The page is in a frame some views map (share count > 0).
    Valid(ValidPte),
    /// The page is in a frame on the standby or modified list.
    Transition {
        /// The frame.
        pfn: Pfn,
        /// The page's protection.
        protection: Protection,
    },
}

impl PrototypePte {
    /// Decodes a raw prototype PTE.
    #[must_use]
    pub fn decode(raw: u64) -> PrototypePte {
        if raw & hw::P == 0 && raw & PROTOTYPE != 0 {
            return PrototypePte::InFile(protection_of(raw));
        }
        match Pte::decode(raw) {
            Pte::Zero => PrototypePte::Reserved,
            Pte::Valid(v) => PrototypePte::Valid(v),
            Pte::DemandZero(p) => PrototypePte::DemandZero(p),
            Pte::Transition { pfn, protection } => PrototypePte::Transition { pfn, protection },
            Pte::PageFile { file, slot, protection } => PrototypePte::PageFile { file, slot, protection },
            // Never stored in a segment: a prototype does not point at another.
            Pte::Prototype { protection, .. } => PrototypePte::InFile(protection),
        }
    }

    /// Encodes to the raw prototype PTE.
    #[must_use]
    pub fn encode(self) -> u64 {
        match self {
            PrototypePte::Reserved => 0,
            PrototypePte::DemandZero(p) => Pte::DemandZero(p).encode(),
            PrototypePte::InFile(p) => PROTOTYPE | (u64::from(p.mask()) << PROTECTION_SHIFT),
            PrototypePte::PageFile { file, slot, protection } => Pte::PageFile { file, slot, protection }.encode(),
            PrototypePte::Valid(v) => v.0,
            PrototypePte::Transition { pfn, protection } => Pte::Transition { pfn, protection }.encode(),
        }
    }

    /// The page's protection in the section (`NONE` for a reserved page).
    #[must_use]
    pub fn protection(self) -> Protection {
        match self {
            PrototypePte::Reserved => Protection::NONE,
            PrototypePte::DemandZero(p) | PrototypePte::InFile(p) => p,
            PrototypePte::PageFile { protection, .. } | PrototypePte::Transition { protection, .. } => protection,
            PrototypePte::Valid(v) => v.protection(),
        }
    }

    /// The frame holding the page (valid or transition).
    #[must_use]
    pub fn frame(self) -> Option<Pfn> {
        match self {
            PrototypePte::Valid(v) => Some(v.pfn()),
            PrototypePte::Transition { pfn, .. } => Some(pfn),
            _ => None,
        }
    }
}

/// A process PTE in NT's prototype format: the page is a section page, described by
/// prototype PTE `page` of segment `segment`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrototypePointer {
    /// The segment's number (below 2^20).
    pub segment: u32,
    /// The page within the segment.
    pub page: u32,
}

impl PrototypePointer {
    /// The highest segment number the format holds.
    pub const MAX_SEGMENT: u32 = 0xF_FFFF;
}

fn protection_of(raw: u64) -> Protection {
    // Five bits by construction of the mask.
    #[allow(clippy::cast_possible_truncation)]
    let mask = ((raw & PROTECTION_BITS) >> PROTECTION_SHIFT) as u8;
    Protection::from_mask(mask).unwrap_or(Protection::NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_formats_round_trip() {
        for pte in [
            Pte::Zero,
            Pte::DemandZero(Protection::READ_WRITE),
            Pte::DemandZero(Protection::NO_ACCESS),
            Pte::Transition { pfn: Pfn(0x1234), protection: Protection::READ_ONLY },
            Pte::PageFile { file: 15, slot: 0xFFFF_FFFF, protection: Protection::READ_WRITE },
            Pte::PageFile { file: 0, slot: 1, protection: Protection::NO_ACCESS },
            Pte::Valid(ValidPte::new(Pfn(7), Protection::READ_WRITE)),
        ] {
            assert_eq!(Pte::decode(pte.encode()), pte);
        }
        assert_eq!(Pte::DemandZero(Protection::READ_WRITE).encode(), 0x80);
    }

    #[test]
    fn prototype_formats_round_trip() {
        for pte in [
            PrototypePte::Reserved,
            PrototypePte::DemandZero(Protection::READ_WRITE),
            PrototypePte::InFile(Protection::READ_ONLY),
            PrototypePte::PageFile { file: 3, slot: 9, protection: Protection::READ_WRITE },
            PrototypePte::Valid(ValidPte::new(Pfn(5), Protection::READ_ONLY)),
            PrototypePte::Transition { pfn: Pfn(0x77), protection: Protection::READ_WRITE },
        ] {
            assert_eq!(PrototypePte::decode(pte.encode()), pte);
        }
        let p = Pte::Prototype {
            at: PrototypePointer { segment: PrototypePointer::MAX_SEGMENT, page: u32::MAX },
            protection: Protection::READ_ONLY,
        };
        assert_eq!(Pte::decode(p.encode()), p);
        // The ordinary formats are not prototype pointers, nor is an in-file prototype PTE.
        for other in [
            Pte::DemandZero(Protection::READ_WRITE),
            Pte::Transition { pfn: Pfn(1), protection: Protection::READ_ONLY },
            Pte::PageFile { file: 1, slot: 2, protection: Protection::READ_ONLY },
        ] {
            assert!(!matches!(Pte::decode(other.encode()), Pte::Prototype { .. }));
        }
    }

    #[test]
    fn valid_bits_follow_protection() {
        let ro = ValidPte::new(Pfn(1), Protection::READ_ONLY);
        assert!(!ro.writable() && !ro.executable());
        let rw = ValidPte::new(Pfn(1), Protection::READ_WRITE);
        assert!(rw.writable() && !rw.executable());
    }

    #[test]
    fn a_valid_pte_carries_its_protection_where_the_processor_does_not_look() {
        use crate::paging::{Access, Modifier};
        let nocache_rwx = Protection::new(Access::ExecuteReadWrite, Modifier::NoCache);
        for p in [Some(Protection::READ_ONLY), Some(Protection::READ_WRITE), nocache_rwx].into_iter().flatten() {
            let v = ValidPte::new(Pfn(0xF_FFFF), p);
            assert_eq!(v.protection(), p);
            assert_eq!(v.pfn(), Pfn(0xF_FFFF), "the frame is untouched");
            assert_eq!(v.dirtied().clean().protection(), p);
        }
        assert_eq!(ValidPte::new(Pfn(1), Protection::READ_WRITE).0 & 0x7FF0_0000_0000_0000, 4 << 52);
    }
}
