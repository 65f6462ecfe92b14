//! The balance set manager and the modified page writer: the policies that keep frames
//! available across every process (Windows Internals, 7th ed., ch. 5, "Working set manager",
//! "Modified page writer").
//!
//! Contracts:
//! - Balancing runs when a frame could not be had, or when available memory fell below the
//!   low-water mark, or the modified list grew long — never from a clock: the same calls give
//!   the same trims and writes.
//! - Trimming order: processes over their maximum first (down to it), then every process down
//!   to its minimum, then below the minimum unless it is a hard minimum; within a process the
//!   oldest pages by the accessed bit first. Locked pages are never trimmed.
//! - The modified page writer takes the modified list in order, writes up to 64 pages to
//!   contiguous slots with one write, and moves them to standby. A failed write leaves them
//!   on the modified list, their slots freed.

use crate::address_space::AddressSpace;
use crate::machine::{low_water, Machine};
use crate::phys::{ListKind, PfnFlags};
use crate::units::PAGE_BYTES;

/// Pages the modified page writer writes with one I/O at most.
pub const WRITE_CLUSTER: usize = 64;

/// The modified list is "long" above this many pages.
#[must_use]
pub fn modified_high_water(frames: u64) -> u64 {
    (frames / 8).max(64)
}

/// True when memory is low or the modified list is long.
#[must_use]
pub(crate) fn wanted(m: &Machine) -> bool {
    let frames = u64::from(m.phys.frame_count());
    m.phys.available() < low_water(frames) || m.phys.list_len(ListKind::Modified) > modified_high_water(frames)
}

/// Works until `needed` frames (and the low-water mark) are available, or nothing more can
/// be trimmed or written. Returns true when it got there.
pub(crate) fn balance(m: &mut Machine, spaces: &mut [&mut AddressSpace], needed: u64) -> bool {
    let frames = u64::from(m.phys.frame_count());
    let target = needed.max(low_water(frames) * 2).min(frames / 2).max(needed);
    if m.phys.list_len(ListKind::Modified) > modified_high_water(frames) {
        write_modified(m, u64::MAX);
    }
    for _round in 0..8 {
        if m.phys.available() >= target {
            return true;
        }
        let before = (m.phys.available(), m.phys.list_len(ListKind::Modified));
        let short = target - m.phys.available();
        trim_for(m, spaces, short);
        write_modified(m, u64::MAX);
        if (m.phys.available(), m.phys.list_len(ListKind::Modified)) == before {
            break;
        }
    }
    m.phys.available() >= needed
}

/// Trims about `pages` pages across the processes, in the contract's order.
fn trim_for(m: &mut Machine, spaces: &mut [&mut AddressSpace], pages: u64) {
    for s in spaces.iter_mut() {
        s.age(m);
    }
    let mut left = pages;
    // Over their maximum first.
    for s in spaces.iter_mut() {
        let max = s.working_set().limits().maximum;
        let over = s.working_set().len().saturating_sub(max);
        left = left.saturating_sub(s.trim(m, over, max));
    }
    // Then down to each minimum, then below it (but for a hard minimum).
    for below_minimum in [false, true] {
        for s in spaces.iter_mut() {
            if left == 0 {
                return;
            }
            let limits = s.working_set().limits();
            let floor = if below_minimum && !limits.hard_minimum { 0 } else { limits.minimum };
            left = left.saturating_sub(s.trim(m, left, floor));
        }
    }
}

/// The modified page writer: writes up to `limit` pages from the modified list in clusters
/// of contiguous slots; returns the pages written.
pub(crate) fn write_modified(m: &mut Machine, limit: u64) -> u64 {
    let mut written = 0;
    while written < limit {
        let want = usize::try_from((limit - written).min(WRITE_CLUSTER as u64)).unwrap_or(WRITE_CLUSTER);
        let head = m.phys.list_head(ListKind::Modified, want);
        if head.is_empty() {
            break;
        }
        let count = u32::try_from(head.len()).unwrap_or(1);
        let run = match m.files.allocate(count) {
            Some(run) => run,
            None => {
                if m.grow_files(u64::from(count)) == 0 {
                    break;
                }
                match m.files.allocate(count) {
                    Some(run) => run,
                    None => break,
                }
            }
        };
        let pages = &head[..run.count as usize];
        let mut buf = Vec::with_capacity(pages.len() * PAGE_BYTES);
        for pfn in pages {
            buf.extend_from_slice(m.phys.frame(*pfn));
        }
        if m.files.write(run, &buf).is_err() {
            for i in 0..run.count {
                m.files.free(run.file, run.first + i);
            }
            break;
        }
        for (i, pfn) in pages.iter().enumerate() {
            let e = m.phys.pfn_mut(*pfn);
            e.set_backing(Some((run.file, run.first + u32::try_from(i).unwrap_or(0))));
            e.flags.set(PfnFlags::MODIFIED, false);
            m.phys.unpark(*pfn);
            m.phys.park(*pfn, ListKind::Standby);
        }
        written += u64::from(run.count);
    }
    written
}
