//! [`RamMap`]: physical memory as Sysinternals RAMMap shows it — Use Counts (frames by use and
//! by list), Processes (each process's private frames by list, and its page tables), Physical
//! Pages (one row per frame) and File Summary (the frames of each mapped file by list).
//!
//! Definitions (RAMMap's, from its documentation: *Windows Sysinternals Administrator's
//! Reference*, ch. 14, "RAMMap"):
//! - Uses: **Process Private** (private pages of a process, copy-on-write copies included),
//!   **Mapped File** (pages of file-backed and image sections), **Shareable** (pages of
//!   page-file-backed sections), **Page Table** (the processes' page-table pages), **Large
//!   Page** (frames of 2 MiB pages), **System** (what the system keeps for itself: frame 0,
//!   kept by the firmware, and the shared user data page), **Unused** (frames on the zeroed,
//!   free and bad lists). RAMMap's kernel uses (pools, stacks, system PTEs, metafile, session
//!   private, driver locked, AWE) have no frames in ntmem.
//! - Lists: **Active** (in use: mapped by a valid PTE, a page table, or kept), **Standby**,
//!   **Modified**, **Modified no-write** (modified pages the modified page writer must not
//!   write yet), **Transition** (a page under I/O: ntmem's I/O completes within the call that
//!   starts it, so this column is always 0), **Zeroed**, **Free**, **Bad**.
//! - Processes: a frame belongs to a process when one of its PTEs (valid or transition) maps
//!   it as a private page, or when it is one of its page tables. Shared frames belong to none.
//! - Physical Pages: the virtual address of a private page is found through the PTE that maps
//!   it; a section page names its file and the offset in the file of its first byte (for an
//!   image, where the image layout reads it from; none for a page the file does not supply).
//!
//! Counts are in pages.

use super::walk::{for_each_pte, table_frames};
use crate::phys::{FrameUse, PfnState};
use crate::section::{Backing, PageContent, Segment};
use crate::system::{ProcessId, System};
use crate::units::{Pfn, PAGE_SHIFT, PAGE_SIZE};
use std::collections::BTreeMap;

/// What a frame is used for, RAMMap's way.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum PageUse {
    /// A private page of a process.
    ProcessPrivate,
    /// A page of a file-backed or image section.
    MappedFile,
    /// A page of a page-file-backed section.
    Shareable,
    /// A page table.
    PageTable,
    /// A frame of a 2 MiB page.
    LargePage,
    /// Frame 0 and the shared user data page.
    System,
    /// On the zeroed, free or bad list.
    Unused,
}

impl PageUse {
    /// Every use, in RAMMap's order.
    pub const ALL: [PageUse; 7] = [
        PageUse::ProcessPrivate,
        PageUse::MappedFile,
        PageUse::Shareable,
        PageUse::PageTable,
        PageUse::LargePage,
        PageUse::System,
        PageUse::Unused,
    ];

    /// RAMMap's name for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PageUse::ProcessPrivate => "Process Private",
            PageUse::MappedFile => "Mapped File",
            PageUse::Shareable => "Shareable",
            PageUse::PageTable => "Page Table",
            PageUse::LargePage => "Large Page",
            PageUse::System => "System",
            PageUse::Unused => "Unused",
        }
    }
}

/// The list a frame is on, RAMMap's way (Active for frames in use).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum ListColumn {
    /// In use.
    Active,
    /// The standby list.
    Standby,
    /// The modified list.
    Modified,
    /// The modified no-write list.
    ModifiedNoWrite,
    /// Under I/O (never, in ntmem).
    Transition,
    /// The zeroed list.
    Zeroed,
    /// The free list.
    Free,
    /// The bad list.
    Bad,
}

impl ListColumn {
    /// Every column, in RAMMap's order.
    pub const ALL: [ListColumn; 8] = [
        ListColumn::Active,
        ListColumn::Standby,
        ListColumn::Modified,
        ListColumn::ModifiedNoWrite,
        ListColumn::Transition,
        ListColumn::Zeroed,
        ListColumn::Free,
        ListColumn::Bad,
    ];

