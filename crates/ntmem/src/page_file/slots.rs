//! [`SlotMap`]: which slots of a page file are in use, and the first free one from a slot on,
//! found in O(log n) however full the file is.
//!
//! A bitmap of the slots (1: in use) with summaries above it: a bit of each level above the
//! first is set exactly when the 64 bits below it are all set. A search for a free slot
//! looks at one word per level on the way up (to the first word above that is not full)
//! and one per level on the way down, so it reads at most two words a level: three levels
//! for the 2^24 slots of a 64 GiB page file. A plain bitmap read slot by slot cost the
//! whole file on every search that found none, and the writer searches once per cluster it
//! writes: with the page file growing in 4 MiB steps that was quadratic in its size (13% of
//! `processes_2048_vs_16`, 2 048 processes writing 3 GiB of page file).
//!
//! Contract: bits beyond the map's length read as in use, on every level, so that no search
//! returns a slot the map does not have; [`SlotMap::check`] compares every summary with the
//! level below.

/// Bits in a word.
const BITS: u64 = 64;

/// The slots of one page file, in use or free.
#[derive(Debug)]
pub(super) struct SlotMap {
    /// `levels[0]`: one bit a slot. `levels[k + 1]`: one bit a word of `levels[k]`, set when
    /// that word is all ones. The last level is one word.
    levels: Vec<Vec<u64>>,
    /// Slots in the map.
    slots: u64,
}

impl SlotMap {
    /// A map of `slots` slots, all free.
    pub(super) fn new(slots: u64) -> SlotMap {
        let mut levels = Vec::new();
        let mut bits = slots.max(1);
        loop {
            let words = usize::try_from(bits.div_ceil(BITS)).unwrap_or(usize::MAX);
            let mut level = vec![0u64; words];
            // The bits past the end of this level stand for nothing: in use, so never found.
            let tail = bits % BITS;
            if tail != 0 {
                level[words - 1] = !0 << tail;
            }
            levels.push(level);
            if words == 1 {
                break;
            }
            bits = words as u64;
        }
        SlotMap { levels, slots }
    }

    /// True when `slot` is in use (or beyond the map).
    pub(super) fn get(&self, slot: u32) -> bool {
        let slot = u64::from(slot);
        self.levels[0].get(word_of(slot)).is_none_or(|w| w & bit_of(slot) != 0)
    }

    /// Marks `slot` in use (`on`) or free, and the summaries above it. A slot beyond the map
    /// is left alone.
    pub(super) fn set(&mut self, slot: u32, on: bool) {
        let mut at = u64::from(slot);
        if at >= self.slots {
            return;
        }
        for level in &mut self.levels {
            let Some(word) = level.get_mut(word_of(at)) else { return };
            let was_full = *word == !0;
            if on {
                *word |= bit_of(at);
            } else {
                *word &= !bit_of(at);
            }
            if (*word == !0) == was_full {
                // The level above sees no change.
                return;
            }
            at /= BITS;
        }
    }

    /// The first free slot at or after `from`, if any.
    pub(super) fn next_free(&self, from: u32) -> Option<u32> {
        // Up: at each level, the first clear bit at or after `at` in `at`'s word; if none,
        // the next word at this level is the bit after it one level up.
        let mut at = u64::from(from);
        let mut level = 0;
        let found = loop {
            let word = *self.levels.get(level)?.get(word_of(at))?;
            let free = !word & (!0 << (at % BITS));
            if free != 0 {
                break (at & !(BITS - 1)) + u64::from(free.trailing_zeros());
            }
            at = at / BITS + 1;
            level += 1;
        };
        // Down: a clear bit names a word below that is not full; take its first clear bit.
        let mut at = found;
        for below in self.levels[..level].iter().rev() {
            let word = below[usize::try_from(at).ok()?];
            at = at * BITS + u64::from((!word).trailing_zeros());
        }
        u32::try_from(at).ok()
    }

    /// Every summary bit agrees with the word below it: the invariant checker's view.
    #[cfg(test)]
    pub(super) fn check(&self) -> Result<(), String> {
        for (k, pair) in self.levels.windows(2).enumerate() {
            let (below, above) = (&pair[0], &pair[1]);
            for (i, &w) in below.iter().enumerate() {
                let i = i as u64;
                let summary = above[word_of(i)] & bit_of(i) != 0;
                if summary != (w == !0) {
                    return Err(format!("level {} bit {i} says full={summary}, the word is {w:#x}", k + 1));
                }
            }
        }
        Ok(())
    }
}

/// The word holding bit `at` of a level.
#[inline]
fn word_of(at: u64) -> usize {
    usize::try_from(at / BITS).unwrap_or(usize::MAX)
}

/// Bit `at`'s mask in its word.
#[inline]
fn bit_of(at: u64) -> u64 {
    1 << (at % BITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_first_free_slot_across_full_words_and_levels() {
        let mut map = SlotMap::new(64 * 64 * 3 + 5);
        assert_eq!(map.levels.len(), 3, "12 293 slots: 193 words, 4 summary words, one top word");
        for slot in 0..64 * 64 + 70 {
            map.set(slot, true);
        }
        map.check().expect("summaries");
        assert_eq!(map.next_free(0), Some(64 * 64 + 70));
        assert_eq!(map.next_free(64 * 64 + 71), Some(64 * 64 + 71));
        map.set(100, false);
        assert_eq!(map.next_free(0), Some(100));
        assert_eq!(map.next_free(101), Some(64 * 64 + 70));
        assert!(!map.get(100) && map.get(101));
    }

    #[test]
    fn never_finds_a_slot_past_the_end() {
        let mut map = SlotMap::new(130);
        for slot in 0..130 {
            map.set(slot, true);
        }
        assert_eq!(map.next_free(0), None);
        assert_eq!(map.next_free(129), None);
        assert_eq!(map.next_free(5000), None, "beyond the map");
        assert!(map.get(130) && map.get(u32::MAX), "beyond the map reads as in use");
        map.set(131, false);
        map.set(5000, false);
        assert_eq!(map.next_free(0), None, "a slot beyond the map is never freed");
        map.check().expect("summaries");
    }

    #[test]
    fn a_map_of_one_word_or_less() {
        let mut map = SlotMap::new(1);
        assert_eq!(map.next_free(0), Some(0));
        map.set(0, true);
        assert_eq!(map.next_free(0), None);
        let map = SlotMap::new(64);
        assert_eq!(map.next_free(63), Some(63));
        assert_eq!(map.next_free(64), None);
    }

    proptest! {
        /// Against a plain vector of flags: the same answers for `get` and `next_free` after
        /// any sequence of sets and clears, and the summaries always agree with the bits.
        #[test]
        fn agrees_with_a_vector_of_flags(
            slots in 1u32..20_000,
            ops in prop::collection::vec((any::<bool>(), 0u32..20_500, 1u32..300), 0..200),
        ) {
            let mut map = SlotMap::new(u64::from(slots));
            let mut model = vec![false; slots as usize];
            for (on, at, len) in ops {
                for slot in at..at.saturating_add(len) {
                    map.set(slot, on);
                    if let Some(flag) = model.get_mut(slot as usize) {
                        *flag = on;
                    }
                }
                prop_assert!(map.check().is_ok(), "{:?}", map.check());
                let probe = at.wrapping_mul(7) % (slots + 100);
                let expected = (probe..slots).find(|&slot| !model[slot as usize]);
                prop_assert_eq!(map.next_free(probe), expected, "from slot {}", probe);
                prop_assert_eq!(map.get(probe), model.get(probe as usize).is_none_or(|&used| used));
            }
        }
    }
}
