//! `CreateFileW`, `ReadFile`, `WriteFile`, `SetFilePointerEx`, `SetEndOfFile`,
//! `GetFileSizeEx`, `FlushFileBuffers`: host files through the simulated API, with the rights
//! of their handles checked as Windows does (F128 needs them for sections).
//!
//! Interim: `ReadFile` and `WriteFile` read and write the host file at the file position.
//! When views land they must go through the segment's pages instead — the same cached pages as
//! the views — so that reads, writes and views of one file agree (F161).

use super::Kernel32;
use crate::errors::{status_of_section, win32_error_of};
use ntmem::section::{Disposition, FileAccess, FileShare, SectionError, SeekOrigin};
use ntmem::system::Handle;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::Storage::FileSystem::*;

/// The specific rights a desired access means (`IoCheckDesiredAccess` with the file generic
/// mapping: GENERIC_READ is FILE_GENERIC_READ, and so on).
fn map_generic(access: u32) -> u32 {
    let mut rights = access & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
    if access & (GENERIC_READ | GENERIC_ALL) != 0 {
        rights |= FILE_GENERIC_READ;
    }
    if access & (GENERIC_WRITE | GENERIC_ALL) != 0 {
        rights |= FILE_GENERIC_WRITE;
    }
    if access & (GENERIC_EXECUTE | GENERIC_ALL) != 0 {
        rights |= FILE_GENERIC_EXECUTE;
    }
    if access & GENERIC_ALL != 0 {
        rights |= FILE_ALL_ACCESS;
    }
    rights
}

fn data_access(rights: u32) -> FileAccess {
    let mut access = FileAccess::NONE;
    if rights & FILE_READ_DATA != 0 {
        access = access.union(FileAccess::READ);
    }
    if rights & FILE_WRITE_DATA != 0 {
        access = access.union(FileAccess::WRITE);
    }
    if rights & FILE_EXECUTE != 0 {
        access = access.union(FileAccess::EXECUTE);
    }
    access
}

