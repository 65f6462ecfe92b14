//! Trimming: taking resident pages out of the working set onto the standby or modified list.
//!
//! A trimmed page keeps its frame behind a transition PTE, so touching it again is a soft
//! fault. The PTE's dirty bit folds into the PFN's modified bit; a page whose contents differ
//! from its page-file copy (or that has none) goes to the modified list and loses its stale
//! slot, a clean one to standby. Locked pages are never trimmed.

use super::AddressSpace;
use crate::arch::x86_64 as hw;
use crate::machine::Machine;
use crate::paging::{FlushRuns, Leaf, Pte, TlbFlush};
use crate::phys::{FrameUse, ListKind, PfnFlags};
use crate::units::Vpn;

use super::working_set::MAX_AGE;

impl AddressSpace {
    /// Ages up to `budget` pages under the working set's aging hand: accessed pages become
    /// young (their accessed bit cleared, and their TLB entry dropped so the next access sets
    /// it again), the others age. Returns the pages aged.
    ///
    /// The hand moves in address order, so the accessed pages come in runs: each run's TLB
    /// entries are dropped at once (the native engine unmaps a run with one system call).
    pub(crate) fn age_some(&mut self, m: &mut Machine, budget: u64) -> u64 {
        let pages = self.ws.advance_hand(budget);
        let mut runs = FlushRuns::default();
        for &vpn in &pages {
            let mut owed = None;
            if let Leaf::Pte(at) = self.tables.leaf(&m.phys, vpn) {
                let raw = m.phys.read_u64(at);
                if raw & hw::P != 0 && raw & hw::A != 0 {
                    m.phys.write_u64(at, raw & !hw::A);
                    self.ws.set_age(vpn, 0);
                    owed = Some(TlbFlush::page(vpn));
                } else if raw & hw::P != 0 {
                    let age = self.ws.age(vpn);
                    self.ws.set_age(vpn, age.saturating_add(1).min(MAX_AGE));
                }
            }
            runs.note(&mut self.tlb, vpn, owed);
        }
        runs.finish(&mut self.tlb);
        pages.len() as u64
    }

    /// Trims up to `n` pages, oldest first, never below `floor` pages; returns how many. Costs
    /// what it trims (and the locked pages it steps over), not the working set's size.
    pub(crate) fn trim(&mut self, m: &mut Machine, n: u64, floor: u64) -> u64 {
        let mut trimmed = 0;
        let mut victims = self.ws.victims();
        // Victims of one age come in address order: a run of them is flushed at once.
        let mut runs = FlushRuns::default();
        while trimmed < n && self.ws.len() > floor {
            let Some(vpn) = victims.next(&mut self.ws) else { break };
            let (count, owed) = self.trim_page_owing(m, vpn);
            runs.note(&mut self.tlb, vpn, owed);
            trimmed += count;
        }
        runs.finish(&mut self.tlb);
        trimmed
    }

    /// Trims one resident page; returns 1 when it was trimmed (0 when locked or not resident).
    pub(crate) fn trim_page(&mut self, m: &mut Machine, vpn: Vpn) -> u64 {
        let (count, owed) = self.trim_page_owing(m, vpn);
        TlbFlush::apply_owed(owed, &mut self.tlb);
        count
    }

