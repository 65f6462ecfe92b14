//! Scenario tests through `Kernel32` for the inspection views (issue 8, items 2–4): every
//! figure of `ntmem::inspect::VmMap` and `RamMap` checked against the system's own counters
//! (`GetProcessMemoryInfo`, `VirtualQuery`, `QueryWorkingSetEx`'s view of the working set, the
//! list lengths of `SystemStats`) on scenarios whose answer is known by arithmetic; the
//! standby priorities and the modified no-write list; and the diffs.
//!
//! VMMap's and RAMMap's definitions are stated in `ntmem/src/inspect/vmmap.rs` and
//! `rammap.rs`. Every test runs with the core's invariant checker on.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

mod support;

use ntmem::inspect::{Change, ListColumn, MemoryType, PageUse, RamMap, VmMap};
use ntmem::system::Handle;
use ntmem::{Config, ProcessId, RegionState, System};
use ntmem_win32::*;
use support::{check, host_file, open, P};

const K: u64 = 1024;
const MIB: u64 = 1 << 20;
/// The end of the user range: every byte of it is in exactly one VMMap type.
const USER_END: u64 = 0x7FFF_FFFF_0000;
/// The shared user data page (0x7FFE0000) is a one-page allocation: the 60 KiB after it, to
/// 0x7FFF0000, are unusable in every process. (Windows reserves them as a private region of
/// its own, so VMMap shows them as Private Data there; ntmem has no such region.)
const SHARED_USER_DATA_TAIL: u64 = 60 * K;

/// Opens `path` with `access`, creates a section of it with `protect` and maps a view of the
/// whole section with `map`: the section's handle and the view's address.
fn map_file(k: &mut Kernel32, path: &std::path::Path, access: u32, protect: u32, map: u32) -> (HANDLE, u64) {
    let f = open(k, path, access);
    let h = k.CreateFileMappingW(f, None, protect, 0, 0, None);
    assert!(!h.is_null(), "CreateFileMappingW: {}", k.GetLastError());
    let va = k.MapViewOfFile(h, map, 0, 0, 0);
    assert_ne!(va, 0, "MapViewOfFile: {}", k.GetLastError());
    (h, va)
}

/// 64 MiB of RAM, a page file, the invariant checker on.
fn machine(dir: &tempfile::TempDir) -> System {
    System::new(
        Config::default()
            .with_ram_bytes(64 * MIB)
            .with_page_file(dir.path().join("pagefile.sys"), 16 * MIB, 64 * MIB)
            .with_invariant_checks(),
    )
    .unwrap()
}

fn counters(sys: &mut System, pid: ProcessId) -> PROCESS_MEMORY_COUNTERS_EX {
    let mut k = Kernel32::new(sys, pid);
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    let h = k.GetCurrentProcess();
    assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE);
    c
}

fn touch(sys: &mut System, pid: ProcessId, base: u64, pages: u64) {
    let mut k = Kernel32::new(sys, pid);
    for i in 0..pages {
        k.write(base + i * P, &[(i as u8).wrapping_add(1)]).unwrap();
    }
}

fn read(sys: &mut System, pid: ProcessId, base: u64, pages: u64) {
    let mut k = Kernel32::new(sys, pid);
    let mut b = [0u8; 1];
    for i in 0..pages {
        k.read(base + i * P, &mut b).unwrap();
    }
}

