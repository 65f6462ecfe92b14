//! Scenario tests through `Kernel32` for memory pressure and working-set limits (issue 6,
//! items 1, 4 and 6): a new process's page tables repurpose standby pages as demand-zero
//! faults do; a hard working-set maximum holds `WorkingSetSize` (shared user data page
//! included) at the maximum; `VirtualLock` under a hard maximum makes every page of the
//! range resident and locked, or fails and changes nothing (F104, DOC:"VirtualLock function",
//! DOC:"SetProcessWorkingSetSizeEx function").

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;
use tempfile::TempDir;

const P: u64 = 0x1000;
const MIB: u64 = 1 << 20;

/// QueryWorkingSetEx flag bits (DOC:"PSAPI_WORKING_SET_EX_BLOCK union").
const WS_VALID: usize = 1;
const WS_LOCKED: usize = 1 << 22;

/// A system with a page file; `sys` drops (and removes its page file) before the directory.
struct Machine {
    sys: System,
    _dir: TempDir,
}

fn machine(ram: u64, pf_initial: u64, pf_max: u64, checks: bool) -> Machine {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        Config::default().with_ram_bytes(ram).with_page_file(dir.path().join("pagefile.sys"), pf_initial, pf_max);
    if checks {
        cfg = cfg.with_invariant_checks();
    }
    Machine { sys: System::new(cfg).unwrap(), _dir: dir }
}

fn check(sys: &System, when: &str) {
    if let Err(v) = sys.check_invariants() {
        panic!("invariant violated {when}: {v}");
    }
}

fn commit(k: &mut Kernel32, size: u64) -> u64 {
    let p = k.VirtualAlloc(0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "VirtualAlloc({size:#x}) failed: error {}", k.GetLastError());
    p
}

fn write_tag(k: &mut Kernel32, addr: u64, tag: u64) {
    if let Err(e) = k.write(addr, &tag.to_le_bytes()) {
        panic!("write at {addr:#x}: exception {:#x}", e.code);
    }
}

fn read_tag(k: &mut Kernel32, addr: u64) -> u64 {
    let mut b = [0u8; 8];
    if let Err(e) = k.read(addr, &mut b) {
        panic!("read at {addr:#x}: exception {:#x}", e.code);
    }
    u64::from_le_bytes(b)
}

fn counters(k: &mut Kernel32) -> PROCESS_MEMORY_COUNTERS_EX {
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    let h = k.GetCurrentProcess();
    assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE, "GetProcessMemoryInfo: error {}", k.GetLastError());
    c
}

fn working_set_pages(k: &mut Kernel32) -> u64 {
    counters(k).WorkingSetSize as u64 / P
}

fn ws_flags_of(k: &mut Kernel32, addrs: &[u64]) -> Vec<usize> {
    let mut entries: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = addrs
        .iter()
        .map(|&a| PSAPI_WORKING_SET_EX_INFORMATION {
            VirtualAddress: a as usize as *mut core::ffi::c_void,
            VirtualAttributes: PSAPI_WORKING_SET_EX_BLOCK { Flags: 0 },
        })
        .collect();
    let h = k.GetCurrentProcess();
    assert_eq!(k.QueryWorkingSetEx(h, &mut entries), TRUE, "QueryWorkingSetEx: error {}", k.GetLastError());
    entries.iter().map(working_set_ex_flags).collect()
}

fn set_hard_maximum(k: &mut Kernel32, min_pages: u64, max_pages: u64) {
    let h = k.GetCurrentProcess();
    assert_eq!(
        k.SetProcessWorkingSetSizeEx(h, min_pages * P, max_pages * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE),
        TRUE,
        "SetProcessWorkingSetSizeEx: error {}",
        k.GetLastError()
    );
}

/// Another process writes `bytes` of fresh memory and releases it: every standby frame of the
/// others is repurposed. Checks invariants every 1024 pages.
fn pressure(sys: &mut System, bytes: u64) {
    let pid = sys.create_process("pressure").unwrap();
    let mut k = Kernel32::new(sys, pid);
    let p = commit(&mut k, bytes);
    for i in 0..bytes / P {
        write_tag(&mut k, p + i * P, i);
        if i % 1024 == 0 {
            check(k.system(), "under pressure");
        }
    }
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE);
    check(k.system(), "after pressure");
}

