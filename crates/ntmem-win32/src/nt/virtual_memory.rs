//! `NtAllocateVirtualMemory`, `NtFreeVirtualMemory`, `NtProtectVirtualMemory`,
//! `NtQueryVirtualMemory`, `NtLockVirtualMemory`/`NtUnlockVirtualMemory`, `NtGetWriteWatch`
//! and `NtResetWriteWatch`.

use super::{vm_of, zero_bits_limit};
use crate::errors::status_of;
use crate::protection::{from_win32, to_win32};
use ntmem::address_space::{Placement, VadKind};
use ntmem::units::{MAX_USER_ADDRESS, MIN_USER_ADDRESS, USER_END};
use ntmem::{Access, ProcessId, RegionState, ReserveKind, ReserveOptions, System, VmError};
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::SystemServices::{MEM_PHYSICAL, MEM_TOP_DOWN, MEM_WRITE_WATCH};
use windows_sys::Win32::System::Threading::{PROCESS_QUERY_INFORMATION, PROCESS_VM_OPERATION};

const KNOWN_ALLOCATION_TYPES: u32 = MEM_COMMIT
    | MEM_RESERVE
    | MEM_RESET
    | MEM_RESET_UNDO
    | MEM_TOP_DOWN
    | MEM_WRITE_WATCH
    | MEM_PHYSICAL
    | MEM_LARGE_PAGES;

/// `ZeroBits` to the highest end address an allocation may have (F47, [`zero_bits_limit`]);
/// `Err` for the values NT rejects with `STATUS_INVALID_PARAMETER_3`: 22 to 31, and masks
/// that leave the whole user range (all ones among them, F47).
fn allocation_limit(zero_bits: u64) -> Result<u64, NTSTATUS> {
    // Wine `test_NtAllocateVirtualMemory`: 0x1aaaaaaa allows everything below 2^29, not only
    // the addresses under the mask.
    match zero_bits_limit(zero_bits) {
        Some(limit) if zero_bits < MAX_USER_ADDRESS => Ok(limit),
        _ => Err(STATUS_INVALID_PARAMETER_3),
    }
}

fn check_allocation_type(t: u32) -> Result<(), NTSTATUS> {
    let placeholders = MEM_RESERVE_PLACEHOLDER | MEM_REPLACE_PLACEHOLDER;
    if t & !(KNOWN_ALLOCATION_TYPES | placeholders) != 0 {
        return Err(STATUS_INVALID_PARAMETER_5); // F27: 0xFFFFFFFF
    }
    if t & placeholders != 0 {
        // Placeholders need the Ex form (F30).
        return Err(STATUS_INVALID_PARAMETER);
    }
    let main = MEM_COMMIT | MEM_RESERVE | MEM_RESET | MEM_RESET_UNDO;
    let bad = t & !KNOWN_ALLOCATION_TYPES != 0
        || t & main == 0
        || (t & (MEM_RESET | MEM_RESET_UNDO) != 0 && t != MEM_RESET && t != MEM_RESET_UNDO)
        || (t & MEM_WRITE_WATCH != 0 && t & MEM_RESERVE == 0)
        || (t & MEM_PHYSICAL != 0 && (t & MEM_RESERVE == 0 || t & !(MEM_RESERVE | MEM_PHYSICAL | MEM_TOP_DOWN) != 0))
        || (t & MEM_LARGE_PAGES != 0 && t & (MEM_RESERVE | MEM_COMMIT) != (MEM_RESERVE | MEM_COMMIT));
    // F27, F28, F45, F48, F50.
    if bad {
        Err(STATUS_INVALID_PARAMETER_5)
    } else {
        Ok(())
    }
}

