//! Creating a section (`MmCreateSection`, then the name as `ObInsertObject` resolves it): the
//! checks of F122–F130 and F138 in Windows' order, the commit charge of a page-file section,
//! the growth of a file a section is larger than (F125), then the name (F133, F207, F208), then
//! the segment — a new one for a page-file-backed section, the file's data segment (created on
//! first use) for a file-backed one.
//!
//! The checks change nothing. What building a section does before its name is looked at stays
//! done whatever the name decides, as in NT: a file grown stays grown (F208); the commit charge
//! is returned when the name opens an existing section or refuses (a section is charged only
//! when it has no file, and grows a file only when it has one, so no other exit holds a
//! charge). After the name only the host's resources can fail (a full segment table, a file
//! that cannot be duplicated); the file then stays grown, as NT leaves it when
//! `ObInsertObject` fails.

use super::{insert, Backing, FileId, Section, SectionError, SectionId, SectionKind, SectionOptions, Sections};
use super::{FileAccess, ImageLayout, ImagePage, NamedObject, PageContent, Segment, SegmentId, MAX_SEGMENT_PAGES};
use crate::machine::Machine;
use crate::paging::{Access, Modifier, Protection, PrototypePte};
use crate::units::PAGE_SIZE;
use std::io::Read;

/// The largest section: the size of the user address space (F138: 128 TiB is too big).
const MAX_SECTION_BYTES: u64 = 0x7FFF_FFFF_0000;

/// Whether a section is new or was found by its name (F133).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Created {
    /// A new section object.
    New,
    /// The name was taken by this existing section; it is returned as it is.
    Existing,
}

/// The file rights a section protection needs (F128, "CreateFileMappingW function").
fn rights_for(protection: Protection) -> FileAccess {
    match protection.access() {
        Access::ReadWrite => FileAccess::READ.union(FileAccess::WRITE),
        Access::ExecuteRead | Access::ExecuteWriteCopy | Access::Execute => FileAccess::READ.union(FileAccess::EXECUTE),
        Access::ExecuteReadWrite => FileAccess::READ.union(FileAccess::WRITE).union(FileAccess::EXECUTE),
        Access::ReadOnly | Access::WriteCopy | Access::NoAccess => FileAccess::READ,
    }
}

/// A section protection (F127): one of the six, no modifier.
fn check_protection(protection: Protection) -> Result<(), SectionError> {
    let ok = protection.modifier() == Modifier::None
        && matches!(
            protection.access(),
            Access::ReadOnly
                | Access::ReadWrite
                | Access::WriteCopy
                | Access::ExecuteRead
                | Access::ExecuteReadWrite
                | Access::ExecuteWriteCopy
        );
    if ok {
        Ok(())
    } else {
        Err(SectionError::InvalidProtection)
    }
}

/// The size an image section keeps (F206, NT's `SizeOfSection`): with none asked, the
/// image's (`image_size`: `SizeOfImage` in whole pages); else the size asked, unrounded, when
/// the image holds it. A larger size is refused: `SectionTooBig`, or `SectionNotExtended` with
/// a read-write protection (NT creates that section, then cannot extend an image). The WRK
/// answers so once the image's segment exists, which Windows keeps cached after its last use;
/// ntmem answers so always.
fn image_maximum_size(options: &SectionOptions<'_>, image_size: u64) -> Result<u64, SectionError> {
    match options.size {
        None | Some(0) => Ok(image_size),
        Some(s) if s <= image_size => Ok(s),
        Some(_) if matches!(options.protection.access(), Access::ReadWrite | Access::ExecuteReadWrite) => {
            Err(SectionError::SectionNotExtended)
        }
        Some(_) => Err(SectionError::SectionTooBig),
    }
}

fn pages_of(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE)
}

/// What the checks decided for a file-backed section.
struct FilePlan {
    id: FileId,
    size: u64,
    /// The file must grow to `size` (F125).
    extend: bool,
    /// What `NtQuerySection` will report: `size`, or an image's MaximumSize (F206).
    maximum_size: u64,
    /// The parsed image, for `SEC_IMAGE` (F130, F162).
    image: Option<Box<ImageLayout>>,
}

