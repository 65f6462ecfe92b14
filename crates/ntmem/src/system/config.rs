//! The simulated machine's configuration.

use crate::units::PAGE_SIZE;

/// How to build a [`crate::System`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) ram_bytes: u64,
    pub(crate) lock_memory_privilege: bool,
    pub(crate) invariant_checks: bool,
}

impl Default for Config {
    /// 1 GiB of RAM, no page file, no lock-memory privilege.
    fn default() -> Self {
        Config { ram_bytes: 1 << 30, lock_memory_privilege: false, invariant_checks: false }
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
        u32::try_from(b / PAGE_SIZE).map_err(|_| ConfigError::RamSize(b))
    }
}
