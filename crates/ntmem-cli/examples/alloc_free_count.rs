//! A fixed number of `VirtualAlloc` (64 KiB, committed) + `VirtualFree` (`MEM_RELEASE`) pairs,
//! for counting instructions per pair with callgrind (`alloc_free_pair` of `ntmem bench` times
//! the same pairs): run it with two counts and divide the difference in `Ir` by the difference
//! in pairs.
//!
//! `valgrind --tool=callgrind target/release/examples/alloc_free_count 20000`

use ntmem::{Config, System};
use ntmem_win32::{Kernel32, MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE};

fn main() -> anyhow::Result<()> {
    let pairs: usize = std::env::args().nth(1).map_or(Ok(20_000), |s| s.parse())?;
    let mut sys = System::new(Config::default().with_ram_bytes(64 << 20))?;
    let pid = sys.create_process("count")?;
    let mut k = Kernel32::new(&mut sys, pid);
    for _ in 0..pairs {
        let base = k.VirtualAlloc(0, 64 << 10, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        anyhow::ensure!(base != 0, "VirtualAlloc failed: error {}", k.GetLastError());
        anyhow::ensure!(k.VirtualFree(base, 0, MEM_RELEASE) != 0, "VirtualFree failed: error {}", k.GetLastError());
    }
    Ok(())
}
