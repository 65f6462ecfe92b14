//! Both engines, one behaviour: the scenarios of `tests/c/differential.c` (allocation,
//! protection, guard pages, write watch, sections and copy-on-write, release) run through
//! `Kernel32` on the simulated engine here, and through the C ABI on the native engine as a
//! compiled C program; the transcripts (VirtualQuery results, bytes, write watch, page fault
//! counts) and the faults by kind must be the same.

use ntmem::{Config, System};
use ntmem_win32::*;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn q(out: &mut String, k: &mut Kernel32<'_>, name: &str, p: u64) {
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    let n = k.VirtualQuery(p, &mut m);
    let _ = writeln!(
        out,
        "Q {name} n={n} base={:x} ab={:x} ap={:x} size={:x} state={:x} prot={:x} type={:x}",
        m.BaseAddress, m.AllocationBase, m.AllocationProtect, m.RegionSize, m.State, m.Protect, m.Type
    );
}

fn faults(k: &mut Kernel32<'_>) -> u32 {
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    k.GetProcessMemoryInfo(k.GetCurrentProcess(), &mut c);
    c.PageFaultCount
}

fn read(k: &mut Kernel32<'_>, guards: &mut u32, at: u64) -> u8 {
    let mut b = [0u8; 1];
    loop {
        match k.read(at, &mut b) {
            Ok(()) => return b[0],
            Err(e) if e.code == STATUS_GUARD_PAGE_VIOLATION => *guards += 1,
            Err(e) => panic!("{e}"),
        }
    }
}

fn write(k: &mut Kernel32<'_>, at: u64, v: u8) {
    k.write(at, &[v]).expect("writable");
}

/// The transcript of the simulated engine, and its faults by kind.
fn simulated() -> (String, ntmem::address_space::FaultCounts) {
    let mut sys = System::new(Config::default().with_ram_bytes(256 << 20).with_invariant_checks()).expect("a machine");
    let pid = sys.create_process("differential").expect("a process");
    let mut k = Kernel32::new(&mut sys, pid);
    let mut out = String::new();
    let mut guards = 0;
    let f0 = faults(&mut k);
    let p = k.VirtualAlloc(0, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    q(&mut out, &mut k, "alloc", p);
    write(&mut k, p, 1);
    write(&mut k, p + 0x2000, 2);
    let b =
        [read(&mut k, &mut guards, p), read(&mut k, &mut guards, p + 0x1000), read(&mut k, &mut guards, p + 0x2000)];
    let fa = faults(&mut k) - f0;
    let _ = writeln!(out, "B alloc {} {} {} faults={fa}", b[0], b[1], b[2]);
    let mut old = 0;
    let ok = k.VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, Some(&mut old));
    let _ = writeln!(out, "P protect ok={ok} old={old:x}");
    q(&mut out, &mut k, "protected", p + 0x1000);
    q(&mut out, &mut k, "after", p + 0x2000);
    let g = k.VirtualAlloc(0, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    q(&mut out, &mut k, "guard", g);
    let _ = read(&mut k, &mut guards, g);
    let _ = writeln!(out, "G guards={guards}");
    q(&mut out, &mut k, "guard-fired", g);
    q(&mut out, &mut k, "guard-next", g + 0x1000);
    let w = k.VirtualAlloc(0, 0x4000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    write(&mut k, w + 0x1000, 1);
    write(&mut k, w + 0x3000, 1);
    let mut addrs = [0u64; 8];
    let mut count = 8usize;
    let mut gran = 0u32;
    let r = k.GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x4000, &mut addrs, &mut count, &mut gran);
    let _ = write!(out, "W r={r} count={count} gran={gran}");
    for a in &addrs[..count] {
        let _ = write!(out, " {:x}", a - w);
    }
    out.push('\n');
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x2000, None);
    let v1 = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    let v2 = k.MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0);
    q(&mut out, &mut k, "view", v1);
    q(&mut out, &mut k, "copy-view", v2);
    write(&mut k, v1, b'A');
    let _ = writeln!(out, "S shared {}", read(&mut k, &mut guards, v2) as char);
    write(&mut k, v2, b'B');
    let (c1, c2) = (read(&mut k, &mut guards, v1), read(&mut k, &mut guards, v2));
    let _ = writeln!(out, "S copied {} {}", c1 as char, c2 as char);
    q(&mut out, &mut k, "copied", v2);
    q(&mut out, &mut k, "copy-rest", v2 + 0x1000);
    k.UnmapViewOfFile(v2);
    k.UnmapViewOfFile(v1);
    k.CloseHandle(h);
    k.VirtualFree(p, 0, MEM_RELEASE);
    q(&mut out, &mut k, "released", p);
    let _ = writeln!(out, "F faults={}", faults(&mut k) - f0);
    let counts = sys.vm(pid).expect("running").counters().faults;
    (out, counts)
}

