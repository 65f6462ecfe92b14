//! [`File`]: a host file opened through the simulated API — its access rights, share mode,
//! position and size. Files are identified by the host file's (device, inode), so every open of
//! one host file, under whatever path, finds the same data segment (F161).
//!
//! `read`/`write` go straight to the host file at the position. That is the one interim of
//! this layer: when views arrive they must go through the segment's pages (the cache), so that
//! reads, writes and views of a file agree (F161).

use super::SectionError;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The rights a file open grants, as NT's specific file rights (`FILE_READ_DATA` ...).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct FileAccess(u8);

impl FileAccess {
    /// No data access.
    pub const NONE: FileAccess = FileAccess(0);
    /// Reading data.
    pub const READ: FileAccess = FileAccess(1);
    /// Writing (or appending) data.
    pub const WRITE: FileAccess = FileAccess(2);
    /// Executing (mapping as code).
    pub const EXECUTE: FileAccess = FileAccess(4);

    /// Both sets of rights.
    #[must_use]
    pub const fn union(self, other: FileAccess) -> FileAccess {
        FileAccess(self.0 | other.0)
    }

    /// True when every right of `other` is here.
    #[must_use]
    pub const fn contains(self, other: FileAccess) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when some right of `other` is here.
    #[must_use]
    pub const fn intersects(self, other: FileAccess) -> bool {
        self.0 & other.0 != 0
    }
}

/// What other opens of the file may do while this one is open (`FILE_SHARE_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct FileShare {
    /// Others may read.
    pub read: bool,
    /// Others may write.
    pub write: bool,
    /// Others may delete.
    pub delete: bool,
}

/// What to do when the file does or does not exist.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Disposition {
    /// Create; fail when it exists.
    CreateNew,
    /// Create, or truncate an existing file.
    CreateAlways,
    /// Open; fail when it does not exist.
    OpenExisting,
    /// Open, or create when it does not exist.
    OpenAlways,
    /// Open and truncate; fail when it does not exist.
    TruncateExisting,
}

/// How a seek counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SeekOrigin {
    /// From the start.
    Begin,
    /// From the current position.
    Current,
    /// From the end.
    End,
}

/// A host file's identity: (device, inode).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct FileIdentity {
    pub(super) dev: u64,
    pub(super) ino: u64,
}

/// An open file (NT's file object).
#[derive(Debug)]
pub struct File {
    path: PathBuf,
    pub(crate) identity: FileIdentity,
    pub(crate) host: std::fs::File,
    access: FileAccess,
    share: FileShare,
    position: u64,
    /// Open handles to it.
    pub(crate) handles: u32,
}

