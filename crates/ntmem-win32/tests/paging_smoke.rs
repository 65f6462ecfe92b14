//! Paging end to end: a 16 MiB machine writes four times its RAM and reads every byte back.
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
use ntmem::{Config, System};
use ntmem_win32::*;

#[test]
fn four_times_ram_round_trips_through_the_page_file() {
    let path = std::env::temp_dir().join(format!("ntmem-smoke-{}.sys", std::process::id()));
    let cfg = Config::default().with_ram_bytes(16 << 20).with_page_file(&path, 8 << 20, 128 << 20);
    let mut sys = System::new(cfg).expect("boots");
    let pid = sys.create_process("big").expect("process");
    let size = 64u64 << 20;
    // The full invariant check after every one of 32k accesses would dominate the run: check
    // every 1024 accesses and at the end instead.
    let mut k = Kernel32::new(&mut sys, pid);
    let p = k.VirtualAlloc(0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "commit beyond RAM grows the page file: error {}", k.GetLastError());
    for page in 0..size / 4096 {
        k.write(p + page * 4096, &page.to_le_bytes()).expect("write");
        if page % 1024 == 0 {
            k.system().check_invariants().expect("invariants hold");
        }
    }
    for page in 0..size / 4096 {
        let mut b = [0u8; 8];
        k.read(p + page * 4096, &mut b).expect("read");
        assert_eq!(u64::from_le_bytes(b), page, "page {page}");
        if page % 1024 == 0 {
            k.system().check_invariants().expect("invariants hold");
        }
    }
    k.system().check_invariants().expect("invariants hold");
    let s = k.system().stats();
    assert!(s.hard_faults > 0 && s.pages_written > 0, "{s:?}");
    assert!(s.pages_read > s.page_read_ios, "clustered reads: {s:?}");
}
