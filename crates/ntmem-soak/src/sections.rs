//! Sections in the soak: page-file sections (`SEC_COMMIT`, `SEC_RESERVE`), sections of two
//! real host files (`files.rs`: the files, their model and their own reads and writes) and
//! `SEC_IMAGE` sections of a real PE file (`images.rs`: the image and what its views hold), made
//! through `CreateFileMappingW` or `NtCreateSection` ([`Route`]), their handles and views in
//! every process; the model of the bytes behind them, and what each call must do (issue 7).
//!
//! The bytes of a view page are its section's, in the model of its [`Backing`]
//! (`shared_bytes.rs`): one per host file (a file has one data segment however many sections
//! map it, and `ReadFile`/`WriteFile` see the same pages, F161), one per page-file section, and
//! the image's shared pages; an image's other pages are each view's own (`images.rs`).
//!
//! Checked: a refused call changes neither the committed pages nor the commit charge; an
//! unmapping or close through a handle the model knows succeeds, a mapping it rules out fails,
//! and the whole view of an image, asked for reading where the system may place it or at a
//! free aligned base, fails only for want of commit; after a successful `FlushViewOfFile` the
//! host file holds the model's bytes over the range flushed, and once a file's last section and view are gone (its data segment deleted)
//! the whole host file does; a page-file section's bytes go with its last reference (a new
//! section of the same name reads zeros); a section built under a name in use obeys the same
//! rules as a new one (F208), and one larger than its file grows the file (`files.rs`); only
//! the PE file makes an image section (F129, F130), never one larger than the image (F206) or
//! one that writes (F128); an image view lands at the preferred base when that is free, with
//! each page as the image says (F162, F163). Mapped-file reads and writes fail on request
//! ([`crate::Call::InjectMappedFaults`]): a read then raises `STATUS_IN_PAGE_ERROR`, a failed
//! write-back keeps the pages dirty; nothing is lost either way.

use std::collections::BTreeMap;

use ntmem::units::USER_END;
use ntmem_win32::*;

use crate::apply::{bad_handle_check, pages_of, push_recent};
use crate::call::{Route, Source, Target};
use crate::images::PREFERRED_BASE;
use crate::model::{Backing, Content, PAGE};
use crate::soak::{Allow, Soak};

const G: u64 = 0x1_0000;
/// Section names: `soak-section-0` … `-3`.
pub(crate) const NAMES: u8 = 4;
/// A `handle` index that stands for a handle that is none.
pub(crate) const BAD_HANDLE: u8 = u8::MAX;
const NOT_A_HANDLE: u64 = 0xDEAD_BEEC;
/// The `SEC_*` bits of a `CreateFileMappingW` protection (kernelbase splits them off).
const SEC_FLAGS: u32 = 0xFFF0_0000;

/// What a section creation came to.
enum Made {
    /// A handle: a new section, or the existing one of its name.
    Handle(u64),
    /// Refused while the section was being built: nothing changed (the file did not grow).
    Refused,
    /// Built, then refused at its name (`NtCreateSection` without `OBJ_OPENIF`, F207): what
    /// building did stays (a file grown, F208).
    Collided,
}

/// A page-file segment: its committed pages (all of them for `SEC_COMMIT`).
#[derive(Default)]
pub(crate) struct SegmentModel {
    pub(crate) pages: BTreeMap<u64, Content>,
}

/// One section creation as both routes make it: the file handle (`INVALID_HANDLE_VALUE` for
/// the page file), the `CreateFileMappingW` protection with its `SEC_*` bits, the size, the
/// name, and the section the model says holds that name.
#[derive(Clone, Copy)]
struct Creation<'a> {
    fh: HANDLE,
    protect: u32,
    size: u64,
    name: Option<&'a str>,
    existing: Option<usize>,
}

/// A section object: its bytes, its size, and what keeps it.
pub(crate) struct SectionModel {
    pub(crate) backing: Backing,
    pub(crate) bytes: u64,
    pub(crate) handles: u32,
    pub(crate) views: u32,
    pub(crate) name: Option<u8>,
    /// Created `PAGE_READWRITE` or `PAGE_EXECUTE_READWRITE`: views may write (F153).
    pub(crate) writable: bool,
}

