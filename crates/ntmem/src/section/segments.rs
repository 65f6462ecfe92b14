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

use super::segment::{Backing, Segment, SegmentId};
use super::FileIdentity;
use crate::paging::PrototypePointer;
use std::collections::BTreeMap;

/// The segments of a system, and the index of the data segment of each host file.
#[derive(Debug, Default)]
pub struct Segments {
    slots: Vec<Option<Segment>>,
    /// The data segment of each host file that has one (F161: every section of a file shares
    /// it). Kept here, with the segments, so that a segment and its entry go together.
    by_file: BTreeMap<FileIdentity, SegmentId>,
    /// The image segment of each host file mapped as an image (`SEC_IMAGE`): NT's image
    /// control area, apart from the data one, so a data view's writes do not reach an image
    /// view (F162).
    by_image: BTreeMap<FileIdentity, SegmentId>,
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

    /// Takes a segment out, with its file's index entry.
    pub(crate) fn remove(&mut self, id: SegmentId) -> Option<Segment> {
        let seg = self.slots.get_mut(id.0 as usize).and_then(Option::take)?;
        match seg.backing() {
            Backing::File(identity) => {
                self.by_file.remove(&identity);
            }
            Backing::Image(identity) => {
                self.by_image.remove(&identity);
            }
            Backing::PageFile => {}
        }
        Some(seg)
    }

    /// The data segment of a host file, if it has one.
    #[must_use]
    pub fn data_segment(&self, identity: FileIdentity) -> Option<SegmentId> {
        self.by_file.get(&identity).copied()
    }

    /// The index of data segments: each host file with one, and its segment.
    pub fn data_segments(&self) -> impl Iterator<Item = (FileIdentity, SegmentId)> + '_ {
        self.by_file.iter().map(|(f, s)| (*f, *s))
    }

    pub(crate) fn index_file(&mut self, identity: FileIdentity, id: SegmentId) {
        self.by_file.insert(identity, id);
    }

    /// The image segment of a host file, if it has one.
    #[must_use]
    pub fn image_segment(&self, identity: FileIdentity) -> Option<SegmentId> {
        self.by_image.get(&identity).copied()
    }

    /// The index of image segments.
    pub fn image_segments(&self) -> impl Iterator<Item = (FileIdentity, SegmentId)> + '_ {
        self.by_image.iter().map(|(f, s)| (*f, *s))
    }

    pub(crate) fn index_image(&mut self, identity: FileIdentity, id: SegmentId) {
        self.by_image.insert(identity, id);
    }
}