/// What every capture must satisfy whatever the scenario: the types cover the user range, the
/// working-set columns add up to the process's working set, Private Data's committed bytes
/// are its private commit, every block is the `VirtualQuery` region at its address.
fn consistent(sys: &mut System, pid: ProcessId, map: &VmMap) {
    let c = counters(sys, pid);
    let covered: u64 = map.summary.iter().filter(|(t, _)| *t != MemoryType::PageTable).map(|(_, f)| f.size).sum();
    assert_eq!(covered, USER_END, "the types cover the user range");
    let ws: u64 = map.summary.iter().filter(|(t, _)| *t != MemoryType::PageTable).map(|(_, f)| f.total_ws).sum();
    assert_eq!(ws, c.WorkingSetSize as u64, "Total WS (but page tables) is WorkingSetSize");
    for (_, f) in &map.summary {
        assert_eq!(f.total_ws, f.private_ws + f.shareable_ws, "Total WS = Private WS + Shareable WS");
        assert!(f.shared_ws <= f.shareable_ws && f.locked_ws <= f.total_ws && f.committed <= f.size);
    }
    // PrivateUsage is the private commit: Private Data's, and what views are charged (copy
    // views whole, image pages that may be copied, F159).
    let space = sys.process(pid).unwrap().space().unwrap();
    let views: u64 = space.vads().iter().filter_map(|v| v.view()).map(|v| v.charged).sum();
    let private = map.row(MemoryType::PrivateData).committed;
    assert_eq!(private + views * P, c.PrivateUsage as u64, "Private Data committed + views' charge is PrivateUsage");
    let space = sys.process(pid).unwrap().space().unwrap();
    let locked = space.counters().locked_pages + space.locked_view_pages().count() as u64;
    assert_eq!(map.total.locked_ws, locked * P, "Locked WS is the pages VirtualLock holds");
    let tables = space.page_tables().table_count();
    assert_eq!(map.row(MemoryType::PageTable).size, tables * P, "Page Table is the table frames");
    let mut k = Kernel32::new(sys, pid);
    for a in &map.allocations {
        for b in &a.blocks {
            let mut m = MEMORY_BASIC_INFORMATION64::default();
            assert_ne!(k.VirtualQuery(b.address, &mut m), 0);
            assert_eq!((m.RegionSize, m.AllocationBase), (b.figures.size, a.address), "block {:#x}", b.address);
            let state = match b.state {
                RegionState::Committed => MEM_COMMIT,
                RegionState::Reserved => MEM_RESERVE,
                RegionState::Free => MEM_FREE,
            };
            assert_eq!(m.State, state);
        }
    }
}

/// What every RAMMap capture must satisfy: its columns are the system's list lengths, each
/// process's page tables are its table count.
fn consistent_ram(sys: &System, ram: &RamMap) {
    let s = sys.stats();
    let t = ram.total;
    assert_eq!(t.get(ListColumn::Active), s.active_pages);
    assert_eq!(t.get(ListColumn::Standby), s.standby_pages);
    assert_eq!(t.get(ListColumn::Modified), s.modified_pages);
    assert_eq!(t.get(ListColumn::ModifiedNoWrite), s.modified_no_write_pages);
    assert_eq!(t.get(ListColumn::Zeroed), s.zeroed_pages);
    assert_eq!(t.get(ListColumn::Free), s.free_pages);
    assert_eq!(t.get(ListColumn::Bad), s.bad_pages);
    assert_eq!(t.get(ListColumn::Transition), 0, "ntmem's I/O completes within its call");
    assert_eq!(t.total(), u64::from(sys.phys().frame_count()));
    assert_eq!(ram.pages.len() as u64, t.total());
    let mut tables = 0;
    for row in &ram.processes {
        let space = sys.process(row.pid).unwrap().space().unwrap();
        assert_eq!(row.page_table, space.page_tables().table_count());
        tables += row.page_table;
    }
    assert_eq!(ram.uses(PageUse::PageTable).total(), tables, "every page table is some process's");
    assert_eq!(ram.repurposed, s.repurposed_by_priority);
}

