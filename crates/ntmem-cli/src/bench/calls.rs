//! What every figure's setup does the same way: a fresh machine, the Win32 calls a figure
//! makes with their failures turned into errors that name the call, the warm machine the fault
//! figures run on, and a scratch directory for page files and host files.

use super::timing::per_op;
use anyhow::{anyhow, bail, Context, Result};
use ntmem::{Config, ProcessId, System};
use ntmem_win32::{Exception, Kernel32, MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE};
use std::path::PathBuf;

const PAGE: u64 = 4096;

/// A fresh machine of `config` with one process.
pub(super) fn machine(config: Config) -> Result<(System, ProcessId)> {
    let mut sys = System::new(config).context("building the machine")?;
    let pid = sys.create_process("bench").context("creating the process")?;
    Ok((sys, pid))
}

/// `VirtualAlloc`, failing with the last error.
pub(super) fn alloc(k: &mut Kernel32<'_>, addr: u64, size: u64, alloc_type: u32, protect: u32) -> Result<u64> {
    match k.VirtualAlloc(addr, size, alloc_type, protect) {
        0 => bail!(
            "VirtualAlloc({addr:#x}, {size:#x}, {alloc_type:#x}, {protect:#x}) failed: error {}",
            k.GetLastError()
        ),
        base => Ok(base),
    }
}

/// `VirtualAlloc(0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)`, failing with the last error.
pub(super) fn commit(k: &mut Kernel32<'_>, size: u64) -> Result<u64> {
    alloc(k, 0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)
}

/// `VirtualFree(base, 0, MEM_RELEASE)`, failing with the last error.
pub(super) fn release(k: &mut Kernel32<'_>, base: u64) -> Result<()> {
    if k.VirtualFree(base, 0, MEM_RELEASE) == 0 {
        bail!("VirtualFree({base:#x}, 0, MEM_RELEASE) failed: error {}", k.GetLastError());
    }
    Ok(())
}

/// An access that raised an exception, as an error.
pub(super) fn raised(e: Exception) -> anyhow::Error {
    anyhow!("access at {:#x} raised exception {:#x}", e.address, e.code)
}

/// The program writes one byte at `addr`.
pub(super) fn touch(k: &mut Kernel32<'_>, addr: u64) -> Result<()> {
    k.write(addr, &[1]).map_err(raised)
}

/// One sample of the demand-zero fault as `demand_zero_fault` measures it (and the figures
/// that compare with it): commit `pages` pages, time the first touch (a 1-byte write) of
/// each, release them (untimed). Nanoseconds per page.
pub(super) fn demand_zero_touches(k: &mut Kernel32<'_>, pages: u64) -> Result<f64> {
    let base = commit(k, pages * PAGE)?;
    let ns = per_op(usize::try_from(pages)?, || (0..pages).try_for_each(|page| touch(k, base + page * PAGE)))?;
    release(k, base)?;
    Ok(ns)
}

/// A machine of `ram_bytes` without a page file whose every frame has been used once and sits
/// on the free list, as after a while of running. A fresh machine hands out frames from its
/// zeroed list, never yet written, so the host backs each on first use: its figures would be
/// the host's page faults on the simulated RAM's own memory (several microseconds a frame),
/// not ntmem's work.
pub(super) fn warm_machine(ram_bytes: u64) -> Result<(System, ProcessId)> {
    let (mut sys, pid) = machine(Config::default().with_ram_bytes(ram_bytes))?;
    let mut k = Kernel32::new(&mut sys, pid);
    let mut blocks = Vec::new();
    // 1 MiB blocks while they fit under the commit limit, then single pages.
    for block in [1 << 20, PAGE] {
        loop {
            let base = k.VirtualAlloc(0, block, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
            if base == 0 {
                break;
            }
            blocks.push(base);
            (0..block / PAGE).try_for_each(|page| touch(&mut k, base + page * PAGE))?;
        }
    }
    blocks.into_iter().try_for_each(|base| release(&mut k, base))?;
    Ok((sys, pid))
}

/// A directory of its own under the host's temp directory, removed with its files on drop.
pub(super) struct Scratch(PathBuf);

impl Scratch {
    /// A new directory for `figure`.
    pub(super) fn new(figure: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("ntmem-bench-{}-{figure}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }

    /// The path of `name` in it.
    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Nothing to report to from here; a leftover directory in the temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