/// A section handle of a process.
#[derive(Clone, Copy)]
pub(crate) struct SectionHandle {
    pub(crate) raw: u64,
    pub(crate) section: usize,
    /// Views for writing may be mapped through it (its rights and the section's protection).
    pub(crate) write: bool,
    /// It has the right to map views for reading (`SECTION_MAP_READ`).
    pub(crate) read: bool,
}

/// A view in a process.
#[derive(Clone, Copy)]
pub(crate) struct ViewModel {
    pub(crate) base: u64,
    pub(crate) pages: u64,
    pub(crate) section: usize,
    /// Its first page in the section.
    pub(crate) first: u64,
    /// `FILE_MAP_COPY`: every write copies.
    pub(crate) copy: bool,
}

impl ViewModel {
    pub(crate) fn end(&self) -> u64 {
        self.base + self.pages * PAGE
    }

    pub(crate) fn holds(&self, addr: u64) -> bool {
        self.base <= addr && addr < self.end()
    }
}

fn handle(raw: u64) -> HANDLE {
    usize::try_from(raw).unwrap_or(usize::MAX) as HANDLE
}

fn section_name(n: u8) -> String {
    format!("soak-section-{n}")
}

impl Soak {
    // ----------------------------------------------------------------------------------
    // Lifetimes.

    /// The section a name stands for: a name goes with its section's last handle, though
    /// views may keep the section (NT's `ObpDeleteNameCheck`).
    fn live_named(&self, name: u8) -> Option<usize> {
        self.sections.iter().position(|s| s.as_ref().is_some_and(|s| s.name == Some(name) && s.handles > 0))
    }

    /// A section with no handle and no view goes; with it a page-file segment's bytes, and
    /// when it was a file's last section, the file's data segment: its pages written back,
    /// the host file then holds the model's bytes.
    pub(crate) fn release_if_unused(&mut self, section: usize) -> Result<(), String> {
        let Some(Some(s)) = self.sections.get(section) else { return Ok(()) };
        if s.handles > 0 || s.views > 0 {
            return Ok(());
        }
        let backing = s.backing;
        self.sections[section] = None;
        match backing {
            Backing::Segment(g) => self.segments[g] = None,
            // The image's segment goes with its last section (F206): its shared pages are
            // the file's again when a new one is made.
            Backing::Image => {
                if !self.sections.iter().flatten().any(|s| s.backing == Backing::Image) {
                    self.image.reset_shared();
                }
            }
            Backing::File(f) => {
                let still = self.sections.iter().flatten().any(|s| s.backing == Backing::File(f));
                if !still {
                    self.check_file_if_settled(f)?;
                }
            }
        }
        Ok(())
    }

