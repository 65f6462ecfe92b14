//! The Win32 memory functions as a script calls them: `VirtualAlloc(Ex)`, `VirtualFree(Ex)`,
//! `VirtualProtect(Ex)`, `VirtualQuery(Ex)`, `VirtualLock`/`Unlock`, the working-set
//! functions, the figures (`GetProcessMemoryInfo`, `GlobalMemoryStatusEx`, `GetSystemInfo`),
//! `GetLastError`/`SetLastError`, `GetCurrentProcess(Id)`, `OpenProcess`.
//!
//! Contract: the same parameters in the same order as Win32, but for out parameters: a
//! function that fills one returns it instead (a number, or an object map for a structure), or
//! `false` where Windows returns FALSE or 0 — `GetLastError()` then says why. Each call runs
//! through `Session::k32` as the current process.

use super::session::Shared;
use super::values::{
    bool_param, boolean, dword, handle_int, int, int_handle, mbi, memory_counters, memory_status, qword, system_info,
    working_set_ex,
};
use super::Fallible;
use ntmem_win32::*;
use rhai::{Array, Dynamic, Engine, INT};

/// Registers a Win32 function: `name`, its script parameters, and the body run with `k`, the
/// calling process's `Kernel32`. The body gives a `Dynamic`.
macro_rules! win32 {
    ($engine:expr, $shared:expr, $name:literal, |$k:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
        let s = $shared.clone();
        $engine.register_fn($name, move |$($arg: $ty),*| -> Fallible<Dynamic> {
            Ok(s.borrow_mut().k32(|$k| -> Dynamic { $body })?)
        });
    }};
}
pub(crate) use win32;

