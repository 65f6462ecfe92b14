//! Image sections end to end through Kernel32 and Ntdll: a PE32+ DLL written by `ntmem::pe`,
//! mapped by several processes (F162, F163), its frames shared.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used)]

use ntmem::pe::{PeBuilder, PeSection};
use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const BASE: u64 = 0x1_8000_0000;

fn dll(dir: &tempfile::TempDir) -> (std::path::PathBuf, ntmem::pe::BuiltPe) {
    let built = PeBuilder::dll(BASE)
        .text_size(252 * 0x1000)
        .pointer(PeSection::Data, 0x10, PeSection::Rdata, 0x20)
        .build()
        .unwrap();
    let path = dir.path().join("test.dll");
    std::fs::write(&path, built.bytes()).unwrap();
    (path, built)
}

fn map(sys: &mut System, pid: ProcessId, path: &std::path::Path) -> u64 {
    let mut k = Kernel32::new(sys, pid);
    let f = k.CreateFileW(path.to_str().unwrap(), GENERIC_READ | GENERIC_EXECUTE, FILE_SHARE_READ, OPEN_EXISTING, 0);
    assert_ne!(f, INVALID_HANDLE_VALUE);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    assert!(!h.is_null(), "CreateFileMappingW(SEC_IMAGE): {}", k.GetLastError());
    let v = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert_ne!(v, 0, "MapViewOfFile: {}", k.GetLastError());
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
    v
}

#[test]
fn eight_processes_share_one_image_s_frames_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir);
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pids: Vec<ProcessId> = (0..8).map(|i| sys.create_process(&format!("p{i}")).unwrap()).collect();
    let mut size = 0;
    for &pid in &pids {
        let v = map(&mut sys, pid, &path);
        assert_eq!(v, BASE, "free at its preferred base");
        let mut k = Kernel32::new(&mut sys, pid);
        let mut info = MEMORY_BASIC_INFORMATION64::default();
        k.VirtualQuery(v, &mut info);
        assert_eq!(
            (info.Type, info.AllocationProtect, info.Protect, info.RegionSize),
            (MEM_IMAGE, PAGE_EXECUTE_WRITECOPY, PAGE_READONLY, 0x1000)
        );
        let text = v + u64::from(built.rva(PeSection::Text).unwrap());
        k.VirtualQuery(text, &mut info);
        assert_eq!(info.Protect, PAGE_EXECUTE_READ);
        let data = v + u64::from(built.rva(PeSection::Data).unwrap());
        k.VirtualQuery(data, &mut info);
        assert_eq!(info.Protect, PAGE_WRITECOPY);
        // Touch every page of the image.
        size = 0;
        loop {
            let mut q = MEMORY_BASIC_INFORMATION64::default();
            if k.VirtualQuery(v + size, &mut q) == 0 || q.AllocationBase != v {
                break;
            }
            if q.State == MEM_COMMIT {
                for p in (0..q.RegionSize).step_by(0x1000) {
                    let mut b = [0u8; 1];
                    k.read(v + size + p, &mut b).unwrap();
                }
            }
            size += q.RegionSize;
        }
    }
    let image_pages = size / 0x1000;
    assert!(image_pages >= 256, "a 1 MiB image: {image_pages} pages");
    // Every frame of the image is held by its one prototype PTE, however many map it.
    let (_, segment) = sys.segments().iter().next().unwrap();
    let frames =
        (0..segment.pages()).filter(|&p| segment.prototype(p).and_then(|p| p.frame()).is_some()).count() as u64;
    let shares: u16 = (0..segment.pages())
        .filter_map(|p| segment.prototype(p).and_then(|p| p.frame()))
        .map(|f| sys.phys().pfn(f).share_count())
        .max()
        .unwrap();
    assert_eq!(shares, 8, "each frame mapped by the eight processes");
    assert!(frames <= image_pages, "{frames} frames for {image_pages} pages in 8 processes: counted once");
    // A write to the data page makes a private copy for that process alone.
    let data = BASE + u64::from(built.rva(PeSection::Data).unwrap());
    let mut k = Kernel32::new(&mut sys, pids[0]);
    k.write(data, b"mine").unwrap();
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(data, &mut info);
    assert_eq!((info.Protect, info.RegionSize), (PAGE_READWRITE, 0x1000));
    let mut b = [0u8; 4];
    Kernel32::new(&mut sys, pids[1]).read(data, &mut b).unwrap();
    assert_ne!(&b, b"mine");
    assert_eq!(sys.stats().copy_on_write_faults, 1);
}

#[test]
fn an_image_away_from_its_base_is_relocated_f163() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir);
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pid = sys.create_process("p").unwrap();
    // Something else sits at the preferred base.
    let blocker = Kernel32::new(&mut sys, pid).VirtualAlloc(BASE, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(blocker, BASE);
    let mut k = Kernel32::new(&mut sys, pid);
    let f = k.CreateFileW(path.to_str().unwrap(), GENERIC_READ | GENERIC_EXECUTE, FILE_SHARE_READ, OPEN_EXISTING, 0);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    let mut nt = Ntdll::new(&mut sys, pid);
    let (mut base, mut size) = (0u64, 0u64);
    let s =
        nt.NtMapViewOfSection(h, NtCurrentProcess(), &mut base, 0, 0, None, &mut size, VIEW_SHARE, 0, PAGE_READONLY);
    assert_eq!(s, STATUS_IMAGE_NOT_AT_BASE);
    assert_ne!(base, BASE);
    let (at, target) = built.pointers()[0];
    let mut b = [0u8; 8];
    Kernel32::new(&mut sys, pid).read(base + u64::from(at), &mut b).unwrap();
    assert_eq!(u64::from_le_bytes(b), target - BASE + base, "the pointer follows the image");
}

/// A relocated page keeps its image protection: `.data` stays `PAGE_WRITECOPY` until written,
/// and a write to it — resident or trimmed — turns it `PAGE_READWRITE` without a second copy
/// (F158, F163).
#[test]
fn a_relocated_data_page_stays_copy_on_write_until_written_f158_f163() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir);
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pid = sys.create_process("p").unwrap();
    assert_eq!(Kernel32::new(&mut sys, pid).VirtualAlloc(BASE, 0x1000, MEM_RESERVE, PAGE_NOACCESS), BASE);
    let v = map(&mut sys, pid, &path);
    assert_ne!(v, BASE);
    let data = v + u64::from(built.rva(PeSection::Data).unwrap());
    let mut k = Kernel32::new(&mut sys, pid);
    let mut b = [0u8; 8];
    k.read(data + 0x10, &mut b).unwrap();
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(data, &mut info);
    assert_eq!(info.Protect, PAGE_WRITECOPY, "relocated, not yet written");
    assert_eq!(k.EmptyWorkingSet(k.GetCurrentProcess()), TRUE);
    k.write(data, b"w").unwrap();
    k.VirtualQuery(data, &mut info);
    assert_eq!((info.Protect, info.RegionSize), (PAGE_READWRITE, 0x1000));
    let mut again = [0u8; 8];
    k.read(data + 0x10, &mut again).unwrap();
    assert_eq!(again, b, "the relocated pointer survived the trim and the write");
    assert_eq!(k.system().stats().copy_on_write_faults, 1);
}
