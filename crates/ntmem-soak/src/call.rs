//! [`Call`]: one call the soak makes, concrete (addresses, sizes, flags written out), so a
//! failure prints it, and a sequence of them replays the same way on a fresh machine.

use std::fmt;

/// Which process slot (`0..processes`) a call is made from or aimed at.
pub type Slot = u8;

/// The process handle an `…Ex` or NT call passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `GetCurrentProcess()`.
    Current,
    /// A handle the caller opens (`OpenProcess(PROCESS_ALL_ACCESS)`) on this slot's process
    /// and closes after the call; a null handle when that process is gone.
    Slot(Slot),
    /// A value that is no handle at all.
    Bad(u64),
}

/// Through which face a memory call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `VirtualAlloc`, `VirtualFree`, `VirtualProtect`, `VirtualQuery`: the caller itself.
    Kernel32,
    /// `VirtualAllocEx` and the rest.
    Ex(Target),
    /// `NtAllocateVirtualMemory` and the rest (in/out base and size).
    Nt(Target),
}

/// Through which service a section is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `CreateFileMappingW`, which passes `OBJ_OPENIF` (F133).
    CreateFileMapping,
    /// `NtCreateSection` with all access and no `OBJ_OPENIF`: a name in use collides (F207).
    NtCreateSection,
    /// `NtCreateSection` with all access and `OBJ_OPENIF`: a name in use opens.
    NtCreateSectionOpenIf,
}

/// What a section is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The page file (`INVALID_HANDLE_VALUE`).
    PageFile,
    /// Soak data file `n` (`files.rs`), opened for the call for reading and, with
    /// `file_write`, writing.
    File(u8),
    /// The soak's PE image (`images.rs`), opened for the call for reading and executing.
    Image,
}

/// One call of the soak.
#[allow(missing_docs)] // The fields are the Win32 parameters of the same names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `VirtualAlloc(Ex)` / `NtAllocateVirtualMemory` (with `zero_bits` there).
    Alloc { proc: Slot, via: Via, addr: u64, size: u64, flags: u32, protect: u32, zero_bits: u8 },
    /// `VirtualFree(Ex)` / `NtFreeVirtualMemory`.
    Free { proc: Slot, via: Via, addr: u64, size: u64, free_type: u32 },
    /// `VirtualProtect(Ex)` / `NtProtectVirtualMemory`.
    Protect { proc: Slot, via: Via, addr: u64, size: u64, protect: u32 },
    /// `VirtualQuery(Ex)` / `NtQueryVirtualMemory`.
    Query { proc: Slot, via: Via, addr: u64 },
    /// `VirtualLock`.
    Lock { proc: Slot, addr: u64, size: u64 },
    /// `VirtualUnlock`.
    Unlock { proc: Slot, addr: u64, size: u64 },
    /// `GetWriteWatch` with room for `capacity` addresses.
    GetWriteWatch { proc: Slot, addr: u64, size: u64, reset: bool, capacity: u16 },
    /// `ResetWriteWatch`.
    ResetWriteWatch { proc: Slot, addr: u64, size: u64 },
    /// The process reads `len` bytes (0 included).
    Read { proc: Slot, addr: u64, len: u32 },
    /// The process writes `len` bytes made from `seed` (0 included).
    Write { proc: Slot, addr: u64, len: u32, seed: u64 },
    /// `ReadProcessMemory`.
    ReadProcess { proc: Slot, target: Target, addr: u64, len: u32 },
    /// `WriteProcessMemory` of `len` bytes made from `seed`.
    WriteProcess { proc: Slot, target: Target, addr: u64, len: u32, seed: u64 },
    /// `SetProcessWorkingSetSizeEx`.
    SetWorkingSet { proc: Slot, target: Target, minimum: u64, maximum: u64, flags: u32 },
    /// `EmptyWorkingSet`.
    EmptyWorkingSet { proc: Slot, target: Target },
    /// `QueryWorkingSetEx` of `pages` pages from `addr`.
    QueryWorkingSet { proc: Slot, target: Target, addr: u64, pages: u16 },
    /// A new process in an empty slot.
    CreateProcess { slot: Slot },
    /// `TerminateProcess`.
    TerminateProcess { proc: Slot, target: Target },
    /// The next `reads` page-file reads and `writes` page-file writes fail.
    InjectFaults { reads: u8, writes: u8 },
    /// The modified page writer runs.
    WriteModified,
    /// A section of `source`, named `soak-section-<name>`, created through `route`.
    CreateSection {
        proc: Slot,
        source: Source,
        file_write: bool,
        protect: u32,
        size: u64,
        name: Option<u8>,
        route: Route,
    },
    /// `OpenFileMappingW` of `soak-section-<name>`.
    OpenSection { proc: Slot, name: u8, access: u32 },
    /// `CloseHandle` of the caller's section handle `handle` (an index; 255: no handle).
    CloseSection { proc: Slot, handle: u8 },
    /// `MapViewOfFileEx` (into the caller) or `MapViewOfFile2` (into `target`, with the
    /// protection `access` means) of the caller's section handle `handle`; with `zero_bits`,
    /// `NtMapViewOfSection` (into `target`) with those ZeroBits.
    MapView {
        proc: Slot,
        handle: u8,
        target: Target,
        access: u32,
        offset: u64,
        size: u64,
        base: u64,
        zero_bits: Option<u64>,
    },
    /// `UnmapViewOfFile` (`Current`) or `UnmapViewOfFile2`.
    UnmapView { proc: Slot, target: Target, addr: u64 },
    /// `FlushViewOfFile`.
    FlushView { proc: Slot, addr: u64, size: u64 },
    /// `ReadFile` (`write` none) or `WriteFile` of bytes made from `write` on soak file `file`.
    FileIo { proc: Slot, file: u8, offset: u64, len: u32, write: Option<u64> },
    /// The next `reads` mapped-file reads and `writes` mapped-file writes fail.
    InjectMappedFaults { reads: u8, writes: u8 },
}

