//! The seed's two examples, end to end through Kernel32 (F12, F13, F20, F53, F91).
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
use ntmem::{Config, System};
use ntmem_win32::*;

#[test]
fn commit_write_read_decommit_round_trip() {
    let mut sys = System::new(Config::default().with_invariant_checks()).expect("boots");
    let pid = sys.create_process("seed").expect("process");
    let mut k = Kernel32::new(&mut sys, pid);
    let p = k.VirtualAlloc(0, 8, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    assert_eq!(p % 0x10000, 0, "F9");
    assert_eq!(k.MmGetPhysicalAddress(p), 0, "nothing resident before the first touch");
    let mut buf = [0xAAu8; 8];
    k.read(p, &mut buf).expect("committed memory reads");
    assert_eq!(buf, [0; 8], "F13: new memory reads zero");
    k.write(p, b"1337\0\0\0\0").expect("writable");
    k.read(p, &mut buf).expect("read back");
    assert_eq!(&buf[..4], b"1337");
    assert_ne!(k.MmGetPhysicalAddress(p), 0);
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQuery(p, &mut mbi), 48);
    assert_eq!((mbi.State, mbi.Protect, mbi.RegionSize, mbi.Type), (MEM_COMMIT, PAGE_READWRITE, 0x1000, MEM_PRIVATE));
    assert_eq!(k.VirtualFree(p, 8, MEM_DECOMMIT), TRUE);
    assert_eq!(k.VirtualQuery(p, &mut mbi), 48);
    assert_eq!((mbi.State, mbi.Protect, mbi.RegionSize), (MEM_RESERVE, 0, 0x1000), "F10: the reservation is one page");
    let e = k.read(p, &mut buf).expect_err("F69: decommitted memory faults");
    assert_eq!((e.code, e.address, e.information), (STATUS_ACCESS_VIOLATION, p, [0, p]));
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE);
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
}
