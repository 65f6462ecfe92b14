//! The system: the machine's RAM, its processes and the commit charge; the core's public
//! entry point.
//!
//! Key types: [`System`], [`Config`], [`ProcessId`], [`Vm`] (the memory manager as one process
//! sees it), [`SystemStats`]. Processes live in a vector indexed by their id, so finding the
//! process of an access is an index, not a map look-up.

mod config;
mod handles;
mod process;
mod vm;

pub use config::{Config, ConfigError, MAX_RAM_BYTES, MIN_RAM_BYTES};
pub use handles::{Handle, HandleEntry, HandleTable, Object};
pub use process::{Process, ProcessId};
pub use vm::Vm;

use crate::address_space::{AddressSpace, FaultCounts, SHARED_USER_DATA};
use crate::commit_charge::CommitCharge;
use crate::phys::{FrameUse, ListKind, PhysicalMemory};
use crate::units::Pfn;

/// Process ids start here and step by four, as Windows' do.
const FIRST_PID: u32 = 0x100;

/// Why a system call about processes failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SystemError {
    /// The configuration cannot be built.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No process has that id.
    #[error("no such process")]
    NoSuchProcess,
    /// The process has terminated.
    #[error("the process has terminated")]
    ProcessTerminated,
    /// Not enough commit for a new process's page tables.
    #[error("the commit limit would be exceeded")]
    CommitLimit,
}

/// System-wide figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemStats {
    /// Faults of every process, living or gone, by kind.
    pub faults: FaultCounts,
    /// Frames on the zeroed list.
    pub zeroed_pages: u64,
    /// Frames on the free list.
    pub free_pages: u64,
    /// Frames in use.
    pub active_pages: u64,
    /// Frames that can be handed out now.
    pub available_pages: u64,
    /// Frames zeroed before being handed out.
    pub pages_zeroed: u64,
    /// Commit charge, in pages.
    pub commit_total: u64,
    /// Commit limit, in pages.
    pub commit_limit: u64,
    /// Highest commit charge seen, in pages.
    pub commit_peak: u64,
    /// Running processes.
    pub processes: u64,
}

/// A simulated machine running the Windows memory manager.
pub struct System {
    config: Config,
    phys: PhysicalMemory,
    commit: CommitCharge,
    processes: Vec<Process>,
    shared_user_data: Pfn,
    gone_faults: FaultCounts,
}

impl System {
    /// Boots a machine: RAM, the PFN database with every frame zeroed, and the shared user
    /// data page (F6). The commit limit is the RAM (no page files).
    pub fn new(config: Config) -> Result<System, SystemError> {
        let frames = config.validate()?;
        let mut phys = PhysicalMemory::new(frames);
        let mut commit = CommitCharge::new(u64::from(frames) - 1);
        commit.charge(1).map_err(|_| SystemError::CommitLimit)?;
        let shared = phys.allocate(FrameUse::SharedUserData, None).ok_or(SystemError::CommitLimit)?;
        phys.pfn_mut(shared).share_count = 0;
        phys.pfn_mut(shared).protection = crate::paging::Protection::READ_ONLY;
        fill_shared_user_data(phys.frame_mut(shared), frames);
        Ok(System {
            config,
            phys,
            commit,
            processes: Vec::new(),
            shared_user_data: shared,
            gone_faults: FaultCounts::default(),
        })
    }

    /// Creates a process with an empty address space (but for the shared user data page).
    pub fn create_process(&mut self, name: &str) -> Result<ProcessId, SystemError> {
        let space = AddressSpace::create(&mut self.phys, &mut self.commit, self.shared_user_data)
            .map_err(|_| SystemError::CommitLimit)?;
        let raw = u32::try_from(self.processes.len())
            .ok()
            .and_then(|n| n.checked_mul(4))
            .and_then(|n| n.checked_add(FIRST_PID))
            .ok_or(SystemError::CommitLimit)?;
        let id = ProcessId(raw);
        self.processes.push(Process {
            id,
            name: name.to_owned(),
            space: Some(space),
            exit_code: None,
            handles: HandleTable::default(),
            final_counters: Default::default(),
        });
        Ok(id)
    }

    /// Terminates a process: every page, frame and page table goes back, its commit charge is
    /// returned and its handles are closed. The process object remains for handles to it.
    pub fn terminate_process(&mut self, pid: ProcessId, exit_code: u32) -> Result<(), SystemError> {
        let slot = self.slot(pid).ok_or(SystemError::NoSuchProcess)?;
        let process = &mut self.processes[slot];
        let space = process.space.take().ok_or(SystemError::ProcessTerminated)?;
        process.final_counters = space.counters();
        process.exit_code = Some(exit_code);
        process.handles.clear();
        let f = space.counters().faults;
        self.gone_faults.demand_zero += f.demand_zero;
        self.gone_faults.soft += f.soft;
        self.gone_faults.guard += f.guard;
        self.gone_faults.access_violation += f.access_violation;
        space.destroy(&mut self.phys, &mut self.commit);
        Ok(())
    }