#[test]
fn private_data_reserve_1mib_commit_256k_touch_64k() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("vmmap").unwrap();
    let base = {
        let mut k = Kernel32::new(&mut sys, pid);
        let base = k.VirtualAlloc(0, MIB, MEM_RESERVE, PAGE_READWRITE);
        assert_ne!(base, 0);
        assert_eq!(k.VirtualAlloc(base, 256 * K, MEM_COMMIT, PAGE_READWRITE), base);
        base
    };
    touch(&mut sys, pid, base, 16);
    assert_eq!(Kernel32::new(&mut sys, pid).VirtualLock(base, 2 * P), TRUE);
    let map = VmMap::capture(&sys, pid).unwrap();
    let row = map.row(MemoryType::PrivateData);
    assert_eq!((row.size, row.committed, row.private), (MIB, 256 * K, 256 * K));
    assert_eq!((row.total_ws, row.private_ws, row.shareable_ws, row.shared_ws), (64 * K, 64 * K, 0, 0));
    assert_eq!(row.locked_ws, 8 * K, "VirtualLock of two pages");
    assert_eq!((row.blocks, row.largest), (2, MIB), "a committed block and a reserved one");
    let a = map.allocation_at(base).unwrap();
    assert_eq!((a.address, a.kind, a.figures.size), (base, MemoryType::PrivateData, MIB));
    assert_eq!(a.protection, ntmem::Protection::READ_WRITE);
    assert_eq!(a.blocks.len(), 2);
    assert_eq!(
        (a.blocks[0].state, a.blocks[0].figures.size, a.blocks[0].figures.total_ws),
        (RegionState::Committed, 256 * K, 64 * K)
    );
    assert_eq!(
        (a.blocks[1].state, a.blocks[1].figures.size, a.blocks[1].figures.committed),
        (RegionState::Reserved, 768 * K, 0)
    );
    // The shared user data page: Shareable, resident, and shared with no other process yet.
    let shareable = map.row(MemoryType::Shareable);
    assert_eq!((shareable.size, shareable.total_ws, shareable.shareable_ws, shareable.shared_ws), (P, P, P, 0));
    // A 1 MiB reservation ends on a 64 KiB boundary: nothing unusable of its own.
    assert_eq!(map.row(MemoryType::Unusable).size, SHARED_USER_DATA_TAIL);
    consistent(&mut sys, pid, &map);
    // The total sums every type but Free.
    let sum: u64 = map.summary.iter().filter(|(t, _)| *t != MemoryType::Free).map(|(_, f)| f.size).sum();
    assert_eq!(map.total.size, sum);
    check(&sys, "after capture");
}

#[test]
fn unusable_is_the_tail_to_the_next_64k_boundary_f199() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("vmmap").unwrap();
    let base = Kernel32::new(&mut sys, pid).VirtualAlloc(0, 100 * K, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(base, 0);
    let map = VmMap::capture(&sys, pid).unwrap();
    let unusable = map.row(MemoryType::Unusable);
    // 100 KiB = 25 pages; the next 64 KiB boundary is at 128 KiB.
    assert_eq!((unusable.size, unusable.blocks, unusable.committed), (28 * K + SHARED_USER_DATA_TAIL, 2, 0));
    let tail = map.allocation_at(base + 100 * K).unwrap();
    assert_eq!((tail.kind, tail.address, tail.figures.size), (MemoryType::Unusable, base + 100 * K, 28 * K));
    consistent(&mut sys, pid, &map);
    // Every free byte is in Free: the range less what is allocated or unusable.
    let used: u64 = map.allocations.iter().filter(|a| a.kind != MemoryType::Free).map(|a| a.figures.size).sum();
    assert_eq!(map.row(MemoryType::Free).size, USER_END - used);
}