    /// RAMMap's name for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ListColumn::Active => "Active",
            ListColumn::Standby => "Standby",
            ListColumn::Modified => "Modified",
            ListColumn::ModifiedNoWrite => "Modified No-Write",
            ListColumn::Transition => "Transition",
            ListColumn::Zeroed => "Zeroed",
            ListColumn::Free => "Free",
            ListColumn::Bad => "Bad",
        }
    }

    /// The column of a frame in `state`.
    #[must_use]
    pub fn of(state: PfnState) -> ListColumn {
        match state {
            PfnState::Active => ListColumn::Active,
            PfnState::Standby => ListColumn::Standby,
            PfnState::Modified => ListColumn::Modified,
            PfnState::Zeroed => ListColumn::Zeroed,
            PfnState::Free => ListColumn::Free,
            PfnState::Bad => ListColumn::Bad,
            PfnState::ModifiedNoWrite => ListColumn::ModifiedNoWrite,
        }
    }

    fn index(self) -> usize {
        match self {
            ListColumn::Active => 0,
            ListColumn::Standby => 1,
            ListColumn::Modified => 2,
            ListColumn::ModifiedNoWrite => 3,
            ListColumn::Transition => 4,
            ListColumn::Zeroed => 5,
            ListColumn::Free => 6,
            ListColumn::Bad => 7,
        }
    }
}

/// A row of Use Counts (or of the File Summary): pages per list.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct UseCounts([u64; 8]);

impl UseCounts {
    /// Pages in `column`.
    #[must_use]
    pub fn get(&self, column: ListColumn) -> u64 {
        self.0[column.index()]
    }

    /// Pages in every column.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn bump(&mut self, column: ListColumn) {
        self.0[column.index()] += 1;
    }
}

/// A row of the Processes tab: one process's frames, in pages.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProcessRow {
    /// The process.
    pub pid: ProcessId,
    /// Its name.
    pub name: String,
    /// Private pages in use.
    pub private: u64,
    /// Private pages on the standby list.
    pub standby: u64,
    /// Private pages on the modified (and modified no-write) lists.
    pub modified: u64,
    /// Page-table pages.
    pub page_table: u64,
}

impl ProcessRow {
    /// Every frame of the process.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.private + self.standby + self.modified + self.page_table
    }
}

/// A row of Physical Pages: one frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PhysicalPage {
    /// The frame.
    pub pfn: Pfn,
    /// Its list.
    pub list: ListColumn,
    /// Its use.
    pub usage: PageUse,
    /// Its page priority (0–7; 5 unless a process of lower priority mapped it).
    pub priority: u8,
    /// The process it belongs to.
    pub process: Option<ProcessId>,
    /// The virtual address of the private page it holds.
    pub virtual_address: Option<u64>,
    /// The file of the section page it holds.
    pub file: Option<String>,
    /// The offset in that file of the page's first byte.
    pub file_offset: Option<u64>,
}

/// A row of the File Summary: one mapped file's frames, in pages.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileRow {
    /// The file, by the path it was first opened by.
    pub path: String,
    /// Its frames by list.
    pub counts: UseCounts,
}

/// Physical memory, RAMMap's way.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RamMap {
    /// Use Counts: one row per use, in [`PageUse::ALL`]'s order.
    pub use_counts: Vec<(PageUse, UseCounts)>,
    /// The sum of every use.
    pub total: UseCounts,
    /// Processes, running ones only, in creation order.
    pub processes: Vec<ProcessRow>,
    /// Every frame, lowest first.
    pub pages: Vec<PhysicalPage>,
    /// Files with frames in memory, by path.
    pub files: Vec<FileRow>,
    /// Standby pages repurposed, by priority (the system's counter).
    pub repurposed: [u64; 8],
    /// Standby pages now, by priority (RAMMap's Priority Summary).
    pub standby_by_priority: [u64; 8],
}

