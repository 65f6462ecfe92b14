//! Paging under pressure (issue 3): data integrity when processes commit and write ten times
//! the RAM, soft versus hard faults and read clustering, page-file slots given back on
//! release/decommit, injected page-file I/O failures, and the modified page writer's clusters.
//!
//! Tests that make thousands of accesses build their `System` without `with_invariant_checks()`
//! (the checker after every call is too slow under pressure) and run
//! `sys.check_invariants()` themselves periodically and at the end.

#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unwrap_used)]

use ntmem::paging::Pte;
use ntmem::units::Vpn;
use ntmem::{Config, FaultPlan, ProcessId, System, SystemStats};
use ntmem_win32::*;
use support::*;

mod support;
use tempfile::TempDir;

const PAGE: u64 = 4096;
const PAGE_BYTES: usize = 4096;
const MIB: u64 = 1 << 20;

// ------------------------------------------------------------------------------------------------
// Helpers

/// A system and the directory of its page file. `sys` is declared first so it drops (and
/// removes its page file) before the directory goes.
struct Machine {
    sys: System,
    _dir: TempDir,
}

fn machine(ram: u64, pf_initial: u64, pf_max: u64, cluster: Option<u32>, checks: bool) -> Machine {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg =
        Config::default().with_ram_bytes(ram).with_page_file(dir.path().join("pagefile.sys"), pf_initial, pf_max);
    if let Some(c) = cluster {
        cfg = cfg.with_page_in_cluster(c);
    }
    if checks {
        cfg = cfg.with_invariant_checks();
    }
    Machine { sys: System::new(cfg).expect("the machine boots"), _dir: dir }
}

/// The pattern of (tag, page, version): a full page of pseudo-random bytes, distinct for
/// every triple, starting with the triple itself in clear so a mismatch is easy to read.
fn pattern(tag: u64, page: u64, version: u64, out: &mut [u8; PAGE_BYTES]) {
    let seed = splitmix(tag.wrapping_mul(0x1_0000_0001) ^ splitmix(page) ^ version.wrapping_mul(0x5851_F42D_4C95_7F2D));
    let mut x = seed | 1;
    for chunk in out.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out[0..8].copy_from_slice(&tag.to_le_bytes());
    out[8..16].copy_from_slice(&page.to_le_bytes());
    out[16..24].copy_from_slice(&version.to_le_bytes());
}

fn pattern_page(tag: u64, page: u64, version: u64) -> [u8; PAGE_BYTES] {
    let mut b = [0u8; PAGE_BYTES];
    pattern(tag, page, version, &mut b);
    b
}

fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter().zip(want).position(|(a, b)| a != b)
}

/// The PTE of `addr` in process `pid`.
fn pte(sys: &System, pid: ProcessId, addr: u64) -> Pte {
    sys.process(pid).unwrap().space().unwrap().pte(sys.phys(), Vpn::default().add(addr >> 12))
}

fn paged_out(sys: &System, pid: ProcessId, base: u64, pages: u64) -> u64 {
    (0..pages).filter(|i| matches!(pte(sys, pid, base + i * PAGE), Pte::PageFile { .. })).count() as u64
}

fn in_transition(sys: &System, pid: ProcessId, base: u64, pages: u64) -> u64 {
    (0..pages).filter(|i| matches!(pte(sys, pid, base + i * PAGE), Pte::Transition { .. })).count() as u64
}

/// Another process commits `bytes`, touches every page (so the standby frames of everybody
/// else are repurposed), then releases it all.
fn pressure(sys: &mut System, bytes: u64) {
    let pid = sys.create_process("pressure").expect("pressure process");
    pressure_in(sys, pid, bytes);
}

/// `pressure` from an existing process.
fn pressure_in(sys: &mut System, pid: ProcessId, bytes: u64) {
    let mut k = Kernel32::new(sys, pid);
    let p = k.VirtualAlloc(0, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "pressure commit failed: error {}", k.GetLastError());
    for i in 0..bytes / PAGE {
        k.write(p + i * PAGE, &i.to_le_bytes()).unwrap_or_else(|e| panic!("pressure write {i}: {e:?}"));
    }
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE, "error {}", k.GetLastError());
}

/// Commits `pages` pages in `pid` and writes the full pattern (tag, page, 1) to each.
fn commit_and_fill(sys: &mut System, pid: ProcessId, tag: u64, pages: u64) -> u64 {
    let mut k = Kernel32::new(sys, pid);
    let p = k.VirtualAlloc(0, pages * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "commit failed: error {}", k.GetLastError());
    for i in 0..pages {
        k.write(p + i * PAGE, &pattern_page(tag, i, 1)).unwrap_or_else(|e| panic!("write page {i}: {e:?}"));
    }
    p
}

