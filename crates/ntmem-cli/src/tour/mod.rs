//! `ntmem tour`: the seed's two example programs run on the simulated machine, with what
//! happened inside — `VirtualQuery` before and after, the page going free → committed, the
//! demand-zero fault of the first touch, the page-table walk of the address, and the figures —
//! then a page through its states (reserved, guard, protected), and a chapter on paging: a
//! small machine under pressure, a page going valid → transition → page file → valid; and one
//! on sections: a file mapped into two processes, the prototype PTE behind a shared page,
//! copy-on-write, a named section passing a message between processes, and a DLL image whose
//! frames three processes share.
//!
//! Contract: every call the tour makes is printed on a line starting with `>` with its result,
//! in the order made; a line starting with `|` is what the seed's program itself prints; the
//! indented lines read the memory manager's internals. Plain text and deterministic: the same
//! run prints the same addresses, frames and figures, and no host path or timing (the golden
//! test `crates/ntmem-cli/tests/tour.rs` holds it to that).

mod image;
mod mapped;
mod named;
mod native;
mod pages;
mod paging;
mod seed;
mod show;

use anyhow::{anyhow, Result};
use ntmem::{Config, System};
use show::{pages as size_of_pages, table_count};
use std::io::Write;

pub(crate) fn run(out: &mut impl Write) -> Result<()> {
    let mut sys = System::new(Config::default())?;
    writeln!(out, "ntmem tour: the Windows memory manager on a simulated x86-64 machine")?;
    writeln!(out, "=====================================================================\n")?;
    writeln!(out, "Lines starting with '>' are the calls the tour makes, in order, with their results; lines")?;
    writeln!(out, "starting with '|' are what the seed's programs print; the rest is read from inside the")?;
    writeln!(out, "memory manager. Sizes are in KiB; a page is 4 KiB.\n")?;
    machine(out, &sys)?;
    let pid = sys.create_process("seed")?;
    writeln!(out, "> System::create_process(\"seed\") = pid {:#x}", u32::from(pid))?;
    {
        let space = sys.process(pid).and_then(|p| p.space()).ok_or(anyhow!("process gone"))?;
        writeln!(
            out,
            "    Its PML4 (the root table, what CR3 would hold) is frame {:#x}. Mapping the shared user\n    data page read-only at 0x7FFE0000 (F6) took a PDPT, a PD and a PT: {} table frames in all,\n    each charged to commit. Commit charge is now {}.\n",
            space.page_tables().root().as_u64(),
            table_count(&sys, pid),
            size_of_pages(sys.commit().total())
        )?;
    }
    seed::example_one(out, &mut sys, pid)?;
    seed::example_two(out, &mut sys, pid)?;
    native::run(out)?;
    pages::run(out, &mut sys, pid)?;
    writeln!(out, "Figures of the 1 GiB machine")?;
    writeln!(out, "----------------------------")?;
    show::figures(out, &mut sys, pid)?;
    writeln!(out)?;
    paging::run(out)?;
    mapped::run(out)?;
    Ok(())
}

fn machine(out: &mut impl Write, sys: &System) -> Result<()> {
    let phys = sys.phys();
    let frames = u64::from(phys.frame_count());
    let entry = core::mem::size_of::<ntmem::phys::PfnEntry>() as u64;
    writeln!(out, "The machine")?;
    writeln!(out, "-----------")?;
    writeln!(out, "> System::new(Config::default())")?;
    writeln!(
        out,
        "    RAM: {} = {} frames of 4 KiB. Host memory is taken only as frames are used.",
        show::kib(phys.ram_bytes()),
        frames
    )?;
    writeln!(
        out,
        "    PFN database: one {entry}-byte entry per frame ({}). Frame 0 is kept back, as firmware\n    keeps it on a PC; one frame holds the shared user data page; the other {} frames are on\n    the zeroed list.",
        show::kib(frames * entry),
        sys.stats().zeroed_pages
    )?;
    writeln!(
        out,
        "    Commit limit: {} = the RAM less one page. There is no page file, so commit can only\n    live in RAM, and frame 0 is not RAM the memory manager can hand out: the limit counts\n    frames 1 to {:#x}. The shared user data page is the first charge against it: {}.\n",
        size_of_pages(sys.commit().limit()),
        frames - 1,
        size_of_pages(sys.commit().total())
    )?;
    Ok(())
}
