//! The paging figures: the modified page writer's throughput and sequential page-in beside
//! host file I/O (throughputs), a hard fault beside a host `pread` and a soft fault beside
//! ntmem's own demand-zero fault (costs); and, for the table only, a sequential sweep at three
//! page-in cluster sizes.
//!
//! Every machine's page file and every baseline file of a figure lives in one scratch
//! directory under the host's temp directory ([`std::env::temp_dir`]): the same disk, the same
//! host page cache. ntmem's page-file I/O is `pread`/`pwrite` without `fsync`, so a page file
//! written in setup is read back from the host's page cache, as the baseline files are.

use super::calls::{commit, demand_zero_touches, raised, release, touch, warm_machine, Scratch};
use super::native::HostFile;
use super::timing::{paired_medians, per_op, XorShift, SAMPLES};
use super::Figure;
use anyhow::{anyhow, bail, ensure, Context, Result};
use ntmem::paging::Pte;
use ntmem::units::Vpn;
use ntmem::{Config, ProcessId, System};
use ntmem_win32::Kernel32;
use std::io::Write;
use std::path::Path;

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;

/// ntmem's default page-in cluster, in pages: the sequential baseline reads this much a call.
const DEFAULT_CLUSTER: u32 = 8;

/// The modified page writer's largest write (`ntmem::balancer::WRITE_CLUSTER` pages): the
/// write baseline writes this much a call.
const WRITE_CHUNK: usize = 64 * 4096;

/// The page-in machines: 64 MiB of RAM, a 32 MiB region paged out. The region fits in RAM, so
/// a sweep over it takes frames from the free list and never trims: the figures are page-in,
/// not balancing.
const PAGE_IN_RAM: u64 = 64 * MIB;
const PAGE_IN_REGION: u64 = 32 * MIB;

/// The 8 bytes the program reads at `addr`.
fn read_u64(k: &mut Kernel32<'_>, addr: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    k.read(addr, &mut b).map_err(raised)?;
    Ok(u64::from_ne_bytes(b))
}

/// `n` bytes as a `usize`, for the host side.
fn host_len(n: u64) -> Result<usize> {
    usize::try_from(n).context("a size beyond the host's address space")
}

/// A machine of `ram` bytes with one process, a page file at `page_file` of `page_file_bytes`
/// (initial = maximum: it never grows during a timed section), page-in clusters of `cluster`.
fn paging_machine(page_file: &Path, ram: u64, page_file_bytes: u64, cluster: u32) -> Result<(System, ProcessId)> {
    let config = Config::default()
        .with_ram_bytes(ram)
        .with_page_file(page_file, page_file_bytes, page_file_bytes)
        .with_page_in_cluster(cluster);
    let mut sys = System::new(config).context("building the machine")?;
    let pid = sys.create_process("bench").context("creating the process")?;
    Ok((sys, pid))
}

/// A committed region of a process's memory whose pages each hold their index in their first
/// 8 bytes.
struct Region {
    sys: System,
    pid: ProcessId,
    base: u64,
    pages: u64,
}

impl Region {
    /// Commits `bytes` in the machine's process and writes every page's index into it.
    fn new((mut sys, pid): (System, ProcessId), bytes: u64) -> Result<Region> {
        let mut k = Kernel32::new(&mut sys, pid);
        let base = commit(&mut k, bytes)?;
        let pages = bytes / PAGE;
        for page in 0..pages {
            k.write(base + page * PAGE, &page.to_ne_bytes()).map_err(raised)?;
        }
        Ok(Region { sys, pid, base, pages })
    }

