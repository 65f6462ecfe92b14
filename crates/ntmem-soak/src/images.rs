//! The soak's PE image: one real DLL on disk, written by [`ntmem::pe::PeBuilder`], that
//! sections map with `SEC_IMAGE`; what each page of a view of it must hold and how it must be
//! protected, wherever the view lands (F162, F163).
//!
//! The model of the image is the soak's own, read from the file's headers with the `object`
//! crate, not ntmem's layout: the headers page holds the file's first `SizeOfHeaders` bytes,
//! each section its raw data (zeros past it, up to its virtual size), at its RVA; the
//! protection of a section's pages follows its characteristics (code `PAGE_EXECUTE_READ`,
//! read-only data `PAGE_READONLY`, writable data `PAGE_WRITECOPY`, writable shared data
//! `PAGE_READWRITE`); and a view away from the preferred base holds every stored address plus
//! the distance it moved, including the one that straddles a page boundary (F163).
//!
//! In a process, a view's pages are private to the model, each holding the bytes of its view,
//! except the `.shared` section's: those are one page for every view of every section of the
//! image in every process (the image segment's, [`Backing::Image`]), until the last section
//! of the image goes (ntmem deletes an unused segment at once, F206), when they are the file's
//! again. A code or read-only page never changes but by a write the process makes after
//! `VirtualProtect` made it copy-on-write, and then only in that process, as a private page
//! does; a `.data` page is copy-on-write from the start.

use std::path::PathBuf;

use ntmem::pe::{PeBuilder, PeSection};
use ntmem_win32::*;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::LittleEndian as LE;

use crate::model::{Backing, Content, Page, SharedPage, PAGE, PAGE_BYTES};
use crate::soak::Soak;

/// Where the image would be: free in a new process, so the first view of a process lands
/// there and a second one is relocated.
pub(crate) const PREFERRED_BASE: u64 = 0x6_0000_0000;

/// The image on disk and what a view of it holds at its preferred base.
pub(crate) struct ImageFile {
    pub(crate) path: PathBuf,
    /// `SizeOfImage` bytes, as mapped at the preferred base.
    bytes: Vec<u8>,
    /// Each page's protection as a view shows it.
    protections: Vec<u32>,
    /// Pages of the truly shared section.
    shared: std::ops::Range<u64>,
    /// Each stored address: its RVA, and its value at the preferred base.
    pointers: Vec<(u32, u64)>,
    /// The shared pages as every view sees them now (one per page of `shared`).
    pub(crate) shared_now: Vec<Content>,
    /// The file as written, which nothing may change.
    file: Vec<u8>,
}

impl ImageFile {
    /// Bytes a view of the whole image maps.
    pub(crate) fn view_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The shared pages as the file has them, as when the image segment is made again.
    pub(crate) fn reset_shared(&mut self) {
        self.shared_now = self.shared.clone().map(|p| self.page_content(p, 0)).collect();
    }

    /// Page `page` of the image as a view `delta` bytes from the preferred base holds it.
    fn page_content(&self, page: u64, delta: u64) -> Content {
        let at = usize::try_from(page * PAGE).unwrap_or(usize::MAX);
        let mut bytes = self.bytes[at..at + PAGE_BYTES].to_vec();
        let range = page * PAGE..(page + 1) * PAGE;
        for &(rva, value) in &self.pointers {
            let moved = value.wrapping_add(delta).to_le_bytes();
            for (k, b) in moved.iter().enumerate() {
                let byte_at = u64::from(rva) + k as u64;
                if range.contains(&byte_at) {
                    bytes[usize::try_from(byte_at - range.start).unwrap_or(0)] = *b;
                }
            }
        }
        Content::of(&bytes)
    }
}

