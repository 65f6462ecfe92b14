//! Sections: files, section objects, and the segments whose prototype PTEs describe the shared
//! pages (docs/design.md, "Sections"). This layer sits between the machine (commit charge,
//! page files) and the address spaces (views, prototype-PTE faults, which come later).
//!
//! Key types: [`Sections`] (every file, segment, section and event of a system, and the object
//! namespace of [`NamedObject`]s), [`File`], [`Segment`], [`Section`]. Events are here only as
//! the other owner of names that sections meet (F137). Objects are numbered ([`FileId`],
//! [`SegmentId`], [`SectionId`]) and kept in vectors whose lowest free slot is reused, so
//! numbering is deterministic; handles (system/handles.rs) name them by number.
//!
//! Lifetime (F134, F168): a file object lives while a handle does; a section object while a
//! handle or a view does, its name only while a handle does; a segment while a section or a
//! view refers to it, and returns its commit charge when it dies. A host file has at most one
//! data segment, found by its identity (device, inode), shared by every section of the file.
//!
//! Images (`SEC_IMAGE`): [`ImageLayout`] reads a PE file as NT does and says what each page of
//! the image is ([`ImagePage`]) and how to relocate it; [`ImageError`] says why a file is not
//! an image (F130, F162, F163).

mod create;
mod error;
mod file;
mod frames;
mod image;
mod object;
mod segment;
mod segments;

pub use create::Created;
pub use error::SectionError;
pub use file::{Disposition, File, FileAccess, FileIdentity, FileShare, SeekOrigin};
pub use frames::MappedIo;
pub(crate) use frames::PageIn;
pub use image::{image_protection, ImageError, ImageInformation, ImageLayout, ImageMachine, ImageMapStatus};
pub use image::{ImagePage, ImagePart, ImageSection, PageContent, PeFormat, Relocation, RelocationKind};
pub use object::{FileId, Section, SectionId, SectionKind, SectionOptions};
pub use segment::{Backing, Segment, SegmentId, SegmentRefs, MAX_SEGMENT_PAGES};
pub use segments::Segments;

use crate::machine::Machine;
use std::collections::BTreeMap;
use std::path::Path;

/// Every file and section object of a system, and the names of the named ones. The segments
/// they refer to live in the machine ([`Segments`]).
#[derive(Debug, Default)]
pub struct Sections {
    files: Vec<Option<File>>,
    sections: Vec<Option<Section>>,
    /// Events: the one other named object type so far, so that a name can be taken by an
    /// object that is not a section (F137). They have no waiting here.
    events: Vec<Option<Event>>,
    /// The object namespace (`\BaseNamedObjects`): names are case-sensitive (F133).
    names: BTreeMap<String, NamedObject>,
    /// The path each host file was first opened by, kept after its handles close (a segment
    /// outlives them, F168): the file name VMMap and RAMMap show for its pages.
    paths: BTreeMap<FileIdentity, std::path::PathBuf>,
}

/// What a name in the namespace stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NamedObject {
    /// A section.
    Section(SectionId),
    /// An event.
    Event(EventId),
}

/// An event's number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct EventId(pub(crate) u32);

/// An event object: only its name and handles matter to the memory manager.
#[derive(Debug)]
pub struct Event {
    name: Option<String>,
    handles: u32,
}

impl Event {
    /// Open handles.
    #[must_use]
    pub fn handles(&self) -> u32 {
        self.handles
    }

