//! Page-fault resolution: the memory manager's answer when the MMU finds no usable PTE.
//!
//! Classification (docs/design.md, "An access, step by step"), from the PTE:
//! - zero (free or reserved) → access violation (F91, F94);
//! - a write the protection forbids → access violation, the guard (if any) left armed: NT's
//!   `MiAccessCheck` returns the access violation when both could occur (F93);
//! - guard protection → clear the guard, raise the guard-page exception once (F96, F97); an
//!   instruction fetch meets the guard first and the no-execute check on the retry (F99);
//! - protection forbids the access → access violation (F92, F95);
//! - demand-zero → take a zeroed frame (F13);
//! - transition → the frame is still in memory (on the standby or modified list, or a
//!   resident guard / no-access page): take it back, no I/O — a soft fault;
//! - page file → read the page, and up to the cluster size less one of its neighbours in the
//!   same allocation whose slots follow on, in one read — a hard fault. The neighbours go to
//!   the standby list, so touching them next is a soft fault;
//! - valid but not permitting the access → access violation.
//!
//! - zero in a view, or a prototype pointer → through the prototype PTE (`view.rs`);
//! - a write to a resident copy-on-write view page → a private copy (F158).

use super::access::{AccessFault, FaultKind};
use super::AddressSpace;
use crate::machine::{Fill, Machine};
use crate::page_file::SlotRun;
use crate::paging::{AccessKind, Leaf, Protection, Pte, ValidPte};
use crate::phys::{FrameUse, ListKind, PfnFlags};
use crate::units::{Pfn, PhysAddr, Vpn};

/// The access a page must allow to be brought in for `access`: a write to a copy-on-write
/// page (a private one: a relocated image page) brings it in as a read would, and the retry
/// then makes it writable (`write_own_copy`).
fn paging_in_for(access: AccessKind, protection: Protection) -> AccessKind {
    if access == AccessKind::Write && protection.is_copy_on_write() {
        AccessKind::Read
    } else {
        access
    }
}

fn permits(p: Protection, access: AccessKind) -> bool {
    match access {
        AccessKind::Read => p.can_read(),
        AccessKind::Write => p.can_write(),
        AccessKind::Execute => p.can_execute(),
    }
}

/// One page of a hard fault's cluster.
struct ClusterPage {
    vpn: Vpn,
    at: PhysAddr,
    protection: Protection,
}