fn field(json: &str, name: &str) -> u64 {
    let at = json.find(&format!("\"{name}\": ")).unwrap_or_else(|| panic!("{name} in {json}")) + name.len() + 4;
    json[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a number")
}

#[test]
fn the_native_engine_behaves_as_the_simulated_one() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let exe = dir.path().join("differential");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/differential.c");
    if let Err(e) = ntmem_native::compile::compile(&source, &exe) {
        panic!("differential.c did not compile (a C compiler is needed: .ci/run installs gcc):\n{e}");
    }
    let report = dir.path().join("report.json");
    let o = Command::new(&exe).env("NTMEM_REPORT", &report).output().expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let native = String::from_utf8_lossy(&o.stdout).into_owned();
    let (simulated, counts) = simulated();
    assert_eq!(native, simulated, "native transcript (left) against the simulated one (right)");
    let json = std::fs::read_to_string(&report).expect("figures");
    let by_kind = [
        ("demand_zero", counts.demand_zero),
        ("soft", counts.soft),
        ("hard", counts.hard),
        ("copy_on_write", counts.copy_on_write),
        ("prototype", counts.prototype),
        ("guard", counts.guard),
        ("access_violation", counts.access_violation),
    ];
    for (name, simulated) in by_kind {
        assert_eq!(field(&json, name), simulated, "{name} faults, native against simulated");
    }
}

/// The pressure scenario of `tests/c/pressure.c` on the simulated engine.
fn simulated_pressure(page_file: &Path) -> (String, ntmem::address_space::FaultCounts) {
    const PAGES: u64 = 8192;
    let config = Config::default().with_ram_bytes(16 << 20).with_page_file(page_file, 64 << 20, 64 << 20);
    let mut sys = System::new(config).expect("a machine");
    let pid = sys.create_process("pressure").expect("a process");
    let mut k = Kernel32::new(&mut sys, pid);
    let f0 = faults(&mut k);
    let p = k.VirtualAlloc(0, PAGES * 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(p, 0, "{}", k.GetLastError());
    for i in 0..PAGES {
        let v = u32::try_from(i * 7 + 1).expect("small");
        k.write(p + i * 4096, &v.to_le_bytes()).expect("committed");
    }
    let (mut sum, mut wrong) = (0u64, 0);
    for i in 0..PAGES {
        let mut b = [0u8; 4];
        k.read(p + i * 4096, &mut b).expect("committed");
        let v = u64::from(u32::from_le_bytes(b));
        sum += v;
        wrong += i32::from(v != i * 7 + 1);
    }
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    k.GetProcessMemoryInfo(k.GetCurrentProcess(), &mut c);
    let out = format!(
        "sum={sum} wrong={wrong} faults={} ws={} peak={}\n",
        c.PageFaultCount - f0,
        c.WorkingSetSize,
        c.PeakWorkingSetSize
    );
    let counts = sys.vm(pid).expect("running").counters().faults;
    (out, counts)
}

#[test]
fn paging_under_pressure_is_the_same_on_both_engines() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let exe = dir.path().join("pressure");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/pressure.c");
    if let Err(e) = ntmem_native::compile::compile(&source, &exe) {
        panic!("pressure.c did not compile:\n{e}");
    }
    let report = dir.path().join("report.json");
    let o = Command::new(&exe)
        .env("NTMEM_REPORT", &report)
        .env("NTMEM_RAM", "16M")
        .env("NTMEM_PAGE_FILE", "64M")
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let native = String::from_utf8_lossy(&o.stdout).into_owned();
    let (simulated, counts) = simulated_pressure(&dir.path().join("pagefile.sys"));
    assert_eq!(native, simulated, "native (left) against simulated (right)");
    assert!(counts.hard > 0, "the scenario pages: {counts:?}");
    let json = std::fs::read_to_string(&report).expect("figures");
    for (name, simulated) in [("demand_zero", counts.demand_zero), ("soft", counts.soft), ("hard", counts.hard)] {
        assert_eq!(field(&json, name), simulated, "{name} faults, native against simulated");
    }
}
