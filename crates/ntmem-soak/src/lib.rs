//! ntmem-soak: random Win32 and NT calls against ntmem, checked against a byte model.
//!
//! One generator of calls ([`Soak::next_call`], drawing from an [`Entropy`]) and one checker
//! ([`Soak::step`]) serve three drivers: `ntmem soak` (seeded, millions of calls), the
//! `cargo fuzz` target under `fuzz/` (the fuzzer's bytes as the entropy) and the CI test
//! (`tests/soak.rs`). The machine is small (RAM a few MiB, one page file) so it pages all the
//! time; page-file I/O fails on request ([`Call::InjectFaults`]).
//!
//! A run fails on a panic, a violated invariant, a lost byte, a committed page that appears or
//! vanishes without a call that may do so, a success through a bad handle, or a result the
//! model rules out; the [`Failure`] names the call, its index and the machine's state.
//!
//! - `entropy.rs`: the source of choices, and the seeded SplitMix64.
//! - `call.rs`: the calls, concrete and printable.
//! - `generate.rs`: which calls, with which arguments.
//! - `model.rs`: what each committed byte may read as.
//! - `soak.rs`: the machine beside its model; reconciling and checking.
//! - `apply.rs`, `access.rs`, `working_set.rs`: what each call must do.
//! - `sections.rs`: sections, views and mapped files: their model and their calls.
//! - `shared_bytes.rs`: the bytes behind views, shared or copied on write.
//! - `files.rs`, `images.rs`: the host files sections map: data files and a PE image.
//! - `shrink.rs`: the shortest failing sequence, by delta debugging.

mod access;
mod apply;
mod call;
mod entropy;
mod files;
mod generate;
mod images;
mod model;
mod sections;
mod shared_bytes;
mod shrink;
mod soak;
mod working_set;

use std::fmt;

pub use call::{bytes_of, Call, Route, Slot, Source, Target, Via};
pub use entropy::{Entropy, SplitMix64};
pub use generate::HUGE_CAP_WHILE_SLOW;
pub use shrink::shrink;
pub use soak::Soak;

/// Bugs known to be open. While one is listed, the soak holds back its trigger or skips its
/// assertion (see each variant); an entry is removed once its fix lands, and the soak then
/// checks it. Every bug of issues 6 and 7 the soak found is fixed.
pub const KNOWN_OPEN_BUGS: &[KnownBug] = &[];

/// A bug of issue 6 the soak can find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownBug {
    /// Item 1: page-table pages come only from the zeroed and free lists; `create_process`
    /// then fails half-way with its commit charge and first table frame kept (found by this
    /// soak: "commit total N but pages and tables add up to N-4"). Holds back `CreateProcess`
    /// while fewer than 8 frames are zeroed or free.
    Item1PageTablesIgnoreStandby,
    /// Item 4: the working set reaches its hard maximum plus one page. Skips the check that
    /// `WorkingSetSize` stays within the hard maximum.
    Item4HardMaximumPlusOne,
    /// Item 6: `VirtualLock` under a hard working-set maximum locks a page that is not
    /// resident, and bytes are lost. Holds back locks in a process under a hard maximum.
    Item6LockUnderHardMaximum,
    /// Item 7: bottom-up placement skips a free aligned spot after an NT-level partial
    /// release. Skips the first-fit check of system-placed allocations.
    Item7PlacementAfterPartialRelease,
    /// Item 8: an empty write sets the dirty bit (a write-watch hit). Skips the check that an
    /// empty access leaves the write-watch state as it was.
    Item8EmptyAccessTouches,
    /// Item 9: range operations walk every page of the range. Caps every range the soak
    /// names at [`HUGE_CAP_WHILE_SLOW`] (reservations excepted: they are O(1)).
    Item9RangeWalksEveryPage,
    /// Issue 7 (fixed: the first write through any view marks the frame modified, as NT's
    /// dirty-bit handling does): a page written through one view of a file (a section smaller than the file)
    /// and then flushed through another (of the whole file, in another process) is not in the
    /// host file after the flush: the flush does not see that write as dirty (on Windows the
    /// first write through any view marks the shared frame modified, so any flush writes it).
    /// Pinned: `tests/pinned.rs` `flush_writes_a_page_written_through_another_view`. Skips
    /// the check of the host file after a `FlushViewOfFile` (the check after the last unmap
    /// and close stays).
    FlushMissesOtherViewsWrites,
    /// Issue 7 (fixed: page tables a fault under a view creates are a must-succeed charge, as
    /// NT's page-table pages are, which may take the total past the limit): with the commit
    /// charge at its limit, an access to a view page whose page table does not exist yet raised
    /// `STATUS_NO_MEMORY` (seed 2, call 12 002 of `ntmem soak --seed 2 --calls 20000
    /// --check-every 100`). Charging them when the view is mapped would make a view of 8 GiB
    /// cost 16 MiB of commit, which Windows does not show (F138, F143). Allows that exception
    /// to an access while the commit total is at its limit.
    ViewWriteNoMemory,
    /// Issue 7 (the model's, fixed): `MapViewOfFile(FILE_MAP_WRITE)` through a handle of a
    /// `PAGE_EXECUTE_READWRITE` section, which the model held read-only (F153: such a section
    /// allows writing views, and its handle the write right).
    MapWriteThroughReadOnlyHandle,
}