impl AddressSpace {
    pub(crate) fn resolve_fault(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        access: AccessKind,
        pte: Pte,
        addr: u64,
    ) -> Result<(), AccessFault> {
        // View pages resolve through their prototype PTE, and build their own tables.
        if matches!(pte, Pte::Zero | Pte::Prototype { .. }) {
            return self.view_fault(m, vpn, access, pte, addr);
        }
        let Leaf::Pte(at) = self.tables.leaf(&m.phys, vpn) else {
            return Err(self.violation(addr, access));
        };
        match pte {
            Pte::Valid(v)
                if access == AccessKind::Write
                    && v.protection().is_copy_on_write()
                    && m.phys.pfn(v.pfn()).usage() == FrameUse::Section =>
            {
                self.copy_on_write_valid(m, vpn, at, v, addr)
            }
            Pte::Valid(v)
                if access == AccessKind::Write
                    && v.protection().is_copy_on_write()
                    && m.phys.pfn(v.pfn()).usage() == FrameUse::Private
                    && self.view_at(vpn).is_some() =>
            {
                self.write_own_copy(m, vpn, at, v);
                Ok(())
            }
            Pte::Zero | Pte::Valid(_) | Pte::Prototype { .. } => Err(self.violation(addr, access)),
            Pte::DemandZero(p) => {
                if access == AccessKind::Write && !p.can_write() {
                    return Err(self.violation(addr, access));
                }
                if p.is_guard() {
                    self.set_pte(&mut m.phys, at, vpn, Pte::DemandZero(p.without_guard()));
                    return Err(self.guard_fired(addr, access));
                }
                if !permits(p, access) {
                    return Err(self.violation(addr, access));
                }
                self.make_room_in_working_set(m, vpn);
                let Some(pfn) = m.allocate(FrameUse::Private, Some(at), Fill::Zero) else {
                    return Err(AccessFault { kind: FaultKind::OutOfFrames, access, address: addr });
                };
                let e = m.phys.pfn_mut(pfn);
                e.protection = p;
                // No copy exists anywhere: the page must be written before its frame is reused.
                e.flags.set(PfnFlags::MODIFIED, true);
                self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte::new(pfn, p)));
                self.counters.faults.demand_zero += 1;
                Ok(())
            }
            Pte::Transition { pfn, protection } => {
                let need = paging_in_for(access, protection);
                if need == AccessKind::Write && !protection.can_write() {
                    return Err(self.violation(addr, access));
                }
                if protection.is_guard() {
                    let cleared = protection.without_guard();
                    m.phys.pfn_mut(pfn).protection = cleared;
                    self.set_pte(&mut m.phys, at, vpn, Pte::Transition { pfn, protection: cleared });
                    return Err(self.guard_fired(addr, access));
                }
                if !permits(protection, need) {
                    return Err(self.violation(addr, access));
                }
                self.make_room_in_working_set(m, vpn);
                m.phys.unpark(pfn);
                self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte::new(pfn, protection)));
                self.counters.faults.soft += 1;
                Ok(())
            }
            Pte::PageFile { file, slot, protection } => {
                let need = paging_in_for(access, protection);
                if need == AccessKind::Write && !protection.can_write() {
                    return Err(self.violation(addr, access));
                }
                if protection.is_guard() {
                    let cleared = Pte::PageFile { file, slot, protection: protection.without_guard() };
                    self.set_pte(&mut m.phys, at, vpn, cleared);
                    return Err(self.guard_fired(addr, access));
                }
                if !permits(protection, need) {
                    return Err(self.violation(addr, access));
                }
                self.make_room_in_working_set(m, vpn);
                self.hard_fault(m, ClusterPage { vpn, at, protection }, file, slot).map_err(|kind| AccessFault {
                    kind,
                    access,
                    address: addr,
                })?;
                self.counters.faults.hard += 1;
                Ok(())
            }
        }
    }

    /// The neighbours of a paged-out page that can come in with it: same allocation, same
    /// file, slots following on. Forward first, then backward; `cluster` pages at most.
    fn gather_cluster(&self, m: &Machine, page: ClusterPage, file: u8, slot: u32) -> (Vec<ClusterPage>, u32) {
        let Some(vad) = self.vads.find(page.vpn) else { return (vec![page], slot) };
        let range = vad.range;
        let max = u64::from(m.cluster.max(1));
        let neighbour = |vpn: Vpn, want: u32| -> Option<ClusterPage> {
            let Leaf::Pte(at) = self.tables.leaf(&m.phys, vpn) else { return None };
            match Pte::decode(m.phys.read_u64(at)) {
                Pte::PageFile { file: f, slot: s, protection } if f == file && s == want => {
                    Some(ClusterPage { vpn, at, protection })
                }
                _ => None,
            }
        };
        let mut after = Vec::new();
        let mut k = 1u32;
        while 1 + (after.len() as u64) < max && page.vpn.as_u64() + u64::from(k) < range.end.as_u64() {
            match slot.checked_add(k).and_then(|s| neighbour(page.vpn.add(u64::from(k)), s)) {
                Some(p) => after.push(p),
                None => break,
            }
            k += 1;
        }
        let mut before = Vec::new();
        let mut k = 1u32;
        while 1 + ((after.len() + before.len()) as u64) < max
            && page.vpn.as_u64() >= range.start.as_u64() + u64::from(k)
        {
            match slot
                .checked_sub(k)
                .filter(|s| *s != 0)
                .and_then(|s| neighbour(Vpn(page.vpn.as_u64() - u64::from(k)), s))
            {
                Some(p) => before.push(p),
                None => break,
            }
            k += 1;
        }
        let first_slot = slot - u32::try_from(before.len()).unwrap_or(0);
        before.reverse();
        before.push(page);
        before.extend(after);
        (before, first_slot)
    }

    /// Reads a paged-out page with its cluster in one I/O. The faulting page becomes valid,
    /// its neighbours go to standby. On a read failure nothing changes.
    fn hard_fault(&mut self, m: &mut Machine, page: ClusterPage, file: u8, slot: u32) -> Result<(), FaultKind> {
        let faulting = page.vpn;
        let (pages, first_slot) = self.gather_cluster(m, page, file, slot);
        let target = pages.iter().position(|p| p.vpn == faulting).unwrap_or(0);
        // Frames for the faulting page, then outwards; the run read stays contiguous.
        let mut frames: Vec<Option<Pfn>> = vec![None; pages.len()];
        frames[target] = m.allocate(FrameUse::Private, Some(pages[target].at), Fill::Overwrite);
        if frames[target].is_none() {
            return Err(FaultKind::OutOfFrames);
        }
        let mut hi = target + 1;
        while hi < pages.len() {
            match m.allocate(FrameUse::Private, Some(pages[hi].at), Fill::Overwrite) {
                Some(f) => frames[hi] = Some(f),
                None => break,
            }
            hi += 1;
        }
        let mut lo = target;
        while lo > 0 {
            match m.allocate(FrameUse::Private, Some(pages[lo - 1].at), Fill::Overwrite) {
                Some(f) => frames[lo - 1] = Some(f),
                None => break,
            }
            lo -= 1;
        }
        let count = hi - lo;
        let run = SlotRun {
            file,
            first: first_slot + u32::try_from(lo).unwrap_or(0),
            count: u32::try_from(count).unwrap_or(0),
        };
        // One page reads straight into its frame; a cluster straight into its frames, wherever
        // they lie, with one vectored read.
        let read = if count == 1 {
            let pfn = frames[target].expect("the faulting page's frame was allocated");
            m.files.read(run, m.phys.frame_mut(pfn))
        } else {
            let run_frames: Vec<Pfn> = frames[lo..hi].iter().flatten().copied().collect();
            match m.phys.frames_mut(&run_frames) {
                Some(pages) => m.files.read_pages(run, pages),
                None => Err(std::io::Error::other("a cluster named one frame twice")),
            }
        };
        if read.is_err() {
            for f in frames.iter().flatten() {
                m.phys.release(*f);
            }
            return Err(FaultKind::InPageError);
        }
        for (i, page) in pages.iter().enumerate().take(hi).skip(lo) {
            let pfn = frames[i].expect("frames lo..hi were allocated");
            let e = m.phys.pfn_mut(pfn);
            e.protection = page.protection;
            e.set_backing(Some((file, run.first + u32::try_from(i - lo).unwrap_or(0))));
            if i == target {
                self.set_pte(&mut m.phys, page.at, page.vpn, Pte::Valid(ValidPte::new(pfn, page.protection)));
            } else {
                self.set_pte(&mut m.phys, page.at, page.vpn, Pte::Transition { pfn, protection: page.protection });
                m.phys.park(pfn, ListKind::Standby);
            }
        }
        Ok(())
    }

    pub(crate) fn violation(&mut self, address: u64, access: AccessKind) -> AccessFault {
        self.counters.faults.access_violation += 1;
        AccessFault { kind: FaultKind::AccessViolation, access, address }
    }

    fn guard_fired(&mut self, address: u64, access: AccessKind) -> AccessFault {
        self.counters.faults.guard += 1;
        AccessFault { kind: FaultKind::GuardPage, access, address }
    }
}
