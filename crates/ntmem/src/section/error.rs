//! [`SectionError`]: why a file or section operation failed, one variant per condition; the
//! win32 crate maps each to its NTSTATUS.

/// Why a file or section operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// The handle names no object of the caller.
    #[error("invalid handle")]
    InvalidHandle,
    /// The handle names an object of another type.
    #[error("the handle names an object of another type")]
    ObjectTypeMismatch,
    /// The handle lacks a right the operation needs.
    #[error("access denied")]
    AccessDenied,
    /// A parameter is not valid.
    #[error("invalid parameter")]
    InvalidParameter,
    /// No object or file of that name.
    #[error("no object of that name")]
    NameNotFound,
    /// The directory of the path does not exist.
    #[error("the path does not exist")]
    PathNotFound,
    /// The file exists and the disposition wanted a new one; or a section's name is in use
    /// and the caller did not ask to open what holds it (F207: no `OBJ_OPENIF`).
    #[error("the name is already in use")]
    NameCollision,
    /// Another open of the file does not share the access asked (or this one does not
    /// share the access of another).
    #[error("sharing violation")]
    SharingViolation,
    /// The section is bigger than a read-only file or the section limit (F124, F138), or an
    /// image section than its image (F206).
    #[error("the section is too big")]
    SectionTooBig,
    /// An image section asked to be larger than its image, with a read-write protection:
    /// NT creates it, then cannot extend an image (F206).
    #[error("an image section cannot be extended")]
    SectionNotExtended,
    /// The file is empty and no size was given (F126).
    #[error("the mapped file is empty")]
    MappedFileSizeZero,
    /// The file cannot hold the section (F125).
    #[error("the disk is full")]
    DiskFull,
    /// Not enough commit for a `SEC_COMMIT` section (F138).
    #[error("the commit limit would be exceeded")]
    CommitLimit,
    /// The segment's prototype PTEs do not fit in the pool (F138, 8 TiB).
    #[error("insufficient resources")]
    InsufficientResources,
    /// The protection is not one a section takes (F127).
    #[error("invalid page protection")]
    InvalidProtection,
    /// `SEC_IMAGE` without a file, or on an empty one (F126, F129).
    #[error("the file cannot back an image section")]
    InvalidFileForSection,
    /// `SEC_IMAGE` on a file that does not start with `MZ` (F130).
    #[error("not an executable image")]
    InvalidImageNotMz,
    /// The feature arrives with a later part of sections (image sections).
    #[error("not supported yet")]
    NotSupported,
    /// The host file system failed.
    #[error("host I/O failed: {0:?}")]
    Io(std::io::ErrorKind),
    /// A seek before the start of the file.
    #[error("negative seek")]
    NegativeSeek,
    /// A view larger than what the section holds from its offset (F143).
    #[error("the view does not fit in the section")]
    InvalidViewSize,
    /// A file cannot end inside a mapped view of it (F139).
    #[error("the file is mapped: it cannot end inside a view")]
    UserMappedFile,
    /// The file is not an image `SEC_IMAGE` can map (F130).
    #[error(transparent)]
    Image(super::ImageError),
    /// The address space refused the view (placement, conflicts, commit, unmapping).
    #[error(transparent)]
    View(#[from] crate::address_space::VmError),
}

impl SectionError {
    pub(crate) fn from_io(e: &std::io::Error) -> SectionError {
        match e.kind() {
            std::io::ErrorKind::NotFound => SectionError::NameNotFound,
            std::io::ErrorKind::AlreadyExists => SectionError::NameCollision,
            // Opening a directory as a file is ERROR_ACCESS_DENIED on Windows.
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::IsADirectory => SectionError::AccessDenied,
            kind => SectionError::Io(kind),
        }
    }
}
