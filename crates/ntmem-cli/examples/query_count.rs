//! A fixed number of `VirtualQuery` calls among many allocations, for counting instructions
//! per query with callgrind (`query_scaling` of `ntmem bench` times the same queries): run it
//! with two query counts and divide the difference in `Ir` by the difference in queries.
//!
//! `valgrind --tool=callgrind target/release/examples/query_count 100000 100000`
//! (queries, then allocations: each 2 pages committed and touched, one per 64 KiB from 4 GiB).

use ntmem::{Config, System};
use ntmem_win32::{Kernel32, MEMORY_BASIC_INFORMATION64, MEM_COMMIT, MEM_RESERVE, PAGE_READWRITE};
use std::hint::black_box;

const FIRST: u64 = 1 << 32;
const GRANULE: u64 = 64 << 10;
const PAGE: u64 = 4096;

fn main() -> anyhow::Result<()> {
    let queries: usize = std::env::args().nth(1).map_or(Ok(100_000), |s| s.parse())?;
    let count: u64 = std::env::args().nth(2).map_or(Ok(100_000), |s| s.parse())?;
    let mut sys = System::new(Config::default().with_ram_bytes(2 << 30))?;
    let pid = sys.create_process("count")?;
    let mut k = Kernel32::new(&mut sys, pid);
    for i in 0..count {
        let at = FIRST + i * GRANULE;
        let base = k.VirtualAlloc(at, 2 * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        anyhow::ensure!(base == at, "VirtualAlloc at {at:#x} gave {base:#x}: error {}", k.GetLastError());
        for page in 0..2 {
            k.write(base + page * PAGE, &[1]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..queries {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let addr = FIRST + (x % count) * GRANULE + (x >> 63) * PAGE;
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        anyhow::ensure!(k.VirtualQuery(addr, &mut mbi) != 0, "VirtualQuery({addr:#x}) failed");
        black_box(&mbi);
    }
    Ok(())
}
