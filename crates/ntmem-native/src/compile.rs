//! Compiling a C program written for Windows against this library: the system C compiler
//! (`$CC`, else `cc`), the headers of `include/`, and the static library `libntmem_native.a`
//! that Cargo builds beside the program using this crate (or `$NTMEM_NATIVE_LIB`).
//!
//! `-fshort-wchar` makes `L"..."` literals UTF-16 as on Windows; `-Wno-format` lets the
//! seed's `printf("%x", pointer)` compile without a warning, as MSVC does.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C compiler to use.
#[must_use]
pub fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// True when a C compiler answers.
#[must_use]
pub fn compiler_present() -> bool {
    Command::new(compiler()).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The newest `libntmem_native.a` near the running program (its directory, its parent, and
/// their `deps/`), or `$NTMEM_NATIVE_LIB`.
#[must_use]
pub fn library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NTMEM_NATIVE_LIB") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let mut dirs = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        dirs.push(dir.to_path_buf());
        dirs.push(dir.join("deps"));
    }
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("libntmem_native") && name.ends_with(".a") {
                let when = entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                if best.as_ref().is_none_or(|(t, _)| when > *t) {
                    best = Some((when, entry.path()));
                }
            }
        }
    }
    best.map(|(_, p)| p)
}

/// Compiles `source` into the program `out`; the compiler's own messages on failure.
pub fn compile(source: &Path, out: &Path) -> Result<(), String> {
    let lib = library().ok_or("libntmem_native.a not found: build the ntmem-native crate, or set NTMEM_NATIVE_LIB")?;
    let output = Command::new(compiler())
        .arg("-std=gnu11")
        .arg("-g")
        .arg("-fshort-wchar")
        .arg("-Wno-format")
        .arg("-I")
        .arg(crate::include_dir())
        .arg(source)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(out)
        .output()
        .map_err(|e| format!("{}: {e}", compiler()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
