//! The balance set manager and the modified page writer: the policies that keep frames
//! available across every process (Windows Internals, 7th ed., ch. 5, "Working set manager",
//! "Modified page writer").
//!
//! Contracts:
//! - Balancing runs when a frame could not be had, or when available memory fell below the
//!   low-water mark, or the modified list grew long — never from a clock: the same calls give
//!   the same trims and writes.
//! - Its work is proportional to the shortfall: one call frees what is needed plus at most
//!   [`PASS_PAGES`] toward the target (twice the low-water mark), ages at most
//!   [`AGE_PER_TRIM`] pages per page it trims, and writes the modified list in bounded
//!   batches, never the whole list in one stall.
//! - Aging is shared out as NT's working-set manager does: a rotating cursor over the
//!   processes (kept in the machine) says whose working sets are aged next, and each working
//!   set's own hand says which of its pages.
//! - Trimming order (deterministic): processes over their maximum first (down to it), then
//!   each process down to its minimum, then below the minimum unless it is a hard minimum —
//!   each round starting at the rotating cursor; within a process the victims the working
//!   set's policy names (oldest first). Locked pages are never trimmed.
//! - The modified page writer takes the modified list in order, writes up to 64 pages to
//!   contiguous slots with one write, and moves them to standby. A failed write leaves them
//!   on the modified list, their slots freed. A page of a mapped file goes to its file
//!   instead, with the modified pages of that file around it (the mapped page writer,
//!   section/frames.rs).

use crate::address_space::AddressSpace;
use crate::machine::{low_water, Machine};
use crate::phys::{ListKind, PfnFlags};

/// Pages the modified page writer writes with one I/O at most.
pub const WRITE_CLUSTER: usize = 64;

/// Pages one balancing call frees beyond what its caller needs, at most: the bound on a stall.
pub const PASS_PAGES: u64 = 2048;

/// Pages aged per page to trim (a share of the working sets per pass, not all of them).
pub const AGE_PER_TRIM: u64 = 2;

/// Pages the modified page writer writes per call when the modified list is merely long.
pub const WRITE_BATCH: u64 = 512;

/// The modified list is "long" above this many pages.
#[must_use]
pub fn modified_high_water(frames: u64) -> u64 {
    (frames / 8).max(64)
}

/// Where the balancer goes on from: the process whose working set is aged and trimmed first
/// on the next pass.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor {
    next: usize,
}

/// True when memory is low or the modified list is long.
#[must_use]
pub(crate) fn wanted(m: &Machine) -> bool {
    let frames = u64::from(m.phys.frame_count());
    m.phys.available() < low_water(frames) || m.phys.list_len(ListKind::Modified) > modified_high_water(frames)
}

/// Works until `needed` frames are available (and, within [`PASS_PAGES`], twice the low-water
/// mark), or nothing more can be trimmed or written. Returns true when `needed` are.
pub(crate) fn balance(m: &mut Machine, spaces: &mut [&mut AddressSpace], needed: u64) -> bool {
    let frames = u64::from(m.phys.frame_count());
    let target = (low_water(frames) * 2).min(frames / 2);
    let goal = target.min(m.phys.available().saturating_add(PASS_PAGES)).max(needed);
    if m.phys.list_len(ListKind::Modified) > modified_high_water(frames) {
        write_modified(m, WRITE_BATCH);
    }
    loop {
        let available = m.phys.available();
        if available >= goal {
            return true;
        }
        // Trimming a page of a view that another PTE still maps frees no frame but is progress
        // all the same: the frame goes once its last mapping is trimmed.
        let before = (available, m.phys.list_len(ListKind::Modified), resident(spaces));
        let mut short = goal - available;
        // Pages already on the modified list become available by being written alone.
        short -= write_modified(m, short.min(m.phys.list_len(ListKind::Modified))).min(short);
        if short > 0 {
            trim_for(m, spaces, short);
            let available = m.phys.available();
            if available < goal {
                write_modified(m, (goal - available).min(m.phys.list_len(ListKind::Modified)));
            }
        }
        if (m.phys.available(), m.phys.list_len(ListKind::Modified), resident(spaces)) == before {
            return m.phys.available() >= needed;
        }
    }
}

/// The pages of every working set.
fn resident(spaces: &[&mut AddressSpace]) -> u64 {
    spaces.iter().map(|s| s.working_set().len()).sum()
}

/// Trims about `pages` pages across the processes, in the contract's order, after aging a
/// share of the working sets proportional to it.
fn trim_for(m: &mut Machine, spaces: &mut [&mut AddressSpace], pages: u64) {
    let n = spaces.len();
    if n == 0 {
        return;
    }
    let start = m.balance_cursor.next % n;
    // Age: from the cursor on, each working set's hand, until the budget is spent.
    let mut budget = pages.saturating_mul(AGE_PER_TRIM);
    let mut aged_through = start;
    for k in 0..n {
        if budget == 0 {
            break;
        }
        let i = (start + k) % n;
        budget -= spaces[i].age_some(m, budget).min(budget);
        aged_through = i;
    }
    m.balance_cursor.next = (aged_through + 1) % n;
    let mut left = pages;
    // Over their maximum first: only as much as is short.
    for k in 0..n {
        if left == 0 {
            return;
        }
        let s = &mut spaces[(start + k) % n];
        let max = s.working_set().limits().maximum;
        let over = s.working_set().len().saturating_sub(max);
        if over > 0 {
            left -= s.trim(m, over.min(left), max).min(left);
        }
    }
    // Then down to each minimum, then below it (but for a hard minimum).
    for below_minimum in [false, true] {
        for k in 0..n {
            if left == 0 {
                return;
            }
            let s = &mut spaces[(start + k) % n];
            let limits = s.working_set().limits();
            let floor = if below_minimum && !limits.hard_minimum { 0 } else { limits.minimum };
            if s.working_set().len() > floor {
                left -= s.trim(m, left, floor).min(left);
            }
        }
    }
}

/// The modified page writer: writes up to `limit` pages from the modified list in clusters
/// of contiguous slots; returns the pages written.
pub(crate) fn write_modified(m: &mut Machine, limit: u64) -> u64 {
    let mut written = 0;
    while written < limit {
        let want = usize::try_from((limit - written).min(WRITE_CLUSTER as u64)).unwrap_or(WRITE_CLUSTER);
        let mut head = m.phys.list_head(ListKind::Modified, want);
        if head.is_empty() {
            break;
        }
        // A file page goes to its file, with its neighbours (the mapped page writer); the
        // others, up to the first file page, to the page file.
        if m.is_file_page(head[0]) {
            let n = m.write_file_pages(head[0]);
            if n == 0 {
                break;
            }
            written += n;
            continue;
        }
        if let Some(k) = head.iter().position(|&pfn| m.is_file_page(pfn)) {
            head.truncate(k);
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
        let data: Vec<&[u8]> = pages.iter().map(|pfn| m.phys.frame(*pfn)).collect();
        if m.files.write(run, &data).is_err() {
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
