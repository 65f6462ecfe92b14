//! Address and count newtypes: the only way addresses, frames and page counts travel through
//! the core.
//!
//! `VirtAddr` is a canonical 48-bit x86-64 virtual address (Intel SDM vol. 1, 3.3.7.1);
//! `PhysAddr` a physical address of the simulated RAM; `Vpn` and `Pfn` are page and frame
//! numbers. Ranges are half-open. Arithmetic is checked: an overflow is an `Option::None`, never
//! a silent wrap.

use core::fmt;

/// Bytes in a page and a frame (F1: `dwPageSize`).
pub const PAGE_SIZE: u64 = 0x1000;
/// [`PAGE_SIZE`] as a host size, for indexing bytes.
pub const PAGE_BYTES: usize = 0x1000;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
/// Bytes in a 2 MiB large page (`GetLargePageMinimum`).
pub const LARGE_PAGE_SIZE: u64 = 0x20_0000;
/// Pages in a large page.
pub const PAGES_PER_LARGE_PAGE: u64 = LARGE_PAGE_SIZE / PAGE_SIZE;
/// The unit of reservation bases (F1: `dwAllocationGranularity`).
pub const ALLOCATION_GRANULARITY: u64 = 0x1_0000;
/// Lowest user address (F1: `lpMinimumApplicationAddress`).
pub const MIN_USER_ADDRESS: u64 = 0x1_0000;
/// Highest user address, inclusive (F1: `lpMaximumApplicationAddress`).
pub const MAX_USER_ADDRESS: u64 = 0x7FFF_FFFE_FFFF;
/// One past the highest page a VAD may cover.
pub const USER_END: u64 = MAX_USER_ADDRESS + 1;

const _: () = assert!(PAGE_SIZE == 1 << PAGE_SHIFT && PAGE_BYTES as u64 == PAGE_SIZE);
const _: () = assert!(ALLOCATION_GRANULARITY.is_multiple_of(PAGE_SIZE));
const _: () = assert!(USER_END.is_multiple_of(ALLOCATION_GRANULARITY));

/// Rounds `value` down to a multiple of `align` (a power of two).
#[must_use]
pub const fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on overflow.
#[must_use]
pub const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// A canonical x86-64 virtual address: bits 63..48 copy bit 47.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(u64);

impl VirtAddr {
    /// Accepts only canonical addresses.
    #[must_use]
    pub const fn try_new(raw: u64) -> Option<VirtAddr> {
        let top = raw >> 47;
        if top == 0 || top == 0x1_FFFF {
            Some(VirtAddr(raw))
        } else {
            None
        }
    }

    /// A user-range address (below 2^47, so always canonical).
    pub(crate) const fn user(raw: u64) -> VirtAddr {
        debug_assert!(raw < 1 << 47);
        VirtAddr(raw & ((1 << 47) - 1))
    }

    /// The raw value.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The page holding this address.
    #[must_use]
    pub const fn vpn(self) -> Vpn {
        Vpn(self.0 >> PAGE_SHIFT)
    }

    /// The byte offset inside the page.
    #[must_use]
    pub const fn page_offset(self) -> u64 {
        self.0 & (PAGE_SIZE - 1)
    }
}

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}

/// A virtual page number (the address shifted right by 12).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Vpn(pub(crate) u64);

impl Vpn {
    /// The raw page number.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The first byte of the page.
    #[must_use]
    pub const fn addr(self) -> VirtAddr {
        VirtAddr::user(self.0 << PAGE_SHIFT)
    }

    /// The page `n` pages further on.
    #[must_use]
    pub const fn add(self, n: u64) -> Vpn {
        Vpn(self.0 + n)
    }

    /// The first page of the next page table's span (page tables map 512 pages each).
    #[must_use]
    pub const fn next_table_start(self) -> Vpn {
        Vpn((self.0 / PAGES_PER_TABLE + 1) * PAGES_PER_TABLE)
    }
}

