//! One page table's worth of a working set: the 512 pages a page table maps, each present or
//! not, and each present page's age, held as bitmaps — one of the pages present and one per
//! age. Entering, leaving and ageing a page are a few bit operations; the next page at or
//! after an offset (for the aging hand) or the next of one age (for the victims) is a scan of
//! at most eight words.
//!
//! Contract: a page is in at most one age's bitmap, and in one exactly when it is present;
//! the counts always equal the bitmaps' population.

use super::AGES;

/// Pages in a span: those one page table maps.
pub(super) const SPAN_PAGES: u64 = 512;
/// `u64` words in one bitmap.
const WORDS: usize = (SPAN_PAGES / 64) as usize;

/// The working-set pages of one page table's range.
#[derive(Debug, Default)]
pub(super) struct Span {
    /// The pages present.
    present: [u64; WORDS],
    /// The pages present of each age.
    by_age: [[u64; WORDS]; AGES],
    /// Pages present.
    len: u16,
    /// Pages present of each age.
    per_age: [u16; AGES],
}

/// The word and the bit of `offset` (below [`SPAN_PAGES`]).
fn locate(offset: u16) -> (usize, u64) {
    (usize::from(offset / 64), 1 << (offset % 64))
}

impl Span {
    /// Pages present.
    pub(super) fn len(&self) -> u16 {
        self.len
    }

    /// Pages present of age `age`.
    pub(super) fn count_of_age(&self, age: u8) -> u16 {
        self.per_age[usize::from(age)]
    }

    /// The age of the page at `offset`, if present.
    pub(super) fn age(&self, offset: u16) -> Option<u8> {
        let (word, bit) = locate(offset);
        if self.present[word] & bit == 0 {
            return None;
        }
        (0..AGES).find(|&a| self.by_age[a][word] & bit != 0).and_then(|a| u8::try_from(a).ok())
    }

    /// Makes the page at `offset` present with age `age`; returns its age before, if present.
    pub(super) fn set(&mut self, offset: u16, age: u8) -> Option<u8> {
        let old = self.remove(offset);
        let (word, bit) = locate(offset);
        self.present[word] |= bit;
        self.by_age[usize::from(age)][word] |= bit;
        self.len += 1;
        self.per_age[usize::from(age)] += 1;
        old
    }

    /// Makes the page at `offset` absent; returns its age, if it was present.
    pub(super) fn remove(&mut self, offset: u16) -> Option<u8> {
        let age = self.age(offset)?;
        let (word, bit) = locate(offset);
        self.present[word] &= !bit;
        self.by_age[usize::from(age)][word] &= !bit;
        self.len -= 1;
        self.per_age[usize::from(age)] -= 1;
        Some(age)
    }

    /// The lowest offset at or after `from` present, if any.
    pub(super) fn next_present(&self, from: u16) -> Option<u16> {
        next_set(&self.present, from)
    }

    /// The lowest offset at or after `from` present with age `age`, if any.
    pub(super) fn next_of_age(&self, age: u8, from: u16) -> Option<u16> {
        next_set(&self.by_age[usize::from(age)], from)
    }
}

/// The lowest set bit of `bits` at or after `from`.
fn next_set(bits: &[u64; WORDS], from: u16) -> Option<u16> {
    if u64::from(from) >= SPAN_PAGES {
        return None;
    }
    let (mut word, _) = locate(from);
    let mut rest = bits[word] & (u64::MAX << (from % 64));
    loop {
        if rest != 0 {
            // Below SPAN_PAGES: word < WORDS and the bit below 64.
            #[allow(clippy::cast_possible_truncation)]
            return Some((word * 64) as u16 + rest.trailing_zeros() as u16);
        }
        word += 1;
        if word == WORDS {
            return None;
        }
        rest = bits[word];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_move_between_ages_and_counts_follow() {
        let mut s = Span::default();
        assert_eq!(s.set(3, 0), None);
        assert_eq!(s.set(500, 2), None);
        assert_eq!(s.set(3, 5), Some(0));
        assert_eq!((s.len(), s.count_of_age(0), s.count_of_age(5), s.count_of_age(2)), (2, 0, 1, 1));
        assert_eq!(s.age(3), Some(5));
        assert_eq!(s.age(4), None);
        assert_eq!(s.remove(500), Some(2));
        assert_eq!(s.remove(500), None);
        assert_eq!((s.len(), s.count_of_age(2)), (1, 0));
    }

    #[test]
    fn scans_find_the_next_page_across_words_and_stop_at_the_end() {
        let mut s = Span::default();
        for (offset, age) in [(0, 1), (63, 1), (64, 0), (511, 1)] {
            s.set(offset, age);
        }
        assert_eq!(s.next_present(1), Some(63));
        assert_eq!(s.next_present(65), Some(511));
        assert_eq!(s.next_of_age(1, 64), Some(511));
        assert_eq!(s.next_of_age(0, 65), None);
        assert_eq!(s.next_present(512), None);
    }
}
