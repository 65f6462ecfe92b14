//! The section part of the invariant checker: objects, handles, names and segments
//! (the list is in the parent module's doc).

use super::InvariantViolation;
use crate::system::System;
use std::collections::HashMap;

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
        let segment = objects.segment(section.segment());
        ensure!(segment.is_some(), "a section refers to the dead segment {:?}", section.segment());
        *section_refs.entry(section.segment().raw()).or_default() += 1;
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
    let mut data_segments = 0;
    for (id, segment) in objects.segments() {
        let refs = segment.refs();
        let n = section_refs.get(&id.raw()).copied().unwrap_or(0);
        ensure!(refs.sections == n, "segment {id:?} counts {} sections, {n} refer to it", refs.sections);
        ensure!(refs.views == 0, "segment {id:?} counts views, and views do not exist yet");
        ensure!(!refs.is_unreferenced(), "segment {id:?} lives with no reference");
        match segment.backing() {
            Backing::File(identity) => {
                data_segments += 1;
                ensure!(objects.data_segment(identity) == Some(id), "segment {id:?} is not its file's data segment");
                ensure!(
                    segment.holds_file() && segment.commit() == 0,
                    "file segment {id:?} without its file, or charged"
                );
            }
            Backing::PageFile => {
                let committed = objects.sections().any(|s| s.segment() == id && s.kind() == SectionKind::Commit);
                let want = if committed { segment.pages() } else { 0 };
                ensure!(segment.commit() == want, "segment {id:?} charged {} pages, {want} expected", segment.commit());
            }
        }
    }
    let indexed = objects.data_segments().count();
    ensure!(indexed == data_segments, "{data_segments} data segments, {indexed} indexed");
    Ok(())
}
