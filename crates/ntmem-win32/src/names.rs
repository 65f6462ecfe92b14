//! Windows' names for the numbers `VirtualQuery` and friends return, for tools that print them.
//!
//! Contract: every function names each known bit or value by its `winnt.h` name, joins flags
//! with `" | "` in ascending bit order, and prints whatever is left unknown as hex, so no bit
//! is ever hidden. Zero, which has no name in these fields (the `Protect` of reserved memory,
//! the `Type` of free memory), prints as `0`.

use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::SystemServices::{MEM_4MB_PAGES, MEM_PHYSICAL, MEM_TOP_DOWN, MEM_WRITE_WATCH};

/// Names a `PAGE_*` value: `PAGE_READWRITE | PAGE_GUARD` for 0x104, `0` for 0.
#[must_use]
pub fn protection_name(protect: u32) -> String {
    const NAMES: [(u32, &str); 12] = [
        (PAGE_NOACCESS, "PAGE_NOACCESS"),
        (PAGE_READONLY, "PAGE_READONLY"),
        (PAGE_READWRITE, "PAGE_READWRITE"),
        (PAGE_WRITECOPY, "PAGE_WRITECOPY"),
        (PAGE_EXECUTE, "PAGE_EXECUTE"),
        (PAGE_EXECUTE_READ, "PAGE_EXECUTE_READ"),
        (PAGE_EXECUTE_READWRITE, "PAGE_EXECUTE_READWRITE"),
        (PAGE_EXECUTE_WRITECOPY, "PAGE_EXECUTE_WRITECOPY"),
        (PAGE_GUARD, "PAGE_GUARD"),
        (PAGE_NOCACHE, "PAGE_NOCACHE"),
        (PAGE_WRITECOMBINE, "PAGE_WRITECOMBINE"),
        (PAGE_TARGETS_INVALID, "PAGE_TARGETS_INVALID"),
    ];
    flags_name(protect, &NAMES)
}

/// Names a `MEMORY_BASIC_INFORMATION::State`: `MEM_COMMIT`, `MEM_RESERVE` or `MEM_FREE`.
#[must_use]
pub fn state_name(state: u32) -> String {
    value_name(state, &[(MEM_COMMIT, "MEM_COMMIT"), (MEM_RESERVE, "MEM_RESERVE"), (MEM_FREE, "MEM_FREE")])
}

/// Names a `MEMORY_BASIC_INFORMATION::Type`: `MEM_PRIVATE`, `MEM_MAPPED` or `MEM_IMAGE`
/// (`0` for free memory).
#[must_use]
pub fn type_name(kind: u32) -> String {
    value_name(kind, &[(MEM_PRIVATE, "MEM_PRIVATE"), (MEM_MAPPED, "MEM_MAPPED"), (MEM_IMAGE, "MEM_IMAGE")])
}

/// Names the `flAllocationType` of `VirtualAlloc`: `MEM_COMMIT | MEM_RESERVE` for 0x3000.
/// 0x1000000 is read as `MEM_RESET_UNDO` (its meaning as an allocation type, not `MEM_IMAGE`).
#[must_use]
pub fn allocation_type_name(flags: u32) -> String {
    const NAMES: [(u32, &str); 9] = [
        (MEM_COMMIT, "MEM_COMMIT"),
        (MEM_RESERVE, "MEM_RESERVE"),
        (MEM_RESET, "MEM_RESET"),
        (MEM_TOP_DOWN, "MEM_TOP_DOWN"),
        (MEM_WRITE_WATCH, "MEM_WRITE_WATCH"),
        (MEM_PHYSICAL, "MEM_PHYSICAL"),
        (MEM_RESET_UNDO, "MEM_RESET_UNDO"),
        (MEM_LARGE_PAGES, "MEM_LARGE_PAGES"),
        (MEM_4MB_PAGES, "MEM_4MB_PAGES"),
    ];
    flags_name(flags, &NAMES)
}

/// One name per known bit, lowest first, then the unknown rest in hex.
fn flags_name(value: u32, names: &[(u32, &str)]) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut rest = value;
    for bit in (0..32).map(|i| 1u32 << i) {
        if let Some((_, name)) = names.iter().find(|(v, _)| *v == bit) {
            if value & bit != 0 {
                parts.push((*name).to_owned());
                rest &= !bit;
            }
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join(" | ")
}

/// The name of a value that is one of a few, else the value in hex.
fn value_name(value: u32, names: &[(u32, &str)]) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    names.iter().find(|(v, _)| *v == value).map_or_else(|| format!("{value:#x}"), |(_, n)| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_names_the_base_value_and_its_modifiers() {
        assert_eq!(protection_name(PAGE_READWRITE), "PAGE_READWRITE");
        assert_eq!(protection_name(0x104), "PAGE_READWRITE | PAGE_GUARD");
        assert_eq!(protection_name(0x204), "PAGE_READWRITE | PAGE_NOCACHE");
        assert_eq!(protection_name(PAGE_EXECUTE_READWRITE), "PAGE_EXECUTE_READWRITE");
        assert_eq!(protection_name(PAGE_EXECUTE_WRITECOPY), "PAGE_EXECUTE_WRITECOPY");
    }

    #[test]
    fn protection_zero_and_unknown_bits_are_shown_not_hidden() {
        assert_eq!(protection_name(0), "0");
        assert_eq!(protection_name(0x800), "0x800");
        assert_eq!(protection_name(0x1004), "PAGE_READWRITE | 0x1000");
        // An invalid OR of two base values names both (F32 rejects it; a tool still shows it).
        assert_eq!(protection_name(0x03), "PAGE_NOACCESS | PAGE_READONLY");
    }

    #[test]
    fn state_and_type_names() {
        assert_eq!(state_name(MEM_COMMIT), "MEM_COMMIT");
        assert_eq!(state_name(MEM_RESERVE), "MEM_RESERVE");
        assert_eq!(state_name(MEM_FREE), "MEM_FREE");
        assert_eq!(state_name(0x3000), "0x3000");
        assert_eq!(type_name(MEM_PRIVATE), "MEM_PRIVATE");
        assert_eq!(type_name(MEM_MAPPED), "MEM_MAPPED");
        assert_eq!(type_name(MEM_IMAGE), "MEM_IMAGE");
        assert_eq!(type_name(0), "0");
        assert_eq!(type_name(7), "0x7");
    }

    #[test]
    fn allocation_type_names_in_bit_order() {
        assert_eq!(allocation_type_name(MEM_RESERVE | MEM_COMMIT), "MEM_COMMIT | MEM_RESERVE");
        assert_eq!(allocation_type_name(MEM_COMMIT), "MEM_COMMIT");
        assert_eq!(
            allocation_type_name(MEM_RESERVE | MEM_WRITE_WATCH | MEM_TOP_DOWN),
            "MEM_RESERVE | MEM_TOP_DOWN | MEM_WRITE_WATCH"
        );
        assert_eq!(allocation_type_name(MEM_RESET_UNDO), "MEM_RESET_UNDO");
        assert_eq!(allocation_type_name(0), "0");
    }
}
