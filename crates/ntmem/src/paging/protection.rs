//! Page protection as NT's memory manager holds it: a 5-bit mask (`MM_READONLY` ...), stored in
//! software PTEs and PFN entries (Windows Internals, 7th ed., ch. 5; WRK `mi.h`).
//!
//! The low three bits are the access; bit 3 `NOCACHE` and bit 4 `GUARD` are modifiers, and
//! both together mean `WRITECOMBINE` (or, over a zero access, `NOACCESS`). So at most one
//! modifier can be present and none with no-access: exactly the combinations F35 allows.

/// Access granted by a protection, without modifiers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Access {
    /// No access (NT's `MM_NOACCESS`).
    NoAccess,
    /// Read.
    ReadOnly,
    /// Read and write.
    ReadWrite,
    /// Read; a write makes a private copy (views only).
    WriteCopy,
    /// Execute (and, on x86-64 hardware, read).
    Execute,
    /// Execute and read.
    ExecuteRead,
    /// Execute, read and write.
    ExecuteReadWrite,
    /// Execute and read; a write makes a private copy (views only).
    ExecuteWriteCopy,
}

/// A protection modifier.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Modifier {
    /// None.
    None,
    /// One-shot guard page (F96).
    Guard,
    /// Uncached.
    NoCache,
    /// Write-combined.
    WriteCombine,
}

/// A page protection: NT's 5-bit protection mask.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub struct Protection(u8);

const NOCACHE: u8 = 0x08;
const GUARD: u8 = 0x10;
const BOTH: u8 = NOCACHE | GUARD;

impl Protection {
    /// No protection: the mask of a page that is not committed (`MM_ZERO_ACCESS`).
    pub const NONE: Protection = Protection(0);
    /// `MM_NOACCESS`.
    pub const NO_ACCESS: Protection = Protection(BOTH);
    /// `MM_READONLY`.
    pub const READ_ONLY: Protection = Protection(1);
    /// `MM_READWRITE`.
    pub const READ_WRITE: Protection = Protection(4);

    /// Builds a protection; `None` for combinations NT cannot express (a modifier on no-access).
    #[must_use]
    pub const fn new(access: Access, modifier: Modifier) -> Option<Protection> {
        let base: u8 = match access {
            Access::NoAccess => {
                return match modifier {
                    Modifier::None => Some(Protection(BOTH)),
                    _ => None,
                }
            }
            Access::ReadOnly => 1,
            Access::Execute => 2,
            Access::ExecuteRead => 3,
            Access::ReadWrite => 4,
            Access::WriteCopy => 5,
            Access::ExecuteReadWrite => 6,
            Access::ExecuteWriteCopy => 7,
        };
        let m = match modifier {
            Modifier::None => 0,
            Modifier::Guard => GUARD,
            Modifier::NoCache => NOCACHE,
            Modifier::WriteCombine => BOTH,
        };
        Some(Protection(base | m))
    }

    /// The raw 5-bit mask.
    #[must_use]
    pub const fn mask(self) -> u8 {
        self.0
    }

    /// From a raw mask read out of a PTE; `None` for values outside 5 bits.
    #[must_use]
    pub const fn from_mask(mask: u8) -> Option<Protection> {
        if mask < 32 {
            Some(Protection(mask))
        } else {
            None
        }
    }

    /// The access part.
    #[must_use]
    pub const fn access(self) -> Access {
        match self.0 & 7 {
            0 => Access::NoAccess,
            1 => Access::ReadOnly,
            2 => Access::Execute,
            3 => Access::ExecuteRead,
            4 => Access::ReadWrite,
            5 => Access::WriteCopy,
            6 => Access::ExecuteReadWrite,
            _ => Access::ExecuteWriteCopy,
        }
    }

    /// The modifier part.
    #[must_use]
    pub const fn modifier(self) -> Modifier {
        if self.0 & 7 == 0 {
            return Modifier::None;
        }
        match self.0 & BOTH {
            0 => Modifier::None,
            GUARD => Modifier::Guard,
            NOCACHE => Modifier::NoCache,
            _ => Modifier::WriteCombine,
        }
    }