/// `NtAllocateVirtualMemory`: on success `base` and `size` hold the range allocated.
// NT's six parameters, plus the system and the calling process.
#[allow(clippy::too_many_arguments)]
pub(crate) fn allocate_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    zero_bits: u64,
    size: &mut u64,
    allocation_type: u32,
    protect: u32,
) -> NTSTATUS {
    let limit = match allocation_limit(zero_bits) {
        Ok(l) => l,
        Err(s) => return s,
    };
    if let Err(s) = check_allocation_type(allocation_type) {
        return s;
    }
    let Some(protection) = from_win32(protect) else { return STATUS_INVALID_PAGE_PROTECTION };
    let (addr, len) = (*base, *size);
    // NT's order (ReactOS `NtAllocateVirtualMemory`): a base above user space, then a size
    // running past it, then a size of 0.
    if addr > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER_2; // F4
    }
    if len > USER_END - addr.max(MIN_USER_ADDRESS) || len == 0 {
        return STATUS_INVALID_PARAMETER_4; // F7
    }
    if addr != 0 && addr < MIN_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER_2; // F3
    }
    let mut vm = match vm_of(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    let result = if allocation_type == MEM_RESET {
        vm.reset(addr, len)
    } else if allocation_type == MEM_RESET_UNDO {
        vm.reset_undo(addr, len)
    } else {
        let reserving = allocation_type & MEM_RESERVE != 0 || addr == 0;
        // Private memory cannot be copy-on-write (F32, F33); a commit inside a view is the
        // view's to judge (F156: a data-file view refuses every protection with
        // STATUS_ACCESS_DENIED; F157: a page-file view takes what its protection allows).
        let in_view = !reserving && matches!(vm.query(addr).kind, Some(VadKind::Mapped(_)));
        if matches!(protection.access(), Access::WriteCopy | Access::ExecuteWriteCopy) && !in_view {
            return STATUS_INVALID_PAGE_PROTECTION;
        }
        let large = allocation_type & MEM_LARGE_PAGES != 0;
        if large {
            if !vm.has_lock_memory_privilege() {
                return STATUS_PRIVILEGE_NOT_HELD; // F48
            }
            let two_mib = ntmem::units::LARGE_PAGE_SIZE;
            if len % two_mib != 0
                || addr % two_mib != 0
                || !protection.maps_present()
                || protection.modifier() != ntmem::Modifier::None
            {
                return STATUS_INVALID_PARAMETER;
            }
        }
        if allocation_type & MEM_PHYSICAL != 0 && protect != PAGE_READWRITE {
            return STATUS_INVALID_PAGE_PROTECTION; // F50
        }
        if reserving {
            let opts = ReserveOptions {
                protection,
                placement: if allocation_type & MEM_TOP_DOWN != 0 { Placement::TopDown } else { Placement::BottomUp },
                // ZeroBits bound only an address the system chooses: at a given base the
                // range is checked for conflicts alone (Wine `test_NtAllocateVirtualMemory`:
                // ZeroBits 12 next to an allocation above 1 MiB is STATUS_CONFLICTING_ADDRESSES).
                limit: if addr == 0 { limit } else { USER_END },
                commit: allocation_type & MEM_COMMIT != 0,
                write_watch: allocation_type & MEM_WRITE_WATCH != 0,
                kind: if large {
                    ReserveKind::LargePages
                } else if allocation_type & MEM_PHYSICAL != 0 {
                    ReserveKind::Physical
                } else {
                    ReserveKind::Normal
                },
            };
            vm.reserve((addr != 0).then_some(addr), len, &opts)
        } else {
            vm.commit(addr, len, protection)
        }
    };
    match result {
        Ok(range) => {
            *base = range.start_addr();
            *size = range.bytes();
            STATUS_SUCCESS
        }
        Err(e) => status_of(e),
    }
}

/// `NtFreeVirtualMemory`: on success `base` and `size` hold the range freed (size 0 for a
/// whole-allocation decommit, Windows 10 1803+, F59/V6).
pub(crate) fn free_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    free_type: u32,
) -> NTSTATUS {
    let one = free_type & (MEM_DECOMMIT | MEM_RELEASE);
    if free_type & !(MEM_DECOMMIT | MEM_RELEASE) != 0 || (one != MEM_DECOMMIT && one != MEM_RELEASE) {
        return STATUS_INVALID_PARAMETER_4; // F51, F52, F56; placeholders are not supported
    }
    let (addr, len) = (*base, *size);
    if addr > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER_2;
    }
    if len > USER_END - addr {
        return STATUS_INVALID_PARAMETER_3;
    }
    let mut vm = match vm_of(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    let result = if one == MEM_RELEASE { vm.release(addr, len) } else { vm.decommit(addr, len) };
    match result {
        Ok(range) => {
            *base = range.start_addr();
            *size = if one == MEM_DECOMMIT && len == 0 { 0 } else { range.bytes() };
            STATUS_SUCCESS
        }
        Err(e) => status_of(e),
    }
}

/// `NtProtectVirtualMemory`: on success `base`/`size` hold the range and `old` the first
/// page's previous protection (F72). A call the parameter checks reject writes nothing; one
/// that fails on the address space (free or reserved pages, F73) still reports
/// `PAGE_NOACCESS` in `old` and leaves `base`/`size` as given (issue 6, item 5).
pub(crate) fn protect_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    new_protect: u32,
    old: Option<&mut u32>,
) -> NTSTATUS {
    // The protection is checked first, then the out pointers are probed (F70; ReactOS
    // `NtProtectVirtualMemory`: MiMakeProtectionMask, then the probes, then base and size).
    let Some(protection) = from_win32(new_protect) else { return STATUS_INVALID_PAGE_PROTECTION };
    let Some(old) = old else { return STATUS_ACCESS_VIOLATION };
    let (addr, len) = (*base, *size);
    if addr > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER_2;
    }
    if len == 0 || len > USER_END - addr {
        return STATUS_INVALID_PARAMETER_3;
    }
    let mut vm = match vm_of(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    match vm.protect(addr, len, protection) {
        Ok((range, previous)) => {
            *base = range.start_addr();
            *size = range.bytes();
            *old = to_win32(previous);
            STATUS_SUCCESS
        }
        Err(e) => {
            // NT writes the old protection back whatever MiProtectVirtualMemory found: for a
            // range it could not change, PAGE_NOACCESS (F186); for a protection a view does
            // not allow, refused before any page is looked at, nothing, so 0 (F201).
            *old = if e == VmError::SectionProtection { 0 } else { PAGE_NOACCESS };
            status_of(e)
        }
    }
}

