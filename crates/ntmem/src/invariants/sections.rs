//! The section part of the invariant checker: objects, handles, names and segments
//! (the list is in the parent module's doc).

use super::InvariantViolation;
use crate::paging::PrototypePte;
use crate::phys::{FrameUse, PfnState};
use crate::system::System;
use crate::units::Pfn;
use std::collections::{HashMap, HashSet};

/// What the segments' walk found about section frames, for the checks of the lists.
pub(super) struct SectionFrames {
    /// Frames that prototype PTEs in transition hold (on the standby or modified list).
    pub parked: HashSet<Pfn>,
    /// Frames of file-backed segments (valid or parked).
    pub file: HashSet<Pfn>,
    /// Frames of file-backed segments in use: backed by their file, not charged.
    pub active_file: u64,
}

/// Checks every segment's prototype PTEs against the PFN database and the process PTEs
/// (`mapped`: how many valid process PTEs map each frame), and counts the page-file slots the
/// prototypes and their frames hold.
pub(super) fn check_segments(
    sys: &System,
    mapped: &HashMap<Pfn, u32>,
    slots: &mut HashMap<(u8, u32), u32>,
) -> Result<SectionFrames, InvariantViolation> {
    let phys = sys.phys();
    let mut found = SectionFrames { parked: HashSet::new(), file: HashSet::new(), active_file: 0 };
    let mut seen: HashSet<Pfn> = HashSet::new();
    for (id, segment) in sys.segments().iter() {
        let mut committed = 0;
        for page in 0..segment.pages() {
            let Some(proto) = segment.prototype(page) else { break };
            committed += u64::from(proto != PrototypePte::Reserved);
            if let PrototypePte::PageFile { file, slot, .. } = proto {
                ensure!(!segment.is_file(), "page {page} of file segment {id:?} is in a page file");
                *slots.entry((file, slot)).or_default() += 1;
            }
            let Some(pfn) = proto.frame() else { continue };
            ensure!(seen.insert(pfn), "frame {pfn:?} holds two section pages (segment {id:?}, page {page})");
            let e = phys.pfn(pfn);
            ensure!(
                e.usage() == FrameUse::Section && e.prototype() == Some((id.raw(), page)),
                "prototype {page} of segment {id:?} holds frame {pfn:?}, which is {e:?}"
            );
            ensure!(e.protection() == proto.protection(), "frame {pfn:?} and its prototype disagree on protection");
            let n = mapped.get(&pfn).copied().unwrap_or(0);
            ensure!(
                u32::from(e.share_count()) == n,
                "section frame {pfn:?} has share count {}, {n} valid PTEs map it",
                e.share_count()
            );
            match proto {
                PrototypePte::Valid(_) => {
                    ensure!(e.state() == PfnState::Active && n > 0, "valid prototype of frame {pfn:?} is {e:?}")
                }
                _ => {
                    ensure!(
                        matches!(e.state(), PfnState::Standby | PfnState::Modified | PfnState::ModifiedNoWrite)
                            && n == 0,
                        "transition prototype of frame {pfn:?} is {e:?}"
                    );
                    // Only a segment whose writes are deferred parks pages on the no-write list.
                    ensure!(
                        e.state() != PfnState::ModifiedNoWrite || segment.is_write_deferred(),
                        "frame {pfn:?} of a segment whose writes are not deferred is on the modified no-write list"
                    );
                    found.parked.insert(pfn);
                }
            }
            if let Some(backing) = e.backing() {
                ensure!(!segment.is_file(), "file page frame {pfn:?} has a page-file copy");
                *slots.entry(backing).or_default() += 1;
            }
            if segment.reads_file() {
                found.file.insert(pfn);
                found.active_file += u64::from(e.state() == PfnState::Active);
            }
        }
        if segment.backing() == crate::section::Backing::PageFile {
            ensure!(
                segment.commit() == committed,
                "page-file segment {id:?} charged {} pages, {committed} committed",
                segment.commit()
            );
        }
    }
    for raw in 0..phys.frame_count() {
        let pfn = Pfn(raw);
        if phys.pfn(pfn).usage() == FrameUse::Section && phys.pfn(pfn).state() == PfnState::Active {
            ensure!(seen.contains(&pfn), "section frame {pfn:?} in use belongs to no prototype");
        }
    }
    Ok(found)
}

