//! The system's files and sections as processes reach them: through handles. Each handle holds
//! a reference on its object (`ObReferenceObject`); closing the last one lets the object go
//! (section/mod.rs says when). The Win32 rights a handle grants are kept in its entry and
//! checked by the façade; the core checks what the object itself allows (a file's access for a
//! section's protection, F128).

use super::{Handle, HandleEntry, Object, ProcessId, System};
use crate::section::{
    Created, Disposition, FileAccess, FileId, FileShare, NamedObject, SectionError, SectionId, SectionOptions,
    Sections, SeekOrigin,
};
use std::path::Path;

impl System {
    /// Every file, segment and section, and the namespace.
    #[must_use]
    pub fn sections(&self) -> &Sections {
        &self.sections
    }

    /// The entry behind a handle of `pid`.
    pub fn handle_entry(&self, pid: ProcessId, handle: Handle) -> Result<HandleEntry, SectionError> {
        self.process(pid).and_then(|p| p.handles().get(handle)).ok_or(SectionError::InvalidHandle)
    }

    fn file_of(&self, pid: ProcessId, handle: Handle) -> Result<FileId, SectionError> {
        match self.handle_entry(pid, handle)?.object {
            Object::File(id) => Ok(id),
            _ => Err(SectionError::ObjectTypeMismatch),
        }
    }

    /// The section a handle of `pid` names, with the rights the handle grants.
    pub fn section_of(&self, pid: ProcessId, handle: Handle) -> Result<(SectionId, u32), SectionError> {
        let entry = self.handle_entry(pid, handle)?;
        match entry.object {
            Object::Section(id) => Ok((id, entry.access)),
            _ => Err(SectionError::ObjectTypeMismatch),
        }
    }

    /// Opens a handle of `pid` to `object`, referencing it.
    fn open_handle(&mut self, pid: ProcessId, object: Object, access: u32) -> Result<Handle, SectionError> {
        let process = self.process_mut(pid).filter(|p| p.space().is_some()).ok_or(SectionError::InvalidHandle)?;
        let handle = process.handles_mut().insert(HandleEntry { object, access });
        match object {
            Object::File(id) => self.sections.reference_file(id),
            Object::Section(id) => self.sections.reference_section(id),
            Object::Event(id) => self.sections.reference_event(id),
            Object::Process(_) => {}
        }
        Ok(handle)
    }

    /// Drops the reference a closed handle held.
    pub(crate) fn release_object(&mut self, object: Object) {
        match object {
            Object::File(id) => self.sections.dereference_file(id),
            Object::Section(id) => self.sections.dereference_section(&mut self.machine, id),
            Object::Event(id) => self.sections.dereference_event(id),
            Object::Process(_) => {}
        }
    }

    /// Defers the writing of a file-backed section's modified pages, or allows it again: what
    /// NT's file systems ask with `MmDisableModifiedWriteOfSection` /
    /// `MmEnableModifiedWriteOfSection` (NTFS, for its log file, so that no page reaches the
    /// disk before the log records that describe it). While deferred, the section's modified
    /// pages that leave every working set go to the modified no-write list, which the
    /// modified page writer leaves alone; `FlushViewOfFile` still writes them (an explicit
    /// flush is the file system's own request), and allowing writes again moves them to the
    /// modified list. No user-mode Win32 function reaches this; ntmem offers it to scenarios
    /// and tests. `InvalidParameter` for a section that is not a file's data section.
    pub fn set_section_write_deferred(
        &mut self,
        pid: ProcessId,
        handle: Handle,
        deferred: bool,
    ) -> Result<(), SectionError> {
        let (id, _) = self.section_of(pid, handle)?;
        let segment = self.sections.section(id).ok_or(SectionError::InvalidHandle)?.segment();
        if self.machine.defer_segment_writes(segment, deferred) {
            Ok(())
        } else {
            Err(SectionError::InvalidParameter)
        }
    }

    /// Closes a handle of `pid`, of any object type.
    pub fn close_handle(&mut self, pid: ProcessId, handle: Handle) -> Result<HandleEntry, SectionError> {
        let entry =
            self.process_mut(pid).and_then(|p| p.handles_mut().close(handle)).ok_or(SectionError::InvalidHandle)?;
        self.release_object(entry.object);
        Ok(entry)
    }

