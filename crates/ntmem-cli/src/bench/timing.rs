//! How the benchmarks time things: a sample is one timed batch of operations, reported in
//! nanoseconds per operation; a figure is the median of a few samples, its ntmem and native
//! samples taken in turn so that noise from the rest of the machine falls on both alike.
//!
//! Also the fixed-seed xorshift both sides of a random-access figure draw their addresses from.

use std::time::Instant;

/// How many samples make a figure.
pub(super) const SAMPLES: usize = 5;

/// How many samples make a figure whose samples are short (a tenth of a second or less) and
/// whose goal leaves little room (`tlb_hit_read`, `native_read_resident`, `query_scaling`,
/// `demand_zero_fault`, `range_ops_1tib`, `exited_processes_10000_vs_0`, whose timed part is
/// short though each sample builds a machine first): a median of more of them moves less with
/// the machine's noise.
pub(super) const SHORT_SAMPLES: usize = 15;

/// Nanoseconds per operation of `ops` operations done by `batch`.
pub(super) fn per_op<E>(ops: usize, batch: impl FnOnce() -> Result<(), E>) -> Result<f64, E> {
    let start = Instant::now();
    batch()?;
    Ok(start.elapsed().as_secs_f64() * 1e9 / ops as f64)
}

/// How many operations costing `op_ns` nanoseconds fit in a sample of `budget_ns`, within
/// `1..=max`: for operations whose cost is the question.
pub(super) fn ops_within(op_ns: f64, budget_ns: f64, max: usize) -> usize {
    let fit = (budget_ns / op_ns.max(1.0)).floor();
    // Clamped to 1..=max before the cast, so neither sign nor size is lost.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = fit.clamp(1.0, max as f64) as usize;
    n
}

/// The medians of [`SAMPLES`] samples of `a` and of `b`, taken alternately.
pub(super) fn paired_medians(
    a: impl FnMut() -> anyhow::Result<f64>,
    b: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<(f64, f64)> {
    paired_medians_of(SAMPLES, a, b)
}

/// The medians of `samples` samples of `a` and of `b`, taken alternately.
pub(super) fn paired_medians_of(
    samples: usize,
    mut a: impl FnMut() -> anyhow::Result<f64>,
    mut b: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<(f64, f64)> {
    let (mut xs, mut ys) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for _ in 0..samples {
        xs.push(a()?);
        ys.push(b()?);
    }
    Ok((median(xs), median(ys)))
}

/// The median of `samples` samples of `f`: for a figure whose two sides cannot be held in
/// memory together, each side's samples taken in a run of their own.
pub(super) fn median_of(samples: usize, mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let xs = (0..samples).map(|_| f()).collect::<anyhow::Result<Vec<f64>>>()?;
    Ok(median(xs))
}

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Marsaglia's xorshift64: a fixed sequence of well-spread numbers, cheap enough not to
/// weigh on what it drives.
#[derive(Clone, Copy)]
pub(super) struct XorShift(u64);

impl XorShift {
    /// The sequence every random-access figure uses.
    pub(super) fn new() -> XorShift {
        XorShift(0x9E37_79B9_7F4A_7C15)
    }

    /// The next number of the sequence.
    #[inline(always)]
    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn budget_bounds_the_count() {
        assert_eq!(ops_within(1e6, 2e8, 20_000), 200);
        assert_eq!(ops_within(1.0, 2e8, 20_000), 20_000);
        assert_eq!(ops_within(1e12, 2e8, 20_000), 1);
    }

    #[test]
    fn xorshift_is_fixed_and_never_zero() {
        let (mut a, mut b) = (XorShift::new(), XorShift::new());
        for _ in 0..1000 {
            let x = a.next_u64();
            assert_eq!(x, b.next_u64());
            assert_ne!(x, 0);
        }
    }
}