#[allow(non_snake_case)]
impl Kernel32<'_> {
    fn file_handle(&self, h: HANDLE) -> Result<Handle, u32> {
        Handle::from_raw(h as usize as u64).ok_or(ERROR_INVALID_HANDLE)
    }

    /// Ends a file call from the core's answer.
    fn finish_file<T>(&mut self, result: Result<T, SectionError>) -> BOOL {
        match result {
            Ok(_) => self.finish(TRUE),
            Err(e) => self.fail(win32_error_of(status_of_section(e)), FALSE),
        }
    }

    /// Opens or creates a host file; INVALID_HANDLE_VALUE on failure. `CREATE_ALWAYS` and
    /// `OPEN_ALWAYS` on an existing file succeed with last error ERROR_ALREADY_EXISTS.
    pub fn CreateFileW(
        &mut self,
        lpFileName: &str,
        dwDesiredAccess: u32,
        dwShareMode: u32,
        dwCreationDisposition: u32,
        dwFlagsAndAttributes: u32,
    ) -> HANDLE {
        let _ = dwFlagsAndAttributes; // Attributes and caching hints change nothing here.
        let disposition = match dwCreationDisposition {
            CREATE_NEW => Disposition::CreateNew,
            CREATE_ALWAYS => Disposition::CreateAlways,
            OPEN_EXISTING => Disposition::OpenExisting,
            OPEN_ALWAYS => Disposition::OpenAlways,
            TRUNCATE_EXISTING => Disposition::TruncateExisting,
            _ => return self.fail(ERROR_INVALID_PARAMETER, INVALID_HANDLE_VALUE),
        };
        if dwShareMode & !(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE) != 0 {
            return self.fail(ERROR_INVALID_PARAMETER, INVALID_HANDLE_VALUE);
        }
        if lpFileName.is_empty() {
            return self.fail(ERROR_PATH_NOT_FOUND, INVALID_HANDLE_VALUE);
        }
        let rights = map_generic(dwDesiredAccess);
        if disposition == Disposition::TruncateExisting && rights & FILE_WRITE_DATA == 0 {
            // "The calling process must open the file with the GENERIC_WRITE bit set."
            return self.fail(ERROR_INVALID_PARAMETER, INVALID_HANDLE_VALUE);
        }
        let share = FileShare {
            read: dwShareMode & FILE_SHARE_READ != 0,
            write: dwShareMode & FILE_SHARE_WRITE != 0,
            delete: dwShareMode & FILE_SHARE_DELETE != 0,
        };
        let path = std::path::Path::new(lpFileName);
        match self.sys.create_file(self.pid, path, data_access(rights), share, disposition, rights) {
            Ok((h, existed)) => {
                let always = matches!(disposition, Disposition::CreateAlways | Disposition::OpenAlways);
                self.last_error = if always && existed { ERROR_ALREADY_EXISTS } else { ERROR_SUCCESS };
                self.finish(h.raw() as usize as HANDLE)
            }
            // kernelbase reports a CREATE_NEW collision as ERROR_FILE_EXISTS, not the table's
            // ERROR_ALREADY_EXISTS.
            Err(SectionError::NameCollision) => self.fail(ERROR_FILE_EXISTS, INVALID_HANDLE_VALUE),
            Err(e) => self.fail(win32_error_of(status_of_section(e)), INVALID_HANDLE_VALUE),
        }
    }

    /// Reads at the file position; `*lpNumberOfBytesRead` is 0 on failure and at the end.
    pub fn ReadFile(&mut self, hFile: HANDLE, lpBuffer: &mut [u8], lpNumberOfBytesRead: &mut u32) -> BOOL {
        *lpNumberOfBytesRead = 0;
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        // A DWORD count: larger buffers read at most 4 GiB - 1 bytes.
        let len = lpBuffer.len().min(u32::MAX as usize);
        let result = self.sys.read_file(self.pid, h, &mut lpBuffer[..len]);
        if let Ok(n) = result {
            *lpNumberOfBytesRead = u32::try_from(n).unwrap_or(u32::MAX);
        }
        self.finish_file(result)
    }

    /// Writes at the file position, extending the file as needed.
    pub fn WriteFile(&mut self, hFile: HANDLE, lpBuffer: &[u8], lpNumberOfBytesWritten: &mut u32) -> BOOL {
        *lpNumberOfBytesWritten = 0;
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        let len = lpBuffer.len().min(u32::MAX as usize);
        let result = self.sys.write_file(self.pid, h, &lpBuffer[..len]);
        if let Ok(n) = result {
            *lpNumberOfBytesWritten = u32::try_from(n).unwrap_or(u32::MAX);
        }
        self.finish_file(result)
    }

    /// Moves the file position; a position before the start fails with ERROR_NEGATIVE_SEEK
    /// and leaves it where it was.
    pub fn SetFilePointerEx(
        &mut self,
        hFile: HANDLE,
        liDistanceToMove: i64,
        lpNewFilePointer: Option<&mut i64>,
        dwMoveMethod: u32,
    ) -> BOOL {
        let origin = match dwMoveMethod {
            FILE_BEGIN => SeekOrigin::Begin,
            FILE_CURRENT => SeekOrigin::Current,
            FILE_END => SeekOrigin::End,
            _ => return self.fail(ERROR_INVALID_PARAMETER, FALSE),
        };
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        match self.sys.seek_file(self.pid, h, liDistanceToMove, origin) {
            Ok(pos) => {
                if let Some(p) = lpNewFilePointer {
                    *p = i64::try_from(pos).unwrap_or(i64::MAX);
                }
                self.finish(TRUE)
            }
            Err(SectionError::NegativeSeek) => self.fail(ERROR_NEGATIVE_SEEK, FALSE),
            Err(e) => self.fail(win32_error_of(status_of_section(e)), FALSE),
        }
    }

    /// Sets the end of the file at its position (needs write access).
    pub fn SetEndOfFile(&mut self, hFile: HANDLE) -> BOOL {
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        let result = self.sys.set_end_of_file(self.pid, h);
        self.finish_file(result)
    }

    /// The file's size.
    pub fn GetFileSizeEx(&mut self, hFile: HANDLE, lpFileSize: &mut i64) -> BOOL {
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        let result = self.sys.file_size(self.pid, h);
        if let Ok(size) = result {
            *lpFileSize = i64::try_from(size).unwrap_or(i64::MAX);
        }
        self.finish_file(result)
    }

    /// Writes the file's buffers to the disk (needs write access).
    pub fn FlushFileBuffers(&mut self, hFile: HANDLE) -> BOOL {
        let h = match self.file_handle(hFile) {
            Ok(h) => h,
            Err(e) => return self.fail(e, FALSE),
        };
        let result = self.sys.flush_file(self.pid, h);
        self.finish_file(result)
    }
}
