//! Sections in the soak: page-file sections (`SEC_COMMIT`, `SEC_RESERVE`) and sections of two
//! real host files (`files.rs`: the files, their model and their own reads and writes), made
//! through `CreateFileMappingW` or `NtCreateSection` ([`Route`]), their handles and views in
//! every process; the model of the bytes behind them, and what each call must do (issue 7).
//!
//! The bytes of a shared view page are not the process's: they live in the model of its
//! [`Backing`] — one per host file (a file has one data segment however many sections map it,
//! and `ReadFile`/`WriteFile` see the same pages, F161) and one per page-file section — so every
//! view of a section, in any process, reads what any other wrote. A page of a copy-on-write
//! view (`FILE_MAP_COPY`, or a page made `PAGE_WRITECOPY`) becomes the process's own at its
//! first write; nobody else sees that write.
//!
//! Checked: a refused call changes neither the committed pages nor the commit charge; a
//! mapping, unmapping or close through a handle the model knows succeeds, one it rules out
//! fails; after a successful `FlushViewOfFile` the host file holds the model's bytes over the
//! range flushed, and once a file's last section and view are gone (its data segment deleted)
//! the whole host file does; a page-file section's bytes go with its last reference (a new
//! section of the same name reads zeros); a section built under a name in use obeys the same
//! rules as a new one (F208), and one larger than its file grows the file (`files.rs`).
//! Mapped-file reads and writes fail on request
//! ([`crate::Call::InjectMappedFaults`]): a read then raises `STATUS_IN_PAGE_ERROR`, a failed
//! write-back keeps the pages dirty; nothing is lost either way.

use std::collections::BTreeMap;

use ntmem::units::USER_END;
use ntmem_win32::*;

