//! Reference page-replacement simulators: the textbook algorithms on a list of page numbers,
//! written for obviousness, not speed — the oracle the replay through the real memory manager
//! and the one-pass stack algorithms are checked against.
//!
//! Contracts (shared with the working-set manager's policies, crates/ntmem working_set.rs):
//! - Memory holds `frames` pages; a reference to a page not held is a fault (the first
//!   reference to each page included); with memory full, one page is evicted first.
//! - LRU evicts the page referenced longest ago; FIFO the page brought in longest ago;
//!   CLOCK is second chance: pages in the order they came in, each with a reference bit set
//!   by every reference (the faulting one included); the victim is the first page in that
//!   order whose bit is clear, pages passed over having their bit cleared and going to the
//!   back; OPT (Belady's MIN) evicts the page whose next reference is farthest (never is
//!   farthest of all).

use std::collections::{HashMap, VecDeque};

/// The replacement policies that have a reference simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimPolicy {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// Second chance.
    Clock,
    /// Belady's optimal.
    Opt,
}

/// Faults of `policy` with `frames` frames on `pages` (0 frames: every reference faults).
#[must_use]
pub fn faults(policy: SimPolicy, pages: &[u64], frames: usize) -> u64 {
    if frames == 0 {
        return pages.len() as u64;
    }
    let mut held: VecDeque<(u64, bool)> = VecDeque::new();
    let mut faults = 0;
    for (t, &p) in pages.iter().enumerate() {
        if let Some(k) = held.iter().position(|&(q, _)| q == p) {
            match policy {
                SimPolicy::Lru => {
                    let e = held.remove(k).expect("found above");
                    held.push_back(e);
                }
                SimPolicy::Clock => held[k].1 = true,
                SimPolicy::Fifo | SimPolicy::Opt => {}
            }
            continue;
        }
        faults += 1;
        if held.len() == frames {
            match policy {
                SimPolicy::Lru | SimPolicy::Fifo => {
                    held.pop_front();
                }
                SimPolicy::Clock => loop {
                    let (q, referenced) = held.pop_front().expect("memory is full");
                    if !referenced {
                        break;
                    }
                    held.push_back((q, false));
                },
                SimPolicy::Opt => {
                    let victim =
                        (0..held.len()).max_by_key(|&k| next_use_after(pages, held[k].0, t)).expect("memory is full");
                    held.remove(victim);
                }
            }
        }
        held.push_back((p, true));
    }
    faults
}

/// The index of `page`'s next reference after `t`, `usize::MAX` when none (a scan: slow and
/// obviously right).
fn next_use_after(pages: &[u64], page: u64, t: usize) -> usize {
    pages[t + 1..].iter().position(|&q| q == page).map_or(usize::MAX, |k| t + 1 + k)
}

/// For each reference, the index of the next reference to the same page (`u64::MAX`: none).
#[must_use]
pub fn next_uses(pages: &[u64]) -> Vec<u64> {
    let mut next = vec![u64::MAX; pages.len()];
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for (t, &p) in pages.iter().enumerate().rev() {
        if let Some(n) = seen.insert(p, t as u64) {
            next[t] = n;
        }
    }
    next
}

/// Belady's anomaly: FIFO's faults on 1 2 3 4 1 2 5 1 2 3 4 5 with 3 frames (9) and 4 (10).
pub const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn belady_fifo_faults_more_with_more_frames() {
        assert_eq!(faults(SimPolicy::Fifo, &BELADY, 3), 9);
        assert_eq!(faults(SimPolicy::Fifo, &BELADY, 4), 10);
    }

    #[test]
    fn textbook_figures() {
        // Silberschatz's reference string, 3 frames: FIFO 15, LRU 12, OPT 9.
        let s = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
        assert_eq!(faults(SimPolicy::Fifo, &s, 3), 15);
        assert_eq!(faults(SimPolicy::Lru, &s, 3), 12);
        assert_eq!(faults(SimPolicy::Opt, &s, 3), 9);
        assert_eq!(faults(SimPolicy::Lru, &BELADY, 3), 10);
        assert_eq!(faults(SimPolicy::Opt, &BELADY, 3), 7);
    }

    #[test]
    fn clock_gives_a_second_chance() {
        // 1 2 3 fill with their bits set; 4 clears 1, 2, 3 and evicts 1, which faults again.
        // Later 2 and 3 are referenced, so 5 clears them and 4 and evicts 2.
        assert_eq!(faults(SimPolicy::Clock, &[1, 2, 3, 4, 1], 3), 5);
        assert_eq!(faults(SimPolicy::Clock, &[1, 2, 3, 4, 2, 3, 5, 2, 3], 3), 7);
    }

    #[test]
    fn next_uses_point_forward() {
        assert_eq!(next_uses(&[1, 2, 1, 1]), vec![2, u64::MAX, 3, u64::MAX]);
    }
}