/// An integer result as the script's value.
fn n(v: u64) -> Dynamic {
    Dynamic::from_int(int(v))
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    win32!(engine, shared, "GetLastError", |k| n(u64::from(k.GetLastError())));
    win32!(engine, shared, "SetLastError", |k, code: INT| {
        k.SetLastError(dword(code));
        Dynamic::UNIT
    });
    win32!(engine, shared, "GetCurrentProcess", |k| Dynamic::from_int(handle_int(k.GetCurrentProcess())));
    win32!(engine, shared, "GetCurrentProcessId", |k| n(u64::from(k.GetCurrentProcessId())));
    win32!(engine, shared, "OpenProcess", |k, access: INT, inherit: bool, pid: INT| {
        Dynamic::from_int(handle_int(k.OpenProcess(dword(access), bool_param(inherit), dword(pid))))
    });
    win32!(engine, shared, "TerminateProcess", |k, h: INT, code: INT| boolean(
        k.TerminateProcess(int_handle(h), dword(code))
    ));

    win32!(engine, shared, "VirtualAlloc", |k, addr: INT, size: INT, kind: INT, protect: INT| n(k.VirtualAlloc(
        qword(addr),
        qword(size),
        dword(kind),
        dword(protect)
    )));
    win32!(engine, shared, "VirtualAllocEx", |k, h: INT, addr: INT, size: INT, kind: INT, protect: INT| n(
        k.VirtualAllocEx(int_handle(h), qword(addr), qword(size), dword(kind), dword(protect))
    ));
    win32!(engine, shared, "VirtualFree", |k, addr: INT, size: INT, kind: INT| boolean(k.VirtualFree(
        qword(addr),
        qword(size),
        dword(kind)
    )));
    win32!(engine, shared, "VirtualFreeEx", |k, h: INT, addr: INT, size: INT, kind: INT| boolean(k.VirtualFreeEx(
        int_handle(h),
        qword(addr),
        qword(size),
        dword(kind)
    )));
    win32!(engine, shared, "VirtualProtect", |k, addr: INT, size: INT, protect: INT| {
        let mut old = 0u32;
        if k.VirtualProtect(qword(addr), qword(size), dword(protect), Some(&mut old)) == 0 {
            Dynamic::FALSE
        } else {
            n(u64::from(old))
        }
    });
    win32!(engine, shared, "VirtualProtectEx", |k, h: INT, addr: INT, size: INT, protect: INT| {
        let mut old = 0u32;
        if k.VirtualProtectEx(int_handle(h), qword(addr), qword(size), dword(protect), Some(&mut old)) == 0 {
            Dynamic::FALSE
        } else {
            n(u64::from(old))
        }
    });
    win32!(engine, shared, "VirtualLock", |k, addr: INT, size: INT| boolean(k.VirtualLock(qword(addr), qword(size))));
    win32!(engine, shared, "VirtualUnlock", |k, addr: INT, size: INT| boolean(
        k.VirtualUnlock(qword(addr), qword(size))
    ));

    // SetProcessWorkingSetSize(Ex), GetProcessWorkingSetSize(Ex), EmptyWorkingSet, QueryWorkingSetEx.
    win32!(engine, shared, "SetProcessWorkingSetSize", |k, h: INT, min: INT, max: INT| boolean(
        k.SetProcessWorkingSetSize(int_handle(h), qword(min), qword(max))
    ));
    win32!(engine, shared, "SetProcessWorkingSetSizeEx", |k, h: INT, min: INT, max: INT, flags: INT| boolean(
        k.SetProcessWorkingSetSizeEx(int_handle(h), qword(min), qword(max), dword(flags))
    ));
    win32!(engine, shared, "GetProcessWorkingSetSize", |k, h: INT| {
        let (mut min, mut max) = (0, 0);
        if k.GetProcessWorkingSetSize(int_handle(h), &mut min, &mut max) == 0 {
            Dynamic::FALSE
        } else {
            super::values::map_of(&[("MinimumWorkingSetSize", min), ("MaximumWorkingSetSize", max)]).into()
        }
    });
    win32!(engine, shared, "GetProcessWorkingSetSizeEx", |k, h: INT| {
        let (mut min, mut max, mut flags) = (0, 0, 0u32);
        if k.GetProcessWorkingSetSizeEx(int_handle(h), &mut min, &mut max, &mut flags) == 0 {
            Dynamic::FALSE
        } else {
            super::values::map_of(&[
                ("MinimumWorkingSetSize", min),
                ("MaximumWorkingSetSize", max),
                ("Flags", u64::from(flags)),
            ])
            .into()
        }
    });
    win32!(engine, shared, "EmptyWorkingSet", |k, h: INT| boolean(k.EmptyWorkingSet(int_handle(h))));
    win32!(engine, shared, "QueryWorkingSetEx", |k, h: INT, addresses: Array| {
        let mut pv: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = addresses
            .iter()
            .map(|a| PSAPI_WORKING_SET_EX_INFORMATION {
                VirtualAddress: int_handle(a.as_int().unwrap_or(0)),
                ..Default::default()
            })
            .collect();
        if k.QueryWorkingSetEx(int_handle(h), &mut pv) == 0 {
            Dynamic::FALSE
        } else {
            pv.iter().map(|i| Dynamic::from_map(working_set_ex(i))).collect::<Array>().into()
        }
    });

    // Figures.
    win32!(engine, shared, "GetProcessMemoryInfo", |k, h: INT| {
        let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
        if k.GetProcessMemoryInfo(int_handle(h), &mut c) == 0 {
            Dynamic::FALSE
        } else {
            memory_counters(&c).into()
        }
    });
    win32!(engine, shared, "GlobalMemoryStatusEx", |k| {
        let length = u32::try_from(core::mem::size_of::<MEMORYSTATUSEX>()).expect("a small structure");
        let mut s = MEMORYSTATUSEX { dwLength: length, ..Default::default() };
        if k.GlobalMemoryStatusEx(&mut s) == 0 {
            Dynamic::FALSE
        } else {
            memory_status(&s).into()
        }
    });
    win32!(engine, shared, "GetSystemInfo", |k| {
        let mut i = SYSTEM_INFO::default();
        k.GetSystemInfo(&mut i);
        system_info(&i).into()
    });
    register_query(engine, shared);
}

/// `VirtualQuery(addr)` and `VirtualQueryEx(h, addr)`: the `MEMORY_BASIC_INFORMATION` as a
/// map (also written as a JSON line with `--json`), or `false`.
fn register_query(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("VirtualQuery", move |addr: INT| -> Fallible<Dynamic> { query(&s, None, addr) });
    let s = shared.clone();
    engine.register_fn("VirtualQueryEx", move |h: INT, addr: INT| -> Fallible<Dynamic> { query(&s, Some(h), addr) });
}

fn query(shared: &Shared, process: Option<INT>, addr: INT) -> Fallible<Dynamic> {
    let mut session = shared.borrow_mut();
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    let written = session.k32(|k| match process {
        None => k.VirtualQuery(qword(addr), &mut info),
        Some(h) => k.VirtualQueryEx(int_handle(h), qword(addr), &mut info),
    })?;
    if written == 0 {
        return Ok(Dynamic::FALSE);
    }
    let map = mbi(&info);
    let pid = session.current()?.pid;
    let mut json = super::inspect::json_of(&map);
    if let serde_json::Value::Object(o) = &mut json {
        o.insert("pid".to_owned(), u32::from(pid).into());
        o.insert("address".to_owned(), qword(addr).into());
    }
    session.json_view("VirtualQuery", json);
    Ok(map.into())
}