/// `NtQueryVirtualMemory(MemoryBasicInformation)`.
pub(crate) fn query_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    info: &mut MEMORY_BASIC_INFORMATION64,
) -> NTSTATUS {
    if addr > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER; // F5
    }
    let vm = match vm_of(sys, caller, process, PROCESS_QUERY_INFORMATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    let r = vm.query(addr);
    *info = MEMORY_BASIC_INFORMATION64 {
        BaseAddress: r.base,
        AllocationBase: r.allocation_base,
        AllocationProtect: to_win32(r.allocation_protection),
        __alignment1: 0,
        RegionSize: r.size,
        State: match r.state {
            RegionState::Free => MEM_FREE,
            RegionState::Reserved => MEM_RESERVE,
            RegionState::Committed => MEM_COMMIT,
        },
        // F83: free pages report PAGE_NOACCESS; F82: reserved pages report 0.
        Protect: match r.state {
            RegionState::Free => PAGE_NOACCESS,
            RegionState::Reserved => 0,
            RegionState::Committed => to_win32(r.protection),
        },
        Type: match r.kind {
            None => 0,
            Some(VadKind::Private | VadKind::LargePages | VadKind::Physical | VadKind::SharedUserData) => MEM_PRIVATE,
            Some(VadKind::Mapped(view)) if view.image => MEM_IMAGE,
            Some(VadKind::Mapped(_)) => MEM_MAPPED,
        },
        __alignment2: 0,
    };
    STATUS_SUCCESS
}

fn with_vm<T>(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    access: u32,
    f: impl FnOnce(&mut ntmem::Vm<'_>) -> Result<T, ntmem::VmError>,
) -> Result<T, NTSTATUS> {
    let mut vm = vm_of(sys, caller, process, access)?;
    f(&mut vm).map_err(status_of)
}

/// `MAP_PROCESS`: lock pages in the process's working set.
pub const MAP_PROCESS: u32 = 1;
/// `MAP_SYSTEM`: lock pages in physical memory (needs SeLockMemoryPrivilege).
pub const MAP_SYSTEM: u32 = 2;

/// Which of lock or unlock a call asks for.
#[derive(Clone, Copy)]
enum LockOp {
    Lock,
    Unlock,
}

/// `NtLockVirtualMemory` and `NtUnlockVirtualMemory`: on success `base` and `size` hold the
/// pages locked or unlocked; a failure writes neither.
///
/// The checks go in NT's order (ReactOS `NtLockVirtualMemory`): the map type, the base, the
/// size against the end of user space, a size of 0 (each `STATUS_INVALID_PARAMETER`), the
/// handle, the privilege `MAP_SYSTEM` needs.
fn lock_or_unlock(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    map_type: u32,
    op: LockOp,
) -> NTSTATUS {
    if map_type & !(MAP_PROCESS | MAP_SYSTEM) != 0 || map_type & (MAP_PROCESS | MAP_SYSTEM) == 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let (addr, len) = (*base, *size);
    if addr > MAX_USER_ADDRESS || len > USER_END - addr || len == 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let mut vm = match vm_of(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    if map_type & MAP_SYSTEM != 0 {
        // Locking in physical memory is not modelled; the privilege check is.
        return if vm.has_lock_memory_privilege() { STATUS_NOT_SUPPORTED } else { STATUS_PRIVILEGE_NOT_HELD };
    }
    let result = match op {
        LockOp::Lock => vm.lock(addr, len),
        LockOp::Unlock => vm.unlock(addr, len),
    };
    match result {
        Ok(range) => {
            *base = range.start_addr();
            *size = range.bytes();
            STATUS_SUCCESS
        }
        Err(e) => status_of(e),
    }
}

/// `NtLockVirtualMemory`.
pub(crate) fn lock_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    map_type: u32,
) -> NTSTATUS {
    lock_or_unlock(sys, caller, process, base, size, map_type, LockOp::Lock)
}

/// `NtUnlockVirtualMemory`.
pub(crate) fn unlock_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    map_type: u32,
) -> NTSTATUS {
    lock_or_unlock(sys, caller, process, base, size, map_type, LockOp::Unlock)
}

/// `NtGetWriteWatch`: fills `out` and returns the count.
pub(crate) fn get_write_watch(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    reset: bool,
    addr: u64,
    size: u64,
    out: &mut [u64],
) -> Result<usize, NTSTATUS> {
    if addr == 0 || size == 0 || addr > MAX_USER_ADDRESS {
        return Err(STATUS_INVALID_PARAMETER);
    }
    with_vm(sys, caller, process, PROCESS_VM_OPERATION, |vm| vm.get_write_watch(addr, size, out, reset))
}

/// `NtResetWriteWatch`.
pub(crate) fn reset_write_watch(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    size: u64,
) -> NTSTATUS {
    if addr == 0 || size == 0 || addr > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER;
    }
    match with_vm(sys, caller, process, PROCESS_VM_OPERATION, |vm| vm.reset_write_watch(addr, size)) {
        Ok(()) => STATUS_SUCCESS,
        Err(s) => s,
    }
}