impl Sections {
    /// Creates a section, or (with `open_existing`) finds the one its name already stands for.
    pub(crate) fn create_section(
        &mut self,
        machine: &mut Machine,
        options: &SectionOptions<'_>,
    ) -> Result<(SectionId, Created), SectionError> {
        check_protection(options.protection)?;
        let plan = match options.file {
            None => {
                if options.kind == SectionKind::Image {
                    return Err(SectionError::InvalidFileForSection); // F129
                }
                None
            }
            Some(file) => Some(self.plan_file(machine, file, options)?),
        };
        let size = match &plan {
            // F122: a page-file section needs a size, and is rounded to pages.
            None => match options.size {
                None | Some(0) => return Err(SectionError::InvalidParameter),
                Some(s) if s > MAX_SECTION_BYTES => return Err(SectionError::SectionTooBig),
                Some(s) => pages_of(s) * PAGE_SIZE,
            },
            Some(p) => p.size,
        };
        let pages = pages_of(size);
        let commit = if plan.is_none() && options.kind == SectionKind::Commit { pages } else { 0 };
        if pages > MAX_SEGMENT_PAGES && commit == 0 {
            return Err(SectionError::InsufficientResources); // F138: 8 TiB SEC_RESERVE
        }
        machine.charge(commit).map_err(|_| SectionError::CommitLimit)?;
        if pages > MAX_SEGMENT_PAGES {
            machine.commit.uncharge(commit);
            return Err(SectionError::InsufficientResources);
        }
        // F208: NT builds the new section — its commit charged, its file grown (F125) — before
        // the object manager looks at its name, so those succeed or fail first and the file
        // stays grown; only then does a name in use give the existing object.
        if let Some(p) = plan.as_ref().filter(|p| p.extend) {
            let file = self.file(p.id).ok_or(SectionError::InvalidHandle)?;
            file.host.set_len(p.size).map_err(|_| SectionError::DiskFull)?;
        }
        if let Some(found) = options.name.and_then(|n| self.lookup(n)) {
            machine.commit.uncharge(commit);
            return match found {
                // F207: without OBJ_OPENIF a name in use is a collision, whatever holds it.
                _ if !options.open_existing => Err(SectionError::NameCollision),
                // F133: the existing object, with its own size; the new one is dropped.
                NamedObject::Section(existing) => Ok((existing, Created::Existing)),
                // F137: a name taken by another type of object.
                NamedObject::Event(_) => Err(SectionError::ObjectTypeMismatch),
            };
        }
        let segment = match &plan {
            None => {
                let initial = match options.kind {
                    SectionKind::Commit => PrototypePte::DemandZero(options.protection),
                    _ => PrototypePte::Reserved,
                };
                let mut seg = Segment::new(Backing::PageFile, pages, initial, None);
                seg.commit = commit;
                match machine.segments.insert(seg) {
                    Some(id) => id,
                    None => {
                        machine.commit.uncharge(commit);
                        return Err(SectionError::InsufficientResources);
                    }
                }
            }
            Some(p) if p.image.is_some() => self.image_segment_for(machine, p)?,
            Some(p) => self.data_segment_for(machine, p, options.protection)?,
        };
        let section = Section {
            segment,
            size,
            maximum_size: plan.as_ref().map_or(size, |p| p.maximum_size),
            protection: options.protection,
            kind: if plan.is_some() && options.kind != SectionKind::Image { SectionKind::File } else { options.kind },
            caching: options.caching,
            name: options.name.map(str::to_owned),
            file: plan.as_ref().and_then(|p| self.file(p.id)).map(super::File::identity),
            handles: 0,
            views: 0,
        };
        if let Some(seg) = machine.segments.get_mut(segment) {
            seg.refs.sections += 1;
            seg.dying = false;
        }
        let Some(id) = insert(&mut self.sections, section).map(SectionId) else {
            return Err(SectionError::InsufficientResources);
        };
        if let Some(name) = options.name {
            self.names.insert(name.to_owned(), NamedObject::Section(id));
        }
        Ok((id, Created::New))
    }