#[test]
fn mapped_file_view_has_its_path_and_shared_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let a = sys.create_process("a").unwrap();
    let b = sys.create_process("b").unwrap();
    let path = host_file(&dir, "data.bin", 64 * 1024);
    let (section, va) =
        map_file(&mut Kernel32::new(&mut sys, a), &path, GENERIC_READ | GENERIC_WRITE, PAGE_READWRITE, FILE_MAP_WRITE);
    read(&mut sys, a, va, 3);
    let map = VmMap::capture(&sys, a).unwrap();
    let row = map.row(MemoryType::MappedFile);
    assert_eq!((row.size, row.committed, row.private), (64 * K, 64 * K, 0));
    assert_eq!((row.total_ws, row.private_ws, row.shareable_ws, row.shared_ws), (12 * K, 0, 12 * K, 0));
    let view = map.allocation_at(va).unwrap();
    assert_eq!(view.kind, MemoryType::MappedFile);
    assert_eq!(view.details, path.display().to_string(), "the Details column names the file");
    consistent(&mut sys, a, &map);
    // Process b maps the same section and reads the first page: a's page is shared now.
    let dup = {
        let mut k = Kernel32::new(&mut sys, a);
        let mut out = std::ptr::null_mut();
        let me = k.GetCurrentProcess();
        let pb = k.OpenProcess(PROCESS_ALL_ACCESS, FALSE, u32::from(b));
        assert_eq!(k.DuplicateHandle(me, section, pb, &mut out, 0, FALSE, DUPLICATE_SAME_ACCESS), TRUE);
        out
    };
    let vb = Kernel32::new(&mut sys, b).MapViewOfFile(dup, FILE_MAP_READ, 0, 0, 0);
    assert_ne!(vb, 0);
    read(&mut sys, b, vb, 1);
    let map = VmMap::capture(&sys, a).unwrap();
    assert_eq!(map.row(MemoryType::MappedFile).shared_ws, 4 * K, "one page mapped by both");
    // QueryWorkingSetEx says the same: page 0 has a share count of 2, pages 1 and 2 of 1.
    let mut k = Kernel32::new(&mut sys, a);
    let me = k.GetCurrentProcess();
    let mut pv: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = (0..3)
        .map(|i| PSAPI_WORKING_SET_EX_INFORMATION { VirtualAddress: (va + i * P) as *mut _, ..Default::default() })
        .collect();
    assert_eq!(k.QueryWorkingSetEx(me, &mut pv), TRUE);
    let shares: Vec<usize> = pv.iter().map(|e| (working_set_ex_flags(e) >> 1) & 7).collect();
    assert_eq!(shares, vec![2, 1, 1]);
    consistent(&mut sys, a, &map);
    // RAMMap: the first read brought in a cluster of 8 pages (32 KiB) of data.bin; the three
    // read are active, at file offsets 0, 4K, 8K, the rest on standby.
    let ram = RamMap::capture(&sys);
    assert_eq!(ram.uses(PageUse::MappedFile).get(ListColumn::Active), 3);
    assert_eq!(ram.uses(PageUse::MappedFile).get(ListColumn::Standby), 5);
    assert_eq!(ram.files.len(), 1);
    assert_eq!((ram.files[0].path.as_str(), ram.files[0].counts.total()), (path.to_str().unwrap(), 8));
    let mut offsets: Vec<u64> = ram
        .pages
        .iter()
        .filter(|p| p.usage == PageUse::MappedFile && p.list == ListColumn::Active)
        .map(|p| p.file_offset.unwrap())
        .collect();
    offsets.sort_unstable();
    assert_eq!(offsets, vec![0, 4 * K, 8 * K]);
    consistent_ram(&sys, &ram);
}

#[test]
fn copy_on_write_copies_are_private_in_a_mapped_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("cow").unwrap();
    let path = host_file(&dir, "cow.bin", 32 * 1024);
    let (_, va) = map_file(&mut Kernel32::new(&mut sys, pid), &path, GENERIC_READ, PAGE_WRITECOPY, FILE_MAP_COPY);
    read(&mut sys, pid, va, 4);
    touch(&mut sys, pid, va, 2);
    let map = VmMap::capture(&sys, pid).unwrap();
    let row = map.row(MemoryType::MappedFile);
    assert_eq!(
        (row.size, row.private, row.total_ws, row.private_ws, row.shareable_ws),
        (32 * K, 8 * K, 16 * K, 8 * K, 8 * K)
    );
    consistent(&mut sys, pid, &map);
    let ram = RamMap::capture(&sys);
    let copies: Vec<_> = ram
        .pages
        .iter()
        .filter(|p| p.process == Some(pid) && p.virtual_address.is_some_and(|v| v < va + 2 * P && v >= va))
        .collect();
    assert_eq!(copies.len(), 2, "the two copies are process-private frames at the view's addresses");
    consistent_ram(&sys, &ram);
}

#[test]
fn page_file_section_is_shareable() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("shm").unwrap();
    let va = {
        let mut k = Kernel32::new(&mut sys, pid);
        let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x10000, Some("views-shm"));
        assert!(!h.is_null());
        let va = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
        assert_ne!(va, 0);
        va
    };
    touch(&mut sys, pid, va, 5);
    let map = VmMap::capture(&sys, pid).unwrap();
    let row = map.row(MemoryType::Shareable);
    // The 64 KiB view and the shared user data page.
    assert_eq!((row.size, row.committed, row.private), (64 * K + P, 64 * K + P, 0));
    assert_eq!((row.total_ws, row.shareable_ws, row.private_ws), (6 * P, 6 * P, 0));
    assert_eq!(map.allocation_at(va).unwrap().details, "views-shm", "a named section shows its name");
    consistent(&mut sys, pid, &map);
    let ram = RamMap::capture(&sys);
    assert_eq!(ram.uses(PageUse::Shareable).get(ListColumn::Active), 5);
    assert!(ram.files.is_empty(), "a page-file section has no file");
    consistent_ram(&sys, &ram);
}

