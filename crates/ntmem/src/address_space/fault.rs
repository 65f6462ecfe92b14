//! Page-fault resolution: the memory manager's answer when the MMU finds no usable PTE.
//!
//! Classification (DESIGN.md, "An access, step by step"), from the PTE:
//! - zero (free or reserved) → access violation (F91, F94);
//! - guard protection → clear the guard, raise the guard-page exception once (F96, F97, F99);
//! - protection forbids the access → access violation (F92, F93, F95);
//! - demand-zero → take a zeroed frame (F13);
//! - transition → the frame is still here: make the PTE valid again (a soft fault);
//! - valid but not permitting the access → access violation.
//!
//! Page-file and prototype PTEs join with paging and sections.

use super::access::{AccessFault, FaultKind};
use super::AddressSpace;
use crate::paging::{AccessKind, Leaf, Protection, Pte, ValidPte};
use crate::phys::{FrameUse, PhysicalMemory};
use crate::units::Vpn;

fn permits(p: Protection, access: AccessKind) -> bool {
    match access {
        AccessKind::Read => p.can_read(),
        AccessKind::Write => p.can_write(),
        AccessKind::Execute => p.can_execute(),
    }
}

impl AddressSpace {
    pub(crate) fn resolve_fault(
        &mut self,
        phys: &mut PhysicalMemory,
        vpn: Vpn,
        access: AccessKind,
        pte: Pte,
        addr: u64,
    ) -> Result<(), AccessFault> {
        let Leaf::Pte(at) = self.tables.leaf(phys, vpn) else {
            return Err(self.violation(addr, access));
        };
        match pte {
            Pte::Zero | Pte::Valid(_) => Err(self.violation(addr, access)),
            Pte::DemandZero(p) => {
                if p.is_guard() {
                    self.set_pte(phys, at, vpn, Pte::DemandZero(p.without_guard()));
                    return Err(self.guard_fired(addr, access));
                }
                if !permits(p, access) {
                    return Err(self.violation(addr, access));
                }
                let Some(pfn) = phys.allocate(FrameUse::Private, Some(at)) else {
                    // Unreachable while commit charge covers every committed page.
                    return Err(self.violation(addr, access));
                };
                phys.pfn_mut(pfn).protection = p;
                self.set_pte(phys, at, vpn, Pte::Valid(ValidPte::new(pfn, p)));
                self.counters.faults.demand_zero += 1;
                Ok(())
            }
            Pte::Transition { pfn, protection } => {
                if protection.is_guard() {
                    let cleared = protection.without_guard();
                    phys.pfn_mut(pfn).protection = cleared;
                    self.set_pte(phys, at, vpn, Pte::Transition { pfn, protection: cleared });
                    return Err(self.guard_fired(addr, access));
                }
                if !permits(protection, access) {
                    return Err(self.violation(addr, access));
                }
                self.set_pte(phys, at, vpn, Pte::Valid(ValidPte::new(pfn, protection)));
                self.counters.faults.soft += 1;
                Ok(())
            }
        }
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
