//! [`Rooms`]: the largest free gap of each chunk of the VAD index, in a max-tree, so that
//! placement finds the first or last chunk with a gap large enough in O(log n) (issue 6, item
//! 2) instead of stepping through every VAD.
//!
//! A complete binary tree over a power-of-two number of leaves, stored as an array (node `k`
//! has children `2k` and `2k + 1`, leaf `j` is node `width + j`): every node holds the largest
//! value beneath it. Leaves past the last chunk hold 0. A chunk inserted or removed in the
//! middle shifts the leaves after it (one `memmove`, as the chunk headers move) and recomputes
//! only the nodes above them.

/// Per chunk, its largest room (see `tree.rs`), and the largest over every subtree.
///
/// Invariants (checked by [`Rooms::check`]): `nodes.len() == 2 * width`, `width` is a power of
/// two at least `len`, leaves from `len` on are 0, every inner node is the larger of its two
/// children.
#[derive(Debug, Clone)]
pub(super) struct Rooms {
    width: usize,
    len: usize,
    nodes: Vec<u64>,
}

impl Default for Rooms {
    fn default() -> Rooms {
        Rooms { width: 1, len: 0, nodes: vec![0; 2] }
    }
}

impl Rooms {
    /// Inserts a leaf holding `room` at `at` (at most `len`), shifting the ones after it.
    pub(super) fn insert(&mut self, at: usize, room: u64) {
        if self.len == self.width {
            self.regrow(self.width * 2);
        }
        let w = self.width;
        self.nodes.copy_within(w + at..w + self.len, w + at + 1);
        self.nodes[w + at] = room;
        self.len += 1;
        self.fix(at, self.len);
    }

    /// Removes the leaf at `at` (below `len`), shifting the ones after it.
    pub(super) fn remove(&mut self, at: usize) {
        let w = self.width;
        self.nodes.copy_within(w + at + 1..w + self.len, w + at);
        self.len -= 1;
        self.nodes[w + self.len] = 0;
        self.fix(at, self.len + 1);
    }

    /// Sets the leaf at `at` (below `len`).
    pub(super) fn set(&mut self, at: usize, room: u64) {
        let mut k = self.width + at;
        if self.nodes[k] == room {
            return;
        }
        self.nodes[k] = room;
        while k > 1 {
            k /= 2;
            self.nodes[k] = self.nodes[2 * k].max(self.nodes[2 * k + 1]);
        }
    }

    /// The first leaf at or after `from` holding at least `need`.
    pub(super) fn first_from(&self, from: usize, need: u64) -> Option<usize> {
        if from >= self.len {
            return None;
        }
        let mut k = self.width + from;
        // Up and right until a subtree to the right of `from` holds enough, then down to its
        // leftmost leaf that does.
        while self.nodes[k] < need {
            while k % 2 == 1 {
                k /= 2;
            }
            if k == 0 {
                return None;
            }
            k += 1;
        }
        while k < self.width {
            k = if self.nodes[2 * k] >= need { 2 * k } else { 2 * k + 1 };
        }
        Some(k - self.width).filter(|&j| j < self.len)
    }

    /// The last leaf at or before `upto` holding at least `need`.
    pub(super) fn last_upto(&self, upto: usize, need: u64) -> Option<usize> {
        let upto = upto.min(self.len.checked_sub(1)?);
        let mut k = self.width + upto;
        // Up and left until a subtree to the left of `upto` holds enough, then down to its
        // rightmost leaf that does.
        while self.nodes[k] < need {
            while k.is_multiple_of(2) {
                k /= 2;
            }
            if k == 1 {
                return None;
            }
            k -= 1;
        }
        while k < self.width {
            k = if self.nodes[2 * k + 1] >= need { 2 * k + 1 } else { 2 * k };
        }
        Some(k - self.width)
    }

    /// Rebuilds the tree with `width` leaves (a power of two at least `len`).
    fn regrow(&mut self, width: usize) {
        let mut nodes = vec![0; 2 * width];
        nodes[width..width + self.len].copy_from_slice(&self.nodes[self.width..self.width + self.len]);
        self.nodes = nodes;
        self.width = width;
        self.fix(0, self.len);
    }

    /// Recomputes the inner nodes above leaves `from..to` after those leaves changed.
    fn fix(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let (mut lo, mut hi) = (self.width + from, self.width + to - 1);
        while lo > 1 {
            lo /= 2;
            hi /= 2;
            for k in lo..=hi {
                self.nodes[k] = self.nodes[2 * k].max(self.nodes[2 * k + 1]);
            }
        }
    }

    /// Checks the invariants (see the type) and that the leaves are `leaves`.
    pub(super) fn check(&self, leaves: impl Iterator<Item = u64>) -> Result<(), String> {
        if !self.width.is_power_of_two() || self.nodes.len() != 2 * self.width || self.len > self.width {
            return Err(format!("room tree of {} leaves, {} nodes, width {}", self.len, self.nodes.len(), self.width));
        }
        let stored = &self.nodes[self.width..];
        let mut n = 0;
        for (j, room) in leaves.enumerate() {
            if stored.get(j) != Some(&room) || j >= self.len {
                return Err(format!(
                    "chunk {j} has room {room}, filed as {:?}",
                    stored.get(j).filter(|_| j < self.len)
                ));
            }
            n += 1;
        }
        if n != self.len || stored[n..].iter().any(|&r| r != 0) {
            return Err(format!("room tree holds {} chunks, the index {n}", self.len));
        }
        match (1..self.width).find(|&k| self.nodes[k] != self.nodes[2 * k].max(self.nodes[2 * k + 1])) {
            Some(k) => Err(format!("room tree node {k} is stale")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree against a plain vector, over inserts, removals and updates.
    #[test]
    fn agrees_with_a_vector() {
        let mut rooms = Rooms::default();
        let mut model: Vec<u64> = Vec::new();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for step in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let room = x % 40;
            let at = usize::try_from(x >> 40).expect("24 bits") % (model.len() + 1);
            match step % 5 {
                0..=2 => {
                    rooms.insert(at, room);
                    model.insert(at, room);
                }
                3 if at < model.len() => {
                    rooms.remove(at);
                    model.remove(at);
                }
                _ if at < model.len() => {
                    rooms.set(at, room);
                    model[at] = room;
                }
                _ => {}
            }
            rooms.check(model.iter().copied()).expect("room tree invariants");
            let need = x % 45;
            let from = usize::try_from(x >> 50).expect("14 bits") % (model.len() + 2);
            let first = (from..model.len()).find(|&j| model[j] >= need);
            assert_eq!(rooms.first_from(from, need), first, "first from {from} with {need}");
            let last = (0..model.len()).rev().find(|&j| j <= from && model[j] >= need);
            assert_eq!(rooms.last_upto(from, need), last, "last up to {from} with {need}");
        }
    }

    #[test]
    fn empty_tree_finds_nothing() {
        let rooms = Rooms::default();
        assert_eq!(rooms.first_from(0, 0), None);
        assert_eq!(rooms.last_upto(0, 0), None);
        rooms.check(std::iter::empty()).expect("empty tree is valid");
    }
}