impl KnownBug {
    /// Its item number in issue 6 (0 for a bug of issue 7).
    #[must_use]
    pub fn item(self) -> u8 {
        match self {
            KnownBug::Item1PageTablesIgnoreStandby => 1,
            KnownBug::Item4HardMaximumPlusOne => 4,
            KnownBug::Item6LockUnderHardMaximum => 6,
            KnownBug::Item7PlacementAfterPartialRelease => 7,
            KnownBug::Item8EmptyAccessTouches => 8,
            KnownBug::Item9RangeWalksEveryPage => 9,
            // Issue 7's: no item number.
            KnownBug::FlushMissesOtherViewsWrites
            | KnownBug::ViewWriteNoMemory
            | KnownBug::MapWriteThroughReadOnlyHandle => 0,
        }
    }
}

/// How a soak runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Process slots.
    pub processes: u8,
    /// The invariant checker (and one process's bytes) every this many calls; 0: only at the end.
    pub check_every: u64,
    /// RAM of the machine.
    pub ram_bytes: u64,
    /// The page file's maximum (it starts at a quarter).
    pub page_file_bytes: u64,
    /// What the soak treats as known and open ([`KNOWN_OPEN_BUGS`] by default).
    pub known_open_bugs: Vec<KnownBug>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            processes: 4,
            check_every: 1000,
            ram_bytes: 8 << 20,
            page_file_bytes: 32 << 20,
            known_open_bugs: KNOWN_OPEN_BUGS.to_vec(),
        }
    }
}

/// Why a soak stopped.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The index of the call (0-based) after which it failed.
    pub call_index: u64,
    /// That call, when the failure is the call's own (not the end-of-run checks).
    pub call: Option<Call>,
    /// What went wrong.
    pub what: String,
    /// The machine's figures, the processes, and the last calls.
    pub state: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "call #{}: {}", self.call_index, self.what)?;
        if let Some(c) = &self.call {
            writeln!(f, "the call: {c}")?;
        }
        write!(f, "state: {}", self.state)
    }
}

impl std::error::Error for Failure {}

/// A summary of a run that passed.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Calls made.
    pub calls: u64,
    /// The machine's figures before the last processes exited.
    pub stats: ntmem::SystemStats,
}

/// `calls` calls drawn from `entropy`; `progress` is told how many are done every 4096.
///
/// # Errors
/// The first failure.
pub fn run(
    opts: &Options,
    entropy: &mut impl Entropy,
    calls: u64,
    mut progress: impl FnMut(u64),
) -> Result<Summary, Failure> {
    let mut soak = Soak::new(opts.clone()).map_err(setup_failure)?;
    for i in 0..calls {
        let call = soak.next_call(entropy);
        soak.step(&call)?;
        if i % 4096 == 4095 {
            progress(i + 1);
        }
    }
    let stats = soak.finish()?;
    Ok(Summary { calls, stats })
}

/// A soak of `calls` calls from `seed` (SplitMix64).
///
/// # Errors
/// The first failure.
pub fn run_seeded(opts: &Options, seed: u64, calls: u64, progress: impl FnMut(u64)) -> Result<Summary, Failure> {
    run(opts, &mut SplitMix64::new(seed), calls, progress)
}

/// These calls, in order, on a fresh machine (a pinned reproduction).
///
/// # Errors
/// The first failure.
pub fn replay(opts: &Options, calls: &[Call]) -> Result<Summary, Failure> {
    let mut soak = Soak::new(opts.clone()).map_err(setup_failure)?;
    for c in calls {
        soak.step(c)?;
    }
    let stats = soak.finish()?;
    Ok(Summary { calls: calls.len() as u64, stats })
}

fn setup_failure(what: String) -> Failure {
    Failure { call_index: 0, call: None, what, state: String::new() }
}
