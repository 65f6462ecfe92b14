//! `ntmem trace replay` and `ntmem sweep`: memory traces through the real memory manager
//! (crates/ntmem-trace does the work; this module reads the command line, shows progress and
//! writes the figures, the CSV and the plot).

mod args;
mod load;
#[cfg(feature = "plot")]
mod plot;
pub(crate) mod replay;
pub(crate) mod sweep;

pub(crate) use args::{MachineArgs, PolicyName, TraceArgs};