    fn slot(&self, pid: ProcessId) -> Option<usize> {
        let raw = pid.0.checked_sub(FIRST_PID)?;
        if raw % 4 != 0 {
            return None;
        }
        let slot = (raw / 4) as usize;
        (slot < self.processes.len()).then_some(slot)
    }

    /// A process, living or terminated.
    #[must_use]
    pub fn process(&self, pid: ProcessId) -> Option<&Process> {
        self.slot(pid).map(|s| &self.processes[s])
    }

    /// True when some running process holds a handle to `pid`: an exited process's object
    /// lives as long as a handle to it does.
    #[must_use]
    pub fn is_referenced(&self, pid: ProcessId) -> bool {
        self.processes
            .iter()
            .filter(|p| p.space.is_some())
            .any(|p| p.handles.iter().any(|h| h.object == Object::Process(pid)))
    }

    /// A process, mutable (its handle table).
    pub fn process_mut(&mut self, pid: ProcessId) -> Option<&mut Process> {
        self.slot(pid).map(|s| &mut self.processes[s])
    }

    /// Every process, in creation order.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter()
    }

    /// The memory manager as process `pid` sees it.
    #[inline]
    pub fn vm(&mut self, pid: ProcessId) -> Result<Vm<'_>, SystemError> {
        let slot = self.slot(pid).ok_or(SystemError::NoSuchProcess)?;
        let space = self.processes[slot].space.as_mut().ok_or(SystemError::ProcessTerminated)?;
        Ok(Vm::new(space, &mut self.phys, &mut self.commit, self.config.lock_memory_privilege))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// RAM and the PFN database.
    #[must_use]
    pub fn phys(&self) -> &PhysicalMemory {
        &self.phys
    }

    /// The commit charge.
    #[must_use]
    pub fn commit(&self) -> &CommitCharge {
        &self.commit
    }

    /// The frame of the shared user data page.
    #[must_use]
    pub fn shared_user_data(&self) -> Pfn {
        self.shared_user_data
    }

    /// System-wide figures.
    #[must_use]
    pub fn stats(&self) -> SystemStats {
        let mut faults = self.gone_faults;
        for p in self.processes.iter().filter_map(|p| p.space.as_ref()) {
            let f = p.counters().faults;
            faults.demand_zero += f.demand_zero;
            faults.soft += f.soft;
            faults.guard += f.guard;
            faults.access_violation += f.access_violation;
        }
        SystemStats {
            faults,
            zeroed_pages: self.phys.list_len(ListKind::Zeroed),
            free_pages: self.phys.list_len(ListKind::Free),
            active_pages: self.phys.active_count(),
            available_pages: self.phys.available(),
            pages_zeroed: self.phys.stats().pages_zeroed,
            commit_total: self.commit.total(),
            commit_limit: self.commit.limit(),
            commit_peak: self.commit.peak(),
            processes: self.processes.iter().filter(|p| p.space.is_some()).count() as u64,
        }
    }

    /// Runs the invariant checker now.
    pub fn check_invariants(&self) -> Result<(), crate::invariants::InvariantViolation> {
        crate::invariants::check(self)
    }
}

/// A few fields of KUSER_SHARED_DATA, at their Windows offsets, so the page reads as the real
/// one does: Windows 10 22H2 (build 19045).
fn fill_shared_user_data(page: &mut [u8], frames: u32) {
    const NT_BUILD_NUMBER: usize = 0x260;
    const NT_MAJOR_VERSION: usize = 0x26C;
    const NT_MINOR_VERSION: usize = 0x270;
    const NUMBER_OF_PHYSICAL_PAGES: usize = 0x2E8;
    page[NT_BUILD_NUMBER..NT_BUILD_NUMBER + 4].copy_from_slice(&19045u32.to_le_bytes());
    page[NT_MAJOR_VERSION..NT_MAJOR_VERSION + 4].copy_from_slice(&10u32.to_le_bytes());
    page[NT_MINOR_VERSION..NT_MINOR_VERSION + 4].copy_from_slice(&0u32.to_le_bytes());
    page[NUMBER_OF_PHYSICAL_PAGES..NUMBER_OF_PHYSICAL_PAGES + 4].copy_from_slice(&frames.to_le_bytes());
    debug_assert_eq!(SHARED_USER_DATA % crate::units::PAGE_SIZE, 0);
}
