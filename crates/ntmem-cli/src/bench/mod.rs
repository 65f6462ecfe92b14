//! `ntmem bench`: the hot paths of the memory manager, each beside a baseline measured in the
//! same run, as a table or as JSON (`{"results":[{"name", "ntmem_ns", "baseline_ns",
//! "baseline", "ratio", "goal", "met"}]}`). For a cost, ratio = ntmem / baseline (lower is
//! better); for a throughput, both sides are timed per 4 KiB page moved and ratio = ntmem's
//! throughput over the baseline's = baseline_ns / ntmem_ns (higher is better, goal `>= x`);
//! `met` says whether the ratio is within its goal. The table then shows the paging cluster
//! sweeps, which are not in the JSON.
//!
//! The row API: a row is a [`Figure`], made by a `fn() -> anyhow::Result<Figure>` in its own
//! module, and registered by one line in [`FIGURES`]: `("name", Kind::Cost, module::function),`
//! (or `Kind::Throughput`, or `Kind::Context` for a row shown beside a second baseline with
//! no goal: its `goal` is "-" and its `met` null), the name the figure's own. The functions
//! run in the table's order, one at a time, each building and dropping its own machines, so a
//! row's memory is freed before the next row runs. `ntmem bench --only a,b` measures only the
//! rows named (and skips the cluster sweeps).
//!
//! `figures.rs` measures ntmem's accesses and calls, `paging.rs` its paging beside host file
//! I/O, `sections.rs` its shared, file-backed and copy-on-write pages and views, `engine.rs` the native engine's rows, `native.rs` the host baselines and `fault_floor.rs`
//! the host's floor under the engine's faults (these two hold the benchmarks' only unsafe
//! code), `timing.rs` says how a sample is timed and a figure chosen (the median).

mod calls;
mod engine;
mod fault_floor;
mod figures;
mod native;
mod paging;
mod placement;
mod pressure;
mod sections;
mod timing;

use std::io::Write;

/// Which way a figure's ratio goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Time per operation: ratio = ntmem / baseline, met at or under the goal.
    Cost,
    /// Bytes per second, both sides timed per 4 KiB page: ratio = ntmem's throughput over the
    /// baseline's (baseline_ns / ntmem_ns), met at or over the goal.
    Throughput,
    /// Time per operation beside a second baseline, shown for context: ratio = ntmem /
    /// baseline, with no goal (`goal` is ignored; the JSON's `met` is null).
    Context,
}

/// One figure: ntmem's cost of an operation beside its baseline's.
struct Figure {
    /// Its name in the output, e.g. `tlb_hit_read`.
    name: &'static str,
    /// ntmem's median, nanoseconds per operation.
    ntmem_ns: f64,
    /// The baseline's median, nanoseconds per operation.
    baseline_ns: f64,
    /// What the baseline is.
    baseline: &'static str,
    /// The ratio to stay at or under (a cost) or at or over (a throughput).
    goal: f64,
}

impl Figure {
    /// ntmem / baseline for a cost; ntmem's throughput / the baseline's for a throughput.
    fn ratio(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Cost | Kind::Context => self.ntmem_ns / self.baseline_ns,
            Kind::Throughput => self.baseline_ns / self.ntmem_ns,
        }
    }

    fn goal_text(&self, kind: Kind) -> String {
        match kind {
            Kind::Cost => format!("<= {}", self.goal),
            Kind::Throughput => format!(">= {}", self.goal),
            Kind::Context => "-".to_owned(),
        }
    }

    /// Whether the ratio is within its goal; `None` for a row with no goal.
    fn met(&self, kind: Kind) -> Option<bool> {
        match kind {
            Kind::Cost => Some(self.ratio(kind) <= self.goal),
            Kind::Throughput => Some(self.ratio(kind) >= self.goal),
            Kind::Context => None,
        }
    }
}

/// Measures one figure.
type Measure = fn() -> anyhow::Result<Figure>;