#[test]
fn image_view_is_image_with_its_path() {
    use ntmem::pe::PeBuilder;
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("img").unwrap();
    let built = PeBuilder::dll(0x1_8000_0000).build().unwrap();
    let path = dir.path().join("test.dll");
    std::fs::write(&path, built.bytes()).unwrap();
    let (_, va) = map_file(
        &mut Kernel32::new(&mut sys, pid),
        &path,
        GENERIC_READ | GENERIC_EXECUTE,
        SEC_IMAGE | PAGE_READONLY,
        FILE_MAP_READ,
    );
    read(&mut sys, pid, va, 1);
    let map = VmMap::capture(&sys, pid).unwrap();
    let view = map.allocation_at(va).unwrap();
    assert_eq!((view.kind, view.details.as_str()), (MemoryType::Image, path.to_str().unwrap()));
    let row = map.row(MemoryType::Image);
    assert_eq!((row.size, row.total_ws, row.shareable_ws), (view.figures.size, P, P));
    assert_eq!(row.blocks, view.blocks.len() as u64, "one block per run of one protection");
    consistent(&mut sys, pid, &map);
    let ram = RamMap::capture(&sys);
    let headers = ram.pages.iter().find(|p| p.usage == PageUse::MappedFile).unwrap();
    assert_eq!((headers.file.as_deref(), headers.file_offset), (path.to_str(), Some(0)), "the headers page");
    consistent_ram(&sys, &ram);
}

#[test]
fn empty_working_set_moves_pages_to_modified_then_standby() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("trim").unwrap();
    let base = Kernel32::new(&mut sys, pid).VirtualAlloc(0, 64 * K, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    touch(&mut sys, pid, base, 16);
    let before = RamMap::capture(&sys);
    let row = before.process(pid).unwrap().clone();
    assert_eq!((row.private, row.standby, row.modified), (16, 0, 0));
    {
        let mut k = Kernel32::new(&mut sys, pid);
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
    }
    let map = VmMap::capture(&sys, pid).unwrap();
    assert_eq!((map.row(MemoryType::PrivateData).total_ws, map.row(MemoryType::PrivateData).committed), (0, 64 * K));
    consistent(&mut sys, pid, &map);
    let trimmed = RamMap::capture(&sys);
    let row = trimmed.process(pid).unwrap();
    assert_eq!((row.private, row.standby, row.modified), (0, 0, 16), "written pages never saved: modified");
    assert_eq!(trimmed.uses(PageUse::ProcessPrivate).get(ListColumn::Modified), 16);
    let pages: Vec<_> =
        trimmed.pages.iter().filter(|p| p.process == Some(pid) && p.usage == PageUse::ProcessPrivate).collect();
    assert_eq!(pages.len(), 16);
    for p in &pages {
        let va = p.virtual_address.unwrap();
        assert!(va >= base && va < base + 64 * K && p.list == ListColumn::Modified && p.priority == 5);
    }
    consistent_ram(&sys, &trimmed);
    // The diff names the 16 frames, and the process row.
    let diff = trimmed.diff(&before);
    assert_eq!(diff.pages.len(), 16);
    assert!(diff.pages.iter().all(|c| matches!(c, Change::Changed { before, after } if before.list == ListColumn::Active && after.list == ListColumn::Modified)));
    assert_eq!(diff.processes.len(), 1);
    assert_eq!(sys.write_modified_pages(), 16);
    let written = RamMap::capture(&sys);
    let row = written.process(pid).unwrap();
    assert_eq!((row.private, row.standby, row.modified), (0, 16, 0), "written: standby");
    consistent_ram(&sys, &written);
    assert!(RamMap::capture(&sys).diff(&written).is_empty(), "nothing changed, nothing listed");
}