    fn k(&mut self) -> Kernel32<'_> {
        Kernel32::new(&mut self.sys, self.pid)
    }

    /// `EmptyWorkingSet` of the process: every page to standby (clean) or modified (dirty).
    fn empty_working_set(&mut self) -> Result<()> {
        let mut k = self.k();
        let h = k.GetCurrentProcess();
        if k.EmptyWorkingSet(h) == 0 {
            bail!("EmptyWorkingSet failed: error {}", k.GetLastError());
        }
        Ok(())
    }

    /// Writes every page's index into it again: each page is dirty (and resident).
    fn dirty(&mut self) -> Result<()> {
        let (base, pages) = (self.base, self.pages);
        let mut k = self.k();
        (0..pages).try_for_each(|page| k.write(base + page * PAGE, &page.to_ne_bytes()).map_err(raised))
    }

    /// Pages of the region whose PTE is a page-file PTE: on disk only.
    fn on_disk(&self) -> Result<u64> {
        let space = self.sys.process(self.pid).and_then(|p| p.space()).ok_or_else(|| anyhow!("process gone"))?;
        let phys = self.sys.phys();
        Ok((0..self.pages)
            .filter(|page| {
                let vpn = Vpn::default().add((self.base >> 12) + page);
                matches!(space.pte(phys, vpn), Pte::PageFile { .. })
            })
            .count() as u64)
    }

    /// Pages the whole region out: trims it, writes what is modified, then takes every frame
    /// it still held for a new use, so that every page is on disk only (checked). The frames
    /// end on the free list.
    fn page_out(&mut self) -> Result<()> {
        self.empty_working_set()?;
        self.sys.write_modified_pages();
        let frames = u64::from(self.sys.phys().frame_count());
        for _ in 0..4 {
            if self.on_disk()? == self.pages {
                return Ok(());
            }
            // The first touches of an allocation as large as RAM take every standby frame,
            // oldest (the region's) first; releasing it puts its frames on the free list.
            let mut k = self.k();
            let flush = commit(&mut k, frames * PAGE)?;
            (0..frames).try_for_each(|page| touch(&mut k, flush + page * PAGE))?;
            release(&mut k, flush)?;
        }
        bail!("{} of {} pages still in memory after paging out", self.pages - self.on_disk()?, self.pages)
    }

    /// One sample: one 8-byte read per page, front to back (checking every page holds its
    /// index); nanoseconds per page.
    fn sweep(&mut self) -> Result<f64> {
        let (base, pages) = (self.base, self.pages);
        let mut k = self.k();
        let mut sum = 0u64;
        let ns = per_op(host_len(pages)?, || {
            for page in 0..pages {
                sum = sum.wrapping_add(read_u64(&mut k, base + page * PAGE)?);
            }
            Ok::<(), anyhow::Error>(())
        })?;
        ensure!(sum == pages * (pages - 1) / 2, "a page read back does not hold its index");
        Ok(ns)
    }
}

/// The modified page writer: `System::write_modified_pages` over a 32 MiB region just dirtied
/// and trimmed to the modified list, against `pwrite` of as many bytes: both through the host's
/// page cache, neither synced (ntmem's page-file writes are never `fsync`ed).
///
/// The machine has 512 MiB of RAM so that the modified list's high-water mark (RAM / 8 =
/// 64 MiB) lies above the region: on a small machine `EmptyWorkingSet`'s own balancing would
/// run the writer before the timed call.
pub(super) fn page_out_throughput() -> Result<Figure> {
    const RAM: u64 = 512 * MIB;
    const REGION: u64 = 32 * MIB;
    let scratch = Scratch::new("page-out")?;
    let mut region =
        Region::new(paging_machine(&scratch.file("pagefile.sys"), RAM, REGION + 16 * MIB, DEFAULT_CLUSTER)?, REGION)?;
    let host = HostFile::create(&scratch.file("baseline"), host_len(REGION)?)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            // Every page was written since the last sample (or since it was made).
            region.empty_working_set()?;
            let (pages, modified) = (region.pages, region.sys.stats().modified_pages);
            ensure!(modified == pages, "{modified} of {pages} pages on the modified list before the write");
            let before = region.sys.stats();
            let ns = per_op(host_len(pages)?, || {
                region.sys.write_modified_pages();
                Ok::<(), anyhow::Error>(())
            })?;
            let after = region.sys.stats();
            let written = after.pages_written - before.pages_written;
            ensure!(written == pages, "the writer wrote {written} of {pages} pages");
            // The next sample starts from dirty pages.
            region.dirty()?;
            Ok(ns)
        },
        || host.write_sequential(WRITE_CHUNK),
    )?;
    Ok(Figure {
        name: "page_out_throughput",
        ntmem_ns,
        baseline_ns,
        baseline: "host pwrite of as many bytes, 256 KiB a call, front to back into a file in the page file's \
                   directory; both sides through the page cache, neither fsynced",
        goal: 0.5,
    })
}