/// Pages one page table maps.
const PAGES_PER_TABLE: u64 = 512;

/// A physical frame number: an index into the simulated RAM.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Pfn(pub(crate) u32);

impl Pfn {
    /// The raw frame number.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }

    /// The index into frame-indexed tables.
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The physical address of the frame's first byte.
    #[must_use]
    pub const fn phys(self) -> PhysAddr {
        PhysAddr((self.0 as u64) << PAGE_SHIFT)
    }
}

/// A physical address in the simulated RAM.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub(crate) u64);

impl PhysAddr {
    /// The raw value.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The frame holding this address.
    #[must_use]
    pub const fn pfn(self) -> Pfn {
        // Frames are u32-indexed: RAM is capped at 16 TiB by `Config` validation.
        #[allow(clippy::cast_possible_truncation)]
        Pfn((self.0 >> PAGE_SHIFT) as u32)
    }

    /// The byte offset inside the frame.
    #[must_use]
    pub const fn frame_offset(self) -> usize {
        (self.0 & (PAGE_SIZE - 1)) as usize
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

/// A half-open range of pages `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRange {
    /// First page.
    pub start: Vpn,
    /// One past the last page.
    pub end: Vpn,
}

impl PageRange {
    /// The pages touched by the bytes `[addr, addr + len)`; `None` when that runs past the user
    /// range or `len` is zero.
    #[must_use]
    pub fn covering(addr: u64, len: u64) -> Option<PageRange> {
        if len == 0 {
            return None;
        }
        let last = addr.checked_add(len - 1)?;
        if last > MAX_USER_ADDRESS {
            return None;
        }
        Some(PageRange { start: Vpn(addr >> PAGE_SHIFT), end: Vpn((last >> PAGE_SHIFT) + 1) })
    }

    /// The pages of the byte range `[start, end)`, both page aligned.
    #[must_use]
    pub const fn from_bytes(start: u64, end: u64) -> PageRange {
        PageRange { start: Vpn(start >> PAGE_SHIFT), end: Vpn(end >> PAGE_SHIFT) }
    }

    /// Number of pages.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.end.0 - self.start.0
    }

    /// True when no page is in the range.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.end.0 <= self.start.0
    }

    /// First byte.
    #[must_use]
    pub const fn start_addr(&self) -> u64 {
        self.start.0 << PAGE_SHIFT
    }

    /// One past the last byte.
    #[must_use]
    pub const fn end_addr(&self) -> u64 {
        self.end.0 << PAGE_SHIFT
    }

    /// Bytes covered.
    #[must_use]
    pub const fn bytes(&self) -> u64 {
        self.len() << PAGE_SHIFT
    }

    /// True when `other` lies entirely inside this range.
    #[must_use]
    pub const fn contains_range(&self, other: &PageRange) -> bool {
        other.start.0 >= self.start.0 && other.end.0 <= self.end.0
    }

    /// Every page, in order.
    pub fn iter(&self) -> impl Iterator<Item = Vpn> {
        (self.start.0..self.end.0).map(Vpn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_addresses_only() {
        assert!(VirtAddr::try_new(0x7FFF_FFFF_FFFF).is_some());
        assert!(VirtAddr::try_new(0xFFFF_8000_0000_0000).is_some());
        assert!(VirtAddr::try_new(0x8000_0000_0000).is_none());
        assert!(VirtAddr::try_new(0x0001_0000_0000_0000).is_none());
    }

    #[test]
    fn covering_rounds_to_pages() {
        let r = PageRange::covering(0x5000_1FFF, 2).expect("in range");
        assert_eq!((r.start_addr(), r.end_addr()), (0x5000_1000, 0x5000_3000));
        assert!(PageRange::covering(MAX_USER_ADDRESS, 2).is_none());
        assert!(PageRange::covering(0x1000, 0).is_none());
        assert_eq!(align_up(u64::MAX, PAGE_SIZE), None);
    }
}
