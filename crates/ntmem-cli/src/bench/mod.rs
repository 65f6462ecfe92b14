//! `ntmem bench`: the hot paths of the memory manager, each beside a baseline measured in the
//! same run, as a table or as JSON (`{"results":[{"name", "ntmem_ns", "baseline_ns",
//! "baseline", "ratio", "goal"}]}`), ratio = ntmem / baseline.
//!
//! `figures.rs` measures ntmem through `Kernel32`, `native.rs` the host baselines (the only
//! unsafe code), `timing.rs` says how a sample is timed and a figure chosen (the median).

mod figures;
mod native;
mod timing;

use std::io::Write;

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
    /// The ratio to stay at or under.
    goal: f64,
}

impl Figure {
    /// ntmem / baseline.
    fn ratio(&self) -> f64 {
        self.ntmem_ns / self.baseline_ns
    }

    fn goal_text(&self) -> String {
        format!("<= {}", self.goal)
    }

    fn met(&self) -> bool {
        self.ratio() <= self.goal
    }
}

/// The figures, in the order they are measured and printed.
const FIGURES: [fn() -> anyhow::Result<Figure>; 7] = [
    figures::tlb_hit_read,
    figures::tlb_miss_read,
    figures::demand_zero_fault,
    figures::alloc_free_pair,
    figures::protect_page,
    figures::query_scaling,
    figures::reserve_scaling,
];

/// Measures every figure and prints them, as JSON when `json`.
pub(crate) fn run(json: bool) -> anyhow::Result<()> {
    let results = FIGURES.iter().map(|measure| measure()).collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    if json {
        print_json(&mut out, &results)
    } else {
        print_table(&mut out, &results)
    }
}

fn print_json(out: &mut impl Write, results: &[Figure]) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name,
                "ntmem_ns": round(f.ntmem_ns, 1),
                "baseline_ns": round(f.baseline_ns, 1),
                "baseline": f.baseline,
                "ratio": round(f.ratio(), 3),
                "goal": f.goal_text(),
            })
        })
        .collect();
    serde_json::to_writer(&mut *out, &serde_json::json!({ "results": rows }))?;
    writeln!(out)?;
    Ok(())
}

fn print_table(out: &mut impl Write, results: &[Figure]) -> anyhow::Result<()> {
    let width = results.iter().map(|f| f.name.len()).max().unwrap_or(0).max("name".len());
    writeln!(out, "{:<width$}  {:>10}  {:>10}  {:>7}  {:<6}  met?", "name", "ntmem", "baseline", "ratio", "goal")?;
    for f in results {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>10}  {:>7.2}  {:<6}  {}",
            f.name,
            duration(f.ntmem_ns),
            duration(f.baseline_ns),
            f.ratio(),
            f.goal_text(),
            if f.met() { "yes" } else { "no" },
        )?;
    }
    writeln!(out)?;
    writeln!(out, "baselines:")?;
    for f in results {
        writeln!(out, "  {:<width$}  {}", f.name, f.baseline)?;
    }
    Ok(())
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
        assert_eq!(f.ratio(), 2.5);
        assert!(f.met());
        assert!(!figure(5.1, 2.0, 2.5).met());
        assert_eq!(f.goal_text(), "<= 2.5");
        assert_eq!(figure(1.0, 1.0, 3.0).goal_text(), "<= 3");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut out = Vec::new();
        print_json(&mut out, &[figure(5.0, 2.0, 2.5)]).expect("writing to a Vec cannot fail");
        assert_eq!(
            String::from_utf8(out).expect("serde_json writes UTF-8"),
            "{\"results\":[{\"name\":\"f\",\"ntmem_ns\":5.0,\"baseline_ns\":2.0,\"baseline\":\"b\",\
             \"ratio\":2.5,\"goal\":\"<= 2.5\"}]}\n"
        );
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(3.04), "3.0 ns");
        assert_eq!(duration(1_500.0), "1.50 us");
        assert_eq!(duration(2_500_000.0), "2.50 ms");
    }
}
