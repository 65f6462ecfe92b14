//! `CreateFileMappingW`, `OpenFileMappingW`: kernelbase's own checks (the protection sets the
//! handle's rights; a page-file section needs a size, F122), then `NtCreateSection` /
//! `NtOpenSection`. `CreateEventW` is here only as the other owner of names sections meet
//! (F137): an event has a name and handles, nothing to wait on.

use super::Kernel32;
use crate::errors::{status_of_section, win32_error_of};
use crate::nt;
use ntmem::section::Created;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::STANDARD_RIGHTS_REQUIRED;
use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::Threading::EVENT_ALL_ACCESS;

const SEC_FLAGS: u32 = 0xFFF0_0000;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Creates a section, or opens the one its name stands for (F133: last error
    /// ERROR_ALREADY_EXISTS, the existing size); NULL on failure.
    pub fn CreateFileMappingW(
        &mut self,
        hFile: HANDLE,
        lpFileMappingAttributes: Option<&SECURITY_ATTRIBUTES>,
        flProtect: u32,
        dwMaximumSizeHigh: u32,
        dwMaximumSizeLow: u32,
        lpName: Option<&str>,
    ) -> HANDLE {
        let _ = lpFileMappingAttributes; // No security descriptors, no inheritance here.
        let null = core::ptr::null_mut();
        let mut attributes = flProtect & SEC_FLAGS;
        let protect = flProtect & !SEC_FLAGS;
        if attributes == 0 {
            attributes = SEC_COMMIT; // F129: no SEC flag reports SEC_COMMIT.
        }
        // The rights of the new handle follow the protection (kernelbase); any other
        // protection is refused before NT sees it (F127).
        let base = STANDARD_RIGHTS_REQUIRED | SECTION_QUERY | SECTION_MAP_READ;
        let access = match protect {
            PAGE_READONLY | PAGE_WRITECOPY => base,
            PAGE_READWRITE => base | SECTION_MAP_WRITE,
            PAGE_EXECUTE_READ | PAGE_EXECUTE_WRITECOPY => base | SECTION_MAP_EXECUTE,
            PAGE_EXECUTE_READWRITE => base | SECTION_MAP_WRITE | SECTION_MAP_EXECUTE,
            _ => return self.fail(ERROR_INVALID_PARAMETER, null),
        };
        let size = (u64::from(dwMaximumSizeHigh) << 32) | u64::from(dwMaximumSizeLow);
        let file = if hFile == INVALID_HANDLE_VALUE {
            if size == 0 {
                return self.fail(ERROR_INVALID_PARAMETER, null); // F122
            }
            null
        } else {
            hFile
        };
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let name = lpName.filter(|n| !n.is_empty());
        let mut section = null;
        let status = nt::create_section(
            self.sys,
            self.pid,
            &mut section,
            access,
            // kernelbase creates every named object with OBJ_OPENIF (F133, F207).
            Some(&nt::OBJECT_ATTRIBUTES { ObjectName: name, Attributes: OBJ_OPENIF }),
            (size != 0).then_some(&size),
            protect,
            attributes,
            file,
        );
        match status {
            STATUS_SUCCESS => {
                self.last_error = ERROR_SUCCESS;
                self.finish(section)
            }
            STATUS_OBJECT_NAME_EXISTS => {
                self.last_error = ERROR_ALREADY_EXISTS;
                self.finish(section)
            }
            s => self.fail(win32_error_of(s), null),
        }
    }

    /// Opens a named section; NULL / ERROR_FILE_NOT_FOUND when no section has that name
    /// (F133: names are case-sensitive).
    pub fn OpenFileMappingW(&mut self, dwDesiredAccess: u32, bInheritHandle: BOOL, lpName: &str) -> HANDLE {
        let _ = bInheritHandle; // No child processes inherit here.
        let null = core::ptr::null_mut();
        if lpName.is_empty() {
            return self.fail(ERROR_INVALID_PARAMETER, null);
        }
        // kernelbase: FILE_MAP_COPY opens for reading.
        let access = if dwDesiredAccess == FILE_MAP_COPY { SECTION_MAP_READ } else { dwDesiredAccess };
        let mut section = null;
        let status = nt::open_section(self.sys, self.pid, &mut section, access, lpName);
        if nt::failed(status) {
            return self.fail(win32_error_of(status), null);
        }
        self.finish(section)
    }

    /// Creates a named or unnamed event, or opens the event its name stands for (last error
    /// ERROR_ALREADY_EXISTS); a name taken by a section gives NULL / ERROR_INVALID_HANDLE.
    pub fn CreateEventW(
        &mut self,
        lpEventAttributes: Option<&SECURITY_ATTRIBUTES>,
        bManualReset: BOOL,
        bInitialState: BOOL,
        lpName: Option<&str>,
    ) -> HANDLE {
        // No waits exist here: the reset kind and the state change nothing.
        let _ = (lpEventAttributes, bManualReset, bInitialState);
        let name = lpName.filter(|n| !n.is_empty());
        match self.sys.create_event(self.pid, name, EVENT_ALL_ACCESS) {
            Ok((h, created)) => {
                self.last_error = if created == Created::Existing { ERROR_ALREADY_EXISTS } else { ERROR_SUCCESS };
                self.finish(h.raw() as usize as HANDLE)
            }
            Err(e) => self.fail(win32_error_of(status_of_section(e)), core::ptr::null_mut()),
        }
    }
}
