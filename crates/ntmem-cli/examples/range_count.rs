//! Rounds of the range operations of `ntmem bench`'s `range_ops_1tib` over one write-watch
//! reservation, for counting instructions per round with callgrind: run it with two round
//! counts and divide the difference in `Ir` by the difference in rounds.
//!
//! `valgrind --tool=callgrind target/release/examples/range_count 2000 1099511627776`
//! (rounds, then the reservation's size in bytes: 1 TiB there, 65536 for the baseline).

use ntmem::{Config, System};
use ntmem_win32::{
    Kernel32, ERROR_NOT_LOCKED, MEM_COMMIT, MEM_RESERVE, MEM_RESET, MEM_RESET_UNDO, MEM_WRITE_WATCH, PAGE_NOACCESS,
    PAGE_READWRITE,
};

const PAGE: u64 = 4096;

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;
    let size: u64 = std::env::args().nth(2).map_or(Ok(1 << 40), |s| s.parse())?;
    let mut sys = System::new(Config::default())?;
    let pid = sys.create_process("count")?;
    let mut k = Kernel32::new(&mut sys, pid);
    let base = k.VirtualAlloc(0, size, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE);
    anyhow::ensure!(base != 0, "VirtualAlloc of {size:#x} failed: error {}", k.GetLastError());
    let last = base + size - PAGE;
    for page in [base, last] {
        anyhow::ensure!(k.VirtualAlloc(page, PAGE, MEM_COMMIT, PAGE_READWRITE) == page, "commit at {page:#x}");
    }
    let mut found = [0u64; 4];
    for _ in 0..rounds {
        for page in [base, last] {
            k.write(page, &[1]).map_err(|e| anyhow::anyhow!("write at {page:#x}: exception {:#x}", e.code))?;
        }
        let (mut count, mut granularity) = (found.len(), 0);
        let watched = k.GetWriteWatch(0, base, size, &mut found, &mut count, &mut granularity);
        anyhow::ensure!(watched == 0 && count == 2, "GetWriteWatch: {count} pages, error {}", k.GetLastError());
        anyhow::ensure!(k.ResetWriteWatch(base, size) == 0, "ResetWriteWatch: error {}", k.GetLastError());
        for (flag, name) in [(MEM_RESET, "MEM_RESET"), (MEM_RESET_UNDO, "MEM_RESET_UNDO")] {
            anyhow::ensure!(k.VirtualAlloc(base, size, flag, PAGE_NOACCESS) != 0, "{name}: error {}", k.GetLastError());
        }
        let unlocked = k.VirtualUnlock(base, size);
        anyhow::ensure!(
            unlocked == 0 && k.GetLastError() == ERROR_NOT_LOCKED,
            "VirtualUnlock: error {}, not ERROR_NOT_LOCKED",
            k.GetLastError()
        );
    }
    Ok(())
}