    /// Opens a handle of `target` to the object behind `handle` of `source`, granting
    /// `access` (`None`: the same access); closes the source handle when `close_source`.
    pub fn duplicate_handle(
        &mut self,
        source: ProcessId,
        handle: Handle,
        target: ProcessId,
        access: Option<u32>,
        close_source: bool,
    ) -> Result<Handle, SectionError> {
        let entry = self.handle_entry(source, handle)?;
        if self.process(target).and_then(|p| p.space()).is_none() {
            return Err(SectionError::InvalidHandle);
        }
        let new = self.open_handle(target, entry.object, access.unwrap_or(entry.access))?;
        if close_source {
            self.close_handle(source, handle)?;
        }
        Ok(new)
    }

    /// Opens a host file for `pid`: `Ok((handle, existed))`. `handle_access` is the Win32
    /// mask the handle records.
    pub fn create_file(
        &mut self,
        pid: ProcessId,
        path: &Path,
        access: FileAccess,
        share: FileShare,
        disposition: Disposition,
        handle_access: u32,
    ) -> Result<(Handle, bool), SectionError> {
        if self.process(pid).and_then(|p| p.space()).is_none() {
            return Err(SectionError::InvalidHandle);
        }
        let (id, existed) = self.sections.open_file(path, access, share, disposition)?;
        let handle = self.open_handle(pid, Object::File(id), handle_access)?;
        Ok((handle, existed))
    }

    pub(super) fn file_mut(
        &mut self,
        pid: ProcessId,
        handle: Handle,
    ) -> Result<&mut crate::section::File, SectionError> {
        let id = self.file_of(pid, handle)?;
        self.sections.file_mut(id).ok_or(SectionError::InvalidHandle)
    }

    /// Moves a file's position; the new one.
    pub fn seek_file(
        &mut self,
        pid: ProcessId,
        handle: Handle,
        distance: i64,
        origin: SeekOrigin,
    ) -> Result<u64, SectionError> {
        self.file_mut(pid, handle)?.seek(distance, origin)
    }

    /// Writes a file's buffers to the host disk.
    pub fn flush_file(&mut self, pid: ProcessId, handle: Handle) -> Result<(), SectionError> {
        self.file_mut(pid, handle)?.flush()
    }

    /// A file's size.
    pub fn file_size(&mut self, pid: ProcessId, handle: Handle) -> Result<u64, SectionError> {
        self.file_mut(pid, handle)?.size()
    }

    /// Creates a section for `pid` (or, with `options.open_existing`, finds the one its name
    /// stands for, F133; without it a name in use is `NameCollision`, F207) and opens a handle
    /// granting `access`. `options.file` is ignored: `file` is the caller's handle.
    pub fn create_section(
        &mut self,
        pid: ProcessId,
        file: Option<Handle>,
        options: SectionOptions<'_>,
        access: u32,
    ) -> Result<(Handle, Created), SectionError> {
        if self.process(pid).and_then(|p| p.space()).is_none() {
            return Err(SectionError::InvalidHandle);
        }
        let file = file.map(|h| self.file_of(pid, h)).transpose()?;
        let options = SectionOptions { file, ..options };
        let (id, created) = self.sections.create_section(&mut self.machine, &options)?;
        match self.open_handle(pid, Object::Section(id), access) {
            Ok(handle) => Ok((handle, created)),
            Err(e) => {
                // The object has no reference left: it goes.
                self.sections.reference_section(id);
                self.sections.dereference_section(&mut self.machine, id);
                Err(e)
            }
        }
    }

    /// Opens the section `name` stands for (F133: names are case-sensitive; F137: a name of
    /// another type is `ObjectTypeMismatch`).
    pub fn open_section(&mut self, pid: ProcessId, name: &str, access: u32) -> Result<Handle, SectionError> {
        match self.sections.lookup(name).ok_or(SectionError::NameNotFound)? {
            NamedObject::Section(id) => self.open_handle(pid, Object::Section(id), access),
            NamedObject::Event(_) => Err(SectionError::ObjectTypeMismatch),
        }
    }

    /// Creates an event for `pid`, or opens the one its name stands for; a name taken by a
    /// section is `ObjectTypeMismatch` (F137).
    pub fn create_event(
        &mut self,
        pid: ProcessId,
        name: Option<&str>,
        access: u32,
    ) -> Result<(Handle, Created), SectionError> {
        if self.process(pid).and_then(|p| p.space()).is_none() {
            return Err(SectionError::InvalidHandle);
        }
        let (id, created) = self.sections.create_event(name)?;
        let handle = self.open_handle(pid, Object::Event(id), access)?;
        Ok((handle, created))
    }
}