impl File {
    /// Opens `path` as `disposition` says; `Ok((file, existed))`.
    pub(crate) fn open(
        path: &Path,
        access: FileAccess,
        share: FileShare,
        disposition: Disposition,
    ) -> Result<(File, bool), SectionError> {
        let existed = path.exists();
        let mut options = std::fs::OpenOptions::new();
        // Read is always asked of the host: the section layer reads pages even through a
        // write-only open (NT's cache manager opens its own stream).
        options.read(true).write(true);
        match disposition {
            Disposition::CreateNew => options.create_new(true),
            Disposition::CreateAlways | Disposition::OpenAlways => options.create(true),
            Disposition::OpenExisting | Disposition::TruncateExisting => &mut options,
        };
        let mut opened = options.open(path);
        if opened.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            && !access.contains(FileAccess::WRITE)
        {
            // A read-only host file opened for reading only.
            opened = std::fs::OpenOptions::new().read(true).open(path);
        }
        let host = opened.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound if !path.parent().is_some_and(Path::is_dir) => SectionError::PathNotFound,
            _ => SectionError::from_io(&e),
        })?;
        if matches!(disposition, Disposition::CreateAlways | Disposition::TruncateExisting) {
            host.set_len(0).map_err(|e| SectionError::from_io(&e))?;
        }
        let meta = host.metadata().map_err(|e| SectionError::from_io(&e))?;
        let identity = FileIdentity::new(meta.dev(), meta.ino());
        let file = File { path: path.to_owned(), identity, host, access, share, position: 0, handles: 0 };
        Ok((file, existed))
    }

    /// The path it was opened by.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The host file's identity.
    #[must_use]
    pub fn identity(&self) -> FileIdentity {
        self.identity
    }

    /// The rights this open grants.
    #[must_use]
    pub fn access(&self) -> FileAccess {
        self.access
    }

    /// What this open lets others do.
    #[must_use]
    pub fn share(&self) -> FileShare {
        self.share
    }

    /// Open handles to it.
    #[must_use]
    pub fn handles(&self) -> u32 {
        self.handles
    }

    /// The current position.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// True when an open with `access` and `share` may coexist with this one (NT's
    /// `IoCheckShareAccess`: each must share what the other does with data; an open that
    /// touches no data takes no part).
    #[must_use]
    pub fn shares_with(&self, access: FileAccess, share: FileShare) -> bool {
        if access == FileAccess::NONE || self.access == FileAccess::NONE {
            return true;
        }
        let theirs_ok = (!access.intersects(FileAccess::READ.union(FileAccess::EXECUTE)) || self.share.read)
            && (!access.contains(FileAccess::WRITE) || self.share.write);
        let mine_ok = (!self.access.intersects(FileAccess::READ.union(FileAccess::EXECUTE)) || share.read)
            && (!self.access.contains(FileAccess::WRITE) || share.write);
        theirs_ok && mine_ok
    }

    /// The file's size now.
    pub fn size(&self) -> Result<u64, SectionError> {
        self.host.metadata().map(|m| m.len()).map_err(|e| SectionError::from_io(&e))
    }

    /// Reads at the position into `buf`, advancing it; the bytes read (0 at the end).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, SectionError> {
        self.require(FileAccess::READ)?;
        self.host.seek(SeekFrom::Start(self.position)).map_err(|e| SectionError::from_io(&e))?;
        let mut done = 0;
        while done < buf.len() {
            match self.host.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SectionError::from_io(&e)),
            }
        }
        self.position += done as u64;
        Ok(done)
    }

    /// Writes `data` at the position, advancing it.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<usize, SectionError> {
        self.require(FileAccess::WRITE)?;
        self.host.seek(SeekFrom::Start(self.position)).map_err(|e| SectionError::from_io(&e))?;
        self.host.write_all(data).map_err(|e| SectionError::from_io(&e))?;
        self.position += data.len() as u64;
        Ok(data.len())
    }

    /// Moves the position; the new one.
    pub(crate) fn seek(&mut self, distance: i64, from: SeekOrigin) -> Result<u64, SectionError> {
        let origin = match from {
            SeekOrigin::Begin => 0,
            SeekOrigin::Current => self.position,
            SeekOrigin::End => self.size()?,
        };
        let origin = i128::from(origin);
        let target = origin + i128::from(distance);
        if target < 0 {
            return Err(SectionError::NegativeSeek);
        }
        self.position = u64::try_from(target).map_err(|_| SectionError::InvalidParameter)?;
        Ok(self.position)
    }

    /// Sets the end of the file at the position.
    pub(crate) fn set_end(&mut self) -> Result<(), SectionError> {
        self.require(FileAccess::WRITE)?;
        self.host.set_len(self.position).map_err(|e| SectionError::from_io(&e))
    }

    /// Writes the host's buffers to the disk.
    pub(crate) fn flush(&mut self) -> Result<(), SectionError> {
        self.require(FileAccess::WRITE)?;
        self.host.sync_all().map_err(|e| SectionError::from_io(&e))
    }

    fn require(&self, access: FileAccess) -> Result<(), SectionError> {
        if self.access.contains(access) {
            Ok(())
        } else {
            Err(SectionError::AccessDenied)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(access: FileAccess, share: FileShare) -> File {
        let host = tempfile_host();
        File { path: PathBuf::new(), identity: FileIdentity::new(0, 0), host, access, share, position: 0, handles: 1 }
    }

    fn tempfile_host() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("ntmem-file-unit-{}", std::process::id()));
        let host = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path);
        let _ = std::fs::remove_file(&path);
        host.expect("a temporary host file")
    }

    #[test]
    fn sharing_is_checked_both_ways() {
        let read_share_read = FileShare { read: true, ..FileShare::default() };
        let reader = file(FileAccess::READ, read_share_read);
        assert!(reader.shares_with(FileAccess::READ, read_share_read));
        assert!(!reader.shares_with(FileAccess::WRITE, FileShare { read: true, write: true, delete: false }));
        // The new open must share what the old one does...
        assert!(!reader.shares_with(FileAccess::READ, FileShare::default()));
        // ... unless it touches no data.
        assert!(reader.shares_with(FileAccess::NONE, FileShare::default()));
        let exclusive = file(FileAccess::READ.union(FileAccess::WRITE), FileShare::default());
        assert!(!exclusive.shares_with(FileAccess::READ, FileShare { read: true, write: true, delete: true }));
    }

    #[test]
    fn seeking_before_the_start_changes_nothing() {
        let mut f = file(FileAccess::READ.union(FileAccess::WRITE), FileShare::default());
        assert_eq!(f.write(b"abcdef"), Ok(6));
        assert_eq!(f.seek(-2, SeekOrigin::End), Ok(4));
        assert_eq!(f.seek(-5, SeekOrigin::Current), Err(SectionError::NegativeSeek));
        assert_eq!(f.position(), 4);
        let mut buf = [0; 8];
        assert_eq!(f.read(&mut buf), Ok(2));
        assert_eq!(&buf[..2], b"ef");
    }
}
