//! The soak's image sections, driven by hand: the calls below go through the same checks as
//! the random ones (where each view lands and with what status, each page's protection, every
//! byte at the end), so this passes only if ntmem maps, relocates and shares the soak's PE
//! image as Windows does (F128–F130, F162, F163, F206).

use ntmem_soak::Route::*;
use ntmem_soak::Target::*;
use ntmem_soak::Via::*;
use ntmem_soak::{replay, Call, Options, Source};

/// Where the soak's DLL would be (`images.rs`): headers, `.text` at 0x1000 (two pages, an
/// address straddling 0x2000), `.rdata` at 0x3000, `.data` at 0x4000 (two pages),
/// `.shared` at 0x6000, `.reloc` at 0x7000.
const PREFERRED: u64 = 0x6_0000_0000;
const SEC_IMAGE: u32 = 0x0100_0000;
const PAGE_READONLY: u32 = 0x02;
const PAGE_READWRITE: u32 = 0x04;
const PAGE_EXECUTE_READ: u32 = 0x20;
const FILE_MAP_READ: u32 = 0x4;
const FILE_MAP_WRITE: u32 = 0x2;
const FILE_MAP_ALL_ACCESS: u32 = 0xF001F;

fn create(proc: u8, source: Source, protect: u32, size: u64, route: ntmem_soak::Route) -> Call {
    Call::CreateSection { proc, source, file_write: false, protect, size, name: Some(0), route }
}

fn map(proc: u8, handle: u8, access: u32, base: u64, zero_bits: Option<u64>) -> Call {
    Call::MapView { proc, handle, target: Current, access, offset: 0, size: 0, base, zero_bits }
}

#[test]
fn image_views_land_relocate_share_and_copy_as_windows_does() {
    let calls = [
        // Not images: refused, whatever the name (F129, F130).
        create(0, Source::PageFile, PAGE_READONLY | SEC_IMAGE, 0x1000, CreateFileMapping),
        create(0, Source::File(0), PAGE_READONLY | SEC_IMAGE, 0, NtCreateSection),
        // Larger than the image, or writable on a file opened without write: refused (F206,
        // F128).
        create(0, Source::Image, PAGE_EXECUTE_READ | SEC_IMAGE, 0x9000, CreateFileMapping),
        create(0, Source::Image, PAGE_READWRITE | SEC_IMAGE, 0, CreateFileMapping),
        // A size up to the image's is kept, and the view still maps it whole (F206).
        create(0, Source::Image, PAGE_EXECUTE_READ | SEC_IMAGE, 42, CreateFileMapping),
        // At the preferred base, then away from it: relocated, the straddling address too.
        map(0, 0, FILE_MAP_READ, 0, None),
        map(0, 0, FILE_MAP_READ, 0, None),
        map(0, 0, FILE_MAP_READ, 0x3000_0000, None),
        // Through NT in another process: the name opens the section; the preferred base is
        // free there (STATUS_SUCCESS), then taken (STATUS_IMAGE_NOT_AT_BASE).
        create(1, Source::Image, PAGE_READONLY | SEC_IMAGE, 0, NtCreateSectionOpenIf),
        map(1, 0, FILE_MAP_READ, 0, Some(0)),
        map(1, 0, FILE_MAP_READ, 0x2000_0000, Some(0)),
        // Each stored address moved with its view: the one across 0x2000, in `.rdata`, in
        // `.data`.
        Call::Read { proc: 0, addr: 0x3000_0000 + 0x1FF8, len: 16 },
        Call::Read { proc: 0, addr: 0x3000_0000 + 0x3100, len: 8 },
        Call::Read { proc: 1, addr: 0x2000_0000 + 0x4008, len: 8 },
        // Without OBJ_OPENIF the name collides.
        create(1, Source::Image, PAGE_READONLY | SEC_IMAGE, 0, NtCreateSection),
        // The access asked is ignored (F162); a Win32 handle of a read-only image has no
        // right to map for writing, an NT one (all access) has.
        map(0, 0, FILE_MAP_WRITE, 0, None),
        map(1, 0, FILE_MAP_ALL_ACCESS, 0, None),
        // The shared page is one page for every view; `.data` is each view's own once written.
        Call::Write { proc: 0, addr: PREFERRED + 0x6010, len: 16, seed: 1 },
        Call::Write { proc: 1, addr: 0x2000_0000 + 0x4000, len: 64, seed: 2 },
        Call::Read { proc: 0, addr: PREFERRED + 0x4000, len: 64 },
        // Code is not writable; made so, it becomes copy-on-write and the write stays here.
        Call::Write { proc: 0, addr: PREFERRED + 0x1100, len: 8, seed: 3 },
        Call::Protect { proc: 0, via: Kernel32, addr: PREFERRED + 0x1000, size: 0x2000, protect: PAGE_READWRITE },
        Call::Write { proc: 0, addr: PREFERRED + 0x1FF8, len: 16, seed: 4 },
        Call::WriteProcess { proc: 1, target: Slot(0), addr: PREFERRED + 0x3000, len: 32, seed: 5 },
        // Views go with their process; the section with its last handle and view, and the
        // shared page is the file's again in the next one.
        Call::UnmapView { proc: 0, target: Current, addr: PREFERRED + 0x5000 },
        Call::TerminateProcess { proc: 1, target: Current },
        Call::CloseSection { proc: 0, handle: 0 },
        Call::UnmapView { proc: 0, target: Current, addr: 0x3000_0000 + 0x2000 },
        // The view the system placed: the lowest free 64 KiB boundary of a new process.
        Call::UnmapView { proc: 0, target: Current, addr: 0x10000 },
        Call::Query { proc: 0, via: Kernel32, addr: PREFERRED },
        create(0, Source::Image, PAGE_READONLY | SEC_IMAGE, 0, CreateFileMapping),
        map(0, 0, FILE_MAP_READ, 0, None),
        Call::Read { proc: 0, addr: PREFERRED + 0x6000, len: 4096 },
    ];
    if let Err(f) = replay(&Options::default(), &calls) {
        panic!("{f}");
    }
}

/// Found by the soak (seed 285), in the model: the image's shared page, made execute-read by
/// `VirtualProtect` in one process and patched there by `WriteProcessMemory`, which makes it
/// writable for the copy (F176): on an image that is copy-on-write (F162), so the patch is
/// that process's own and the other process's view still reads the file's bytes.
#[test]
fn a_shared_image_page_patched_by_write_process_memory_is_copied() {
    let calls = [
        create(0, Source::Image, PAGE_EXECUTE_READ | SEC_IMAGE, 0, NtCreateSection),
        map(0, 0, FILE_MAP_READ, 0, None),
        Call::MapView {
            proc: 0,
            handle: 0,
            target: Slot(1),
            access: FILE_MAP_READ,
            offset: 0,
            size: 0,
            base: 0,
            zero_bits: None,
        },
        Call::Protect { proc: 1, via: Ex(Current), addr: PREFERRED + 0x5FFE, size: 0x1000, protect: PAGE_EXECUTE_READ },
        Call::WriteProcess {
            proc: 1,
            target: Current,
            addr: PREFERRED + 0x6FFE,
            len: 277,
            seed: 0xdc7b_e25a_c1a0_862e,
        },
        Call::Read { proc: 0, addr: PREFERRED + 0x6000, len: 4096 },
        Call::Read { proc: 1, addr: PREFERRED + 0x6000, len: 4096 },
    ];
    if let Err(f) = replay(&Options::default(), &calls) {
        panic!("{f}");
    }
}
