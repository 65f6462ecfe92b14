//! [`Ntdll`]: the NT system services as a process calls them, with NTSTATUS results and the
//! in/out base address and size NT reports (F57–F64 are stated at this level).

use crate::nt;
use ntmem::{ProcessId, System};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS};
use windows_sys::Win32::System::Memory::MEMORY_BASIC_INFORMATION64;

/// `ntdll.dll` as seen from one process.
pub struct Ntdll<'a> {
    sys: &'a mut System,
    pid: ProcessId,
}

#[allow(non_snake_case)]
impl<'a> Ntdll<'a> {
    /// The services as process `pid` calls them.
    pub fn new(sys: &'a mut System, pid: ProcessId) -> Ntdll<'a> {
        Ntdll { sys, pid }
    }

    fn done(&mut self, status: NTSTATUS) -> NTSTATUS {
        crate::check_invariants(self.sys);
        status
    }

    /// Reserves and/or commits; `base` and `size` are rounded on success.
    pub fn NtAllocateVirtualMemory(
        &mut self,
        process: HANDLE,
        base: &mut u64,
        zero_bits: u64,
        size: &mut u64,
        allocation_type: u32,
        protect: u32,
    ) -> NTSTATUS {
        let s =
            nt::allocate_virtual_memory(self.sys, self.pid, process, base, zero_bits, size, allocation_type, protect);
        self.done(s)
    }

    /// Decommits or releases; `base` and `size` report the range on success.
    pub fn NtFreeVirtualMemory(&mut self, process: HANDLE, base: &mut u64, size: &mut u64, free_type: u32) -> NTSTATUS {
        let s = nt::free_virtual_memory(self.sys, self.pid, process, base, size, free_type);
        self.done(s)
    }

    /// Changes protection; `old` receives the first page's previous protection.
    pub fn NtProtectVirtualMemory(
        &mut self,
        process: HANDLE,
        base: &mut u64,
        size: &mut u64,
        new_protect: u32,
        old: Option<&mut u32>,
    ) -> NTSTATUS {
        let s = nt::protect_virtual_memory(self.sys, self.pid, process, base, size, new_protect, old);
        self.done(s)
    }

    /// Describes the region holding `addr` (MemoryBasicInformation).
    pub fn NtQueryVirtualMemory(
        &mut self,
        process: HANDLE,
        addr: u64,
        info: &mut MEMORY_BASIC_INFORMATION64,
    ) -> NTSTATUS {
        let s = nt::query_virtual_memory(self.sys, self.pid, process, addr, info);
        self.done(s)
    }

    /// Locks pages in the working set (`MAP_PROCESS`); `base` and `size` report the pages
    /// locked on success.
    pub fn NtLockVirtualMemory(&mut self, process: HANDLE, base: &mut u64, size: &mut u64, map_type: u32) -> NTSTATUS {
        let s = nt::lock_virtual_memory(self.sys, self.pid, process, base, size, map_type);
        self.done(s)
    }

    /// Unlocks pages; `base` and `size` report the pages unlocked on success.
    pub fn NtUnlockVirtualMemory(
        &mut self,
        process: HANDLE,
        base: &mut u64,
        size: &mut u64,
        map_type: u32,
    ) -> NTSTATUS {
        let s = nt::unlock_virtual_memory(self.sys, self.pid, process, base, size, map_type);
        self.done(s)
    }

    /// Creates a section (named by `object_attributes`, if given); for a name in use,
    /// `STATUS_OBJECT_NAME_EXISTS` with a handle to the existing section when the attributes
    /// hold `OBJ_OPENIF` (F133), else `STATUS_OBJECT_NAME_COLLISION` (F207). `section` is
    /// written on success only.
    #[allow(clippy::too_many_arguments)]
    pub fn NtCreateSection(
        &mut self,
        section: &mut HANDLE,
        desired_access: u32,
        object_attributes: Option<&nt::OBJECT_ATTRIBUTES<'_>>,
        maximum_size: Option<&i64>,
        page_protection: u32,
        allocation_attributes: u32,
        file: HANDLE,
    ) -> NTSTATUS {
        let s = nt::create_section(
            self.sys,
            self.pid,
            section,
            desired_access,
            object_attributes,
            maximum_size,
            page_protection,
            allocation_attributes,
            file,
        );
        self.done(s)
    }

    /// Opens a named section; `section` is written on success only.
    pub fn NtOpenSection(&mut self, section: &mut HANDLE, desired_access: u32, name: &str) -> NTSTATUS {
        let s = nt::open_section(self.sys, self.pid, section, desired_access, name);
        self.done(s)
    }

    /// Describes a section: `SectionBasicInformation` into a [`nt::SECTION_BASIC_INFORMATION`]
    /// (F132), `SectionImageInformation` into a [`nt::SECTION_IMAGE_INFORMATION`] (F131);
    /// `length` is the buffer's size in bytes as the caller declares it.
    pub fn NtQuerySection<T: nt::SectionInformation>(
        &mut self,
        section: HANDLE,
        class: u32,
        info: &mut T,
        length: u32,
        return_length: Option<&mut u32>,
    ) -> NTSTATUS {
        let s = nt::query_section(self.sys, self.pid, section, class, info, length, return_length);
        self.done(s)
    }

    /// Maps a view of a section into a process (F140–F171): `base` and `view_size` (and
    /// `offset`) are written on success only. `inherit` is [`nt::VIEW_SHARE`] or
    /// [`nt::VIEW_UNMAP`].
    #[allow(clippy::too_many_arguments)]
    pub fn NtMapViewOfSection(
        &mut self,
        section: HANDLE,
        process: HANDLE,
        base: &mut u64,
        zero_bits: u64,
        commit_size: u64,
        offset: Option<&mut i64>,
        view_size: &mut u64,
        inherit: u32,
        allocation_type: u32,
        protect: u32,
    ) -> NTSTATUS {
        let s = nt::map_view_of_section(
            self.sys,
            self.pid,
            section,
            process,
            base,
            zero_bits,
            commit_size,
            offset,
            view_size,
            inherit,
            allocation_type,
            protect,
        );
        self.done(s)
    }

    /// Unmaps the view holding `base` (any address inside it, F165).
    pub fn NtUnmapViewOfSection(&mut self, process: HANDLE, base: u64) -> NTSTATUS {
        let s = nt::unmap_view_of_section(self.sys, self.pid, process, base);
        self.done(s)
    }

    /// Writes the modified pages of a view's range to its file (F167); on success `base` and
    /// `size` hold the range flushed.
    pub fn NtFlushVirtualMemory(
        &mut self,
        process: HANDLE,
        base: &mut u64,
        size: &mut u64,
        io: &mut nt::IO_STATUS_BLOCK,
    ) -> NTSTATUS {
        let s = nt::flush_virtual_memory(self.sys, self.pid, process, base, size, io);
        self.done(s)
    }

    /// Copies from another process; `read` receives the bytes copied (not written when the
    /// range is refused outright).
    pub fn NtReadVirtualMemory(
        &mut self,
        process: HANDLE,
        addr: u64,
        buf: &mut [u8],
        read: Option<&mut usize>,
    ) -> NTSTATUS {
        let (s, n) = nt::read_virtual_memory(self.sys, self.pid, process, addr, buf);
        if let (Some(r), Some(n)) = (read, n) {
            *r = n;
        }
        self.done(s)
    }

    /// Copies into another process; `written` receives the bytes copied (not written when the
    /// range is refused outright).
    pub fn NtWriteVirtualMemory(
        &mut self,
        process: HANDLE,
        addr: u64,
        data: &[u8],
        written: Option<&mut usize>,
    ) -> NTSTATUS {
        let (s, n) = nt::write_virtual_memory(self.sys, self.pid, process, addr, data);
        if let (Some(w), Some(n)) = (written, n) {
            *w = n;
        }
        self.done(s)
    }
}
