//! The system: the machine (RAM, commit charge, page files), its processes, and the figures;
//! the core's public entry point.
//!
//! Key types: [`System`], [`Config`], [`ProcessId`], [`Vm`] (the memory manager as one process
//! sees it), [`SystemStats`]. Processes live in a vector indexed by their id, so finding the
//! process of an access is an index, not a map look-up; [`Memory`] (`memory.rs`) is a handle on
//! one process's memory whose accesses are a TLB compare and a copy when they hit.

mod config;
mod handles;
mod memory;
mod objects;
mod process;
mod views;
mod vm;

pub use config::{Config, ConfigError, DEFAULT_PAGE_IN_CLUSTER, MAX_PAGE_IN_CLUSTER, MAX_RAM_BYTES, MIN_RAM_BYTES};
pub use handles::{Handle, HandleEntry, HandleTable, Object};
pub use memory::Memory;
pub use process::{Process, ProcessId};
pub use views::ViewRequest;
pub use vm::{Resolved, Vm, WorkingSetEntry};

use crate::address_space::{AddressSpace, FaultCounts, VmError, SHARED_USER_DATA};
use crate::balancer;
use crate::machine::Machine;
use crate::page_file::{FaultPlan, PageFiles};
use crate::phys::{FrameUse, ListKind, PhysicalMemory};
use crate::section::Sections;
use crate::units::Pfn;

/// Process ids start here and step by four, as Windows' do.
const FIRST_PID: u32 = 0x100;

/// Why a system call about processes failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SystemError {
    /// The configuration cannot be built.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A page file could not be created on the host.
    #[error("the page file {} could not be created: {kind}", path.display())]
    PageFileCreation {
        /// The file's path on the host.
        path: std::path::PathBuf,
        /// What the host said.
        kind: std::io::ErrorKind,
    },
    /// The host could not map the machine's RAM.
    #[error("the host could not map {bytes} bytes of RAM: {kind}")]
    RamMapping {
        /// The RAM's size.
        bytes: u64,
        /// What the host said.
        kind: std::io::ErrorKind,
    },
    /// No process has that id.
    #[error("no such process")]
    NoSuchProcess,
    /// The process has terminated.
    #[error("the process has terminated")]
    ProcessTerminated,
    /// Not enough commit (or frames) for a new process's page tables.
    #[error("the commit limit would be exceeded")]
    CommitLimit,
}

/// System-wide figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemStats {
    /// First touches of committed pages (a zeroed frame taken).
    pub demand_zero_faults: u64,
    /// Faults resolved from memory (transition PTEs: standby, modified, resident guard pages).
    pub soft_faults: u64,
    /// Faults that read from a page file.
    pub hard_faults: u64,
    /// Guard-page exceptions raised.
    pub guard_faults: u64,
    /// Access violations raised.
    pub access_violations: u64,
    /// Page-file read operations.
    pub page_read_ios: u64,
    /// Pages read from page files.
    pub pages_read: u64,
    /// Page-file write operations.
    pub page_write_ios: u64,
    /// Pages written to page files.
    pub pages_written: u64,
    /// Frames on the zeroed list.
    pub zeroed_pages: u64,
    /// Frames on the free list.
    pub free_pages: u64,
    /// Frames on the standby list.
    pub standby_pages: u64,
    /// Frames on the modified list.
    pub modified_pages: u64,
    /// Frames on the bad list.
    pub bad_pages: u64,
    /// Frames on the modified no-write list (modified pages of sections whose writes are
    /// deferred, [`System::set_section_write_deferred`]).
    pub modified_no_write_pages: u64,
    /// Standby pages repurposed, by page priority 0–7.
    pub repurposed_by_priority: [u64; 8],
    /// Frames in use.
    pub active_pages: u64,
    /// Frames that can be handed out without writing (zeroed + free + standby).
    pub available_pages: u64,
    /// Frames zeroed before being handed out.
    pub pages_zeroed: u64,
    /// Commit charge, in pages.
    pub commit_total: u64,
    /// Commit limit (RAM + page files now), in pages.
    pub commit_limit: u64,
    /// Highest commit charge seen, in pages.
    pub commit_peak: u64,
    /// Page-file slots in use.
    pub page_file_used: u64,
    /// Page-file slots in all (current sizes).
    pub page_file_capacity: u64,
    /// Running processes.
    pub processes: u64,
    /// Writes to copy-on-write pages that made a private copy (F158).
    pub copy_on_write_faults: u64,
    /// Faults on view pages resolved through their prototype PTE.
    pub prototype_faults: u64,
    /// Reads of mapped files (each reads a cluster of pages).
    pub mapped_read_ios: u64,
    /// Pages read from mapped files.
    pub mapped_pages_read: u64,
    /// Writes to mapped files (the mapped page writer, flushes, segment deletion).
    pub mapped_write_ios: u64,
    /// Pages written to mapped files.
    pub mapped_pages_written: u64,
}