// ---------------------------------------------------------------------------------------------
// Item 1: page tables repurpose standby pages
// ---------------------------------------------------------------------------------------------

/// Issue 6 item 1: with 15 processes having committed and touched 17 MiB each on a 256 MiB
/// machine (a little more than RAM, so pages were written out), the zeroed and free lists are
/// empty, much of RAM is on the standby list (available, as GlobalMemoryStatusEx says), and
/// commit is far from its limit: a 16th process must be created, its page tables taken from
/// standby pages as a demand-zero fault's frame is.
#[test]
fn create_process_takes_page_tables_from_standby_pages() {
    const PER_PROCESS: u64 = 17 * MIB;
    let mut m = machine(256 * MIB, 64 * MIB, 512 * MIB, false);
    let sys = &mut m.sys;
    let mut pids = Vec::new();
    for n in 0..15u64 {
        let pid = sys.create_process(&format!("p{n}")).unwrap_or_else(|e| panic!("process {n}: {e:?}"));
        let mut k = Kernel32::new(sys, pid);
        let p = commit(&mut k, PER_PROCESS);
        for i in 0..PER_PROCESS / P {
            write_tag(&mut k, p + i * P, n << 32 | i);
        }
        pids.push((pid, p));
    }
    // The last process goes on touching pages until no frame is left on the zeroed and free
    // lists: from here on every frame comes from standby, as under steady pressure.
    {
        let (pid, _) = pids[14];
        let mut k = Kernel32::new(sys, pid);
        let extra = commit(&mut k, 16 * MIB);
        for i in 0..16 * MIB / P {
            let s = k.system().stats();
            if s.zeroed_pages + s.free_pages == 0 {
                break;
            }
            write_tag(&mut k, extra + i * P, i);
        }
    }
    check(sys, "after 15 processes");
    let s = sys.stats();
    assert!(s.commit_total + 1024 < s.commit_limit, "commit is plentiful: {s:?}");
    assert!(s.standby_pages > 1024 && s.zeroed_pages + s.free_pages == 0, "frames are on standby: {s:?}");
    let pid = sys.create_process("sixteenth").unwrap_or_else(|e| panic!("the 16th process: {e:?}; {:?}", sys.stats()));
    {
        let mut k = Kernel32::new(sys, pid);
        let p = commit(&mut k, MIB);
        for i in 0..MIB / P {
            write_tag(&mut k, p + i * P, i);
        }
        assert_eq!(read_tag(&mut k, p + 3 * P), 3);
    }
    check(sys, "after the 16th process");
    for (n, (pid, p)) in pids.into_iter().enumerate() {
        let mut k = Kernel32::new(sys, pid);
        for i in (0..PER_PROCESS / P).step_by(97) {
            assert_eq!(read_tag(&mut k, p + i * P), (n as u64) << 32 | i, "process {n} page {i}");
        }
    }
    check(sys, "at the end");
}

// ---------------------------------------------------------------------------------------------
// Item 4: WorkingSetSize never exceeds a hard maximum
// ---------------------------------------------------------------------------------------------

/// Issue 6 item 4. DOC:"SetProcessWorkingSetSizeEx function", QUOTA_LIMITS_HARDWS_MAX_ENABLE:
/// "The working set will not exceed the maximum working set limit". WorkingSetSize counts the
/// shared user data page (QueryWorkingSetEx reports it valid, F6), so the limit counts it too.
#[test]
fn working_set_size_stays_at_a_hard_maximum_of_256_pages() {
    let mut m = machine(64 * MIB, 16 * MIB, 64 * MIB, false);
    let pid = m.sys.create_process("hard").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    set_hard_maximum(&mut k, 20, 256);
    let pages = 600;
    let p = commit(&mut k, pages * P);
    for i in 0..pages {
        write_tag(&mut k, p + i * P, i + 11);
        let ws = working_set_pages(&mut k);
        assert!(ws <= 256, "after writing page {i}: WorkingSetSize {ws} pages over the hard maximum of 256");
    }
    assert_eq!(working_set_pages(&mut k), 256, "a full working set is exactly at its hard maximum");
    for i in 0..pages {
        assert_eq!(read_tag(&mut k, p + i * P), i + 11, "page {i}");
        assert!(working_set_pages(&mut k) <= 256, "after reading page {i}");
    }
    let c = counters(&mut k);
    assert!(c.PeakWorkingSetSize as u64 <= 256 * P, "PeakWorkingSetSize {} pages", c.PeakWorkingSetSize as u64 / P);
    check(k.system(), "at the end");
}

