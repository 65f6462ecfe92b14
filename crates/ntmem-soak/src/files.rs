//! The soak's host files: two real files on disk made with known bytes, the model of what each
//! of their pages holds, and what the soak checks of them — `ReadFile`/`WriteFile` through a
//! handle opened for the call, a writable section larger than a file growing it (F125, and
//! F208 when its name then opened another section or collided), and, once no data segment of
//! a file is left, the whole host file against its model. A file only grows, in whole pages.
//! The sections and views over these files are `sections.rs`'s.

use std::path::PathBuf;

use ntmem::FaultPlan;
use ntmem_win32::*;

use crate::call::bytes_of;
use crate::model::{for_pages, Content, PAGE, PAGE_BYTES};
use crate::soak::Soak;

/// The host files the soak maps, in pages at the start (64 KiB multiples, so views may start
/// inside).
pub(crate) const FILE_PAGES: [u64; 2] = [32, 80];
/// How many pages past its first size a section of a file may ask for: a writable one grows
/// the file (F125), even when its name then opens an existing section (F208).
pub(crate) const GROWTH_PAGES: u64 = 16;

/// A host file: where it is, and what each of its pages holds (as many as it has: files
/// only grow, in whole pages).
pub(crate) struct FileModel {
    pub(crate) path: PathBuf,
    pub(crate) pages: Vec<Content>,
}

impl FileModel {
    /// Its length in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }
}