/// The figures, in the order they are measured and printed: one line a row.
const FIGURES: &[(&str, Kind, Measure)] = &[
    ("tlb_hit_read", Kind::Cost, figures::tlb_hit_read),
    ("tlb_miss_read", Kind::Cost, figures::tlb_miss_read),
    ("tlb_miss_read_dependent", Kind::Cost, figures::tlb_miss_read_dependent),
    ("tlb_miss_read_vs_huge_pages", Kind::Context, figures::tlb_miss_read_vs_huge_pages),
    ("demand_zero_fault", Kind::Cost, figures::demand_zero_fault),
    ("alloc_free_pair", Kind::Cost, figures::alloc_free_pair),
    ("protect_page", Kind::Cost, figures::protect_page),
    ("query_scaling", Kind::Cost, figures::query_scaling),
    ("reserve_scaling", Kind::Cost, figures::reserve_scaling),
    ("page_out_throughput", Kind::Throughput, paging::page_out_throughput),
    ("sequential_page_in", Kind::Throughput, paging::sequential_page_in),
    ("random_hard_fault", Kind::Cost, paging::random_hard_fault),
    ("soft_fault", Kind::Cost, paging::soft_fault),
    ("placement_scaling", Kind::Cost, placement::placement_scaling),
    ("placement_top_down_scaling", Kind::Cost, placement::placement_top_down_scaling),
    ("range_ops_1tib", Kind::Cost, placement::range_ops_1tib),
    ("pressure_worst_access", Kind::Cost, pressure::pressure_worst_access),
    ("pressure_write_per_page", Kind::Cost, pressure::pressure_write_per_page),
    ("processes_2048_vs_16", Kind::Cost, pressure::processes_2048_vs_16),
    ("exited_processes_10000_vs_0", Kind::Cost, pressure::exited_processes_10000_vs_0),
    ("shared_page_fault", Kind::Cost, sections::shared_page_fault),
    ("file_view_sweep", Kind::Throughput, sections::file_view_sweep),
    ("cow_fault", Kind::Cost, sections::cow_fault),
    ("map_unmap_view", Kind::Cost, sections::map_unmap_view),
    ("native_read_resident", Kind::Cost, engine::native_read_resident),
    ("native_demand_zero_fault", Kind::Cost, engine::native_demand_zero_fault),
    ("native_demand_zero_fault_vs_floor", Kind::Cost, engine::native_demand_zero_fault_vs_floor),
    ("native_alloc_free_pair", Kind::Cost, engine::native_alloc_free_pair),
];

/// Measures the figures named in `only` (every one when empty) and prints them, as JSON when
/// `json`; the table ends with the cluster sweeps when every figure was measured.
pub(crate) fn run(json: bool, only: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = only.iter().find(|n| !FIGURES.iter().any(|(name, ..)| name == n)) {
        anyhow::bail!("no figure is named {unknown}");
    }
    let results = FIGURES
        .iter()
        .filter(|(name, ..)| only.is_empty() || only.iter().any(|n| n == name))
        .map(|&(name, kind, measure)| {
            let figure = measure()?;
            anyhow::ensure!(figure.name == name, "the figure registered as {name} calls itself {}", figure.name);
            Ok((kind, figure))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    if json {
        print_json(&mut out, &results)
    } else {
        print_table(&mut out, &results)?;
        if only.is_empty() {
            paging::print_cluster_sweeps(&mut out)?;
        }
        Ok(())
    }
}

fn print_json(out: &mut impl Write, results: &[(Kind, Figure)]) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|&(kind, ref f)| {
            serde_json::json!({
                "name": f.name,
                "ntmem_ns": round(f.ntmem_ns, 1),
                "baseline_ns": round(f.baseline_ns, 1),
                "baseline": f.baseline,
                "ratio": round(f.ratio(kind), 3),
                "goal": f.goal_text(kind),
                "met": f.met(kind),
            })
        })
        .collect();
    serde_json::to_writer(&mut *out, &serde_json::json!({ "results": rows }))?;
    writeln!(out)?;
    Ok(())
}