impl RamMap {
    /// Captures physical memory. Changes nothing.
    #[must_use]
    pub fn capture(sys: &System) -> RamMap {
        let phys = sys.phys();
        let frames = phys.frame_count() as usize;
        // Who maps each private frame (the index of its process's row), and where; whose page
        // table each table frame is.
        let mut owner: Vec<Option<(usize, Option<u64>)>> = vec![None; frames];
        let mut processes = Vec::new();
        for p in sys.running_processes() {
            let Some(space) = p.space() else { continue };
            let row = processes.len();
            for vad in space.vads().iter() {
                for_each_pte(space, phys, vad.range.start, vad.range.end, |vpn, pte, _| {
                    if let Some(pfn) = pte.frame() {
                        if matches!(phys.pfn(pfn).usage(), FrameUse::Private | FrameUse::LargePage) {
                            owner[pfn.index()] = Some((row, Some(vpn.as_u64() << PAGE_SHIFT)));
                        }
                    }
                });
            }
            let tables = table_frames(space, phys);
            for t in &tables {
                owner[t.index()] = Some((row, None));
            }
            processes.push(ProcessRow {
                pid: p.id(),
                name: p.name().to_owned(),
                private: 0,
                standby: 0,
                modified: 0,
                page_table: tables.len() as u64,
            });
        }
        let segments: BTreeMap<u32, &Segment> = sys.segments().iter().map(|(id, s)| (id.raw(), s)).collect();
        let mut use_counts: Vec<(PageUse, UseCounts)> =
            PageUse::ALL.iter().map(|&u| (u, UseCounts::default())).collect();
        let mut total = UseCounts::default();
        let mut files: BTreeMap<String, UseCounts> = BTreeMap::new();
        let mut pages = Vec::with_capacity(frames);
        for raw in 0..phys.frame_count() {
            let pfn = Pfn(raw);
            let e = phys.pfn(pfn);
            let list = ListColumn::of(e.state());
            let (mut file, mut file_offset) = (None, None);
            let usage = match e.usage() {
                FrameUse::Unused => PageUse::Unused,
                FrameUse::Firmware | FrameUse::SharedUserData => PageUse::System,
                FrameUse::PageTable => PageUse::PageTable,
                FrameUse::Private => PageUse::ProcessPrivate,
                FrameUse::LargePage => PageUse::LargePage,
                FrameUse::Section => {
                    let seg = e.prototype().and_then(|(s, page)| Some((segments.get(&s)?, page)));
                    match seg {
                        Some((seg, page)) => match seg.backing() {
                            Backing::PageFile => PageUse::Shareable,
                            Backing::File(id) | Backing::Image(id) => {
                                file = sys.sections().path_of(id).map(|p| p.display().to_string());
                                file_offset = match seg.image() {
                                    Some(layout) => u32::try_from(page)
                                        .ok()
                                        .and_then(|i| layout.page(i))
                                        .and_then(|p| p.content())
                                        .and_then(|c| match c {
                                            PageContent::File { offset, .. } => Some(offset),
                                            PageContent::Zero => None,
                                        }),
                                    None => Some(page * PAGE_SIZE),
                                };
                                PageUse::MappedFile
                            }
                        },
                        None => PageUse::Shareable,
                    }
                }
            };
            let (owner_row, virtual_address) = match owner[pfn.index()] {
                Some((row, va))
                    if matches!(usage, PageUse::ProcessPrivate | PageUse::LargePage | PageUse::PageTable) =>
                {
                    (Some(row), va)
                }
                _ => (None, None),
            };
            let mut process = None;
            if let Some(row) = owner_row.and_then(|r| processes.get_mut(r)) {
                process = Some(row.pid);
                match (usage, list) {
                    (PageUse::PageTable, _) => {}
                    (_, ListColumn::Active) => row.private += 1,
                    (_, ListColumn::Standby) => row.standby += 1,
                    (_, ListColumn::Modified | ListColumn::ModifiedNoWrite) => row.modified += 1,
                    _ => {}
                }
            }
            if let Some(path) = &file {
                files.entry(path.clone()).or_default().bump(list);
            }
            if let Some(row) = use_counts.iter_mut().find(|(u, _)| *u == usage) {
                row.1.bump(list);
            }
            total.bump(list);
            pages.push(PhysicalPage {
                pfn,
                list,
                usage,
                priority: e.priority(),
                process,
                virtual_address,
                file,
                file_offset,
            });
        }
        RamMap {
            use_counts,
            total,
            processes,
            pages,
            files: files.into_iter().map(|(path, counts)| FileRow { path, counts }).collect(),
            repurposed: phys.stats().repurposed,
            standby_by_priority: core::array::from_fn(|p| phys.standby_len(u8::try_from(p).unwrap_or(0))),
        }
    }

    /// The Use Counts row of `usage`.
    #[must_use]
    pub fn uses(&self, usage: PageUse) -> UseCounts {
        self.use_counts.iter().find(|(u, _)| *u == usage).map(|(_, c)| *c).unwrap_or_default()
    }

    /// The Processes row of `pid`.
    #[must_use]
    pub fn process(&self, pid: ProcessId) -> Option<&ProcessRow> {
        self.processes.iter().find(|r| r.pid == pid)
    }
}