/// A sweep, one 8-byte read per page, over a 32 MiB region paged out (clusters of 8: one read
/// per 8 pages), against reading a 32 MiB file front to back in 32 KiB `pread`s, each into its
/// place in a touched 32 MiB buffer: like with like, the pages paged in stay, each in a frame
/// of its own that is cold in the cache, so the host's bytes land in memory of their own too.
pub(super) fn sequential_page_in() -> Result<Figure> {
    let scratch = Scratch::new("page-in")?;
    let mut region = paged_out_region(&scratch, DEFAULT_CLUSTER)?;
    let host = HostFile::create(&scratch.file("baseline"), host_len(PAGE_IN_REGION)?)?;
    let chunk = host_len(u64::from(DEFAULT_CLUSTER) * PAGE)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            region.page_out()?;
            region.sweep()
        },
        || host.read_sequential(chunk),
    )?;
    Ok(Figure {
        name: "sequential_page_in",
        ntmem_ns,
        baseline_ns,
        baseline: "host pread of a same-size file front to back, 32 KiB a call (ntmem's cluster of 8 pages), \
                   each into its place in a touched buffer of the file's size, one 8-byte load per 4 KiB",
        goal: 0.5,
    })
}

/// A machine of [`PAGE_IN_RAM`] with a region of [`PAGE_IN_REGION`] written and paged out.
fn paged_out_region(scratch: &Scratch, cluster: u32) -> Result<Region> {
    let machine = paging_machine(&scratch.file("pagefile.sys"), PAGE_IN_RAM, 2 * PAGE_IN_RAM, cluster)?;
    let mut region = Region::new(machine, PAGE_IN_REGION)?;
    region.page_out()?;
    Ok(region)
}

/// A hard fault without clustering: an 8-byte read at each of 4096 distinct random pages of a
/// 32 MiB region paged out, against a 4 KiB `pread` at the same pages of a 32 MiB file, each
/// into the same page of a touched 32 MiB buffer. Like with like: each fault reads into a frame
/// of its own, cold in the cache, so the host's reads land in pages of their own too, not in
/// one 4 KiB buffer the first-level cache keeps hot.
pub(super) fn random_hard_fault() -> Result<Figure> {
    const FAULTS: usize = 4096;
    let scratch = Scratch::new("hard-fault")?;
    let mut region = paged_out_region(&scratch, 1)?;
    let host = HostFile::create(&scratch.file("baseline"), host_len(PAGE_IN_REGION)?)?;
    let order = distinct_random_pages(region.pages, FAULTS)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            region.page_out()?;
            let before = region.sys.stats();
            let (base, mut sum) = (region.base, 0u64);
            let mut k = region.k();
            let ns = per_op(FAULTS, || {
                for &page in &order {
                    sum = sum.wrapping_add(read_u64(&mut k, base + page * PAGE)?);
                }
                Ok::<(), anyhow::Error>(())
            })?;
            ensure!(sum == order.iter().sum::<u64>(), "a page read back does not hold its index");
            let after = region.sys.stats();
            let (hard, read) = (after.hard_faults - before.hard_faults, after.pages_read - before.pages_read);
            ensure!(
                hard == FAULTS as u64 && read == hard,
                "{hard} hard faults reading {read} pages for {FAULTS} reads"
            );
            Ok(ns)
        },
        || host.read_pages(&order),
    )?;
    Ok(Figure {
        name: "random_hard_fault",
        ntmem_ns,
        baseline_ns,
        baseline: "host 4 KiB pread at the same random pages of a same-size file, each into its own page of a \
                   touched buffer as a fault reads into a frame of its own (both from the host page cache)",
        goal: 1.5,
    })
}

/// `count` distinct page indices below `pages`, in a fixed random order (a partial
/// Fisher-Yates shuffle driven by [`XorShift`]).
fn distinct_random_pages(pages: u64, count: usize) -> Result<Vec<u64>> {
    let mut all: Vec<u64> = (0..pages).collect();
    ensure!(count <= all.len(), "more distinct pages than the region holds");
    let mut rng = XorShift::new();
    for i in 0..count {
        let left = (all.len() - i) as u64;
        let j = i + host_len(rng.next_u64() % left)?;
        all.swap(i, j);
    }
    all.truncate(count);
    Ok(all)
}