/// A simulated machine running the Windows memory manager.
pub struct System {
    config: Config,
    machine: Machine,
    processes: Vec<Process>,
    /// The slots of the running processes, in creation order: what the balancer, the figures
    /// and handle look-ups walk, so that their cost follows the processes running, not every
    /// process ever created (the table keeps terminated ones for their ids).
    running: Vec<u32>,
    shared_user_data: Pfn,
    gone_faults: FaultCounts,
    /// Files, sections and segments, and the object namespace (system/objects.rs).
    sections: Sections,
}

impl System {
    /// Boots a machine: RAM, the PFN database with every frame zeroed, the page files, and
    /// the shared user data page (F6). The commit limit is the RAM plus the page files.
    pub fn new(config: Config) -> Result<System, SystemError> {
        let frames = config.validate()?;
        let phys = PhysicalMemory::new(frames)
            .map_err(|e| SystemError::RamMapping { bytes: config.ram_bytes(), kind: e.kind() })?;
        System::boot(config, phys)
    }

    /// Boots a machine as [`System::new`] does, its RAM the zeroed bytes `ram` supplies (the
    /// native engine's shared mapping of its `memfd`), which must be exactly the
    /// configuration's RAM. The machine owns the mapping from now on.
    pub fn with_ram(config: Config, ram: memmap2::MmapMut) -> Result<System, SystemError> {
        let frames = config.validate()?;
        let store = crate::phys::FrameStore::supplied(ram)
            .filter(|s| s.frames() == frames)
            .ok_or(SystemError::Config(ConfigError::RamSize(config.ram_bytes())))?;
        System::boot(config, PhysicalMemory::over(store))
    }

    fn boot(config: Config, mut phys: PhysicalMemory) -> Result<System, SystemError> {
        let frames = phys.frame_count();
        let shared = phys.allocate(FrameUse::SharedUserData, None).ok_or(SystemError::CommitLimit)?;
        phys.pfn_mut(shared).share_count = 0;
        phys.pfn_mut(shared).protection = crate::paging::Protection::READ_ONLY;
        fill_shared_user_data(phys.frame_mut(shared), frames);
        let files = PageFiles::create(config.page_files())
            .map_err(|(path, e)| SystemError::PageFileCreation { path, kind: e.kind() })?;
        let mut machine = Machine::new(phys, files, config.page_in_cluster());
        machine.charge(1).map_err(|_| SystemError::CommitLimit)?;
        Ok(System {
            config,
            machine,
            processes: Vec::new(),
            running: Vec::new(),
            shared_user_data: shared,
            gone_faults: FaultCounts::default(),
            sections: Sections::default(),
        })
    }

    /// Creates a process with an empty address space (but for the shared user data page).
    pub fn create_process(&mut self, name: &str) -> Result<ProcessId, SystemError> {
        // The id first: a process the table cannot number takes no memory.
        let slot = u32::try_from(self.processes.len()).map_err(|_| SystemError::CommitLimit)?;
        let raw = slot.checked_mul(4).and_then(|n| n.checked_add(FIRST_PID)).ok_or(SystemError::CommitLimit)?;
        let space = match AddressSpace::create(&mut self.machine, self.shared_user_data) {
            Err(VmError::OutOfFrames(n)) => {
                self.balance(n);
                AddressSpace::create(&mut self.machine, self.shared_user_data)
            }
            other => other,
        }
        .map_err(|_| SystemError::CommitLimit)?;
        let id = ProcessId(raw);
        self.running.push(slot);
        self.processes.push(Process {
            id,
            name: name.to_owned(),
            space: Some(Box::new(space)),
            exit_code: None,
            handles: HandleTable::default(),
            final_counters: Default::default(),
        });
        Ok(id)
    }