    /// A process of `slot` ended: its views and handles let go of their sections.
    pub(crate) fn forget_slot_sections(&mut self, slot: usize) -> Result<(), String> {
        let views = std::mem::take(&mut self.slots[slot].views);
        let handles = std::mem::take(&mut self.slots[slot].handles);
        let mut touched = Vec::new();
        for v in views {
            if let Some(Some(s)) = self.sections.get_mut(v.section) {
                s.views -= 1;
                touched.push(v.section);
            }
        }
        for h in handles {
            if let Some(Some(s)) = self.sections.get_mut(h.section) {
                s.handles -= 1;
                touched.push(h.section);
            }
        }
        for s in touched {
            self.release_if_unused(s)?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // The calls.

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_section(
        &mut self,
        proc: usize,
        source: Source,
        file_write: bool,
        protect: u32,
        size: u64,
        name: Option<u8>,
        route: Route,
    ) -> Result<(), String> {
        let commit_before = self.sys.stats().commit_total;
        let existing = name.and_then(|n| self.live_named(n));
        let name_str = name.map(section_name);
        let file = match source {
            Source::File(f) => Some(usize::from(f) % self.files.len()),
            Source::PageFile | Source::Image => None,
        };
        let image = source == Source::Image;
        if image && protect & SEC_IMAGE == 0 {
            return Err("a data section of the soak's image, which the model does not follow".into());
        }
        let opened = match (file, image) {
            (Some(f), _) => {
                Some((self.files[f].path.clone(), GENERIC_READ | if file_write { GENERIC_WRITE } else { 0 }))
            }
            // As a loader opens a DLL: to read and execute, never to write.
            (None, true) => Some((self.image.path.clone(), GENERIC_READ | GENERIC_EXECUTE)),
            (None, false) => None,
        };
        let fh = match opened {
            None => INVALID_HANDLE_VALUE,
            Some((path, access)) => {
                let path = path.to_string_lossy().into_owned();
                let mut k = self.k(proc);
                let h = k.CreateFileW(&path, access, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0);
                if h == INVALID_HANDLE_VALUE {
                    return Err(format!("CreateFileW of {path}: error {}", k.GetLastError()));
                }
                h
            }
        };
        let creation = Creation { fh, protect, size, name: name_str.as_deref(), existing };
        let made = match route {
            Route::CreateFileMapping => self.create_section_win32(proc, &creation),
            Route::NtCreateSection => self.create_section_nt(proc, &creation, false),
            Route::NtCreateSectionOpenIf => self.create_section_nt(proc, &creation, true),
        };
        if fh != INVALID_HANDLE_VALUE {
            let mut k = self.k(proc);
            if k.CloseHandle(fh) != TRUE {
                return Err(format!("CloseHandle of a file handle: error {}", k.GetLastError()));
            }
        }
        let made = made?;
        let base = protect & 0xFFFF;
        let writes = base == PAGE_READWRITE || base == PAGE_EXECUTE_READWRITE;
        // Built, whatever its name then decided (F208): the checks of F122 and F128 passed.
        let built = !matches!(made, Made::Refused);
        if built && source == Source::PageFile && size == 0 {
            return Err("a section of the page file with size 0 was built (F122)".into());
        }
        if built && (file.is_some() && !file_write || image) && writes {
            return Err("a PAGE_READWRITE section of a file opened for reading only was built (F128)".into());
        }
        if built && protect & SEC_IMAGE != 0 && !image {
            return Err("a SEC_IMAGE section of the page file or of a data file was built (F129, F130)".into());
        }
        if built && image && size > self.image.view_bytes() {
            return Err(format!("an image section of {size:#x} bytes, larger than the image, was built (F206)"));
        }
        if let Some(f) = file {
            self.file_after_creation(f, size, built, writes)?;
        }
        let Made::Handle(h) = made else {
            if self.sys.stats().commit_total != commit_before {
                return Err(format!("a refused section creation ({protect:#x}, {size:#x}) changed the commit charge"));
            }
            return Ok(());
        };
        let section = match existing {
            Some(id) => id,
            None => {
                let (backing, bytes) = match file {
                    Some(f) => (Backing::File(f), if size == 0 { self.files[f].bytes() } else { size }),
                    // Whatever size was asked, a view maps the whole image (F206).
                    None if image => (Backing::Image, self.image.view_bytes()),
                    None => {
                        let mut seg = SegmentModel::default();
                        if protect & SEC_RESERVE == 0 {
                            seg.pages = (0..size.div_ceil(PAGE)).map(|p| (p, Content::zero())).collect();
                        }
                        self.segments.push(Some(seg));
                        // F122: a page-file section's size rounds up to a page.
                        (Backing::Segment(self.segments.len() - 1), size.div_ceil(PAGE) * PAGE)
                    }
                };
                let writable = writes;
                self.sections.push(Some(SectionModel { backing, bytes, handles: 0, views: 0, name, writable }));
                self.sections.len() - 1
            }
        };
        let s = self.sections[section].as_mut().ok_or("a section gone")?;
        s.handles += 1;
        // The handle's rights follow the protection asked (kernelbase; `NtCreateSection` asks
        // for all access), the views the section's (F153), but for an image's, which take the
        // image's protection whatever they ask (F162).
        let write = (writes || route != Route::CreateFileMapping) && (s.writable || s.backing == Backing::Image);
        // `CreateFileMappingW` grants the right to map for reading whatever the protection.
        self.slots[proc].handles.push(SectionHandle { raw: h, section, write, read: true });
        Ok(())
    }

    /// `CreateFileMappingW`. A name in use opens its section with last error
    /// `ERROR_ALREADY_EXISTS` (F133).
    fn create_section_win32(&mut self, proc: usize, c: &Creation<'_>) -> Result<Made, String> {
        let Creation { fh, protect, size, name, existing } = *c;
        #[allow(clippy::cast_possible_truncation)] // The low half, as the API takes it.
        let (high, low) = ((size >> 32) as u32, size as u32);
        let mut k = self.k(proc);
        let h = k.CreateFileMappingW(fh, None, protect, high, low, name);
        let error = k.GetLastError();
        if h.is_null() {
            return Ok(Made::Refused);
        }
        match (existing, error == ERROR_ALREADY_EXISTS) {
            (Some(_), false) => Err(format!("CreateFileMappingW of a used name: last error {error}, not 183")),
            (None, true) => Err("ERROR_ALREADY_EXISTS for a name the model holds free".into()),
            _ => Ok(Made::Handle(h as usize as u64)),
        }
    }

    /// `NtCreateSection` with all access, the attributes `CreateFileMappingW` would pass but
    /// `OBJ_OPENIF` only when `open_if` (F207). A name in use opens its section with
    /// `STATUS_OBJECT_NAME_EXISTS` under `OBJ_OPENIF`, and without it collides; a refusal
    /// writes no handle.
    fn create_section_nt(&mut self, proc: usize, c: &Creation<'_>, open_if: bool) -> Result<Made, String> {
        let Creation { fh, protect, size, name, existing } = *c;
        let untouched = handle(NOT_A_HANDLE);
        let mut h = untouched;
        let attributes = OBJECT_ATTRIBUTES { ObjectName: name, Attributes: if open_if { OBJ_OPENIF } else { 0 } };
        let sec = match protect & SEC_FLAGS {
            0 => SEC_COMMIT,
            flags => flags,
        };
        let file = if fh == INVALID_HANDLE_VALUE { core::ptr::null_mut() } else { fh };
        let max = i64::try_from(size).unwrap_or(i64::MAX);
        let status = self.nt(proc).NtCreateSection(
            &mut h,
            SECTION_ALL_ACCESS,
            Some(&attributes),
            (size != 0).then_some(&max),
            protect & !SEC_FLAGS,
            sec,
            file,
        );
        let name_status = status_name(status).map_or_else(|| format!("{:#x}", status.cast_unsigned()), str::to_owned);
        if status < 0 {
            if h != untouched {
                return Err(format!("a refused NtCreateSection ({name_status}) wrote a handle"));
            }
            return match (status == STATUS_OBJECT_NAME_COLLISION, existing) {
                (true, Some(_)) if !open_if => Ok(Made::Collided),
                (true, Some(_)) => Err("NtCreateSection with OBJ_OPENIF collided on a section's name".into()),
                (true, None) => Err("NtCreateSection collided on a name the model holds free".into()),
                (false, _) => Ok(Made::Refused),
            };
        }
        match existing {
            Some(_) if !open_if => Err(format!("NtCreateSection of a used name without OBJ_OPENIF: {name_status}")),
            Some(_) if status != STATUS_OBJECT_NAME_EXISTS => {
                Err(format!("NtCreateSection opened a used name with {name_status}, not STATUS_OBJECT_NAME_EXISTS"))
            }
            None if status != STATUS_SUCCESS => Err(format!("NtCreateSection of a new section: {name_status}")),
            _ => Ok(Made::Handle(h as usize as u64)),
        }
    }

    pub(crate) fn open_section(&mut self, proc: usize, name: u8, access: u32) -> Result<(), String> {
        let mut k = self.k(proc);
        let h = k.OpenFileMappingW(access, FALSE, &section_name(name));
        let error = k.GetLastError();
        match (h.is_null(), self.live_named(name)) {
            (true, None) => Ok(()),
            (true, Some(_)) => Err(format!("OpenFileMappingW of a live section failed: error {error}")),
            (false, None) => Err("OpenFileMappingW opened a section the model has gone".into()),
            (false, Some(section)) => {
                let s = self.sections[section].as_mut().ok_or("a section gone")?;
                s.handles += 1;
                let write = access & FILE_MAP_WRITE != 0 && (s.writable || s.backing == Backing::Image);
                let read = access & FILE_MAP_READ != 0;
                self.slots[proc].handles.push(SectionHandle { raw: h as usize as u64, section, write, read });
                Ok(())
            }
        }
    }

    pub(crate) fn close_section(&mut self, proc: usize, index: u8) -> Result<(), String> {
        let n = self.slots[proc].handles.len();
        if n == 0 || index == BAD_HANDLE {
            if self.k(proc).CloseHandle(handle(NOT_A_HANDLE)) == TRUE {
                return Err("CloseHandle of no handle succeeded".into());
            }
            return Ok(());
        }
        let h = self.slots[proc].handles.remove(usize::from(index) % n);
        let mut k = self.k(proc);
        if k.CloseHandle(handle(h.raw)) != TRUE {
            return Err(format!("CloseHandle of a section handle: error {}", k.GetLastError()));
        }
        if let Some(Some(s)) = self.sections.get_mut(h.section) {
            s.handles -= 1;
        }
        self.release_if_unused(h.section)
    }

    /// Maps `(offset, size, base)` of the caller's section handle `index` into `target`
    /// through the Win32 route, or through `NtMapViewOfSection` with `zero_bits`.
    pub(crate) fn map_view(
        &mut self,
        proc: usize,
        index: u8,
        target: Target,
        access: u32,
        (offset, size, base): (u64, u64, u64),
        zero_bits: Option<u64>,
    ) -> Result<(), String> {
        let n = self.slots[proc].handles.len();
        let h = (n > 0 && index != BAD_HANDLE).then(|| self.slots[proc].handles[usize::from(index) % n]);
        let (ph, ts) = self.open(proc, target);
        let limit = zero_bits.map_or(Some(USER_END), zero_bits_limit);
        let image =
            h.is_some_and(|h| matches!(self.sections.get(h.section), Some(Some(s)) if s.backing == Backing::Image));
        // F163: a view the system places goes to the image's preferred base when that is free.
        let preferred_free = match ts {
            Some(t) if image && base == 0 => {
                limit.is_some_and(|l| PREFERRED_BASE + self.image.view_bytes() <= l)
                    && self.image_fits_at(t, PREFERRED_BASE)
            }
            _ => false,
        };
        let commit_before = self.sys.stats().commit_total;
        let raw = handle(h.map_or(NOT_A_HANDLE, |h| h.raw));
        let mut nt_status = None;
        #[allow(clippy::cast_possible_truncation)] // The halves of the offset, as the API takes them.
        let (r, error) = if let Some(z) = zero_bits {
            let (mut b, mut s, mut off) = (base, size, i64::try_from(offset).unwrap_or(i64::MAX));
            let prot = view_protection(access);
            let st =
                self.nt(proc).NtMapViewOfSection(raw, ph, &mut b, z, 0, Some(&mut off), &mut s, VIEW_SHARE, 0, prot);
            nt_status = Some(st);
            // The NTSTATUS, shown as the error of a refused map.
            (if st >= 0 { b } else { 0 }, st.cast_unsigned())
        } else if ts == Some(proc) && target == Target::Current {
            // The last error is the Kernel32 instance's, as a thread's is its own.
            let mut k = self.k(proc);
            let r = k.MapViewOfFileEx(raw, access, (offset >> 32) as u32, offset as u32, size, base);
            (r, k.GetLastError())
        } else {
            let mut k = self.k(proc);
            let r = k.MapViewOfFile2(raw, ph, offset, base, size, 0, view_protection(access));
            (r, k.GetLastError())
        };
        self.close(proc, target, ph)?;
        bad_handle_check("MapViewOfFile2", r != 0, ts)?;
        let Some(t) = ts else { return Ok(()) };
        let section = h.and_then(|h| self.sections.get(h.section)?.as_ref().map(|s| (h, s.bytes)));
        let why = match section {
            None => Some("no section handle"),
            Some(_) if !offset.is_multiple_of(G) => Some("an offset not 64 KiB aligned (F140)"),
            Some((_, bytes)) if offset >= bytes || size > bytes - offset => Some("past the section's end (F143)"),
            Some(_) if !base.is_multiple_of(G) => Some("a base not 64 KiB aligned (F141)"),
            Some(_) if limit.is_none() => Some("ZeroBits 22 to 31 (F47, F205)"),
            Some(_) if zero_bits.unwrap_or(0) != 0 && limit.is_some_and(|l| base + size >= l) => {
                Some("a view asked to end past the ZeroBits limit (F200)")
            }
            Some((h, _))
                if access & FILE_MAP_WRITE != 0
                    && !h.write
                    && !self.known(crate::KnownBug::MapWriteThroughReadOnlyHandle) =>
            {
                Some("write access the handle or section lacks")
            }
            Some(_) => None,
        };
        if r == 0 {
            // An image's whole view, for reading, placed by the system or at a free aligned
            // base, through a handle that may: only the commit its copy-on-write pages need
            // may be missing (a refusal changes nothing, so the base is as free as before).
            let placeable = base == 0 || (base.is_multiple_of(G) && self.image_fits_at(t, base));
            let plain = offset == 0 && size == 0 && placeable && zero_bits.unwrap_or(0) == 0;
            let readable = matches!(access, FILE_MAP_READ | FILE_MAP_COPY) && h.is_some_and(|h| h.read);
            let no_commit = [ERROR_COMMITMENT_LIMIT, STATUS_COMMITMENT_LIMIT.cast_unsigned()].contains(&error);
            if image && plain && readable && !no_commit {
                return Err(format!("a view of an image section was refused: error or NTSTATUS {error:#x}"));
            }
            if self.sys.stats().commit_total != commit_before {
                return Err(format!("a refused map (error or NTSTATUS {error:#x}) changed the commit charge"));
            }
            let (lo, hi) = pages_of(base, size.max(PAGE));
            return self.reconcile(t, lo, hi, Allow::default());
        }
        if let Some(why) = why {
            return Err(format!("a view mapped at {r:#x} through {why}"));
        }
        let Some((h, bytes)) = section else { return Ok(()) };
        if base != 0 && r != base {
            return Err(format!("a view asked at {base:#x} mapped at {r:#x}"));
        }
        let pages = if size == 0 { (bytes - offset).div_ceil(PAGE) } else { size.div_ceil(PAGE) };
        if base == 0 && limit.is_some_and(|l| r + pages * PAGE > l) {
            return Err(format!("a view placed at {r:#x}, past its ZeroBits limit"));
        }
        // An image view's protection is the image's, whatever was asked (F162).
        let copy = !image && matches!(view_protection(access), PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY);
        let view = ViewModel { base: r, pages, section: h.section, first: offset / PAGE, copy };
        self.slots[t].views.push(view);
        if let Some(Some(s)) = self.sections.get_mut(h.section) {
            s.views += 1;
        }
        push_recent(&mut self.slots[t].allocs, (r, pages * PAGE));
        if image {
            self.model_image_view(t, r, pages, nt_status, preferred_free)?;
        }
        self.reconcile(t, r, view.end(), Allow::default())
    }

    pub(crate) fn unmap_view(&mut self, proc: usize, target: Target, addr: u64) -> Result<(), String> {
        let (ph, ts) = self.open(proc, target);
        let mut k = self.k(proc);
        let ok =
            if target == Target::Current { k.UnmapViewOfFile(addr) } else { k.UnmapViewOfFile2(ph, addr, 0) } == TRUE;
        let error = k.GetLastError();
        self.close(proc, target, ph)?;
        bad_handle_check("UnmapViewOfFile2", ok, ts)?;
        let Some(t) = ts else { return Ok(()) };
        let found = self.slots[t].views.iter().position(|v| v.holds(addr));
        match (ok, found) {
            (true, None) => Err(format!("UnmapViewOfFile({addr:#x}) succeeded where the model has no view")),
            (false, Some(_)) => Err(format!("UnmapViewOfFile({addr:#x}) of a view failed: error {error}")),
            (false, None) => {
                let (lo, hi) = pages_of(addr, 1);
                self.reconcile(t, lo, hi, Allow::default())
            }
            (true, Some(i)) => {
                let v = self.slots[t].views.remove(i);
                let gone: Vec<u64> =
                    self.slots[t].model.committed_in(v.base / PAGE, v.end() / PAGE).map(|(p, _)| *p).collect();
                for p in gone {
                    self.slots[t].model.pages.remove(&p);
                }
                if let Some(Some(s)) = self.sections.get_mut(v.section) {
                    s.views -= 1;
                }
                self.release_if_unused(v.section)?;
                if self.query(t, v.base).is_none_or(|m| m.State != MEM_FREE) {
                    return Err(format!("the view at {:#x} unmapped but its range is not free", v.base));
                }
                self.reconcile(t, v.base, v.end(), Allow::default())
            }
        }
    }

    pub(crate) fn flush_view(&mut self, proc: usize, addr: u64, size: u64) -> Result<(), String> {
        let writes_may_fail = self.sys.mapped_io().faults.fail_writes > 0;
        let mut k = self.k(proc);
        let ok = k.FlushViewOfFile(addr, size) == TRUE;
        let error = k.GetLastError();
        let view = self.slots[proc].views.iter().copied().find(|v| v.holds(addr));
        let Some(v) = view else {
            return if ok { Err(format!("FlushViewOfFile({addr:#x}) succeeded where no view is")) } else { Ok(()) };
        };
        if !ok {
            return if writes_may_fail {
                Ok(())
            } else {
                Err(format!("FlushViewOfFile({addr:#x}, {size:#x}) of a view failed: error {error}"))
            };
        }
        let Some(Some(s)) = self.sections.get(v.section) else { return Ok(()) };
        // A flush folds in the dirty bits of the view it is given, and writes what any first
        // write marked modified; a write through another view after a flush reaches the file
        // at that view's trim, unmap or the segment's end, not at this flush (NT's
        // `MiFlushDirtyBitsToPfn` folds the flushed range only). So the file must match the
        // model here when no other view of the file can write to it.
        let backing = s.backing;
        let others = self
            .slots
            .iter()
            .flat_map(|slot| slot.views.iter())
            .filter(|o| (o.base, o.section) != (v.base, v.section) && !o.copy)
            .filter(|o| matches!(self.sections.get(o.section), Some(Some(os)) if os.backing == backing))
            .count();
        if let (Backing::File(f), false, 0) =
            (backing, self.known(crate::KnownBug::FlushMissesOtherViewsWrites), others)
        {
            let end = if size == 0 { v.end() } else { addr.saturating_add(size).min(v.end()) };
            let (lo, hi) = pages_of(addr, end - addr);
            let first = v.first + (lo - v.base) / PAGE;
            self.check_file(f, first, first + (hi - lo) / PAGE).map_err(|e| format!("after the flush: {e}"))?;
        }
        Ok(())
    }
}

/// The end below which ZeroBits `z` keep a view the system places (F47, F188, F205): 1 to 21
/// count from bit 31; larger values are masks whose leading zeros count, and a mask with
/// none sets no limit; 22 to 31 are refused (`None`). Written here again on purpose: the soak
/// is the reference model the service is checked against, so it does not call ntmem-win32's.
fn zero_bits_limit(z: u64) -> Option<u64> {
    match z {
        0 => Some(USER_END),
        1..=21 => Some(1 << (32 - z)),
        22..=31 => None,
        mask => Some(match mask.leading_zeros() {
            0 => USER_END,
            zeros => (1u64 << (64 - zeros)).min(USER_END),
        }),
    }
}
