//! The options `ntmem trace replay` and `ntmem sweep` share: the trace, its format, and the
//! machine it runs on.

use anyhow::{bail, Context};
use ntmem::address_space::EvictionPolicy;
use ntmem_trace::{Format, MachineOptions, Strictness};
use std::path::PathBuf;

/// Which trace and how to read it.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct TraceArgs {
    /// Trace format: lackey (valgrind --tool=lackey --trace-mem=yes), pages (one page number a
    /// line), or auto (by the first reference line).
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub(crate) format: Format,
    /// Refuse the trace at its first bad line instead of skipping (and counting) bad lines.
    #[arg(long)]
    pub(crate) strict: bool,
}

impl TraceArgs {
    pub(crate) fn strictness(&self) -> Strictness {
        if self.strict {
            Strictness::Strict
        } else {
            Strictness::Lenient
        }
    }
}

/// The simulated machine.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct MachineArgs {
    /// RAM (e.g. 64MiB, 1GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub(crate) ram: u64,
    /// A page file of this size (in the temporary directory, removed afterwards); none when
    /// absent.
    #[arg(long, value_parser = parse_size)]
    pub(crate) page_file: Option<u64>,
    /// Pages a hard fault reads (1 to 64).
    #[arg(long, default_value_t = ntmem::system::DEFAULT_PAGE_IN_CLUSTER)]
    pub(crate) cluster: u32,
}

impl MachineArgs {
    /// The machine's options; the page file goes in `dir`.
    pub(crate) fn options(&self, dir: &std::path::Path) -> MachineOptions {
        MachineOptions {
            ram_bytes: self.ram,
            page_file: self.page_file.map(|b| (dir.join("pagefile.sys"), b)),
            cluster: self.cluster,
            invariant_checks: false,
        }
    }
}

/// A policy as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PolicyName(pub(crate) EvictionPolicy);

impl PolicyName {
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            EvictionPolicy::NtAging => "nt",
            EvictionPolicy::Lru => "lru",
            EvictionPolicy::Fifo => "fifo",
            EvictionPolicy::Clock => "clock",
            EvictionPolicy::Opt => "opt",
        }
    }
}

pub(crate) fn parse_policy(s: &str) -> Result<PolicyName, String> {
    Ok(PolicyName(match s.to_ascii_lowercase().as_str() {
        "nt" => EvictionPolicy::NtAging,
        "lru" => EvictionPolicy::Lru,
        "fifo" => EvictionPolicy::Fifo,
        "clock" => EvictionPolicy::Clock,
        "opt" | "min" => EvictionPolicy::Opt,
        _ => return Err(format!("unknown policy {s:?} (nt, lru, fifo, clock, opt)")),
    }))
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "auto" => Ok(Format::Auto),
        "lackey" => Ok(Format::Lackey),
        "pages" => Ok(Format::Pages),
        _ => Err(format!("unknown format {s:?} (auto, lackey, pages)")),
    }
}

/// `4096`, `64K`, `64KiB`, `16 MiB`, `1GiB`, `2G`: bytes.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("bad size unit in {s:?} (B, KiB, MiB, GiB, TiB)")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("size {s:?} too large"))
}

/// `64,128,...,4096`: a list, where `...` continues the ratio (or the step) of the two
/// numbers before it up to the number after it.
pub(crate) fn parse_frames(list: &str) -> anyhow::Result<Vec<u64>> {
    let items: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut out: Vec<u64> = Vec::new();
    let mut k = 0;
    while k < items.len() {
        if items[k] == "..." {
            let (Some(&b), Some(end)) = (out.last(), items.get(k + 1)) else {
                bail!("`...` needs two numbers before it and one after it in {list:?}");
            };
            let a = out.len().checked_sub(2).map(|i| out[i]).context("`...` needs two numbers before it")?;
            let end: u64 = end.parse().with_context(|| format!("bad frame count {end:?}"))?;
            let mut x = b;
            loop {
                let next = if a > 0 && b % a == 0 && b / a > 1 { x * (b / a) } else { x + b.saturating_sub(a).max(1) };
                if next > end {
                    break;
                }
                out.push(next);
                x = next;
            }
            if out.last() != Some(&end) {
                out.push(end);
            }
            k += 2;
            continue;
        }
        out.push(items[k].parse().with_context(|| format!("bad frame count {:?}", items[k]))?);
        k += 1;
    }
    if out.is_empty() || out.contains(&0) {
        bail!("frame counts must be 1 or more: {list:?}");
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Where to put the page file: a temporary directory removed on drop.
pub(crate) fn scratch() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("ntmem-trace").tempdir().context("creating a temporary directory")
}

/// The trace's name without its extensions (`ls.lackey.gz` → `ls`).
pub(crate) fn stem(path: &std::path::Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("trace");
    PathBuf::from(name.split('.').next().filter(|s| !s.is_empty()).unwrap_or("trace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn frame_lists_continue_their_ratio() {
        assert_eq!(parse_frames("64,128,...,4096").expect("ok"), vec![64, 128, 256, 512, 1024, 2048, 4096]);
        assert_eq!(parse_frames("10,20,...,50").expect("ok"), vec![10, 20, 40, 50]);
        assert_eq!(parse_frames("10,15,...,30").expect("ok"), vec![10, 15, 20, 25, 30]);
        assert_eq!(parse_frames("3,4").expect("ok"), vec![3, 4]);
        assert!(parse_frames("0,1").is_err());
        assert!(parse_frames("...,4").is_err());
    }
}