    /// Terminates a process: every page, frame, slot and page table goes back, its commit
    /// charge is returned and its handles are closed. The process object remains for handles
    /// to it.
    pub fn terminate_process(&mut self, pid: ProcessId, exit_code: u32) -> Result<(), SystemError> {
        let slot = self.slot(pid).ok_or(SystemError::NoSuchProcess)?;
        if self.processes[slot].space.is_none() {
            return Err(SystemError::ProcessTerminated);
        }
        // Views first: each gives its section back (and its file's pages, F168).
        self.unmap_all_views(pid);
        if let Ok(at) = self.running.binary_search_by(|&s| (s as usize).cmp(&slot)) {
            self.running.remove(at);
        }
        let process = &mut self.processes[slot];
        let space = process.space.take().ok_or(SystemError::ProcessTerminated)?;
        process.final_counters = space.counters();
        process.exit_code = Some(exit_code);
        let handles = process.handles.drain();
        self.gone_faults.add(&space.counters().faults);
        space.destroy(&mut self.machine);
        for entry in handles {
            self.release_object(entry.object);
        }
        Ok(())
    }

    /// The index of process `pid` in `processes`. Ids are `FIRST_PID + 4 * index`: rotating
    /// `pid - FIRST_PID` right by two gives the index, and for any other id (below
    /// `FIRST_PID`, or not a multiple of four above it) a number of at least 2^30 - 64, which
    /// the process count never reaches (`create_process` stops where ids leave a `u32`); so one
    /// bounds check decides. It is on the path of every access.
    #[inline(always)]
    fn slot(&self, pid: ProcessId) -> Option<usize> {
        let slot = pid.0.wrapping_sub(FIRST_PID).rotate_right(2) as usize;
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
        self.running_processes().any(|p| p.handles.iter().any(|h| h.object == Object::Process(pid)))
    }

    /// A process, mutable (its handle table).
    pub fn process_mut(&mut self, pid: ProcessId) -> Option<&mut Process> {
        self.slot(pid).map(|s| &mut self.processes[s])
    }