    /// [`Self::trim_page`], returning the TLB invalidation owed beside the count. Until it is
    /// applied a writable TLB entry may still reach the frame, on the standby or modified
    /// list now: such an entry exists only for a dirty PTE, whose frame is marked modified
    /// here, so a write through it is kept; the caller applies it before any frame is reused.
    fn trim_page_owing(&mut self, m: &mut Machine, vpn: Vpn) -> (u64, Option<TlbFlush>) {
        let Leaf::Pte(at) = self.tables.leaf(&m.phys, vpn) else { return (0, None) };
        let Pte::Valid(v) = Pte::decode(m.phys.read_u64(at)) else { return (0, None) };
        let pfn = v.pfn();
        let e = *m.phys.pfn(pfn);
        // Private and section pages leave a working set; locked ones never do.
        if self.page_locked(&m.phys, vpn, pfn) {
            return (0, None);
        }
        match e.usage() {
            FrameUse::Private => {}
            FrameUse::Section => {
                // The process PTE points back at the prototype, keeping this view's protection;
                // the frame leaves use when no other PTE maps it.
                self.capture_dirty(&mut m.phys, vpn, v);
                let Some((segment, page)) = e.prototype() else { return (0, None) };
                let at_proto =
                    crate::paging::PrototypePointer { segment, page: u32::try_from(page).unwrap_or(u32::MAX) };
                let owed = self.set_pte_owing(
                    &mut m.phys,
                    at,
                    vpn,
                    Pte::Prototype { at: at_proto, protection: v.protection() },
                );
                m.unshare(pfn);
                return (1, owed);
            }
            _ => return (0, None),
        }
        self.capture_dirty(&mut m.phys, vpn, v);
        let protection = e.protection();
        let owed = self.set_pte_owing(&mut m.phys, at, vpn, Pte::Transition { pfn, protection });
        // `capture_dirty` marked a written page (`PfnEntry::mark_written`).
        let entry = m.phys.pfn_mut(pfn);
        let modified = entry.flags.has(PfnFlags::MODIFIED);
        if modified {
            if let Some((file, slot)) = entry.backing() {
                // The copy on disk is stale now.
                entry.set_backing(None);
                m.files.free(file, slot);
            }
        }
        // A clean page with a copy, or a MEM_RESET page nobody wrote since, can be dropped
        // from memory without I/O.
        let list = if modified { ListKind::Modified } else { ListKind::Standby };
        m.phys.park(pfn, list);
        (1, owed)
    }

    /// Keeps a hard working-set maximum: trims the oldest pages but `keep` (the page just
    /// faulted in) until the working set is back at its maximum.
    pub(crate) fn enforce_hard_maximum(&mut self, m: &mut Machine, keep: Vpn) {
        let limits = self.ws.limits();
        if limits.hard_maximum && self.counters.working_set > limits.maximum {
            self.trim_working_set_to(m, Some(keep), limits.maximum);
        }
    }

    /// Before `incoming` becomes resident: with a hard maximum reached, trims the oldest page
    /// first, so the working set never exceeds its maximum, not even for a moment.
    /// Under NT's aging, the aging hand first moves on by [`crate::balancer::AGE_PER_TRIM`]
    /// pages, as the balancer ages a share of the working set per page it trims: with no
    /// memory pressure nothing else ages a working set held at a hard maximum, and without
    /// ages "oldest" would mean "lowest address".
    pub(crate) fn make_room_in_working_set(&mut self, m: &mut Machine, incoming: Vpn) {
        let limits = self.ws.limits();
        if limits.hard_maximum && self.counters.working_set >= limits.maximum {
            if self.ws.policy() == super::EvictionPolicy::NtAging {
                self.age_some(m, crate::balancer::AGE_PER_TRIM);
            }
            self.trim_working_set_to(m, Some(incoming), limits.maximum.saturating_sub(1));
        }
    }

    /// Trims the oldest pages but `keep` until the whole working set — `WorkingSetSize`, the
    /// shared user data page and locked pages included — is at most `target` pages, or nothing
    /// more can be trimmed. The hard maximum counts every page `WorkingSetSize` counts, so the
    /// two agree (DOC:"SetProcessWorkingSetSizeEx function": the working set will not exceed
    /// the maximum).
    pub(crate) fn trim_working_set_to(&mut self, m: &mut Machine, keep: Option<Vpn>, target: u64) {
        let mut victims = self.ws.victims();
        let mut runs = FlushRuns::default();
        while self.counters.working_set > target {
            let Some(vpn) = victims.next(&mut self.ws) else { break };
            if Some(vpn) != keep {
                let (_, owed) = self.trim_page_owing(m, vpn);
                runs.note(&mut self.tlb, vpn, owed);
            }
        }
        runs.finish(&mut self.tlb);
    }

    /// Trims every page it can (EmptyWorkingSet); returns how many.
    pub(crate) fn empty(&mut self, m: &mut Machine) -> u64 {
        self.trim(m, u64::MAX, 0)
    }
}