    /// Its name, while a handle keeps it.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Puts `value` in the lowest free slot; its index.
fn insert<T>(slots: &mut Vec<Option<T>>, value: T) -> Option<u32> {
    let i = slots.iter().position(Option::is_none).unwrap_or_else(|| {
        slots.push(None);
        slots.len() - 1
    });
    slots[i] = Some(value);
    u32::try_from(i).ok()
}

fn get<T>(slots: &[Option<T>], i: u32) -> Option<&T> {
    slots.get(i as usize).and_then(Option::as_ref)
}

fn get_mut<T>(slots: &mut [Option<T>], i: u32) -> Option<&mut T> {
    slots.get_mut(i as usize).and_then(Option::as_mut)
}

impl Sections {
    /// Opens a host file (`NtCreateFile`), after checking that it shares with every other
    /// open of the same file. A refused open changes nothing on the host.
    pub(crate) fn open_file(
        &mut self,
        path: &Path,
        access: FileAccess,
        share: FileShare,
        disposition: Disposition,
    ) -> Result<(FileId, bool), SectionError> {
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            let identity = FileIdentity::new(meta.dev(), meta.ino());
            if self.files().any(|f| f.identity() == identity && !f.shares_with(access, share)) {
                return Err(SectionError::SharingViolation);
            }
        }
        let (file, existed) = File::open(path, access, share, disposition)?;
        self.paths.entry(file.identity()).or_insert_with(|| file.path().to_owned());
        let id = insert(&mut self.files, file).ok_or(SectionError::InsufficientResources)?;
        Ok((FileId(id), existed))
    }

    /// The path a host file was first opened by (the name inspection shows for its pages).
    #[must_use]
    pub fn path_of(&self, identity: FileIdentity) -> Option<&Path> {
        self.paths.get(&identity).map(std::path::PathBuf::as_path)
    }

    /// Every open file.
    pub fn files(&self) -> impl Iterator<Item = &File> {
        self.files.iter().flatten()
    }

    /// Every open file with its number.
    pub fn files_by_id(&self) -> impl Iterator<Item = (FileId, &File)> {
        self.files.iter().enumerate().filter_map(|(i, f)| Some((FileId(u32::try_from(i).ok()?), f.as_ref()?)))
    }

    /// An open file.
    #[must_use]
    pub fn file(&self, id: FileId) -> Option<&File> {
        get(&self.files, id.0)
    }

    pub(crate) fn file_mut(&mut self, id: FileId) -> Option<&mut File> {
        get_mut(&mut self.files, id.0)
    }

    /// A section object.
    #[must_use]
    pub fn section(&self, id: SectionId) -> Option<&Section> {
        get(&self.sections, id.0)
    }