impl Call {
    /// The slot the call is made from, if any.
    #[must_use]
    pub fn caller(&self) -> Option<Slot> {
        match *self {
            Call::Alloc { proc, .. }
            | Call::Free { proc, .. }
            | Call::Protect { proc, .. }
            | Call::Query { proc, .. }
            | Call::Lock { proc, .. }
            | Call::Unlock { proc, .. }
            | Call::GetWriteWatch { proc, .. }
            | Call::ResetWriteWatch { proc, .. }
            | Call::Read { proc, .. }
            | Call::Write { proc, .. }
            | Call::ReadProcess { proc, .. }
            | Call::WriteProcess { proc, .. }
            | Call::SetWorkingSet { proc, .. }
            | Call::EmptyWorkingSet { proc, .. }
            | Call::QueryWorkingSet { proc, .. }
            | Call::TerminateProcess { proc, .. }
            | Call::CreateSection { proc, .. }
            | Call::OpenSection { proc, .. }
            | Call::CloseSection { proc, .. }
            | Call::MapView { proc, .. }
            | Call::UnmapView { proc, .. }
            | Call::FlushView { proc, .. }
            | Call::FileIo { proc, .. } => Some(proc),
            Call::CreateProcess { .. }
            | Call::InjectFaults { .. }
            | Call::WriteModified
            | Call::InjectMappedFaults { .. } => None,
        }
    }
}

impl fmt::Display for Call {
    /// As Rust source, so a failing call can be pasted into a regression test.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug prints the fields; addresses read better in hex.
        let s = format!("{self:?}");
        let mut out = String::with_capacity(s.len());
        for tok in s.split_inclusive([' ', ',', '(', ')', '}']) {
            let (num, rest) = tok.split_at(tok.find([' ', ',', '(', ')', '}']).unwrap_or(tok.len()));
            match num.parse::<u64>() {
                Ok(n) if n >= 4096 => out.push_str(&format!("{n:#x}{rest}")),
                _ => out.push_str(tok),
            }
        }
        f.write_str(&out)
    }
}

/// `len` bytes made from `seed` (xorshift64, so a write is reproducible from its call).
#[must_use]
pub fn bytes_of(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_prints_as_rust_with_hex_addresses() {
        let c = Call::Lock { proc: 1, addr: 0x20000, size: 8192 };
        assert_eq!(c.to_string(), "Lock { proc: 1, addr: 0x20000, size: 0x2000 }");
    }
}
