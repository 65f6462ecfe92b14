//! `ntmem sweep TRACE --frames 64,128,...,4096 --policy nt,lru,fifo,clock,opt`: the trace
//! under each policy and memory size, written as a CSV and an SVG miss-ratio curve (faults per
//! 1000 references against frames, one line per policy).
//!
//! A frame count is the number of the trace's pages the process may have resident at once: a
//! hard working-set maximum of that many pages plus the one page of its working set that is not
//! the trace's (the shared user data page), on a machine whose RAM (1 GiB unless `--ram`) holds
//! every page the trace touches, so a page given up goes to the standby or modified list and
//! coming back is a soft fault. Faults are the misses: demand-zero + soft + hard.
//!
//! `nt`, `fifo` and `clock` (and `lru`, `opt` with `--replay-all`) are replayed through the
//! memory manager, each run on its own System, the runs shared among `--threads` threads and
//! their results put back in order, so the output does not depend on the threads. `lru` and
//! `opt` are stack algorithms: Mattson's one pass gives every size at once (tests check it
//! against the replays). The trace is loaded once (16 bytes a page reference after merging
//! repeats).

use super::load;
use super::{MachineArgs, PolicyName, TraceArgs};
use anyhow::{bail, Context};
use ntmem::address_space::EvictionPolicy;
use ntmem_trace::sim::{next_uses, BELADY};
use ntmem_trace::stack::{lru_faults, opt_faults};
use ntmem_trace::{MachineOptions, PageRef, ReplayFigures, Replayer};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What `ntmem sweep` was asked.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct SweepArgs {
    /// The trace (plain or gzip); not with --belady.
    #[arg(required_unless_present = "belady")]
    pub(crate) trace: Option<PathBuf>,
    /// Frame counts: a list, `...` continuing the ratio of the two before it.
    #[arg(long, default_value = "64,128,...,4096")]
    pub(crate) frames: String,
    /// Policies: nt, lru, fifo, clock, opt.
    #[arg(long, value_delimiter = ',', default_value = "nt,lru,fifo,clock,opt", value_parser = super::args::parse_policy)]
    pub(crate) policy: Vec<PolicyName>,
    /// Write OUT.csv and OUT.svg (default: the trace's name in the current directory).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Replay lru and opt through the memory manager too, instead of Mattson's one pass.
    #[arg(long)]
    pub(crate) replay_all: bool,
    /// Threads for the replays.
    #[arg(long, default_value_t = 2)]
    pub(crate) threads: usize,
    #[command(flatten)]
    pub(crate) input: TraceArgs,
    #[command(flatten)]
    pub(crate) machine: MachineArgs,
    /// FIFO on 1 2 3 4 1 2 5 1 2 3 4 5 with 1 to 5 frames: Belady's anomaly.
    #[arg(long, conflicts_with = "trace")]
    pub(crate) belady: bool,
}

/// One point of the curve.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    pub(crate) policy: PolicyName,
    pub(crate) frames: u64,
    pub(crate) references: u64,
    pub(crate) faults: u64,
    /// Demand-zero, soft, hard (replays only).
    pub(crate) kinds: Option<(u64, u64, u64)>,
    pub(crate) method: &'static str,
}

impl Point {
    pub(crate) fn per_thousand(&self) -> f64 {
        if self.references == 0 {
            0.0
        } else {
            self.faults as f64 * 1000.0 / self.references as f64
        }
    }
}

pub(crate) fn run(args: &SweepArgs) -> anyhow::Result<()> {
    if args.belady {
        return belady(args);
    }
    let trace = args.trace.as_ref().context("a trace is needed")?;
    let frames = super::args::parse_frames(&args.frames)?;
    let started = Instant::now();
    let (refs, report) = load::load(trace, &args.input)?;
    load::report_bad(&report);
    // Pages the replay would refuse (outside the user range) are left out of every method alike.
    let user = (ntmem::units::MIN_USER_ADDRESS >> 12)..(ntmem::units::USER_END >> 12);
    let refs: Vec<PageRef> = refs.into_iter().filter(|r| user.contains(&r.page)).collect();
    let references: u64 = refs.iter().map(|r| u64::from(r.count)).sum();
    let loaded = started.elapsed().as_secs_f64();
    let dir = super::args::scratch()?;
    let opts = args.machine.options(dir.path());
    let points = sweep(&refs, references, &frames, &args.policy, &opts, args.replay_all, args.threads)?;
    let seconds = started.elapsed().as_secs_f64();
    let out = args.out.clone().unwrap_or_else(|| super::args::stem(trace));
    let csv = out.with_extension("csv");
    write_csv(&csv, &points)?;
    print_table(&points, &frames, &args.policy);
    println!(
        "{} references ({} after merging repeats), {} runs; loaded in {loaded:.2} s, all in {seconds:.2} s",
        references,
        refs.len(),
        points.len()
    );
    println!("wrote {}", csv.display());
    #[cfg(feature = "plot")]
    {
        let svg = out.with_extension("svg");
        super::plot::miss_ratio_curve(&svg, &points, &args.policy, &trace.display().to_string())?;
        println!("wrote {}", svg.display());
    }
    Ok(())
}

