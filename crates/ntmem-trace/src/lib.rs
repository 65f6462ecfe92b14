//! Memory traces for ntmem: reading them, replaying them through the memory manager, and the
//! page-replacement simulators and stack algorithms the replays are checked against.
//!
//! - [`record`]: one reference ([`Reference`], [`RefKind`]).
//! - [`parse`]: streaming parsers for valgrind lackey and page-number traces, plain or gzip.
//! - [`replay`]: a trace through the real memory manager, one simulated process.
//! - [`sim`]: the textbook LRU, FIFO, CLOCK and OPT simulators (the oracle).
//! - [`stack`]: Mattson's one-pass LRU and OPT faults for every memory size.

pub mod parse;
pub mod record;
pub mod replay;
pub mod sim;
pub mod stack;

pub use parse::{BadLine, Format, LineError, Strictness, TraceError, TraceReader};
pub use record::{is_canonical, RefKind, Reference, PAGE_BYTES, PAGE_SHIFT};
pub use replay::{Collapser, MachineOptions, PageRef, ReplayError, ReplayFigures, Replayer};
pub use sim::{SimPolicy, BELADY};
