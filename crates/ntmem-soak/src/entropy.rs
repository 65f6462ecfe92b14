//! Where the soak's choices come from: [`Entropy`], a stream of 64-bit words.
//!
//! The soak draws every choice (which call, which process, which address) from an `Entropy`,
//! so one generator of calls serves the seeded soak ([`SplitMix64`]), the fuzzer (its bytes,
//! through `arbitrary::Unstructured`) and CI. A choice is a pure function of the words drawn.

/// A source of 64-bit words, and the choices made from them.
pub trait Entropy {
    /// The next word.
    fn next_u64(&mut self) -> u64;

    /// A number in `0..n` (`0` when `n` is 0). The modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// An index into a table of weights, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < u64::from(*w) {
                return i;
            }
            x -= u64::from(*w);
        }
        weights.len() - 1
    }

    /// One of `items` (which must not be empty).
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        // Below items.len(), which is a usize.
        #[allow(clippy::cast_possible_truncation)]
        let i = self.below(items.len() as u64) as usize;
        items[i]
    }
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014; the constants of Vigna's reference `splitmix64.c`): a 64-bit counter stepped by
/// the golden-ratio increment and mixed by two multiply-xorshift rounds. Not cryptographic;
/// chosen because it is twelve lines, has no bad seeds (0 included) and passes BigCrush, so a
/// seed alone reproduces a soak with no crate to trust.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
}

impl Entropy for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // The first outputs of Vigna's splitmix64.c seeded with 1234567.
        let mut r = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]);
    }
}
