//! [`ImageError`]: why a file is not an image `SEC_IMAGE` can map, one variant per NTSTATUS
//! that NT's `MiCreateImageFileMap` / `MiVerifyImageHeader` return for it. Every one of them
//! becomes `ERROR_BAD_EXE_FORMAT` (193) at the Win32 level (F130); the win32 crate maps them.

/// Why a file cannot back an image section (F130).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ImageError {
    /// Shorter than a DOS header, or no `MZ` at its start (`STATUS_INVALID_IMAGE_NOT_MZ`).
    #[error("not an executable image: no MZ header")]
    NotMz,
    /// An `NE` (16-bit Windows or OS/2) image (`STATUS_INVALID_IMAGE_NE_FORMAT`). NT tells a few
    /// DOS-extender and Win16 flavours of NE apart (`STATUS_INVALID_IMAGE_WIN_16`, `_PROTECT`);
    /// ntmem does not, and the Win32 error is the same.
    #[error("a 16-bit NE image")]
    NeFormat,
    /// An `MZ` program without a PE header where `e_lfanew` says (a DOS program, or a header
    /// outside the file or not 4-byte aligned) (`STATUS_INVALID_IMAGE_PROTECT`).
    #[error("not a PE image")]
    NotPe,
    /// A PE whose headers or section table NT refuses: bad optional-header magic, a machine
    /// that does not go with its format, bad alignments, sections that do not tile the image,
    /// raw data past the end of the file, a truncated header (`STATUS_INVALID_IMAGE_FORMAT`).
    #[error("bad executable format")]
    BadExeFormat,
}
