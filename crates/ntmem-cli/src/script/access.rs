//! The program's own accesses: `write(addr, "text" | blob)`, `read(addr, len)` → blob,
//! `read_string(addr, len)`, `execute(addr)`.
//!
//! Contract: an access goes through the MMU and the memory manager as the current process's
//! code would (TLB, walk, page fault); a fault the memory manager cannot resolve is thrown as
//! a script value — an object map with `code` (the NTSTATUS, e.g. 0xC0000005), `address`,
//! `access` ("read", "write" or "execute") and `message` (Windows' words) — that
//! `try { ... } catch (e) { e.code }` catches. Uncaught, it ends the script with Windows'
//! unhandled-exception report (mod.rs).

use super::session::Shared;
use super::values::{int, qword};
use super::Fallible;
use ntmem_win32::{Exception, EXCEPTION_EXECUTE_FAULT, EXCEPTION_WRITE_FAULT};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position, INT};

/// Marks an object map as a thrown Windows exception (for the unhandled-exception report).
pub(crate) const EXCEPTION_TAG: &str = "exception";

/// The bytes of a string (its UTF-8) or a blob; any other value as its printed form.
pub(crate) fn bytes_of(data: &Dynamic) -> Vec<u8> {
    if data.is_blob() {
        data.clone().cast::<rhai::Blob>()
    } else {
        data.to_string().into_bytes()
    }
}

/// The words Windows uses for the access in an exception record.
fn access_word(e: &Exception) -> &'static str {
    match u32::try_from(e.information[0]) {
        Ok(EXCEPTION_WRITE_FAULT) => "write",
        Ok(EXCEPTION_EXECUTE_FAULT) => "execute",
        _ => "read",
    }
}

/// An exception as the value the script catches.
pub(crate) fn exception_value(e: &Exception) -> Map {
    let mut m = Map::new();
    m.insert(EXCEPTION_TAG.into(), true.into());
    m.insert("code".into(), Dynamic::from_int(INT::from(e.code.cast_unsigned())));
    m.insert("address".into(), Dynamic::from_int(int(e.address)));
    m.insert("access".into(), access_word(e).into());
    m.insert("message".into(), e.to_string().into());
    m
}

/// Throws `e` into the script.
fn throw(e: &Exception) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(exception_value(e).into(), Position::NONE).into()
}

/// A length parameter: at most 1 GiB, so that a script cannot ask the host for more.
fn length(len: INT) -> Fallible<usize> {
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= 1 << 30)
        .ok_or_else(|| super::ScriptError::new(format!("length {len} is not 0 to 1 GiB")).into())
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("write", move |addr: INT, data: Dynamic| -> Fallible<()> {
        let bytes = bytes_of(&data);
        s.borrow_mut().k32(|k| k.write(qword(addr), &bytes))?.map_err(|e| throw(&e))
    });
    let s = shared.clone();
    engine.register_fn("read", move |addr: INT, len: INT| -> Fallible<rhai::Blob> {
        let mut buf = vec![0u8; length(len)?];
        s.borrow_mut().k32(|k| k.read(qword(addr), &mut buf))?.map_err(|e| throw(&e))?;
        Ok(buf)
    });
    let s = shared.clone();
    engine.register_fn("read_string", move |addr: INT, len: INT| -> Fallible<ImmutableString> {
        let mut buf = vec![0u8; length(len)?];
        s.borrow_mut().k32(|k| k.read(qword(addr), &mut buf))?.map_err(|e| throw(&e))?;
        // As C's %s reads it: up to the first NUL.
        let text = buf.split(|b| *b == 0).next().unwrap_or(&[]);
        Ok(String::from_utf8_lossy(text).into_owned().into())
    });
    let s = shared.clone();
    engine.register_fn("execute", move |addr: INT| -> Fallible<()> {
        s.borrow_mut().k32(|k| k.execute(qword(addr)))?.map_err(|e| throw(&e))
    });
}
