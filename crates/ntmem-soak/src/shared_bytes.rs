//! The model of the bytes behind views: a view page's bytes are not the process's but its
//! section's ([`Backing`]: a host file's page, a page-file segment's, or the image's shared
//! page), so every view of a section, in any process, reads what any other wrote; a
//! copy-on-write page (a `FILE_MAP_COPY` view, a page made `PAGE_WRITECOPY`) becomes the
//! process's own at its first write, and nobody else sees that write. Also the reconciling of
//! view pages with `VirtualQuery` (`MEM_MAPPED` and `MEM_IMAGE` regions). The sections and
//! views themselves, and their calls, are `sections.rs`'s.

use ntmem_win32::*;

use crate::model::{for_pages, Backing, Content, SharedPage, PAGE};
use crate::soak::{Allow, Soak};

impl Soak {
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
            Backing::Image => self.image_shared_content(sp.page),
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
            // A write to an image page that is not writable can only be `WriteProcessMemory`'s,
            // which made the page writable for it: on an image, copy-on-write (F162, F176).
            let patched =
                sp.backing == Backing::Image && !matches!(p.protect & 0xFF, PAGE_READWRITE | PAGE_EXECUTE_READWRITE);
            if writecopy || patched || self.is_copy_view(slot, vpn * PAGE) {
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
    /// says is `MEM_MAPPED` or `MEM_IMAGE` with state `state` and protection `protect`.
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
}

/// Whether a write the model applies surely happened, or may have (it failed part-way).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    Yes,
    Maybe,
}