/// Writes the soak's DLL into `dir` and reads back what a view of it must hold: two pages of
/// code with an address that straddles its page boundary, a page of read-only data with an
/// address, `.data` whose second page is demand-zero with an address, and a shared page.
pub(crate) fn make_image(dir: &std::path::Path) -> Result<ImageFile, String> {
    let built = PeBuilder::dll(PREFERRED_BASE)
        .text_size(0x2000)
        .rdata_size(0x1000)
        .data_size(0x200, 0x2000)
        .shared_section(0x1000)
        .pointer(PeSection::Text, 0xFFC, PeSection::Rdata, 0x10)
        .pointer(PeSection::Rdata, 0x100, PeSection::Data, 0x40)
        .pointer(PeSection::Data, 0x8, PeSection::Text, 0x1234)
        .build()
        .map_err(|e| format!("building the soak's image: {e}"))?;
    let path = dir.join("soak-image.dll");
    std::fs::write(&path, built.bytes()).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let file = built.bytes();
    let pe = PeFile64::parse(file).map_err(|e| format!("reading the soak's image back: {e}"))?;
    let optional = pe.nt_headers().optional_header();
    let size = usize::try_from(optional.size_of_image()).map_err(|e| e.to_string())?.next_multiple_of(PAGE_BYTES);
    let headers = usize::try_from(optional.size_of_headers()).map_err(|e| e.to_string())?;
    let mut bytes = vec![0u8; size];
    bytes[..headers].copy_from_slice(&file[..headers]);
    let pages = size / PAGE_BYTES;
    let mut protections = vec![None; pages];
    protections[0] = Some(PAGE_READONLY);
    let mut shared = 0..0;
    for s in pe.section_table().iter() {
        let (va, virtual_size) = (s.virtual_address.get(LE) as usize, s.virtual_size.get(LE) as usize);
        let (raw_at, raw) = (s.pointer_to_raw_data.get(LE) as usize, s.size_of_raw_data.get(LE) as usize);
        let n = raw.min(virtual_size);
        bytes[va..va + n].copy_from_slice(&file[raw_at..raw_at + n]);
        let c = s.characteristics.get(LE);
        let protect = match (c & object::pe::IMAGE_SCN_MEM_WRITE != 0, c & object::pe::IMAGE_SCN_MEM_EXECUTE != 0) {
            (true, _) if c & object::pe::IMAGE_SCN_MEM_SHARED != 0 => PAGE_READWRITE,
            (true, true) => PAGE_EXECUTE_WRITECOPY,
            (true, false) => PAGE_WRITECOPY,
            (false, true) => PAGE_EXECUTE_READ,
            (false, false) => PAGE_READONLY,
        };
        let (first, end) = (va / PAGE_BYTES, (va + virtual_size).div_ceil(PAGE_BYTES));
        for p in &mut protections[first..end] {
            *p = Some(protect);
        }
        if c & object::pe::IMAGE_SCN_MEM_SHARED != 0 {
            shared = first as u64..end as u64;
        }
    }
    // A page of no section (a gap) would be reserved in a view, not committed: the model
    // holds committed pages only, so the soak's image has none.
    let protections = protections
        .into_iter()
        .enumerate()
        .map(|(p, x)| x.ok_or_else(|| format!("page {p} of the soak's image is in no section")))
        .collect::<Result<Vec<u32>, String>>()?;
    let pointers = built.pointers().to_vec();
    let file = built.into_bytes();
    let mut image = ImageFile { path, bytes, protections, shared, pointers, shared_now: Vec::new(), file };
    image.reset_shared();
    Ok(image)
}

impl Soak {
    /// A view of `pages` pages of the image was mapped at `base` in `slot` (`status` the
    /// NTSTATUS when `NtMapViewOfSection` mapped it): checks where it went and how each page is
    /// protected (F162, F163), then models its pages.
    pub(crate) fn model_image_view(
        &mut self,
        slot: usize,
        base: u64,
        pages: u64,
        status: Option<NTSTATUS>,
        preferred_was_free: bool,
    ) -> Result<(), String> {
        if preferred_was_free && base != PREFERRED_BASE {
            return Err(format!("an image view went to {base:#x} though its preferred base was free (F163)"));
        }
        let want = if base == PREFERRED_BASE { STATUS_SUCCESS } else { STATUS_IMAGE_NOT_AT_BASE };
        if let Some(got) = status.filter(|&s| s != want) {
            return Err(format!("NtMapViewOfSection of the image at {base:#x}: {got:#x}, not {want:#x} (F163)"));
        }
        let delta = base.wrapping_sub(PREFERRED_BASE);
        for page in 0..pages.min(self.image.protections.len() as u64) {
            let addr = base + page * PAGE;
            let protect = self.image.protections[usize::try_from(page).unwrap_or(0)];
            let m = self.query(slot, addr).ok_or_else(|| format!("VirtualQuery({addr:#x}) of an image view failed"))?;
            if (m.State, m.Type, m.Protect, m.AllocationProtect)
                != (MEM_COMMIT, MEM_IMAGE, protect, PAGE_EXECUTE_WRITECOPY)
            {
                return Err(format!(
                    "image page {page} at {addr:#x}: state {:#x}, type {:#x}, protection {:#x}, allocation protection \
                     {:#x}; the image says MEM_COMMIT, MEM_IMAGE, {protect:#x}, PAGE_EXECUTE_WRITECOPY (F162)",
                    m.State, m.Type, m.Protect, m.AllocationProtect
                ));
            }
            let mut p = Page::private(protect);
            if self.image.shared.contains(&page) {
                p.shared = Some(SharedPage { backing: Backing::Image, page });
            } else {
                p.content = self.image.page_content(page, delta);
            }
            self.slots[slot].model.pages.insert(addr / PAGE, p);
        }
        Ok(())
    }

    /// The shared page `page` of the image, as every view sees it.
    pub(crate) fn image_shared_content(&mut self, page: u64) -> Option<&mut Content> {
        let at = page.checked_sub(self.image.shared.start)?;
        self.image.shared_now.get_mut(usize::try_from(at).ok()?)
    }

    /// Whether a whole view of the image at `base` would lie in free memory of `slot`.
    pub(crate) fn image_fits_at(&mut self, slot: usize, base: u64) -> bool {
        let end = base.saturating_add(self.image.view_bytes());
        self.query(slot, base).is_some_and(|m| m.State == MEM_FREE && m.BaseAddress + m.RegionSize >= end)
    }

    /// The end of a run, every process gone: no image segment is left, and the file is as
    /// written (an image is never written back).
    pub(crate) fn settle_image(&mut self) -> Result<(), String> {
        let left = self.sys.segments().image_segments().count();
        if left != 0 {
            return Err(format!("{left} image segments left with every process gone"));
        }
        let on_disk = std::fs::read(&self.image.path).map_err(|e| format!("reading the soak's image: {e}"))?;
        if on_disk != self.image.file {
            return Err("the soak's image file changed on disk".into());
        }
        Ok(())
    }
}
