//! What the section and view scenario tests share: a machine with the invariant checker on,
//! host files with known bytes, and opening them.
//!
//! Each test file that uses it says `mod support;`; a file uses what it needs.

#![allow(dead_code)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;
use std::path::{Path, PathBuf};

/// A page.
pub(crate) const P: u64 = 0x1000;
/// Every right a file handle of these tests asks for.
pub(crate) const ALL_FILE: u32 = GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE;
/// Reading and writing shared with the other opens.
pub(crate) const SHARE_RW: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE;

/// A default machine with the invariant checker after every call, and one process.
pub(crate) fn setup() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pid = sys.create_process("test").unwrap();
    (sys, pid)
}

/// The NULL handle.
pub(crate) fn null() -> HANDLE {
    std::ptr::null_mut()
}

/// `len` known bytes: each byte its offset modulo 251.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A host file of `len` bytes of [`pattern`].
pub(crate) fn host_file(dir: &tempfile::TempDir, name: &str, len: usize) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pattern(len)).unwrap();
    path
}

/// Opens an existing host file with `access`, sharing reads and writes.
pub(crate) fn open(k: &mut Kernel32, path: &Path, access: u32) -> HANDLE {
    let h = k.CreateFileW(path.to_str().unwrap(), access, SHARE_RW, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL);
    assert_ne!(h, INVALID_HANDLE_VALUE, "open {}: {}", path.display(), k.GetLastError());
    h
}

/// Runs the invariant checker, naming the moment in the panic.
pub(crate) fn check(sys: &System, when: &str) {
    if let Err(v) = sys.check_invariants() {
        panic!("invariant violated {when}: {v}");
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit value from any seed.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fixed-seed xorshift64 (no rand crate): the same seed, the same sequence.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(splitmix(seed) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The bytes of file page `page` at `version` (0: as the file was created): pseudo-random,
/// starting with the pair in clear so a mismatch is easy to read.
pub(crate) fn page_pattern(page: u64, version: u32) -> [u8; 4096] {
    let mut out = [0u8; 4096];
    let mut x = splitmix(page ^ (u64::from(version) << 40)) | 1;
    for chunk in out.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out[0..8].copy_from_slice(&page.to_le_bytes());
    out[8..12].copy_from_slice(&version.to_le_bytes());
    out
}