    /// Every section object.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().flatten()
    }

    /// What a name stands for.
    #[must_use]
    pub fn lookup(&self, name: &str) -> Option<NamedObject> {
        self.names.get(name).copied()
    }

    /// Every name and what it stands for.
    pub fn names(&self) -> impl Iterator<Item = (&str, NamedObject)> {
        self.names.iter().map(|(n, o)| (n.as_str(), *o))
    }

    /// An event.
    #[must_use]
    pub fn event(&self, id: EventId) -> Option<&Event> {
        get(&self.events, id.0)
    }

    /// Every event with its number.
    pub fn events(&self) -> impl Iterator<Item = (EventId, &Event)> {
        self.events.iter().enumerate().filter_map(|(i, e)| Some((EventId(u32::try_from(i).ok()?), e.as_ref()?)))
    }

    /// Creates an event, or finds the one its name stands for (`Created::Existing`); a name
    /// taken by another type is `ObjectTypeMismatch`.
    pub(crate) fn create_event(&mut self, name: Option<&str>) -> Result<(EventId, Created), SectionError> {
        match name.and_then(|n| self.lookup(n)) {
            Some(NamedObject::Event(id)) => return Ok((id, Created::Existing)),
            Some(NamedObject::Section(_)) => return Err(SectionError::ObjectTypeMismatch),
            None => {}
        }
        let event = Event { name: name.map(str::to_owned), handles: 0 };
        let id = EventId(insert(&mut self.events, event).ok_or(SectionError::InsufficientResources)?);
        if let Some(n) = name {
            self.names.insert(n.to_owned(), NamedObject::Event(id));
        }
        Ok((id, Created::New))
    }

    /// A handle to an event was opened.
    pub(crate) fn reference_event(&mut self, id: EventId) {
        if let Some(e) = get_mut(&mut self.events, id.0) {
            e.handles += 1;
        }
    }

    /// A handle to an event was closed: the event (and its name) go with the last one.
    pub(crate) fn dereference_event(&mut self, id: EventId) {
        let Some(e) = get_mut(&mut self.events, id.0) else { return };
        e.handles = e.handles.saturating_sub(1);
        if e.handles == 0 {
            if let Some(name) = e.name.take() {
                self.names.remove(&name);
            }
            self.events[id.0 as usize] = None;
        }
    }

    /// A handle to a file was opened.
    pub(crate) fn reference_file(&mut self, id: FileId) {
        if let Some(f) = self.file_mut(id) {
            f.handles += 1;
        }
    }

    /// A handle to a file was closed: the file object goes with its last handle. The host
    /// file stays open for its data segment (F168).
    pub(crate) fn dereference_file(&mut self, id: FileId) {
        let Some(f) = self.file_mut(id) else { return };
        f.handles = f.handles.saturating_sub(1);
        if f.handles == 0 {
            self.files[id.0 as usize] = None;
        }
    }

    /// A handle to a section was opened.
    pub(crate) fn reference_section(&mut self, id: SectionId) {
        if let Some(s) = get_mut(&mut self.sections, id.0) {
            s.handles += 1;
        }
    }

    /// A handle to a section was closed: the name goes with the last handle (F134), the
    /// object with the last handle and view, the segment with its last section and view.
    pub(crate) fn dereference_section(&mut self, machine: &mut Machine, id: SectionId) {
        let Some(s) = get_mut(&mut self.sections, id.0) else { return };
        s.handles = s.handles.saturating_sub(1);
        if s.handles == 0 {
            if let Some(name) = s.name.take() {
                self.names.remove(&name);
            }
        }
        if !s.is_unreferenced() {
            return;
        }
        let segment = s.segment;
        self.sections[id.0 as usize] = None;
        self.dereference_segment(machine, segment);
    }

    /// A view of section `id` was mapped: it holds a reference on the section object and on
    /// its segment (F134, F168).
    pub(crate) fn view_mapped(&mut self, machine: &mut Machine, id: SectionId) {
        let Some(s) = get_mut(&mut self.sections, id.0) else { return };
        s.views += 1;
        if let Some(seg) = machine.segments.get_mut(s.segment) {
            seg.refs.views += 1;
        }
    }

    /// A view of section `id` was unmapped: the object goes with its last handle and view,
    /// the segment with its last section and view.
    pub(crate) fn view_unmapped(&mut self, machine: &mut Machine, id: SectionId) {
        let Some(s) = get_mut(&mut self.sections, id.0) else { return };
        s.views = s.views.saturating_sub(1);
        let segment = s.segment;
        if let Some(seg) = machine.segments.get_mut(segment) {
            seg.refs.views = seg.refs.views.saturating_sub(1);
        }
        if s.is_unreferenced() {
            self.sections[id.0 as usize] = None;
            self.dereference_segment(machine, segment);
        } else {
            self.delete_if_unreferenced(machine, segment);
        }
    }

    fn dereference_segment(&mut self, machine: &mut Machine, id: SegmentId) {
        let Some(seg) = machine.segments.get_mut(id) else { return };
        seg.refs.sections = seg.refs.sections.saturating_sub(1);
        self.delete_if_unreferenced(machine, id);
    }

    /// Deletes a segment nothing refers to any more: its dirty file pages are written to their
    /// file, its frames and page-file slots go back, and so does its commit charge.
    fn delete_if_unreferenced(&mut self, machine: &mut Machine, id: SegmentId) {
        let Some(seg) = machine.segments.get(id) else { return };
        if !seg.refs.is_unreferenced() {
            return;
        }
        machine.delete_segment(id);
    }
}

impl FileIdentity {
    pub(crate) fn new(dev: u64, ino: u64) -> FileIdentity {
        FileIdentity { dev, ino }
    }
}