    /// The checks of a file-backed section (F123–F126, F128, F130), changing nothing.
    fn plan_file(
        &mut self,
        machine: &Machine,
        id: FileId,
        options: &SectionOptions<'_>,
    ) -> Result<FilePlan, SectionError> {
        let file = self.file_mut(id).ok_or(SectionError::InvalidHandle)?;
        if !file.access().contains(rights_for(options.protection)) {
            return Err(SectionError::AccessDenied); // F128
        }
        let file_size = file.size()?;
        if options.kind == SectionKind::Image {
            if file_size == 0 {
                return Err(SectionError::InvalidFileForSection); // F126
            }
            // The headers and section table, parsed from the whole file (F130).
            let mut bytes = Vec::new();
            let mut host = &file.host;
            std::io::Seek::seek(&mut host, std::io::SeekFrom::Start(0))
                .and_then(|_| host.read_to_end(&mut bytes))
                .map_err(|e| SectionError::from_io(&e))?;
            // The file as its views see it: pages a data view holds in memory are newer than
            // the host file's (F161).
            if let Some(data) = machine.segments.data_segment(file.identity()) {
                machine.copy_cached(data, 0, &mut bytes);
            }
            let layout = ImageLayout::parse(&bytes).map_err(SectionError::Image)?;
            let size = layout.view_size();
            let maximum_size = image_maximum_size(options, size)?;
            return Ok(FilePlan { id, size, extend: false, maximum_size, image: Some(Box::new(layout)) });
        }
        let size = match options.size {
            None | Some(0) if file_size == 0 => return Err(SectionError::MappedFileSizeZero), // F126
            None | Some(0) => file_size,
            Some(s) => s,
        };
        if size > MAX_SECTION_BYTES {
            return Err(SectionError::SectionTooBig);
        }
        let extend = size > file_size;
        if extend && !options.protection.can_write() {
            return Err(SectionError::SectionTooBig); // F124
        }
        Ok(FilePlan { id, size, extend, maximum_size: size, image: None })
    }

    /// The file's image segment, created on first use (NT's image control area): one
    /// prototype PTE per page of the image as its layout says (headers read-only, each section
    /// at its RVA with its protection, raw data in file, the tail demand-zero, gaps reserved),
    /// charged once for the pages of shared writable sections, which only the page file can
    /// hold once written.
    fn image_segment_for(&mut self, machine: &mut Machine, plan: &FilePlan) -> Result<SegmentId, SectionError> {
        let file = self.file(plan.id).ok_or(SectionError::InvalidHandle)?;
        let identity = file.identity();
        if let Some(id) = machine.segments.image_segment(identity) {
            return Ok(id);
        }
        let layout = plan.image.clone().ok_or(SectionError::InvalidFileForSection)?;
        let host = file.host.try_clone().map_err(|e| SectionError::from_io(&e))?;
        let pages = u64::from(layout.page_count());
        let mut seg = Segment::new(Backing::Image(identity), pages, PrototypePte::Reserved, Some(host));
        for page in layout.pages().enumerate() {
            let (i, page) = page;
            let pte = match page {
                ImagePage::Committed { protection, content: PageContent::File { .. }, .. } => {
                    PrototypePte::InFile(protection)
                }
                ImagePage::Committed { protection, content: PageContent::Zero, .. } => {
                    PrototypePte::DemandZero(protection)
                }
                ImagePage::Gap => PrototypePte::Reserved,
            };
            seg.set_prototype(i as u64, pte);
        }
        let commit = layout.shared_commit();
        machine.charge(commit).map_err(|_| SectionError::CommitLimit)?;
        seg.commit = commit;
        seg.image = Some(layout);
        let Some(id) = machine.segments.insert(seg) else {
            machine.commit.uncharge(commit);
            return Err(SectionError::InsufficientResources);
        };
        machine.segments.index_image(identity, id);
        Ok(id)
    }

    /// The file's data segment, created on first use and grown to cover `plan.size` (the file
    /// itself was grown first when the section is bigger, F125).
    fn data_segment_for(
        &mut self,
        machine: &mut Machine,
        plan: &FilePlan,
        protection: Protection,
    ) -> Result<SegmentId, SectionError> {
        let file = self.file(plan.id).ok_or(SectionError::InvalidHandle)?;
        let identity = file.identity();
        let pages = pages_of(plan.size);
        if let Some(id) = machine.segments.data_segment(identity) {
            if let Some(seg) = machine.segments.get_mut(id) {
                seg.grow(pages, protection);
            }
            return Ok(id);
        }
        let host = file.host.try_clone().map_err(|e| SectionError::from_io(&e))?;
        let seg = Segment::new(Backing::File(identity), pages, PrototypePte::InFile(protection), Some(host));
        let id = machine.segments.insert(seg).ok_or(SectionError::InsufficientResources)?;
        machine.segments.index_file(identity, id);
        Ok(id)
    }
}
