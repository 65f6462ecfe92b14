//! A process's handle table: the objects it has opened and the access each handle grants.

use super::ProcessId;
use crate::section::{EventId, FileId, SectionId};

/// A handle value: a multiple of four, as Windows hands them out.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Handle(u32);

impl Handle {
    /// From the raw value; `None` when it cannot be a handle.
    #[must_use]
    pub fn from_raw(raw: u64) -> Option<Handle> {
        let raw = u32::try_from(raw).ok()?;
        (raw != 0 && raw % 4 == 0).then_some(Handle(raw))
    }

    /// The raw value.
    #[must_use]
    pub fn raw(self) -> u32 {
        self.0
    }

    fn slot(self) -> usize {
        (self.0 / 4 - 1) as usize
    }
}

/// What a handle refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Object {
    /// A process.
    Process(ProcessId),
    /// An open file.
    File(FileId),
    /// A section (file mapping) object.
    Section(SectionId),
    /// An event (named objects of another type, F137).
    Event(EventId),
}

/// One open handle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HandleEntry {
    /// The object.
    pub object: Object,
    /// The access mask granted.
    pub access: u32,
}

/// The handles of one process.
#[derive(Default, Debug)]
pub struct HandleTable {
    entries: Vec<Option<HandleEntry>>,
}

impl HandleTable {
    /// Opens a handle in the lowest free slot.
    pub fn insert(&mut self, entry: HandleEntry) -> Handle {
        let slot = self.entries.iter().position(Option::is_none).unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        self.entries[slot] = Some(entry);
        Handle(u32::try_from((slot + 1) * 4).unwrap_or(u32::MAX))
    }

    /// The entry behind a handle.
    #[must_use]
    pub fn get(&self, handle: Handle) -> Option<HandleEntry> {
        self.entries.get(handle.slot()).copied().flatten()
    }

    /// Closes a handle; `None` when it was not open.
    pub fn close(&mut self, handle: Handle) -> Option<HandleEntry> {
        self.entries.get_mut(handle.slot()).and_then(Option::take)
    }

    /// Every open handle.
    pub fn iter(&self) -> impl Iterator<Item = HandleEntry> + '_ {
        self.entries.iter().filter_map(|e| *e)
    }

    /// Closes every handle; the entries that were open. The table gives its memory back: a
    /// terminated process keeps its (empty) table as long as the process table keeps it.
    pub(crate) fn drain(&mut self) -> Vec<HandleEntry> {
        std::mem::take(&mut self.entries).into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_closes_every_handle_and_gives_the_table_s_memory_back() {
        let mut table = HandleTable::default();
        let entry = HandleEntry { object: Object::Process(ProcessId(4)), access: 0 };
        let handles: Vec<Handle> = (0..1000).map(|_| table.insert(entry)).collect();
        assert!(table.close(handles[10]).is_some());
        assert_eq!(table.drain().len(), 999);
        assert_eq!(table.iter().count(), 0);
        assert_eq!(table.entries.capacity(), 0, "a terminated process keeps no slots");
    }
}
