//! Reproductions the soak found, pinned as the exact calls its shrinker left (`ntmem soak
//! --check-known N --shrink`). Each is a bug of issue 6 fixed on another branch: while its
//! item is in `KNOWN_OPEN_BUGS` the test checks that the calls still fail the way they did
//! (the soak run with that item's checks on), so a fix merged without unlisting the item shows
//! here; once unlisted, it checks that they pass.

use ntmem_soak::Route::*;
use ntmem_soak::Target::*;
use ntmem_soak::Via::*;
use ntmem_soak::{replay, Call, KnownBug, Options, Source, KNOWN_OPEN_BUGS};

fn pinned(item: KnownBug, calls: &[Call], symptom: &str) {
    let mut opts = Options::default();
    opts.known_open_bugs.retain(|b| *b != item);
    let r = replay(&opts, calls);
    if KNOWN_OPEN_BUGS.contains(&item) {
        let f = r.expect_err("fixed? then remove it from KNOWN_OPEN_BUGS");
        assert!(f.what.contains(symptom), "{item:?} failed otherwise than pinned:\n{f}");
    } else if let Err(f) = r {
        panic!("{item:?} is unlisted but its reproduction fails:\n{f}");
    }
}

/// Item 7: after an NT-level release of the tail of a reservation, a system-placed 3-page
/// allocation must go to the lowest free 64 KiB boundary (F9, F46).
#[test]
fn placement_after_nt_partial_release_is_first_fit() {
    pinned(
        KnownBug::Item7PlacementAfterPartialRelease,
        &[
            Call::Alloc { proc: 2, via: Kernel32, addr: 0, size: 0xac000, flags: 0x3000, protect: 4, zero_bits: 0 },
            Call::Alloc { proc: 2, via: Ex(Current), addr: 0, size: 0x168000, flags: 0x3000, protect: 2, zero_bits: 0 },
            Call::Free { proc: 2, via: Nt(Current), addr: 0x1f438e, size: 0x1f000, free_type: 0x8000 },
            Call::Alloc { proc: 0, via: Ex(Slot(2)), addr: 0, size: 0x1000, flags: 0x3000, protect: 260, zero_bits: 0 },
            Call::Alloc {
                proc: 2,
                via: Kernel32,
                addr: 0,
                size: 0x40000000,
                flags: 0x203000,
                protect: 32,
                zero_bits: 0,
            },
            Call::Alloc { proc: 2, via: Ex(Current), addr: 0, size: 0x299c, flags: 0x3000, protect: 4, zero_bits: 0 },
        ],
        "placed at 0x230000; the lowest (or highest) free aligned spot is 0x210000",
    );
}

/// Item 4: a hard working-set maximum of 234 pages is exceeded by one page.
#[test]
fn hard_working_set_maximum_holds() {
    pinned(
        KnownBug::Item4HardMaximumPlusOne,
        &[
            Call::Alloc {
                proc: 1,
                via: Kernel32,
                addr: 0x10300000,
                size: 0x30b000,
                flags: 0x103000,
                protect: 4,
                zero_bits: 0,
            },
            Call::SetWorkingSet { proc: 1, target: Current, minimum: 0x23000, maximum: 0xea000, flags: 4 },
        ],
        "working set 235 pages above its hard maximum 234",
    );
}

/// Item 8: an empty write to a clean resident page of a write-watched allocation is no write.
#[test]
fn empty_write_is_no_write_watch_hit() {
    pinned(
        KnownBug::Item8EmptyAccessTouches,
        &[
            Call::Alloc { proc: 3, via: Kernel32, addr: 0, size: 0x603000, flags: 0x203000, protect: 4, zero_bits: 0 },
            Call::Read { proc: 3, addr: 0x430000, len: 0x169a },
            Call::Write { proc: 3, addr: 0x431000, len: 0, seed: 0 },
        ],
        "an empty write at 0x431000 changed the write-watch state",
    );
}

