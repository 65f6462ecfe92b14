//! The seed's second program as it is written, in C, compiled with the system C compiler and
//! run on the native engine: the pointer is real, `memmove` writes through it, and the page
//! fault it causes is resolved by the same memory manager (issue 9). When no C compiler is
//! present the tour says how to run it instead.

use anyhow::Result;
use std::io::Write;
use std::process::Command;

/// The seed's example 2, byte for byte (`examples/seed/example2.c`).
const EXAMPLE2: &str = include_str!("../../../../examples/seed/example2.c");

pub(super) fn run(out: &mut impl Write) -> Result<()> {
    writeln!(out, "Example 2 natively: the C program itself, on real pointers")?;
    writeln!(out, "-----------------------------------------------------------")?;
    let dir = std::env::temp_dir().join(format!("ntmem-tour-{}", std::process::id()));
    let (source, exe, report) = (dir.join("example2.c"), dir.join("example2"), dir.join("report.json"));
    // Not create_dir_all: a temp directory that does not exist is not made here.
    let compiled = std::fs::create_dir(&dir).is_ok()
        && std::fs::write(&source, EXAMPLE2).is_ok()
        && ntmem_native::compile::compiler_present()
        && ntmem_native::compile::compile(&source, &exe).is_ok();
    if !compiled {
        let _ = std::fs::remove_dir_all(&dir);
        writeln!(
            out,
            "    No C compiler (or no libntmem_native.a) here. With one, `ntmem run examples/seed/example2.c`"
        )?;
        writeln!(
            out,
            "    compiles the seed's program unchanged against ntmem's headers and runs it on real pointers;"
        )?;
        writeln!(out, "    examples/native/ holds Microsoft's memory-management examples to run the same way.\n")?;
        return Ok(());
    }
    let output = Command::new(&exe).env("NTMEM_REPORT", &report).output()?;
    let json = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    writeln!(out, "> cc example2.c + ntmem's windows.h and libntmem_native.a; run it")?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        writeln!(out, "| {line}")?;
    }
    let figure = |name: &str| -> u64 {
        json.find(&format!("\"{name}\": "))
            .map(|at| at + name.len() + 4)
            .and_then(|at| json[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .unwrap_or(0)
    };
    writeln!(
        out,
        "    The same address and the same bytes. memmove wrote through a real pointer: the host MMU\n    found the page inaccessible and raised SIGSEGV; ntmem's handler asked the memory manager,\n    which resolved a demand-zero fault ({} in all) exactly as above, mapped the frame (bytes of\n    a memfd) at 0x10000, and the instruction was retried. Peak working set: {} pages.",
        figure("demand_zero"),
        figure("peak_working_set_pages")
    )?;
    writeln!(out, "    `ntmem run FILE.c` runs any such program (examples/seed/, examples/native/) and prints")?;
    writeln!(out, "    what the memory manager did; `--trace` shows each fault as it happens.\n")?;
    Ok(())
}