/// The host files, made with known bytes in `dir`.
pub(crate) fn make_files(dir: &std::path::Path) -> Result<Vec<FileModel>, String> {
    let mut files = Vec::new();
    for (i, pages) in FILE_PAGES.iter().enumerate() {
        let path = dir.join(format!("mapped{i}.dat"));
        let bytes = bytes_of(0x5EC7 + i as u64, usize::try_from(pages * PAGE).unwrap_or(0));
        std::fs::write(&path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        let mut model = Vec::new();
        for chunk in bytes.chunks(PAGE_BYTES) {
            let mut c = Content::zero();
            c.write(0, chunk);
            model.push(c);
        }
        files.push(FileModel { path, pages: model });
    }
    Ok(files)
}

impl Soak {
    /// Host file `f`, which the model has no section of, against the model once the file has
    /// no data segment left: a failed write-back keeps the segment, dying, until written.
    /// The file's own segment is looked for (by its path), not counted with the others': one
    /// call may end two files' sections, one written back and the other dying (seed 79).
    pub(crate) fn check_file_if_settled(&mut self, f: usize) -> Result<(), String> {
        let path = self.files[f].path.as_path();
        let sections = self.sys.sections();
        let held = self.sys.segments().data_segments().any(|(file, _)| sections.path_of(file) == Some(path));
        if !held {
            self.check_file(f, 0, self.files[f].pages.len() as u64)?;
        }
        Ok(())
    }

    /// Host file `f`'s pages `[lo, hi)` against the model.
    pub(crate) fn check_file(&mut self, f: usize, lo: u64, hi: u64) -> Result<(), String> {
        let bytes = std::fs::read(&self.files[f].path).map_err(|e| format!("reading host file {f}: {e}"))?;
        let want = self.files[f].bytes();
        if bytes.len() as u64 != want {
            return Err(format!("host file {f} is {:#x} bytes, the model says {want:#x}", bytes.len()));
        }
        for page in lo..hi.min(want / PAGE) {
            let at = usize::try_from(page * PAGE).unwrap_or(0);
            let got = &bytes[at..at + PAGE_BYTES];
            let c = &mut self.files[f].pages[usize::try_from(page).unwrap_or(0)];
            if let Err((off, want)) = c.check_read(0, got) {
                return Err(format!(
                    "host file {f}, byte {:#x}: {:#04x} on disk, the model allows {want:02x?}",
                    page * PAGE + off as u64,
                    got[off]
                ));
            }
        }
        Ok(())
    }

    /// A section of `size` bytes of file `f` was asked for: if it was `built` and is larger
    /// than the file, the file has grown to it, its new pages zeros (F125; F208 when the name
    /// then opened another section or collided), which only a section that `writes` may do
    /// (F124); otherwise the file is as it was. The host file's length is checked either way.
    pub(crate) fn file_after_creation(&mut self, f: usize, size: u64, built: bool, writes: bool) -> Result<(), String> {
        let model = &mut self.files[f];
        if built && size > model.bytes() {
            if !writes {
                return Err(format!(
                    "a section of {size:#x} bytes that cannot write was built past file {f}'s end (F124)"
                ));
            }
            // The generator asks for whole pages of a file, so the model's pages cover it.
            if !size.is_multiple_of(PAGE) {
                return Err(format!("a file section of {size:#x} bytes, not whole pages, which the model cannot hold"));
            }
            let pages = usize::try_from(size / PAGE).map_err(|e| e.to_string())?;
            model.pages.resize(pages, Content::zero());
        }
        let on_disk = std::fs::metadata(&model.path).map_err(|e| format!("host file {f}: {e}"))?.len();
        if on_disk != model.bytes() {
            return Err(format!(
                "host file {f} is {on_disk:#x} bytes, the model says {:#x} (F125, F208)",
                model.bytes()
            ));
        }
        Ok(())
    }

    /// `ReadFile` or `WriteFile` of `len` bytes at `offset` (within the file: file I/O never
    /// grows it), through a handle opened for the call.
    pub(crate) fn file_io(
        &mut self,
        proc: usize,
        file: u8,
        offset: u64,
        len: u32,
        write: Option<u64>,
    ) -> Result<(), String> {
        let f = usize::from(file) % self.files.len();
        let bytes = self.files[f].bytes();
        let pos = offset % bytes;
        let len = u64::from(len).min(bytes - pos);
        let path = self.files[f].path.to_string_lossy().into_owned();
        let mut k = self.k(proc);
        let h =
            k.CreateFileW(&path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0);
        if h == INVALID_HANDLE_VALUE {
            return Err(format!("CreateFileW of soak file {f}: error {}", k.GetLastError()));
        }
        if k.SetFilePointerEx(h, i64::try_from(pos).unwrap_or(0), None, FILE_BEGIN) != TRUE {
            return Err(format!("SetFilePointerEx: error {}", k.GetLastError()));
        }
        let mut done = 0u32;
        let len_usize = usize::try_from(len).unwrap_or(0);
        let (ok, buf) = match write {
            Some(seed) => {
                let data = bytes_of(seed, len_usize);
                (k.WriteFile(h, &data, &mut done) == TRUE, data)
            }
            None => {
                let mut buf = vec![0u8; len_usize];
                (k.ReadFile(h, &mut buf, &mut done) == TRUE, buf)
            }
        };
        let error = k.GetLastError();
        if k.CloseHandle(h) != TRUE {
            return Err(format!("CloseHandle of a file: error {}", k.GetLastError()));
        }
        if !ok || u64::from(done) != len {
            return Err(format!(
                "file I/O of {len} bytes at {pos:#x} of file {f}: ok {ok}, {done} bytes, error {error}"
            ));
        }
        let mut pieces = Vec::new();
        for_pages(pos, len_usize, |page, off, range| pieces.push((page, off, range)));
        for (page, off, range) in pieces {
            let c = &mut self.files[f].pages[usize::try_from(page).unwrap_or(0)];
            match write {
                Some(_) => c.write(off, &buf[range]),
                None => c.check_read(off, &buf[range.clone()]).map_err(|(at, want)| {
                    format!(
                        "ReadFile of file {f}: byte {:#x} reads {:#04x}, the model allows {want:02x?}",
                        page * PAGE + at as u64,
                        buf[at - off + range.start]
                    )
                })?,
            }
        }
        Ok(())
    }

    pub(crate) fn inject_mapped_faults(&mut self, reads: u8, writes: u8) {
        self.sys.inject_mapped_faults(FaultPlan { fail_reads: u32::from(reads), fail_writes: u32::from(writes) });
    }

    /// The end of a run, every process gone: no segment left once the mapped page writer has
    /// written what failed before, and every host file as the model says.
    pub(crate) fn settle_files(&mut self) -> Result<(), String> {
        self.sys.inject_mapped_faults(FaultPlan::default());
        let _ = self.sys.write_modified_pages();
        let left = self.sys.segments().data_segments().count();
        if left != 0 {
            return Err(format!("{left} data segments left with every process gone"));
        }
        for f in 0..self.files.len() {
            self.check_file(f, 0, self.files[f].pages.len() as u64)?;
        }
        Ok(())
    }
}
