//! Reading a trace for the commands: streaming, page references in batches, a progress bar on
//! the terminal, and the bad lines reported at the end.

use super::TraceArgs;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ntmem_trace::{Collapser, PageRef, TraceReader};
use std::path::Path;

/// Page references handed to the consumer at once (constant memory).
pub(crate) const BATCH: usize = 1 << 14;

/// What reading the trace found besides its references.
#[derive(Debug, Default)]
pub(crate) struct ReadReport {
    pub(crate) lines: u64,
    pub(crate) bad_count: u64,
    pub(crate) bad_lines: Vec<String>,
    pub(crate) format: &'static str,
}

/// Reads `path`, calling `each` with batches of page references (consecutive references to
/// one page merged); shows a spinner with the rate on a terminal.
pub(crate) fn stream(
    path: &Path,
    args: &TraceArgs,
    mut each: impl FnMut(&[PageRef]) -> anyhow::Result<()>,
) -> anyhow::Result<ReadReport> {
    let input = ntmem_trace::parse::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = TraceReader::new(input, args.format, args.strictness());
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} references, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut collapser = Collapser::default();
    let mut batch: Vec<PageRef> = Vec::with_capacity(BATCH + 2);
    let mut seen: u64 = 0;
    while let Some(r) = reader.next_reference() {
        let r = r.with_context(|| format!("reading {}", path.display()))?;
        collapser.push(r, |p| batch.push(p));
        if batch.len() >= BATCH {
            each(&batch)?;
            seen += batch.iter().map(|p| u64::from(p.count)).sum::<u64>();
            bar.set_position(seen);
            batch.clear();
        }
    }
    collapser.finish(|p| batch.push(p));
    each(&batch)?;
    bar.finish_and_clear();
    Ok(ReadReport {
        lines: reader.lines(),
        bad_count: reader.bad_count(),
        bad_lines: reader.bad_lines().iter().map(ToString::to_string).collect(),
        format: match reader.format() {
            ntmem_trace::Format::Lackey => "lackey",
            ntmem_trace::Format::Pages => "pages",
            ntmem_trace::Format::Auto => "none recognised",
        },
    })
}

/// The whole trace as page references (for OPT and the sweep, which want the future).
pub(crate) fn load(path: &Path, args: &TraceArgs) -> anyhow::Result<(Vec<PageRef>, ReadReport)> {
    let mut all = Vec::new();
    let report = stream(path, args, |b| {
        all.extend_from_slice(b);
        Ok(())
    })?;
    Ok((all, report))
}

/// Prints the bad lines (to standard error).
pub(crate) fn report_bad(report: &ReadReport) {
    if report.bad_count > 0 {
        eprintln!("ntmem: {} bad lines skipped:", report.bad_count);
        for l in &report.bad_lines {
            eprintln!("  {l}");
        }
        if report.bad_count > report.bad_lines.len() as u64 {
            eprintln!("  ...");
        }
    }
}