#[test]
fn diff_lists_an_allocation_added_and_the_rows_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("diff").unwrap();
    let before = VmMap::capture(&sys, pid).unwrap();
    assert!(VmMap::capture(&sys, pid).unwrap().diff(&before).is_empty());
    let base = Kernel32::new(&mut sys, pid).VirtualAlloc(0, 8 * P, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    touch(&mut sys, pid, base, 1);
    let after = VmMap::capture(&sys, pid).unwrap();
    let diff = after.diff(&before);
    assert_eq!(diff.allocations.len(), 1);
    assert!(matches!(&diff.allocations[0], Change::Added(a) if a.address == base && a.figures.size == 8 * P));
    let kinds: Vec<_> = diff.rows.iter().map(|(k, _, _)| *k).collect();
    assert!(kinds.contains(&Some(MemoryType::PrivateData)) && kinds.contains(&Some(MemoryType::Unusable)));
    assert!(kinds.contains(&Some(MemoryType::Free)) && kinds.contains(&None));
    // Freed: the allocation is removed.
    assert_eq!(Kernel32::new(&mut sys, pid).VirtualFree(base, 0, MEM_RELEASE), TRUE);
    let freed = VmMap::capture(&sys, pid).unwrap();
    assert!(matches!(&freed.diff(&after).allocations[..], [Change::Removed(a)] if a.address == base));
}

const PRIORITY_SIZE: u32 = std::mem::size_of::<MEMORY_PRIORITY_INFORMATION>() as u32;