    /// True for `NONE` (not committed).
    #[must_use]
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// True when the guard modifier is armed.
    #[must_use]
    pub const fn is_guard(self) -> bool {
        matches!(self.modifier(), Modifier::Guard)
    }

    /// The same access and modifier, without the guard.
    #[must_use]
    pub const fn without_guard(self) -> Protection {
        if self.is_guard() {
            Protection(self.0 & !GUARD)
        } else {
            self
        }
    }

    /// The same access with `caching` (NoCache / WriteCombine / None) in place of this one's
    /// caching modifier; a guard stays. `None` when the two cannot be expressed together.
    #[must_use]
    pub fn with_caching_of(self, source: Protection) -> Option<Protection> {
        match source.modifier() {
            Modifier::NoCache | Modifier::WriteCombine => {
                if self.is_guard() || self.access() == Access::NoAccess {
                    Some(self)
                } else {
                    Protection::new(self.access(), source.modifier())
                }
            }
            _ => Protection::new(self.access(), if self.is_guard() { Modifier::Guard } else { Modifier::None }),
        }
    }

    /// Reads allowed (execute implies read on x86-64 hardware).
    #[must_use]
    pub const fn can_read(self) -> bool {
        !matches!(self.access(), Access::NoAccess)
    }

    /// Writes allowed without copy-on-write.
    #[must_use]
    pub const fn can_write(self) -> bool {
        matches!(self.access(), Access::ReadWrite | Access::ExecuteReadWrite)
    }

    /// Instruction fetches allowed.
    #[must_use]
    pub const fn can_execute(self) -> bool {
        matches!(
            self.access(),
            Access::Execute | Access::ExecuteRead | Access::ExecuteReadWrite | Access::ExecuteWriteCopy
        )
    }

    /// Copy-on-write: the first write copies the page (`PAGE_WRITECOPY`,
    /// `PAGE_EXECUTE_WRITECOPY`).
    #[must_use]
    pub const fn is_copy_on_write(self) -> bool {
        matches!(self.access(), Access::WriteCopy | Access::ExecuteWriteCopy)
    }

    /// The protection a copy-on-write page takes once written (F158): `PAGE_READWRITE`, or
    /// `PAGE_EXECUTE_READWRITE`, with the same caching; itself for any other protection.
    #[must_use]
    pub fn after_copy(self) -> Protection {
        let access = match self.access() {
            Access::WriteCopy => Access::ReadWrite,
            Access::ExecuteWriteCopy => Access::ExecuteReadWrite,
            _ => return self,
        };
        Protection::new(access, self.modifier()).unwrap_or(self)
    }

    /// True when a resident page with this protection can have a present hardware PTE (NT
    /// keeps guard and no-access pages invalid).
    #[must_use]
    pub const fn maps_present(self) -> bool {
        self.can_read() && !self.is_guard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_encoding_round_trips() {
        let rw_nc = Protection::new(Access::ReadWrite, Modifier::NoCache).expect("valid");
        assert_eq!(rw_nc.mask(), 0x0C);
        assert_eq!(rw_nc.modifier(), Modifier::NoCache);
        let wc = Protection::new(Access::ReadOnly, Modifier::WriteCombine).expect("valid");
        assert_eq!(wc.mask(), 0x19);
        assert_eq!(wc.modifier(), Modifier::WriteCombine);
        assert_eq!(Protection::NO_ACCESS.access(), Access::NoAccess);
        assert_eq!(Protection::NO_ACCESS.modifier(), Modifier::None);
        assert!(Protection::new(Access::NoAccess, Modifier::Guard).is_none());
        let g = Protection::new(Access::ReadWrite, Modifier::Guard).expect("valid");
        assert_eq!(g.without_guard(), Protection::READ_WRITE);
    }
}