/// Item 6: a `VirtualLock` under a hard working-set maximum succeeds with a page not resident
/// (2 001 calls: the lock needs the working set full, which the calls before it bring about).
#[test]
fn lock_under_hard_maximum_makes_pages_resident_and_locked() {
    let calls: &[Call] = include!("pinned/item6_lock_under_hard_maximum.rs");
    pinned(KnownBug::Item6LockUnderHardMaximum, calls, "is not resident and locked");
}

/// Item 1, as the soak met it ("commit total N but pages and tables add up to N-4"): with the
/// zeroed and free lists nearly empty and standby full, `create_process` fails half-way and
/// keeps the commit charge of its four page tables (and the first table's frame). A failed
/// call must change nothing.
#[test]
fn create_process_that_fails_keeps_no_charge() {
    use ntmem::{Config, System};
    use ntmem_win32::*;
    const PAGE: u64 = 4096;
    let dir = tempfile::tempdir().expect("a directory");
    let cfg = Config::default().with_ram_bytes(8 << 20).with_page_file(dir.path().join("pf"), 8 << 20, 64 << 20);
    let mut sys = System::new(cfg).expect("boot");
    let (a, b) = (sys.create_process("a").expect("a"), sys.create_process("b").expect("b"));
    // 1 900 pages written, trimmed and written out: standby.
    let mut k = Kernel32::new(&mut sys, a);
    let p = k.VirtualAlloc(0, 1900 * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    for i in 0..1900 {
        k.write(p + i * PAGE, &[1]).expect("committed");
    }
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE);
    let _ = sys.write_modified_pages();
    // New pages take the zeroed frames until two are left.
    let mut k = Kernel32::new(&mut sys, b);
    let q = k.VirtualAlloc(0, 4000 * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    for i in 0..4000 {
        let s = k.system().stats();
        if s.zeroed_pages + s.free_pages <= 2 {
            break;
        }
        k.write(q + i * PAGE, &[2]).expect("committed");
    }
    let before = sys.stats().commit_total;
    let r = sys.create_process("c");
    let leaked = r.is_err() && sys.stats().commit_total != before;
    if KNOWN_OPEN_BUGS.contains(&KnownBug::Item1PageTablesIgnoreStandby) {
        assert!(leaked, "fixed? then remove Item1PageTablesIgnoreStandby from KNOWN_OPEN_BUGS ({r:?})");
    } else {
        assert!(!leaked, "a failed create_process kept {} pages of charge", sys.stats().commit_total - before);
        sys.check_invariants().expect("invariants");
    }
}

/// Sections (issue 7), found by the soak once it mapped views: `VirtualLock` of a page of a
/// page-file view makes it resident and locked in this working set, and `QueryWorkingSetEx`
/// says so (its lock is the process's, kept beside the shared frame, not in its PFN entry).
#[test]
fn lock_of_a_view_page_reports_it_locked() {
    let calls = [
        Call::CreateSection {
            proc: 0,
            source: Source::PageFile,
            file_write: true,
            protect: 4,
            size: 0x1b468,
            name: None,
            route: CreateFileMapping,
        },
        Call::MapView {
            proc: 0,
            handle: 0,
            target: Current,
            access: 2,
            offset: 0,
            size: 0x10000,
            base: 0,
            zero_bits: None,
        },
        Call::MapView {
            proc: 0,
            handle: 0,
            target: Current,
            access: 1,
            offset: 0,
            size: 0x10000,
            base: 0,
            zero_bits: None,
        },
        Call::Lock { proc: 0, addr: 0x2c000, size: 0x2000 },
    ];
    if let Err(f) = replay(&Options::default(), &calls) {
        panic!("{f}");
    }
}

/// Issue 7 (found by the soak, fixed): a write crossing from a copy-on-write view page into a
/// page it may not write failed, but had already made the first page's private copy, so a
/// later write through another view of the file no longer showed there. A failed access
/// changes nothing: every page is checked before any is copied.
#[test]
fn a_failed_write_makes_no_copy_on_write_copy() {
    let calls = [
        Call::CreateSection {
            proc: 1,
            source: Source::File(0),
            file_write: true,
            protect: 4,
            size: 0,
            name: Some(3),
            route: CreateFileMapping,
        },
        Call::OpenSection { proc: 0, name: 3, access: 4 },
        Call::Alloc { proc: 2, via: Nt(Current), addr: 0, size: 0x3000, flags: 0x2000, protect: 64, zero_bits: 0 },
        Call::CreateSection {
            proc: 2,
            source: Source::File(1),
            file_write: true,
            protect: 2,
            size: 0x44000,
            name: Some(1),
            route: CreateFileMapping,
        },
        Call::CreateSection {
            proc: 2,
            source: Source::PageFile,
            file_write: true,
            protect: 0x400_0008,
            size: 0x24cce,
            name: None,
            route: CreateFileMapping,
        },
        Call::CloseSection { proc: 2, handle: 0 },
        Call::Alloc { proc: 2, via: Ex(Current), addr: 0, size: 0x18000, flags: 0x20_3000, protect: 2, zero_bits: 0 },
        Call::MapView {
            proc: 2,
            handle: 0,
            target: Current,
            access: 4,
            offset: 0x10000,
            size: 0x3000,
            base: 0,
            zero_bits: None,
        },
        Call::CloseSection { proc: 2, handle: 0 },
        Call::MapView {
            proc: 0,
            handle: 0,
            target: Current,
            access: 1,
            offset: 0,
            size: 0x1000,
            base: 0,
            zero_bits: None,
        },
        Call::Write { proc: 0, addr: 0x10ffd, len: 8, seed: 0xc2f9_d684_0a4d_1fb5 },
        Call::OpenSection { proc: 2, name: 3, access: 0xf001f },
        Call::UnmapView { proc: 2, target: Current, addr: 0x4065c },
        Call::MapView {
            proc: 2,
            handle: 0,
            target: Current,
            access: 2,
            offset: 0,
            size: 0x1000,
            base: 0,
            zero_bits: None,
        },
        Call::Write { proc: 2, addr: 0x40000, len: 1, seed: 0x0838_fc80_c925_9069 },
    ];
    if let Err(f) = replay(&Options::default(), &calls) {
        panic!("{f}");
    }
}

/// Found by the soak (seed 79): one exit ended two files' sections; the first file's pages
/// could not be written back (an injected write failure), so its data segment stays, dying,
/// until the mapped page writer writes them, while the second file's segment went. The soak
/// compared the host file with its model when the number of data segments equalled the number
/// of files it still had sections of, and so read the first file while its bytes were still
/// on their way. It now looks for the file's own segment.
#[test]
fn a_file_whose_write_back_failed_is_checked_once_written() {
    let calls = [
        Call::CreateSection {
            proc: 0,
            source: Source::File(0),
            file_write: true,
            protect: 4,
            size: 0,
            name: None,
            route: CreateFileMapping,
        },
        Call::MapView {
            proc: 0,
            handle: 0,
            target: Current,
            access: 2,
            offset: 0,
            size: 0x1000,
            base: 0x2000_0000,
            zero_bits: None,
        },
        Call::Write { proc: 0, addr: 0x2000_0000, len: 8, seed: 0x35b3_e39d_4f9f_7ce6 },
        Call::CreateSection {
            proc: 0,
            source: Source::File(1),
            file_write: true,
            protect: 4,
            size: 0,
            name: None,
            route: CreateFileMapping,
        },
        Call::InjectMappedFaults { reads: 0, writes: 1 },
        Call::TerminateProcess { proc: 0, target: Current },
    ];
    if let Err(f) = replay(&Options::default(), &calls) {
        panic!("{f}");
    }
}
