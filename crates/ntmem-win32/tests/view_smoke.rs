//! Smoke scenarios for views: the basic paths, end to end, through Kernel32.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used)]

use ntmem::{Config, System};
use ntmem_win32::*;

#[test]
fn pagefile_view_shared_between_two_processes_f160() {
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let a = sys.create_process("a").unwrap();
    let b = sys.create_process("b").unwrap();
    let (va, vb);
    {
        let mut k = Kernel32::new(&mut sys, a);
        let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x10_0000, Some("smoke"));
        assert!(!h.is_null());
        va = k.MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
        assert_ne!(va, 0, "{}", k.GetLastError());
        let mut info = MEMORY_BASIC_INFORMATION64::default();
        assert_ne!(k.VirtualQuery(va, &mut info), 0);
        assert_eq!(
            (info.RegionSize, info.State, info.Type, info.Protect),
            (0x10_0000, MEM_COMMIT, MEM_MAPPED, PAGE_READWRITE)
        );
        k.write(va + 8, &0x1a2b_3c4du32.to_le_bytes()).unwrap();
    }
    {
        let mut k = Kernel32::new(&mut sys, b);
        let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x10_0000, Some("smoke"));
        assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
        vb = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
        assert_ne!(vb, 0);
        let mut buf = [0u8; 4];
        k.read(vb + 8, &mut buf).unwrap();
        assert_eq!(u32::from_le_bytes(buf), 0x1a2b_3c4d);
        assert!(k.write(vb, b"x").is_err(), "a read view cannot be written");
    }
    let mut k = Kernel32::new(&mut sys, a);
    assert_eq!(k.UnmapViewOfFile(va + 100), TRUE);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(va, &mut info);
    assert_eq!(info.State, MEM_FREE);
    let _ = vb;
}

#[test]
fn file_view_writes_reach_the_file_and_copy_on_write_does_not_f158() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, vec![7u8; 0x3000]).unwrap();
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let a = sys.create_process("a").unwrap();
    let mut k = Kernel32::new(&mut sys, a);
    let f = k.CreateFileW(
        path.to_str().unwrap(),
        GENERIC_READ | GENERIC_WRITE,
        FILE_SHARE_READ | FILE_SHARE_WRITE,
        OPEN_EXISTING,
        0,
    );
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let v = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    let c = k.MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0);
    assert!(v != 0 && c != 0 && v != c);
    k.write(v + 0x1000, b"hello").unwrap();
    let mut buf = [0u8; 5];
    k.read(c + 0x1000, &mut buf).unwrap();
    assert_eq!(&buf, b"hello", "views of one section agree");
    k.write(c + 0x2000, b"private").unwrap();
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(c + 0x2000, &mut info);
    assert_eq!((info.Protect, info.RegionSize, info.Type), (PAGE_READWRITE, 0x1000, MEM_MAPPED));
    k.VirtualQuery(c, &mut info);
    assert_eq!((info.Protect, info.RegionSize), (PAGE_WRITECOPY, 0x2000));
    assert_eq!(k.FlushViewOfFile(v, 0), TRUE);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[0x1000..0x1005], b"hello");
    assert_eq!(on_disk[0x2000], 7, "the copy never reaches the file");
    let mut rbuf = [0u8; 5];
    k.read(v + 0x2000, &mut rbuf).unwrap();
    assert_eq!(rbuf, [7; 5], "nor the other view");
    k.write(v + 0x10, b"late").unwrap();
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(k.UnmapViewOfFile(c), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
    assert_eq!(&std::fs::read(&path).unwrap()[0x10..0x14], b"late", "the last unmap and close write back");
}

/// A lock on a shared page belongs to the process that took it: the other process neither
/// holds nor counts it, and can unmap its own view freely (F104 for views).
#[test]
fn a_lock_on_a_shared_page_is_the_locking_process_own() {
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let a = sys.create_process("a").unwrap();
    let b = sys.create_process("b").unwrap();
    let h = {
        let mut k = Kernel32::new(&mut sys, a);
        k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x4000, Some("locked"))
    };
    let va = Kernel32::new(&mut sys, a).MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    let vb = {
        let mut k = Kernel32::new(&mut sys, b);
        let hb = k.OpenFileMappingW(FILE_MAP_WRITE, FALSE, "locked");
        k.MapViewOfFile(hb, FILE_MAP_WRITE, 0, 0, 0)
    };
    Kernel32::new(&mut sys, b).write(vb, b"b").unwrap();
    let mut k = Kernel32::new(&mut sys, a);
    assert_eq!(k.VirtualLock(va, 0x2000), TRUE, "{}", k.GetLastError());
    assert_eq!(k.VirtualUnlock(va, 0x1000), TRUE);
    let mut k = Kernel32::new(&mut sys, b);
    assert_eq!(k.VirtualUnlock(vb, 0x1000), FALSE, "b never locked it");
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
    assert_eq!(k.UnmapViewOfFile(vb), TRUE);
    let mut k = Kernel32::new(&mut sys, a);
    let mut buf = [0u8; 1];
    k.read(va, &mut buf).unwrap();
    assert_eq!(&buf, b"b");
    // Process a ends with its view mapped and a page locked: the view goes with it.
    sys.terminate_process(a, 0).unwrap();
    ntmem::invariants::check(&sys).unwrap();
    assert_eq!(sys.segments().iter().count(), 1, "b's handle keeps the section");
    sys.terminate_process(b, 0).unwrap();
    ntmem::invariants::check(&sys).unwrap();
    assert_eq!(sys.segments().iter().count(), 0, "no view and no handle keep the section");
}

/// The first write through any view marks the shared frame modified, so a flush through
/// another view — of another section of the file, in another process — writes it (F161, F167;
/// found by the soak).
#[test]
fn a_flush_through_one_view_writes_what_another_view_first_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, vec![0u8; 0x20000]).unwrap();
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let a = sys.create_process("a").unwrap();
    let b = sys.create_process("b").unwrap();
    let open = |k: &mut Kernel32| {
        k.CreateFileW(
            path.to_str().unwrap(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            OPEN_EXISTING,
            0,
        )
    };
    let mut k = Kernel32::new(&mut sys, a);
    let f = open(&mut k);
    let small = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0x18000, None);
    let va = k.MapViewOfFile(small, FILE_MAP_WRITE, 0, 0, 0);
    k.write(va + 0x10000, b"through a").unwrap();
    let mut k = Kernel32::new(&mut sys, b);
    let f = open(&mut k);
    let whole = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let vb = k.MapViewOfFile(whole, FILE_MAP_WRITE, 0, 0, 0);
    assert_eq!(k.FlushViewOfFile(vb + 0x10000, 0), TRUE);
    assert_eq!(&std::fs::read(&path).unwrap()[0x10000..0x10009], b"through a");
}