/// Lowering a hard maximum below the working set trims to it, shared user data page counted.
#[test]
fn lowering_a_hard_maximum_trims_working_set_size_to_it() {
    let mut m = machine(64 * MIB, 16 * MIB, 64 * MIB, true);
    let pid = m.sys.create_process("hard").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    let p = commit(&mut k, 100 * P);
    for i in 0..100 {
        write_tag(&mut k, p + i * P, i);
    }
    assert_eq!(working_set_pages(&mut k), 101);
    set_hard_maximum(&mut k, 20, 40);
    assert_eq!(working_set_pages(&mut k), 40, "trimmed to the new hard maximum");
    for i in 0..100 {
        assert_eq!(read_tag(&mut k, p + i * P), i, "page {i}");
    }
    assert_eq!(working_set_pages(&mut k), 40);
}

// ---------------------------------------------------------------------------------------------
// Item 6: VirtualLock under a hard maximum
// ---------------------------------------------------------------------------------------------

/// Issue 6 item 6, the reported case: a hard maximum of 20 pages, a full working set, and
/// `VirtualLock(p, 2 pages)` on two pages that are not resident. Faulting page 1 in must not
/// trim page 0: every locked page is valid and locked (F104: locked pages stay in memory).
#[test]
fn virtual_lock_under_a_hard_maximum_leaves_every_locked_page_resident() {
    let mut m = machine(16 * MIB, 16 * MIB, 64 * MIB, false);
    let pid = m.sys.create_process("locker").unwrap();
    let pages = 64;
    let p = {
        let mut k = Kernel32::new(&mut m.sys, pid);
        set_hard_maximum(&mut k, 20, 20);
        let p = commit(&mut k, pages * P);
        for i in 0..pages {
            write_tag(&mut k, p + i * P, 0x10C0 + i);
        }
        assert_eq!(working_set_pages(&mut k), 20, "a full working set");
        let before = ws_flags_of(&mut k, &[p, p + P]);
        assert!(before.iter().all(|f| f & WS_VALID == 0), "pages 0 and 1 were trimmed: {before:x?}");
        assert_eq!(k.VirtualLock(p, 2 * P), TRUE, "VirtualLock: error {}", k.GetLastError());
        let flags = ws_flags_of(&mut k, &[p, p + P]);
        for (i, f) in flags.iter().enumerate() {
            assert_eq!(f & (WS_VALID | WS_LOCKED), WS_VALID | WS_LOCKED, "locked page {i}: {f:#x}");
        }
        assert!(working_set_pages(&mut k) <= 20, "the hard maximum still holds");
        check(k.system(), "after the lock");
        // The rest of the working set keeps cycling through the 18 unlocked places.
        for i in 2..pages {
            assert_eq!(read_tag(&mut k, p + i * P), 0x10C0 + i, "page {i}");
        }
        let flags = ws_flags_of(&mut k, &[p, p + P]);
        assert!(flags.iter().all(|f| f & (WS_VALID | WS_LOCKED) == WS_VALID | WS_LOCKED), "{flags:x?}");
        p
    };
    // Pressure reuses every frame that is not in use: the locked pages keep theirs.
    pressure(&mut m.sys, 32 * MIB);
    let mut k = Kernel32::new(&mut m.sys, pid);
    let flags = ws_flags_of(&mut k, &[p, p + P]);
    assert!(flags.iter().all(|f| f & (WS_VALID | WS_LOCKED) == WS_VALID | WS_LOCKED), "{flags:x?}");
    for i in 0..pages {
        assert_eq!(read_tag(&mut k, p + i * P), 0x10C0 + i, "page {i}");
    }
    assert_eq!(k.VirtualUnlock(p, 2 * P), TRUE, "VirtualUnlock: error {}", k.GetLastError());
    check(k.system(), "at the end");
}