/// A soft fault: the first touch (a 1-byte write) of each page of a 64 MiB region trimmed to
/// the standby list, against the first touch of a committed page as `demand_zero_fault`
/// measures it (a warm 256 MiB machine, 16 Ki pages a sample).
pub(super) fn soft_fault() -> Result<Figure> {
    const RAM: u64 = 256 * MIB;
    const REGION: u64 = 64 * MIB;
    let scratch = Scratch::new("soft-fault")?;
    let mut region =
        Region::new(paging_machine(&scratch.file("pagefile.sys"), RAM, REGION + 16 * MIB, DEFAULT_CLUSTER)?, REGION)?;
    let (mut zero_sys, zero_pid) = warm_machine(RAM)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            // Trimmed: dirty pages go to the modified list, then the writer moves them to
            // standby (the trim's own balancing writes most of them already).
            region.empty_working_set()?;
            region.sys.write_modified_pages();
            let (pages, standby) = (region.pages, region.sys.stats().standby_pages);
            ensure!(standby >= pages, "{standby} pages on standby for a region of {pages}");
            let before = region.sys.stats().soft_faults;
            let base = region.base;
            let mut k = region.k();
            let ns = per_op(host_len(pages)?, || (0..pages).try_for_each(|page| touch(&mut k, base + page * PAGE)))?;
            let soft = region.sys.stats().soft_faults - before;
            ensure!(soft == pages, "{soft} soft faults touching {pages} standby pages");
            Ok(ns)
        },
        || demand_zero_touches(&mut Kernel32::new(&mut zero_sys, zero_pid), REGION / PAGE),
    )?;
    Ok(Figure {
        name: "soft_fault",
        ntmem_ns,
        baseline_ns,
        baseline:
            "ntmem demand-zero fault (first touch of a committed page, warm 256 MiB machine, as demand_zero_fault)",
        goal: 1.0,
    })
}

/// One row of the cluster table: a sequential sweep over a paged-out region.
struct ClusterSweep {
    cluster: u32,
    read_ios: u64,
    pages_read: u64,
    ns: f64,
}

/// Measures a sequential sweep (one 8-byte read per page) over a 32 MiB region paged out, with
/// page-in clusters of 1, 8 and 16 pages, and prints the page-file reads and the time of each.
pub(super) fn print_cluster_sweeps(out: &mut impl Write) -> Result<()> {
    let rows = [1, DEFAULT_CLUSTER, 16].into_iter().map(cluster_sweep).collect::<Result<Vec<_>>>()?;
    writeln!(out)?;
    writeln!(
        out,
        "sequential sweep over a paged-out {} MiB region ({} pages), by page-in cluster (median of {SAMPLES}):",
        PAGE_IN_REGION / MIB,
        PAGE_IN_REGION / PAGE
    )?;
    writeln!(out, "  {:>7}  {:>8}  {:>10}  {:>9}  {:>9}", "cluster", "read IOs", "pages read", "time", "per page")?;
    for r in &rows {
        // Page counts are far below 2^52: exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let total = r.ns * (PAGE_IN_REGION / PAGE) as f64;
        writeln!(
            out,
            "  {:>7}  {:>8}  {:>10}  {:>9}  {:>9}",
            r.cluster,
            r.read_ios,
            r.pages_read,
            super::duration(total),
            super::duration(r.ns)
        )?;
    }
    Ok(())
}

fn cluster_sweep(cluster: u32) -> Result<ClusterSweep> {
    let scratch = Scratch::new(&format!("cluster-{cluster}"))?;
    let mut region = paged_out_region(&scratch, cluster)?;
    let mut samples = Vec::with_capacity(SAMPLES);
    let (mut read_ios, mut pages_read) = (0, 0);
    for _ in 0..SAMPLES {
        region.page_out()?;
        let before = region.sys.stats();
        samples.push(region.sweep()?);
        let after = region.sys.stats();
        (read_ios, pages_read) = (after.page_read_ios - before.page_read_ios, after.pages_read - before.pages_read);
    }
    samples.sort_by(f64::total_cmp);
    Ok(ClusterSweep { cluster, read_ios, pages_read, ns: samples[SAMPLES / 2] })
}
