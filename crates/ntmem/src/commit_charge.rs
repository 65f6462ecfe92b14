//! Commit charge: the promise that every committed page has somewhere to live.
//!
//! The total counts committed private pages, page-table pages and the pages the system keeps
//! (Windows Internals, 7th ed., ch. 5, "Commit charge and the system commit limit").
//! The limit is the RAM plus the page files' current sizes, and rises as page files grow: a
//! charge that fits means every committed page has a frame or a slot to live in.

/// System-wide commit figures, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitCharge {
    total: u64,
    limit: u64,
    peak: u64,
}

/// A charge did not fit under the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("commit limit exceeded: {wanted} more pages asked, {available} available")]
pub struct CommitLimitExceeded {
    /// Pages asked for.
    pub wanted: u64,
    /// Pages left under the limit.
    pub available: u64,
}

impl CommitCharge {
    pub(crate) fn new(limit: u64) -> CommitCharge {
        CommitCharge { total: 0, limit, peak: 0 }
    }

    /// Pages charged now.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Pages that may be charged at most.
    #[must_use]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Highest total seen.
    #[must_use]
    pub fn peak(&self) -> u64 {
        self.peak
    }

    /// Pages left under the limit (none while must-succeed charges hold the total above it).
    #[must_use]
    pub fn available(&self) -> u64 {
        self.limit.saturating_sub(self.total)
    }

    /// Charges `pages`, or changes nothing and says how far over the limit it would go.
    pub(crate) fn charge(&mut self, pages: u64) -> Result<(), CommitLimitExceeded> {
        if pages > self.available() {
            return Err(CommitLimitExceeded { wanted: pages, available: self.available() });
        }
        self.total += pages;
        self.peak = self.peak.max(self.total);
        Ok(())
    }

    /// Charges `pages` that cannot be refused, past the limit if need be: NT's must-succeed
    /// charge (`MiChargeCommitmentCantExpand(n, TRUE)`), which it takes for page-table pages it
    /// must create. The next refusable charge sees the room they took.
    pub(crate) fn charge_must_succeed(&mut self, pages: u64) {
        self.total += pages;
        self.peak = self.peak.max(self.total);
    }

    /// Raises the limit by `pages` (a page file grew).
    pub(crate) fn raise_limit(&mut self, pages: u64) {
        self.limit += pages;
    }

    /// Returns `pages` of charge.
    pub(crate) fn uncharge(&mut self, pages: u64) {
        debug_assert!(pages <= self.total, "uncharging more than was charged");
        self.total -= pages.min(self.total);
    }
}