fn print_table(out: &mut impl Write, results: &[(Kind, Figure)]) -> anyhow::Result<()> {
    let width = results.iter().map(|(_, f)| f.name.len()).max().unwrap_or(0).max("name".len());
    writeln!(out, "{:<width$}  {:>11}  {:>11}  {:>7}  {:<6}  met", "name", "ntmem", "baseline", "ratio", "goal")?;
    for (kind, f) in results {
        writeln!(
            out,
            "{:<width$}  {:>11}  {:>11}  {:>7.2}  {:<6}  {}",
            f.name,
            shown(*kind, f.ntmem_ns),
            shown(*kind, f.baseline_ns),
            f.ratio(*kind),
            f.goal_text(*kind),
            match f.met(*kind) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            },
        )?;
    }
    writeln!(out)?;
    writeln!(out, "ratio: ntmem / baseline for times (lower is better); ntmem's throughput / the baseline's")?;
    writeln!(out, "for MiB/s rows (higher is better)")?;
    writeln!(out)?;
    writeln!(out, "baselines:")?;
    for (_, f) in results {
        writeln!(out, "  {:<width$}  {}", f.name, f.baseline)?;
    }
    Ok(())
}

/// A figure's `ns` per operation as the table shows it: a time, or for a throughput (`ns`
/// per 4 KiB page) MiB/s.
fn shown(kind: Kind, ns: f64) -> String {
    match kind {
        Kind::Cost | Kind::Context => duration(ns),
        Kind::Throughput => format!("{:.0} MiB/s", 4096.0 * 1e9 / ns / f64::from(1u32 << 20)),
    }
}

/// `ns` nanoseconds, in the unit that reads best.
fn duration(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// `x` rounded to `decimals` places, for JSON that reads as well as it parses.
fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(ntmem_ns: f64, baseline_ns: f64, goal: f64) -> Figure {
        Figure { name: "f", ntmem_ns, baseline_ns, baseline: "b", goal }
    }

    #[test]
    fn ratio_is_ntmem_over_baseline_and_met_at_the_goal() {
        let f = figure(5.0, 2.0, 2.5);
        assert_eq!(f.ratio(Kind::Cost), 2.5);
        assert_eq!(f.met(Kind::Cost), Some(true));
        assert_eq!(figure(5.1, 2.0, 2.5).met(Kind::Cost), Some(false));
        assert_eq!(f.goal_text(Kind::Cost), "<= 2.5");
        assert_eq!(figure(1.0, 1.0, 3.0).goal_text(Kind::Cost), "<= 3");
    }

    #[test]
    fn throughput_ratio_is_baseline_time_over_ntmem_time_and_met_above_the_goal() {
        // ntmem takes 4 ns a page where the baseline takes 2: half the throughput.
        let f = figure(4.0, 2.0, 0.5);
        assert_eq!(f.ratio(Kind::Throughput), 0.5);
        assert_eq!(f.met(Kind::Throughput), Some(true));
        assert_eq!(figure(4.1, 2.0, 0.5).met(Kind::Throughput), Some(false));
        assert_eq!(f.goal_text(Kind::Throughput), ">= 0.5");
        assert_eq!(shown(Kind::Throughput, 4096.0), "954 MiB/s");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut out = Vec::new();
        print_json(
            &mut out,
            &[
                (Kind::Cost, figure(5.0, 2.0, 2.5)),
                (Kind::Throughput, figure(4.0, 2.0, 0.5)),
                (Kind::Context, figure(6.0, 1.0, 0.0)),
            ],
        )
        .expect("writing to a Vec cannot fail");
        assert_eq!(
            String::from_utf8(out).expect("serde_json writes UTF-8"),
            "{\"results\":[{\"name\":\"f\",\"ntmem_ns\":5.0,\"baseline_ns\":2.0,\"baseline\":\"b\",\
             \"ratio\":2.5,\"goal\":\"<= 2.5\",\"met\":true},{\"name\":\"f\",\"ntmem_ns\":4.0,\"baseline_ns\":2.0,\
             \"baseline\":\"b\",\"ratio\":0.5,\"goal\":\">= 0.5\",\"met\":true},{\"name\":\"f\",\"ntmem_ns\":6.0,\
             \"baseline_ns\":1.0,\"baseline\":\"b\",\"ratio\":6.0,\"goal\":\"-\",\"met\":null}]}\n"
        );
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(3.04), "3.0 ns");
        assert_eq!(duration(1_500.0), "1.50 us");
        assert_eq!(duration(2_500_000.0), "2.50 ms");
    }
}
