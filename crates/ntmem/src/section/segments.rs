//! [`Segments`]: every segment of the system, numbered, owned by the [`Machine`] beside RAM and
//! the page files.
//!
//! They live in the machine rather than with the section objects because every move of a
//! shared frame touches a prototype PTE: a fault reads it, trimming and the balancer's
//! repurposing of a standby frame rewrite it, the modified and mapped page writers write the
//! page it describes. All of those work on the machine; the section objects, files and names
//! (`Sections`) only create segments and let them go.
//!
//! Numbering takes the lowest free slot, so it is deterministic.
//!
//! [`Machine`]: crate::machine::Machine

use super::segment::{Segment, SegmentId};
use crate::paging::PrototypePointer;

/// The segments of a system.
#[derive(Debug, Default)]
pub struct Segments {
    slots: Vec<Option<Segment>>,
}

impl Segments {
    /// A segment.
    #[must_use]
    pub fn get(&self, id: SegmentId) -> Option<&Segment> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: SegmentId) -> Option<&mut Segment> {
        self.slots.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Every segment with its number.
    pub fn iter(&self) -> impl Iterator<Item = (SegmentId, &Segment)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| Some((SegmentId(u32::try_from(i).ok()?), s.as_ref()?)))
    }

    /// Commit charged by every segment, in pages.
    #[must_use]
    pub fn commit(&self) -> u64 {
        self.iter().map(|(_, s)| s.commit()).sum()
    }

    /// Adds a segment in the lowest free slot; `None` when its number would not fit a
    /// prototype-pointer PTE.
    pub(crate) fn insert(&mut self, segment: Segment) -> Option<SegmentId> {
        let i = self.slots.iter().position(Option::is_none).unwrap_or(self.slots.len());
        let id = u32::try_from(i).ok().filter(|&n| n <= PrototypePointer::MAX_SEGMENT)?;
        if i == self.slots.len() {
            self.slots.push(None);
        }
        self.slots[i] = Some(segment);
        Some(SegmentId(id))
    }

    /// Takes a segment out.
    pub(crate) fn remove(&mut self, id: SegmentId) -> Option<Segment> {
        self.slots.get_mut(id.0 as usize).and_then(Option::take)
    }
}
