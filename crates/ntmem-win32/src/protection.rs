//! `PAGE_*` values and the core's [`Protection`]: NT's `MiMakeProtectionMask` and its inverse.
//!
//! A valid value has exactly one base protection (F32, F74) and at most one modifier; guard,
//! no-cache and write-combine never go with no-access nor with each other (F35).

use ntmem::{Access, Modifier, Protection};
use windows_sys::Win32::System::Memory::*;

/// The core protection for a `PAGE_*` value; `None` when Windows rejects it
/// (`STATUS_INVALID_PAGE_PROTECTION`).
#[must_use]
pub fn from_win32(value: u32) -> Option<Protection> {
    let base = value & 0xFF;
    let modifiers = value & 0x700;
    if value & !0x7FF != 0 {
        return None;
    }
    let access = match base {
        PAGE_NOACCESS => Access::NoAccess,
        PAGE_READONLY => Access::ReadOnly,
        PAGE_READWRITE => Access::ReadWrite,
        PAGE_WRITECOPY => Access::WriteCopy,
        PAGE_EXECUTE => Access::Execute,
        PAGE_EXECUTE_READ => Access::ExecuteRead,
        PAGE_EXECUTE_READWRITE => Access::ExecuteReadWrite,
        PAGE_EXECUTE_WRITECOPY => Access::ExecuteWriteCopy,
        _ => return None,
    };
    let modifier = match modifiers {
        0 => Modifier::None,
        PAGE_GUARD => Modifier::Guard,
        PAGE_NOCACHE => Modifier::NoCache,
        PAGE_WRITECOMBINE => Modifier::WriteCombine,
        _ => return None,
    };
    Protection::new(access, modifier)
}

/// The `PAGE_*` value of a core protection (0 for none).
#[must_use]
pub fn to_win32(p: Protection) -> u32 {
    if p.is_none() {
        return 0;
    }
    let base = match p.access() {
        Access::NoAccess => PAGE_NOACCESS,
        Access::ReadOnly => PAGE_READONLY,
        Access::ReadWrite => PAGE_READWRITE,
        Access::WriteCopy => PAGE_WRITECOPY,
        Access::Execute => PAGE_EXECUTE,
        Access::ExecuteRead => PAGE_EXECUTE_READ,
        Access::ExecuteReadWrite => PAGE_EXECUTE_READWRITE,
        Access::ExecuteWriteCopy => PAGE_EXECUTE_WRITECOPY,
    };
    base | match p.modifier() {
        Modifier::None => 0,
        Modifier::Guard => PAGE_GUARD,
        Modifier::NoCache => PAGE_NOCACHE,
        Modifier::WriteCombine => PAGE_WRITECOMBINE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_value_round_trips() {
        let mut accepted = 0;
        for v in 0..0x800u32 {
            if let Some(p) = from_win32(v) {
                assert_eq!(to_win32(p), v, "{v:#x}");
                accepted += 1;
            }
        }
        // 8 bases plain, 7 with each of 3 modifiers (not NOACCESS).
        assert_eq!(accepted, 8 + 7 * 3);
        assert!(from_win32(PAGE_NOACCESS | PAGE_GUARD).is_none());
        assert!(from_win32(PAGE_READONLY | PAGE_WRITECOMBINE).is_some());
        assert!(from_win32(PAGE_READWRITE | PAGE_GUARD | PAGE_NOCACHE).is_none());
    }
}
