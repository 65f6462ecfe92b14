//! One memory reference of a trace: what kind, where, how many bytes.
//!
//! Contract: a [`Reference`] is always well formed — `size >= 1`, its last byte does not wrap
//! past 2^64 — and its address is canonical x86-64 (the parsers refuse the rest), so splitting it
//! into pages ([`Reference::pages`]) cannot fail.

/// Bytes in a page (4 KiB, x86-64 small pages).
pub const PAGE_BYTES: u64 = 4096;
/// log2 of [`PAGE_BYTES`].
pub const PAGE_SHIFT: u32 = 12;

/// What a reference does to its bytes (lackey's `I`, `L`, `S`, `M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// An instruction fetch (`I`).
    Execute,
    /// A load (`L`).
    Read,
    /// A store (`S`).
    Write,
    /// A load then a store of the same bytes (`M`: `inc [mem]`).
    Modify,
}

impl RefKind {
    /// The access bits this kind sets: [`ACCESS_READ`], [`ACCESS_WRITE`], [`ACCESS_EXECUTE`].
    #[must_use]
    pub const fn bits(self) -> u8 {
        match self {
            RefKind::Execute => ACCESS_EXECUTE,
            RefKind::Read => ACCESS_READ,
            RefKind::Write => ACCESS_WRITE,
            RefKind::Modify => ACCESS_READ | ACCESS_WRITE,
        }
    }
}

/// A read of the page (an access-set bit).
pub const ACCESS_READ: u8 = 1;
/// A write of the page.
pub const ACCESS_WRITE: u8 = 2;
/// An instruction fetch from the page.
pub const ACCESS_EXECUTE: u8 = 4;

/// One reference: `size` bytes at `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// What it does.
    pub kind: RefKind,
    /// Its first byte.
    pub addr: u64,
    /// Its length in bytes, at least 1.
    pub size: u64,
}

impl Reference {
    /// The first and the last page number it touches (equal unless it spans a page boundary).
    #[must_use]
    pub fn pages(&self) -> (u64, u64) {
        let last = self.addr.saturating_add(self.size.max(1) - 1);
        (self.addr >> PAGE_SHIFT, last >> PAGE_SHIFT)
    }
}

/// True when `addr` is a canonical x86-64 address: bits 63..47 all equal (Intel SDM vol. 1,
/// 3.3.7.1).
#[must_use]
pub const fn is_canonical(addr: u64) -> bool {
    let top = addr >> 47;
    top == 0 || top == (u64::MAX >> 47)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_spanning_a_boundary_touches_two_pages() {
        let r = Reference { kind: RefKind::Read, addr: 0x1ffc, size: 8 };
        assert_eq!(r.pages(), (1, 2));
        let r = Reference { kind: RefKind::Read, addr: 0x1ff8, size: 8 };
        assert_eq!(r.pages(), (1, 1));
    }

    #[test]
    fn canonical_means_bits_63_to_47_agree() {
        assert!(is_canonical(0x7fff_ffff_ffff));
        assert!(is_canonical(0xffff_8000_0000_0000));
        assert!(!is_canonical(0x8000_0000_0000));
        assert!(!is_canonical(0xffff_7fff_ffff_ffff));
    }
}