#[test]
fn memory_priority_is_normal_until_set_and_refuses_what_windows_refuses_f197() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("prio").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcess();
    let mut info = MEMORY_PRIORITY_INFORMATION::default();
    assert_eq!(k.GetProcessInformation(me, ProcessMemoryPriority, &mut info, PRIORITY_SIZE), TRUE);
    assert_eq!(info.MemoryPriority, MEMORY_PRIORITY_NORMAL);
    let set = |k: &mut Kernel32, class, value, size| {
        k.SetProcessInformation(me, class, &MEMORY_PRIORITY_INFORMATION { MemoryPriority: value }, size)
    };
    assert_eq!(set(&mut k, ProcessMemoryExhaustionInfo, 1, PRIORITY_SIZE), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    assert_eq!(set(&mut k, ProcessMemoryPriority, 1, PRIORITY_SIZE + 4), FALSE);
    assert_eq!(k.GetLastError(), ERROR_BAD_LENGTH);
    assert_eq!(set(&mut k, ProcessMemoryPriority, 6, PRIORITY_SIZE), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    assert_eq!(set(&mut k, ProcessMemoryPriority, MEMORY_PRIORITY_LOW, PRIORITY_SIZE), TRUE);
    assert_eq!(k.GetProcessInformation(me, ProcessMemoryPriority, &mut info, PRIORITY_SIZE), TRUE);
    assert_eq!(info.MemoryPriority, MEMORY_PRIORITY_LOW);
    // A page mapped from now on takes priority 2.
    let base = k.VirtualAlloc(0, P, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    k.write(base, &[1]).unwrap();
    let ram = RamMap::capture(&sys);
    let page = ram.pages.iter().find(|p| p.virtual_address == Some(base)).unwrap();
    assert_eq!((page.priority, page.process), (2, Some(pid)));
}

#[test]
fn standby_repurposing_takes_the_lowest_priority_first_f196() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = System::new(
        Config::default()
            .with_ram_bytes(8 * MIB)
            .with_page_file(dir.path().join("pagefile.sys"), 16 * MIB, 64 * MIB)
            .with_invariant_checks(),
    )
    .unwrap();
    let low = sys.create_process("low").unwrap();
    let normal = sys.create_process("normal").unwrap();
    {
        let mut k = Kernel32::new(&mut sys, low);
        let me = k.GetCurrentProcess();
        let info = MEMORY_PRIORITY_INFORMATION { MemoryPriority: MEMORY_PRIORITY_VERY_LOW };
        assert_eq!(k.SetProcessInformation(me, ProcessMemoryPriority, &info, PRIORITY_SIZE), TRUE);
    }
    // Each process fills 256 KiB, then empties its working set; the writer saves the pages.
    for pid in [low, normal] {
        let base = Kernel32::new(&mut sys, pid).VirtualAlloc(0, 256 * K, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        touch(&mut sys, pid, base, 64);
        let mut k = Kernel32::new(&mut sys, pid);
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
    }
    sys.write_modified_pages();
    assert_eq!((sys.phys().standby_len(1), sys.phys().standby_len(5)), (64, 64));
    let ram = RamMap::capture(&sys);
    assert!(ram
        .pages
        .iter()
        .filter(|p| p.process == Some(low) && p.usage == PageUse::ProcessPrivate)
        .all(|p| p.priority == 1));
    assert!(ram
        .pages
        .iter()
        .filter(|p| p.process == Some(normal) && p.usage == PageUse::ProcessPrivate)
        .all(|p| p.priority == 5));
    consistent_ram(&sys, &ram);
    // A third process takes every zeroed and free frame and 32 more: they come from the
    // priority-1 standby list, none from priority 5.
    let hog = sys.create_process("hog").unwrap();
    let free = sys.stats().zeroed_pages + sys.stats().free_pages;
    let pages = free + 32;
    let base = Kernel32::new(&mut sys, hog).VirtualAlloc(0, pages * P, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(base, 0);
    touch(&mut sys, hog, base, pages);
    let s = sys.stats();
    assert!(s.repurposed_by_priority[1] >= 32, "repurposed {:?}", s.repurposed_by_priority);
    assert_eq!(
        s.repurposed_by_priority[5], 0,
        "no normal page while a low one is left: {:?}",
        s.repurposed_by_priority
    );
    assert_eq!(sys.phys().standby_len(5), 64 - s.repurposed_by_priority[5]);
    consistent_ram(&sys, &RamMap::capture(&sys));
    check(&sys, "after repurposing");
}

#[test]
fn deferred_writes_park_modified_file_pages_on_the_modified_no_write_list_f198() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("log").unwrap();
    let path = host_file(&dir, "log.bin", 32 * 1024);
    let (h, va) = map_file(
        &mut Kernel32::new(&mut sys, pid),
        &path,
        GENERIC_READ | GENERIC_WRITE,
        PAGE_READWRITE,
        FILE_MAP_WRITE,
    );
    let handle = Handle::from_raw(h as usize as u64).unwrap();
    sys.set_section_write_deferred(pid, handle, true).unwrap();
    touch(&mut sys, pid, va, 4);
    assert_eq!(Kernel32::new(&mut sys, pid).UnmapViewOfFile(va), TRUE);
    assert_eq!(sys.stats().modified_no_write_pages, 4, "unmapped modified pages of a deferred section");
    assert_eq!(sys.write_modified_pages(), 0, "the modified page writer leaves them");
    assert_eq!(std::fs::read(&path).unwrap()[0], 0, "the file is not written");
    let ram = RamMap::capture(&sys);
    assert_eq!(ram.uses(PageUse::MappedFile).get(ListColumn::ModifiedNoWrite), 4);
    assert_eq!(ram.files[0].counts.get(ListColumn::ModifiedNoWrite), 4);
    consistent_ram(&sys, &ram);
    check(&sys, "deferred");
    // Allowed again: the pages move to the modified list and the writer writes them.
    sys.set_section_write_deferred(pid, handle, false).unwrap();
    assert_eq!((sys.stats().modified_no_write_pages, sys.stats().modified_pages), (0, 4));
    assert_eq!(sys.write_modified_pages(), 4);
    assert_eq!(
        std::fs::read(&path).unwrap()[..4 * P as usize].iter().step_by(P as usize).copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    check(&sys, "written");
}

#[test]
fn write_deferral_is_for_file_sections_only_f198() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("pf").unwrap();
    let h =
        Kernel32::new(&mut sys, pid).CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x10000, None);
    let handle = Handle::from_raw(h as usize as u64).unwrap();
    assert_eq!(sys.set_section_write_deferred(pid, handle, true), Err(ntmem::section::SectionError::InvalidParameter));
}

#[test]
fn closing_a_deferred_section_writes_its_pages_f198() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = machine(&dir);
    let pid = sys.create_process("close").unwrap();
    let path = host_file(&dir, "close.bin", 16 * 1024);
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let va = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    sys.set_section_write_deferred(pid, Handle::from_raw(h as usize as u64).unwrap(), true).unwrap();
    touch(&mut sys, pid, va, 2);
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.UnmapViewOfFile(va), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
    assert_eq!(sys.stats().modified_no_write_pages, 0);
    assert_eq!(std::fs::read(&path).unwrap()[P as usize], 2, "the segment's deletion wrote them");
    check(&sys, "closed");
}
