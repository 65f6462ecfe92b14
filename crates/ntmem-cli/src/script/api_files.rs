//! The Win32 file and section functions as a script calls them: `CreateFileW`, `ReadFile`,
//! `WriteFile`, `SetFilePointerEx`, `SetEndOfFile`, `GetFileSizeEx`, `FlushFileBuffers`,
//! `CloseHandle`, `DuplicateHandle`, `CreateFileMappingW`, `OpenFileMappingW`,
//! `MapViewOfFile(Ex)`, `UnmapViewOfFile`, `FlushViewOfFile`, `ReadProcessMemory`,
//! `WriteProcessMemory`.
//!
//! Contract: as in `api_memory.rs` (out parameters become the result, `false` on failure).
//! A file name is a host path; a relative one is taken from the script's directory, and
//! `temp_path("name")` names a file in the script's own temporary directory. The
//! `SECURITY_ATTRIBUTES` and template-file parameters must be `0` (or `()`), as ntmem has
//! neither.

use super::api_memory::win32;
use super::session::Shared;
use super::values::{bool_param, boolean, dword, handle_int, int, int_handle, qword};
use super::{Fallible, ScriptError};
use ntmem_win32::*;
use rhai::{Dynamic, Engine, ImmutableString, INT};

/// A parameter ntmem has no use for (`lpSecurityAttributes`, `hTemplateFile`): NULL only.
fn must_be_null(what: &str, v: &Dynamic) -> Result<(), ScriptError> {
    if v.is_unit() || v.as_int() == Ok(0) {
        Ok(())
    } else {
        Err(ScriptError::new(format!("{what} must be 0 (NULL): ntmem has no security descriptors or template files")))
    }
}

