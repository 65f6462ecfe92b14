//! `ntmem views`: a short scenario shown through the views — reserve 1 MiB, commit 256 KiB,
//! touch 64 KiB; reserve 100 KiB (28 KiB unusable); map a 64 KiB file and read three pages;
//! then empty the working set — with VMMap and RAMMap after the allocations and the diffs of
//! the trim. `--json` prints the four as JSON lines instead.

use super::{diff, rammap, vmmap};
use anyhow::{ensure, Context};
use ntmem::inspect::{RamMap, VmMap};
use ntmem::{Config, System};
use ntmem_win32::*;

/// Runs the scenario and prints the views.
pub(crate) fn run(json: bool, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ntmem-views-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = scenario(&dir, json, out);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn scenario(dir: &std::path::Path, json: bool, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let mut sys = System::new(Config::default().with_ram_bytes(64 << 20))?;
    let pid = sys.create_process("demo")?;
    let path = dir.join("data.bin");
    std::fs::write(&path, vec![7u8; 64 * 1024])?;
    {
        let mut k = Kernel32::new(&mut sys, pid);
        let base = k.VirtualAlloc(0, 1 << 20, MEM_RESERVE, PAGE_READWRITE);
        ensure!(base != 0, "VirtualAlloc: {}", k.GetLastError());
        ensure!(k.VirtualAlloc(base, 256 << 10, MEM_COMMIT, PAGE_READWRITE) == base, "commit");
        for i in 0..16 {
            k.write(base + i * 4096, &[1]).map_err(|e| anyhow::anyhow!("write: {:#x}", e.code))?;
        }
        ensure!(k.VirtualAlloc(0, 100 << 10, MEM_RESERVE, PAGE_READWRITE) != 0, "reserve 100 KiB");
        let f = k.CreateFileW(
            path.to_str().context("a UTF-8 temp path")?,
            GENERIC_READ,
            FILE_SHARE_READ,
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
        );
        ensure!(f != INVALID_HANDLE_VALUE, "CreateFileW: {}", k.GetLastError());
        let h = k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0, None);
        ensure!(!h.is_null(), "CreateFileMappingW: {}", k.GetLastError());
        let view = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
        ensure!(view != 0, "MapViewOfFile: {}", k.GetLastError());
        let mut b = [0u8; 1];
        for i in 0..3 {
            k.read(view + i * 4096, &mut b).map_err(|e| anyhow::anyhow!("read: {:#x}", e.code))?;
        }
    }
    let (vm_before, ram_before) = (VmMap::capture(&sys, pid)?, RamMap::capture(&sys));
    {
        let mut k = Kernel32::new(&mut sys, pid);
        let me = k.GetCurrentProcess();
        ensure!(k.EmptyWorkingSet(me) == TRUE, "EmptyWorkingSet: {}", k.GetLastError());
    }
    let (vm_after, ram_after) = (VmMap::capture(&sys, pid)?, RamMap::capture(&sys));
    if json {
        for v in [
            vmmap::json(&vm_before),
            rammap::json(&ram_before),
            diff::json_vmmap(&vm_before, &vm_after),
            diff::json_rammap(&ram_before, &ram_after),
        ] {
            writeln!(out, "{v}")?;
        }
    } else {
        writeln!(out, "{}", vmmap::render(&vm_before))?;
        writeln!(out, "{}", rammap::render(&ram_before))?;
        writeln!(out, "After EmptyWorkingSet:\n{}", diff::render_vmmap(&vm_before, &vm_after))?;
        writeln!(out, "{}", diff::render_rammap(&ram_before, &ram_after))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_prints_both_views_and_their_diffs() {
        let mut text = Vec::new();
        super::run(false, &mut text).expect("the demo runs");
        let text = String::from_utf8(text).expect("UTF-8");
        for needle in ["Private Data", "1,024 K", "28 K", "data.bin", "Use Counts", "Active → Modified", "64 K → 0"]
        {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        let mut json = Vec::new();
        super::run(true, &mut json).expect("the demo runs");
        let lines: Vec<serde_json::Value> = String::from_utf8(json)
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let views: Vec<&str> = lines.iter().filter_map(|v| v["view"].as_str()).collect();
        assert_eq!(views, ["vmmap", "rammap", "vmmap_diff", "rammap_diff"]);
        let private = lines[0]["summary"].as_array().and_then(|rows| rows.iter().find(|r| r["type"] == "Private Data"));
        assert_eq!(
            private.map(|r| (r["committed"].clone(), r["total_ws"].clone())),
            Some((262_144.into(), 65_536.into()))
        );
    }
}
