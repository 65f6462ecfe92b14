//! The simulated machine's configuration.

use crate::page_file::{PageFileSpec, MAX_PAGE_FILES};
use crate::units::PAGE_SIZE;
use std::path::PathBuf;

/// How to build a [`crate::System`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) ram_bytes: u64,
    pub(crate) lock_memory_privilege: bool,
    pub(crate) invariant_checks: bool,
    pub(crate) page_files: Vec<PageFileSpec>,
    pub(crate) page_in_cluster: u32,
}

/// Pages a hard fault reads by default (the faulting one included).
pub const DEFAULT_PAGE_IN_CLUSTER: u32 = 8;
/// The largest page-in cluster.
pub const MAX_PAGE_IN_CLUSTER: u32 = 64;

impl Default for Config {
    /// 1 GiB of RAM, no page file, clusters of 8, no lock-memory privilege.
    fn default() -> Self {
        Config {
            ram_bytes: 1 << 30,
            lock_memory_privilege: false,
            invariant_checks: false,
            page_files: Vec::new(),
            page_in_cluster: DEFAULT_PAGE_IN_CLUSTER,
        }
    }
}

/// Smallest RAM a machine may have.
pub const MIN_RAM_BYTES: u64 = 1 << 20;
/// Largest RAM a machine may have (frame numbers are 32-bit).
pub const MAX_RAM_BYTES: u64 = 1 << 44;

/// A configuration that cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// RAM outside 1 MiB ..= 16 TiB, or not a whole number of pages.
    #[error("RAM must be a multiple of 4 KiB between 1 MiB and 16 TiB, not {0} bytes")]
    RamSize(u64),
    /// More than 16 page files, or one whose maximum is below its initial size or is smaller
    /// than two pages.
    #[error("page file {0} is misconfigured (at most 16, each 2 pages or more, maximum >= initial)")]
    PageFile(usize),
    /// A page-in cluster outside 1 ..= 64 pages.
    #[error("the page-in cluster must be 1 to 64 pages, not {0}")]
    PageInCluster(u32),
}

impl Config {
    /// RAM of `bytes` bytes (a multiple of 4 KiB, 1 MiB to 16 TiB). Host memory is taken only
    /// as frames are used.
    #[must_use]
    pub fn with_ram_bytes(mut self, bytes: u64) -> Config {
        self.ram_bytes = bytes;
        self
    }

    /// Grants every process SeLockMemoryPrivilege, which large pages need (F48).
    #[must_use]
    pub fn with_lock_memory_privilege(mut self) -> Config {
        self.lock_memory_privilege = true;
        self
    }

    /// Adds a page file at `path` (a real host file, created or truncated at boot and removed
    /// when the system is dropped), `initial_bytes` large and growing up to `maximum_bytes`
    /// as commit needs it, like pagefile.sys. Up to 16.
    #[must_use]
    pub fn with_page_file(mut self, path: impl Into<PathBuf>, initial_bytes: u64, maximum_bytes: u64) -> Config {
        self.page_files.push(PageFileSpec { path: path.into(), initial_bytes, maximum_bytes });
        self
    }

    /// Pages a hard fault reads at once, the faulting one included (1 switches clustering off).
    #[must_use]
    pub fn with_page_in_cluster(mut self, pages: u32) -> Config {
        self.page_in_cluster = pages;
        self
    }

    /// The page files.
    #[must_use]
    pub fn page_files(&self) -> &[PageFileSpec] {
        &self.page_files
    }

    /// Pages a hard fault reads at once.
    #[must_use]
    pub fn page_in_cluster(&self) -> u32 {
        self.page_in_cluster
    }

    /// Runs the invariant checker after every API call (for tests).
    #[must_use]
    pub fn with_invariant_checks(mut self) -> Config {
        self.invariant_checks = true;
        self
    }

    /// RAM in bytes.
    #[must_use]
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// Whether processes hold SeLockMemoryPrivilege.
    #[must_use]
    pub fn lock_memory_privilege(&self) -> bool {
        self.lock_memory_privilege
    }

    /// Whether the invariant checker runs after every call.
    #[must_use]
    pub fn invariant_checks(&self) -> bool {
        self.invariant_checks
    }

    pub(crate) fn validate(&self) -> Result<u32, ConfigError> {
        let b = self.ram_bytes;
        if !(MIN_RAM_BYTES..=MAX_RAM_BYTES).contains(&b) || !b.is_multiple_of(PAGE_SIZE) {
            return Err(ConfigError::RamSize(b));
        }
        if self.page_files.len() > MAX_PAGE_FILES {
            return Err(ConfigError::PageFile(MAX_PAGE_FILES));
        }
        for (i, f) in self.page_files.iter().enumerate() {
            if f.maximum_bytes < f.initial_bytes || f.initial_bytes < 2 * PAGE_SIZE {
                return Err(ConfigError::PageFile(i));
            }
        }
        if !(1..=MAX_PAGE_IN_CLUSTER).contains(&self.page_in_cluster) {
            return Err(ConfigError::PageInCluster(self.page_in_cluster));
        }
        u32::try_from(b / PAGE_SIZE).map_err(|_| ConfigError::RamSize(b))
    }
}