pub(super) fn check(sys: &System) -> Result<(), InvariantViolation> {
    use crate::section::{Backing, NamedObject, SectionKind};
    use crate::system::Object;
    let objects = sys.sections();
    let mut section_refs: HashMap<u32, u32> = HashMap::new();
    let mut section_handles: HashMap<crate::section::SectionId, u32> = HashMap::new();
    let mut file_handles: HashMap<crate::section::FileId, u32> = HashMap::new();
    let mut event_handles: HashMap<crate::section::EventId, u32> = HashMap::new();
    for process in sys.processes() {
        for entry in process.handles().iter() {
            match entry.object {
                Object::Section(id) => {
                    ensure!(objects.section(id).is_some(), "a handle names the dead section {id:?}");
                    *section_handles.entry(id).or_default() += 1;
                }
                Object::File(id) => {
                    ensure!(objects.file(id).is_some(), "a handle names the closed file {id:?}");
                    *file_handles.entry(id).or_default() += 1;
                }
                Object::Event(id) => {
                    ensure!(objects.event(id).is_some(), "a handle names the dead event {id:?}");
                    *event_handles.entry(id).or_default() += 1;
                }
                Object::Process(_) => {}
            }
        }
    }
    for (id, n) in &section_handles {
        let s = objects.section(*id).map_or(0, crate::section::Section::handles);
        ensure!(s == *n, "section {id:?} counts {s} handles, {n} name it");
    }
    for section in objects.sections() {
        let segment = sys.segments().get(section.segment());
        ensure!(segment.is_some(), "a section refers to the dead segment {:?}", section.segment());
        *section_refs.entry(section.segment().raw()).or_default() += 1;
        // F206: only an image keeps a size of its own, at most the image's.
        let (size, reported) = (section.size(), section.maximum_size());
        ensure!(
            reported == size || (section.kind() == crate::section::SectionKind::Image && (1..size).contains(&reported)),
            "a {:?} section of {size:#x} bytes reports {reported:#x}",
            section.kind()
        );
        ensure!(
            section.handles() > 0 || section.name().is_none(),
            "section {:?} keeps its name without a handle",
            section.name()
        );
        if let Some(name) = section.name() {
            ensure!(
                matches!(objects.lookup(name), Some(NamedObject::Section(_))),
                "the section named {name:?} is not in the namespace"
            );
        }
    }
    for (name, object) in objects.names() {
        let bearer = match object {
            NamedObject::Section(id) => objects.section(id).and_then(|s| s.name()),
            NamedObject::Event(id) => objects.event(id).and_then(|e| e.name()),
        };
        ensure!(bearer == Some(name), "the name {name:?} stands for {object:?}, which does not bear it");
    }
    for (id, event) in objects.events() {
        let n = event_handles.get(&id).copied().unwrap_or(0);
        ensure!(n == event.handles() && n > 0, "event {id:?} counts {} handles, {n} name it", event.handles());
    }
    for (id, file) in objects.files_by_id() {
        let n = file_handles.get(&id).copied().unwrap_or(0);
        ensure!(n == file.handles(), "file {id:?} counts {} handles, {n} name it", file.handles());
        ensure!(n > 0, "the file {} is open with no handle", file.path().display());
    }
    let mut views: HashMap<u32, u32> = HashMap::new();
    let mut section_views: HashMap<crate::section::SectionId, u32> = HashMap::new();
    for process in sys.processes() {
        let Some(space) = process.space() else { continue };
        for view in space.vads().iter().filter_map(crate::address_space::Vad::view) {
            *views.entry(view.segment.raw()).or_default() += 1;
            *section_views.entry(view.section).or_default() += 1;
        }
    }
    for (id, n) in &section_views {
        let s = objects.section(*id).map_or(0, crate::section::Section::views);
        ensure!(s == *n, "section {id:?} counts {s} views, {n} map it");
    }
    let counted: u32 = objects.sections().map(crate::section::Section::views).sum();
    let found: u32 = section_views.values().sum();
    ensure!(counted == found, "sections count {counted} views, {found} are mapped");
    let mut data_segments = 0;
    for (id, segment) in sys.segments().iter() {
        let refs = segment.refs();
        let n = section_refs.get(&id.raw()).copied().unwrap_or(0);
        ensure!(refs.sections == n, "segment {id:?} counts {} sections, {n} refer to it", refs.sections);
        let v = views.get(&id.raw()).copied().unwrap_or(0);
        ensure!(refs.views == v, "segment {id:?} counts {} views, {v} map it", refs.views);
        ensure!(
            !refs.is_unreferenced() || segment.is_dying(),
            "segment {id:?} lives with no reference and nothing left to write"
        );
        ensure!(!segment.is_dying() || refs.is_unreferenced(), "segment {id:?} is dying but referenced");
        match segment.backing() {
            Backing::File(identity) => {
                data_segments += 1;
                ensure!(
                    sys.segments().data_segment(identity) == Some(id),
                    "segment {id:?} is not its file's data segment"
                );
                ensure!(
                    segment.holds_file() && segment.commit() == 0,
                    "file segment {id:?} without its file, or charged"
                );
            }
            Backing::Image(identity) => {
                data_segments += 1;
                ensure!(
                    sys.segments().image_segment(identity) == Some(id),
                    "segment {id:?} is not its file's image segment"
                );
                ensure!(segment.holds_file() && segment.image().is_some(), "image segment {id:?} without its file");
            }
            Backing::PageFile => {
                let committed = objects.sections().any(|s| s.segment() == id && s.kind() == SectionKind::Commit);
                ensure!(
                    !committed || segment.commit() == segment.pages(),
                    "SEC_COMMIT segment {id:?} charged {} of its {} pages",
                    segment.commit(),
                    segment.pages()
                );
            }
        }
    }
    let indexed = sys.segments().data_segments().count() + sys.segments().image_segments().count();
    ensure!(indexed == data_segments, "{data_segments} data segments, {indexed} indexed");
    Ok(())
}