/// An optional name: `()` or `0` for NULL, else a string.
fn optional_name(v: &Dynamic) -> Result<Option<String>, ScriptError> {
    if v.is_unit() || v.as_int() == Ok(0) {
        Ok(None)
    } else {
        v.clone()
            .into_string()
            .map(Some)
            .map_err(|t| ScriptError::new(format!("lpName must be a string or 0, not {t}")))
    }
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "CreateFileW",
        move |name: ImmutableString,
              access: INT,
              share: INT,
              security: Dynamic,
              disposition: INT,
              flags: INT,
              template: Dynamic|
              -> Fallible<Dynamic> {
            must_be_null("lpSecurityAttributes", &security)?;
            must_be_null("hTemplateFile", &template)?;
            let mut session = s.borrow_mut();
            let path = session.host_path(&name);
            let path = path.to_string_lossy();
            Ok(session
                .k32(|k| k.CreateFileW(&path, dword(access), dword(share), dword(disposition), dword(flags)))
                .map(|h| Dynamic::from_int(handle_int(h)))?)
        },
    );
    let s = shared.clone();
    engine.register_fn("temp_path", move |name: ImmutableString| -> String {
        s.borrow().temp.path().join(name.as_str()).to_string_lossy().into_owned()
    });
    win32!(engine, shared, "ReadFile", |k, h: INT, bytes: INT| {
        let mut buf = vec![0u8; usize::try_from(bytes).unwrap_or(0).min(1 << 30)];
        let mut read = 0u32;
        if k.ReadFile(int_handle(h), &mut buf, &mut read) == 0 {
            Dynamic::FALSE
        } else {
            buf.truncate(read as usize);
            Dynamic::from_blob(buf)
        }
    });
    win32!(engine, shared, "WriteFile", |k, h: INT, data: Dynamic| {
        let bytes = super::access::bytes_of(&data);
        let mut written = 0u32;
        if k.WriteFile(int_handle(h), &bytes, &mut written) == 0 {
            Dynamic::FALSE
        } else {
            Dynamic::from_int(INT::from(written))
        }
    });
    win32!(engine, shared, "SetFilePointerEx", |k, h: INT, distance: INT, method: INT| {
        let mut at = 0i64;
        if k.SetFilePointerEx(int_handle(h), distance, Some(&mut at), dword(method)) == 0 {
            Dynamic::FALSE
        } else {
            Dynamic::from_int(at)
        }
    });
    win32!(engine, shared, "SetEndOfFile", |k, h: INT| boolean(k.SetEndOfFile(int_handle(h))));
    win32!(engine, shared, "GetFileSizeEx", |k, h: INT| {
        let mut size = 0i64;
        if k.GetFileSizeEx(int_handle(h), &mut size) == 0 {
            Dynamic::FALSE
        } else {
            Dynamic::from_int(size)
        }
    });
    win32!(engine, shared, "FlushFileBuffers", |k, h: INT| boolean(k.FlushFileBuffers(int_handle(h))));
    win32!(engine, shared, "CloseHandle", |k, h: INT| boolean(k.CloseHandle(int_handle(h))));
    win32!(engine, shared, "DuplicateHandle", |k,
                                               from: INT,
                                               h: INT,
                                               to: INT,
                                               access: INT,
                                               inherit: bool,
                                               options: INT| {
        let mut target: HANDLE = std::ptr::null_mut();
        let ok = k.DuplicateHandle(
            int_handle(from),
            int_handle(h),
            int_handle(to),
            &mut target,
            dword(access),
            bool_param(inherit),
            dword(options),
        );
        if ok == 0 {
            Dynamic::FALSE
        } else {
            Dynamic::from_int(handle_int(target))
        }
    });

    let s = shared.clone();
    engine.register_fn(
        "CreateFileMappingW",
        move |file: INT, security: Dynamic, protect: INT, high: INT, low: INT, name: Dynamic| -> Fallible<Dynamic> {
            must_be_null("lpFileMappingAttributes", &security)?;
            let name = optional_name(&name)?;
            Ok(s.borrow_mut()
                .k32(|k| {
                    k.CreateFileMappingW(
                        int_handle(file),
                        None,
                        dword(protect),
                        dword(high),
                        dword(low),
                        name.as_deref(),
                    )
                })
                .map(|h| Dynamic::from_int(handle_int(h)))?)
        },
    );
    win32!(engine, shared, "OpenFileMappingW", |k, access: INT, inherit: bool, name: ImmutableString| {
        Dynamic::from_int(handle_int(k.OpenFileMappingW(dword(access), bool_param(inherit), &name)))
    });
    win32!(engine, shared, "MapViewOfFile", |k, h: INT, access: INT, high: INT, low: INT, bytes: INT| {
        Dynamic::from_int(int(k.MapViewOfFile(int_handle(h), dword(access), dword(high), dword(low), qword(bytes))))
    });
    win32!(engine, shared, "MapViewOfFileEx", |k, h: INT, access: INT, high: INT, low: INT, bytes: INT, base: INT| {
        Dynamic::from_int(int(k.MapViewOfFileEx(
            int_handle(h),
            dword(access),
            dword(high),
            dword(low),
            qword(bytes),
            qword(base),
        )))
    });
    win32!(engine, shared, "UnmapViewOfFile", |k, base: INT| boolean(k.UnmapViewOfFile(qword(base))));
    win32!(engine, shared, "FlushViewOfFile", |k, base: INT, bytes: INT| boolean(
        k.FlushViewOfFile(qword(base), qword(bytes))
    ));
    win32!(engine, shared, "ReadProcessMemory", |k, h: INT, addr: INT, bytes: INT| {
        let mut buf = vec![0u8; usize::try_from(bytes).unwrap_or(0).min(1 << 30)];
        let mut read = 0usize;
        if k.ReadProcessMemory(int_handle(h), qword(addr), &mut buf, Some(&mut read)) == 0 {
            Dynamic::FALSE
        } else {
            buf.truncate(read);
            Dynamic::from_blob(buf)
        }
    });
    win32!(engine, shared, "WriteProcessMemory", |k, h: INT, addr: INT, data: Dynamic| {
        let bytes = super::access::bytes_of(&data);
        let mut written = 0usize;
        if k.WriteProcessMemory(int_handle(h), qword(addr), &bytes, Some(&mut written)) == 0 {
            Dynamic::FALSE
        } else {
            Dynamic::from_int(int(written as u64))
        }
    });
}
