//! How Win32 values cross into the script and back: integers for addresses, sizes, DWORDs
//! and handles, Rhai bools for BOOLs, object maps for the structures Windows fills
//! (`MEMORY_BASIC_INFORMATION`, `PROCESS_MEMORY_COUNTERS_EX`, ...) with their fields' Windows
//! names.
//!
//! Contract: a DWORD parameter takes the low 32 bits of the script's integer, as a C caller's
//! conversion would; a SIZE_T or address its 64-bit pattern; a handle its pointer value.

use ntmem_win32::*;
use rhai::{Dynamic, Map, INT};

/// A DWORD parameter: the low 32 bits, as C's conversion to `DWORD` keeps.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn dword(v: INT) -> u32 {
    v as u32
}

/// A SIZE_T or address parameter: the 64-bit pattern.
pub(crate) fn qword(v: INT) -> u64 {
    v.cast_unsigned()
}

/// An address or size result, as the script's integer.
pub(crate) fn int(v: u64) -> INT {
    v.cast_signed()
}

/// A handle as the script's integer (its pointer value; -1 for the current process and
/// `INVALID_HANDLE_VALUE`).
pub(crate) fn handle_int(h: HANDLE) -> INT {
    int(h.addr() as u64)
}

/// A handle from the script's integer.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn int_handle(v: INT) -> HANDLE {
    // usize is 64 bits on every host ntmem builds for (x86-64, aarch64).
    std::ptr::without_provenance_mut(qword(v) as usize)
}

/// A BOOL result as a Rhai bool.
pub(crate) fn boolean(b: BOOL) -> Dynamic {
    Dynamic::from_bool(b != 0)
}

/// A BOOL parameter from a Rhai bool.
pub(crate) fn bool_param(b: bool) -> BOOL {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// Builds an object map from (name, integer) pairs.
pub(crate) fn map_of(fields: &[(&str, u64)]) -> Map {
    fields.iter().map(|(k, v)| ((*k).into(), Dynamic::from_int(int(*v)))).collect()
}

/// `MEMORY_BASIC_INFORMATION` as `VirtualQuery` fills it, with the names of its values too
/// (`StateName`, `ProtectName`, ...) for printing.
pub(crate) fn mbi(m: &MEMORY_BASIC_INFORMATION64) -> Map {
    let mut map = map_of(&[
        ("BaseAddress", m.BaseAddress),
        ("AllocationBase", m.AllocationBase),
        ("AllocationProtect", u64::from(m.AllocationProtect)),
        ("RegionSize", m.RegionSize),
        ("State", u64::from(m.State)),
        ("Protect", u64::from(m.Protect)),
        ("Type", u64::from(m.Type)),
    ]);
    map.insert("StateName".into(), state_name(m.State).into());
    map.insert("ProtectName".into(), protection_name(m.Protect).into());
    map.insert("AllocationProtectName".into(), protection_name(m.AllocationProtect).into());
    map.insert("TypeName".into(), type_name(m.Type).into());
    map
}

/// `PROCESS_MEMORY_COUNTERS_EX`.
pub(crate) fn memory_counters(c: &PROCESS_MEMORY_COUNTERS_EX) -> Map {
    map_of(&[
        ("cb", u64::from(c.cb)),
        ("PageFaultCount", u64::from(c.PageFaultCount)),
        ("PeakWorkingSetSize", c.PeakWorkingSetSize as u64),
        ("WorkingSetSize", c.WorkingSetSize as u64),
        ("QuotaPeakPagedPoolUsage", c.QuotaPeakPagedPoolUsage as u64),
        ("QuotaPagedPoolUsage", c.QuotaPagedPoolUsage as u64),
        ("QuotaPeakNonPagedPoolUsage", c.QuotaPeakNonPagedPoolUsage as u64),
        ("QuotaNonPagedPoolUsage", c.QuotaNonPagedPoolUsage as u64),
        ("PagefileUsage", c.PagefileUsage as u64),
        ("PeakPagefileUsage", c.PeakPagefileUsage as u64),
        ("PrivateUsage", c.PrivateUsage as u64),
    ])
}

/// `MEMORYSTATUSEX`.
pub(crate) fn memory_status(s: &MEMORYSTATUSEX) -> Map {
    map_of(&[
        ("dwLength", u64::from(s.dwLength)),
        ("dwMemoryLoad", u64::from(s.dwMemoryLoad)),
        ("ullTotalPhys", s.ullTotalPhys),
        ("ullAvailPhys", s.ullAvailPhys),
        ("ullTotalPageFile", s.ullTotalPageFile),
        ("ullAvailPageFile", s.ullAvailPageFile),
        ("ullTotalVirtual", s.ullTotalVirtual),
        ("ullAvailVirtual", s.ullAvailVirtual),
        ("ullAvailExtendedVirtual", s.ullAvailExtendedVirtual),
    ])
}

/// `SYSTEM_INFO` (without the processor-architecture union).
pub(crate) fn system_info(i: &SYSTEM_INFO) -> Map {
    map_of(&[
        ("dwPageSize", u64::from(i.dwPageSize)),
        ("lpMinimumApplicationAddress", i.lpMinimumApplicationAddress.addr() as u64),
        ("lpMaximumApplicationAddress", i.lpMaximumApplicationAddress.addr() as u64),
        ("dwActiveProcessorMask", i.dwActiveProcessorMask as u64),
        ("dwNumberOfProcessors", u64::from(i.dwNumberOfProcessors)),
        ("dwProcessorType", u64::from(i.dwProcessorType)),
        ("dwAllocationGranularity", u64::from(i.dwAllocationGranularity)),
        ("wProcessorLevel", u64::from(i.wProcessorLevel)),
        ("wProcessorRevision", u64::from(i.wProcessorRevision)),
    ])
}

/// One `PSAPI_WORKING_SET_EX_INFORMATION`, its `VirtualAttributes` bit fields by name.
pub(crate) fn working_set_ex(info: &PSAPI_WORKING_SET_EX_INFORMATION) -> Map {
    let ws = WorkingSetExBlock::of(info);
    map_of(&[
        ("VirtualAddress", info.VirtualAddress.addr() as u64),
        ("Flags", working_set_ex_flags(info) as u64),
        ("Valid", u64::from(ws.valid)),
        ("ShareCount", u64::from(ws.share_count)),
        ("Win32Protection", u64::from(ws.win32_protection)),
        ("Shared", u64::from(ws.shared)),
        ("Node", u64::from(ws.node)),
        ("Locked", u64::from(ws.locked)),
        ("LargePage", u64::from(ws.large_page)),
        ("Bad", u64::from(ws.bad)),
    ])
}
