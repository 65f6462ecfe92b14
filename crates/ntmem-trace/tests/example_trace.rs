//! The lackey trace of a real program that ships in examples/traces (`/bin/echo hello` under
//! valgrind, gzip-compressed): parsed whole without a bad line, replayed through the memory
//! manager, and its replayed LRU and OPT faults equal to Mattson's one-pass figures.

use ntmem::address_space::EvictionPolicy;
use ntmem_trace::sim::next_uses;
use ntmem_trace::stack::{lru_faults, opt_faults};
use ntmem_trace::{Collapser, Format, MachineOptions, PageRef, Replayer, Strictness, TraceReader};
use std::collections::HashSet;
use std::path::PathBuf;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces/echo.lackey.gz")
}

/// The trace's page references (consecutive repeats merged) and its reference count.
fn load() -> (Vec<PageRef>, u64) {
    let input = ntmem_trace::parse::open(&example()).expect("the example trace is there");
    let mut reader = TraceReader::new(input, Format::Auto, Strictness::Strict);
    let mut c = Collapser::default();
    let mut refs = Vec::new();
    let mut n = 0;
    while let Some(r) = reader.next_reference() {
        c.push(r.expect("no bad line, no read error"), |p| refs.push(p));
        n += 1;
    }
    c.finish(|p| refs.push(p));
    assert_eq!(reader.format(), Format::Lackey);
    assert_eq!(reader.bad_count(), 0);
    (refs, n)
}

fn replay(refs: &[PageRef], policy: EvictionPolicy, frames: Option<u64>) -> ntmem_trace::ReplayFigures {
    let opts = MachineOptions { ram_bytes: 64 << 20, invariant_checks: true, ..MachineOptions::default() };
    let mut r = Replayer::new(&opts, policy).expect("a machine");
    if let Some(f) = frames {
        r.limit_frames(f).expect("limits");
    }
    let pages: Vec<u64> = refs.iter().map(|p| p.page).collect();
    let next = next_uses(&pages);
    r.run(refs, |i| next[usize::try_from(i).expect("small")]).expect("replay");
    r.system().check_invariants().expect("invariants hold");
    r.figures()
}

#[test]
fn the_example_trace_replays_with_one_demand_zero_fault_per_page() {
    let (refs, n) = load();
    assert!(n > 400_000, "{n} references");
    let distinct: HashSet<u64> = refs.iter().map(|p| p.page).collect();
    let f = replay(&refs, EvictionPolicy::NtAging, None);
    assert_eq!((f.refused, f.exceptions), (0, 0));
    assert!(f.references >= n, "a reference spanning two pages counts twice");
    // Enough RAM and no working-set limit: each page faults once, demand-zero.
    assert_eq!((f.demand_zero, f.soft, f.hard), (distinct.len() as u64, 0, 0));
}

#[test]
fn replayed_lru_and_opt_equal_the_one_pass_figures_on_a_real_trace() {
    let (refs, _) = load();
    let pages: Vec<u64> = refs.iter().map(|p| p.page).collect();
    let sizes = [8usize, 32];
    let lru = lru_faults(&pages, &sizes);
    let opt = opt_faults(&pages, &sizes);
    for (k, &frames) in sizes.iter().enumerate() {
        let f = frames as u64;
        assert_eq!(replay(&refs, EvictionPolicy::Lru, Some(f)).faults(), lru[k], "lru, {frames} frames");
        assert_eq!(replay(&refs, EvictionPolicy::Opt, Some(f)).faults(), opt[k], "opt, {frames} frames");
    }
}