fn verify_pages(sys: &mut System, pid: ProcessId, base: u64, tag: u64, pages: std::ops::Range<u64>, version: u64) {
    let mut k = Kernel32::new(sys, pid);
    let mut buf = [0u8; PAGE_BYTES];
    for i in pages {
        k.read(base + i * PAGE, &mut buf).unwrap_or_else(|e| panic!("read page {i}: {e:?}"));
        let want = pattern_page(tag, i, version);
        if let Some(off) = first_difference(&buf, &want) {
            panic!("page {i} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
        }
    }
}

fn empty_working_set(sys: &mut System, pid: ProcessId) {
    let mut k = Kernel32::new(sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE, "EmptyWorkingSet: error {}", k.GetLastError());
}

// ------------------------------------------------------------------------------------------------
// 1. Integrity under pressure

/// What a page of the integrity test holds: the full pattern of `base`, overlaid on
/// `part.0..part.1` by the pattern of version `part.2` (a partial rewrite), if any.
#[derive(Clone, Copy)]
struct PageModel {
    base: u64,
    part: Option<(u16, u16, u64)>,
}

fn expected(tag: u64, page: u64, m: PageModel, out: &mut [u8; PAGE_BYTES]) {
    pattern(tag, page, m.base, out);
    if let Some((lo, hi, v)) = m.part {
        let over = pattern_page(tag, page, v);
        out[lo as usize..hi as usize].copy_from_slice(&over[lo as usize..hi as usize]);
    }
}

#[test]
fn three_processes_writing_ten_times_ram_read_back_every_byte() {
    const PROCS: usize = 3;
    const PAGES: u64 = 54 * MIB / PAGE; // 3 × 54 MiB = 162 MiB ≈ 10 × 16 MiB
    let mut m = machine(16 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let frames = u64::from(sys.phys().frame_count());
    let pids: Vec<ProcessId> = (0..PROCS).map(|i| sys.create_process(&format!("p{i}")).unwrap()).collect();
    let mut bases = Vec::new();
    for &pid in &pids {
        let mut k = Kernel32::new(sys, pid);
        let p = k.VirtualAlloc(0, PAGES * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        assert_ne!(p, 0, "54 MiB commit (page file grows toward 256 MiB): error {}", k.GetLastError());
        bases.push(p);
    }
    check(sys, "after the commits");
    let tags: Vec<u64> = pids.iter().map(|p| u64::from(u32::from(*p))).collect();
    let mut model = vec![vec![PageModel { base: 0, part: None }; PAGES as usize]; PROCS];
    let mut ops = 0u64;
    let mut buf = [0u8; PAGE_BYTES];
    let mut want = [0u8; PAGE_BYTES];

    let tick = |sys: &System, ops: &mut u64, phase: &str| {
        *ops += 1;
        if (*ops).is_multiple_of(700) {
            check(sys, phase);
        }
    };

    // Phase A: write every page (version 1), the processes interleaved.
    for page in 0..PAGES {
        for p in 0..PROCS {
            pattern(tags[p], page, 1, &mut buf);
            let mut k = Kernel32::new(sys, pids[p]);
            k.write(bases[p] + page * PAGE, &buf).unwrap_or_else(|e| panic!("A: write p{p} page {page}: {e:?}"));
            model[p][page as usize] = PageModel { base: 1, part: None };
            tick(sys, &mut ops, "in phase A");
        }
    }
    check(sys, "after phase A");
    let after_a = sys.stats();
    assert!(
        after_a.pages_written >= PROCS as u64 * PAGES - frames,
        "at most RAM's worth of pages can have stayed unwritten: {after_a:?}"
    );

    let mut order: Vec<(usize, u64)> = (0..PROCS).flat_map(|p| (0..PAGES).map(move |i| (p, i))).collect();
    let mut rng = XorShift::new(0x5EED_0003);
    let shuffle = |order: &mut Vec<(usize, u64)>, rng: &mut XorShift| {
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
    };

    // Phase B: random order; read and check every page, then rewrite half of them partially
    // (version 2 over a random byte range: a write to a paged-out page must read it first).
    shuffle(&mut order, &mut rng);
    for &(p, page) in &order {
        let mut k = Kernel32::new(sys, pids[p]);
        let addr = bases[p] + page * PAGE;
        k.read(addr, &mut buf).unwrap_or_else(|e| panic!("B: read p{p} page {page}: {e:?}"));
        expected(tags[p], page, model[p][page as usize], &mut want);
        if let Some(off) = first_difference(&buf, &want) {
            panic!("B: p{p} page {page} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
        }
        if rng.next() & 1 == 0 {
            let a = rng.below(PAGE) as u16;
            let b = rng.below(PAGE) as u16;
            let (lo, hi) = (a.min(b), a.max(b) + 1);
            let v2 = pattern_page(tags[p], page, 2);
            k.write(addr + u64::from(lo), &v2[lo as usize..hi as usize])
                .unwrap_or_else(|e| panic!("B: rewrite p{p} page {page}: {e:?}"));
            model[p][page as usize].part = Some((lo, hi, 2));
        }
        tick(sys, &mut ops, "in phase B");
    }
    check(sys, "after phase B");

    // Phase C: another random order; re-read everything, rewrite a third of the pages whole
    // (version 3), and re-read some page written earlier in this phase.
    shuffle(&mut order, &mut rng);
    let mut rewritten: Vec<(usize, u64)> = Vec::new();
    for &(p, page) in &order {
        let addr = bases[p] + page * PAGE;
        {
            let mut k = Kernel32::new(sys, pids[p]);
            k.read(addr, &mut buf).unwrap_or_else(|e| panic!("C: read p{p} page {page}: {e:?}"));
            expected(tags[p], page, model[p][page as usize], &mut want);
            if let Some(off) = first_difference(&buf, &want) {
                panic!("C: p{p} page {page} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
            }
            if rng.below(3) == 0 {
                pattern(tags[p], page, 3, &mut buf);
                k.write(addr, &buf).unwrap_or_else(|e| panic!("C: rewrite p{p} page {page}: {e:?}"));
                model[p][page as usize] = PageModel { base: 3, part: None };
                rewritten.push((p, page));
            }
        }
        if !rewritten.is_empty() && rng.below(4) == 0 {
            let (q, qpage) = rewritten[rng.below(rewritten.len() as u64) as usize];
            let mut k = Kernel32::new(sys, pids[q]);
            k.read(bases[q] + qpage * PAGE, &mut buf).unwrap_or_else(|e| panic!("C: re-read p{q} page {qpage}: {e:?}"));
            expected(tags[q], qpage, model[q][qpage as usize], &mut want);
            if let Some(off) = first_difference(&buf, &want) {
                panic!("C: re-read p{q} page {qpage} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
            }
        }
        tick(sys, &mut ops, "in phase C");
    }
    check(sys, "after phase C");

    // Phase D: a final sequential pass over every page of every process.
    for p in 0..PROCS {
        for page in 0..PAGES {
            let mut k = Kernel32::new(sys, pids[p]);
            k.read(bases[p] + page * PAGE, &mut buf).unwrap_or_else(|e| panic!("D: read p{p} page {page}: {e:?}"));
            expected(tags[p], page, model[p][page as usize], &mut want);
            if let Some(off) = first_difference(&buf, &want) {
                panic!("D: p{p} page {page} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
            }
            tick(sys, &mut ops, "in phase D");
        }
    }
    check(sys, "at the end");

    let s = sys.stats();
    assert!(s.pages_written > 0 && s.page_write_ios > 0, "pages were written: {s:?}");
    assert!(s.pages_read > 0 && s.page_read_ios > 0, "pages were read: {s:?}");
    assert!(s.hard_faults > 0, "hard faults: {s:?}");
    assert!(s.pages_read >= s.page_read_ios && s.pages_written >= s.page_write_ios, "{s:?}");
    assert!(s.page_file_used <= s.page_file_capacity, "{s:?}");
    assert!(s.commit_total <= s.commit_limit, "{s:?}");
    // Phase B read every page in random order: most of 10 × RAM was on disk by then.
    assert!(s.hard_faults >= PROCS as u64 * PAGES / 2, "random reads over 10 × RAM mostly hit the disk: {s:?}");
}

// ------------------------------------------------------------------------------------------------
// 3. Soft versus hard faults

#[test]
fn trimmed_pages_come_back_as_soft_faults_without_io() {
    const N: u64 = 64;
    let mut m = machine(32 * MIB, 16 * MIB, 64 * MIB, None, true);
    let sys = &mut m.sys;
    let pid = sys.create_process("soft").unwrap();
    let mut k = Kernel32::new(sys, pid);
    let p = k.VirtualAlloc(0, N * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    for i in 0..N {
        k.write(p + i * PAGE + 8, &(i ^ 0xABCD).to_le_bytes()).unwrap();
    }
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE);
    let mut before = PROCESS_MEMORY_COUNTERS_EX::default();
    assert_eq!(k.GetProcessMemoryInfo(h, &mut before), TRUE);
    for i in 0..N {
        let e = pte(k.system(), pid, p + i * PAGE);
        assert!(matches!(e, Pte::Transition { .. }), "page {i} trimmed to a transition PTE: {e:?}");
    }
    let s0 = k.system().stats();
    for i in 0..N {
        let mut b = [0u8; 8];
        k.read(p + i * PAGE + 8, &mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i ^ 0xABCD, "page {i}");
    }
    let s1 = k.system().stats();
    assert_eq!(s1.soft_faults - s0.soft_faults, N, "one soft fault per trimmed page: {s0:?} → {s1:?}");
    assert_eq!(s1.hard_faults, s0.hard_faults, "no hard fault");
    assert_eq!(s1.pages_read, s0.pages_read, "no page read");
    assert_eq!(s1.page_read_ios, s0.page_read_ios, "no read I/O");
    assert_eq!(s1.demand_zero_faults, s0.demand_zero_faults, "no demand-zero fault");
    let mut after = PROCESS_MEMORY_COUNTERS_EX::default();
    assert_eq!(k.GetProcessMemoryInfo(h, &mut after), TRUE);
    assert_eq!(after.PageFaultCount - before.PageFaultCount, N as u32, "PageFaultCount counts soft faults");
    assert_eq!(
        (after.WorkingSetSize - before.WorkingSetSize) as u64,
        N * PAGE,
        "every trimmed page back in the working set"
    );
}

/// Writes `n` sequential pages, trims them, writes them out, has another process repurpose
/// their frames, then reads them back in order. Returns (stats before the sweep, after it).
fn sweep_after_pressure(cluster: Option<u32>, n: u64) -> (SystemStats, SystemStats) {
    let mut m = machine(32 * MIB, 32 * MIB, 256 * MIB, cluster, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("sweeper").unwrap();
    let p = {
        let mut k = Kernel32::new(sys, pid);
        let p = k.VirtualAlloc(0, n * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        assert_ne!(p, 0);
        for i in 0..n {
            k.write(p + i * PAGE, &pattern_page(7, i, 1)[..64]).unwrap();
        }
        p
    };
    empty_working_set(sys, pid);
    assert_eq!(in_transition(sys, pid, p, n), n, "every page trimmed");
    let written = sys.write_modified_pages();
    assert!(written >= n, "the writer wrote the trimmed pages: {written}");
    let frames = u64::from(sys.phys().frame_count());
    pressure(sys, (frames + frames / 2) * PAGE);
    check(sys, "after pressure");
    assert_eq!(paged_out(sys, pid, p, n), n, "pressure repurposed every standby frame of the region");
    let s0 = sys.stats();
    let mut k = Kernel32::new(sys, pid);
    for i in 0..n {
        let mut b = [0u8; 64];
        k.read(p + i * PAGE, &mut b).unwrap_or_else(|e| panic!("sweep page {i}: {e:?}"));
        assert_eq!(b[..], pattern_page(7, i, 1)[..64], "page {i}");
    }
    let s1 = k.system().stats();
    check(k.system(), "after the sweep");
    (s0, s1)
}

#[test]
fn sequential_sweep_of_paged_out_region_reads_in_clusters() {
    const N: u64 = 256;
    let (s0, s1) = sweep_after_pressure(None, N);
    let hard = s1.hard_faults - s0.hard_faults;
    let soft = s1.soft_faults - s0.soft_faults;
    let reads = s1.pages_read - s0.pages_read;
    let ios = s1.page_read_ios - s0.page_read_ios;
    assert!(hard > 0, "hard faults: {s0:?} → {s1:?}");
    assert_eq!(ios, hard, "one read I/O per hard fault");
    assert_eq!(reads, N, "every paged-out page read exactly once");
    assert!(reads >= 6 * ios, "clustered reads: {reads} pages in {ios} I/Os (default cluster 8)");
    assert!(reads <= 8 * ios, "no read above the cluster size: {reads} pages in {ios} I/Os");
    assert_eq!(soft, reads - hard, "the neighbours read in come back as soft faults");
    assert_eq!(s1.demand_zero_faults, s0.demand_zero_faults);
}

#[test]
fn sequential_sweep_without_clustering_reads_one_page_per_fault() {
    const N: u64 = 256;
    let (s0, s1) = sweep_after_pressure(Some(1), N);
    let hard = s1.hard_faults - s0.hard_faults;
    let reads = s1.pages_read - s0.pages_read;
    let ios = s1.page_read_ios - s0.page_read_ios;
    assert_eq!(hard, N, "every page is a hard fault");
    assert_eq!(reads, ios, "one page per read I/O");
    assert_eq!(reads, N);
    assert_eq!(s1.soft_faults, s0.soft_faults, "no neighbours, no soft faults");
}

// ------------------------------------------------------------------------------------------------
// 4. Released pages give back their slots

#[test]
fn released_paged_out_region_gives_back_its_slots() {
    const N: u64 = 512;
    let mut m = machine(32 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("owner").unwrap();
    let presser = sys.create_process("pressure").unwrap();
    let u0 = sys.stats().page_file_used;
    let commit0 = sys.stats().commit_total;
    let p = commit_and_fill(sys, pid, 11, N);
    empty_working_set(sys, pid);
    sys.write_modified_pages();
    assert_eq!(sys.stats().page_file_used, u0 + N, "every trimmed page has a slot");
    let frames = u64::from(sys.phys().frame_count());
    pressure_in(sys, presser, (frames + frames / 2) * PAGE);
    check(sys, "after pressure");
    assert_eq!(sys.stats().page_file_used, u0 + N, "the pressure region released its slots; the owner's stay");
    assert_eq!(paged_out(sys, pid, p, N), N, "the region is on disk");

    // Bring part of the first half back (clusters: resident, standby neighbours), dirty some.
    verify_pages(sys, pid, p, 11, 0..N / 8, 1);
    {
        let mut k = Kernel32::new(sys, pid);
        for i in (0..N / 8).step_by(3) {
            k.write(p + i * PAGE + 100, b"dirty").unwrap();
        }
    }
    check(sys, "after the read-back");

    // Decommit the first half: its slots (on-disk pages, resident and standby copies) go.
    {
        let mut k = Kernel32::new(sys, pid);
        assert_eq!(k.VirtualFree(p, N / 2 * PAGE, MEM_DECOMMIT), TRUE, "error {}", k.GetLastError());
    }
    check(sys, "after the decommit");
    assert_eq!(sys.stats().page_file_used, u0 + N / 2, "a decommitted page gives back its slot");

    // Release the whole region: the second half's slots go too.
    {
        let mut k = Kernel32::new(sys, pid);
        assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE, "error {}", k.GetLastError());
    }
    check(sys, "after the release");
    let s = sys.stats();
    assert_eq!(s.page_file_used, u0, "every slot back: {s:?}");
    assert_eq!(s.commit_total, commit0, "every commit page back: {s:?}");
}

#[test]
fn released_standby_region_gives_back_its_slots() {
    const N: u64 = 200;
    let mut m = machine(32 * MIB, 16 * MIB, 64 * MIB, None, true);
    let sys = &mut m.sys;
    let pid = sys.create_process("owner").unwrap();
    let u0 = sys.stats().page_file_used;
    // Two regions written out to standby (clean, with a slot); one is decommitted, one released.
    let a = commit_and_fill(sys, pid, 12, N);
    let b = commit_and_fill(sys, pid, 13, N);
    empty_working_set(sys, pid);
    sys.write_modified_pages();
    assert_eq!(sys.stats().page_file_used, u0 + 2 * N, "every trimmed page has a slot");
    assert_eq!(sys.stats().modified_pages, 0);
    // Read back a few pages of `a` (resident again, clean, still with their slot).
    verify_pages(sys, pid, a, 12, 10..20, 1);
    assert_eq!(sys.stats().page_file_used, u0 + 2 * N, "a soft fault keeps the slot of a clean page");
    let mut k = Kernel32::new(sys, pid);
    assert_eq!(k.VirtualFree(a, N * PAGE, MEM_DECOMMIT), TRUE);
    assert_eq!(k.system().stats().page_file_used, u0 + N, "decommit gives back the slots");
    assert_eq!(k.VirtualFree(b, 0, MEM_RELEASE), TRUE);
    assert_eq!(k.system().stats().page_file_used, u0, "release gives back the slots");
    assert_eq!(k.VirtualFree(a, 0, MEM_RELEASE), TRUE);
    assert_eq!(k.system().stats().page_file_used, u0);
}

// ------------------------------------------------------------------------------------------------
// 5. Injected page-file failures

#[test]
fn failed_page_file_read_raises_in_page_error_and_retry_reads_right_bytes() {
    const N: u64 = 64;
    let mut m = machine(32 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("reader").unwrap();
    let p = commit_and_fill(sys, pid, 21, N);
    empty_working_set(sys, pid);
    sys.write_modified_pages();
    let frames = u64::from(sys.phys().frame_count());
    pressure(sys, (frames + frames / 2) * PAGE);
    check(sys, "after pressure");
    assert_eq!(paged_out(sys, pid, p, N), N, "the region is on disk");

    // A read of page 5 fails: STATUS_IN_PAGE_ERROR at the faulting byte, nothing changes.
    let ptes: Vec<Pte> = (0..N).map(|i| pte(sys, pid, p + i * PAGE)).collect();
    let s0 = sys.stats();
    sys.set_page_file_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let addr = p + 5 * PAGE + 100;
    {
        let mut k = Kernel32::new(sys, pid);
        let mut b = [0u8; 16];
        let e = k.read(addr, &mut b).expect_err("the page-file read fails");
        assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
        assert_eq!(e.address, addr, "the faulting byte");
        assert_eq!(e.information, [0, addr], "a read at the faulting byte");
    }
    check(sys, "after the failed read");
    assert_eq!(sys.page_files().fault_plan(), FaultPlan::default(), "the plan is spent");
    for i in 0..N {
        assert_eq!(pte(sys, pid, p + i * PAGE), ptes[i as usize], "page {i} stays paged out, same slot");
    }
    let s1 = sys.stats();
    assert_eq!(s1.pages_read, s0.pages_read, "nothing was read");
    assert_eq!(s1.page_file_used, s0.page_file_used, "no slot lost");
    // The retry succeeds with the right bytes.
    {
        let mut k = Kernel32::new(sys, pid);
        let mut b = [0u8; 16];
        k.read(addr, &mut b).expect("the retry reads the page");
        assert_eq!(b[..], pattern_page(21, 5, 1)[100..116]);
    }
    assert!(sys.stats().hard_faults > s0.hard_faults, "the retry was a hard fault");

    // A write crossing from a resident page (39) into a paged-out one (40): the exception
    // names the first byte of page 40, and page 39 is not written either.
    verify_pages(sys, pid, p, 21, 32..33, 1); // brings 32..39 in (cluster of 8)
    assert!(matches!(pte(sys, pid, p + 40 * PAGE), Pte::PageFile { .. }), "page 40 still on disk");
    let before40 = pte(sys, pid, p + 40 * PAGE);
    sys.set_page_file_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let start = p + 40 * PAGE - 4;
    {
        let mut k = Kernel32::new(sys, pid);
        let e = k.write(start, &[0xEE; 8]).expect_err("the page-file read under the write fails");
        assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
        assert_eq!(e.address, p + 40 * PAGE, "the first byte that faulted");
        assert_eq!(e.information, [1, p + 40 * PAGE], "a write at the faulting byte");
    }
    check(sys, "after the failed write access");
    assert_eq!(pte(sys, pid, p + 40 * PAGE), before40, "page 40 stays paged out");
    verify_pages(sys, pid, p, 21, 39..40, 1); // a failed access changes nothing
    {
        let mut k = Kernel32::new(sys, pid);
        k.write(start, &[0xEE; 8]).expect("the retry writes");
        let mut b = [0u8; 16];
        k.read(start - 4, &mut b).unwrap();
        let p39 = pattern_page(21, 39, 1);
        let p40 = pattern_page(21, 40, 1);
        let mut want = [0u8; 16];
        want[..4].copy_from_slice(&p39[PAGE_BYTES - 8..PAGE_BYTES - 4]);
        want[4..12].copy_from_slice(&[0xEE; 8]);
        want[12..].copy_from_slice(&p40[4..8]);
        assert_eq!(b, want);
    }
    verify_pages(sys, pid, p, 21, 41..N, 1);
    check(sys, "at the end");
}

#[test]
fn failed_page_file_write_keeps_pages_on_modified_list() {
    const N: u64 = 48;
    let mut m = machine(32 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("writer").unwrap();
    let p = commit_and_fill(sys, pid, 31, N);
    empty_working_set(sys, pid);
    let s0 = sys.stats();
    assert_eq!(s0.modified_pages, N, "dirty pages trimmed to the modified list");
    sys.set_page_file_faults(FaultPlan { fail_reads: 0, fail_writes: 1 });
    let written = sys.write_modified_pages();
    check(sys, "after the failed write");
    let s1 = sys.stats();
    assert_eq!(written, 0, "the write failed");
    assert_eq!(s1.modified_pages, s0.modified_pages, "the pages stay on the modified list");
    assert_eq!(s1.pages_written, s0.pages_written, "{s0:?} → {s1:?}");
    assert_eq!(s1.page_file_used, s0.page_file_used, "the failed write's slots are freed");
    assert_eq!(sys.page_files().fault_plan(), FaultPlan::default(), "the plan is spent");
    assert_eq!(in_transition(sys, pid, p, N), N, "the pages are still in memory");

    // A later write succeeds; then pressure pushes the region to disk; the bytes are intact.
    assert_eq!(sys.write_modified_pages(), N);
    assert_eq!(sys.stats().modified_pages, 0);
    let frames = u64::from(sys.phys().frame_count());
    pressure(sys, (frames + frames / 2) * PAGE);
    check(sys, "after pressure");
    assert_eq!(paged_out(sys, pid, p, N), N, "the region is on disk");
    let before = sys.stats().pages_read;
    verify_pages(sys, pid, p, 31, 0..N, 1);
    assert!(sys.stats().pages_read >= before + N, "the bytes came from the page file");
    check(sys, "at the end");
}

#[test]
fn failed_page_file_writes_under_pressure_lose_no_data() {
    const N: u64 = 2048; // 8 MiB: twice the RAM of this machine
    let mut m = machine(4 * MIB, 16 * MIB, 64 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("writer").unwrap();
    sys.set_page_file_faults(FaultPlan { fail_reads: 0, fail_writes: 5 });
    let p = commit_and_fill(sys, pid, 41, N);
    check(sys, "after the writes");
    assert_eq!(sys.page_files().fault_plan().fail_writes, 0, "the balancer met the failures");
    sys.set_page_file_faults(FaultPlan { fail_reads: 3, fail_writes: 0 });
    let mut k = Kernel32::new(sys, pid);
    let mut buf = [0u8; PAGE_BYTES];
    let mut in_page_errors = 0;
    for i in 0..N {
        let addr = p + i * PAGE;
        // Each failed attempt spends one armed failure; a retry after the last one succeeds.
        let mut attempts = 0;
        while let Err(e) = k.read(addr, &mut buf) {
            assert_eq!(e.code, STATUS_IN_PAGE_ERROR, "page {i}: {e:?}");
            assert_eq!(e.address, addr);
            in_page_errors += 1;
            attempts += 1;
            assert!(attempts <= 3, "page {i} still failing after the plan was spent");
        }
        let want = pattern_page(41, i, 1);
        if let Some(off) = first_difference(&buf, &want) {
            panic!("page {i} byte {off}: got {:#04x}, want {:#04x}", buf[off], want[off]);
        }
    }
    assert_eq!(in_page_errors, 3, "each armed read failure raised one in-page error");
    check(k.system(), "at the end");
}

// ------------------------------------------------------------------------------------------------
// 6. The modified page writer writes in clusters; clean pages are never written twice

#[test]
fn modified_page_writer_writes_in_clusters_and_never_rewrites_clean_pages() {
    const N: u64 = 512;
    let mut m = machine(64 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("writer").unwrap();
    let p = commit_and_fill(sys, pid, 51, N);
    empty_working_set(sys, pid);
    let s0 = sys.stats();
    assert_eq!(s0.modified_pages, N);
    assert_eq!(sys.write_modified_pages(), N);
    let s1 = sys.stats();
    let pages = s1.pages_written - s0.pages_written;
    let ios = s1.page_write_ios - s0.page_write_ios;
    assert_eq!(pages, N, "every modified page written once");
    assert!(ios >= 1 && pages > ios, "clustered writes: {pages} pages in {ios} I/Os");
    assert!(ios * 64 >= pages, "at most 64 pages a write: {pages} pages in {ios} I/Os");
    assert_eq!(s1.modified_pages, 0);
    assert_eq!(s1.standby_pages - s0.standby_pages, N, "written pages go to standby");

    // Touch them (soft faults: clean, with their copy), trim again, run the writer: nothing.
    verify_pages(sys, pid, p, 51, 0..N, 1);
    empty_working_set(sys, pid);
    assert_eq!(sys.stats().modified_pages, 0, "clean pages trim to standby");
    assert_eq!(sys.write_modified_pages(), 0);
    let s2 = sys.stats();
    assert_eq!((s2.pages_written, s2.page_write_ios), (s1.pages_written, s1.page_write_ios), "nothing written twice");

    // Push them to disk, read them back (hard faults: clean copies), trim, write: nothing.
    let frames = u64::from(sys.phys().frame_count());
    pressure(sys, (frames + frames / 2) * PAGE);
    assert_eq!(paged_out(sys, pid, p, N), N, "the region is on disk");
    verify_pages(sys, pid, p, 51, 0..N, 1);
    empty_working_set(sys, pid);
    let s3 = sys.stats();
    assert_eq!(s3.modified_pages, 0, "pages read from the page file are clean");
    assert_eq!(sys.write_modified_pages(), 0);
    let s4 = sys.stats();
    assert_eq!((s4.pages_written, s4.page_write_ios), (s3.pages_written, s3.page_write_ios), "nothing written twice");

    // Dirty exactly one page: it alone is written.
    {
        let mut k = Kernel32::new(sys, pid);
        k.read(p + 7 * PAGE, &mut [0u8; 4]).unwrap();
        k.write(p + 9 * PAGE, b"again").unwrap();
    }
    empty_working_set(sys, pid);
    assert_eq!(sys.stats().modified_pages, 1, "only the written page is modified");
    assert_eq!(sys.write_modified_pages(), 1);
    assert_eq!(sys.stats().pages_written, s4.pages_written + 1);
    check(sys, "at the end");
}

// ------------------------------------------------------------------------------------------------
// A page written after it was last clean must reach the page file, whatever rewrote its PTE in
// between. (Found by paging_model_proptest: MEM_COMMIT over committed pages lost a write.)

/// Commits `N` pages (with `alloc_extra` flags), writes version 1, trims and writes them out
/// (clean, on standby with a page-file copy), writes version 2 to every page (soft faults:
/// the PTE is dirty, the copy stale), runs `op`, trims, writes modified pages, has another
/// process repurpose every frame, and reads the pages back: version 2 must come back.
fn written_clean_pages_survive(alloc_extra: u32, what: &str, op: impl FnOnce(&mut Kernel32<'_>, u64, u64)) {
    const N: u64 = 16;
    let mut m = machine(32 * MIB, 32 * MIB, 256 * MIB, None, false);
    let sys = &mut m.sys;
    let pid = sys.create_process("owner").unwrap();
    let p = {
        let mut k = Kernel32::new(sys, pid);
        let p = k.VirtualAlloc(0, N * PAGE, MEM_COMMIT | MEM_RESERVE | alloc_extra, PAGE_READWRITE);
        assert_ne!(p, 0, "error {}", k.GetLastError());
        for i in 0..N {
            k.write(p + i * PAGE, &pattern_page(61, i, 1)).unwrap();
        }
        p
    };
    empty_working_set(sys, pid);
    assert_eq!(sys.write_modified_pages(), N);
    assert_eq!(sys.stats().standby_pages, N, "clean, on standby, with a copy");
    {
        let mut k = Kernel32::new(sys, pid);
        for i in 0..N {
            k.write(p + i * PAGE, &pattern_page(61, i, 2)).unwrap();
        }
        op(&mut k, p, N * PAGE);
    }
    check(sys, &format!("after {what}"));
    empty_working_set(sys, pid);
    let modified_after_trim = sys.stats().modified_pages;
    sys.write_modified_pages();
    let frames = u64::from(sys.phys().frame_count());
    pressure(sys, (frames + frames / 2) * PAGE);
    check(sys, "after pressure");
    assert_eq!(paged_out(sys, pid, p, N), N, "the region is on disk");
    {
        let mut k = Kernel32::new(sys, pid);
        let mut buf = [0u8; PAGE_BYTES];
        for i in 0..N {
            k.read(p + i * PAGE, &mut buf).unwrap();
            let want = pattern_page(61, i, 2);
            if let Some(off) = first_difference(&buf, &want) {
                let got_version = u64::from_le_bytes(buf[16..24].try_into().unwrap());
                panic!(
                    "{what}: page {i} byte {off}: got {:#04x}, want {:#04x} (the page reads as version \
                     {got_version}: the write after the page was last clean was lost; {modified_after_trim} \
                     pages were on the modified list after the trim, {N} expected)",
                    buf[off], want[off]
                );
            }
        }
    }
    assert_eq!(modified_after_trim, N, "{what}: the dirty pages trim to the modified list");
    check(sys, "at the end");
}

#[test]
fn recommit_keeps_writes_made_since_page_was_clean() {
    // F22: committing committed pages again keeps their contents.
    written_clean_pages_survive(0, "MEM_COMMIT over committed pages", |k, p, size| {
        assert_eq!(k.VirtualAlloc(p, size, MEM_COMMIT, PAGE_READWRITE), p, "error {}", k.GetLastError());
    });
}

#[test]
fn virtual_protect_keeps_writes_made_since_page_was_clean() {
    written_clean_pages_survive(0, "VirtualProtect", |k, p, size| {
        let mut old = 0;
        assert_eq!(k.VirtualProtect(p, size, PAGE_READONLY, Some(&mut old)), TRUE, "error {}", k.GetLastError());
        assert_eq!(old, PAGE_READWRITE);
    });
}

#[test]
fn reset_write_watch_keeps_writes_made_since_page_was_clean() {
    written_clean_pages_survive(MEM_WRITE_WATCH, "ResetWriteWatch", |k, p, size| {
        assert_eq!(k.ResetWriteWatch(p, size), 0, "error {}", k.GetLastError());
    });
}

#[test]
fn get_write_watch_reset_keeps_writes_made_since_page_was_clean() {
    written_clean_pages_survive(MEM_WRITE_WATCH, "GetWriteWatch(WRITE_WATCH_FLAG_RESET)", |k, p, size| {
        let mut out = [0u64; 64];
        let mut count = out.len();
        let mut gran = 0u32;
        let r = k.GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, size, &mut out, &mut count, &mut gran);
        assert_eq!(r, 0, "error {}", k.GetLastError());
        assert_eq!(count as u64, size / PAGE, "every page was written");
    });
}

// ------------------------------------------------------------------------------------------------
// 7. Processes that came and went

/// The process table keeps every process ever created (its id names its slot), but the
/// balancer, the figures and handle look-ups work over the running ones: memory is balanced
/// across running processes created before and after the one that faults, among hundreds of
/// ended ones; `GetPerformanceInfo` counts the running processes and their handles; the ended
/// processes' faults stay counted; an ended process held open by a running one can be opened
/// again, one nobody holds cannot.
#[test]
fn ended_processes_leave_balancing_and_figures_to_the_running_ones() {
    let mut m = machine(16 * MIB, 16 * MIB, 128 * MIB, None, false);
    let sys = &mut m.sys;
    let mut running = Vec::new();
    let mut ended = Vec::new();
    for n in 0..300u32 {
        let pid = sys.create_process(&format!("p{n}")).unwrap();
        if n % 100 == 50 {
            running.push(pid);
            continue;
        }
        {
            // Each ended process took one demand-zero fault.
            let mut k = Kernel32::new(sys, pid);
            let p = k.VirtualAlloc(0, PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
            assert_ne!(p, 0, "error {}", k.GetLastError());
            k.write(p, &[1]).unwrap();
        }
        if n == 60 {
            // The first running process holds this one open across its end.
            let mut k = Kernel32::new(sys, running[0]);
            assert!(!k.OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, u32::from(pid)).is_null());
        }
        sys.terminate_process(pid, n).unwrap();
        ended.push(pid);
    }
    assert_eq!(running.len(), 3);
    sys.check_invariants().unwrap();
    let s0 = sys.stats();
    assert_eq!(s0.processes, 3);
    assert!(s0.demand_zero_faults >= 297, "the ended processes' faults stay counted: {}", s0.demand_zero_faults);

    let held = ProcessId::from_raw(u32::from(running[0]) + 10 * 4);
    assert!(ended.contains(&held));

    // 3 × 8 MiB through 16 MiB of RAM, each process in turn: the later writers take frames
    // from the earlier ones (created before and after them in the table).
    let order = [running[1], running[0], running[2]];
    let working_set = |sys: &mut System, pid: ProcessId| {
        let mut k = Kernel32::new(sys, pid);
        let h = k.GetCurrentProcess();
        let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
        assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE);
        c.WorkingSetSize as u64 / PAGE
    };
    let mut bases = Vec::new();
    let mut sets = Vec::new();
    for (&pid, tag) in order.iter().zip(1u64..) {
        bases.push(commit_and_fill(sys, pid, tag, 2048));
        sets.push(order.iter().map(|&p| working_set(sys, p)).collect::<Vec<u64>>());
    }
    // The second writer, created before the first, trimmed it; the third, created after
    // both, trimmed both.
    assert!(sets[0][0] > 2048 && sets[1][0] < sets[0][0], "working sets after each writer: {sets:?}");
    assert!(sets[2][0] < sets[1][0] && sets[2][1] < sets[1][1], "working sets after each writer: {sets:?}");
    for ((&pid, tag), &base) in order.iter().zip(1u64..).zip(&bases) {
        verify_pages(sys, pid, base, tag, 0..2048, 1);
    }
    sys.check_invariants().unwrap();
    let s1 = sys.stats();
    assert!(s1.hard_faults + s1.soft_faults > s0.hard_faults + s0.soft_faults, "the balancer trimmed and paged");

    let mut k = Kernel32::new(sys, running[1]);
    let mut pi = PERFORMANCE_INFORMATION::default();
    assert_eq!(k.GetPerformanceInfo(&mut pi, std::mem::size_of::<PERFORMANCE_INFORMATION>() as u32), TRUE);
    assert_eq!(pi.ProcessCount, 3, "running processes only");
    assert_eq!(pi.HandleCount, 1, "the one handle, held by the first running process");
    // Held open: it can be opened again. Nobody holds the second: it cannot.
    let again = k.OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, u32::from(held));
    assert!(!again.is_null(), "error {}", k.GetLastError());
    assert_eq!(k.CloseHandle(again), TRUE);
    k.SetLastError(0);
    assert!(k.OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, u32::from(ended[1])).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
}

/// Found by the soak (seed 16, two processes): a page written after `MEM_RESET` matters
/// again, however its write is noticed. `VirtualProtect` folded the write into the frame
/// (modified) but left the frame marked reset, so once the page was trimmed and written to the
/// page file, `MEM_RESET_UNDO` marked it modified a second time beside its page-file copy (the
/// invariant checker: "modified-list frame … is …"), a slot owned twice over. The data must
/// read back whole, and undo must find nothing to undo (F41, F45).
#[test]
fn a_page_written_after_mem_reset_is_no_longer_reset_however_its_write_is_noticed() {
    let mut m = machine(16 * MIB, 4 * MIB, 16 * MIB, None, true);
    let pid = m.sys.create_process("p").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    let p = k.VirtualAlloc(0, 2 * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    k.write(p, &[1; PAGE_BYTES]).unwrap();
    assert_eq!(k.VirtualAlloc(p, 2 * PAGE, MEM_RESET, PAGE_NOACCESS), p);
    let data = pattern_page(7, 0, 1);
    k.write(p, &data).unwrap();
    let mut old = 0;
    assert_eq!(k.VirtualProtect(p, PAGE, PAGE_READONLY, Some(&mut old)), TRUE);
    empty_working_set(&mut m.sys, pid);
    m.sys.write_modified_pages();
    assert!(paged_out(&m.sys, pid, p, 1) + in_transition(&m.sys, pid, p, 1) == 1, "trimmed and written");
    let mut k = Kernel32::new(&mut m.sys, pid);
    assert_eq!(k.VirtualAlloc(p, 2 * PAGE, MEM_RESET_UNDO, PAGE_READWRITE), p, "error {}", k.GetLastError());
    let mut got = vec![0u8; PAGE_BYTES];
    k.read(p, &mut got).unwrap();
    assert_eq!(first_difference(&got, &data), None, "the page written after the reset");
}

/// The same through write watch (found in review): `ResetWriteWatch` folds a write made after
/// `MEM_RESET` into the frame before cleaning the PTE, and that write must end the reset too.
#[test]
fn a_page_written_after_mem_reset_is_no_longer_reset_when_write_watch_notices_it() {
    let mut m = machine(16 * MIB, 4 * MIB, 16 * MIB, None, true);
    let pid = m.sys.create_process("p").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    let p = k.VirtualAlloc(0, 2 * PAGE, MEM_COMMIT | MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE);
    assert_ne!(p, 0);
    k.write(p, &[1; PAGE_BYTES]).unwrap();
    assert_eq!(k.VirtualAlloc(p, 2 * PAGE, MEM_RESET, PAGE_NOACCESS), p);
    let data = pattern_page(8, 0, 1);
    k.write(p, &data).unwrap();
    assert_eq!(k.ResetWriteWatch(p, 2 * PAGE), 0);
    empty_working_set(&mut m.sys, pid);
    m.sys.write_modified_pages();
    let mut k = Kernel32::new(&mut m.sys, pid);
    assert_eq!(k.VirtualAlloc(p, 2 * PAGE, MEM_RESET_UNDO, PAGE_READWRITE), p, "error {}", k.GetLastError());
    let mut got = vec![0u8; PAGE_BYTES];
    k.read(p, &mut got).unwrap();
    assert_eq!(first_difference(&got, &data), None, "the page written after the reset");
}