/// A lock that fails changes nothing: no page of the range is left locked (F104: every page
/// must be committed; DOC:"VirtualLock function": the lock is bounded by the minimum working
/// set less a small overhead, ERROR_WORKING_SET_QUOTA).
#[test]
fn virtual_lock_that_fails_under_a_hard_maximum_locks_nothing() {
    let mut m = machine(16 * MIB, 16 * MIB, 64 * MIB, true);
    let pid = m.sys.create_process("locker").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    set_hard_maximum(&mut k, 20, 20);
    let p = k.VirtualAlloc(0, 0x40000, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    assert_ne!(k.VirtualAlloc(p, 30 * P, MEM_COMMIT, PAGE_READWRITE), 0);
    for i in 0..30 {
        write_tag(&mut k, p + i * P, i);
    }
    // The last page of the range is only reserved.
    k.SetLastError(0);
    assert_eq!(k.VirtualLock(p + 26 * P, 5 * P), FALSE);
    assert_eq!(k.GetLastError(), ERROR_NOACCESS);
    // More than the minimum less eight pages.
    k.SetLastError(0);
    assert_eq!(k.VirtualLock(p, 13 * P), FALSE);
    assert_eq!(k.GetLastError(), ERROR_WORKING_SET_QUOTA);
    let all: Vec<u64> = (0..30).map(|i| p + i * P).collect();
    let flags = ws_flags_of(&mut k, &all);
    assert!(flags.iter().all(|f| f & WS_LOCKED == 0), "no page locked: {flags:x?}");
    assert!(working_set_pages(&mut k) <= 20);
    // Twelve pages fit, and all of them are then resident.
    assert_eq!(k.VirtualLock(p, 12 * P), TRUE, "error {}", k.GetLastError());
    let flags = ws_flags_of(&mut k, &all[..12]);
    assert!(flags.iter().all(|f| f & (WS_VALID | WS_LOCKED) == WS_VALID | WS_LOCKED), "{flags:x?}");
    for i in 0..30 {
        assert_eq!(read_tag(&mut k, p + i * P), i, "page {i}");
    }
    assert!(working_set_pages(&mut k) <= 20);
}

/// A random mix of locks, unlocks, writes and reads under a hard maximum, with another
/// process applying pressure now and then, against a byte model of every page.
#[test]
fn locks_under_a_hard_maximum_keep_every_byte() {
    const PAGES: u64 = 48;
    for seed in 0..8u64 {
        let mut m = machine(8 * MIB, 16 * MIB, 64 * MIB, false);
        let pid = m.sys.create_process("locker").unwrap();
        let hog: ProcessId = m.sys.create_process("hog").unwrap();
        let hog_base = {
            let mut k = Kernel32::new(&mut m.sys, hog);
            commit(&mut k, 8 * MIB)
        };
        let mut model = vec![0u64; PAGES as usize];
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let p = {
            let mut k = Kernel32::new(&mut m.sys, pid);
            set_hard_maximum(&mut k, 20, 20 + next(10));
            commit(&mut k, PAGES * P)
        };
        for step in 0..600u64 {
            let mut k = Kernel32::new(&mut m.sys, pid);
            match next(10) {
                0 | 1 => {
                    // Low pages, which the writes below push out of the working set.
                    let first = next(PAGES / 4);
                    let n = 1 + next(4).min(PAGES - first - 1);
                    if k.VirtualLock(p + first * P, n * P) == TRUE {
                        let range: Vec<u64> = (first..first + n).map(|i| p + i * P).collect();
                        let flags = ws_flags_of(&mut k, &range);
                        assert!(
                            flags.iter().all(|f| f & (WS_VALID | WS_LOCKED) == WS_VALID | WS_LOCKED),
                            "seed {seed} step {step}: a page of the locked range is not resident: {flags:x?}"
                        );
                    }
                }
                2 => {
                    let first = next(PAGES);
                    let n = 1 + next(4).min(PAGES - first - 1);
                    let _ = k.VirtualUnlock(p + first * P, n * P);
                }
                3..=6 => {
                    let i = if step % 2 == 0 { next(PAGES) } else { PAGES / 4 + next(PAGES - PAGES / 4) };
                    model[i as usize] = seed << 40 | step << 8 | i;
                    write_tag(&mut k, p + i * P, model[i as usize]);
                }
                7 | 8 => {
                    let i = next(PAGES);
                    assert_eq!(read_tag(&mut k, p + i * P), model[i as usize], "seed {seed} step {step} page {i}");
                }
                _ if next(8) != 0 => {
                    let i = next(PAGES);
                    assert_eq!(read_tag(&mut k, p + i * P), model[i as usize], "seed {seed} step {step} page {i}");
                }
                _ => {
                    let mut h = Kernel32::new(&mut m.sys, hog);
                    for i in 0..8 * MIB / P {
                        write_tag(&mut h, hog_base + i * P, i);
                    }
                }
            }
            if step % 10 == 0 {
                check(&m.sys, "during the mix");
            }
        }
        check(&m.sys, "after the mix");
        let mut k = Kernel32::new(&mut m.sys, pid);
        for i in 0..PAGES {
            assert_eq!(read_tag(&mut k, p + i * P), model[i as usize], "seed {seed} page {i}");
        }
        let all: Vec<u64> = (0..PAGES).map(|i| p + i * P).collect();
        for (i, f) in ws_flags_of(&mut k, &all).iter().enumerate() {
            assert!(f & WS_LOCKED == 0 || f & WS_VALID != 0, "seed {seed}: page {i} locked but not valid: {f:#x}");
        }
    }
}

/// F194: a maximum that would leave the locked pages (and the shared user data page) no fluid
/// margin is refused with 87 and changes nothing, so a hard maximum never sits below what
/// cannot be trimmed. Found by the soak: 27 locked pages, then a hard maximum of 28.
#[test]
fn a_maximum_at_the_locked_pages_is_refused_f194() {
    let mut m = machine(64 * MIB, 16 * MIB, 64 * MIB, true);
    let pid = m.sys.create_process("locker").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 200 * P, 400 * P, 0), TRUE);
    let p = commit(&mut k, 64 * P);
    assert_eq!(k.VirtualLock(p, 27 * P), TRUE, "error {}", k.GetLastError());
    for i in 0..64 {
        write_tag(&mut k, p + i * P, i);
    }
    let before = working_set_pages(&mut k);
    // 27 locked + the shared user data page + 8 fluid pages = 36: a maximum of 36 or less
    // cannot be kept.
    for max in [28, 36] {
        k.SetLastError(0);
        assert_eq!(k.SetProcessWorkingSetSizeEx(h, 20 * P, max * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE), FALSE);
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    }
    let (mut min, mut max, mut flags) = (0, 0, 0);
    assert_eq!(k.GetProcessWorkingSetSizeEx(h, &mut min, &mut max, &mut flags), TRUE);
    assert_eq!(
        (min, max, flags),
        (200 * P, 400 * P, QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE)
    );
    assert_eq!(working_set_pages(&mut k), before, "a refused call trims nothing");
    // One more page of room is enough: the working set comes down to the maximum and stays.
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 20 * P, 37 * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE), TRUE);
    assert!(working_set_pages(&mut k) <= 37);
    for i in 0..64 {
        assert_eq!(read_tag(&mut k, p + i * P), i);
        assert!(working_set_pages(&mut k) <= 37);
    }
    check(k.system(), "after the refused maximum");
}