/// Every (policy, frames) point; replays on up to `threads` threads, deterministic.
pub(crate) fn sweep(
    refs: &[PageRef],
    references: u64,
    frames: &[u64],
    policies: &[PolicyName],
    opts: &MachineOptions,
    replay_all: bool,
    threads: usize,
) -> anyhow::Result<Vec<Point>> {
    let pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
    let sizes: Vec<usize> = frames.iter().map(|&f| usize::try_from(f).unwrap_or(usize::MAX)).collect();
    let wants_opt = policies.iter().any(|p| p.0 == EvictionPolicy::Opt);
    let next = if wants_opt { next_uses(&pages) } else { Vec::new() };
    let mut jobs: Vec<(PolicyName, u64)> = Vec::new();
    let mut stacked: Vec<Point> = Vec::new();
    for &p in policies {
        let one_pass = match p.0 {
            EvictionPolicy::Lru if !replay_all => Some(lru_faults(&pages, &sizes)),
            EvictionPolicy::Opt if !replay_all => Some(opt_faults(&pages, &sizes)),
            _ => None,
        };
        match one_pass {
            Some(faults) => stacked.extend(frames.iter().zip(faults).map(|(&f, faults)| Point {
                policy: p,
                frames: f,
                references,
                faults,
                kinds: None,
                method: "stack",
            })),
            None => jobs.extend(frames.iter().map(|&f| (p, f))),
        }
    }
    let results: Mutex<Vec<Option<anyhow::Result<ReplayFigures>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let taken = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            s.spawn(|| loop {
                let k = taken.fetch_add(1, Ordering::Relaxed);
                let Some(&(policy, f)) = jobs.get(k) else { break };
                let r = replay(refs, &next, policy.0, f, opts);
                if let Ok(mut all) = results.lock() {
                    all[k] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().map_err(|_| anyhow::anyhow!("a replay thread panicked"))?;
    let mut points = Vec::new();
    for ((policy, f), r) in jobs.iter().zip(results) {
        let fig = r.context("a replay did not run")??;
        if fig.refused > 0 {
            bail!("{} references were refused under {} with {f} frames", fig.refused, policy.name());
        }
        points.push(Point {
            policy: *policy,
            frames: *f,
            references,
            faults: fig.faults(),
            kinds: Some((fig.demand_zero, fig.soft, fig.hard)),
            method: "replay",
        });
    }
    points.extend(stacked);
    let order = |p: &Point| (policies.iter().position(|q| *q == p.policy).unwrap_or(usize::MAX), p.frames);
    points.sort_by_key(order);
    Ok(points)
}

/// One replay of the whole trace under `policy` with `frames` frames.
pub(crate) fn replay(
    refs: &[PageRef],
    next: &[u64],
    policy: EvictionPolicy,
    frames: u64,
    opts: &MachineOptions,
) -> anyhow::Result<ReplayFigures> {
    let mut r = Replayer::new(opts, policy)?;
    r.limit_frames(frames)?;
    r.run(refs, |i| usize::try_from(i).ok().and_then(|i| next.get(i).copied()).unwrap_or(u64::MAX))?;
    Ok(r.figures())
}

fn write_csv(path: &std::path::Path, points: &[Point]) -> anyhow::Result<()> {
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    writeln!(f, "policy,frames,references,faults,faults_per_1000,demand_zero,soft,hard,method")?;
    for p in points {
        let (dz, soft, hard) = p.kinds.map_or((String::new(), String::new(), String::new()), |(a, b, c)| {
            (a.to_string(), b.to_string(), c.to_string())
        });
        writeln!(
            f,
            "{},{},{},{},{:.4},{dz},{soft},{hard},{}",
            p.policy.name(),
            p.frames,
            p.references,
            p.faults,
            p.per_thousand(),
            p.method
        )?;
    }
    f.flush()?;
    Ok(())
}

fn print_table(points: &[Point], frames: &[u64], policies: &[PolicyName]) {
    print!("faults per 1000 references\n{:>8}", "frames");
    for p in policies {
        print!("{:>10}", p.name());
    }
    println!();
    for &f in frames {
        print!("{f:>8}");
        for p in policies {
            match points.iter().find(|x| x.frames == f && x.policy == *p) {
                Some(x) => print!("{:>10.3}", x.per_thousand()),
                None => print!("{:>10}", "-"),
            }
        }
        println!();
    }
}

/// Belady's anomaly, through the working-set manager under FIFO and checked against the
/// textbook simulator.
fn belady(args: &SweepArgs) -> anyhow::Result<()> {
    let dir = super::args::scratch()?;
    let opts = MachineOptions { ram_bytes: 16 << 20, ..args.machine.options(dir.path()) };
    let refs: Vec<PageRef> = BELADY
        .iter()
        .map(|&p| PageRef { page: 0x1000 + p, bits: ntmem_trace::record::ACCESS_READ, count: 1 })
        .collect();
    println!("FIFO on 1 2 3 4 1 2 5 1 2 3 4 5 (pages of one process, a hard working-set maximum)");
    println!("{:>8}{:>10}{:>12}", "frames", "faults", "simulator");
    let mut faults = Vec::new();
    for frames in 1..=5u64 {
        let fig = replay(&refs, &[], EvictionPolicy::Fifo, frames, &opts)?;
        let sim = ntmem_trace::sim::faults(ntmem_trace::SimPolicy::Fifo, &BELADY, usize::try_from(frames)?);
        println!("{frames:>8}{:>10}{sim:>12}", fig.faults());
        faults.push(fig.faults());
    }
    if faults[3] > faults[2] {
        println!("Belady's anomaly: {} faults with 3 frames, {} with 4.", faults[2], faults[3]);
    } else {
        bail!("no anomaly: {} faults with 3 frames, {} with 4", faults[2], faults[3]);
    }
    Ok(())
}