    /// Every process, living or terminated, in creation order.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter()
    }

    /// The running processes, in creation order: as many steps as there are running.
    pub fn running_processes(&self) -> impl Iterator<Item = &Process> {
        self.running.iter().map(|&slot| &self.processes[slot as usize])
    }

    /// The memory manager as process `pid` sees it.
    #[inline]
    pub fn vm(&mut self, pid: ProcessId) -> Result<Vm<'_>, SystemError> {
        let slot = self.slot(pid).ok_or(SystemError::NoSuchProcess)?;
        Vm::new(&mut self.machine, &mut self.processes, &self.running, slot, self.config.lock_memory_privilege)
            .ok_or(SystemError::ProcessTerminated)
    }

    /// Trims and writes until `needed` frames are available, or nothing more can be done.
    pub fn balance(&mut self, needed: u64) -> bool {
        let mut spaces = running_spaces(&mut self.processes, &self.running, 0);
        balancer::balance(&mut self.machine, &mut spaces, needed)
    }

    /// Runs the modified page writer over the whole modified list; returns the pages written.
    pub fn write_modified_pages(&mut self) -> u64 {
        balancer::write_modified(&mut self.machine, u64::MAX)
    }

    /// Arms page-file I/O failures (for tests): the next reads / writes fail as a disk would.
    pub fn set_page_file_faults(&mut self, plan: FaultPlan) {
        self.machine.files.set_fault_plan(plan);
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// RAM, commit and page files.
    #[must_use]
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// RAM and the PFN database.
    #[must_use]
    pub fn phys(&self) -> &PhysicalMemory {
        &self.machine.phys
    }

    /// Turns the explain hook on or off: while on, page faults and frames' list moves are
    /// recorded for [`System::take_events`] (phys/events.rs).
    pub fn set_recording(&mut self, on: bool) {
        self.machine.phys.set_recording(on);
    }

    /// What the memory manager did since the last call, oldest first, while recording.
    pub fn take_events(&mut self) -> Vec<crate::phys::events::Event> {
        self.machine.phys.take_events()
    }

    /// The commit charge.
    #[must_use]
    pub fn commit(&self) -> &crate::commit_charge::CommitCharge {
        &self.machine.commit
    }

    /// Every segment: the prototype PTEs of the shared pages.
    #[must_use]
    pub fn segments(&self) -> &crate::section::Segments {
        &self.machine.segments
    }

    /// The I/O of mapped files and its injected failures.
    #[must_use]
    pub fn mapped_io(&self) -> crate::section::MappedIo {
        self.machine.mapped
    }

    /// Arms failures of mapped-file reads and writes (for tests).
    pub fn inject_mapped_faults(&mut self, plan: crate::page_file::FaultPlan) {
        self.machine.mapped.faults = plan;
    }

    /// The page files.
    #[must_use]
    pub fn page_files(&self) -> &PageFiles {
        &self.machine.files
    }

    /// The frame of the shared user data page.
    #[must_use]
    pub fn shared_user_data(&self) -> Pfn {
        self.shared_user_data
    }

    /// Faults of every process, living or gone, by kind.
    #[must_use]
    pub fn faults(&self) -> FaultCounts {
        let mut faults = self.gone_faults;
        for p in self.running_processes().filter_map(|p| p.space.as_ref()) {
            faults.add(&p.counters().faults);
        }
        faults
    }

    /// System-wide figures.
    #[must_use]
    pub fn stats(&self) -> SystemStats {
        let faults = self.faults();
        let phys = &self.machine.phys;
        let io = self.machine.files.counters();
        SystemStats {
            demand_zero_faults: faults.demand_zero,
            soft_faults: faults.soft,
            hard_faults: faults.hard,
            guard_faults: faults.guard,
            access_violations: faults.access_violation,
            page_read_ios: io.read_ios,
            pages_read: io.pages_read,
            page_write_ios: io.write_ios,
            pages_written: io.pages_written,
            zeroed_pages: phys.list_len(ListKind::Zeroed),
            free_pages: phys.list_len(ListKind::Free),
            standby_pages: phys.list_len(ListKind::Standby),
            modified_pages: phys.list_len(ListKind::Modified),
            bad_pages: phys.list_len(ListKind::Bad),
            modified_no_write_pages: phys.list_len(ListKind::ModifiedNoWrite),
            repurposed_by_priority: phys.stats().repurposed,
            active_pages: phys.active_count(),
            available_pages: phys.available(),
            pages_zeroed: phys.stats().pages_zeroed,
            commit_total: self.machine.commit.total(),
            commit_limit: self.machine.commit.limit(),
            commit_peak: self.machine.commit.peak(),
            page_file_used: self.machine.files.used(),
            page_file_capacity: self.machine.files.capacity(),
            processes: self.running.len() as u64,
            copy_on_write_faults: faults.copy_on_write,
            prototype_faults: faults.prototype,
            mapped_read_ios: self.machine.mapped.counters.read_ios,
            mapped_pages_read: self.machine.mapped.counters.pages_read,
            mapped_write_ios: self.machine.mapped.counters.write_ios,
            mapped_pages_written: self.machine.mapped.counters.pages_written,
        }
    }

    /// Runs the invariant checker now.
    pub fn check_invariants(&self) -> Result<(), crate::invariants::InvariantViolation> {
        crate::invariants::check(self)
    }
}

/// The address spaces of the running processes whose slots `running` lists (ascending), in
/// that order, from `processes`, a part of the table whose first entry is slot `first`; slots
/// outside it are skipped. One step a running process, whatever the table's length.
pub(super) fn running_spaces<'p>(
    processes: &'p mut [Process],
    running: &[u32],
    first: usize,
) -> Vec<&'p mut AddressSpace> {
    let mut spaces = Vec::with_capacity(running.len());
    let mut rest = processes;
    let mut next = first;
    for &slot in running {
        let Some(skip) = (slot as usize).checked_sub(next) else { continue };
        let Some((process, after)) = std::mem::take(&mut rest).get_mut(skip..).and_then(<[Process]>::split_first_mut)
        else {
            break;
        };
        rest = after;
        next = slot as usize + 1;
        if let Some(space) = process.space.as_deref_mut() {
            spaces.push(space);
        }
    }
    spaces
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
