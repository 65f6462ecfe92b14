//! Processes: an address space, a handle table, and a life that ends in termination.

use super::handles::HandleTable;
use crate::address_space::{AddressSpace, SpaceCounters};

/// A process id, as Windows numbers them (multiples of four).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ProcessId(pub(crate) u32);

impl From<ProcessId> for u32 {
    fn from(pid: ProcessId) -> u32 {
        pid.0
    }
}

impl ProcessId {
    /// From a raw Windows process id (existence is checked where it is used).
    #[must_use]
    pub fn from_raw(raw: u32) -> ProcessId {
        ProcessId(raw)
    }
}

/// A process.
pub struct Process {
    pub(crate) id: ProcessId,
    pub(crate) name: String,
    /// `None` once terminated: its memory is gone, the object lives on for handles to it.
    /// Boxed, so that a terminated process's entry in the process table keeps a few hundred
    /// bytes, not the address space's (its TLB alone is 32 KiB): the table holds every process
    /// ever created.
    pub(crate) space: Option<Box<AddressSpace>>,
    pub(crate) exit_code: Option<u32>,
    pub(crate) handles: HandleTable,
    /// The counters frozen at termination.
    pub(crate) final_counters: SpaceCounters,
}

impl Process {
    /// Its id.
    #[must_use]
    pub fn id(&self) -> ProcessId {
        self.id
    }

    /// The name it was created with.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address space, while it runs.
    #[must_use]
    pub fn space(&self) -> Option<&AddressSpace> {
        self.space.as_deref()
    }

    /// The exit code, once terminated.
    #[must_use]
    pub fn exit_code(&self) -> Option<u32> {
        self.exit_code
    }

    /// Its handle table.
    #[must_use]
    pub fn handles(&self) -> &HandleTable {
        &self.handles
    }

    /// Its handle table, to open and close handles.
    pub fn handles_mut(&mut self) -> &mut HandleTable {
        &mut self.handles
    }

    /// Its figures (frozen at termination).
    #[must_use]
    pub fn counters(&self) -> SpaceCounters {
        self.space.as_deref().map_or(self.final_counters, AddressSpace::counters)
    }
}
