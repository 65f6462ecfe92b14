//! The eviction policies through the real memory manager against the textbook simulators
//! (`ntmem_trace::sim`) and Mattson's one-pass figures (`ntmem_trace::stack`): the same fault
//! counts, reference for reference, with a frame count meaning the trace's pages resident at
//! once (the hard working-set maximum less the shared user data page).

use ntmem::address_space::EvictionPolicy;
use ntmem_trace::record::ACCESS_READ;
use ntmem_trace::sim::{faults, next_uses, SimPolicy, BELADY};
use ntmem_trace::stack::{lru_faults, opt_faults};
use ntmem_trace::{MachineOptions, PageRef, Replayer};
use proptest::prelude::*;

/// Pages of the trace's page numbers `0..`, spread over three 64 KiB regions.
fn page_of(n: u64) -> u64 {
    0x1000 + (n % 3) * 64 + n / 3
}

/// Replays `pages` (each a read; consecutive repeats merged as the replay does) with
/// `frames` frames under `policy`: the faults.
fn replayed(policy: EvictionPolicy, pages: &[u64], frames: u64) -> u64 {
    let opts = MachineOptions { ram_bytes: 16 << 20, invariant_checks: true, ..MachineOptions::default() };
    let mut r = Replayer::new(&opts, policy).expect("a machine");
    r.limit_frames(frames).expect("limits");
    let refs: Vec<PageRef> = pages.iter().map(|&p| PageRef { page: page_of(p), bits: ACCESS_READ, count: 1 }).collect();
    let next = next_uses(pages);
    r.run(&refs, |i| next[usize::try_from(i).expect("small")]).expect("replay");
    r.system().check_invariants().expect("invariants hold");
    let f = r.figures();
    assert_eq!((f.refused, f.exceptions), (0, 0));
    f.faults()
}

fn collapsed(pages: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = pages.to_vec();
    out.dedup();
    out
}

#[test]
fn belady_anomaly_through_the_working_set_manager() {
    assert_eq!(replayed(EvictionPolicy::Fifo, &BELADY, 3), 9);
    assert_eq!(replayed(EvictionPolicy::Fifo, &BELADY, 4), 10);
    assert_eq!(faults(SimPolicy::Fifo, &BELADY, 3), 9);
    assert_eq!(faults(SimPolicy::Fifo, &BELADY, 4), 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn replayed_faults_equal_the_reference_simulator(
        raw in proptest::collection::vec(0u64..10, 1..80),
        frames in 1u64..8,
    ) {
        let pages = collapsed(&raw);
        let k = usize::try_from(frames).expect("small");
        for (policy, sim) in [
            (EvictionPolicy::Lru, SimPolicy::Lru),
            (EvictionPolicy::Fifo, SimPolicy::Fifo),
            (EvictionPolicy::Clock, SimPolicy::Clock),
            (EvictionPolicy::Opt, SimPolicy::Opt),
        ] {
            prop_assert_eq!(replayed(policy, &pages, frames), faults(sim, &pages, k), "{:?} with {} frames", policy, frames);
        }
        prop_assert_eq!(replayed(EvictionPolicy::Lru, &pages, frames), lru_faults(&pages, &[k])[0]);
        prop_assert_eq!(replayed(EvictionPolicy::Opt, &pages, frames), opt_faults(&pages, &[k])[0]);
    }
}

/// NT's aging at a hard working-set maximum: the aging hand moves on as pages are replaced,
/// so a page referenced between every two others is mostly young and seldom the victim —
/// fewer faults than FIFO, which evicts it once every sixteen faults; not LRU's, since ages
/// are coarse (a page not yet passed by the hand ties with it, and ties go lowest address
/// first — with very few frames, 4, that makes NT's choice worse than FIFO's).
#[test]
fn nt_aging_keeps_a_hot_page_better_than_fifo() {
    let mut pages = Vec::new();
    for _ in 0..20 {
        for cold in 1..=100u64 {
            pages.push(0);
            pages.push(cold);
        }
    }
    let nt = replayed(EvictionPolicy::NtAging, &pages, 16);
    let fifo = replayed(EvictionPolicy::Fifo, &pages, 16);
    let lru = replayed(EvictionPolicy::Lru, &pages, 16);
    assert_eq!(lru, 1 + 20 * 100, "LRU keeps the hot page");
    assert!(lru <= nt && nt < fifo, "lru {lru} <= nt {nt} < fifo {fifo}");
}
