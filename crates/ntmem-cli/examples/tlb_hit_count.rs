//! A fixed number of 8-byte reads that hit the TLB, for counting instructions per access with
//! callgrind (`tlb_hit_read` of `ntmem bench` times the same reads): run it with two counts and
//! divide the difference in `Ir` by the difference in reads. The second argument says through
//! what: `memory` (a `Memory` handle obtained once, as the bench reads) or `kernel32`.
//!
//! `valgrind --tool=callgrind target/release/examples/tlb_hit_count 1000000 memory`

use ntmem::{Config, System};
use ntmem_win32::{Kernel32, MEM_COMMIT, MEM_RESERVE, PAGE_READWRITE};
use std::hint::black_box;

fn main() -> anyhow::Result<()> {
    let reads: usize = std::env::args().nth(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let through = std::env::args().nth(2).unwrap_or_else(|| "memory".to_owned());
    let span: u64 = std::env::args().nth(3).map_or(Ok(64), |s| s.parse())? << 20;
    let mut sys = System::new(Config::default().with_ram_bytes((2 * span).max(256 << 20)))?;
    let pid = sys.create_process("count")?;
    let mut k = Kernel32::new(&mut sys, pid);
    let base = k.VirtualAlloc(0, 4 * 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    anyhow::ensure!(base != 0, "VirtualAlloc failed: error {}", k.GetLastError());
    for page in 0..4 {
        k.write(base + page * 4096, &[1]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let offsets: [u64; 64] = std::array::from_fn(|i| ((i as u64 * 2_654_435_761) % (4 * 4096)) & !7);
    let mut sum = 0u64;
    if through == "miss" {
        // Random reads over `span` (third argument, MiB) through the handle: almost all miss
        // the TLB (4 MiB).
        let big = k.VirtualAlloc(0, span, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        anyhow::ensure!(big != 0, "VirtualAlloc failed: error {}", k.GetLastError());
        for page in 0..span / 4096 {
            k.write(big + page * 4096, &[1]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut memory = sys.memory(pid)?;
        for _ in 0..reads {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = [0u8; 8];
            memory.read(big + (x & (span - 1) & !7), &mut b).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            sum = sum.wrapping_add(u64::from_ne_bytes(b));
        }
    } else if through == "kernel32" {
        for i in 0..reads {
            let mut b = [0u8; 8];
            k.read(base + offsets[i % 64], &mut b).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            sum = sum.wrapping_add(u64::from_ne_bytes(b));
        }
    } else {
        let mut memory = sys.memory(pid)?;
        for i in 0..reads {
            let mut b = [0u8; 8];
            memory.read(base + offsets[i % 64], &mut b).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            sum = sum.wrapping_add(u64::from_ne_bytes(b));
        }
    }
    black_box(sum);
    Ok(())
}