/// F195: with both limits hard, a maximum within 8 pages of the minimum is refused with 87 and
/// changes nothing; 9 pages apart is accepted. One hard limit alone may sit at the other.
#[test]
fn both_hard_limits_need_a_fluid_margin_f195() {
    let mut m = machine(64 * MIB, 16 * MIB, 64 * MIB, true);
    let pid = m.sys.create_process("limits").unwrap();
    let mut k = Kernel32::new(&mut m.sys, pid);
    let h = k.GetCurrentProcess();
    let both = QUOTA_LIMITS_HARDWS_MIN_ENABLE | QUOTA_LIMITS_HARDWS_MAX_ENABLE;
    for max in [100, 104, 108] {
        k.SetLastError(0);
        assert_eq!(k.SetProcessWorkingSetSizeEx(h, 100 * P, max * P, both), FALSE, "max {max}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    }
    let (mut min, mut max, mut flags) = (0, 0, 0);
    assert_eq!(k.GetProcessWorkingSetSizeEx(h, &mut min, &mut max, &mut flags), TRUE);
    assert_eq!((min, max), (50 * P, 345 * P), "the defaults stay");
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 100 * P, 109 * P, both), TRUE);
    assert_eq!(
        k.SetProcessWorkingSetSizeEx(
            h,
            100 * P,
            100 * P,
            QUOTA_LIMITS_HARDWS_MAX_ENABLE | QUOTA_LIMITS_HARDWS_MIN_DISABLE
        ),
        TRUE
    );
    check(k.system(), "after the limits");
}