use crate::apply::{bad_handle_check, pages_of, push_recent};
use crate::call::{Route, Target};
use crate::model::{for_pages, Backing, Content, SharedPage, PAGE};
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
    fn end(&self) -> u64 {
        self.base + self.pages * PAGE
    }

    fn holds(&self, addr: u64) -> bool {
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
    // The model of shared bytes.

    /// The view page of `slot` at page `vpn`, if a modelled view holds it.
    pub(crate) fn view_page(&self, slot: usize, vpn: u64) -> Option<SharedPage> {
        let v = self.slots[slot].views.iter().find(|v| v.holds(vpn * PAGE))?;
        let s = self.sections.get(v.section)?.as_ref()?;
        Some(SharedPage { backing: s.backing, page: v.first + (vpn - v.base / PAGE) })
    }

    /// The bytes of a shared page, when it is committed.
    pub(crate) fn backing_content(&mut self, sp: SharedPage) -> Option<&mut Content> {
        let page = usize::try_from(sp.page).ok()?;
        match sp.backing {
            Backing::File(f) => self.files.get_mut(f)?.pages.get_mut(page),
            Backing::Segment(g) => self.segments.get_mut(g)?.as_mut()?.pages.get_mut(&sp.page),
        }
    }

    /// A page of a `SEC_RESERVE` section committed through a view: zeros.
    pub(crate) fn commit_backing(&mut self, sp: SharedPage) {
        if let Backing::Segment(g) = sp.backing {
            if let Some(Some(seg)) = self.segments.get_mut(g) {
                seg.pages.entry(sp.page).or_insert_with(Content::zero);
            }
        }
    }

    fn is_copy_view(&self, slot: usize, addr: u64) -> bool {
        self.slots[slot].views.iter().any(|v| v.holds(addr) && v.copy)
    }

    /// `data` was written at `addr` by (or into) the process of `slot`: into its private
    /// pages, the shared pages of its views, or a copy-on-write page now its own.
    pub(crate) fn model_write(&mut self, slot: usize, addr: u64, data: &[u8]) {
        self.apply_write(slot, addr, data, Written::Yes);
    }

    /// A write of `data` at `addr` in `slot` failed part-way with an in-page error: the pages
    /// before the failing one may hold their part of it. A copy-on-write page that was copied
    /// (`VirtualQuery` shows the copy's read-write protection) is now the process's own.
    pub(crate) fn model_maybe_write(&mut self, slot: usize, addr: u64, data: &[u8]) {
        self.apply_write(slot, addr, data, Written::Maybe);
    }

    fn apply_write(&mut self, slot: usize, addr: u64, data: &[u8], written: Written) {
        let put = |c: &mut Content, off: usize, bytes: &[u8]| match written {
            Written::Yes => c.write(off, bytes),
            Written::Maybe => c.maybe_write(off, bytes),
        };
        let mut pieces = Vec::new();
        for_pages(addr, data.len(), |vpn, off, range| pieces.push((vpn, off, range)));
        for (vpn, off, range) in pieces {
            let Some(p) = self.slots[slot].model.pages.get(&vpn) else { continue };
            let Some(sp) = p.shared else {
                if let Some(p) = self.slots[slot].model.pages.get_mut(&vpn) {
                    put(&mut p.content, off, &data[range]);
                }
                continue;
            };
            let writecopy = matches!(p.protect & 0xFF, PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY);
            if writecopy || self.is_copy_view(slot, vpn * PAGE) {
                let copied = written == Written::Yes
                    || self
                        .query(slot, vpn * PAGE)
                        .is_some_and(|m| matches!(m.Protect & 0xFF, PAGE_READWRITE | PAGE_EXECUTE_READWRITE));
                if copied {
                    let mut content = self.backing_content(sp).cloned().unwrap_or(Content::Any);
                    put(&mut content, off, &data[range]);
                    if let Some(p) = self.slots[slot].model.pages.get_mut(&vpn) {
                        p.shared = None;
                        p.content = content;
                    }
                }
            } else if let Some(c) = self.backing_content(sp) {
                put(c, off, &data[range]);
            }
        }
    }

    /// Checks `got`, read at `addr` in `slot`: `Err` names the first byte no image explains.
    pub(crate) fn model_check_read(&mut self, slot: usize, addr: u64, got: &[u8]) -> Result<(), String> {
        let mut pieces = Vec::new();
        for_pages(addr, got.len(), |vpn, off, range| pieces.push((vpn, off, range)));
        for (vpn, off, range) in pieces {
            let shared = match self.slots[slot].model.pages.get(&vpn) {
                None => return Err(format!("page {:#x} read but not in the model", vpn * PAGE)),
                Some(p) => p.shared,
            };
            let content = match shared {
                Some(sp) => self.backing_content(sp),
                None => self.slots[slot].model.pages.get_mut(&vpn).map(|p| &mut p.content),
            };
            let Some(content) = content else {
                return Err(format!("view page {:#x} read but its section page is not committed", vpn * PAGE));
            };
            if let Err((at, want)) = content.check_read(off, &got[range.clone()]) {
                let whose = shared.map_or(String::new(), |s| format!(" (shared: {s:?})"));
                return Err(format!(
                    "lost byte at {:#x}{whose}: read {:#04x}, the model allows {want:02x?}",
                    vpn * PAGE + at as u64,
                    got[range.start + at - off],
                ));
            }
        }
        Ok(())
    }

    /// `MEM_RESET` (or its undo) on the page `vpn` of `slot`.
    pub(crate) fn model_reset(&mut self, slot: usize, vpn: u64, undo: bool) {
        let Some(p) = self.slots[slot].model.pages.get_mut(&vpn) else { return };
        match p.shared {
            // A reset shared page may be dropped or kept, written back or not: anything.
            Some(sp) if !undo => {
                if let Some(c) = self.backing_content(sp) {
                    *c = Content::Any;
                }
            }
            Some(_) => {}
            None if undo => p.content.reset_undo(),
            None => p.content.reset(),
        }
    }

    /// Reconciles every view of `slot` overlapping `[lo, hi)`, and every other view of the
    /// same bytes (a `SEC_RESERVE` page committed through one view is committed in all).
    pub(crate) fn sync_views(&mut self, slot: usize, lo: u64, hi: u64) -> Result<(), String> {
        let backings: Vec<Backing> = self.slots[slot]
            .views
            .iter()
            .filter(|v| v.base < hi && lo < v.end())
            .filter_map(|v| self.sections.get(v.section)?.as_ref().map(|s| s.backing))
            .collect();
        if backings.is_empty() {
            return Ok(());
        }
        for s in 0..self.slots.len() {
            let ranges: Vec<(u64, u64)> = self.slots[s]
                .views
                .iter()
                .filter(|v| {
                    self.sections.get(v.section).and_then(Option::as_ref).is_some_and(|x| backings.contains(&x.backing))
                })
                .map(|v| (v.base, v.end()))
                .collect();
            for (a, b) in ranges {
                self.reconcile(s, a, b, Allow::default()).map_err(|e| format!("slot {s}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The mapped part of a reconcile: pages `[first, last)` of `slot`, a region `VirtualQuery`
    /// says is `MEM_MAPPED` with state `state` and protection `protect`.
    pub(crate) fn reconcile_view(
        &mut self,
        slot: usize,
        first: u64,
        last: u64,
        state: u32,
        protect: u32,
        allow: Allow,
    ) -> Result<(), String> {
        for vpn in first..last {
            let Some(sp) = self.view_page(slot, vpn) else {
                return Err(format!("{:#x} is in a view the model does not know", vpn * PAGE));
            };
            let committed = self.backing_content(sp).is_some();
            let present = self.slots[slot].model.pages.contains_key(&vpn);
            if state == MEM_COMMIT {
                if !committed && !present {
                    if !allow.add {
                        return Err(format!("view page {:#x} ({sp:?}) became committed", vpn * PAGE));
                    }
                    self.commit_backing(sp);
                }
                let model = &mut self.slots[slot].model;
                match model.pages.get_mut(&vpn) {
                    Some(p) => p.protect = protect,
                    None => {
                        let mut p = crate::model::Page::private(protect);
                        p.shared = Some(sp);
                        model.pages.insert(vpn, p);
                    }
                }
            } else if committed || present {
                return Err(format!(
                    "view page {:#x} ({sp:?}, committed in the model) is now state {state:#x}",
                    vpn * PAGE
                ));
            }
        }
        Ok(())
    }

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
        file: Option<u8>,
        file_write: bool,
        protect: u32,
        size: u64,
        name: Option<u8>,
        route: Route,
    ) -> Result<(), String> {
        let commit_before = self.sys.stats().commit_total;
        let existing = name.and_then(|n| self.live_named(n));
        let name_str = name.map(section_name);
        let file = file.map(|f| usize::from(f) % self.files.len());
        let fh = match file {
            None => INVALID_HANDLE_VALUE,
            Some(f) => {
                let path = self.files[f].path.to_string_lossy().into_owned();
                let access = GENERIC_READ | if file_write { GENERIC_WRITE } else { 0 };
                let mut k = self.k(proc);
                let h = k.CreateFileW(&path, access, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0);
                if h == INVALID_HANDLE_VALUE {
                    return Err(format!("CreateFileW of soak file {f}: error {}", k.GetLastError()));
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
        if fh != INVALID_HANDLE_VALUE && self.k(proc).CloseHandle(fh) != TRUE {
            return Err(format!("CloseHandle of a file handle: error {}", self.k(proc).GetLastError()));
        }
        let made = made?;
        let base = protect & 0xFFFF;
        let writes = base == PAGE_READWRITE || base == PAGE_EXECUTE_READWRITE;
        // Built, whatever its name then decided (F208): the checks of F122 and F128 passed.
        let built = !matches!(made, Made::Refused);
        if built && file.is_none() && size == 0 {
            return Err("a section of the page file with size 0 was built (F122)".into());
        }
        if built && file.is_some() && !file_write && writes {
            return Err("a PAGE_READWRITE section of a file opened for reading only was built (F128)".into());
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
        // for all access), the views the section's (F153).
        let write = (writes || route != Route::CreateFileMapping) && s.writable;
        self.slots[proc].handles.push(SectionHandle { raw: h, section, write });
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
                let write = access & FILE_MAP_WRITE != 0 && s.writable;
                self.slots[proc].handles.push(SectionHandle { raw: h as usize as u64, section, write });
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
        let commit_before = self.sys.stats().commit_total;
        let raw = handle(h.map_or(NOT_A_HANDLE, |h| h.raw));
        #[allow(clippy::cast_possible_truncation)] // The halves of the offset, as the API takes them.
        let (r, error) = if let Some(z) = zero_bits {
            let (mut b, mut s, mut off) = (base, size, i64::try_from(offset).unwrap_or(i64::MAX));
            let prot = view_protection(access);
            let st =
                self.nt(proc).NtMapViewOfSection(raw, ph, &mut b, z, 0, Some(&mut off), &mut s, VIEW_SHARE, 0, prot);
            // The NTSTATUS, shown as the error of a refused map.
            (if st >= 0 { b } else { 0 }, st.cast_unsigned())
        } else if ts == Some(proc) && target == Target::Current {
            let r = self.k(proc).MapViewOfFileEx(raw, access, (offset >> 32) as u32, offset as u32, size, base);
            (r, self.k(proc).GetLastError())
        } else {
            let r = self.k(proc).MapViewOfFile2(raw, ph, offset, base, size, 0, view_protection(access));
            (r, self.k(proc).GetLastError())
        };
        let limit = zero_bits.map_or(Some(USER_END), zero_bits_limit);
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
        let copy = matches!(view_protection(access), PAGE_WRITECOPY | PAGE_EXECUTE_WRITECOPY);
        let view = ViewModel { base: r, pages, section: h.section, first: offset / PAGE, copy };
        self.slots[t].views.push(view);
        if let Some(Some(s)) = self.sections.get_mut(h.section) {
            s.views += 1;
        }
        push_recent(&mut self.slots[t].allocs, (r, pages * PAGE));
        self.reconcile(t, r, view.end(), Allow::default())
    }

    pub(crate) fn unmap_view(&mut self, proc: usize, target: Target, addr: u64) -> Result<(), String> {
        let (ph, ts) = self.open(proc, target);
        let ok = if target == Target::Current {
            self.k(proc).UnmapViewOfFile(addr)
        } else {
            self.k(proc).UnmapViewOfFile2(ph, addr, 0)
        } == TRUE;
        let error = self.k(proc).GetLastError();
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

/// Whether a write the model applies surely happened, or may have (it failed part-way).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    Yes,
    Maybe,
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
